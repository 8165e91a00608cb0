"""``allocopt serve``: Live monitoring in the browser: attainment, pacing, forecasts, at-risk reps,
drill-down.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from allocopt.cli.options import _guard
from allocopt.cli.render import console, err


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("run_b", required=False, type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    required=True,
    help="Actuals table, or a folder of extracts (the newest is used); watched for changes.",
)
@click.option("--port", default=8000, show_default=True, help="TCP port (0: any free port).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback needs --token.",
)
@click.option(
    "--token",
    envvar="ALLOCOPT_TOKEN",
    help="Require this token on every request (Authorization: Bearer T, or ?token=T once). "
    "Also read from ALLOCOPT_TOKEN.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day the actuals cover (default: end of the last period with actuals).",
)
@click.option(
    "--threshold",
    type=float,
    default=0.9,
    show_default=True,
    help="At risk when the seasonality-adjusted forecast attainment is below this.",
)
@_guard
def serve(
    run_dir: Path,
    run_b: Path | None,
    actuals: Path,
    port: int,
    host: str,
    token: str | None,
    as_of: Any,
    threshold: float,
) -> None:
    """Live monitoring in the browser: attainment, pacing, forecasts, at-risk reps, drill-down
    to each rep's "why this number"; RUN_B adds a side-by-side comparison. Read-only."""
    from allocopt.serve import serve as run_server

    def ready(url: str) -> None:
        console.print(Text(f"serving {run_dir} at {url} (Ctrl-C to stop)"))
        if token:
            console.print(Text("every request needs the token: open the page once with ?token=…"))
        sys.stdout.flush()

    run_server(
        run_dir,
        actuals,
        run_b=run_b,
        host=host,
        port=port,
        token=token,
        as_of=as_of.date() if as_of else None,
        threshold=threshold,
        ready=ready,
        warn=lambda message: err.print(
            Text(f"warning: the actuals cannot be read yet (serving anyway): {message}")
        ),
    )
