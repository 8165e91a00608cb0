"""``allocopt init``: Write an example project (scenario + data) that validates and solves."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from allocopt.cli.options import _guard
from allocopt.cli.render import console


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Write into an existing, non-empty folder (never over a file with other content).",
)
@_guard
def init(directory: Path, force: bool) -> None:
    """Write an example project (scenario + data) that validates and solves."""
    from allocopt.errors import OutputError
    from allocopt.examples.generate import generate_plan

    if directory.exists() and any(directory.iterdir()) and not force:
        raise OutputError(
            f"{directory} exists and is not empty; choose another folder or add --force"
        )
    from allocopt.outputs.runfolder import add_files

    with tempfile.TemporaryDirectory() as fresh:
        generate_plan(Path(fresh), reps_per_team=6, name="my-plan")
        add_files(Path(fresh), directory)  # --force adds files, never changes one of yours
    path = directory / "scenario.yaml"
    console.print(f"wrote {path}; next: allocopt validate {path} && allocopt solve {path}")
