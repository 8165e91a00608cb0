"""``allocopt export``: Export a run's quotas in a format that compensation / SPM systems import."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from allocopt.cli.options import _guard
from allocopt.cli.render import console


@click.command(name="export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    required=True,
    help="csv, xlsx, varicent, salesforce or xactly (mappings: docs/exports.md).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="New folder for the files."
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option(
    "--id-map",
    type=click.Path(path_type=Path),
    help="Table rep_id,external_id: the owner ID of every rep in the SPM formats.",
)
@_guard
def export_cmd(run_dir: Path, fmt: str, out: Path, force: bool, id_map: Path | None) -> None:
    """Export a run's quotas in a format that compensation / SPM systems import."""
    from allocopt.outputs.export import export_run

    paths = export_run(run_dir, fmt, out, force=force, id_map=id_map)
    for path in paths:
        console.print(f"[green]wrote[/] {escape(str(path))}", markup=True)
