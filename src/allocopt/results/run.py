"""A run's recorded content, handed to the results functions as frames.

Public entry point: :class:`RunTables`. The composition layer (:mod:`allocopt.compose`) opens a
run folder (:class:`allocopt.outputs.runfolder.RunFolder`) and fills one; results functions
read only from it, so they run on frames built in memory just as well (tests, a web page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from allocopt.errors import InputError, Problem

__all__ = ["RunTables"]


@dataclass(frozen=True)
class RunTables:
    """A run's manifest, CSV tables (by file name) and JSON documents (by file name).

    ``source`` names the run in messages (its folder, as the user gave it); it is never opened.
    """

    source: str
    manifest: dict[str, Any]
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    documents: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def where(self, name: str) -> str:
        """How messages name file ``name`` of the run: ``<source>/<name>``."""
        return f"{self.source.rstrip('/')}/{name}" if self.source else name

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name`` (e.g. ``annual.csv``); InputError (exit 2) when it was not given."""
        if name not in self.tables:
            raise InputError(
                Problem(self.where(name), "", "", "missing from the run folder; re-run the solve")
            )
        return self.tables[name]

    def document(self, name: str) -> dict[str, Any]:
        """JSON document ``name`` (e.g. ``summary.json``); InputError (exit 2) when not given."""
        if name not in self.documents:
            raise InputError(
                Problem(self.where(name), "", "", "missing from the run folder; re-run the solve")
            )
        return self.documents[name]
