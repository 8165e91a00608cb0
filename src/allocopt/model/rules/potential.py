"""Potential: a rep's quota stays within a share of its effective base.

    potential_max[r,p]:  quota[r,p] ≤ s_max · eb[r,p]
    potential_min[r,p]:  quota[r,p] ≥ s_min · eb[r,p]        (only when s_min > 0)

eb[r,p] = (potential[r,p] + Σ_{a owned by r} revenue[a,p]) · Σ_t season[p,t]·avail[r,t]:
the territory and key-account base, scaled to the part of the year the rep sells.
"""

from __future__ import annotations

import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "potential"
STAGE = "quotas"
COMPONENTS = ("potential_max", "potential_min")


def enabled(sc: Scenario) -> bool:
    return sc.rules.potential.enabled


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    md = qs.md
    rule = md.scenario.rules.potential
    eb = {k: float(v) for k, v in zip(qs.rp, qs.eff_base.ravel().tolist(), strict=True)}
    m.potential_max = pyo.Constraint(
        qs.rp, rule=lambda m, r, p: m.quota[r, p] <= rule.max_share * eb[r, p]
    )
    if rule.min_share > 0:
        m.potential_min = pyo.Constraint(
            qs.rp, rule=lambda m, r, p: m.quota[r, p] >= rule.min_share * eb[r, p]
        )
