"""Floors: a minimum annual quota by role, prorated by FTE and the share of the year employed.

floor[r]:  Σ_p quota[r,p] ≥ f_{role(r)} · fte_r · e_r          ∀ r whose role has a floor
"""

from __future__ import annotations

import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "floors"
STAGE = "quotas"
COMPONENTS = ("floor",)


def enabled(sc: Scenario) -> bool:
    return sc.rules.floors.enabled and bool(sc.rules.floors.by_role)


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    md = qs.md
    by_role = md.scenario.rules.floors.by_role
    val = {
        r: by_role[role] * float(f) * float(e)
        for r, role, f, e in zip(md.rep_ids, md.role_of, md.fte, md.active, strict=True)
        if role in by_role
    }
    m.floor = pyo.Constraint(
        sorted(val), rule=lambda m, r: sum(m.quota[r, p] for p in md.products) >= val[r]
    )
