"""``allocopt evaluate``: Year-end evaluation: attainment, quota accuracy, who was set up to fail;
performance.csv.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from allocopt.cli.options import _guard
from allocopt.cli.render import console, err, pct


@click.command(name="evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    required=True,
    help="A year of actuals: rep_id, product, period, amount (CSV, Excel or Parquet).",
)
@click.option(
    "--low", type=float, default=0.9, show_default=True, help="Low attainment is below this."
)
@click.option(
    "--high-quantile",
    type=float,
    default=0.75,
    show_default=True,
    help="High difficulty is at or above this quantile of the reps' difficulty.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default: RUN_DIR-evaluate beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def evaluate_cmd(
    run_dir: Path,
    actuals: Path,
    low: float,
    high_quantile: float,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Year-end evaluation: attainment, quota accuracy, who was set up to fail; performance.csv."""
    from allocopt.compose import evaluate_run, write_evaluation
    from allocopt.outputs.report import write_evaluation_report

    res = evaluate_run(run_dir, actuals, low=low, high_quantile=high_quantile)

    def finish(folder: Path) -> None:
        write_evaluation_report(folder, folder / "report.html")

    folder = write_evaluation(res, out, force=force, finish=finish)
    s = res.summary
    if as_json:
        console.print_json(json.dumps({"out": str(folder), **s}, default=str))
        return

    c = s["company"]
    console.print(
        f"evaluation of {escape(str(run_dir))} against actuals to {s['as_of']} "
        f"→ {escape(str(folder))}"
    )
    console.print(
        f"company attainment {pct(c['attainment'])}; reps: median {pct(c.get('median'))}, "
        f"p10 {pct(c.get('p10'))}, p90 {pct(c.get('p90'))}, "
        f"{pct(c.get('share_at_or_above_100'))} at or above quota; quota accuracy (RMSE around "
        f"100%) {pct(c.get('rmse_vs_100'))}"
    )
    d = s["difficulty_vs_attainment"]
    rho = "–" if d["spearman"] is None else f"{d['spearman']:+.2f}"
    console.print(f"did difficulty predict attainment? Spearman ρ = {rho}: {d['reading']}")
    t = Table(title="reps by outcome")
    t.add_column("category")
    t.add_column("reps", justify="right")
    for k, v in s["categories"].items():
        t.add_row(k.replace("_", " "), f"{v:,}")
    console.print(t)
    if s["set_up_to_fail"]:
        console.print("set up to fail: " + escape(", ".join(s["set_up_to_fail"])))
    pay = s["payout"]
    if pay:
        line = f"variable pay {pay['payout']:,.0f}"
        if pay["budget"] is not None:
            line += f" vs budget {pay['budget']:,.0f} ({pay['vs_budget']:+,.0f})"
        console.print(line + ("" if pay["exact"] else " (expected: the year is not complete)"))
    console.print(
        f"performance.csv: {s['performance']['rows']:,} factors for next year's reference "
        f"({s['performance']['min']}–{s['performance']['max']})"
    )
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", markup=True)
