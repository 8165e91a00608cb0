"""Command-line interface: parses, calls the pipeline, prints. No logic lives here.

The click group :func:`main` (the ``allocopt`` console script, ``python -m allocopt.cli``) and
one module per command; shared rendering in :mod:`allocopt.cli.render`.
"""

from __future__ import annotations

import click

from allocopt import __version__
from allocopt.cli import (
    compare,
    evaluate,
    explain,
    export,
    init,
    payout,
    report,
    schema,
    serve,
    solve,
    sweep,
    track,
    validate,
    verify,
)
from allocopt.cli.render import console, err

__all__ = ["console", "err", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="allocopt")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """allocopt — split sales targets across regions, teams, reps, products and periods."""


for _command in (
    validate.validate,
    solve.solve,
    verify.verify,
    schema.schema,
    init.init,
    track.track,
    report.report,
    compare.compare,
    explain.explain,
    export.export_cmd,
    sweep.sweep,
    serve.serve,
    payout.payout_cmd,
    evaluate.evaluate_cmd,
):
    main.add_command(_command)
