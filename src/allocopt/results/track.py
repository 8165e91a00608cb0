"""Monitoring: actuals to date against a run's phased quotas.

Public entry point: :func:`track_of` (compute, from the run's frames and the actuals table);
:func:`allocopt.compose.track` opens the run folder and the actuals file, and
:func:`allocopt.compose.write_track` writes the result as a folder (atomically, never over an
existing one without ``force``).

Definitions (all amounts in the plan's currency):

* **as-of** — the last day the actuals cover (inclusive). Default: the last day of the latest
  period that has actuals (``Q1`` of a year starting 2027-01-01 → 2027-03-31). Periods run from
  ``plan.fiscal_year_start`` in steps of 3 months (``quarter``) or 1 month (``month``). A period is
  *closed* when its last day ≤ as-of; the period that contains as-of is *current* and counts with
  its elapsed fraction ``f = days elapsed (as-of included) ÷ days in the period``.
* **elapsed share of the year** ``e = Σ_t f_t · months_t / 12`` (closed periods have f = 1), so a
  closed Q1 is exactly 0.25.
* **quota to date** ``Q = Σ_t f_t · q_t`` (phased quota of closed periods + prorated current one);
  **actual to date** ``A`` = the actuals of the elapsed periods (rows of later periods are ignored
  with a warning); **annual quota** ``Y = Σ_t q_t``.
* **attainment** ``A / Q``; **pacing** ``A − Q``.
* **run-rate forecast** ``A / e``; **seasonality-adjusted forecast** ``A / (Q / Y)`` — the share of
  the annual phased quota that falls in the elapsed time is the seasonality curve, so each rep's
  own phasing (seasonality, ramp, leave) is respected. **Forecast attainment** = forecast ÷ ``Y``
  (for the seasonality-adjusted forecast this equals attainment to date by construction).
* **at risk** — seasonality-adjusted forecast attainment < ``at_risk`` (default 0.9); **gap** =
  ``Y`` − seasonality-adjusted forecast (the expected shortfall; at-risk lists sort by it).
* **performance factor** = clip(seasonality-adjusted forecast attainment, 0.5, 1.5), and 1.0 when
  it cannot be measured yet (no quota to date). A next plan can use it as a per-rep history
  weight (e.g. scale ``ly_actual`` or the history part of the reference split by it).

Units (team, region, company; each per product and over all products) use the same formulas on
their summed amounts. A rep × product without any actual row has actual 0. Rows or units whose
quota to date is 0 (e.g. a new hire who has not started) have no attainment and are never at
risk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.calendar import fiscal_periods
from allocopt.data.tables import ROW
from allocopt.errors import InputError, Problem
from allocopt.results.run import RunTables

__all__ = ["ALL", "Actuals", "TrackResult", "check_threshold", "track_of"]

ALL = "ALL"  # product label of totals over all products
FACTOR_CLIP = (0.5, 1.5)
AT_RISK_IN_SUMMARY = 50

MONEY = (
    "annual_quota",
    "quota_to_date",
    "actual_to_date",
    "pacing",
    "forecast_run_rate",
    "forecast_seasonal",
    "gap",
)
RATIOS = (
    "attainment",
    "seasonal_share",
    "forecast_run_rate_attainment",
    "forecast_attainment",
    "performance_factor",
)
METRICS = (
    "annual_quota",
    "quota_to_date",
    "actual_to_date",
    "attainment",
    "pacing",
    "seasonal_share",
    "forecast_run_rate",
    "forecast_run_rate_attainment",
    "forecast_seasonal",
    "forecast_attainment",
    "gap",
    "at_risk",
    "performance_factor",
)


@dataclass(frozen=True)
class Period:
    """One plan period with its dates (``end`` is the last day, inclusive)."""

    label: str
    start: dt.date
    end: dt.date
    months: int
    elapsed: float  # fraction of the period elapsed at as-of (0..1)

    @property
    def status(self) -> str:
        return "closed" if self.elapsed >= 1 else "current" if self.elapsed > 0 else "future"


@dataclass
class TrackResult:
    """Attainment of a run at a date: per rep × product (and rep totals), per unit, at risk."""

    run_dir: Path
    as_of: dt.date
    periods: list[Period]
    elapsed_share: float
    threshold: float
    reps: pd.DataFrame  # rep × product rows, plus one row per rep with product ALL
    units: pd.DataFrame  # level, unit_id, product (incl. ALL)
    at_risk: pd.DataFrame  # reps at risk over all products, largest gap first
    summary: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def files(self) -> dict[str, Any]:
        """The files of a track folder (name → content), as written by :func:`write_track`."""
        return {
            "attainment_reps.csv": _rounded(self.reps),
            "attainment_units.csv": _rounded(self.units),
            "at_risk.csv": _rounded(self.at_risk),
            "summary.json": self.summary,
        }


# --- run ------------------------------------------------------------------------------------


def _company(run: RunTables) -> str:
    """The company unit's id (``rollups.csv``, when given), else ``COMPANY``."""
    ru = run.tables.get("rollups.csv")
    if ru is not None and {"unit_id", "level"} <= set(ru.columns):
        comp = ru.loc[ru["level"] == "company", "unit_id"]
        if len(comp):
            return str(comp.iloc[0])
    return "COMPANY"


def _periods(fy0: dt.date, granularity: str, as_of: dt.date) -> list[Period]:
    return [
        Period(p.label, p.start, p.end, p.months, p.elapsed(as_of))
        for p in fiscal_periods(fy0, granularity)
    ]


# --- actuals --------------------------------------------------------------------------------


def _check_actuals(
    df: pd.DataFrame, label: str, quotas: pd.DataFrame, labels: list[str]
) -> pd.DataFrame:
    """The actuals table (read and checked by the data stage) against the run's ids."""
    reps = set(quotas["rep_id"])
    products = set(quotas["product"])
    known = {"rep_id": reps, "product": products, "period": set(labels)}
    what = {"rep_id": "rep", "product": "product", "period": "period"}
    problems: list[Problem] = []
    for col, allowed in known.items():
        bad = ~df[col].isin(allowed)
        if not bad.any():
            continue
        listing = sorted(allowed) if col != "period" else labels
        shown = ", ".join(listing[:12]) + (", …" if len(listing) > 12 else "")
        for row, value in zip(df.loc[bad, ROW], df.loc[bad, col], strict=True):
            problems.append(
                Problem(
                    label,
                    f"row {int(row)}",
                    col,
                    f"unknown {what[col]}: not in the run (the run has {shown})",
                    value=str(value),
                )
            )
    if problems:
        raise InputError(problems)
    return df


# --- metrics --------------------------------------------------------------------------------


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full(a.shape, np.nan)
    ok = b > 1e-12
    np.divide(a, b, out=out, where=ok)
    return out


def _measure(df: pd.DataFrame, elapsed_share: float, threshold: float) -> pd.DataFrame:
    """Add the derived metrics to a frame of summed annual_quota, quota_to_date, actual_to_date."""
    y = df["annual_quota"].to_numpy(dtype=float)
    q = df["quota_to_date"].to_numpy(dtype=float)
    a = df["actual_to_date"].to_numpy(dtype=float)
    out = df.copy()
    out["attainment"] = _div(a, q)
    out["pacing"] = a - q
    share = _div(q, y)
    out["seasonal_share"] = share
    run_rate = a / elapsed_share
    out["forecast_run_rate"] = run_rate
    out["forecast_run_rate_attainment"] = _div(run_rate, y)
    seasonal = np.full(a.shape, np.nan)
    ok = np.isfinite(share) & (q > 1e-12)
    seasonal[ok] = a[ok] / share[ok]
    out["forecast_seasonal"] = seasonal
    fa = _div(seasonal, y)
    out["forecast_attainment"] = fa
    out["gap"] = y - seasonal
    out["at_risk"] = np.isfinite(fa) & (fa < threshold)
    out["performance_factor"] = np.where(np.isfinite(fa), np.clip(fa, *FACTOR_CLIP), 1.0)
    return out


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in MONEY:
        if c in out:
            out[c] = out[c].round(2)
    for c in RATIOS:
        if c in out:
            out[c] = out[c].round(6)
    return out


_STAT_KEYS = ("count", "mean", "median", "p10", "p90", "share_at_or_above_100")


def _stats(values: np.ndarray) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if not len(v):
        return {k: (0 if k == "count" else None) for k in _STAT_KEYS}
    return {
        "count": len(v),
        "mean": round(float(v.mean()), 6),
        "median": round(float(np.median(v)), 6),
        "p10": round(float(np.percentile(v, 10)), 6),
        "p90": round(float(np.percentile(v, 90)), 6),
        "share_at_or_above_100": round(float((v >= 1 - 1e-12).mean()), 6),
    }


def _json_metrics(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in METRICS:
        v = row[c]
        if c == "at_risk":
            out[c] = bool(v)
        elif pd.isna(v):
            out[c] = None
        else:
            out[c] = round(float(v), 2 if c in MONEY else 6)
    return out


def check_threshold(at_risk: float) -> None:
    """InputError (exit 2) unless the at-risk threshold is > 0."""
    if not at_risk > 0:
        raise InputError(Problem("--threshold", "", "", "must be > 0", value=f"{at_risk:g}"))


@dataclass(frozen=True)
class Actuals:
    """The actuals table as read (``rep_id, product, period, amount`` and the data stage's row
    numbers), with the file's label for messages and its path and sha256 for the summary."""

    frame: pd.DataFrame
    label: str
    path: str
    sha256: str


def track_of(
    run: RunTables,
    actuals: Actuals,
    *,
    as_of: dt.date | None = None,
    at_risk: float = 0.9,
) -> TrackResult:
    """Compare actuals to date with the run's phased quotas (see the module docstring).

    ``run``: the manifest, ``quotas.csv`` (``rep_id, team_id, region_id, product, period`` as
    text, ``quota`` numeric) and optionally ``rollups.csv``, read by
    :func:`allocopt.compose.track`. Raises :class:`~allocopt.errors.InputError` (exit 2) for
    actuals naming reps, products or periods the run does not have, or an as-of date before the
    fiscal year starts.
    """
    check_threshold(at_risk)
    run_dir = Path(run.source)
    manifest = run.manifest
    quotas = run.table("quotas.csv")
    company = _company(run)
    plan = manifest["resolved_scenario"]["plan"]
    fy0 = dt.date.fromisoformat(str(plan["fiscal_year_start"]))
    granularity = str(plan.get("granularity", "quarter"))
    currency = str(plan.get("currency", ""))
    labels = [p.label for p in _periods(fy0, granularity, fy0)]
    act = _check_actuals(actuals.frame, actuals.label, quotas, labels)

    warnings: list[str] = []
    if as_of is None:
        last = max(labels.index(str(p)) for p in act["period"])
        as_of = _periods(fy0, granularity, fy0)[last].end
    if as_of < fy0:
        raise InputError(
            Problem(
                "--as-of",
                "",
                "",
                f"is before the fiscal year starts ({fy0.isoformat()}); nothing has elapsed",
                value=as_of.isoformat(),
            )
        )
    periods = _periods(fy0, granularity, as_of)
    year_end = periods[-1].end
    if as_of > year_end:
        warnings.append(
            f"as-of {as_of.isoformat()} is after the fiscal year ends ({year_end.isoformat()}); "
            "the whole year counts as elapsed"
        )
    frac = {p.label: p.elapsed for p in periods}
    elapsed_share = sum(p.elapsed * p.months / 12 for p in periods)

    later = act["period"].map(frac) <= 0
    if later.any():
        warnings.append(
            f"{int(later.sum()):,} actual row(s) of periods after as-of {as_of.isoformat()} are "
            "ignored (" + ", ".join(sorted(set(act.loc[later, "period"]), key=labels.index)) + ")"
        )
    act = act[~later]

    # rep × product
    q = quotas.copy()
    q["f"] = q["period"].map(frac).fillna(0.0)
    q["qtd"] = q["quota"] * q["f"]
    keys = ["rep_id", "team_id", "region_id", "product"]
    products = [str(p) for p in manifest["resolved_scenario"].get("products", [])]
    products += sorted(set(q["product"]) - set(products))
    rp = (
        q.groupby(keys, sort=False)
        .agg(annual_quota=("quota", "sum"), quota_to_date=("qtd", "sum"))
        .reset_index()
    )
    got = act.groupby(["rep_id", "product"])["amount"].sum().rename("actual_to_date")
    rp = rp.merge(got, left_on=["rep_id", "product"], right_index=True, how="left")
    has_rows = set(act["rep_id"])
    rp["actual_to_date"] = rp["actual_to_date"].fillna(0.0)
    rp["_p"] = rp["product"].map({p: i for i, p in enumerate(products)})
    rp = rp.sort_values(["rep_id", "_p"], kind="stable").drop(columns="_p")
    money = ["annual_quota", "quota_to_date", "actual_to_date"]
    tot = rp.groupby(["rep_id", "team_id", "region_id"], sort=True)[money].sum().reset_index()
    tot.insert(3, "product", ALL)
    reps = pd.concat([rp, tot], ignore_index=True)
    reps["_o"] = (reps["product"] == ALL).astype(int)
    reps["_p"] = reps["product"].map({p: i for i, p in enumerate(products)}).fillna(len(products))
    reps = reps.sort_values(["rep_id", "_o", "_p"], kind="stable").drop(columns=["_o", "_p"])
    reps = _measure(reps.reset_index(drop=True), elapsed_share, at_risk)

    # units: team, region, company; per product and ALL
    frames = []
    for level, col in (("company", None), ("region", "region_id"), ("team", "team_id")):
        base = rp if col is None else rp[rp[col] != ""]
        unit = pd.Series(company, index=base.index) if col is None else base[col]
        g = base.assign(unit_id=unit)
        per = g.groupby(["unit_id", "product"], sort=False)[money].sum().reset_index()
        allp = g.groupby("unit_id", sort=False)[money].sum().reset_index()
        allp.insert(1, "product", ALL)
        u = pd.concat([per, allp], ignore_index=True)
        u.insert(0, "level", level)
        frames.append(u)
    units = pd.concat(frames, ignore_index=True)
    lvl = {"company": 0, "region": 1, "team": 2}
    units["_l"] = units["level"].map(lvl)
    units["_p"] = units["product"].map({p: i for i, p in enumerate(products)}).fillna(-1)
    units = units.sort_values(["_l", "unit_id", "_p"], kind="stable").drop(columns=["_l", "_p"])
    units = _measure(units.reset_index(drop=True), elapsed_share, at_risk)

    # at risk: reps over all products, largest gap first
    rep_all = reps[reps["product"] == ALL]
    flagged = reps[(reps["product"] != ALL) & reps["at_risk"]]
    prod_flags = flagged.groupby("rep_id")["product"].agg(lambda s: ";".join(s))
    risk = rep_all[rep_all["at_risk"]].copy()
    risk["at_risk_products"] = risk["rep_id"].map(prod_flags).fillna("")
    risk = risk.sort_values(["gap", "rep_id"], ascending=[False, True], kind="stable")
    risk = risk.drop(columns=["product", "at_risk"]).reset_index(drop=True)

    # summary
    def row(level: str, unit: str, product: str) -> dict[str, Any]:
        sel = units[
            (units["level"] == level) & (units["unit_id"] == unit) & (units["product"] == product)
        ]
        return _json_metrics(sel.iloc[0]) if len(sel) else {}

    regions = sorted(set(units.loc[units["level"] == "region", "unit_id"]))
    teams_at_risk = units[(units["level"] == "team") & (units["product"] == ALL) & units["at_risk"]]
    pf = rep_all["performance_factor"].to_numpy(dtype=float)
    not_measurable = int((rep_all["quota_to_date"] <= 1e-12).sum())
    no_rows = sorted(set(rep_all["rep_id"]) - has_rows)
    current = next((p for p in periods if p.status == "current"), None)
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "scenario": manifest.get("scenario"),
        "actuals": {"path": actuals.path, "sha256": actuals.sha256, "rows": len(act)},
        "as_of": as_of.isoformat(),
        "fiscal_year_start": fy0.isoformat(),
        "granularity": granularity,
        "currency": currency,
        "periods": [
            {
                "period": p.label,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "status": p.status,
                "elapsed": round(p.elapsed, 6),
            }
            for p in periods
        ],
        "closed_periods": [p.label for p in periods if p.status == "closed"],
        "current_period": (
            {"period": current.label, "elapsed": round(current.elapsed, 6)} if current else None
        ),
        "elapsed_share": round(elapsed_share, 6),
        "threshold": at_risk,
        "company": row("company", company, ALL),
        "by_product": {p: row("company", company, p) for p in products},
        "by_region": {r: row("region", r, ALL) for r in regions},
        "distribution": _stats(rep_all["attainment"].to_numpy(dtype=float)),
        "distribution_by_product": {
            p: _stats(reps.loc[reps["product"] == p, "attainment"].to_numpy(dtype=float))
            for p in products
        },
        "at_risk": {
            "count": len(risk),
            "reps": [
                {
                    "rep_id": str(rep),
                    "team_id": str(team),
                    "gap": round(float(gap), 2),
                    "forecast_attainment": round(float(fa), 6),
                }
                for rep, team, gap, fa in zip(
                    risk["rep_id"].head(AT_RISK_IN_SUMMARY),
                    risk["team_id"].head(AT_RISK_IN_SUMMARY),
                    risk["gap"].head(AT_RISK_IN_SUMMARY).to_numpy(dtype=float),
                    risk["forecast_attainment"].head(AT_RISK_IN_SUMMARY).to_numpy(dtype=float),
                    strict=True,
                )
            ],
            "listed": min(len(risk), AT_RISK_IN_SUMMARY),
            "teams": sorted(teams_at_risk["unit_id"]),
        },
        "performance_factor": {
            "definition": (
                "clip(seasonality-adjusted forecast attainment, 0.5, 1.5); 1.0 when there is "
                "no quota to date. Per rep in attainment_reps.csv (product ALL); usable by a "
                "next plan as a history weight."
            ),
            "min": round(float(pf.min()), 6) if len(pf) else None,
            "max": round(float(pf.max()), 6) if len(pf) else None,
            "mean": round(float(pf.mean()), 6) if len(pf) else None,
        },
        "reps": len(rep_all),
        "reps_without_actuals": no_rows,
        "reps_not_measurable": not_measurable,
        "warnings": warnings,
    }
    return TrackResult(
        run_dir=run_dir,
        as_of=as_of,
        periods=periods,
        elapsed_share=elapsed_share,
        threshold=at_risk,
        reps=reps,
        units=units,
        at_risk=risk,
        summary=summary,
        warnings=warnings,
    )
