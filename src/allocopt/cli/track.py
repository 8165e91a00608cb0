"""``allocopt track``: Attainment, pacing, forecasts and at-risk reps of a run against actuals to
date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from allocopt.cli.options import _guard
from allocopt.cli.render import console, err, pct


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    required=True,
    help="Actuals table: rep_id, product, period, amount (CSV, Excel or Parquet).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day the actuals cover (default: end of the last period with actuals).",
)
@click.option(
    "--threshold",
    type=float,
    default=0.9,
    show_default=True,
    help="At risk when the seasonality-adjusted forecast attainment is below this.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default: RUN_DIR-track-AS_OF beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def track(
    run_dir: Path,
    actuals: Path,
    as_of: Any,
    threshold: float,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Attainment, pacing, forecasts and at-risk reps of a run against actuals to date."""
    from allocopt.compose import track as run_track
    from allocopt.compose import write_track

    res = run_track(run_dir, actuals, as_of=as_of.date() if as_of else None, at_risk=threshold)
    folder = write_track(res, out, force=force)
    if as_json:
        console.print_json(json.dumps({"out": str(folder), **res.summary}, default=str))
        return
    s = res.summary

    cur = s["current_period"]
    console.print(
        f"as of {s['as_of']}: {s['elapsed_share']:.1%} of the year elapsed "
        f"(closed {', '.join(s['closed_periods']) or 'none'}"
        + (f"; {cur['period']} {cur['elapsed']:.0%} elapsed" if cur else "")
        + f") → {escape(str(folder))}"
    )
    t = Table(title="attainment to date")
    for c in (
        "unit",
        "quota to date",
        "actual to date",
        "attainment",
        "pacing",
        "forecast (seasonal)",
        "forecast att.",
    ):
        t.add_column(c, justify="left" if c == "unit" else "right")
    for name, m in [("company", s["company"]), *s["by_region"].items()]:
        t.add_row(
            escape(name),
            f"{m['quota_to_date']:,.0f}",
            f"{m['actual_to_date']:,.0f}",
            pct(m["attainment"]),
            f"{m['pacing']:,.0f}",
            "–" if m["forecast_seasonal"] is None else f"{m['forecast_seasonal']:,.0f}",
            pct(m["forecast_attainment"]),
        )
    console.print(t)
    risk = res.at_risk
    limit = 30
    t = Table(
        title=f"{len(risk):,} at-risk reps (forecast attainment < {res.threshold:.0%}, "
        "largest gap first)"
    )
    for c in ("rep", "team", "attainment", "annual quota", "forecast", "gap", "products"):
        t.add_column(c, justify="left" if c in ("rep", "team", "products") else "right")
    for r in risk.head(limit).to_dict("records"):
        t.add_row(
            escape(str(r["rep_id"])),
            escape(str(r["team_id"])),
            pct(r["attainment"]),
            f"{r['annual_quota']:,.0f}",
            f"{r['forecast_seasonal']:,.0f}",
            f"{r['gap']:,.0f}",
            escape(str(r["at_risk_products"]).replace(";", ", ")),
        )
    if len(risk):
        console.print(t)
        if len(risk) > limit:
            console.print(f"… and {len(risk) - limit:,} more in at_risk.csv")
    else:
        console.print("[green]no rep at risk[/]", markup=True)
    d = s["distribution"]
    if d["count"]:
        console.print(
            f"attainment over {d['count']:,} reps: mean {pct(d['mean'])}, median "
            f"{pct(d['median'])}, p10 {pct(d['p10'])}, p90 {pct(d['p90'])}, "
            f"{pct(d['share_at_or_above_100'])} at or above 100%"
        )
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", markup=True)
