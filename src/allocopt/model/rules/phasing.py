"""Phasing: period quotas from seasonality, adjusted to each rep's availability.

φ[r,p,t] = season[p,t]·avail[r,t] / Σ_t' season[p,t']·avail[r,t']  (a leaver's or new hire's
year is phased over the periods they work).

* mode ``exact``: period quota = φ[r,p,t] · quota[r,p] (computed after the solve, no rows);
* mode ``band`` (variables period_quota[r,p,t] ≥ 0):

      phasing_sum[r,p]:    Σ_t period_quota[r,p,t] = quota[r,p]
      phasing_low[r,p,t]:  period_quota[r,p,t] ≥ (1 − b) · φ[r,p,t] · quota[r,p]
      phasing_high[r,p,t]: period_quota[r,p,t] ≤ (1 + b) · φ[r,p,t] · quota[r,p]
"""

from __future__ import annotations

import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "phasing"
STAGE = "quotas"
COMPONENTS = ("period_quota", "phasing_sum", "phasing_low", "phasing_high")


def enabled(sc: Scenario) -> bool:
    return sc.rules.phasing.enabled and sc.rules.phasing.mode == "band"


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    md = qs.md
    b = md.scenario.rules.phasing.band
    ri = md.rep_index()
    pi = {p: j for j, p in enumerate(md.products)}
    ti = {t: k for k, t in enumerate(md.periods)}
    keys = [(r, p, t) for r in md.rep_ids for p in md.products for t in md.periods]

    def phi(r: str, p: str, t: str) -> float:
        return float(md.phase[ri[r], pi[p], ti[t]])

    m.period_quota = pyo.Var(keys, domain=pyo.NonNegativeReals)
    m.phasing_sum = pyo.Constraint(
        qs.rp,
        rule=lambda m, r, p: sum(m.period_quota[r, p, t] for t in md.periods) == m.quota[r, p],
    )
    m.phasing_low = pyo.Constraint(
        keys,
        rule=lambda m, r, p, t: m.period_quota[r, p, t] >= (1 - b) * phi(r, p, t) * m.quota[r, p],
    )
    m.phasing_high = pyo.Constraint(
        keys,
        rule=lambda m, r, p, t: m.period_quota[r, p, t] <= (1 + b) * phi(r, p, t) * m.quota[r, p],
    )
