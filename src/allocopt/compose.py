"""Composition of the run-folder commands: open a run folder, hand its tables to results.

Public entry points (the CLI, the web page and tests call these; results functions never open
files): :func:`explain_rep`, :func:`explain_plan`, :func:`compare_runs` (with
:func:`write_comparison`), :func:`track` (with :func:`write_track`), :func:`run_tables`,
:func:`verify_run`, :func:`payout_run` (with :func:`write_payout`, :func:`plan_payout`,
:func:`sweep_sales`), :func:`evaluate_run` (with :func:`write_evaluation`) and
:func:`report_run`.

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.errors import InputError, OutputError, Problem
from allocopt.outputs.runfolder import (
    RunFolder,
    published_plan,
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
from allocopt.results.verify import Verification

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
    run's manifest (:func:`allocopt.pipeline.relaxed_objectives`) for the price of fairness and
    the +1% target steps; with incentives, the expected payout
    (:func:`plan_payout`: 1,000 draws, seed 0)."""
    from allocopt.pipeline import relaxed_objectives

    run = run_tables(
        run_dir,
        ("binding.csv",),
        ("summary.json",),
        header=_explain_header(run_dir),
        empty_as_na=True,
    )
    payout = plan_payout(Path(run_dir))

    relaxed = relaxed_objectives(Path(run_dir))  # reads the inputs once, on its first call
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


# ---- verify: open a run folder and hand its tables to the independent verifier ----


def verify_run(run_dir: Path, *, tol: float = 1e-6) -> Verification:
    """Open a run folder and hand its tables to the independent verifier
    (:func:`allocopt.results.verify.verify`); returns its ``Verification``.

    Raises :class:`~allocopt.errors.InputError` (exit 2) when the run folder, one of its files or
    columns, or an input table is missing. Inputs are located relative to the run folder (then
    at their absolute path) and checked by sha256: a changed input is a violation (checked
    against the current file), a missing one exit 2.
    """
    from allocopt.results import verify as v

    run_dir = Path(run_dir)
    header = f"the run folder {run_dir} cannot be verified"
    rf = RunFolder.open(run_dir, header)
    manifest = rf.manifest
    v.check_manifest(run_dir, manifest)
    tables = {name: v.typed_table(run_dir, name, rf.table(name)) for name in v.RUN_FILES}
    v.recorded_scenario(run_dir, manifest)
    sc, located = rf.data_scenario(strict=False)
    published = None
    summary: dict[str, Any] = {}
    if sc.replan is not None:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        pub = published_plan((run_dir / sc.replan.published).resolve(), str(rf.manifest_path))
        published = v.PublishedTables(pub.annual, pub.quotas, pub.assignments)
    checks = [
        v.InputCheck(loc.name, loc.label, loc.path, loc.expected, loc.actual, loc.status)
        for loc in located
    ]
    inputs = v.RunInputs(
        run_dir,
        manifest,
        tables,
        sc,
        checks,
        base_dir=run_dir,
        published=published,
        summary=summary,
        integrity=rf.integrity(),
        sealed=rf.sealed,
        notes=rf.notes(),
    )
    return v.verify(inputs, tol=tol)


# ---- payout: open the run folder (and actuals or a sweep folder), price the plan in memory ----

SALES_DRAWS = "sales_draws.parquet"  # a plan stress sweep's sales per draw × rep × product


def sweep_sales(sweep_dir: Path, run_dir: Path | None = None) -> tuple[Any, list[str]]:
    """The sales draws of a finished plan stress sweep (``allocopt sweep --plan RUN --draws N``)
    as :class:`~allocopt.results.payout.SalesDraws`, and warnings (e.g. the sweep stressed
    another plan folder). InputError (exit 2) for a folder that is not such a sweep."""
    from allocopt.results.payout import SalesDraws

    sweep_dir = Path(sweep_dir)
    rf = RunFolder.open(sweep_dir, f"cannot read the sweep folder {sweep_dir}", sweep=True)
    summary = rf.manifest.get("summary") or {}
    if rf.kind != "sweep" or summary.get("kind") != "plan":
        raise InputError(
            Problem(
                str(rf.manifest_path),
                "",
                "summary.kind",
                "is not a plan stress sweep; give the --out folder of "
                "`allocopt sweep S.yaml --plan RUN --draws N`",
                str(summary.get("kind") or rf.kind),
            ),
            header=rf.header,
        )
    if not (sweep_dir / SALES_DRAWS).is_file() and summary.get("sales_draws_kept") is False:
        raise InputError(
            Problem(
                str(sweep_dir / SALES_DRAWS),
                "",
                "",
                "the sweep did not keep its draws (more than 5 million draw × rep × product "
                "sales); its payout_reps.csv / payout_units.csv already price them, or sweep "
                "again with fewer --draws",
            ),
            header=rf.header,
        )
    path = rf.file(SALES_DRAWS)
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(
            Problem(str(path), "", "", f"cannot be read: {exc}"), header=rf.header
        ) from None
    reps = tuple(sorted(df["rep_id"].astype(str).unique()))
    prods = tuple(dict.fromkeys(df["product"].astype(str)))
    n_d = int(df["draw"].max()) + 1 if len(df) else 0
    sales = np.zeros((n_d, len(reps), len(prods)))
    ri = {r: i for i, r in enumerate(reps)}
    pj = {p: j for j, p in enumerate(prods)}
    sales[
        df["draw"].to_numpy(dtype=np.int64),
        df["rep_id"].astype(str).map(ri).to_numpy(dtype=np.int64),
        df["product"].astype(str).map(pj).to_numpy(dtype=np.int64),
    ] = df["sales"].to_numpy(dtype=float)
    spec = rf.manifest.get("sweep") or {}
    warnings: list[str] = []
    plan = spec.get("plan")
    if run_dir is not None and plan and Path(plan).resolve() != Path(run_dir).resolve():
        warnings.append(
            f"the sweep {sweep_dir} stressed the plan {plan}, not {run_dir}: the payout prices "
            f"{run_dir}'s quotas against that sweep's sales draws"
        )
    source = {"folder": str(sweep_dir), "plan": plan, "seed": spec.get("seed"), "draws": n_d}
    return SalesDraws(sales, reps, prods, source), warnings


def payout_run(
    run_dir: Path,
    actuals: Path | None = None,
    *,
    sweep_dir: Path | None = None,
    sales: Any = None,
    tracked: Any = None,
    draws: int = 2000,
    seed: int = 0,
    as_of: dt.date | None = None,
) -> Any:
    """Expected variable pay of a run folder (``allocopt payout``): opens the run
    (:func:`allocopt.outputs.plan_tables.payout_tables`), measures ``actuals`` with
    ``allocopt track`` (or takes an already ``tracked`` result), or reads a plan stress
    sweep's sales draws (``sweep_dir``; or ``sales`` given in memory), and calls
    :func:`allocopt.results.payout.payout_of`."""
    from allocopt.outputs.plan_tables import payout_tables
    from allocopt.results.payout import outlook_from_tracking, payout_of

    if actuals is not None and (sweep_dir is not None or sales is not None):
        raise InputError(
            Problem(
                "--sweep",
                "",
                "",
                "give either --actuals (sales to date + uncertainty) or --sweep (the sweep's "
                "draws), not both",
            )
        )
    t = payout_tables(run_dir)
    warnings: list[str] = []
    if sweep_dir is not None:
        sales, warnings = sweep_sales(sweep_dir, run_dir)
    outlook = None
    if sales is None and (actuals is not None or tracked is not None):
        from allocopt.results.track import ALL

        tr = tracked
        if tr is None:
            tr = track(Path(run_dir), Path(actuals or ""), as_of=as_of)
        info = {
            "as_of": tr.as_of.isoformat(),
            "elapsed_share": round(min(1.0, tr.elapsed_share), 6),
            "actuals": tr.summary["actuals"],
        }
        rows = tr.reps[tr.reps["product"] != ALL]
        outlook = outlook_from_tracking(rows, tr.elapsed_share, info, tuple(tr.warnings))
    res = payout_of(
        t.scenario,
        t.reps,
        t.annual,
        outlook=outlook,
        sales=sales,
        draws=draws,
        seed=seed,
        **t.kwargs(),
    )
    if warnings:
        res.warnings = [*warnings, *res.warnings]
        res.summary["warnings"] = list(res.warnings)
    return res


def plan_payout(run_dir: Path, draws: int = 1000) -> Any:
    """The plan's expected payout without actuals (``explain``, the run report: 1,000 draws,
    seed 0), or None when the run has no ``incentives:`` or no readable manifest (the caller
    reports that)."""
    if not (Path(run_dir) / "manifest.json").is_file():
        return None
    if RunFolder.open(Path(run_dir)).scenario().incentives is None:
        return None
    return payout_run(run_dir, draws=draws, seed=0)


def report_run(
    run_dir: Path,
    out: Path | None = None,
    *,
    track_dir: Path | None = None,
    force: bool = False,
    evaluate_dir: Path | None = None,
) -> Path:
    """``allocopt report RUN``: :func:`allocopt.outputs.report.write_report`, once
    :meth:`RunFolder.open` has checked ``run_dir`` holds one plan (a sweep folder is named as
    such; the report itself reads the files directly)."""
    from allocopt.outputs.report import write_report

    if Path(run_dir).is_dir():
        RunFolder.open(Path(run_dir), f"cannot report on {run_dir}")
    return write_report(run_dir, out, track_dir=track_dir, force=force, evaluate_dir=evaluate_dir)


def default_payout_dir(run_dir: Path) -> Path:
    """``<RUN_DIR>-payout`` beside the run folder (run folders are never modified)."""
    run_dir = Path(run_dir)
    return run_dir.with_name(f"{run_dir.name}-payout")


def write_payout(result: Any, out: Path | None = None, *, force: bool = False) -> Path:
    """Write a payout folder atomically; exit 3 if it exists and ``force`` is not given."""
    return write_run(out or default_payout_dir(result.run_dir), result.files(), force=force)


# ---- year-end evaluation: open the run folder, track the actuals, evaluate in memory ----


def evaluate_run(
    run_dir: Path,
    actuals: Path,
    *,
    low: float = 0.9,
    high_quantile: float = 0.75,
    as_of: dt.date | None = None,
) -> Any:
    """``allocopt evaluate``: the actuals tracked against the run, the run's reps and quotas, and
    (with incentives) the payout on these actuals, passed to
    :func:`allocopt.results.evaluate.evaluate_of`."""
    from allocopt.results.evaluate import check_settings, evaluate_of

    check_settings(low, high_quantile)
    run_dir = Path(run_dir)
    tr = track(run_dir, Path(actuals), as_of=as_of)
    rf = RunFolder.open(run_dir, f"cannot evaluate {run_dir}")
    pay = None
    if rf.scenario().incentives is not None:
        pay = payout_run(run_dir, tracked=tr, draws=200, seed=0)
    return evaluate_of(
        tr,
        rf.table("reps.csv"),
        rf.table("quotas.csv"),
        payout=pay,
        low=low,
        high_quantile=high_quantile,
        run_dir=run_dir,
    )


def write_evaluation(
    result: Any,
    out: Path | None = None,
    *,
    force: bool = False,
    finish: Callable[[Path], None] | None = None,
) -> Path:
    """Write the evaluation folder (default ``<RUN_DIR>-evaluate``) atomically; ``finish`` (e.g.
    the report renderer) runs on the complete folder before it is moved into place. Exit 3 if
    it exists without ``force``."""
    target = out or result.run_dir.with_name(f"{result.run_dir.name}-evaluate")
    return write_run(target, result.files(), force=force, finish=finish)
