"""A self-contained HTML report of a run folder (and optionally of a track folder).

Public entry point: :func:`write_report`. The report is one ``report.html`` file that loads
nothing from the network: charts are PNG images made with matplotlib's Agg renderer and embedded
as base64 ``data:`` URIs, the CSS is inline, and no fonts or scripts are referenced. The same run
folder gives the same bytes (no timestamps; PNG metadata stripped).

Sections: headline numbers, quota vs effective base by team, difficulty against the fairness band,
roll-ups by region × product, key-account moves, seasonality phasing, attainment (with a track
folder) and, for a re-plan, old vs new quota per rep (:func:`_old_vs_new`).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from allocopt.errors import InputError, OutputError, Problem
from allocopt.outputs.numbers import short_money
from allocopt.outputs.runfolder import read_text_frame

__all__ = ["SECTIONS", "write_report"]

SECTIONS = {
    "headline": "Headline numbers",
    "teams": "Quota vs effective base by team",
    "difficulty": "Difficulty and the fairness band",
    "rollups": "Roll-ups by region and product",
    "moves": "Key-account moves",
    "phasing": "Seasonality phasing",
    "attainment": "Attainment to date",
    "replan": "Re-plan: old vs new quota per rep",
    "incentives": "Expected variable pay (incentive plans)",
    "evaluation": "Year-end evaluation",
}

MAX_BARS = 40  # teams / groups shown in a chart
MAX_ROWS = 200  # rows shown in a table
MAX_POINTS = 2000  # reps drawn one by one in a scatter; more are binned on a grid
GRID = 60  # cells per axis of a binned scatter
REPORT_DRAWS = 1000  # Monte Carlo draws of the expected-payout section
PALETTE = ["#2f6690", "#d9843b", "#3a7d44", "#9b5094", "#c44536", "#7a7a7a", "#1b998b", "#b08d57"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#222;margin:0;background:#fafafa;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}
h2{font-size:1.25em;margin:36px 0 8px;padding-bottom:4px;border-bottom:2px solid #2f6690}
p.meta{color:#555;margin:0 0 16px}
p.note{color:#555;font-size:.92em}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.92em}
th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f0f3f6;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;border-top:2px solid #999}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:150px}
.kpi b{display:block;font-size:1.3em}
.kpi span{color:#555;font-size:.85em}
.ok{color:#3a7d44}.bad{color:#c44536}
img{max-width:100%;height:auto;display:block;margin:8px 0}
""".strip()


# --- helpers --------------------------------------------------------------------------------


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: Any, digits: int = 0) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _esc(x)
    if not math.isfinite(v):
        return "–"
    return f"{v:,.{digits}f}"


def _pct(x: Any, digits: int = 1) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return f"{v:.{digits}%}" if math.isfinite(v) else "–"


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    numeric: Sequence[bool] | None = None,
    total: Sequence[Any] | None = None,
) -> str:
    """An HTML table; cells are escaped; ``numeric`` columns are right-aligned."""
    num = list(numeric or [False] * len(header))
    out = ["<table><thead><tr>"]
    out += [
        f"<th{' class=n' if n else ''}>{_esc(h)}</th>" for h, n in zip(header, num, strict=True)
    ]
    out.append("</tr></thead><tbody>")
    body = [*([(r, "") for r in rows]), *([(total, ' class="total"')] if total else [])]
    for r, cls in body:
        out.append(f"<tr{cls}>")
        out += [f"<td{' class=n' if n else ''}>{_esc(c)}</td>" for c, n in zip(r, num, strict=True)]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _png(fig: Figure, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _figure(width: float = 10.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height))
    fig.set_facecolor("white")
    return fig


def _money_axis(ax: Any) -> None:
    ax.yaxis.set_major_formatter(_money_formatter())
    ax.grid(axis="y", color="#e5e5e5")
    ax.set_axisbelow(True)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)


def _money_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: short_money(v))


def _read_csv(path: Path, required: bool = True) -> pd.DataFrame | None:
    if not path.is_file():
        if required:
            raise InputError(
                Problem(str(path), "", "", "file is missing; the folder is incomplete")
            )
        return None
    return read_text_frame(path)


def _numbers(df: pd.DataFrame, cols: Iterable[str]) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        if c in out:
            out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(Problem(str(path), "", "", "file is missing; the folder is incomplete"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(Problem(str(path), "", "", f"cannot be read as JSON: {exc}")) from None
    return data if isinstance(data, dict) else {}


def _section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{_esc(SECTIONS[key])}</h2>{body}</section>'


# --- sections -------------------------------------------------------------------------------


def _headline(summary: dict[str, Any], manifest: dict[str, Any], currency: str) -> str:
    sc = manifest.get("resolved_scenario", {})
    targets = (sc.get("targets") or {}).get("by_product", {})
    cushion = float((sc.get("targets") or {}).get("over_assignment", 0.0) or 0.0)
    totals = summary.get("totals", {})
    rows = []
    sums = np.zeros(4)
    for p in sc.get("products") or list(totals):
        t = totals.get(p, {})
        tgt = float(targets.get(p, math.nan))
        twc = float(t.get("target", math.nan))
        q = float(t.get("quota", math.nan))
        rows.append(
            [
                p,
                _num(tgt),
                _num(twc),
                _num(q),
                _num(q - twc),
                _pct(q / tgt - 1 if tgt else math.nan),
            ]
        )
        sums += np.nan_to_num([tgt, twc, q, q - twc])
    total = [
        "Total",
        *(_num(v) for v in sums),
        _pct(sums[2] / sums[0] - 1 if sums[0] else math.nan),
    ]
    status = str(summary.get("status", manifest.get("status", "?")))
    gap = summary.get("gap", manifest.get("gap"))
    fair = summary.get("fairness") or {}
    ka = summary.get("key_accounts") or {}
    kpis = [
        (status, "solver status", "ok" if status == "optimal" else "bad"),
        (_pct(gap, 2) if gap is not None else "–", _gap_label(manifest, gap), ""),
        (_num(sums[2]), f"total quota ({currency})", ""),
        (_pct(cushion), "over-assignment cushion", ""),
        (f"{ka.get('moved', 0):,} / {ka.get('count', 0):,}", "key accounts moved", ""),
    ]
    if fair:
        kpis.append((f"{fair.get('max_group_spread', math.nan):.3f}", "max difficulty spread", ""))
    k = "".join(
        f'<div class="kpi"><b class="{c}">{_esc(v)}</b><span>{_esc(lab)}</span></div>'
        for v, lab, c in kpis
    )
    tab = _table(
        [
            "product",
            "target",
            "target with cushion",
            "quota",
            "quota − target w/ cushion",
            "quota vs target",
        ],
        rows,
        [False, True, True, True, True, True],
        total,
    )
    warn = "".join(
        f'<p class="note bad">warning: {_esc(w)}</p>' for w in summary.get("warnings") or []
    )
    return _section(
        "headline", f'<div class="kpis">{k}</div>{_status_note(status, manifest)}{tab}{warn}'
    )


def _gap_label(manifest: dict[str, Any], gap: Any) -> str:
    """What the headline gap is against: the Lagrangian integer bound of the blocks or the LP
    relaxation's bound (a plan from blocks or the rounded LP optimum), else the MIP's own."""
    q = (manifest.get("stages") or {}).get("quotas") or {}
    if gap is None or q.get("gap") != gap:
        return "MIP gap"
    if q.get("gap_against_lp"):
        return "gap against the LP relaxation's bound"
    if q.get("bound_method") == "lagrangian":
        return "gap against the Lagrangian bound of the blocks"
    return "MIP gap"


def _status_note(status: str, manifest: dict[str, Any]) -> str:
    """A plan not proven optimal: what stopped it (the stages' messages) and what to do."""
    if status == "optimal":
        return ""
    stages = manifest.get("stages") or {}
    said = " ".join(
        f"{name}: {st.get('message')}."
        for name, st in sorted(stages.items())
        if isinstance(st, dict) and st.get("status") != "optimal" and st.get("message")
    )
    limit = ((manifest.get("resolved_scenario") or {}).get("solver") or {}).get("time_limit")
    todo = {
        "time_limit": f"The solve stopped at solver.time_limit ({limit:g} s): the plan is "
        "feasible (allocopt verify re-checks every rule) but not proven within solver.mip_gap; "
        "solve again with a larger solver.time_limit for a smaller gap."
        if isinstance(limit, int | float)
        else "The solve stopped at solver.time_limit: the plan is feasible but not proven "
        "within solver.mip_gap.",
        "feasible": "The plan is feasible, but its gap is above solver.mip_gap.",
    }.get(status, "")
    text = " ".join(t for t in (todo, said) if t)
    return f'<p class="note bad">{_esc(text)}</p>' if text else ""


def _teams(reps: pd.DataFrame, currency: str) -> str:
    g = reps.groupby("team_id", sort=True)[["quota", "eff_base"]].sum()
    g["difficulty"] = g["quota"] / g["eff_base"].where(g["eff_base"] > 0)
    note = ""
    shown = g
    if len(g) > MAX_BARS:
        shown = g.sort_values("quota", ascending=False, kind="stable").head(MAX_BARS).sort_index()
        note = f'<p class="note">The {MAX_BARS} largest of {len(g):,} teams by quota.</p>'
    fig = _figure(10, 4.2)
    ax = fig.add_subplot()
    x = np.arange(len(shown))
    w = 0.4
    ax.bar(x - w / 2, shown["eff_base"], w, label="effective base", color="#b8c9d9")
    ax.bar(x + w / 2, shown["quota"], w, label="quota", color=PALETTE[0])
    ax.set_xticks(
        x,
        [str(t) for t in shown.index],
        rotation=45 if len(shown) > 12 else 0,
        ha="right" if len(shown) > 12 else "center",
    )
    ax.set_ylabel(currency)
    ax.set_title("Quota vs effective base by team")
    _money_axis(ax)
    ax.legend(frameon=False)
    rows = [
        [
            t,
            _num(r.eff_base),
            _num(r.quota),
            _num(r.difficulty, 3),
        ]
        for t, r in zip(shown.index, shown.itertuples(index=False), strict=True)
    ]
    tab = _table(
        ["team", "effective base", "quota", "difficulty (quota ÷ base)"],
        rows,
        [False, True, True, True],
    )
    return _section("teams", _png(fig, "quota vs effective base by team") + note + tab)


def _difficulty(reps: pd.DataFrame, band: float | None, level: str, fair: dict[str, Any]) -> str:
    d = reps.dropna(subset=["difficulty"])
    if not len(d):
        return _section("difficulty", '<p class="note">No rep has a positive effective base.</p>')
    vs = d["vs_group"].to_numpy(dtype=float) if "vs_group" in d else np.zeros(len(d))
    fig = _figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    finite = vs[np.isfinite(vs)]
    lim = max(band or 0.0, float(np.abs(finite).max()) if len(finite) else 0.0, 0.01) * 110
    ax1.hist(finite * 100, bins=np.linspace(-lim, lim, 45), color=PALETTE[0], edgecolor="white")
    ax1.set_xlabel(f"difficulty vs {level} level (%)")
    ax1.set_ylabel("reps")
    ax1.set_title("Rep difficulty relative to its group")
    if band is not None:
        for i, b in enumerate((-band, band)):
            ax1.axvline(
                b * 100,
                color=PALETTE[4],
                linestyle="--",
                linewidth=1.5,
                label=f"fairness band ±{band:.0%}" if i == 0 else None,
            )
        ax1.legend(frameon=False, loc="upper left")
    for s in ("top", "right"):
        ax1.spines[s].set_visible(False)
    grp = (
        d.assign(vs=vs)
        .groupby("group", sort=True)
        .agg(
            reps=("rep_id", "size"),
            level=("group_level", "first"),
            dmin=("difficulty", "min"),
            dmax=("difficulty", "max"),
            vmin=("vs", "min"),
            vmax=("vs", "max"),
        )
    )
    grp["spread"] = grp["dmax"] - grp["dmin"]
    grp["maxabs"] = np.maximum(grp["vmin"].abs(), grp["vmax"].abs())
    shown = grp.sort_values("spread", ascending=False, kind="stable").head(MAX_BARS)
    shown = shown.sort_index()
    y = np.arange(len(shown))
    ax2.hlines(y, shown["vmin"] * 100, shown["vmax"] * 100, color=PALETTE[0], linewidth=4)
    ax2.plot(np.zeros(len(shown)), y, "|", color="#222", markersize=10)
    if band is not None:
        ax2.axvspan(-band * 100, band * 100, color="#3a7d44", alpha=0.08, label=f"band ±{band:.0%}")
        for b in (-band, band):
            ax2.axvline(b * 100, color=PALETTE[4], linestyle="--", linewidth=1.2)
        ax2.legend(frameon=False, loc="lower right")
    ax2.set_yticks(y, [str(g) for g in shown.index])
    ax2.invert_yaxis()
    ax2.set_xlabel("difficulty range within the group vs its level (%)")
    ax2.set_title(f"Spread per {level} group")
    for s in ("top", "right"):
        ax2.spines[s].set_visible(False)
    note = ""
    if len(grp) > MAX_BARS:
        note = f'<p class="note">Chart: the {MAX_BARS} widest of {len(grp):,} groups.</p>'
    stats = ""
    if fair:
        stats = (
            f'<p class="note">Difficulty = quota ÷ effective base. Range '
            f"{fair.get('difficulty_min', math.nan):.3f}–"
            f"{fair.get('difficulty_max', math.nan):.3f}, "
            f"Gini {fair.get('difficulty_gini', math.nan):.3f}, largest deviation from the group "
            f"level {_pct(fair.get('max_abs_vs_group'))}"
            + (f" (band ±{band:.0%})" if band is not None else " (no band)")
            + ".</p>"
        )
    top = grp.sort_values("spread", ascending=False, kind="stable").head(20)
    rows = [
        [
            g,
            f"{r.reps:,}",
            f"{r.level:.3f}",
            f"{r.dmin:.3f}",
            f"{r.dmax:.3f}",
            f"{r.spread:.3f}",
            _pct(r.maxabs),
        ]
        for g, r in zip(top.index, top.itertuples(index=False), strict=True)
    ]
    tab = _table(
        ["group", "reps", "level", "min", "max", "spread", "max |vs level|"],
        rows,
        [False, True, True, True, True, True, True],
    )
    cap = (
        f'<p class="note">Groups by spread (widest first{", top 20" if len(grp) > 20 else ""}).</p>'
    )
    return _section("difficulty", _png(fig, "difficulty distribution") + stats + note + cap + tab)


def _rollups(rollups: pd.DataFrame, products: list[str], currency: str) -> str:
    fy = rollups[(rollups["period"] == "FY") & (rollups["level"] == "region")]
    if not len(fy):
        fy = rollups[(rollups["period"] == "FY") & (rollups["level"] == "company")]
    piv = fy.pivot_table(index="unit_id", columns="product", values="quota", aggfunc="sum")
    cols = [p for p in products if p in piv.columns] + [p for p in piv.columns if p not in products]
    piv = piv.reindex(columns=cols).fillna(0.0).sort_index()
    bars = _largest_and_other(piv, MAX_BARS, "regions")
    fig = _figure(9, 4)
    ax = fig.add_subplot()
    bottom = np.zeros(len(bars))
    for i, p in enumerate(cols):
        ax.bar(
            [str(u) for u in bars.index],
            bars[p],
            bottom=bottom,
            label=str(p),
            color=PALETTE[i % len(PALETTE)],
        )
        bottom += bars[p].to_numpy()
    if len(bars) < len(piv):  # MAX_BARS labels, one of them long
        ax.tick_params(axis="x", labelrotation=90)
    ax.set_ylabel(currency)
    ax.set_title("Annual quota by region and product")
    _money_axis(ax)
    ax.legend(frameon=False, ncols=min(len(cols), 6))
    shown = _largest_and_other(piv, MAX_ROWS, "regions")
    rows = [
        [u, *(_num(v) for v in r), _num(r.sum())]
        for u, r in zip(shown.index, shown.to_numpy(), strict=True)
    ]
    total = ["Total", *(_num(v) for v in piv.sum(axis=0)), _num(piv.to_numpy().sum())]
    tab = _table(["region", *cols, "total"], rows, [False, *([True] * (len(cols) + 1))], total)
    note = ""
    if len(bars) < len(piv):
        note = (
            f'<p class="note">Chart: the {len(bars) - 1} largest of {len(piv):,} regions by '
            "quota, the others summed in one bar"
            + (f"; table: the {len(shown) - 1} largest." if len(shown) < len(piv) else ".")
            + "</p>"
        )
    return _section("rollups", tab + _png(fig, "quota by region and product") + note)


def _largest_and_other(piv: pd.DataFrame, limit: int, what: str) -> pd.DataFrame:
    """``piv`` itself when it has at most ``limit`` rows; else its ``limit - 1`` largest rows
    by row total (in their order) and one row summing the rest, labelled ``other (N what)``.
    A chart or table of a 100,000-rep plan thus stays ``limit`` bars or rows."""
    if len(piv) <= limit:
        return piv
    total = piv.sum(axis=1)
    order = np.argsort(-total.to_numpy(), kind="stable")
    keep = np.sort(order[: limit - 1])
    rest = np.sort(order[limit - 1 :])
    top = piv.iloc[keep]
    other = piv.iloc[rest].sum(axis=0).to_frame(f"other ({len(rest):,} {what})").T
    return pd.concat([top, other])


def _moves(asg: pd.DataFrame | None, currency: str) -> str:
    if asg is None or not len(asg):
        return _section("moves", '<p class="note">The plan has no key accounts.</p>')
    moved = asg[asg["moved"].str.lower().isin(("true", "1", "yes"))]
    n = asg["account_id"].nunique()
    head = (
        f"<p><b>{moved['account_id'].nunique():,}</b> of {n:,} key accounts moved away from "
        "their incumbent.</p>"
    )
    if not len(moved):
        return _section("moves", head)
    m = _numbers(moved, ["revenue", "move_cost", "pair_cost"]).sort_values(
        ["revenue", "account_id"], ascending=[False, True], kind="stable"
    )
    rows = [
        [
            r.account_id,
            r.incumbent_rep or "–",
            r.owner_rep,
            _num(r.revenue),
            _num(getattr(r, "move_cost", math.nan)),
        ]
        for r in m.head(MAX_ROWS).itertuples(index=False)
    ]
    note = f'<p class="note">The {MAX_ROWS} largest by revenue.</p>' if len(m) > MAX_ROWS else ""
    tab = _table(
        ["account", "incumbent", "new owner", f"revenue ({currency})", "move cost"],
        rows,
        [False, False, False, True, True],
    )
    return _section("moves", head + tab + note)


def _phasing(rollups: pd.DataFrame, products: list[str], currency: str) -> str:
    co = rollups[(rollups["level"] == "company") & (rollups["period"] != "FY")]
    piv = co.pivot_table(index="period", columns="product", values="quota", aggfunc="sum")
    piv = piv.sort_index()
    cols = [p for p in products if p in piv.columns] + [p for p in piv.columns if p not in products]
    piv = piv.reindex(columns=cols).fillna(0.0)
    fig = _figure(9, 3.8)
    ax = fig.add_subplot()
    for i, p in enumerate(cols):
        ax.plot(
            [str(t) for t in piv.index],
            piv[p],
            marker="o",
            label=str(p),
            color=PALETTE[i % len(PALETTE)],
        )
    ax.set_ylabel(currency)
    ax.set_ylim(bottom=0)
    ax.set_title("Company quota per period and product")
    _money_axis(ax)
    ax.legend(frameon=False, ncols=min(len(cols), 6))
    rows = [
        [t, *(_num(v) for v in r), _num(r.sum())]
        for t, r in zip(piv.index, piv.to_numpy(), strict=True)
    ]
    total = ["FY", *(_num(v) for v in piv.sum(axis=0)), _num(piv.to_numpy().sum())]
    tab = _table(["period", *cols, "total"], rows, [False, *([True] * (len(cols) + 1))], total)
    return _section("phasing", _png(fig, "company quota per period and product") + tab)


def _attainment(track_dir: Path, currency: str) -> str:
    summary = _read_json(track_dir / "summary.json")
    reps = _read_csv(track_dir / "attainment_reps.csv")
    units = _read_csv(track_dir / "attainment_units.csv")
    risk = _read_csv(track_dir / "at_risk.csv")
    assert reps is not None and units is not None and risk is not None
    money = [
        "annual_quota",
        "quota_to_date",
        "actual_to_date",
        "pacing",
        "forecast_seasonal",
        "gap",
        "forecast_run_rate",
    ]
    ratios = ["attainment", "forecast_attainment", "forecast_run_rate_attainment"]
    reps = _numbers(reps, money + ratios)
    units = _numbers(units, money + ratios)
    risk = _numbers(risk, money + ratios)
    threshold = float(summary.get("threshold", 0.9))
    att = reps.loc[reps["product"] == "ALL", "attainment"].to_numpy(dtype=float)
    att = att[np.isfinite(att)]
    fig = _figure(9, 3.8)
    ax = fig.add_subplot()
    ax.hist(att * 100, bins=30, color=PALETTE[0], edgecolor="white")
    ax.axvline(100, color="#222", linewidth=1.2, label="100%")
    ax.axvline(
        threshold * 100,
        color=PALETTE[4],
        linestyle="--",
        linewidth=1.5,
        label=f"at-risk threshold {threshold:.0%}",
    )
    ax.set_xlabel("attainment to date (%)")
    ax.set_ylabel("reps")
    ax.set_title(f"Rep attainment as of {summary.get('as_of', '?')}")
    ax.legend(frameon=False)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    dist = summary.get("distribution") or {}
    cur = summary.get("current_period")
    meta = (
        f"<p>As of <b>{_esc(summary.get('as_of', '?'))}</b>: closed periods "
        f"{_esc(', '.join(summary.get('closed_periods') or []) or 'none')}"
        + (f", current {_esc(cur['period'])} ({_pct(cur['elapsed'])} elapsed)" if cur else "")
        + f"; {_pct(summary.get('elapsed_share'))} of the year elapsed. "
        f"{dist.get('count', 0):,} reps measured: mean {_pct(dist.get('mean'))}, median "
        f"{_pct(dist.get('median'))}, p10 {_pct(dist.get('p10'))}, p90 {_pct(dist.get('p90'))}, "
        f"{_pct(dist.get('share_at_or_above_100'))} at or above 100%.</p>"
    )
    sel = units[(units["product"] == "ALL") & units["level"].isin(("company", "region"))]
    urows = [
        [
            r.level,
            r.unit_id,
            _num(r.quota_to_date),
            _num(r.actual_to_date),
            _pct(r.attainment),
            _num(r.pacing),
            _num(r.forecast_seasonal),
            _pct(r.forecast_attainment),
        ]
        for r in sel.itertuples(index=False)
    ]
    utab = _table(
        [
            "level",
            "unit",
            "quota to date",
            "actual to date",
            "attainment",
            "pacing",
            "forecast (seasonal)",
            "forecast attainment",
        ],
        urows,
        [False, False, True, True, True, True, True, True],
    )
    rrows = [
        [
            r.rep_id,
            r.team_id,
            _num(r.quota_to_date),
            _num(r.actual_to_date),
            _pct(r.attainment),
            _num(r.annual_quota),
            _num(r.forecast_seasonal),
            _pct(r.forecast_attainment),
            _num(r.gap),
            str(getattr(r, "at_risk_products", "")).replace(";", ", "),
        ]
        for r in risk.head(MAX_ROWS).itertuples(index=False)
    ]
    rtab = (
        _table(
            [
                "rep",
                "team",
                "quota to date",
                "actual to date",
                "attainment",
                "annual quota",
                "forecast (seasonal)",
                "forecast attainment",
                "gap",
                "products at risk",
            ],
            rrows,
            [False, False, True, True, True, True, True, True, True, False],
        )
        if len(risk)
        else '<p class="note">No rep is at risk.</p>'
    )
    head = (
        f"<h3>At-risk reps ({len(risk):,}; seasonality-adjusted forecast attainment below "
        f"{threshold:.0%}, largest gap first)</h3>"
    )
    return _section(
        "attainment",
        meta
        + _png(fig, "attainment distribution")
        + "<h3>Company and regions</h3>"
        + utab
        + head
        + rtab,
    )


def _old_vs_new(run_dir: Path, manifest: dict[str, Any]) -> pd.DataFrame | None:
    """Old vs new annual quota per rep for a re-plan, or None when the run is not one.

    The previous plan is ``RUN_DIR/previous/annual.csv`` or, when the manifest records
    ``replan_of`` (a run folder, absolute or relative to RUN_DIR), that folder's ``annual.csv``.
    Columns: rep_id, old, new, change, change_pct (reps present in only one plan count 0 there).
    """
    candidates = [run_dir / "previous" / "annual.csv"]
    pub = (manifest.get("inputs") or {}).get("published")
    if isinstance(pub, dict) and pub.get("rel_path"):  # portable: relative to the run folder
        candidates.append(run_dir / str(pub["rel_path"]) / "annual.csv")
    ref = manifest.get("replan_of")
    if isinstance(ref, dict):
        ref = ref.get("run_dir") or ref.get("path")
    if isinstance(ref, str) and ref:
        p = Path(ref)
        candidates.append((p if p.is_absolute() else run_dir / p) / "annual.csv")
    prev = next((c for c in candidates if c.is_file()), None)
    cur_path = run_dir / "annual.csv"
    if prev is None or not cur_path.is_file():
        return None
    old = _numbers(read_text_frame(prev), ["quota"])
    new = _numbers(read_text_frame(cur_path), ["quota"])
    if "quota" not in old or "rep_id" not in old:
        return None
    o = old.groupby("rep_id")["quota"].sum().rename("old")
    n = new.groupby("rep_id")["quota"].sum().rename("new")
    df = pd.concat([o, n], axis=1).fillna(0.0).sort_index()
    df["change"] = df["new"] - df["old"]
    df["change_pct"] = df["change"] / df["old"].where(df["old"] > 0)
    return df.reset_index(names="rep_id")


def _replan(df: pd.DataFrame, currency: str) -> str:
    d = df.assign(abs_change=df["change"].abs()).sort_values(
        ["abs_change", "rep_id"], ascending=[False, True], kind="stable"
    )
    changed = int((d["abs_change"] > 0.5).sum())
    rows = [
        [r.rep_id, _num(r.old), _num(r.new), _num(r.change), _pct(r.change_pct)]
        for r in d.head(MAX_ROWS).itertuples(index=False)
    ]
    head = (
        f"<p>{changed:,} of {len(d):,} reps have a changed annual quota; total "
        f"{_num(d['old'].sum())} → {_num(d['new'].sum())} {_esc(currency)}"
        + (f"; below, the {MAX_ROWS} largest changes" if len(d) > MAX_ROWS else "")
        + ".</p>"
    )
    tab = _table(
        ["rep", "old quota", "new quota", "change", "change %"],
        rows,
        [False, True, True, True, True],
    )
    return _section("replan", head + tab)


def _incentives(run_dir: Path, currency: str) -> str:
    """Expected payout of the plan (no actuals: sales = quota × a mean-one lognormal spread)."""
    from allocopt.errors import AllocoptError
    from allocopt.outputs.plan_tables import payout_tables
    from allocopt.results.payout import payout_of

    try:
        t = payout_tables(run_dir)
        res = payout_of(t.scenario, t.reps, t.annual, draws=REPORT_DRAWS, seed=0, **t.kwargs())
    except AllocoptError as exc:
        return _section("incentives", f'<p class="note">Not computed: {_esc(exc.render())}</p>')
    s = res.summary
    budget = s.get("budget")
    kpis = [
        (_num(s["expected_payout"]), f"expected payout ({currency})"),
        (
            f"{_num(s['payout_p10'])} – {_num(s['payout_p90'])}",
            "p10 – p90 of the company payout",
        ),
        (_pct(s["cost_of_sales"], 2), "cost of sales (payout ÷ revenue)"),
        (_pct(s["expected_share_at_or_above_quota"]), "reps expected at or above quota"),
    ]
    if budget is not None:
        kpis.append((_pct(s["p_over_budget"]), f"chance of exceeding the budget {_num(budget)}"))
    k = "".join(f'<div class="kpi"><b>{_esc(v)}</b><span>{_esc(t)}</span></div>' for v, t in kpis)
    fig = _figure(9, 3.4)
    ax = fig.add_subplot()
    ax.hist(res.totals, bins=40, color=PALETTE[2], edgecolor="white")
    if budget is not None:
        ax.axvline(budget, color=PALETTE[4], linestyle="--", linewidth=1.5, label="budget")
        ax.legend(frameon=False)
    ax.xaxis.set_major_formatter(_money_formatter())
    ax.set_xlabel(f"company variable pay ({currency})")
    ax.set_ylabel("draws")
    u = res.units[res.units["level"] != "team"]
    tab = _table(
        ["unit", "reps", "quota", "expected payout", "cost of sales", "at/above quota"],
        [
            (
                f"{r['level']} {r['unit_id']}",
                f"{int(r['reps']):,}",
                _num(r["quota"]),
                _num(r["expected_payout"]),
                _pct(r["cost_of_sales"], 2),
                _pct(r["share_at_or_above_quota"]),
            )
            for r in u.to_dict("records")
        ],
        [False, True, True, True, True, True],
    )
    note = (
        f'<p class="note">No actuals: each rep sells its quota times a mean-one lognormal '
        f"multiplier (σ = {s['spread']:g}, market-wide share of variance {s['correlation']:g}); "
        f"{s['draws']:,} draws, seed {s['seed']}. <code>allocopt payout RUN --actuals F</code> "
        "prices the plan against sales to date (docs/incentives.md).</p>"
    )
    return _section(
        "incentives",
        f'<div class="kpis">{k}</div>' + _png(fig, "company payout distribution") + tab + note,
    )


_CAT_COLOURS = {
    "set_up_to_fail": PALETTE[4],
    "under_performer": PALETTE[1],
    "near_quota": PALETTE[5],
    "at_or_above_quota": PALETTE[2],
}


def _evaluation(eval_dir: Path, currency: str) -> str:
    """Section of a folder written by ``allocopt evaluate``: attainment, accuracy, difficulty."""
    summary = _read_json(eval_dir / "summary.json")
    reps = _read_csv(eval_dir / "evaluation_reps.csv")
    teams = _read_csv(eval_dir / "evaluation_teams.csv")
    assert reps is not None and teams is not None
    reps = _numbers(reps, ["attainment", "difficulty", "factor", "annual_quota", "actual_to_date"])
    teams = _numbers(teams, ["attainment", "rmse_vs_100", "median", "difficulty_rank_corr"])
    comp = summary.get("company") or {}
    dva = summary.get("difficulty_vs_attainment") or {}
    cats = summary.get("categories") or {}
    kpis = [
        (_pct(comp.get("attainment")), "company attainment"),
        (_pct(comp.get("share_at_or_above_100")), "reps at or above quota"),
        (_pct(comp.get("rmse_vs_100")), "quota accuracy: RMSE of attainment around 100%"),
        (_num(dva.get("spearman"), 2), "rank correlation difficulty vs attainment"),
        (str(cats.get("set_up_to_fail", 0)), "reps set up to fail"),
        (str(cats.get("under_performer", 0)), "under-performers"),
    ]
    pay = summary.get("payout")
    if pay:
        kpis.append((_num(pay.get("payout")), f"variable pay ({currency})"))
        if pay.get("budget") is not None:
            kpis.append((_num(pay.get("vs_budget")), "payout − budget"))
    k = "".join(f'<div class="kpi"><b>{_esc(v)}</b><span>{_esc(t)}</span></div>' for v, t in kpis)
    fig = _figure(10, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    att = reps["attainment"].to_numpy(dtype=float)
    bins = np.linspace(
        np.nanmin(att) * 100 if np.isfinite(att).any() else 0,
        np.nanmax(att) * 100 if np.isfinite(att).any() else 200,
        25,
    )
    data = [reps.loc[reps["category"] == c, "attainment"].dropna() * 100 for c in _CAT_COLOURS]
    ax1.hist(
        data,
        bins=bins,
        stacked=True,
        color=list(_CAT_COLOURS.values()),
        label=[c.replace("_", " ") for c in _CAT_COLOURS],
        edgecolor="white",
    )
    ax1.axvline(100, color="#222", linewidth=1.0)
    ax1.set_xlabel("attainment (%)")
    ax1.set_ylabel("reps")
    ax1.legend(frameon=False, fontsize=8)
    binned = len(reps) > MAX_POINTS
    for c, col in _CAT_COLOURS.items():
        sel = reps[reps["category"] == c]
        x, y = sel["difficulty"].to_numpy(dtype=float), sel["attainment"].to_numpy(dtype=float)
        if binned:  # one marker per occupied grid cell, sized by its reps
            x, y, n = _grid_points(x, y * 100, reps["difficulty"], reps["attainment"] * 100)
            ax2.scatter(x, y, s=6 + 50 * np.sqrt(n / n.max(initial=1)), color=col)
        else:
            ax2.scatter(x, y * 100, s=14, color=col)
    ax2.axhline(100, color="#222", linewidth=1.0)
    ax2.set_xlabel("difficulty (quota ÷ effective base)")
    ax2.set_ylabel("attainment (%)")
    ax2.set_title(f"Spearman ρ = {_num(dva.get('spearman'), 2)}")
    teams = teams.sort_values("rmse_vs_100", ascending=False, kind="stable")
    tab = _table(
        [
            "team",
            "attainment",
            "median rep",
            "RMSE vs 100%",
            "ρ difficulty",
            "set up to fail",
            "under-perf.",
        ],
        [
            (
                r["team_id"],
                _pct(r["attainment"]),
                _pct(r["median"]),
                _pct(r["rmse_vs_100"]),
                _num(r["difficulty_rank_corr"], 2),
                r["set_up_to_fail"],
                r["under_performers"],
            )
            for r in teams.head(MAX_BARS).to_dict("records")
        ],
        [False, True, True, True, True, True, True],
    )
    fail = reps[reps["category"] == "set_up_to_fail"].sort_values("attainment")
    fail_tab = _table(
        ["rep", "team", "attainment", "difficulty", "next year's factor"],
        [
            (
                r["rep_id"],
                r["team_id"],
                _pct(r["attainment"]),
                _num(r["difficulty"], 3),
                _num(r["factor"], 3),
            )
            for r in fail.head(MAX_ROWS).to_dict("records")
        ],
        [False, False, True, True, True],
    )
    reading = str(dva.get("reading", ""))
    grid = (
        f" The scatter bins the {len(reps):,} reps on a {GRID}×{GRID} grid: one marker per "
        "occupied cell and category at the cell's mean, larger for more reps."
        if binned
        else ""
    )
    note = (
        f'<p class="note">{_esc(reading.capitalize())}.{grid} Set up to fail: attainment below '
        f"{_pct((summary.get('settings') or {}).get('low'), 0)} with difficulty in the top "
        "quartile; under-performers: the same miss with normal difficulty. "
        "<code>performance.csv</code> holds next year's factors (docs/incentives.md).</p>"
    )
    return _section(
        "evaluation",
        f'<div class="kpis">{k}</div>'
        + _png(fig, "attainment distribution and difficulty vs attainment")
        + note
        + "<h3>Quota accuracy by team (least accurate first"
        + (f"; the {MAX_BARS} least accurate of {len(teams):,}" if len(teams) > MAX_BARS else "")
        + ")</h3>"
        + tab
        + "<h3>Reps set up to fail"
        + (f" (the {MAX_ROWS} lowest attainment of {len(fail):,})" if len(fail) > MAX_ROWS else "")
        + "</h3>"
        + fail_tab,
    )


def _grid_points(
    x: np.ndarray, y: np.ndarray, all_x: pd.Series, all_y: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points binned on a GRID×GRID grid spanning all reps' finite values: each occupied cell's
    mean x, mean y and count."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not len(x):
        return x, y, np.zeros(0)
    ax_, ay_ = all_x.to_numpy(dtype=float), all_y.to_numpy(dtype=float)
    ax_, ay_ = ax_[np.isfinite(ax_)], ay_[np.isfinite(ay_)]
    lo_x, hi_x, lo_y, hi_y = ax_.min(), ax_.max(), ay_.min(), ay_.max()
    ix = np.clip(((x - lo_x) / max(hi_x - lo_x, 1e-12) * GRID).astype(int), 0, GRID - 1)
    iy = np.clip(((y - lo_y) / max(hi_y - lo_y, 1e-12) * GRID).astype(int), 0, GRID - 1)
    cell = ix * GRID + iy
    uniq, inv, n = np.unique(cell, return_inverse=True, return_counts=True)
    mx = np.bincount(inv, weights=x, minlength=len(uniq)) / n
    my = np.bincount(inv, weights=y, minlength=len(uniq)) / n
    return mx, my, n.astype(float)


def write_evaluation_report(eval_dir: Path, out: Path) -> Path:
    """A self-contained HTML page with the evaluation section of ``eval_dir``."""
    summary = _read_json(eval_dir / "summary.json")
    run = Path(str(summary.get("run_dir", "")))
    currency = ""
    if (run / "manifest.json").is_file():
        plan = (_read_json(run / "manifest.json").get("resolved_scenario") or {}).get("plan", {})
        currency = str(plan.get("currency", ""))
    body = _evaluation(eval_dir, currency)
    text = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>allocopt evaluation — {_esc(run.name)}</title><style>{CSS}</style></head>"
        f"<body><main><h1>Year-end evaluation — {_esc(run.name)}</h1>"
        f'<p class="meta">Actuals to {_esc(summary.get("as_of", "?"))}</p>'
        + body
        + "</main></body></html>\n"
    )
    out.write_text(text, encoding="utf-8", newline="\n")
    return out


# --- entry point ----------------------------------------------------------------------------


def render_report(
    run_dir: Path,
    *,
    track_dir: Path | None = None,
    run_name: str | None = None,
    evaluate_dir: Path | None = None,
) -> str:
    """The report's HTML text (see :func:`write_report`)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(Problem(str(run_dir), "", "", "is not a run folder (no such folder)"))
    manifest = _read_json(run_dir / "manifest.json")
    summary = _read_json(run_dir / "summary.json")
    sc = manifest.get("resolved_scenario") or {}
    plan = sc.get("plan") or {}
    currency = str(plan.get("currency", ""))
    reps = _read_csv(run_dir / "reps.csv")
    rollups = _read_csv(run_dir / "rollups.csv")
    assert reps is not None and rollups is not None
    reps = _numbers(reps, ["quota", "eff_base", "difficulty", "group_level", "vs_group"])
    rollups = _numbers(rollups, ["quota"])
    asg = _read_csv(run_dir / "assignments.csv", required=False)
    products = [str(p) for p in sc.get("products") or sorted(set(rollups["product"]))]
    rules = sc.get("rules") or {}
    fr = rules.get("fairness") or {}
    band = fr.get("band") if fr.get("enabled", False) else None
    parts = [
        _headline(summary, manifest, currency),
        _teams(reps, currency),
        _difficulty(reps, band, str(fr.get("level", "team")), summary.get("fairness") or {}),
        _rollups(rollups, products, currency),
        _moves(asg, currency),
        _phasing(rollups, products, currency),
    ]
    if track_dir is not None:
        parts.append(_attainment(Path(track_dir), currency))
    old_new = _old_vs_new(run_dir, manifest)
    if old_new is not None:
        parts.append(_replan(old_new, currency))
    if sc.get("incentives"):
        parts.append(_incentives(run_dir, currency))
    if evaluate_dir is not None:
        parts.append(_evaluation(Path(evaluate_dir), currency))
    name = str(manifest.get("scenario") or sc.get("name") or run_dir.name)
    desc = str(sc.get("description") or "")
    meta = (
        f"Run folder <code>{_esc(run_name or run_dir.name)}</code> · fiscal year from "
        f"{_esc(plan.get('fiscal_year_start', '?'))} · {_esc(plan.get('granularity', ''))} "
        f"periods · amounts in {_esc(currency)}" + (f"<br>{_esc(desc)}" if desc else "")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>allocopt report — {_esc(name)}</title><style>{CSS}</style></head>"
        f'<body><main><h1>Allocation plan report — {_esc(name)}</h1><p class="meta">{meta}</p>'
        + "\n".join(parts)
        + "</main></body></html>\n"
    )


def _check_target(target: Path, run_dir: Path, force: bool) -> None:
    """Exit 3 unless ``target`` is new or (with ``force``) an earlier allocopt report outside the
    run folder: never a folder, an input, a run file or any other file."""
    from allocopt.outputs.runfolder import refuse_inside

    refuse_inside(target, run_dir, "report")
    if not os.path.lexists(target):
        return
    if not force:
        raise OutputError(f"{target} exists already; choose another --out or add --force")
    head = ""
    if target.is_file() and not target.is_symlink():
        with target.open("rb") as f:
            head = f.read(4096).decode("utf-8", errors="replace")
    if "<title>allocopt report" not in head:
        raise OutputError(
            f"{target} is not a report written by allocopt; --force replaces only an earlier "
            "report. Nothing was changed: choose another --out"
        )


def write_report(
    run_dir: Path,
    out: Path | None = None,
    *,
    track_dir: Path | None = None,
    force: bool = False,
    run_name: str | None = None,
    evaluate_dir: Path | None = None,
) -> Path:
    """Write one self-contained HTML report for a run (default ``<RUN_DIR>-report.html`` beside
    it: ``allocopt solve`` already puts ``report.html`` inside the run folder, which is never
    modified afterwards).

    ``track_dir`` (a folder written by ``allocopt track``) adds the attainment section. The file
    is written atomically; an existing file is replaced only with ``force`` (exit 3 otherwise).
    Raises InputError (exit 2) when the run or track folder is missing files.
    """
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir.with_name(f"{run_dir.name}-report.html")
    _check_target(target, run_dir, force)
    text = render_report(run_dir, track_dir=track_dir, run_name=run_name, evaluate_dir=evaluate_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write the report {target}: {exc}") from None
    return target
