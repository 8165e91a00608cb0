"""Write a run folder atomically: it appears complete or not at all, and is never silently replaced.

Public entry point: :func:`write_run`. Files are written into a hidden temporary sibling folder,
which is renamed into place at the end. An existing folder is replaced only with ``force``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.errors import InputError, OutputError, Problem

Content = pd.DataFrame | str | Mapping[str, Any] | bytes


def default_run_dir(output_dir: Path, scenario_name: str, now: dt.datetime | None = None) -> Path:
    """``<output_dir>/<scenario>-<YYYYmmdd-HHMMSS>``, with a suffix if that exists already."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    cand = output_dir / f"{scenario_name}-{stamp}"
    k = 2
    while cand.exists():
        cand = output_dir / f"{scenario_name}-{stamp}-{k}"
        k += 1
    return cand


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Deterministic CSV: UTF-8, LF line ends, no index.

    pandas quotes cells holding the line terminator but not a bare carriage return, which
    spreadsheet programs read as a line break; when any text cell has one, every text cell is
    quoted.
    """
    text_cols = [
        c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])
    ]
    has_cr = any(df[c].astype(str).str.contains("\r", regex=False).any() for c in text_cols)
    if has_cr:
        df.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    else:
        df.to_csv(path, index=False, lineterminator="\n")


def write_run(
    target: Path,
    files: Mapping[str, Content],
    *,
    force: bool = False,
    finish: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``files`` (relative name → content) as the folder ``target``, atomically.

    ``finish`` runs on the complete temporary folder before it is renamed into place (e.g. to
    render a report from the files), so what it adds is part of the atomic write.
    """
    if target.exists() and not force:
        raise OutputError(
            f"{target} exists already; choose another --out or add --force to replace it"
        )
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot create the run folder in {parent}: {exc.strerror}") from None
    try:
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, pd.DataFrame):
                write_csv(content, path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            elif isinstance(content, str):
                path.write_text(content, encoding="utf-8", newline="\n")
            else:
                path.write_text(
                    json.dumps(content, indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8",
                )
        if finish is not None:
            finish(tmp)
        old: Path | None = None
        if target.exists():
            old = parent / f".{target.name}.old-{os.getpid()}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"cannot write the run folder {target}: {exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(run_dir: Path, header: str) -> dict[str, Any]:
    """A run folder's manifest, or InputError (exit 2) under ``header`` saying what is missing."""

    def bad(path: Path, message: str, field_: str = "") -> InputError:
        return InputError(
            Problem(str(path), "", field_, message),
            header=header,
        )

    if not run_dir.is_dir():
        raise bad(run_dir, "no such run folder; give a folder written by `allocopt solve`")
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise bad(path, "file is missing; the run folder is incomplete")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise bad(path, f"cannot be read as JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("resolved_scenario"), dict):
        raise bad(
            path, "is missing; the manifest does not record the scenario", "resolved_scenario"
        )
    return manifest
