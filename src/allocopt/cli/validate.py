"""``allocopt validate``: check a scenario and its data (no solve); exit 2 with every problem
listed."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from allocopt.cli.options import _guard, _scenario_options
from allocopt.cli.render import _no_cut, console


@click.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@_scenario_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def validate(
    scenario: Path, scenario_names: tuple[str, ...], sets: tuple[str, ...], as_json: bool
) -> None:
    """Check a scenario and its data (no solve); exit 2 with every problem listed."""
    from allocopt.pipeline import validate as run_validate

    v = run_validate(scenario, scenarios=scenario_names, sets=sets)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "valid": True,
                    **v.summary,
                    "warnings": v.warnings,
                    "changes": v.loaded.changes,
                    "data_changes": v.dataset.changes,
                },
                default=str,
            )
        )
        return
    for change in [*v.loaded.changes, *v.dataset.changes]:
        console.print(f"applied: {escape(change)}", markup=True)
    s = v.summary
    console.print(
        f"[green]valid[/]: {escape(str(scenario))} — scenario {s['scenario']!r}", markup=True
    )
    t = Table(title="rows per table")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in s["rows"].items():
        t.add_row(escape(name), f"{n:,}")
    console.print(t)
    t = Table(title="targets per product")
    for c in (
        "product",
        "target",
        "with cushion",
        "potential",
        "key-account rev.",
        "effective base",
    ):
        t.add_column(c, justify="right" if c != "product" else "left")
    _no_cut(t, [f"{v:,.0f}" for d in s["products"].values() for v in d.values()])
    for p, d in s["products"].items():
        t.add_row(
            escape(p),
            *(
                f"{d[k]:,.0f}"
                for k in (
                    "target",
                    "target_with_cushion",
                    "potential",
                    "key_account_revenue",
                    "effective_base",
                )
            ),
        )
    console.print(t)
    cover = s["capacity_cover"]
    console.print(
        f"reps {s['reps']:,}; key accounts {s['key_accounts']:,} "
        f"({s['eligible_pairs']:,} eligible pairs); "
        f"total target with cushion {s['total_target_with_cushion']:,.0f} vs ramped capacity "
        f"{s['total_ramped_capacity']:,.0f}" + (f" (cover {cover:.2f}×)" if cover else "")
    )
    for w in v.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", markup=True)
