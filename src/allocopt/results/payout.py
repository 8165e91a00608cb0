"""What will this plan cost in variable pay? Expected payout of a run under its incentive plans.

Public entry point: :func:`payout` (compute), with :func:`write_payout` to write the result as a
folder (atomically, never over an existing one without ``force``). The formulas, with a worked
example, are in ``docs/incentives.md``:

* **credited quota** ``c_r = Σ_p w_p · Y_rp`` and **credited sales** ``s_r = Σ_p w_p · S_rp``
  (``w_p`` the product weights, default 1; ``Y`` the annual quota, ``S`` the sales);
  **attainment** ``a_r = s_r / c_r``.
* **payout multiplier** ``M(a) = 0`` when ``a < threshold``, else
  ``Σ_b rate_b · clip(min(a, cap) − start_b, 0, end_b − start_b)`` (bands of the role's rate
  table; no cap = ∞; an open last band has end = ∞).
* **payout** ``= B_r · M(a_r)`` with the pay base ``B_r = TI_r · fte_r · e_r`` (target incentive,
  prorated by FTE and the share of the year employed when ``prorate``) or ``B_r = k_r · c_r``
  (commission rate × credited quota: with the default linear band this pays ``k_r · s_r``).
* **sales outcomes**: ``S_rp = A_rp + R_rp · m_r``: the actuals to date ``A`` plus the
  expected remaining sales ``R`` (the seasonality-adjusted forecast of ``allocopt track`` minus
  ``A``; the remaining quota where the forecast cannot be measured, and the whole annual quota
  without actuals) times a mean-one lognormal multiplier
  ``m_r = exp(σ_rem · Z_r − σ_rem² / 2)``, ``σ_rem = spread · √(1 − elapsed share)``,
  ``Z_r = √ρ · G + √(1 − ρ) · ε_r`` (a market-wide shock ``G`` shared by all reps with weight
  ``ρ = correlation``). Draws come from ``numpy.random.default_rng(seed)`` in a fixed order, so
  the same inputs and seed give the same numbers.
* **cost of sales** = expected payout ÷ expected revenue (Σ_p S_rp, unweighted).

Reps whose role has no plan are paid no variable pay; reps without quota have no attainment.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.data.incentives import terms_of
from allocopt.data.tables import SPECS, read_table
from allocopt.errors import InputError, Problem
from allocopt.outputs.runfolder import read_manifest, write_run
from allocopt.scenario.schema import IncentivePlan, Incentives, Scenario

__all__ = ["PayoutResult", "multiplier", "payout", "write_payout"]

CHUNK = 2_000_000  # draws × reps evaluated at once (bounded memory)


def multiplier(plan: IncentivePlan, attainment: np.ndarray) -> np.ndarray:
    """The payout multiplier M(a) of a rate table, element-wise (NaN attainment → 0)."""
    a = np.asarray(attainment, dtype=float)
    ok = np.isfinite(a)
    x = np.where(ok, a, 0.0)
    if plan.cap is not None:
        x = np.minimum(x, plan.cap)
    m = np.zeros_like(x)
    for b in plan.bands:
        width = np.inf if b.end is None else b.end - b.start
        m += b.rate * np.clip(x - b.start, 0.0, width)
    return np.where(ok & (a >= plan.threshold), m, 0.0)


@dataclass
class PayoutResult:
    """Expected payout per rep and unit, the company distribution, and the summary."""

    run_dir: Path
    reps: pd.DataFrame
    units: pd.DataFrame
    summary: dict[str, Any]
    totals: np.ndarray  # (D,) company payout per draw
    warnings: list[str] = field(default_factory=list)

    def files(self) -> dict[str, Any]:
        """The files of a payout folder (name → content), as written by :func:`write_payout`."""
        return {
            "payout_reps.csv": _rounded(self.reps),
            "payout_units.csv": _rounded(self.units),
            "summary.json": self.summary,
        }


_MONEY = (
    "pay_base",
    "credited_quota",
    "quota",
    "expected_revenue",
    "expected_payout",
    "payout_p10",
    "payout_p90",
    "actual_to_date",
    "expected_remaining",
)


def round_frame(df: pd.DataFrame, money: tuple[str, ...]) -> pd.DataFrame:
    """A copy for writing: float columns named in ``money`` to cents, other floats to 6 places."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].round(2 if c in money else 6)
    return out


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    return round_frame(df, _MONEY)


def _scenario(run_dir: Path) -> tuple[dict[str, Any], Scenario]:
    manifest = read_manifest(run_dir, f"cannot compute the payout of {run_dir}")
    try:
        sc = Scenario.model_validate_json(json.dumps(manifest["resolved_scenario"]))
    except (KeyError, ValueError) as exc:
        raise InputError(
            Problem(str(run_dir / "manifest.json"), "", "resolved_scenario", f"unreadable: {exc}")
        ) from None
    return manifest, sc


def _incentives(run_dir: Path, sc: Scenario) -> Incentives:
    if sc.incentives is None:
        raise InputError(
            Problem(
                str(run_dir / "manifest.json"),
                "",
                "resolved_scenario.incentives",
                "the run's scenario has no incentives section; add one (docs/incentives.md) "
                "and solve again",
            )
        )
    return sc.incentives


def _read_run_csv(run_dir: Path, name: str, need: tuple[str, ...]) -> pd.DataFrame:
    path = run_dir / name
    if not path.is_file():
        raise InputError(Problem(str(path), "", "", "file is missing; re-run the solve"))
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    absent = [c for c in need if c not in df.columns]
    if absent:
        raise InputError(
            [Problem(str(path), "row 1", c, "required column is missing") for c in absent]
        )
    return df


def _overrides(run_dir: Path, manifest: dict[str, Any], sc: Scenario) -> pd.DataFrame | None:
    """The incentive_reps table recorded for the run (path relative to the scenario file)."""
    ref = sc.data.incentive_reps
    if ref is None:
        return None
    from allocopt.data.checks import table_source

    scen = Path(str(manifest.get("inputs", {}).get("scenario", {}).get("path", "")))
    src = table_source(ref, scen.parent)
    res = read_table(SPECS["incentive_reps"], src)
    if res.problems or res.frame is None:
        raise InputError(res.problems or [Problem(src.label, "", "", "cannot be read")])
    return res.frame


def payout(
    run_dir: Path,
    actuals: Path | None = None,
    *,
    draws: int = 2000,
    seed: int = 0,
    as_of: dt.date | None = None,
) -> PayoutResult:
    """Expected variable pay of a run (see the module docstring for every formula).

    Raises :class:`~allocopt.errors.InputError` (exit 2) for a bad run folder, a run without an
    incentives section, bad actuals, or ``draws`` < 1.
    """
    run_dir = Path(run_dir)
    if draws < 1:
        raise InputError(Problem("--draws", "", "", "must be ≥ 1", value=str(draws)))
    manifest, sc = _scenario(run_dir)
    inc = _incentives(run_dir, sc)
    products = list(sc.products)
    w = np.array([inc.product_weights.get(p, 1.0) for p in products])
    reps = _read_run_csv(run_dir, "reps.csv", ("rep_id", "team_id", "region_id", "role", "fte"))
    reps = reps.sort_values("rep_id", kind="stable").reset_index(drop=True)
    annual = _read_run_csv(run_dir, "annual.csv", ("rep_id", "product", "quota"))
    ids = reps["rep_id"].to_numpy(dtype=object)
    ridx = {r: i for i, r in enumerate(ids)}
    pidx = {p: j for j, p in enumerate(products)}
    n_r, n_p = len(ids), len(products)
    quota = np.zeros((n_r, n_p))
    ok = annual["rep_id"].isin(ridx) & annual["product"].isin(pidx)
    quota[
        annual.loc[ok, "rep_id"].map(ridx).to_numpy(dtype=np.int64),
        annual.loc[ok, "product"].map(pidx).to_numpy(dtype=np.int64),
    ] = pd.to_numeric(annual.loc[ok, "quota"], errors="coerce").fillna(0.0).to_numpy(dtype=float)

    # sales to date and expected remaining sales per rep × product
    act = np.zeros((n_r, n_p))
    rem = quota.copy()
    elapsed = 0.0
    warnings: list[str] = []
    track_info: dict[str, Any] | None = None
    if actuals is not None:
        from allocopt.results.track import ALL, track

        tr = track(run_dir, actuals, as_of=as_of)
        elapsed = min(1.0, tr.elapsed_share)
        rp = tr.reps[tr.reps["product"] != ALL]
        ri = rp["rep_id"].map(ridx).to_numpy(dtype=np.int64)
        pj = rp["product"].map(pidx).to_numpy(dtype=np.int64)
        a = rp["actual_to_date"].to_numpy(dtype=float)
        y = rp["annual_quota"].to_numpy(dtype=float)
        q = rp["quota_to_date"].to_numpy(dtype=float)
        fc = rp["forecast_seasonal"].to_numpy(dtype=float)
        left = np.where(np.isfinite(fc), np.maximum(fc - a, 0.0), np.maximum(y - q, 0.0))
        if elapsed >= 1.0:
            left = np.zeros_like(left)
        act[ri, pj] = a
        rem[ri, pj] = left
        warnings += tr.warnings
        track_info = {"as_of": tr.as_of.isoformat(), "elapsed_share": round(elapsed, 6)}
        track_info["actuals"] = tr.summary["actuals"]

    terms = terms_of(inc, reps, _overrides(run_dir, manifest, sc))
    fte = pd.to_numeric(reps["fte"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
    share = (
        pd.to_numeric(reps["active_share"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
        if "active_share" in reps
        else np.ones(n_r)
    )
    credited_quota = quota @ w
    is_ti = np.isfinite(terms.target_incentive)
    has_plan = terms.role != ""
    prorate = fte * share if inc.prorate else np.ones(n_r)
    base = np.where(
        is_ti,
        np.nan_to_num(terms.target_incentive) * prorate,
        np.nan_to_num(terms.commission_rate) * credited_quota,
    )
    base = np.where(has_plan, base, 0.0)

    # draws, in chunks of whole draws; every chunk continues the same random stream
    sigma = inc.spread * np.sqrt(max(0.0, 1.0 - elapsed))
    rho = inc.correlation
    cred_act, cred_rem = act @ w, rem @ w
    rev_act, rev_rem = act.sum(axis=1), rem.sum(axis=1)
    rng = np.random.default_rng(seed)
    plans = {role: inc.roles[role] for role in sorted(set(terms.role) - {""})}
    members = {role: np.flatnonzero(terms.role == role) for role in plans}
    sum_pay = np.zeros(n_r)
    sum_pay2 = np.zeros(n_r)
    sum_att = np.zeros(n_r)
    at_quota = np.zeros(n_r)
    sum_rev = np.zeros(n_r)
    totals = np.zeros(draws)
    revenue_totals = np.zeros(draws)
    share_at_quota = np.zeros(draws)
    pay_draws: list[np.ndarray] = []
    measurable = credited_quota > 1e-9
    step = max(1, CHUNK // max(1, n_r))
    for d0 in range(0, draws, step):
        k = min(step, draws - d0)
        common = rng.standard_normal(k)
        own = rng.standard_normal((k, n_r))
        z = np.sqrt(rho) * common[:, None] + np.sqrt(1.0 - rho) * own
        mult = np.exp(sigma * z - sigma * sigma / 2.0)
        sales = cred_act[None, :] + cred_rem[None, :] * mult
        att = np.divide(
            sales,
            credited_quota[None, :],
            out=np.full(sales.shape, np.nan),
            where=measurable[None, :],
        )
        m = np.zeros_like(sales)
        for role, plan in plans.items():
            cols = members[role]
            m[:, cols] = multiplier(plan, att[:, cols])
        pay = base[None, :] * m
        rev = rev_act[None, :] + rev_rem[None, :] * mult
        sum_pay += pay.sum(axis=0)
        sum_pay2 += (pay * pay).sum(axis=0)
        sum_att += np.nan_to_num(att).sum(axis=0)
        hit = np.nan_to_num(att, nan=-1.0) >= 1.0 - 1e-12
        at_quota += hit.sum(axis=0)
        sum_rev += rev.sum(axis=0)
        totals[d0 : d0 + k] = pay.sum(axis=1)
        revenue_totals[d0 : d0 + k] = rev.sum(axis=1)
        share_at_quota[d0 : d0 + k] = (
            hit[:, measurable].mean(axis=1) if measurable.any() else np.nan
        )
        if n_r * draws <= CHUNK:
            pay_draws.append(pay)
    exp_pay = sum_pay / draws
    p10 = p90 = np.full(n_r, np.nan)
    if pay_draws:
        allpay = np.concatenate(pay_draws, axis=0)
        p10, p90 = np.percentile(allpay, [10, 90], axis=0)

    out = pd.DataFrame(
        {
            "rep_id": ids,
            "team_id": reps["team_id"].to_numpy(dtype=object),
            "region_id": reps["region_id"].to_numpy(dtype=object),
            "role": terms.role,
            "pay_basis": np.where(
                ~has_plan, "none", np.where(is_ti, "target_incentive", "commission")
            ),
            "pay_base": base,
            "quota": quota.sum(axis=1),
            "credited_quota": credited_quota,
            "actual_to_date": act.sum(axis=1),
            "expected_remaining": rem.sum(axis=1),
            "expected_revenue": sum_rev / draws,
            "expected_attainment": np.where(measurable, sum_att / draws, np.nan),
            "p_at_or_above_quota": np.where(measurable, at_quota / draws, np.nan),
            "expected_payout": exp_pay,
            "payout_p10": p10,
            "payout_p90": p90,
        }
    )
    out["cost_of_sales"] = np.divide(
        exp_pay,
        out["expected_revenue"].to_numpy(dtype=float),
        out=np.full(n_r, np.nan),
        where=out["expected_revenue"].to_numpy(dtype=float) > 1e-9,
    )
    units = _units(out, manifest, run_dir)
    currency = sc.plan.currency
    exp_total = float(totals.mean())
    exp_rev = float(revenue_totals.mean())
    budget = inc.budget
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "scenario": sc.name,
        "currency": currency,
        "draws": draws,
        "seed": seed,
        "spread": inc.spread,
        "spread_remaining": round(float(sigma), 6),
        "correlation": rho,
        "actuals": track_info,
        "elapsed_share": round(elapsed, 6),
        "reps": n_r,
        "reps_with_plan": int(has_plan.sum()),
        "expected_payout": round(exp_total, 2),
        "expected_revenue": round(exp_rev, 2),
        "cost_of_sales": round(exp_total / exp_rev, 6) if exp_rev > 1e-9 else None,
        "payout_p10": round(float(np.percentile(totals, 10)), 2),
        "payout_p50": round(float(np.percentile(totals, 50)), 2),
        "payout_p90": round(float(np.percentile(totals, 90)), 2),
        "budget": budget,
        "p_over_budget": (
            None if budget is None else round(float((totals > budget + 1e-9).mean()), 6)
        ),
        "expected_share_at_or_above_quota": (
            round(float(np.nanmean(share_at_quota)), 6) if measurable.any() else None
        ),
        "by_role": {role: round(float(exp_pay[members[role]].sum()), 2) for role in plans},
        "by_region": {
            str(u): round(float(v), 2)
            for u, v in zip(
                units.loc[units["level"] == "region", "unit_id"],
                units.loc[units["level"] == "region", "expected_payout"],
                strict=True,
            )
        },
        "warnings": warnings,
    }
    return PayoutResult(run_dir, out, units, summary, totals, warnings)


def _units(reps: pd.DataFrame, manifest: dict[str, Any], run_dir: Path) -> pd.DataFrame:
    company = "COMPANY"
    ru = run_dir / "rollups.csv"
    if ru.is_file():
        roll = pd.read_csv(ru, dtype=str, keep_default_na=False)
        comp = roll.loc[roll.get("level", pd.Series(dtype=str)) == "company", "unit_id"]
        if len(comp):
            company = str(comp.iloc[0])
    cols = ["quota", "credited_quota", "expected_revenue", "expected_payout"]
    frames = []
    for level, col in (("company", None), ("region", "region_id"), ("team", "team_id")):
        base = reps if col is None else reps[reps[col] != ""]
        unit = pd.Series(company, index=base.index) if col is None else base[col]
        g = base.assign(unit_id=unit, hit=base["p_at_or_above_quota"])
        agg = g.groupby("unit_id", sort=True).agg(
            reps=("rep_id", "size"),
            **{c: (c, "sum") for c in cols},
            share_at_or_above_quota=("hit", "mean"),
        )
        agg = agg.reset_index()
        agg.insert(0, "level", level)
        frames.append(agg)
    units = pd.concat(frames, ignore_index=True)
    rev = units["expected_revenue"].to_numpy(dtype=float)
    units["cost_of_sales"] = np.divide(
        units["expected_payout"].to_numpy(dtype=float),
        rev,
        out=np.full(len(units), np.nan),
        where=rev > 1e-9,
    )
    return units


def default_payout_dir(result: PayoutResult) -> Path:
    """``<RUN_DIR>-payout`` beside the run folder (run folders are never modified)."""
    return result.run_dir.with_name(f"{result.run_dir.name}-payout")


def write_payout(result: PayoutResult, out: Path | None = None, *, force: bool = False) -> Path:
    """Write the payout folder atomically; exit 3 if it exists and ``force`` is not given."""
    return write_run(out or default_payout_dir(result), result.files(), force=force)
