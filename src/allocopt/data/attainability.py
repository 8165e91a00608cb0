"""Each rep's sales as a distribution, for the attainability rule (models/allocation.md).

Public entry point: :func:`sales_distribution`. Sales of rep r are lognormal with median
m_r = ly_actual_r · e_r · (1 + growth) (last year's actual, prorated to the share of this year
the rep is employed) and log-σ_r:

* the ``spread`` setting when it is given; otherwise
* the **team's σ**: the standard deviation (ddof 1) of log(ly_actual ÷ ly_quota) over the rep's
  team (the company's when the team has fewer than two reps with both; ``default_spread`` when
  the company has fewer than two);
* shrunk toward the **rep's own σ** where the rep has a history of attainment: its years are
  the rows of ``data.attainment_history`` (earlier years: rep_id, year, quota, actual) plus last
  year (reps.ly_quota/ly_actual); with n_r ≥ 2 years, s_r = std (ddof 1) of the rep's log
  attainments, ν_r = n_r − 1 and ``σ_r² = (ν_r · s_r² + k · σ_team²) / (ν_r + k)`` with
  k = ``history_weight`` (the team's σ counts as k years of evidence: a rep with one or no year
  has the team's σ, a long history approaches the rep's own);
* at least ``min_spread``.

Reps without last year's actual (new hires) have no distribution (NaN). History rows of reps
not in the reps table, or with quota or actual 0, are not used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocopt.scenario.schema import AttainabilityRule

__all__ = ["rep_spread", "sales_distribution"]


def _std(v: np.ndarray) -> float:
    return float(np.std(v, ddof=1)) if len(v) >= 2 else float("nan")


def rep_spread(
    ids: np.ndarray, last: np.ndarray, history: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """(s_r, n_r): std (ddof 1) of each rep's log attainments over its years (history rows +
    last year's ``last`` log attainment where finite) and the number of years; s_r NaN when
    n_r < 2."""
    frames = [pd.DataFrame({"rep_id": ids, "x": last})]
    if history is not None and len(history):
        q = pd.to_numeric(history["quota"], errors="coerce").to_numpy(dtype=float)
        a = pd.to_numeric(history["actual"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(q) & np.isfinite(a) & (q > 0) & (a > 0)
        x = np.full(len(history), np.nan)
        x[ok] = np.log(a[ok] / q[ok])
        frames.append(pd.DataFrame({"rep_id": history["rep_id"].astype(str).to_numpy(), "x": x}))
    allx = pd.concat(frames, ignore_index=True)
    allx = allx[np.isfinite(allx["x"].to_numpy(dtype=float))]
    g = allx.groupby("rep_id")["x"]
    n = g.size().reindex(ids).fillna(0).to_numpy(dtype=int)
    s = g.std(ddof=1).reindex(ids).to_numpy(dtype=float)
    return np.where(n >= 2, s, np.nan), n


def sales_distribution(
    rule: AttainabilityRule,
    reps: pd.DataFrame,
    active: np.ndarray,
    history: pd.DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(median, σ) per row of ``reps`` (sorted by rep_id); NaN where there is no history."""
    act = reps["ly_actual"].to_numpy(dtype=float)
    quota = reps["ly_quota"].to_numpy(dtype=float)
    has = np.isfinite(act) & (act > 0)
    median = np.where(has, np.nan_to_num(act) * active * (1.0 + rule.growth), np.nan)
    if rule.spread is not None:
        sigma = np.full(len(reps), max(rule.spread, rule.min_spread))
        return median, np.where(has, sigma, np.nan)
    ok = has & np.isfinite(quota) & (quota > 0)
    log_att = np.full(len(reps), np.nan)
    log_att[ok] = np.log(act[ok] / quota[ok])
    company = _std(log_att[ok])
    if not np.isfinite(company):
        company = rule.default_spread
    teams = reps["team_id"].to_numpy(dtype=object)
    frame = pd.DataFrame({"team": teams[ok], "x": log_att[ok]})
    by_team = frame.groupby("team")["x"].std(ddof=1).to_dict()
    sigma = np.array([by_team.get(t, np.nan) for t in teams], dtype=float)
    sigma = np.where(np.isfinite(sigma), sigma, company)
    if history is not None:
        ids = reps["rep_id"].astype(str).to_numpy(dtype=object)
        own, n = rep_spread(ids, log_att, history)
        nu = np.maximum(n - 1, 0).astype(float)
        k = rule.history_weight
        pooled = np.divide(
            nu * np.nan_to_num(own) ** 2 + k * sigma**2,
            nu + k,
            out=sigma**2,
            where=(nu + k) > 0,
        )
        sigma = np.where(np.isfinite(own), np.sqrt(pooled), sigma)
    sigma = np.maximum(sigma, rule.min_spread)
    return median, np.where(has, sigma, np.nan)
