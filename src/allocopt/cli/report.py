"""``allocopt report``: Write a self-contained HTML report (charts embedded; loads nothing from the
network).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from allocopt.cli.options import _guard
from allocopt.cli.render import console


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--track",
    "track_dir",
    type=click.Path(path_type=Path),
    help="A folder written by `allocopt track`: adds the attainment section.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="HTML file (default: RUN_DIR-report.html beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option(
    "--evaluate",
    "evaluate_dir",
    type=click.Path(path_type=Path),
    help="A folder written by `allocopt evaluate`: adds the year-end evaluation section.",
)
@_guard
def report(
    run_dir: Path,
    track_dir: Path | None,
    out: Path | None,
    force: bool,
    evaluate_dir: Path | None = None,
) -> None:
    """Write a self-contained HTML report (charts embedded; loads nothing from the network)."""
    from allocopt.compose import report_run

    path = report_run(run_dir, out, track_dir=track_dir, force=force, evaluate_dir=evaluate_dir)
    console.print(f"wrote {escape(str(path))}")
