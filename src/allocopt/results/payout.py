"""What will this plan cost in variable pay? Expected payout of a plan under its incentive plans.

Public entry point: :func:`payout_of` — in memory: the resolved scenario, the plan's reps and
annual quotas (frames), and where the sales outcomes come from (:class:`Outlook` from tracking,
or :class:`SalesDraws`, e.g. the Monte Carlo draws of a plan stress sweep). It reads no file;
:func:`allocopt.compose.payout_run` opens a run folder (and the actuals or a sweep folder) and
passes the tables in. The formulas, with a worked example, are in ``docs/incentives.md``:

* **credited quota** ``c_r = Σ_p w_p · Y_rp`` and **credited sales** ``s_r = Σ_p w_p · S_rp``
  (``w_p`` the product weights, default 1; ``Y`` the annual quota, ``S`` the sales);
  **attainment** ``a_r = s_r / c_r``.
* **payout multiplier** ``M(a) = 0`` when ``a < threshold``, else
  ``Σ_b rate_b · clip(min(a, cap) − start_b, 0, end_b − start_b)`` (bands of the role's rate
  table; no cap = ∞; an open last band has end = ∞).
* **payout** ``= B_r · M(a_r)`` with the pay base ``B_r = TI_r · fte_r · e_r`` (target incentive,
  prorated by FTE and the share of the year employed when ``prorate``) or ``B_r = k_r · c_r``
  (commission rate × credited quota: with the default linear band this pays ``k_r · s_r``).
* **sales outcomes** (lognormal, the default): ``S_rp = A_rp + R_rp · m_r``: the actuals to
  date ``A`` plus the expected remaining sales ``R`` (the seasonality-adjusted forecast of
  ``allocopt track`` minus ``A``; the remaining quota where the forecast cannot be measured, and
  the whole annual quota without actuals) times a mean-one lognormal multiplier
  ``m_r = exp(σ_rem · Z_r − σ_rem² / 2)``, ``σ_rem = spread · √(1 − elapsed share)``,
  ``Z_r = √ρ · G + √(1 − ρ) · ε_r`` (a market-wide shock ``G`` shared by all reps with weight
  ``ρ = correlation``). Draws come from ``numpy.random.default_rng(seed)`` in a fixed order, so
  the same inputs and seed give the same numbers.
* **sales outcomes** (:class:`SalesDraws`): ``S_rp`` of draw d taken as given (the plan stress
  sweep's sales model, docs/sweep.md), so payout and attainment come from the same draws.
* **cost of sales** = expected payout ÷ expected revenue (Σ_p S_rp, unweighted).

Reps whose role has no plan are paid no variable pay; reps without quota have no attainment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.data.incentives import terms_of
from allocopt.errors import InputError, Problem
from allocopt.scenario.schema import IncentivePlan, Incentives, Scenario

__all__ = [
    "Outlook",
    "PayoutResult",
    "SalesDraws",
    "multiplier",
    "outlook_from_tracking",
    "payout_of",
    "round_frame",
]

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


@dataclass(frozen=True)
class Outlook:
    """Sales to date and expected remaining sales per rep × product (from tracking).

    ``frame``: rep_id, product, actual_to_date, expected_remaining; reps × products not in it
    keep the default (nothing to date, the whole annual quota remaining)."""

    frame: pd.DataFrame
    elapsed_share: float
    info: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()


def outlook_from_tracking(
    rows: pd.DataFrame,
    elapsed_share: float,
    info: dict[str, Any] | None = None,
    warnings: tuple[str, ...] = (),
) -> Outlook:
    """The outlook of ``allocopt track``'s rep × product rows (actual_to_date, annual_quota,
    quota_to_date, forecast_seasonal): remaining = max(forecast − actual, 0), or the remaining
    quota where the forecast cannot be measured; nothing remains once the year is over."""
    elapsed = min(1.0, float(elapsed_share))
    a = pd.to_numeric(rows["actual_to_date"]).to_numpy(dtype=float)
    y = pd.to_numeric(rows["annual_quota"]).to_numpy(dtype=float)
    q = pd.to_numeric(rows["quota_to_date"]).to_numpy(dtype=float)
    fc = pd.to_numeric(rows["forecast_seasonal"]).to_numpy(dtype=float)
    left = np.where(np.isfinite(fc), np.maximum(fc - a, 0.0), np.maximum(y - q, 0.0))
    if elapsed >= 1.0:
        left = np.zeros_like(left)
    frame = pd.DataFrame(
        {
            "rep_id": rows["rep_id"].astype(str).to_numpy(),
            "product": rows["product"].astype(str).to_numpy(),
            "actual_to_date": a,
            "expected_remaining": left,
        }
    )
    return Outlook(frame, elapsed, info, tuple(warnings))


@dataclass(frozen=True)
class SalesDraws:
    """Given sales outcomes: ``sales[d, r, p]`` for draw d, rep ``rep_ids[r]``, product
    ``products[p]`` (reps missing from it sell nothing; products missing sell nothing)."""

    sales: np.ndarray
    rep_ids: tuple[str, ...]
    products: tuple[str, ...]
    source: dict[str, Any] = field(default_factory=dict)


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
        """The files of a payout folder (name → content)."""
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
    "payout_p50",
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


def incentives_of(sc: Scenario, where: str = "manifest.json") -> Incentives:
    """The scenario's incentives section; InputError (exit 2) when it has none."""
    if sc.incentives is None:
        raise InputError(
            Problem(
                where,
                "",
                "resolved_scenario.incentives",
                "the run's scenario has no incentives section; add one (docs/incentives.md) "
                "and solve again",
            )
        )
    return sc.incentives


def _chunks(draws: int, n_r: int) -> Iterator[tuple[int, int]]:
    step = max(1, CHUNK // max(1, n_r))
    for d0 in range(0, draws, step):
        yield d0, min(step, draws - d0)


def payout_of(
    sc: Scenario,
    reps: pd.DataFrame,
    annual: pd.DataFrame,
    *,
    incentive_reps: pd.DataFrame | None = None,
    outlook: Outlook | None = None,
    sales: SalesDraws | None = None,
    draws: int = 2000,
    seed: int = 0,
    company: str = "COMPANY",
    run_dir: Path | None = None,
) -> PayoutResult:
    """Expected variable pay of a plan (see the module docstring for every formula).

    ``reps``: rep_id, team_id, region_id, role, fte (active_share optional); ``annual``: rep_id,
    product, quota (cells may be text, as read from a run folder). With ``sales`` the draws are
    those given (``draws``, ``seed`` and ``outlook`` are not used). Raises
    :class:`~allocopt.errors.InputError` (exit 2) for a scenario without incentives or
    ``draws`` < 1.
    """
    label = Path(run_dir) if run_dir is not None else Path(".")
    if sales is None and draws < 1:
        raise InputError(Problem("--draws", "", "", "must be ≥ 1", value=str(draws)))
    inc = incentives_of(sc, str(label / "manifest.json"))
    products = list(sc.products)
    w = np.array([inc.product_weights.get(p, 1.0) for p in products])
    reps = reps.assign(rep_id=reps["rep_id"].astype(str))
    reps = reps.sort_values("rep_id", kind="stable").reset_index(drop=True)
    ids = reps["rep_id"].to_numpy(dtype=object)
    ridx = {r: i for i, r in enumerate(ids)}
    pidx = {p: j for j, p in enumerate(products)}
    n_r, n_p = len(ids), len(products)
    quota = np.zeros((n_r, n_p))
    ok = annual["rep_id"].astype(str).isin(ridx) & annual["product"].astype(str).isin(pidx)
    np.add.at(
        quota,
        (
            annual.loc[ok, "rep_id"].astype(str).map(ridx).to_numpy(dtype=np.int64),
            annual.loc[ok, "product"].astype(str).map(pidx).to_numpy(dtype=np.int64),
        ),
        pd.to_numeric(annual.loc[ok, "quota"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
    )

    # sales to date and expected remaining sales per rep × product
    act = np.zeros((n_r, n_p))
    rem = quota.copy()
    elapsed = 0.0
    warnings: list[str] = []
    track_info: dict[str, Any] | None = None
    if outlook is not None and sales is None:
        f = outlook.frame
        keep = f["rep_id"].isin(ridx) & f["product"].isin(pidx)
        ri = f.loc[keep, "rep_id"].map(ridx).to_numpy(dtype=np.int64)
        pj = f.loc[keep, "product"].map(pidx).to_numpy(dtype=np.int64)
        act[ri, pj] = f.loc[keep, "actual_to_date"].to_numpy(dtype=float)
        rem[ri, pj] = f.loc[keep, "expected_remaining"].to_numpy(dtype=float)
        elapsed = min(1.0, outlook.elapsed_share)
        warnings += list(outlook.warnings)
        track_info = outlook.info

    terms = terms_of(inc, reps, incentive_reps)
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

    # the draws, in chunks of whole draws: (credited sales, revenue), each (k, R)
    sigma = inc.spread * np.sqrt(max(0.0, 1.0 - elapsed))
    rho = inc.correlation
    if sales is not None:
        given = _aligned(sales, ids, products)
        draws = given.shape[0]
        if draws < 1:
            raise InputError(Problem("sales draws", "", "", "there are no draws"))

        def outcomes() -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
            for d0, k in _chunks(draws, n_r):
                s = given[d0 : d0 + k]
                yield d0, s @ w, s.sum(axis=2)

    else:
        cred_act, cred_rem = act @ w, rem @ w
        rev_act, rev_rem = act.sum(axis=1), rem.sum(axis=1)
        rng = np.random.default_rng(seed)

        def outcomes() -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
            for d0, k in _chunks(draws, n_r):
                common = rng.standard_normal(k)
                own = rng.standard_normal((k, n_r))
                z = np.sqrt(rho) * common[:, None] + np.sqrt(1.0 - rho) * own
                mult = np.exp(sigma * z - sigma * sigma / 2.0)
                yield (
                    d0,
                    cred_act[None, :] + cred_rem[None, :] * mult,
                    rev_act[None, :] + rev_rem[None, :] * mult,
                )

    plans = {role: inc.roles[role] for role in sorted(set(terms.role) - {""})}
    members = {role: np.flatnonzero(terms.role == role) for role in plans}
    sum_pay = np.zeros(n_r)
    sum_att = np.zeros(n_r)
    at_quota = np.zeros(n_r)
    sum_rev = np.zeros(n_r)
    totals = np.zeros(draws)
    revenue_totals = np.zeros(draws)
    share_at_quota = np.zeros(draws)
    pay_draws: list[np.ndarray] = []
    measurable = credited_quota > 1e-9
    unit_keys, member = _membership(reps, company)
    unit_totals = np.zeros((draws, len(unit_keys)))
    for d0, cred, rev in outcomes():
        k = cred.shape[0]
        att = np.divide(
            cred,
            credited_quota[None, :],
            out=np.full(cred.shape, np.nan),
            where=measurable[None, :],
        )
        m = np.zeros_like(cred)
        for role, plan in plans.items():
            cols = members[role]
            m[:, cols] = multiplier(plan, att[:, cols])
        pay = base[None, :] * m
        sum_pay += pay.sum(axis=0)
        sum_att += np.nan_to_num(att).sum(axis=0)
        hit = np.nan_to_num(att, nan=-1.0) >= 1.0 - 1e-12
        at_quota += hit.sum(axis=0)
        sum_rev += rev.sum(axis=0)
        totals[d0 : d0 + k] = pay.sum(axis=1)
        unit_totals[d0 : d0 + k] = np.asarray((member.T @ pay.T).T)
        revenue_totals[d0 : d0 + k] = rev.sum(axis=1)
        share_at_quota[d0 : d0 + k] = (
            hit[:, measurable].mean(axis=1) if measurable.any() else np.nan
        )
        if n_r * draws <= CHUNK:
            pay_draws.append(pay)
    exp_pay = sum_pay / draws
    p10 = p50 = p90 = np.full(n_r, np.nan)
    if pay_draws:
        allpay = np.concatenate(pay_draws, axis=0)
        p10, p50, p90 = np.percentile(allpay, [10, 50, 90], axis=0)

    out = pd.DataFrame(
        {
            "rep_id": ids,
            "team_id": reps["team_id"].to_numpy(dtype=object),
            "region_id": reps["region_id"].fillna("").to_numpy(dtype=object),
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
            "payout_p50": p50,
            "payout_p90": p90,
        }
    )
    if sales is not None:  # no actuals/remaining split with given draws
        out = out.drop(columns=["actual_to_date", "expected_remaining"])
    out["cost_of_sales"] = np.divide(
        exp_pay,
        out["expected_revenue"].to_numpy(dtype=float),
        out=np.full(n_r, np.nan),
        where=out["expected_revenue"].to_numpy(dtype=float) > 1e-9,
    )
    units = _units(out, company)
    up = np.percentile(unit_totals, [10, 50, 90], axis=0)
    pos = {key: i for i, key in enumerate(unit_keys)}
    at = [pos[(lv, str(u))] for lv, u in zip(units["level"], units["unit_id"], strict=True)]
    where = list(units.columns).index("expected_payout") + 1
    for j, name in enumerate(("payout_p10", "payout_p50", "payout_p90")):
        units.insert(where + j, name, up[j][at])
    exp_total = float(totals.mean())
    exp_rev = float(revenue_totals.mean())
    budget = inc.budget
    summary: dict[str, Any] = {
        "run_dir": str(run_dir) if run_dir is not None else None,
        "scenario": sc.name,
        "currency": sc.plan.currency,
        "source": "sweep draws" if sales is not None else "lognormal",
        "draws": draws,
        "seed": None if sales is not None else seed,
        "spread": None if sales is not None else inc.spread,
        "spread_remaining": None if sales is not None else round(float(sigma), 6),
        "correlation": None if sales is not None else rho,
        "actuals": track_info,
        "sweep": dict(sales.source) if sales is not None else None,
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
    return PayoutResult(label, out, units, summary, totals, warnings)


def _aligned(sales: SalesDraws, ids: np.ndarray, products: list[str]) -> np.ndarray:
    """The given sales in (draw, rep in ``ids`` order, product in ``products`` order)."""
    s = np.asarray(sales.sales, dtype=float)
    if tuple(sales.rep_ids) == tuple(ids) and tuple(sales.products) == tuple(products):
        return s
    ri = {r: i for i, r in enumerate(sales.rep_ids)}
    pj = {p: j for j, p in enumerate(sales.products)}
    out = np.zeros((s.shape[0], len(ids), len(products)))
    rows = [(i, ri[r]) for i, r in enumerate(ids) if r in ri]
    cols = [(j, pj[p]) for j, p in enumerate(products) if p in pj]
    if rows and cols:
        a, b = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True))
        c, d = (np.array(x, dtype=np.int64) for x in zip(*cols, strict=True))
        out[:, a[:, None], c[None, :]] = s[:, b[:, None], d[None, :]]
    return out


def _membership(reps: pd.DataFrame, company: str) -> tuple[list[tuple[str, str]], Any]:
    """Units (company, regions, teams; sorted) and the sparse rep × unit membership matrix."""
    from scipy.sparse import csr_matrix

    keys: list[tuple[str, str]] = [("company", company)]
    rows: list[np.ndarray] = [np.arange(len(reps))]
    cols: list[np.ndarray] = [np.zeros(len(reps), dtype=np.int64)]
    for level, col in (("region", "region_id"), ("team", "team_id")):
        v = reps[col].fillna("").astype(str).to_numpy()
        names = sorted(set(v) - {""})
        idx = {n: len(keys) + i for i, n in enumerate(names)}
        keys += [(level, n) for n in names]
        r = np.flatnonzero(v != "")
        rows.append(r)
        cols.append(np.array([idx[x] for x in v[r]], dtype=np.int64))
    ri, ci = np.concatenate(rows), np.concatenate(cols)
    m = csr_matrix((np.ones(len(ri)), (ri, ci)), shape=(len(reps), len(keys)))
    return keys, m


def _units(reps: pd.DataFrame, company: str) -> pd.DataFrame:
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
