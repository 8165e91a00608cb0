"""Rounding: annual quotas in whole multiples of the rounding unit u, totals still exact.

    rounding[r,p]:  quota[r,p] = u · quota_units[r,p],   quota_units[r,p] ∈ ℤ≥0

Company totals are rounded to u before the solve (rule ``target``), so every total stays exact.
Period quotas (phasing) are then rounded to u per rep by largest remainder, keeping each rep's
annual quota exact (a post-step in extraction).
"""

from __future__ import annotations

import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "rounding"
STAGE = "quotas"
COMPONENTS = ("quota_units", "rounding")


def enabled(sc: Scenario) -> bool:
    return sc.rules.rounding.enabled


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    u = float(qs.md.scenario.rules.rounding.unit)
    m.quota_units = pyo.Var(qs.rp, domain=pyo.NonNegativeIntegers)
    m.rounding = pyo.Constraint(
        qs.rp, rule=lambda m, r, p: m.quota[r, p] == u * m.quota_units[r, p]
    )
