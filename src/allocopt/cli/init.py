"""``allocopt init``: Write an example project (scenario + data) that validates and solves."""

from __future__ import annotations

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
    from allocopt.examples.project import write_project

    path = write_project(directory, force=force)
    console.print(f"wrote {path}; next: allocopt validate {path} && allocopt solve {path}")
