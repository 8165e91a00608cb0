"""Capacity: a rep's quota fits its ramped, prorated capacity.

    capacity[r]:           Σ_p quota[r,p] ≤ cap_r
    period_capacity[r,t]:  Σ_p period_quota[r,p,t] ≤ cap_{r,t}      (phasing mode band only)

cap_{r,t} = capacity_r · fte_r · avail_{r,t} · len_t, with avail_{r,t} the mean over the
period's months of (share of the month employed) × ramp(months since start); cap_r = Σ_t cap_{r,t}.
"""

from __future__ import annotations

import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "capacity"
STAGE = "quotas"
COMPONENTS = ("capacity", "period_capacity")


def enabled(sc: Scenario) -> bool:
    return sc.rules.capacity.enabled


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    md = qs.md
    cap = dict(zip(md.rep_ids, md.capacity.tolist(), strict=True))
    m.capacity = pyo.Constraint(
        md.rep_ids, rule=lambda m, r: sum(m.quota[r, p] for p in md.products) <= cap[r]
    )
    if md.scenario.rules.phasing.enabled and md.scenario.rules.phasing.mode == "band":
        pc = md.period_capacity
        ri = md.rep_index()
        ti = {t: k for k, t in enumerate(md.periods)}
        m.period_capacity = pyo.Constraint(
            md.rep_ids,
            md.periods,
            rule=lambda m, r, t: (
                sum(m.period_quota[r, p, t] for p in md.products) <= float(pc[ri[r], ti[t]])
            ),
        )
