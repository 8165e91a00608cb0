"""``allocopt verify``: re-check a run folder against every enabled rule, independently of the
solver (exit 1 on any violation)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from allocopt.cli.options import _guard
from allocopt.cli.render import console, err


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--tol",
    type=float,
    default=1e-6,
    show_default=True,
    help="Relative tolerance (of max(1, |bound|)).",
)
@_guard
def verify(run_dir: Path, tol: float) -> None:
    """Re-check a run folder against every enabled rule, independently of the solver (exit 1 on
    any violation)."""

    from allocopt.compose import verify_run

    res = verify_run(run_dir, tol=tol)
    n_rules = sum(1 for n in res.checked.values() if n)
    for note in res.notes:
        err.print(f"note: {note}", markup=False)
    if res.ok:
        console.print(
            f"[green]verified[/]: {res.n_checks:,} checks over {n_rules} rules, no violations",
            markup=True,
        )
        return
    if res.integrity:
        t = Table(title=f"{len(res.integrity):,} files of {run_dir} edited since the solve")
        t.add_column("file: what changed")
        for line in res.integrity:
            t.add_row(Text(line))
        console.print(t)
    v = res.violations
    if v.empty:
        console.print("no rule violations in the files as they are now")
        sys.exit(1)
    t = Table(
        title=f"{len(v):,} violations in {run_dir} ({res.n_checks:,} checks over {n_rules} rules)"
    )
    for c in ("rule", "where", "detail", "amount"):
        t.add_column(c, justify="right" if c == "amount" else "left")
    limit = 200
    for row in v.head(limit).itertuples(index=False):
        t.add_row(*(Text(str(x)) for x in (row.rule, row.where, row.detail)), f"{row.amount:,.6g}")
    console.print(t)
    if len(v) > limit:
        console.print(f"… and {len(v) - limit:,} more violations")
    counts = v.groupby("rule").size()
    console.print("violations per rule: " + ", ".join(f"{r} {n:,}" for r, n in counts.items()))
    sys.exit(1)
