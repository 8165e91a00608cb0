"""Fairness: comparable difficulty (quota ÷ effective base) within each group.

Group g = the rep's team, region or the company (``level``).
B_r = Σ_p eb[r,p], Q_r = Σ_p quota[r,p],
B_g = Σ_{r∈g} B_r, β_r = B_r / B_g (reps with B_r = 0 have no difficulty and are left out).
The group's difficulty is G_g / B_g with G_g its total quota. With band b:

    group_quota[g]:     G_g = Σ_{r∈g} Q_r
    fairness_low[r]:    Q_r ≥ (1 − b) · β_r · G_{g(r)}     ⇔  d_r ≥ (1 − b) · G_g / B_g
    fairness_high[r]:   Q_r ≤ (1 + b) · β_r · G_{g(r)}     ⇔  d_r ≤ (1 + b) · G_g / B_g

With a positive fairness weight the objective also minimises each group's spread (min-max),
m_min[g] / B_g and m_max[g] / B_g being the lowest and highest difficulty in the group:

    spread_low[r]:   Q_r ≥ β_r · m_min[g(r)]
    spread_high[r]:  Q_r ≤ β_r · m_max[g(r)]        objective += w_fair · Σ_g (m_max[g] − m_min[g])

The spread term is in currency: the quota the spread represents across the group's base.
All linear because the alignment (hence B_r) is fixed in stage 2; all coefficients are ≤ 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "fairness"
STAGE = "quotas"
COMPONENTS = (
    "level",
    "group_quota",
    "fairness_low",
    "fairness_high",
    "m_min",
    "m_max",
    "spread_low",
    "spread_high",
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.fairness.enabled


def members(qs: QuotaSets) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Fairness groups (reps with a positive effective base) and each rep's B_r."""
    b = qs.eff_base.sum(axis=1)
    groups: dict[str, list[str]] = {}
    for r, g, v in zip(qs.md.rep_ids, qs.group_of, b, strict=True):
        if v > 0:
            groups.setdefault(str(g), []).append(r)
    return dict(sorted(groups.items())), dict(zip(qs.md.rep_ids, b.tolist(), strict=True))


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    md = qs.md
    rule = md.scenario.rules.fairness
    groups, bv = members(qs)
    g_of = {r: g for g, rs in groups.items() for r in rs}
    bg = {g: float(np.sum([bv[r] for r in rs])) for g, rs in groups.items()}
    beta = {r: bv[r] / bg[g_of[r]] for r in g_of}
    reps = [r for r in md.rep_ids if r in g_of]
    gk = list(groups)

    def total(m: pyo.ConcreteModel, r: str) -> Any:
        return sum(m.quota[r, p] for p in md.products)

    if rule.band is not None:
        b = rule.band
        m.level = pyo.Var(gk, domain=pyo.NonNegativeReals)
        m.group_quota = pyo.Constraint(
            gk, rule=lambda m, g: m.level[g] == sum(total(m, r) for r in groups[g])
        )
        m.fairness_low = pyo.Constraint(
            reps, rule=lambda m, r: total(m, r) >= (1 - b) * beta[r] * m.level[g_of[r]]
        )
        m.fairness_high = pyo.Constraint(
            reps, rule=lambda m, r: total(m, r) <= (1 + b) * beta[r] * m.level[g_of[r]]
        )
    if md.scenario.objective.weights.fairness > 0:
        m.m_min = pyo.Var(gk, domain=pyo.NonNegativeReals)
        m.m_max = pyo.Var(gk, domain=pyo.NonNegativeReals)
        m.spread_low = pyo.Constraint(
            reps, rule=lambda m, r: total(m, r) >= beta[r] * m.m_min[g_of[r]]
        )
        m.spread_high = pyo.Constraint(
            reps, rule=lambda m, r: total(m, r) <= beta[r] * m.m_max[g_of[r]]
        )
