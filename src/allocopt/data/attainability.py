"""Each rep's sales as a distribution, for the attainability rule (models/allocation.md).

Public entry point: :func:`sales_distribution`. Sales of rep r are lognormal with median
m_r = ly_actual_r · e_r · (1 + growth) (last year's actual, prorated to the share of this year
the rep is employed) and log-σ_r: the ``spread`` setting, or the standard deviation (ddof 1) of
log(ly_actual ÷ ly_quota) over the rep's team (the company's when the team has fewer than two
reps with both; ``default_spread`` when the company has fewer than two), at least
``min_spread``. Reps without last year's actual (new hires) have no distribution (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocopt.scenario.schema import AttainabilityRule

__all__ = ["sales_distribution"]


def _std(v: np.ndarray) -> float:
    return float(np.std(v, ddof=1)) if len(v) >= 2 else float("nan")


def sales_distribution(
    rule: AttainabilityRule, reps: pd.DataFrame, active: np.ndarray
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
    sigma = np.maximum(sigma, rule.min_spread)
    return median, np.where(has, sigma, np.nan)
