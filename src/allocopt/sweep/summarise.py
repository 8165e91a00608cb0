"""Sweep results → the files of a sweep folder; the plan stress (no solve, vectorised).

Public entry points: :func:`assemble` (solved items → ``sweep.csv``, ``quotas.parquet``,
distribution summaries) and :func:`stress_plan` (a published plan under sales shocks).

Percentiles are numpy's linear-interpolation percentiles over the items that have a plan
(optimal or stopped with a solution). Everything is computed from the items in item order, so
the bytes do not depend on the worker count.

The sales-outcome model of the plan stress is documented in ``docs/sweep.md``: rep r's sales of
product p in a draw are ``S = k_p · s_rp · (potential_rp · F_rp + Σ_a revenue_ap · G_ap)`` over
the key accounts a the plan gives to r, with F, G the draw's multipliers, s_rp the rep's share
of the selling year (ramp, start/end dates, seasonality) and ``k_p = T_p / Σ_r s_rp · base_rp``,
so that without shocks the company sells exactly its target T_p (without the over-assignment
cushion) — the same effective base the model splits the target by.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from allocopt.data.prepare import ModelData
from allocopt.outputs.runfolder import Content, RunFolder
from allocopt.results.extract import Results
from allocopt.sweep.define import Definition, check_plan
from allocopt.sweep.shocks import Selection, draw, multipliers, select

__all__ = [
    "AnnualOf",
    "assemble",
    "quota_table",
    "reason_of",
    "stress_plan",
    "with_plan",
    "write_quotas",
]

PCTS = (10, 50, 90)
SOLVED = ("optimal", "feasible", "time_limit")


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def _money(a: Any) -> Any:
    return np.round(np.asarray(a, dtype=float), 2) + 0.0


def _ratio(a: Any) -> Any:
    return np.round(np.asarray(a, dtype=float), 6) + 0.0


def _columns(rows: list[dict[str, Any]], params: list[str]) -> list[str]:
    keys = {k for r in rows for k in r}
    head = ["item", *params, "status", "gap", "objective", "total_quota"]
    groups = [
        sorted(k for k in keys if k.startswith(p))
        for p in ("term_", "fairness_", "price_", "payout_")
    ]
    tail = ["moved_accounts", "diagnosis"]
    return [k for k in [*head, *(k for g in groups for k in g), *tail] if k in keys or k in head]


_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?[kMBG%]?(?![\w.])")


def reason_of(row: dict[str, Any]) -> str:
    """Why an item was not solved, as one line that items failing for the same cause share: the
    diagnosis's first problem with its amounts written as ``…`` (two draws short of capacity
    for HW by 119.57M and 114.89M have one reason, counted twice)."""
    lines = [x for x in str(row.get("diagnosis") or row.get("status") or "").splitlines() if x]
    if not lines:
        return str(row.get("status") or "")
    key = lines[1].strip().removeprefix("- ") if len(lines) > 1 else lines[0].strip()
    return _NUMBER.sub("…", key)


def _dist(values: np.ndarray) -> dict[str, np.ndarray]:
    """p10/p50/p90, mean, min, max over axis 0 (items)."""
    p = np.percentile(values, PCTS, axis=0)
    return {
        "p10": p[0],
        "p50": p[1],
        "p90": p[2],
        "mean": values.mean(axis=0),
        "min": values.min(axis=0),
        "max": values.max(axis=0),
    }


def _membership(md: ModelData) -> tuple[pd.DataFrame, np.ndarray]:
    """Units (unit_id, level) in sorted order and the (U, R) 0/1 membership matrix."""
    units = md.units[["unit_id", "level"]].reset_index(drop=True)
    uidx = {u: i for i, u in enumerate(units["unit_id"])}
    mem = np.zeros((len(units), md.n_reps))
    ru = md.rep_units
    mem[ru["unit_id"].map(uidx).to_numpy(dtype=np.int64), ru["rep"].to_numpy(dtype=np.int64)] = 1.0
    return units, mem


def _shock_means(
    sels: list[Selection], seed: int, draws: list[int], keep: list[int] | None = None
) -> np.ndarray:
    """(D, K) mean factor of each shock (of those in ``keep``) in each draw, for the tornado;
    every draw is drawn with all its shocks, as the items were."""
    cols = keep if keep is not None else list(range(len(sels)))
    out = np.zeros((len(draws), len(cols)))
    for d, i in enumerate(draws):
        factors = draw(sels, seed, i)
        for c, k in enumerate(cols):
            out[d, c] = factors[k].mean()
    return out


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of y on each column of x, all columns together (each shock's effect
    with the others held at their mean) when there are more draws than shocks to fit, else each
    column alone. A column that does not vary has slope 0.

    Together, not alone: in a re-plan the company total follows the target shocks only, and a
    shock regressed alone picks up whatever share of them it happens to be correlated with in
    the sample (on the example's 50 draws 'capacity' showed a 0.8M swing it does not cause)."""
    d, k = x.shape
    out = np.zeros(k)
    if d < 2 or k == 0:
        return out
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    moving = np.flatnonzero(xc.var(axis=0) > 0)
    if len(moving) == 0:
        return out
    if d > len(moving) + 1:
        coef, *_ = np.linalg.lstsq(xc[:, moving], yc, rcond=None)
        out[moving] = coef
    else:
        for j in moving:
            out[j] = float(xc[:, j] @ yc / (xc[:, j] @ xc[:, j]))
    return out


def _tornado(sels: list[Selection], x: np.ndarray, y: np.ndarray, metric: str) -> pd.DataFrame:
    """Per shock: the metric predicted by least squares (:func:`_slopes`) at the shock's p10 and
    p90, the other shocks at their mean — how much that shock moves it. Sorted by the swing."""
    rows = []
    ybar = float(y.mean()) if len(y) else 0.0
    slopes = _slopes(x, y) if len(y) else np.zeros(len(sels))
    for k, sel in enumerate(sels):
        xk = x[:, k]
        slope = float(slopes[k])
        lo, hi = np.percentile(xk, [10, 90]) if len(xk) else (1.0, 1.0)
        at_lo = ybar + slope * (float(lo) - float(xk.mean() if len(xk) else 1.0))
        at_hi = ybar + slope * (float(hi) - float(xk.mean() if len(xk) else 1.0))
        rows.append(
            {
                "shock": sel.label,
                "on": sel.shock.on,
                "entities": len(sel.index),
                "factor_p10": float(lo),
                "factor_p90": float(hi),
                "metric": metric,
                "at_p10": at_lo,
                "at_p90": at_hi,
                "swing": abs(at_hi - at_lo),
            }
        )
    df = pd.DataFrame(
        rows,
        columns=[
            "shock",
            "on",
            "entities",
            "factor_p10",
            "factor_p90",
            "metric",
            "at_p10",
            "at_p90",
            "swing",
        ],
    )
    for c in ("factor_p10", "factor_p90"):
        df[c] = _ratio(df[c])
    for c in ("at_p10", "at_p90", "swing"):
        df[c] = _money(df[c]) if metric != "company_attainment" else _ratio(df[c])
    return df.sort_values(["swing", "shock"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


QUOTAS = pa.schema(
    [
        ("item", pa.string()),
        ("rep_id", pa.string()),
        ("product", pa.string()),
        ("period", pa.string()),
        ("quota", pa.float64()),
    ]
)


def quota_table(item: str, q: pd.DataFrame) -> pa.Table:
    """An item's quotas (rep_id, product, period, quota) as rows of ``quotas.parquet``."""
    keys = ("rep_id", "product", "period")
    cols = {c: pa.array(q[c].astype(str), type=pa.string()) for c in keys}
    return pa.table(
        {
            "item": pa.array(np.full(len(q), item, dtype=object), type=pa.string()),
            **cols,
            "quota": pa.array(q["quota"].to_numpy(dtype=float), type=pa.float64()),
        },
        schema=QUOTAS,
    )


def write_quotas(path: Path, tables: Iterable[pa.Table]) -> None:
    """``quotas.parquet`` from the solved items' tables, in item order, one row group per item
    (streamed: one item in memory at a time)."""
    with pq.ParquetWriter(path, QUOTAS) as w:
        for t in tables:
            w.write_table(t)


class AnnualOf:
    """An item's annual quota per (rep, product) of the base, (R, P), from its quota table;
    reps or products the base does not have are left out. Kept per item instead of the quota
    table (which goes to disk)."""

    def __init__(self, md: ModelData) -> None:
        self.reps = pd.Index(list(md.rep_ids))
        self.products = pd.Index(list(md.products))

    def __call__(self, q: pd.DataFrame) -> np.ndarray:
        ri = self.reps.get_indexer(pd.Index(q["rep_id"]))
        pi = self.products.get_indexer(pd.Index(q["product"]))
        keep = (ri >= 0) & (pi >= 0)
        out = np.zeros((len(self.reps), len(self.products)))
        np.add.at(out, (ri[keep], pi[keep]), q["quota"].to_numpy(dtype=float)[keep])
        return out


class ItemQuotas:
    """A solved item's rows of ``quotas.parquet`` (an Arrow table, :data:`QUOTAS`) and its annual
    quotas over the base's reps and products (as :class:`AnnualOf`), made in the worker. A lean
    item is read from its quota arrays, with the label columns of the base's reps, products and
    periods built once (an item with other reps gets its own); a full one from its quota frame."""

    def __init__(self, md: ModelData) -> None:
        self.annual_of = AnnualOf(md)
        self.layout = _layout(md)
        self.labels = _labels(md)

    def __call__(self, item: str, md: ModelData, res: Results) -> tuple[pa.Table, np.ndarray]:
        lean = res.lean
        if lean is None:
            q = res.quotas[["rep_id", "product", "period", "quota"]].reset_index(drop=True)
            return quota_table(item, q), self.annual_of(q)
        same = _layout(md) == self.layout
        per = lean.period
        n = per.size
        table = pa.table(
            {
                "item": pa.array([item], type=pa.string()).take(np.zeros(n, dtype=np.int64)),
                **(self.labels if same else _labels(md)),
                "quota": pa.array(per.reshape(-1), type=pa.float64()),
            },
            schema=QUOTAS,
        )
        if not same:  # other reps or products: mapped onto the base's
            return table, self.annual_of(table.select(["rep_id", "product", "quota"]).to_pandas())
        annual = np.zeros(per.shape[:2])
        for t in range(per.shape[2]):  # period by period, as AnnualOf adds the table's rows
            annual += per[:, :, t]
        return table, annual


def _layout(md: ModelData) -> tuple[tuple[str, ...], ...]:
    return (md.rep_ids, md.products, md.periods)


def _labels(md: ModelData) -> dict[str, pa.Array]:
    """The rep_id, product and period columns of a quota table in (rep, product, period) order."""
    n_p, n_t = len(md.products), len(md.periods)
    rpt = (
        np.repeat(np.asarray(md.rep_ids, dtype=object), n_p * n_t),
        np.tile(np.repeat(np.asarray(md.products, dtype=object), n_t), md.n_reps),
        np.tile(np.asarray(md.periods, dtype=object), md.n_reps * n_p),
    )
    return {
        c: pa.array(a, type=pa.string())
        for c, a in zip(("rep_id", "product", "period"), rpt, strict=True)
    }


def with_plan(ordered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items with a plan (their quotas go to quotas.parquet and the distributions)."""
    return [r for r in ordered if r["row"].get("status") in SOLVED and r.get("annual") is not None]


def assemble(
    defn: Definition, ordered: list[dict[str, Any]]
) -> tuple[dict[str, Content], dict[str, Any]]:
    """The sweep folder's files (without quotas.parquet — :func:`write_quotas` —, manifest and
    report) and a summary. Each item carries its ``annual`` (:func:`annual_of`) quotas."""
    md = defn.base.md
    rows = [r["row"] for r in ordered]
    params = [k for k, _ in defn.items[0].params] if defn.items else []
    sweep = pd.DataFrame(rows)
    sweep = sweep.reindex(columns=_columns(rows, params))
    files: dict[str, Content] = {"sweep.csv": sweep}

    ok = with_plan(ordered)
    timing_rows = [{"item": r["row"]["item"], **r.get("seconds", {})} for r in ordered]
    files["timings.csv"] = pd.DataFrame(timing_rows)

    # per-rep and per-unit distributions of the annual quota over the solved items
    pidx = {p: j for j, p in enumerate(md.products)}
    n_i, n_r, n_p = len(ok), md.n_reps, len(md.products)
    arr = np.zeros((n_i, n_r, n_p))
    for k, r in enumerate(ok):
        arr[k] = r["annual"]
    rep_rows: list[pd.DataFrame] = []
    unit_rows: list[pd.DataFrame] = []
    units, mem = _membership(md)
    if n_i:
        for label, a in [("ALL", arr.sum(axis=2)), *((p, arr[:, :, j]) for p, j in pidx.items())]:
            d = _dist(a)
            rep_rows.append(
                pd.DataFrame(
                    {
                        "rep_id": list(md.rep_ids),
                        "team_id": md.team_of,
                        "region_id": md.region_of,
                        "product": label,
                        "items": n_i,
                        **{f"quota_{k}": _money(v) for k, v in d.items()},
                    }
                )
            )
            du = _dist(a @ mem.T)
            unit_rows.append(
                pd.DataFrame(
                    {
                        "unit_id": units["unit_id"],
                        "level": units["level"],
                        "product": label,
                        "items": n_i,
                        **{f"quota_{k}": _money(v) for k, v in du.items()},
                    }
                )
            )
    rep_cols = ["rep_id", "team_id", "region_id", "product", "items"]
    dist_cols = [f"quota_{k}" for k in ("p10", "p50", "p90", "mean", "min", "max")]
    files["reps.csv"] = (
        pd.concat(rep_rows, ignore_index=True) if rep_rows else pd.DataFrame(columns=rep_cols)
    )
    files["units.csv"] = (
        pd.concat(unit_rows, ignore_index=True)
        if unit_rows
        else pd.DataFrame(columns=["unit_id", "level", "product", "items", *dist_cols])
    )

    # how often each rule binds
    counts: dict[str, list[int]] = {}
    for r in ok:
        for rule, n in r.get("binding", {}).items():
            counts.setdefault(rule, []).append(int(n))
    rules = pd.DataFrame(
        [
            {
                "rule": rule,
                "items_binding": sum(1 for n in ns if n > 0),
                "share_binding": round(sum(1 for n in ns if n > 0) / n_i, 6) if n_i else 0.0,
                "mean_rows": round(sum(ns) / n_i, 6) if n_i else 0.0,
            }
            for rule, ns in sorted(counts.items())
        ],
        columns=["rule", "items_binding", "share_binding", "mean_rows"],
    )
    files["rules.csv"] = rules

    bad = [r["row"] for r in ordered if r["row"].get("status") not in SOLVED]
    files["infeasible.csv"] = pd.DataFrame(
        [
            {
                "item": b["item"],
                **{p: b.get(p) for p in params},
                "status": b["status"],
                "reason": reason_of(b),
                "diagnosis": b.get("diagnosis", ""),
            }
            for b in bad
        ],
        columns=["item", *params, "status", "reason", "diagnosis"],
    )

    totals = sweep["total_quota"].dropna().to_numpy(dtype=float) if n_i else np.zeros(0)
    summary: dict[str, Any] = {
        "kind": defn.kind,
        "items": {
            "total": len(ordered),
            "ok": n_i,
            "infeasible": sum(1 for b in bad if b["status"] == "infeasible"),
            "failed": sum(1 for b in bad if b["status"] == "failed"),
        },
        "infeasible_share": round(len(bad) / len(ordered), 6) if ordered else 0.0,
    }
    if len(totals):
        p = np.percentile(totals, PCTS)
        summary["company_quota"] = {
            f"p{q}": round(float(v), 2) for q, v in zip(PCTS, p, strict=True)
        }
    reasons: dict[str, int] = {}
    for b in bad:
        key = reason_of(b)
        reasons[key] = reasons.get(key, 0) + 1
    summary["reasons"] = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))

    if defn.kind == "draws":
        unc = defn.base.loaded.scenario.uncertainty
        assert unc is not None
        sels = select(md, unc)
        ok_draws = [int(r["row"]["draw"]) for r in ok]
        x = _shock_means(sels, defn.seed, ok_draws)
        y = np.array([float(r["row"]["total_quota"]) for r in ok])
        files["tornado.csv"] = _tornado(sels, x, y, "company_quota")
    return files, summary


# ---- question 2: stress a fixed plan ------------------------------------------------------------


def stress_plan(defn: Definition) -> tuple[dict[str, Content], dict[str, Any]]:
    """Draw sales outcomes for the plan's quotas; attainment and the chance to reach quota."""
    plan = defn.plan
    assert plan is not None and defn.draws is not None
    check_plan(plan, defn.base)  # already checked by define(); here for direct callers
    rf = RunFolder.open(plan, "cannot stress the plan")
    manifest = rf.manifest
    md = defn.base.md
    unc = defn.base.loaded.scenario.uncertainty
    assert unc is not None
    sels = select(md, unc, defn.base.loaded.file, defn.base.loaded.locate)
    annual = rf.frame("annual.csv")
    asg = rf.frame("assignments.csv")
    ridx, pidx = md.rep_index(), {p: j for j, p in enumerate(md.products)}
    n_r, n_p = md.n_reps, len(md.products)
    quota = np.zeros((n_r, n_p))
    np.add.at(
        quota,
        (
            annual["rep_id"].map(ridx).to_numpy(dtype=np.int64),
            annual["product"].map(pidx).to_numpy(dtype=np.int64),
        ),
        annual["quota"].to_numpy(dtype=float),
    )
    aidx = {a: i for i, a in enumerate(md.ka_ids)}
    owner = np.full(len(md.ka_ids), -1, dtype=np.int64)
    for a, r in zip(asg["account_id"], asg["owner_rep"], strict=True):
        if a in aidx and r in ridx:
            owner[aidx[a]] = ridx[r]
    has = owner >= 0
    targets = manifest["resolved_scenario"]["targets"]["by_product"]
    t = np.array([float(targets.get(p, 0.0)) for p in md.products])

    def sales_base(pot: np.ndarray, rev: np.ndarray) -> np.ndarray:
        base = pot.copy()
        np.add.at(base, owner[has], rev[has])
        return base * md.sell_share

    eff0 = sales_base(md.potential, md.ka_revenue)
    tot = eff0.sum(axis=0)
    k = np.divide(t, tot, out=np.zeros_like(t), where=tot > 0)
    n_d = defn.draws
    sales = np.zeros((n_d, n_r, n_p))
    for i in range(n_d):
        m = multipliers(md, sels, draw(sels, defn.seed, i))
        sales[i] = k[None, :] * sales_base(md.potential * m.potential, md.ka_revenue * m.ka_revenue)
    q_r = quota.sum(axis=1)
    s_r = sales.sum(axis=2)  # (D, R)
    units, mem = _membership(md)
    q_u = mem @ q_r
    s_u = s_r @ mem.T  # (D, U)

    def att_table(s: np.ndarray, q: np.ndarray) -> dict[str, Any]:
        with np.errstate(divide="ignore", invalid="ignore"):
            att = np.where(q[None, :] > 0, s / q[None, :], np.nan)
        reach = np.where(q > 0, (s >= q[None, :]).mean(axis=0), np.nan)
        p = np.percentile(np.nan_to_num(att), PCTS, axis=0)
        p = np.where(q[None, :] > 0, p, np.nan)
        return {
            "quota": _money(q),
            "expected_sales": _money(s.mean(axis=0)),
            "p_reach": _ratio(reach),
            **{f"attainment_p{pc}": _ratio(p[j]) for j, pc in enumerate(PCTS)},
        }

    reps = pd.DataFrame(
        {
            "rep_id": list(md.rep_ids),
            "team_id": md.team_of,
            "region_id": md.region_of,
            **att_table(s_r, q_r),
        }
    )
    unit_df = pd.DataFrame(
        {"unit_id": units["unit_id"], "level": units["level"], **att_table(s_u, q_u)}
    )
    company_q = float(q_r.sum())
    company_s = s_r.sum(axis=1)
    in_plan = q_r > 0
    sweep = pd.DataFrame(
        {
            "item": [f"item-{i:04d}" for i in range(n_d)],
            "draw": np.arange(n_d),
            "status": "ok",
            "company_sales": _money(company_s),
            "company_quota": round(company_q, 2),
            "company_attainment": _ratio(company_s / company_q if company_q else company_s * 0),
            "reps_reaching": _ratio(
                (s_r[:, in_plan] >= q_r[None, in_plan]).mean(axis=1) if in_plan.any() else 0.0
            ),
        }
    )
    keep = [k for k, s in enumerate(sels) if s.shock.on in ("potential", "key_account_revenue")]
    moving = [sels[k] for k in keep]
    x = _shock_means(sels, defn.seed, list(range(n_d)), keep)
    att = company_s / company_q if company_q else company_s * 0
    files: dict[str, Content] = {
        "sweep.csv": sweep,
        "attainment_reps.csv": reps,
        "attainment_units.csv": unit_df,
        "tornado.csv": _tornado(moving, x, att, "company_attainment"),
    }
    p = np.percentile(att, PCTS)
    summary = {
        "kind": "plan",
        "plan": str(plan),
        "items": {"total": n_d, "ok": n_d, "infeasible": 0, "failed": 0},
        "infeasible_share": 0.0,
        "company_quota": round(company_q, 2),
        "company_p_reach": round(float((company_s >= company_q).mean()), 6),
        "company_attainment": {f"p{q}": round(float(v), 6) for q, v in zip(PCTS, p, strict=True)},
        "reps_p_reach_mean": round(float(np.nanmean(reps["p_reach"])), 6)
        if in_plan.any()
        else None,
        "sales_model": "S = k_p · sell_share · (potential · F + owned key-account revenue · G), "
        "k_p = target_p / Σ effective base (docs/sweep.md)",
        "ignored_shocks": sorted({s.label for s in sels if s.shock.on in ("capacity", "target")}),
    }
    _stress_payout(defn, plan, sales, files, summary)
    return files, summary


SALES_DRAWS_MAX = 5_000_000  # draws × reps × products kept in sales_draws.parquet


def _stress_payout(
    defn: Definition,
    plan: Any,
    sales: np.ndarray,
    files: dict[str, Content],
    summary: dict[str, Any],
) -> None:
    """The plan's variable pay over the same draws (when the plan's scenario, or the sweep's,
    has ``incentives:``): payout_reps.csv, payout_units.csv, sweep.csv's company_payout, the
    summary's ``payout``; and the draws' sales (sales_draws.parquet) for ``allocopt payout RUN
    --sweep DIR``."""
    from allocopt.compose import SALES_DRAWS
    from allocopt.outputs.plan_tables import payout_tables
    from allocopt.results.payout import SalesDraws, payout_of

    md = defn.base.md
    sales = _money(sales)  # priced as kept: `allocopt payout --sweep` gives the same numbers
    n_d, n_r, n_p = sales.shape
    summary["sales_draws_kept"] = n_d * n_r * n_p <= SALES_DRAWS_MAX
    if summary["sales_draws_kept"]:
        files[SALES_DRAWS] = _parquet(
            pd.DataFrame(
                {
                    "draw": np.repeat(np.arange(n_d), n_r * n_p),
                    "rep_id": np.tile(np.repeat(np.asarray(md.rep_ids, dtype=object), n_p), n_d),
                    "product": np.tile(np.asarray(md.products, dtype=object), n_d * n_r),
                    "sales": sales.reshape(-1),
                }
            )
        )
    fallback = defn.base.loaded.scenario.incentives
    if (RunFolder.open(plan, "cannot stress the plan").manifest["resolved_scenario"] or {}).get(
        "incentives"
    ) is None and fallback is None:
        summary["payout"] = None
        return
    t = payout_tables(plan, fallback)
    src = {"plan": str(plan), "seed": defn.seed, "draws": n_d}
    given = SalesDraws(sales, tuple(md.rep_ids), tuple(md.products), src)
    res = payout_of(t.scenario, t.reps, t.annual, sales=given, **t.kwargs())
    out = res.files()
    files["payout_reps.csv"] = out["payout_reps.csv"]
    files["payout_units.csv"] = out["payout_units.csv"]
    sweep = files["sweep.csv"]
    assert isinstance(sweep, pd.DataFrame)
    budget = res.summary["budget"]
    extra = {"company_payout": _money(res.totals)}
    if budget is not None:
        extra["over_budget"] = res.totals > budget + 1e-9
    files["sweep.csv"] = sweep.assign(**extra)
    keys = (
        "currency",
        "expected_payout",
        "payout_p10",
        "payout_p50",
        "payout_p90",
        "budget",
        "p_over_budget",
        "expected_revenue",
        "cost_of_sales",
        "expected_share_at_or_above_quota",
        "by_role",
        "by_region",
    )
    summary["payout"] = {k: res.summary[k] for k in keys}
