"""Steps 5-6 of the example: potential and targets (:func:`_potential_and_targets`) and capacity
and last year's history (:func:`_capacity_and_history`), drawn so the plan is feasible with slack
under the rules of :mod:`.common`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocopt.examples.accounts import _AccountRows, _Accounts, _Territories
from allocopt.examples.common import OVER_ASSIGNMENT, FloatArray, StrArray
from allocopt.examples.org import _Reps


@dataclass(frozen=True)
class _Targets:
    potential: FloatArray  # (R, P) white space + revenue of the rep's non-key accounts
    targets: dict[str, int]  # company target per product (thousands)
    plausible: FloatArray  # (R, P) proportional share of target x (1 + over_assignment)


@dataclass(frozen=True)
class _History:
    capacity: FloatArray  # (R,) per full FTE, fully ramped (thousands)
    ly_quota: FloatArray  # (R,) NaN for new hires
    ly_actual: FloatArray


def _potential_and_targets(
    rng: np.random.Generator,
    products: tuple[str, ...],
    terr: _Territories,
    acc: _Accounts,
    rows: _AccountRows,
) -> _Targets:
    """potential = white space + non-key revenue of the rep's accounts; key revenue comes on top
    for the incumbent; the target per product is 0.56-0.64 x (potential + key revenue)."""
    n_reps, n_prod = terr.white_space.shape[0], len(products)
    owner = acc.incumbent[rows.account]
    owned = owner >= 0
    cell = owner * n_prod + rows.product
    nonkey_rows = owned & ~acc.is_key[rows.account]
    key_rows = acc.is_key[rows.account]
    nonkey_rev = np.bincount(cell[nonkey_rows], rows.revenue[nonkey_rows], n_reps * n_prod)
    key_rev = np.bincount(cell[key_rows], rows.revenue[key_rows], n_reps * n_prod)
    potential = np.round(terr.white_space + nonkey_rev.reshape(n_reps, n_prod), 2)
    base = potential + key_rev.reshape(n_reps, n_prod)
    target_factor = rng.uniform(0.56, 0.64, n_prod)
    targets = {
        p: int(np.round(target_factor[j] * base[:, j].sum() / 1000.0)) * 1000
        for j, p in enumerate(products)
    }
    plausible = (1.0 + OVER_ASSIGNMENT) * target_factor * base  # rep x product
    return _Targets(potential, targets, plausible)


def _capacity_and_history(rng: np.random.Generator, share: FloatArray, reps: _Reps) -> _History:
    """Capacity 1.2-1.6 x the rep's plausible share per FTE (part-year reps: enough for their
    shortened year); last year's actual = share / (1 + growth), quota = actual / attainment."""
    cap_factor = rng.uniform(1.2, 1.6, reps.n)
    # part-year reps: enough capacity for their shortened (ramped) year to carry their history
    # (leavers) or a fair share of their territory (new hires)
    avail = reps.availability
    cap_factor = np.where(reps.is_leaver, np.maximum(cap_factor, 1.1 / avail), cap_factor)
    cap_factor = np.where(reps.is_new, np.maximum(cap_factor, 0.8 / avail), cap_factor)
    capacity = np.round(cap_factor * share / reps.fte / 1000.0) * 1000.0
    growth = np.exp(rng.normal(math.log(1.08), 0.06, reps.n))
    attainment = np.clip(rng.normal(0.97, 0.05, reps.n), 0.85, 1.10)
    ratio = np.clip(growth / attainment, 0.95, 1.30)
    ly_actual = np.where(reps.is_new, np.nan, np.round(share / ratio, 2))
    ly_quota = np.where(reps.is_new, np.nan, np.round(share / ratio / attainment / 1000.0) * 1000.0)
    return _History(capacity, ly_quota, ly_actual)


def _attainment_history(
    rng: np.random.Generator, rep_ids: StrArray, hist: _History, fy_start_year: int
) -> pd.DataFrame:
    """Earlier years' attainment (``data/attainment_history.csv``, the years before last year)
    for reps with last year's history: 0-3 earlier years each (tenure); each rep has its own
    volatility σ_r (lognormal around 0.07: steady and erratic sellers), log attainment ~
    N(−0.02, σ_r); the quota shrinks 6% a year going back. A separate stream: the plan's files
    do not change."""
    n = len(rep_ids)
    years = rng.integers(0, 4, n)
    sigma = np.exp(rng.normal(np.log(0.07), 0.5, n))
    z = rng.standard_normal((n, 3))
    rows = []
    for r in np.flatnonzero(np.isfinite(hist.ly_quota) & (years > 0)):
        for k in range(int(years[r])):
            back = k + 2  # last year is fy − 1, in reps.csv
            quota = np.round(hist.ly_quota[r] / 1.06 ** (back - 1) / 1000.0) * 1000.0
            att = float(np.exp(-0.02 + sigma[r] * z[r, k]))
            rows.append(
                {
                    "rep_id": rep_ids[r],
                    "year": str(fy_start_year - back),
                    "quota": quota,
                    "actual": round(float(quota) * att, 2),
                }
            )
    cols = ["rep_id", "year", "quota", "actual"]
    return pd.DataFrame(rows, columns=cols).sort_values(["rep_id", "year"], kind="stable")
