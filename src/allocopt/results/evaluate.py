"""Year-end evaluation of a run against a year of actuals, and next year's performance factors.

Public entry point: :func:`evaluate_of` — in memory: the tracking of the actuals (the result of
``allocopt track``: attainment = actual ÷ phased quota of the elapsed periods; over a whole year,
actual ÷ annual quota), the run's ``reps.csv`` and ``quotas.csv`` as frames, and the payout on
these actuals when the run has incentives. It reads no file:
:func:`allocopt.compose.evaluate_run` opens the run folder, tracks the actuals and passes them in;
:func:`allocopt.compose.write_evaluation` writes the folder.

* **distribution** — attainment of the company, each region and team (their summed amounts) and
  the spread of rep attainment within each (median, p10, p90, share at or above 100%).
* **quota accuracy** by team — how tightly reps' attainment sits around 100%:
  ``RMSE = √mean((a_r − 1)²)``, mean absolute deviation, standard deviation, share within ±10%.
* **did difficulty predict attainment?** — Spearman rank correlation of the plan's difficulty
  (quota ÷ effective base, reps.csv) with attainment over reps; ρ clearly below 0 means the hard
  territories were the ones that missed.
* **categories** — ``set_up_to_fail``: attainment < ``low`` and difficulty in the top quartile
  (≥ the ``high_quantile`` quantile over reps); ``under_performer``: attainment < ``low`` with
  normal difficulty; ``near_quota``: ``low`` ≤ a < 1; ``at_or_above_quota``: a ≥ 1.
* **performance factor** for next year's reference split (``performance.csv``):
  ``factor_r = clip(a_r / a_team(r), 0.5, 1.5)`` — the rep's attainment relative to its team's
  (so a market-wide or team-wide miss is not held against the rep); reps the plan set up to fail
  get ``max(factor, 1)`` (the plan, not the rep, was off); ``n_periods`` = elapsed periods in
  which the rep had quota (the evidence behind the factor, used by the credibility weighting);
  reps without quota get no row.
* **payout** — with incentives, the actual payout (results/payout.py on these actuals; exact
  once the year is booked) against the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.errors import InputError, Problem
from allocopt.results.payout import PayoutResult, round_frame
from allocopt.results.track import ALL, TrackResult

__all__ = ["Evaluation", "evaluate_of"]

FACTOR_CLIP = (0.5, 1.5)
CATEGORIES = ("set_up_to_fail", "under_performer", "near_quota", "at_or_above_quota")


@dataclass
class Evaluation:
    """The evaluation of one run: per rep, per team, per unit, factors and the summary."""

    run_dir: Path
    reps: pd.DataFrame
    teams: pd.DataFrame
    units: pd.DataFrame
    performance: pd.DataFrame
    summary: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def files(self) -> dict[str, Any]:
        """The files of an evaluation folder (name → content)."""
        return {
            "evaluation_reps.csv": _rounded(self.reps),
            "evaluation_teams.csv": _rounded(self.teams),
            "evaluation_units.csv": _rounded(self.units),
            "performance.csv": _rounded(self.performance),
            "summary.json": self.summary,
        }


_MONEY = ("annual_quota", "quota_to_date", "actual_to_date")


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    return round_frame(df, _MONEY)


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman rank correlation (average ranks for ties); None with < 3 pairs or no spread."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return None
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _spread(a: np.ndarray) -> dict[str, Any]:
    v = a[np.isfinite(a)]
    if not len(v):
        return {"reps": 0}
    return {
        "reps": len(v),
        "median": round(float(np.median(v)), 6),
        "p10": round(float(np.percentile(v, 10)), 6),
        "p90": round(float(np.percentile(v, 90)), 6),
        "share_at_or_above_100": round(float((v >= 1 - 1e-12).mean()), 6),
        "rmse_vs_100": round(float(np.sqrt(np.mean((v - 1) ** 2))), 6),
        "mean_abs_dev": round(float(np.mean(np.abs(v - 1))), 6),
        "std": round(float(v.std()), 6),
        "share_within_10pct": round(float((np.abs(v - 1) <= 0.1 + 1e-12).mean()), 6),
    }


def _n_periods(quotas: pd.DataFrame, elapsed: dict[str, float]) -> pd.Series:
    q = quotas.assign(
        rep_id=quotas["rep_id"].astype(str),
        period=quotas["period"].astype(str),
        quota=pd.to_numeric(quotas["quota"], errors="coerce").fillna(0.0),
    )
    q = q[q["period"].map(elapsed).fillna(0.0) >= 1.0]
    per = q.groupby(["rep_id", "period"])["quota"].sum()
    return (per > 0).groupby(level=0).sum().astype(int)


def check_settings(low: float, high_quantile: float) -> None:
    """InputError (exit 2) for ``--low`` outside (0, 1] or ``--high-quantile`` outside (0, 1)."""
    if not 0 < low <= 1:
        raise InputError(Problem("--low", "", "", "must be in (0, 1]", value=f"{low:g}"))
    if not 0 < high_quantile < 1:
        raise InputError(
            Problem("--high-quantile", "", "", "must be in (0, 1)", value=f"{high_quantile:g}")
        )


def evaluate_of(
    tr: TrackResult,
    reps_run: pd.DataFrame,
    quotas: pd.DataFrame,
    *,
    payout: PayoutResult | None = None,
    low: float = 0.9,
    high_quantile: float = 0.75,
    run_dir: Path | None = None,
) -> Evaluation:
    """Evaluate a run against a year of actuals (see the module docstring for every measure).

    ``tr``: the tracking result of the actuals (``allocopt track``: as_of, periods,
    elapsed_share, reps, units, summary, warnings); ``reps_run``: the run's reps.csv (rep_id,
    team_id, region_id, difficulty); ``quotas``: its quotas.csv (rep_id, period, quota);
    ``payout``: the payout on these actuals (None without incentives). Raises
    :class:`~allocopt.errors.InputError` (exit 2) for settings out of range.
    """
    check_settings(low, high_quantile)
    run_dir = Path(run_dir) if run_dir is not None else Path(".")
    warnings = list(tr.warnings)
    if tr.elapsed_share < 1 - 1e-9:
        warnings.append(
            f"the actuals cover {tr.elapsed_share:.0%} of the year (to {tr.as_of.isoformat()}); "
            "the evaluation measures attainment to date"
        )
    reps_run = reps_run.assign(
        rep_id=reps_run["rep_id"].astype(str),
        team_id=reps_run["team_id"].astype(str),
        region_id=reps_run["region_id"].fillna("").astype(str),
    )
    rep_all = tr.reps[tr.reps["product"] == ALL].set_index("rep_id")
    att = rep_all["attainment"].reindex(reps_run["rep_id"]).to_numpy(dtype=float)
    diff = pd.to_numeric(reps_run["difficulty"], errors="coerce").to_numpy(dtype=float)
    team_units = tr.units[(tr.units["level"] == "team") & (tr.units["product"] == ALL)]
    team_att = dict(zip(team_units["unit_id"], team_units["attainment"], strict=True))
    a_team = reps_run["team_id"].map(team_att).to_numpy(dtype=float)

    finite_d = diff[np.isfinite(diff)]
    cut = float(np.quantile(finite_d, high_quantile)) if len(finite_d) else np.inf
    high = np.isfinite(diff) & (diff >= cut - 1e-12)
    measured = np.isfinite(att)
    low_att = measured & (att < low)
    category = np.full(len(att), "not_measured", dtype=object)
    category[measured & (att >= 1 - 1e-12)] = "at_or_above_quota"
    category[measured & ~low_att & (att < 1 - 1e-12)] = "near_quota"
    category[low_att & high] = "set_up_to_fail"
    category[low_att & ~high] = "under_performer"

    rel = np.divide(att, a_team, out=np.full(len(att), np.nan), where=a_team > 1e-12)
    factor = np.clip(rel, *FACTOR_CLIP)
    factor = np.where(category == "set_up_to_fail", np.maximum(factor, 1.0), factor)
    elapsed = {p.label: p.elapsed for p in tr.periods}
    n_per = _n_periods(quotas, elapsed).reindex(reps_run["rep_id"]).fillna(0).to_numpy(dtype=int)

    reps = pd.DataFrame(
        {
            "rep_id": reps_run["rep_id"],
            "team_id": reps_run["team_id"],
            "region_id": reps_run["region_id"].fillna(""),
            "annual_quota": rep_all["annual_quota"].reindex(reps_run["rep_id"]).to_numpy(),
            "quota_to_date": rep_all["quota_to_date"].reindex(reps_run["rep_id"]).to_numpy(),
            "actual_to_date": rep_all["actual_to_date"].reindex(reps_run["rep_id"]).to_numpy(),
            "attainment": att,
            "team_attainment": a_team,
            "difficulty": diff,
            "high_difficulty": high,
            "category": category,
            "factor": np.where(measured, factor, np.nan),
            "n_periods": n_per,
        }
    )

    def reason(r: Any) -> str:
        base = f"attainment {r.attainment:.0%} vs team {r.team_attainment:.0%}"
        if r.category == "set_up_to_fail":
            return (
                f"set up to fail: {base}, difficulty {r.difficulty:.3f} in the top "
                f"{1 - high_quantile:.0%}; not held against the rep"
            )
        if r.category == "under_performer":
            return f"under-performer: {base} with normal difficulty"
        return base

    ok = measured & np.isfinite(factor) & (n_per > 0)
    perf = reps.loc[ok, ["rep_id", "factor"]].copy()
    perf["reason"] = [reason(r) for r in reps[ok].itertuples(index=False)]
    perf["n_periods"] = reps.loc[ok, "n_periods"].to_numpy()
    perf = perf.reset_index(drop=True)

    # accuracy per team, distribution per unit
    teams_rows = []
    for team, g in reps.groupby("team_id", sort=True):
        s = _spread(g["attainment"].to_numpy(dtype=float))
        rho = spearman(g["difficulty"].to_numpy(dtype=float), g["attainment"].to_numpy(float))
        teams_rows.append(
            {
                "team_id": team,
                "attainment": team_att.get(team, np.nan),
                **{k: s.get(k, np.nan) for k in _TEAM_COLS},
                "difficulty_rank_corr": np.nan if rho is None else rho,
                "set_up_to_fail": int((g["category"] == "set_up_to_fail").sum()),
                "under_performers": int((g["category"] == "under_performer").sum()),
            }
        )
    teams = pd.DataFrame(teams_rows)
    unit_rows = []
    units_all = tr.units[tr.units["product"] == ALL]
    for rec in units_all.itertuples(index=False):
        col = {"company": None, "region": "region_id", "team": "team_id"}[str(rec.level)]
        members = reps if col is None else reps[reps[col] == rec.unit_id]
        s = _spread(members["attainment"].to_numpy(dtype=float))
        unit_rows.append(
            {
                "level": rec.level,
                "unit_id": rec.unit_id,
                "annual_quota": rec.annual_quota,
                "actual_to_date": rec.actual_to_date,
                "attainment": rec.attainment,
                **{k: s.get(k, np.nan) for k in ("reps", "median", "p10", "p90")},
                "share_at_or_above_100": s.get("share_at_or_above_100", np.nan),
            }
        )
    units = pd.DataFrame(unit_rows)

    rho_all = spearman(diff, att)
    company = units[units["level"] == "company"].iloc[0]
    counts = {c: int((category == c).sum()) for c in (*CATEGORIES, "not_measured")}
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "actuals": tr.summary["actuals"],
        "as_of": tr.as_of.isoformat(),
        "elapsed_share": round(tr.elapsed_share, 6),
        "company": {
            "unit_id": str(company["unit_id"]),
            "attainment": _r(company["attainment"]),
            **_spread(att),
        },
        "by_region": {
            str(u.unit_id): _r(u.attainment)
            for u in units[units["level"] == "region"].itertuples(index=False)
        },
        "difficulty_vs_attainment": {
            "spearman": None if rho_all is None else round(rho_all, 6),
            "reading": _reading(rho_all),
        },
        "settings": {"low": low, "high_quantile": high_quantile, "difficulty_cut": _r(cut)},
        "categories": counts,
        "set_up_to_fail": sorted(reps.loc[category == "set_up_to_fail", "rep_id"]),
        "under_performers": sorted(reps.loc[category == "under_performer", "rep_id"]),
        "performance": {
            "rows": len(perf),
            "definition": "clip(attainment / team attainment, 0.5, 1.5); max(…, 1) for reps set "
            "up to fail; n_periods = elapsed periods with quota",
            "min": _r(perf["factor"].min()) if len(perf) else None,
            "max": _r(perf["factor"].max()) if len(perf) else None,
        },
        "payout": _payout(payout),
        "warnings": warnings,
    }
    return Evaluation(run_dir, reps, teams, units, perf, summary, warnings)


_TEAM_COLS = (
    "reps",
    "median",
    "p10",
    "p90",
    "share_at_or_above_100",
    "rmse_vs_100",
    "mean_abs_dev",
    "std",
    "share_within_10pct",
)


def _r(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, 6) if np.isfinite(f) else None


def _reading(rho: float | None) -> str:
    if rho is None:
        return "not measurable (fewer than 3 reps with difficulty and attainment)"
    if rho <= -0.3:
        return "yes: the harder territories were the ones that missed (difficulty matters)"
    if rho >= 0.3:
        return "inverse: the harder territories attained more (quotas too cautious elsewhere?)"
    return "no clear link: attainment did not follow the plan's difficulty"


def _payout(res: PayoutResult | None) -> dict[str, Any] | None:
    if res is None:
        return None
    s = res.summary
    budget = s["budget"]
    return {
        "payout": s["expected_payout"],
        "budget": budget,
        "vs_budget": None if budget is None else round(s["expected_payout"] - budget, 2),
        "cost_of_sales": s["cost_of_sales"],
        "exact": s["elapsed_share"] >= 1.0,
    }
