"""``allocopt schema``: Print the scenario file's JSON Schema (for editor completion)."""

from __future__ import annotations

import json

import click


@click.command()
def schema() -> None:
    """Print the scenario file's JSON Schema (for editor completion)."""
    from allocopt.scenario.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
