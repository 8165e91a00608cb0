"""Rounding: annual quotas in whole multiples of the rounding unit u, totals still exact.

    rounding[r,p]:  quota[r,p] = u · quota_units[r,p],   quota_units[r,p] ∈ ℤ≥0

Company totals are rounded to u before the solve (rule ``target``), so every total stays exact.
The MIP is solved in the floor/ceiling neighbourhood of its LP optimum (each quota rounds down
or up by less than u) — above 10,000 integers the LP optimum rounded, bounded by the blocks' MIPs
at the LP prices (a Lagrangian bound) — falling back to
the full integer model if that neighbourhood is infeasible (see ``allocopt.solve``); the LP
relaxation is kept for explanations either way. HiGHS sees money in units of u (the quota model's
money scale), so this row's coefficient is 1 whatever the currency.
Period quotas are then rounded to u per rep by largest remainder, keeping each rep's annual quota
exact (a post-step in extraction).
"""

from __future__ import annotations

import numpy as np

from allocopt.model.linear import LinearModel
from allocopt.model.registry import Component, Rule
from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

RULE = Rule(
    name="rounding",
    stage="quotas",
    requires=("quota",),
    provides=("quota_units",),
    explain_word="rounding to the unit",
    components={
        "quota_units": Component(kind="var", internal=True),
        "rounding": Component(relax=("rules.rounding.unit",), definitional=True),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.rounding.enabled


def add(lm: LinearModel, qs: QuotaSets) -> None:
    u = float(qs.md.scenario.rules.rounding.unit)
    q = lm.vars["quota"]
    units = lm.add_vars("quota_units", qs.rp_index, integer=True)
    n = len(q)
    local = np.arange(n)
    lm.add_rows(
        "rounding", qs.rp_index, [(local, q.cols(), 1.0), (local, units.cols(), -u)], 0.0, 0.0
    )
