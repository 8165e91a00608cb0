"""``allocopt payout``: expected variable pay of a run under its incentive plans
(docs/incentives.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from allocopt.cli.options import _guard
from allocopt.cli.render import console, err, pct


@click.command(name="payout")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    help="Actuals to date (rep_id, product, period, amount); default: sales = quota × 1.",
)
@click.option(
    "--sweep",
    "sweep_dir",
    type=click.Path(path_type=Path),
    help="A plan stress sweep folder (`allocopt sweep S.yaml --plan RUN --draws N`): price the "
    "plan over that sweep's sales draws instead of the lognormal spread.",
)
@click.option("--draws", type=int, default=2000, show_default=True, help="Monte Carlo draws.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the draws.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default: RUN_DIR-payout beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def payout_cmd(
    run_dir: Path,
    actuals: Path | None,
    sweep_dir: Path | None,
    draws: int,
    seed: int,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Expected variable pay of a run under its incentive plans (docs/incentives.md)."""
    from allocopt.compose import payout_run, write_payout

    res = payout_run(run_dir, actuals, sweep_dir=sweep_dir, draws=draws, seed=seed)
    folder = write_payout(res, out, force=force)
    s = res.summary
    if as_json:
        console.print_json(json.dumps({"out": str(folder), **s}, default=str))
        return
    if s.get("sweep"):
        sw = s["sweep"]
        src = f"{s['draws']:,} draws of the sweep {escape(str(sw['folder']))} (seed {sw['seed']})"
    else:
        src = (
            f"actuals to {s['actuals']['as_of']} ({s['elapsed_share']:.0%} of the year)"
            if s["actuals"]
            else "no actuals: expected sales = quota"
        )
        src += f"; {s['draws']:,} draws, seed {s['seed']}, spread {s['spread_remaining']:.3f}"
    console.print(f"payout of {escape(str(run_dir))}: {src} → {escape(str(folder))}")
    print_units(res.units, s)
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", markup=True)


def print_units(u: Any, s: dict[str, Any]) -> None:
    """The company and region rows of a payout (units frame) and the company distribution."""

    t = Table(title=f"expected variable pay ({escape(str(s['currency']))})")
    rows = [
        (
            escape(f"{rec['unit_id']} ({rec['level']})"),
            f"{int(rec['reps']):,}",
            f"{rec['quota']:,.0f}",
            f"{rec['expected_revenue']:,.0f}",
            f"{rec['expected_payout']:,.0f}",
            f"{rec['payout_p10']:,.0f}",
            f"{rec['payout_p90']:,.0f}",
            pct(rec["cost_of_sales"], 2),
            pct(rec["share_at_or_above_quota"]),
        )
        for rec in u[u["level"] != "team"].to_dict("records")
    ]
    heads = (
        "unit",
        "reps",
        "quota",
        "exp. revenue",
        "exp. payout",
        "p10",
        "p90",
        "cost %",
        "≥ quota",
    )
    for i, h in enumerate(heads):
        width = None if i == 0 else max([len(r[i]) for r in rows], default=1)
        t.add_column(h, justify="left" if i == 0 else "right", min_width=width, overflow="fold")
    for r in rows:
        t.add_row(*r)
    console.print(t)
    line = (
        f"company payout p10 {s['payout_p10']:,.0f} · p50 {s['payout_p50']:,.0f} · "
        f"p90 {s['payout_p90']:,.0f}"
    )
    if s["budget"] is not None:
        line += f"; budget {s['budget']:,.0f}: P(payout > budget) = {pct(s['p_over_budget'])}"
    console.print(line)
