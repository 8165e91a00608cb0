"""Floors: a minimum annual quota by role, prorated by FTE and the share of the year employed.

floor[r]:  Σ_p quota[r,p] ≥ f_{role(r)} · fte_r · e_r          ∀ r whose role has a floor
"""

from __future__ import annotations

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.linear import Index, LinearModel
from allocopt.model.registry import Component, RepBound, Rule
from allocopt.model.sets import QuotaSets, rep_sum
from allocopt.scenario.schema import Scenario


def _rep_bounds(md: ModelData, eb_lo: np.ndarray, eb_hi: np.ndarray) -> tuple[RepBound, ...]:
    rule = md.scenario.rules.floors
    if not (rule.enabled and rule.by_role):
        return ()
    f = np.array([rule.by_role.get(str(r), 0.0) for r in md.role_of])
    return (RepBound("lower", f * md.fte * md.active, "floor"),)


RULE = Rule(
    name="floors",
    stage="quotas",
    rep_bounds=_rep_bounds,
    requires=("quota",),
    explain_word="lifted to its role's floor",
    components={
        "floor": Component(
            phrase=lambda r: f"{r.who}: quota at least the floor {r.money(r.lo)}",
            relax=("rules.floors.by_role",),
            what="floor",
            explain="own",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.floors.enabled and bool(sc.rules.floors.by_role)


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    by_role = md.scenario.rules.floors.by_role
    f = np.array([by_role.get(str(role), np.nan) for role in md.role_of], dtype=float)
    reps = np.flatnonzero(np.isfinite(f))
    if not len(reps):
        return
    lm.add_rows(
        "floor",
        Index.of(np.asarray(md.rep_ids, dtype=object)[reps]),
        [rep_sum(lm.vars["quota"], reps, len(md.products))],
        lower=f[reps] * md.fte[reps] * md.active[reps],
    )
