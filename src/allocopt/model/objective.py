"""Stage-2 objective: stay close to the reference split, fair, deterministic.

Deviation from the reference ref[r,p] is split into a near part (up to 10% of ref) and a far
part that costs 4× more, so adjustments spread across reps instead of piling on one:

    deviation[r,p]:  quota[r,p] − ref[r,p]
                     = dev_up[r,p] + dev_up_far[r,p] − dev_dn[r,p] − dev_dn_far[r,p]
                     0 ≤ dev_up, dev_dn ≤ 0.1 · ref[r,p];  dev_up_far, dev_dn_far ≥ 0

    minimise  w_dev · Σ (dev_up + dev_dn + 4·dev_up_far + 4·dev_dn_far)
            + w_fair · Σ_g (m_max[g] − m_min[g])
            + w_tie · Σ_{r,p} g(k_{rp}) · quota[r,p]

All terms are in currency (costs of order 1 keep HiGHS well scaled; scaling all money by k scales
the optimal plan by k). k_{rp} is the position of (rep, product) in sorted-ID order and
g(k) = 0.5 + frac(k·φ)/2 (golden-ratio sequence): the deterministic tie-break, far smaller per
unit than any business term, with weights that no combination of equal-cost moves cancels.
"""

from __future__ import annotations

import numpy as np

from allocopt.model.linear import LinearModel, tiebreak_weights
from allocopt.model.registry import Component, Rule
from allocopt.model.sets import QuotaSets

_DEV = Component(kind="var", internal=True)
RULE = Rule(
    name="objective",
    stage="quotas",
    requires=("quota",),
    uses=("m_min", "m_max"),
    components={
        "dev_up": _DEV,
        "dev_dn": _DEV,
        "dev_up_far": _DEV,
        "dev_dn_far": _DEV,
        "deviation": Component(definitional=True),
        "obj": Component(kind="var"),
    },
)
"""The core model's own components: the deviation parts and the objective (added last)."""
NEAR = 0.1
FAR_FACTOR = 4.0


def add(lm: LinearModel, qs: QuotaSets) -> None:
    """Add the deviation rows and the objective's named terms."""
    w = qs.md.scenario.objective.weights
    ref = qs.reference.ravel()
    q = lm.vars["quota"]
    n = len(q)
    idx = qs.rp_index
    up = lm.add_vars("dev_up", idx, 0.0, NEAR * ref)
    dn = lm.add_vars("dev_dn", idx, 0.0, NEAR * ref)
    upf = lm.add_vars("dev_up_far", idx)
    dnf = lm.add_vars("dev_dn_far", idx)
    local = np.arange(n)
    lm.add_rows(
        "deviation",
        idx,
        [
            (local, q.cols(), 1.0),
            (local, up.cols(), -1.0),
            (local, upf.cols(), -1.0),
            (local, dn.cols(), 1.0),
            (local, dnf.cols(), 1.0),
        ],
        ref,
        ref,
    )
    lm.add_cost("deviation", np.concatenate([up.cols(), dn.cols()]), w.deviation)
    lm.add_cost("deviation", np.concatenate([upf.cols(), dnf.cols()]), w.deviation * FAR_FACTOR)
    if "m_min" in lm.vars and w.fairness > 0:
        lm.add_cost("fairness", lm.vars["m_max"].cols(), w.fairness)
        lm.add_cost("fairness", lm.vars["m_min"].cols(), -w.fairness)
    lm.add_cost("tiebreak", q.cols(), w.tiebreak * tiebreak_weights(n))
