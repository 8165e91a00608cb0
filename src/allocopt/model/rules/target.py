"""Target conservation: the reps' quotas add up to the company target; optional unit targets.

    target[p]:          Σ_r quota[r,p] = T_p · (1 + c)                    ∀ p
    unit_target[k]:     lo_k ≤ Σ_{r ∈ unit_k} Σ_{p ∈ P_k} quota[r,p] ≤ hi_k   ∀ unit targets k

Roll-ups per org unit are sums over the unit's reps, so they are exact by construction.
With rounding on, T_p·(1+c) is rounded to the nearest rounding unit first.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "target"
STAGE = "quotas"
COMPONENTS = ("target", "unit_target")


def enabled(sc: Scenario) -> bool:
    return True


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    md = qs.md
    tgt = {p: float(qs.target[j]) for j, p in enumerate(md.products)}
    m.target = pyo.Constraint(
        md.products, rule=lambda m, p: sum(m.quota[r, p] for r in md.rep_ids) == tgt[p]
    )
    units = md.scenario.targets.units
    if not units:
        return
    members = md.rep_units.groupby("unit_id")["rep"].agg(list).to_dict()

    def _unit(m: pyo.ConcreteModel, k: int) -> Any:
        u = units[k]
        prods = [u.product] if u.product else list(md.products)
        expr = sum(m.quota[md.rep_ids[i], p] for i in members.get(u.unit, []) for p in prods)
        if u.value is not None:
            return expr == u.value
        return (u.min, expr, u.max)

    m.unit_target = pyo.Constraint(range(len(units)), rule=_unit)
