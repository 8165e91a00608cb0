"""A self-contained HTML report of a sweep folder.

Public entry point: :func:`render`. Charts are PNG images (matplotlib Agg) embedded as base64;
no network, no scripts. Sections: headline (items, infeasible share, company numbers), fan chart
of quota (re-plan sweeps, with the company/region/team table and, for grids and what-ifs, the
items) or attainment (plan stress, with the chance to reach quota per unit) by team — p10–p90
range and the median —, the tornado of which shocks move the company total most, and the
infeasible items with why (grouped by reason).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["render", "warm_up"]

MAX_TEAMS = 40
CSS = (
    "body{font-family:system-ui,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#222;margin:0}"
    "main{max-width:1100px;margin:0 auto;padding:24px 32px}h2{border-bottom:2px solid #2f6690}"
    "table{border-collapse:collapse;font-size:.92em}th,td{padding:4px 10px;border-bottom:1px "
    "solid #ddd;text-align:left}td.n{text-align:right}td.n,td:first-child{white-space:nowrap}"
    "img{max-width:100%}div.t{overflow-x:auto}"
)


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _png(fig: Figure, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def warm_up() -> None:
    """Draw a tiny chart: loads what the first chart would (Agg canvas, fonts)."""
    fig = Figure(figsize=(1, 1))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="x")
    ax.set_title("x")
    ax.legend()
    _png(fig, "")


def _table(df: pd.DataFrame, limit: int = 50) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    body = []
    for row in df.head(limit).itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                x = float(v)
                if not np.isfinite(x):
                    cells.append('<td class="n"></td>')
                    continue
                text = f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
                cells.append(f'<td class="n">{text}</td>')
            elif isinstance(v, int | np.integer):
                cells.append(f'<td class="n">{v:,}</td>')
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>{len(df) - limit} more rows in the CSV.</p>" if len(df) > limit else ""
    return f'<div class="t"><table><tr>{head}</tr>{"".join(body)}</table></div>{more}'


def _axis_format(kind: str) -> Any:
    """Tick labels in the reader's units: money as 12.3M / 450k, attainment as a percentage."""
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    if kind == "ratio":
        return PercentFormatter(xmax=1.0)

    def money(x: float, _pos: int) -> str:
        if abs(x) >= 1e6:
            return f"{x / 1e6:,.1f}M"
        return f"{x / 1e3:,.0f}k" if abs(x) >= 1e3 else f"{x:,.0f}"

    return FuncFormatter(money)


def _fan(df: pd.DataFrame, prefix: str, title: str, line: float | None) -> str:
    """One column per team: its p10–p90 range as a bar and the median as a dot (teams are
    categories: no line between them)."""
    all_teams = df[df["level"] == "team"].sort_values("unit_id")
    teams = all_teams.head(MAX_TEAMS)
    if teams.empty:
        return "<p>No teams.</p>"
    if len(all_teams) > MAX_TEAMS:
        title += f" — the first {MAX_TEAMS} of {len(all_teams)} teams; all in the CSV"
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    x = np.arange(len(teams))
    lo, mid, hi = (teams[f"{prefix}p{p}"].to_numpy(dtype=float) for p in (10, 50, 90))
    ax.bar(x, hi - lo, bottom=lo, width=0.6, color="#2f6690", alpha=0.3, label="p10–p90")
    ax.scatter(x, mid, color="#2f6690", zorder=3, label="median (p50)")
    if line is not None:
        ax.axhline(line, color="#c44536", lw=1, ls="--", label="quota")
    ax.yaxis.set_major_formatter(_axis_format("ratio" if line is not None else "money"))
    ax.set_xticks(x, teams["unit_id"].tolist(), rotation=60 if len(teams) > 12 else 0, fontsize=8)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _png(fig, title)


def _by_level(units: pd.DataFrame) -> pd.DataFrame:
    """The company, then its regions, then its teams (each sorted by id)."""
    order = {"company": 0, "region": 1, "team": 2}
    d = units[units["level"].isin(list(order))]
    return d.assign(_o=d["level"].map(order)).sort_values(["_o", "unit_id"]).drop(columns="_o")


def _quota_table(units: pd.DataFrame) -> str:
    """Company, regions and teams: annual quota p10/p50/p90 and the p10–p90 spread."""
    d = _by_level(units)
    out = d[["unit_id", "level", "quota_p10", "quota_p50", "quota_p90"]].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = (d["quota_p90"] - d["quota_p10"]) / d["quota_p50"]
    out["spread_p10_p90"] = [f"{100 * v:.1f}%" if np.isfinite(v) else "" for v in spread]
    return _table(out)


def _items_table(folder: Path, manifest: dict[str, Any]) -> str:
    """Grid and what-if sweeps: one row per item, its parameters and headline numbers."""
    sweep = pd.read_csv(folder / "sweep.csv", keep_default_na=False)
    keys = ["item", *[c for c in sweep.columns[1 : list(sweep.columns).index("status")]]]
    cols = [
        *keys,
        "status",
        "gap",
        "objective",
        "total_quota",
        "fairness_max_abs_vs_group",
        "moved_accounts",
    ]
    d = sweep[[c for c in cols if c in sweep.columns]].copy()
    for c in ("gap", "objective", "total_quota", "fairness_max_abs_vs_group", "moved_accounts"):
        if c in d:
            d[c] = pd.to_numeric(d[c], errors="coerce")
    for c in keys[1:]:
        d[c] = d[c].astype(str)  # parameters as given on the command line, never reformatted
    return "<h2>Items</h2>" + _table(d)


def _tornado(df: pd.DataFrame) -> str:
    if df.empty or float(df["swing"].max()) <= 0:
        return "<p>No shock moves the company total (it is fixed by the targets).</p>"
    d = df.head(15).iloc[::-1]
    fig = Figure(figsize=(9, 0.45 * len(d) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(d))
    mid = (d["at_p10"] + d["at_p90"]).to_numpy(dtype=float) / 2
    base = float(np.mean(mid))
    a, b = d["at_p10"].to_numpy(dtype=float), d["at_p90"].to_numpy(dtype=float)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    ax.barh(y, hi - lo, left=lo, color="#d9843b")
    ax.axvline(base, color="#222", lw=1)
    ax.set_yticks(y, d["shock"].tolist())
    metric = str(d["metric"].iloc[0])
    ax.xaxis.set_major_formatter(_axis_format("ratio" if "attainment" in metric else "money"))
    ax.set_title(f"{metric} at each shock's p10 and p90, the others at their mean")
    return _png(fig, "tornado") + _table(
        df[["shock", "on", "entities", "factor_p10", "factor_p90", "at_p10", "at_p90", "swing"]]
    )


def _payout_section(folder: Path, manifest: dict[str, Any], summary: dict[str, Any]) -> str:
    """Variable pay: over the stress draws (plan), or against a grid key (the cushion curve)."""
    pay = summary.get("payout")
    if summary.get("kind") == "plan" and pay and (folder / "payout_units.csv").is_file():
        cur = _esc(pay.get("currency", ""))
        budget = pay.get("budget")
        line = (
            f"<p>Expected payout {pay['expected_payout']:,.0f} {cur} (p10 "
            f"{pay['payout_p10']:,.0f}, p50 {pay['payout_p50']:,.0f}, p90 "
            f"{pay['payout_p90']:,.0f}); cost of sales {100 * (pay['cost_of_sales'] or 0):.2f}%; "
            f"reps at or above quota {100 * (pay['expected_share_at_or_above_quota'] or 0):.1f}%"
        )
        if budget is not None:
            line += (
                f"; budget {budget:,.0f}: chance of exceeding it {100 * pay['p_over_budget']:.1f}%"
            )
        out = ["<h2>Variable pay over the same draws</h2>", line + ".</p>"]
        sweep = pd.read_csv(folder / "sweep.csv")
        if "company_payout" in sweep:
            fig = Figure(figsize=(9, 3.2))
            ax = fig.add_subplot()
            ax.hist(sweep["company_payout"].to_numpy(dtype=float), bins=30, color="#2f6690")
            if budget is not None:
                ax.axvline(budget, color="#c44536", ls="--", lw=1.5, label="budget")
                ax.legend(loc="best", fontsize=8)
            ax.set_xlabel(f"company variable pay ({pay.get('currency', '')})")
            ax.set_ylabel("draws")
            out.append(_png(fig, "company payout over the draws"))
        units = pd.read_csv(folder / "payout_units.csv", keep_default_na=False)
        cols = [
            "level",
            "unit_id",
            "reps",
            "expected_payout",
            "payout_p10",
            "payout_p50",
            "payout_p90",
            "cost_of_sales",
            "share_at_or_above_quota",
        ]
        out.append(_table(units[units["level"] != "team"][cols]))
        return "\n".join(out)
    sweep_path = folder / "sweep.csv"
    if summary.get("kind") != "grid" or not sweep_path.is_file():
        return ""
    sweep = pd.read_csv(sweep_path)
    grid = (manifest.get("sweep") or {}).get("grid") or []
    if "payout_expected" not in sweep or not grid:
        return ""
    key = str(grid[0]["key"])
    x = pd.to_numeric(sweep[key], errors="coerce")
    ok = x.notna() & sweep["payout_expected"].notna()
    if ok.sum() < 2:
        return ""
    d = sweep[ok].assign(_x=x[ok]).sort_values("_x", kind="stable")
    fig = Figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    ax.plot(d["_x"], d["payout_expected"], "o-", color="#2f6690", label="expected payout")
    ax.fill_between(
        d["_x"], d["payout_p10"], d["payout_p90"], color="#2f6690", alpha=0.2, label="p10–p90"
    )
    ax.set_xlabel(key)
    ax.set_ylabel("company variable pay")
    ax2 = ax.twinx()
    ax2.plot(d["_x"], d["payout_share_at_quota"], "s--", color="#d9843b", label="share at quota")
    ax2.set_ylabel("share of reps at or above quota")
    ax.legend(loc="upper right", fontsize=8)
    ax2.legend(loc="lower left", fontsize=8)
    ax.set_title(f"Expected variable pay against {key}")
    cols = [key, "total_quota", *[c for c in d.columns if c.startswith("payout_")]]
    return (
        f"<h2>Variable pay against {_esc(key)}</h2>"
        "<p>Expected sales stay at the company target (no cushion) while the cushion raises "
        "every quota, so attainment, payout and the share at quota fall as it grows "
        "(docs/sweep.md).</p>" + _png(fig, "payout curve") + _table(d[cols])
    )


def render(folder: Path) -> str:
    """The report of the sweep folder ``folder`` as one HTML page."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    summary = manifest.get("summary", {})
    kind = summary.get("kind", "")
    items = summary.get("items", {})
    parts = [f"<h1>Sweep of {_esc(manifest.get('scenario', ''))}: {_esc(kind)}</h1>"]
    if kind == "plan":
        parts.append(
            f"<p>{items.get('total', 0)} draws of sales outcomes for the quotas of the plan "
            f"{_esc(summary.get('plan', ''))} (nothing solved).</p>"
        )
    else:
        parts.append(
            f"<p>{items.get('total', 0)} items: {items.get('ok', 0)} solved, "
            f"{items.get('infeasible', 0)} infeasible, {items.get('failed', 0)} failed "
            f"(infeasible share {100 * summary.get('infeasible_share', 0.0):.1f}%).</p>"
        )
    if kind == "plan":
        att = summary.get("company_attainment", {})
        parts.append(
            f"<p>Company: chance to reach quota {100 * summary.get('company_p_reach', 0):.1f}%, "
            f"attainment p10/p50/p90 {att.get('p10', 0):.3f} / {att.get('p50', 0):.3f} / "
            f"{att.get('p90', 0):.3f}.</p>"
        )
        units = pd.read_csv(folder / "attainment_units.csv", keep_default_na=False)
        units = units.replace("", np.nan)
        parts.append("<h2>Attainment by team</h2>")
        parts.append(_fan(units, "attainment_", "Attainment by team (p10–p90, median)", 1.0))
        parts.append("<h2>Chance to reach quota</h2>" + _table(_by_level(units)))
        reps = pd.read_csv(folder / "attainment_reps.csv")
        parts.append("<h2>Reps least likely to reach quota</h2>")
        parts.append(_table(reps.sort_values(["p_reach", "rep_id"]).head(20)))
    else:
        units = pd.read_csv(folder / "units.csv")
        units = units[units["product"] == "ALL"] if len(units) else units
        parts.append("<h2>Quota by team</h2>")
        parts.append(
            _fan(units, "quota_", "Annual quota by team (p10–p90 over items, median)", None)
            + _quota_table(units)
            if len(units)
            else "<p>No item was solved.</p>"
        )
        if kind in ("grid", "scenarios"):
            parts.append(_items_table(folder, manifest))
        rules = pd.read_csv(folder / "rules.csv")
        parts.append("<h2>How often each rule binds</h2>" + _table(rules))
    parts.append(_payout_section(folder, manifest, summary))
    if (folder / "tornado.csv").is_file():
        parts.append("<h2>Which shocks move the company total most</h2>")
        parts.append(_tornado(pd.read_csv(folder / "tornado.csv")))
    if (folder / "infeasible.csv").is_file():
        # as written: parameters as given on the command line, never reformatted
        bad = pd.read_csv(folder / "infeasible.csv", keep_default_na=False, dtype=str)
        if len(bad):
            total = items.get("total", 0)
            reasons = summary.get("reasons", {})
            parts.append(
                f"<h2>Infeasible and failed items: {len(bad)} of {total} "
                f"({100 * summary.get('infeasible_share', 0.0):.1f}%)</h2><ul>"
                + "".join(f"<li>{n} of {total} items: {_esc(r)}</li>" for r, n in reasons.items())
                + "</ul>"
                + _table(
                    bad.drop(
                        columns=["diagnosis", *(["reason"] if len(reasons) == 1 else [])],
                        errors="ignore",
                    )
                )
                + "<p>The full diagnosis of each item is in infeasible.csv.</p>"
            )
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>allocopt sweep'
        f"</title><style>{CSS}</style></head><body><main>{body}</main></body></html>\n"
    )
