"""Steps 7-8 of the example: seasonality (:func:`_seasonality`: quarter weights per product, split
into months for monthly plans) and actuals (:func:`_actuals`: the first quarter booked so far;
:func:`_full_year_actuals`: a whole year for ``allocopt evaluate``, from a separate stream)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocopt.calendar import period_labels
from allocopt.examples.common import RAMP, FloatArray, StrArray
from allocopt.examples.org import _Reps

_BASE_QUARTERS = np.array([0.22, 0.24, 0.23, 0.31])


def _seasonality(
    rng: np.random.Generator, n_prod: int, granularity: str
) -> tuple[list[str], FloatArray]:
    quarters = rng.dirichlet(_BASE_QUARTERS * 300.0, size=n_prod)
    if granularity == "quarter":
        raw = quarters
    else:
        months = rng.dirichlet(np.array([0.30, 0.32, 0.38]) * 200.0, size=(n_prod, 4))
        raw = (quarters[:, :, None] * months).reshape(n_prod, 12)
    periods = list(period_labels(granularity))
    weights = np.round(raw, 4)
    weights[:, -1] = np.round(1.0 - weights[:, :-1].sum(axis=1), 4)
    return periods, weights


def _actuals_noise(rng: np.random.Generator, n_reps: int, n_prod: int) -> FloatArray:
    """Sales noise of the first three months per rep x product (lognormal, slightly below 1)."""
    return np.exp(rng.normal(-0.03, 0.20, (n_reps, n_prod, 3)))


def _actuals(
    reps: _Reps,
    rep_ids: StrArray,
    prod_arr: StrArray,
    periods: list[str],
    weights: FloatArray,
    plausible: FloatArray,
    noise: FloatArray,
    granularity: str,
) -> pd.DataFrame:
    """Booked amounts for the first quarter (first three months) per rep x product."""
    is_new, start_month, start_day = reps.is_new, reps.start_month, reps.start_day
    # active share of each of the first three months (new hires ramp up)
    ramp = np.array([*RAMP, 1.0])
    month = np.arange(3)[None, :]
    since = month - start_month[:, None]
    first = (28.0 - start_day[:, None]) / 30.0 * RAMP[0]
    active = np.where(since < 0, 0.0, np.where(since == 0, first, ramp[np.clip(since, 0, 3)]))
    active = np.where(is_new[:, None], active, 1.0)  # rep x month
    if granularity == "quarter":
        active = active.mean(axis=1, keepdims=True)  # rep x Q1
    n_per = active.shape[1]
    amount = (
        plausible[:, :, None] * weights[None, :, :n_per] * active[:, None, :] * noise[:, :, :n_per]
    )
    started = np.broadcast_to(active[:, None, :] > 0, amount.shape)
    rep_i, prod_i, per_i = np.nonzero(started)
    return pd.DataFrame(
        {
            "rep_id": rep_ids[rep_i],
            "product": prod_arr[prod_i],
            "period": np.array(periods[:n_per])[per_i],
            "amount": np.round(amount[rep_i, prod_i, per_i], 2),
        }
    )


def _full_year_actuals(
    rng: np.random.Generator,
    q1: pd.DataFrame,
    reps: _Reps,
    rep_ids: StrArray,
    prod_arr: StrArray,
    periods: list[str],
    weights: FloatArray,
    plausible: FloatArray,
    granularity: str,
) -> pd.DataFrame:
    """A whole year of booked amounts: the first quarter exactly as :func:`_actuals`, the rest
    drawn from a separate stream (so the plan's own files do not change): plausible share ×
    seasonality × months worked (ramp, leavers stop at their end date) × a persistent rep
    ability (lognormal σ 0.12) × period noise (lognormal σ 0.08)."""
    is_new, start_month, start_day = reps.is_new, reps.start_month, reps.start_day
    is_leaver, end_month, end_day = reps.is_leaver, reps.end_month, reps.end_day
    n_reps, n_prod = plausible.shape
    ramp = np.array([*RAMP, 1.0])
    month = np.arange(12)[None, :]
    since = month - start_month[:, None]
    first = (28.0 - start_day[:, None]) / 30.0 * RAMP[0]
    active = np.where(since < 0, 0.0, np.where(since == 0, first, ramp[np.clip(since, 0, 3)]))
    active = np.where(is_new[:, None], active, 1.0)
    last = np.where(month == end_month[:, None], (end_day[:, None] + 1) / 30.0, 1.0)
    last = np.where(month > end_month[:, None], 0.0, last)
    active = active * np.where(is_leaver[:, None], last, 1.0)
    if granularity == "quarter":
        active = active.reshape(n_reps, 4, 3).mean(axis=2)
    ability = np.exp(rng.normal(0.0, 0.12, n_reps))
    noise = np.exp(rng.normal(-0.01, 0.08, (n_reps, n_prod, len(periods))))
    amount = (
        plausible[:, :, None]
        * weights[None, :, :]
        * active[:, None, :]
        * ability[:, None, None]
        * noise
    )
    n_q1 = 1 if granularity == "quarter" else 3
    sold = np.broadcast_to(active[:, None, :] > 0, amount.shape).copy()
    sold[:, :, :n_q1] = False
    rep_i, prod_i, per_i = np.nonzero(sold)
    rest = pd.DataFrame(
        {
            "rep_id": rep_ids[rep_i],
            "product": prod_arr[prod_i],
            "period": np.array(periods)[per_i],
            "amount": np.round(amount[rep_i, prod_i, per_i], 2),
        }
    )
    order = {p: i for i, p in enumerate(periods)}
    prod_order = {p: i for i, p in enumerate(prod_arr)}
    out = pd.concat([q1, rest], ignore_index=True)
    out = out.assign(
        _r=out["rep_id"], _p=out["product"].map(prod_order), _t=out["period"].map(order)
    )
    out = out.sort_values(["_r", "_p", "_t"], kind="stable").drop(columns=["_r", "_p", "_t"])
    return out.reset_index(drop=True)
