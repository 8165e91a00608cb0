"""Variable pay of each solved sweep item: the payout against the over-assignment cushion.

Public entry points: :func:`plan_sales` (a plan's expected sales per rep × product) and
:func:`item_payout` (the ``payout_*`` columns of sweep.csv for one solved item).

Expected sales do not follow the quotas: they are the plan stress sweep's sales model without
shocks (docs/sweep.md) — ``E S_rp = k_p · s_rp · (potential_rp + Σ_a revenue_ap)`` over the key
accounts a the item's plan gives to r, with ``k_p = T_p / Σ_r s_rp · base_rp`` so that the
company sells exactly its target T_p, *without* the cushion. The over-assignment cushion ``c``
raises every quota by ``1 + c`` while expected sales stay, so expected attainment falls by
``1 / (1 + c)`` and with it the payout, the cost of sales and the share of reps at quota. Around
the expected sales each rep's outcome is the mean-one lognormal of ``allocopt payout``
(``incentives.spread``, ``incentives.correlation``; :data:`DRAWS` draws, seed 0 — fewer, at
least :data:`MIN_DRAWS`, when reps × draws would pass :data:`MAX_CELLS`, so a 50,000-rep item
takes 200), so a grid over ``targets.over_assignment`` traces the payout-vs-cushion curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from allocopt.data.prepare import ModelData
from allocopt.results.payout import Outlook, payout_of

__all__ = ["DRAWS", "item_payout", "plan_sales"]

DRAWS = 1000  # Monte Carlo draws per item (the run report's number)
MIN_DRAWS = 200
MAX_CELLS = 10_000_000  # reps × draws priced per item at most (above MIN_DRAWS)
COLUMNS = (
    "payout_expected",
    "payout_p10",
    "payout_p90",
    "payout_cost_of_sales",
    "payout_share_at_quota",
    "payout_p_over_budget",
)


def plan_sales(md: ModelData, assignments: pd.DataFrame | None) -> np.ndarray:
    """Expected sales (R, P) of a plan: the company target (no cushion) split by each rep's
    selling-year share × (potential + owned key-account revenue)."""
    base = md.potential.copy()
    if assignments is not None and len(assignments) and len(md.ka_ids):
        ridx = md.rep_index()
        aidx = {a: i for i, a in enumerate(md.ka_ids)}
        owner = np.full(len(md.ka_ids), -1, dtype=np.int64)
        for a, r in zip(
            assignments["account_id"].astype(str), assignments["owner_rep"].astype(str), strict=True
        ):
            if a in aidx and r in ridx:
                owner[aidx[a]] = ridx[r]
        has = owner >= 0
        np.add.at(base, owner[has], md.ka_revenue[has])
    eff = base * md.sell_share
    t = np.array([float(md.scenario.targets.by_product[p]) for p in md.products])
    tot = eff.sum(axis=0)
    k = np.divide(t, tot, out=np.zeros_like(t), where=tot > 0)
    out: np.ndarray = eff * k[None, :]
    return out


def item_payout(md: ModelData, results: Any, incentive_reps: pd.DataFrame | None) -> dict[str, Any]:
    """The ``payout_*`` fields of one solved item (empty when the scenario has no incentives)."""
    sc = md.scenario
    if sc.incentives is None:
        return {}
    sales = plan_sales(md, results.assignments)
    n_r, n_p = sales.shape
    frame = pd.DataFrame(
        {
            "rep_id": np.repeat(np.asarray(md.rep_ids, dtype=object), n_p),
            "product": np.tile(np.asarray(md.products, dtype=object), n_r),
            "actual_to_date": 0.0,
            "expected_remaining": sales.reshape(-1),
        }
    )
    res = payout_of(
        sc,
        results.reps,
        results.annual,
        incentive_reps=incentive_reps,
        outlook=Outlook(frame, 0.0),
        draws=max(MIN_DRAWS, min(DRAWS, MAX_CELLS // max(1, n_r))),
        seed=0,
    )
    s = res.summary
    return {
        "payout_expected": s["expected_payout"],
        "payout_p10": s["payout_p10"],
        "payout_p90": s["payout_p90"],
        "payout_cost_of_sales": s["cost_of_sales"],
        "payout_share_at_quota": s["expected_share_at_or_above_quota"],
        "payout_p_over_budget": s["p_over_budget"],
    }
