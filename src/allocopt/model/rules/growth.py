"""Growth band: no ratchet shocks, no giveaways, against last year (reps with history).

    growth_min[r]:  Σ_p quota[r,p] ≥ (1 + g_min) · h_r · e_r
    growth_max[r]:  Σ_p quota[r,p] ≤ (1 + g_max) · h_r · e_r

h_r is last year's actual (basis ``actual``) or quota (basis ``quota``); e_r the share of the
plan year the rep is employed, so leavers' and joiners' bands are prorated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

NAME = "growth"
STAGE = "quotas"
COMPONENTS = ("growth_min", "growth_max")


def enabled(sc: Scenario) -> bool:
    return sc.rules.growth.enabled


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> None:
    md = qs.md
    rule = md.scenario.rules.growth
    h = md.history * md.active
    idx = [i for i in np.flatnonzero(np.isfinite(h))]
    keys = [md.rep_ids[i] for i in idx]
    hv = {md.rep_ids[i]: float(h[i]) for i in idx}

    def total(m: pyo.ConcreteModel, r: str) -> Any:
        return sum(m.quota[r, p] for p in md.products)

    m.growth_min = pyo.Constraint(keys, rule=lambda m, r: total(m, r) >= (1 + rule.min) * hv[r])
    m.growth_max = pyo.Constraint(keys, rule=lambda m, r: total(m, r) <= (1 + rule.max) * hv[r])
