"""``allocopt init``: :func:`write_project` writes the example project (``scenario.yaml`` and its
``data/`` tables, :func:`~allocopt.examples.generate.generate_plan` with six reps a team) into a
folder without ever changing a file already there."""

from __future__ import annotations

import tempfile
from pathlib import Path

from allocopt.errors import OutputError
from allocopt.examples.generate import generate_plan
from allocopt.outputs.runfolder import add_files

__all__ = ["write_project"]


def write_project(directory: Path, *, force: bool = False) -> Path:
    """Write the example project into ``directory`` and return its ``scenario.yaml``.

    OutputError (exit 3) when the folder is not empty, unless ``force``; even then a file with
    other content is never replaced (nothing is written, :func:`add_files`), an identical one is
    left as it is.
    """
    if directory.exists() and any(directory.iterdir()) and not force:
        raise OutputError(
            f"{directory} exists and is not empty; choose another folder or add --force"
        )
    with tempfile.TemporaryDirectory() as fresh:
        generate_plan(Path(fresh), reps_per_team=6, name="my-plan")
        add_files(Path(fresh), directory)  # --force adds files, never changes one of yours
    return directory / "scenario.yaml"
