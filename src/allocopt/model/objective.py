"""Stage-2 objective: stay close to the reference split, fair, deterministic.

Deviation from the reference ref[r,p] is split into a near part (up to 10% of ref) and a far
part that costs 4× more, so adjustments spread across reps instead of piling on one:

    deviation[r,p]:  quota[r,p] − ref[r,p]
                     = dev_up[r,p] + dev_up_far[r,p] − dev_dn[r,p] − dev_dn_far[r,p]
                     0 ≤ dev_up, dev_dn ≤ 0.1 · ref[r,p];  dev_up_far, dev_dn_far ≥ 0

    minimise  w_dev · Σ (dev_up + dev_dn + 4·dev_up_far + 4·dev_dn_far)
            + w_fair · Σ_g (m_max[g] − m_min[g])
            + w_tie · Σ_{r,p} (k_{rp} / |R×P|) · quota[r,p]

All terms are in currency (costs of order 1 keep HiGHS well scaled; scaling all money by k scales
the optimal plan by k). k_{rp} is the position of (rep, product) in sorted-ID order: the
deterministic tie-break, far smaller per unit than any business term.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo

from allocopt.model.sets import QuotaSets

NAME = "objective"
COMPONENTS = ("dev_up", "dev_dn", "dev_up_far", "dev_dn_far", "deviation", "obj")
NEAR = 0.1
FAR_FACTOR = 4.0


def add(m: pyo.ConcreteModel, qs: QuotaSets) -> dict[str, Any]:
    """Add the deviation rows and the objective; return the objective's terms by name."""
    sc = qs.md.scenario
    w = sc.objective.weights
    keys = qs.rp
    ref = dict(zip(keys, qs.reference.ravel().tolist(), strict=True))

    def near(m: pyo.ConcreteModel, r: str, p: str) -> tuple[float, float]:
        return (0.0, NEAR * ref[r, p])

    m.dev_up = pyo.Var(keys, bounds=near)
    m.dev_dn = pyo.Var(keys, bounds=near)
    m.dev_up_far = pyo.Var(keys, domain=pyo.NonNegativeReals)
    m.dev_dn_far = pyo.Var(keys, domain=pyo.NonNegativeReals)
    m.deviation = pyo.Constraint(
        keys,
        rule=lambda m, r, p: (
            m.quota[r, p]
            - m.dev_up[r, p]
            - m.dev_up_far[r, p]
            + m.dev_dn[r, p]
            + m.dev_dn_far[r, p]
            == ref[r, p]
        ),
    )
    terms: dict[str, Any] = {}
    terms["deviation"] = w.deviation * sum(
        m.dev_up[k] + m.dev_dn[k] + FAR_FACTOR * (m.dev_up_far[k] + m.dev_dn_far[k]) for k in keys
    )
    if hasattr(m, "m_min") and w.fairness > 0:
        terms["fairness"] = w.fairness * sum(m.m_max[g] - m.m_min[g] for g in m.m_max)
    n = max(len(keys), 1)
    terms["tiebreak"] = w.tiebreak * sum(((i + 1) / n) * m.quota[k] for i, k in enumerate(keys))
    m.obj = pyo.Objective(expr=sum(terms.values()), sense=pyo.minimize)
    return terms
