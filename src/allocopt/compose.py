"""Composition of the run-folder commands: open a run folder, hand its tables to results.

Public entry points (the CLI, the web page and tests call these; results functions never open
files): :func:`explain_rep`, :func:`explain_plan`, :func:`compare_runs` (with
:func:`write_comparison`), :func:`track` (with :func:`write_track`) and :func:`run_tables`.

Each opens the run folder through :class:`~allocopt.outputs.runfolder.RunFolder` (manifest) and
:func:`~allocopt.outputs.runfolder.read_frame` (tables, identifier columns as text), builds a
:class:`~allocopt.results.run.RunTables` and calls the results function on it. The messages for a
missing or unreadable folder are the commands' own (unchanged).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.errors import InputError, OutputError, Problem
from allocopt.outputs.runfolder import (
    RunFolder,
    read_frame,
    refuse_inside,
    sha256_file,
    write_csv,
    write_run,
)
from allocopt.results.compare import ComparedRun, Comparison, check_count, compare
from allocopt.results.explain import PlanExplanation, RepExplanation
from allocopt.results.explain import explain_plan as _explain_plan
from allocopt.results.explain import explain_rep as _explain_rep
from allocopt.results.run import RunTables
from allocopt.results.track import Actuals, TrackResult, check_threshold, track_of

__all__ = [
    "TRACK_FILES",
    "compare_runs",
    "default_track_dir",
    "explain_plan",
    "explain_rep",
    "run_tables",
    "track",
    "write_comparison",
    "write_track",
]


def run_tables(
    run_dir: Path,
    tables: Sequence[str] = (),
    documents: Sequence[str] = (),
    *,
    header: str | None = None,
    empty_as_na: bool = False,
) -> RunTables:
    """The manifest and the named tables / JSON documents of a run folder that exist (a results
    function reports one it needs and was not given); InputError (exit 2) under ``header`` for
    a folder without a readable manifest or an unreadable file."""
    rf = RunFolder.open(Path(run_dir), header)
    frames = {n: rf.frame(n, empty_as_na=empty_as_na) for n in tables if (rf.path / n).is_file()}
    docs = {n: rf.json(n) for n in documents if (rf.path / n).is_file()}
    return RunTables(str(run_dir), rf.manifest, frames, docs)


# ---- explain ---------------------------------------------------------------------------------


def _explain_header(run_dir: Path) -> str:
    return f"cannot explain the run folder {run_dir}"


def explain_rep(run_dir: Path, rep_id: str) -> RepExplanation:
    """``allocopt explain RUN --rep R``: :func:`allocopt.results.explain.explain_rep` on the
    run's annual, binding, reps and assignments tables."""
    run = run_tables(
        run_dir,
        ("annual.csv", "binding.csv", "reps.csv", "assignments.csv"),
        header=_explain_header(run_dir),
        empty_as_na=True,
    )
    return _explain_rep(run, rep_id)


def explain_plan(run_dir: Path, *, resolve: bool = True) -> PlanExplanation:
    """``allocopt explain RUN``: the plan view; with ``resolve`` the LP is re-solved from the
    run's manifest (:func:`allocopt.pipeline.relaxed_objective`) for the price of fairness and
    the +1% target steps; with incentives, the expected payout
    (:func:`allocopt.pipeline.plan_payout`: 1,000 draws, seed 0)."""
    from allocopt.pipeline import plan_payout, relaxed_objective

    run = run_tables(
        run_dir,
        ("binding.csv",),
        ("summary.json",),
        header=_explain_header(run_dir),
        empty_as_na=True,
    )
    payout = plan_payout(Path(run_dir))

    def relaxed(changes: dict[str, Any]) -> float | None:
        return relaxed_objective(Path(run_dir), changes)

    return _explain_plan(run, relaxed=relaxed if resolve else None, payout=payout)


# ---- compare ---------------------------------------------------------------------------------


def compare_runs(run_dirs: Sequence[Path]) -> Comparison:
    """``allocopt compare``: read the run folders (every problem of every folder is reported at
    once, exit 2) and :func:`allocopt.results.compare.compare` them."""
    check_count(len(run_dirs))
    problems: list[Problem] = []
    runs: list[ComparedRun] = []
    seen: dict[str, int] = {}
    for path in (Path(p) for p in run_dirs):
        name = path.resolve().name or str(path)
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"
        run = _compared(path, label, problems)
        if run is not None:
            runs.append(run)
    if problems:
        raise InputError(problems)
    return compare(runs)


_COMPARE_IDS = ("rep_id", "team_id", "region_id", "product")


def _compared(path: Path, label: str, problems: list[Problem]) -> ComparedRun | None:
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "not found"
        problems.append(Problem(str(path), "", "", f"run folder {what}; check the path"))
        return None
    n = len(problems)
    hint = "; is this a run folder written by `allocopt solve`?"

    def csv(name: str, need: Sequence[str]) -> pd.DataFrame:
        f = path / name
        if not f.is_file():
            problems.append(Problem(str(f), "", "", "file not found" + hint))
            return pd.DataFrame()
        try:
            df = read_frame(f)
        except (OSError, ValueError) as exc:
            problems.append(Problem(str(f), "", "", f"cannot be read: {exc}"))
            return pd.DataFrame()
        missing = [c for c in need if c not in df.columns]
        if missing:
            problems.append(Problem(str(f), "", "", f"missing columns {', '.join(missing)}" + hint))
        return df

    def js(name: str) -> dict[str, Any]:
        f = path / name
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(Problem(str(f), "", "", "file not found" + hint))
            return {}
        except (OSError, ValueError) as exc:
            problems.append(Problem(str(f), "", "", f"cannot be read: {exc}"))
            return {}
        if not isinstance(data, dict):
            problems.append(Problem(str(f), "", "", "is not a JSON object" + hint))
            return {}
        return data

    annual = csv("annual.csv", [*_COMPARE_IDS, "quota"])
    assignments = csv("assignments.csv", ["account_id", "owner_rep"])
    summary, manifest = js("summary.json"), js("manifest.json")
    if len(problems) > n:
        return None
    annual["quota"] = pd.to_numeric(annual["quota"], errors="coerce")
    return ComparedRun(label, path, annual, assignments, summary, manifest)


def write_comparison(
    df: pd.DataFrame, path: Path, *, force: bool = False, runs: Sequence[Path] = ()
) -> Path:
    """Write ``df`` as CSV (the run folder's writer, :func:`~allocopt.outputs.runfolder.write_csv`)
    atomically; refuse to replace a file without ``force``, and even with it anything but an
    earlier comparison (a folder, an input, a run's file)."""
    for run in runs:
        refuse_inside(path, run, "comparison")
    if os.path.lexists(path) and not force:
        raise OutputError(f"{path} exists already; choose another --out or add --force")
    if os.path.lexists(path):
        head = ""
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                head = f.readline(4096).decode("utf-8", errors="replace")
        cols = head.strip().split(",")
        if not (any(c.startswith("quota_") for c in cols) and "change" in " ".join(cols)):
            raise OutputError(
                f"{path} is not a comparison written by allocopt compare; --force replaces only "
                "an earlier one. Nothing was changed: choose another --out"
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from None
    try:
        write_csv(df, Path(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ---- track -----------------------------------------------------------------------------------

_QUOTA_COLUMNS = ["rep_id", "team_id", "region_id", "product", "period", "quota"]


def _track_run(run_dir: Path) -> RunTables:
    """The run's manifest (with a readable plan), quotas.csv and rollups.csv for ``track``."""
    where = str(run_dir)
    if not run_dir.is_dir():
        raise InputError(Problem(where, "", "", "is not a run folder (no such folder)"))
    mpath = run_dir / "manifest.json"
    qpath = run_dir / "quotas.csv"
    for p in (mpath, qpath):
        if not p.is_file():
            raise InputError(
                Problem(str(p), "", "", "file is missing; RUN_DIR must be a folder made by solve")
            )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        plan = manifest["resolved_scenario"]["plan"]
        dt.date.fromisoformat(str(plan["fiscal_year_start"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            Problem(str(mpath), "", "resolved_scenario.plan", f"cannot be read: {exc}")
        ) from None
    quotas = read_frame(qpath)
    absent = [c for c in _QUOTA_COLUMNS if c not in quotas]
    if absent:
        raise InputError(
            [Problem(str(qpath), "row 1", c, "required column is missing") for c in absent]
        )
    quotas = quotas[_QUOTA_COLUMNS].copy()
    quotas["quota"] = pd.to_numeric(quotas["quota"], errors="coerce").fillna(0.0)
    tables = {"quotas.csv": quotas}
    rpath = run_dir / "rollups.csv"
    if rpath.is_file():
        tables["rollups.csv"] = read_frame(rpath)
    return RunTables(str(run_dir), manifest, tables)


def _actuals(path: Path) -> Actuals:
    from allocopt.data.tables import SPECS, TableSource, read_table

    src = TableSource(path)
    res = read_table(SPECS["actuals"], src)
    if res.problems or res.frame is None:
        raise InputError(res.problems or [Problem(src.label, "", "", "cannot be read")])
    return Actuals(res.frame, src.label, str(path), sha256_file(path))


def track(
    run_dir: Path,
    actuals: Path,
    *,
    as_of: dt.date | None = None,
    at_risk: float = 0.9,
) -> TrackResult:
    """``allocopt track``: the run's quotas and the actuals file, measured by
    :func:`allocopt.results.track.track_of`. InputError (exit 2) for a bad run folder or
    actuals table (located problems)."""
    check_threshold(at_risk)
    run = _track_run(Path(run_dir))
    return track_of(run, _actuals(Path(actuals)), as_of=as_of, at_risk=at_risk)


def default_track_dir(result: TrackResult) -> Path:
    """``<RUN_DIR>-track-<as-of>`` beside the run folder (run folders are never modified)."""
    return result.run_dir.with_name(f"{result.run_dir.name}-track-{result.as_of.isoformat()}")


TRACK_FILES = frozenset(
    {"attainment_reps.csv", "attainment_units.csv", "at_risk.csv", "summary.json"}
)
"""The files of a track folder: ``--force`` replaces only a folder holding nothing else."""


def write_track(result: TrackResult, out: Path | None = None, *, force: bool = False) -> Path:
    """Write the track folder atomically (default ``<RUN_DIR>-track-<as-of>`` beside the run);
    exit 3 if it exists and ``force`` is not given, or if it is not a track folder (the run
    folder, an input folder, …) or lies inside the run folder (never modified)."""
    target = out or default_track_dir(result)
    refuse_inside(target, result.run_dir, "track")
    return write_run(
        target,
        result.files(),
        force=force,
        kinds=("track",),
        names=TRACK_FILES,
        protect=[result.run_dir],
        what="track folder",
    )
