"""The pipeline: load → validate → prepare → build → solve → extract → verify → write.

Public entry points: :func:`validate` (no solve) and :func:`run` (a full solve writing a run
folder). The CLI only composes these; every stage is timed and reported through ``progress``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt import __version__
from allocopt.data.checks import Dataset, load_data, table_counts
from allocopt.data.prepare import ModelData, prepare
from allocopt.diagnose import Finding, diagnose_infeasible, prechecks, reach_warnings
from allocopt.errors import InfeasibleError, InputError, Problem, SolverError
from allocopt.model.build import Built, build_alignment, build_quotas
from allocopt.model.rules.key_accounts import incumbent_start
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.outputs.runfolder import (
    Content,
    OutputClaim,
    RunFolder,
    default_run_dir,
    input_record,
    published_plan,
    write_run,
)
from allocopt.results.extract import Results, alignment_owner, extract
from allocopt.scenario.load import LoadedScenario, load_scenario
from allocopt.solve import (
    Basis,
    Compiled,
    SolveResult,
    check_solver,
    highs_options,
    highs_version,
    quota_objective,
    solve,
)

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


@dataclass
class Validated:
    """A loaded, checked scenario with its data and a summary for the analyst."""

    loaded: LoadedScenario
    dataset: Dataset
    md: ModelData
    summary: dict[str, Any]
    warnings: list[str]
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress) -> Iterator[None]:
    progress(stage)
    t = time.perf_counter()
    yield
    timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - t, 4)


def _prepare(ds: Dataset) -> ModelData:
    """:func:`~allocopt.data.prepare.prepare`, handing a re-plan the published plan's tables
    (the data stage never opens run folders)."""
    rp = ds.scenario.replan
    if rp is None:
        return prepare(ds)
    return prepare(ds, published_plan((ds.base_dir / rp.published).resolve()))


def validate(
    path: Path,
    progress: Progress = _quiet,
    *,
    scenarios: Sequence[str] = (),
    sets: Sequence[str] = (),
) -> Validated:
    """Load and check a scenario and its data; summarise it. Raises InputError on bad input."""
    timings: dict[str, float] = {}
    with _timed(timings, "load", progress):
        loaded = load_scenario(path, scenarios, sets)
    with _timed(timings, "validate", progress):
        ds = load_data(loaded.scenario, loaded.base_dir, loaded.file, loaded.locate)
        md = _prepare(ds)
    summary, warnings = _summary(ds, md)
    return Validated(loaded, ds, md, summary, warnings, timings)


def prepared(
    loaded: LoadedScenario,
    dataset: Dataset,
    md: ModelData | None = None,
    *,
    summarise: bool = True,
) -> Validated:
    """A :class:`Validated` for a scenario whose tables are already read and checked (a sweep
    reuses its base's tables when an item changes no data-related key); ``md`` defaults to
    ``prepare`` of the dataset with the scenario of ``loaded``. ``summarise=False``: no summary
    or warnings (left empty; a sweep item that writes no run folder reads neither)."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    if md is None:
        ds = dataset if dataset.scenario is loaded.scenario else _with_scenario(dataset, loaded)
        md = _prepare(ds)
    else:
        ds = dataset
    timings["validate"] = round(time.perf_counter() - t, 4)
    summary, warnings = _summary(ds, md) if summarise else ({}, [])
    return Validated(loaded, ds, md, summary, warnings, timings)


def _with_scenario(dataset: Dataset, loaded: LoadedScenario) -> Dataset:
    import dataclasses

    return dataclasses.replace(dataset, scenario=loaded.scenario)


def _summary(ds: Dataset, md: ModelData) -> tuple[dict[str, Any], list[str]]:
    sc = md.scenario
    eff = quota_sets(md, alignment_from_incumbents(md)).eff_base
    products = {
        p: {
            "target": float(sc.targets.by_product[p]),
            "target_with_cushion": float(md.target[j]),
            "potential": float(md.potential[:, j].sum()),
            "key_account_revenue": float(md.ka_revenue[:, j].sum()),
            "effective_base": float(eff[:, j].sum()),
        }
        for j, p in enumerate(md.products)
    }
    total_target = float(md.target.sum())
    cap = float(md.capacity.sum())
    summary = {
        "scenario": sc.name,
        "rows": table_counts(ds),
        "reps": md.n_reps,
        "key_accounts": len(md.ka_ids),
        "eligible_pairs": len(md.pairs),
        "products": products,
        "total_target_with_cushion": total_target,
        "total_ramped_capacity": cap,
        "capacity_cover": cap / total_target if total_target else None,
    }
    return summary, reach_warnings(md, eff)


@dataclass
class RunOutcome:
    """What a solve produced."""

    run_dir: Path
    results: Results
    status: str
    gap: float | None
    timings: dict[str, float]
    manifest: dict[str, Any]
    warnings: list[str]


class Infeasible(Exception):
    """A model of :func:`solve_prepared` has no solution: the stage, the findings that explain
    why, and extra JSON-able detail (the IIS rows and columns)."""

    def __init__(
        self, stage: str, findings: list[Finding], extra: dict[str, Any] | None = None
    ) -> None:
        self.stage = stage
        self.findings = findings
        self.extra = extra or {}
        super().__init__(self.text())

    @property
    def head(self) -> str:
        return (
            "the plan is infeasible: the rules cannot all hold at once"
            if self.stage == "pre-checks"
            else f"the {self.stage} model is infeasible: the rules cannot all hold at once"
        )

    @property
    def lines(self) -> list[str]:
        return [f.text() for f in self.findings] or [
            "no smaller conflicting set could be isolated; run `allocopt validate` and relax a rule"
        ]

    def text(self) -> str:
        """The diagnosis as written to ``infeasible.txt``."""
        by = "the pre-checks" if self.stage == "pre-checks" else "the solver"
        return (
            self.head + f" (found by {by}):\n" + "\n".join(f"  - {ln}" for ln in self.lines) + "\n"
        )


def _infeasible(
    claim: OutputClaim,
    v: Validated,
    findings: list[Finding],
    stage: str,
    extra: dict[str, Any] | None = None,
) -> InfeasibleError:
    """Write the diagnosis and build the error to raise (exit 1).

    The diagnosis goes to the claimed run folder, unless that replaces (``--force``) a folder
    holding a plan: the plan is kept and the diagnosis goes to ``--diagnosis-out`` or, by
    default, to the sibling ``<out>.infeasible-<YYYYmmdd-HHMMSS>``."""
    inf = Infeasible(stage, findings, extra)
    files = infeasible_files(v, inf)
    keep = claim.replacing and _holds_plan(claim.target)
    if claim.diagnosis_out is not None:
        claim.abandon()
        where = write_run(claim.diagnosis_out, files, force=claim.force, protect=claim.protect)
        note = f"diagnosis written to {where}"
    elif keep:
        claim.abandon()
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        sibling = claim.target.with_name(f"{claim.target.name}.infeasible-{stamp}")
        where = write_run(sibling, files, unique=True, protect=claim.protect)
        note = (
            f"diagnosis written to {where}; the plan in {claim.target} was kept "
            "(--diagnosis-out DIR puts the diagnosis elsewhere)"
        )
    else:
        where = claim.commit(files)
        note = f"diagnosis written to {where}"
    return InfeasibleError(inf.head, details=[*inf.lines, note])


def _holds_plan(folder: Path) -> bool:
    """The folder is a run folder with a plan (not only a diagnosis)."""
    return (folder / "quotas.csv").is_file() and not (folder / "infeasible.json").exists()


def infeasible_files(v: Validated, inf: Infeasible) -> dict[str, Content]:
    """The files of a run folder for an infeasible scenario: the diagnosis and the manifest."""
    payload = {"stage": inf.stage, "findings": [f.as_dict() for f in inf.findings], **inf.extra}
    manifest = _manifest(v, None, None, "infeasible", None, dict(v.timings))
    return {"infeasible.json": payload, "infeasible.txt": inf.text(), "manifest.json": manifest}


def _check(
    res: SolveResult,
    comp: Compiled | None,
    stage: str,
    md: ModelData,
    given: float | None = None,
) -> None:
    """Raise :class:`Infeasible` (with the diagnosis) or SolverError when ``res`` has no
    solution. ``given``: the seconds of ``solver.time_limit`` the stage had (said in the message
    when it ran out of time, with the limit, so the planner knows what to raise it to)."""
    if res.has_solution:
        return
    if res.status in ("infeasible", "infeasible_or_unbounded") and comp is not None:
        raise Infeasible(stage, *diagnose_infeasible(comp, md))
    if res.status == "time_limit":
        limit = md.scenario.solver.time_limit
        details = [
            f"solver.time_limit is {limit:g} s for the whole solve, from loading the files on"
            + (f"; the {stage} stage was given {given:.1f} s" if given is not None else "")
            + "; no run folder was written",
            "raise it in the scenario (solver: {time_limit: ...}) or with --set "
            f"solver.time_limit=SECONDS (e.g. {max(2 * limit, 60):g})",
        ]
        if res.message.startswith("time limit reached"):  # solve says which step ran out
            raise SolverError(f"the {stage} model: {res.message}", details=details)
        raise SolverError(
            f"the {stage} model found no solution within the time limit; raise solver.time_limit",
            details=details,
        )
    raise SolverError(f"the solver failed on the {stage} model: {res.message or res.status}")


@dataclass
class Solved:
    """What :func:`solve_prepared` produced: the result tables and both stages' solver results."""

    results: Results
    status: str
    gap: float | None
    res_q: SolveResult
    res_a: SolveResult | None


def solve_prepared(
    md: ModelData,
    timings: dict[str, float],
    *,
    progress: Progress = _quiet,
    write_model: Path | None = None,
    lean: bool = False,
    workers: int | None = None,
    lp_basis: Basis | None = None,
) -> Solved:
    """Pre-checks → key-account alignment → quotas → extract, on prepared model data.

    ``lean``: extract only what a sweep item needs (:func:`~allocopt.results.extract.extract`).
    ``workers``: processes for the blocks and pricing packs instead of ``solver.workers`` (a
    sweep item passes 1: the sweep runs items in parallel, and a Dask worker may not fork).
    ``lp_basis``: the quota LP relaxation's start basis, or an empty one to record it in (a
    sweep's ``--warm-start``; :class:`~allocopt.solve.highs.Basis`).

    ``solver.time_limit`` bounds the whole solve from the start of loading (the time already in
    ``timings`` counts): the key-account alignment gets at most half of what is left, the quota
    stage all that is left after it. Stage times are added to ``timings``. Raises
    :class:`Infeasible` (with the diagnosis) when the rules cannot all hold, :class:`SolverError`
    when the solver fails. Writes nothing (except ``write_model``)."""
    sc = md.scenario
    started = time.perf_counter() - sum(timings.values())  # loading and validating count
    with _timed(timings, "pre-checks", progress):
        findings = prechecks(md)
    if findings:
        raise Infeasible("pre-checks", findings)
    opts = highs_options(sc.solver.time_limit, sc.solver.mip_gap, sc.solver.threads, sc.solver.seed)
    n_workers = workers if workers is not None else sc.solver.workers or _cores()

    def left() -> float:
        return sc.solver.time_limit - (time.perf_counter() - started)

    res_a: SolveResult | None = None
    built_a: Built | None = None
    comp_a = None
    with _timed(timings, "build", progress):
        built_a = build_alignment(md)
    if built_a is not None:
        with _timed(timings, "solve", progress):
            wm = (
                write_model.with_name(write_model.stem + "-alignment" + write_model.suffix)
                if write_model
                else None
            )
            # from the incumbents (a plan at hand when the time limit comes first), by the
            # independent blocks of the candidate graph above a size (solve/alignment.py)
            res_a, comp_a = solve(
                built_a.model,
                {**opts, "time_limit": max(1.0, 0.5 * left())},  # the quotas get the rest
                solver=sc.solver.name,
                write_model=wm,
                progress=progress,
                start=incumbent_start(built_a.model, md),
                components=True,
                block_size=sc.solver.alignment_block_size,
                workers=n_workers,
            )
        _check(res_a, comp_a, "key-account alignment", md, res_a.options.get("time_limit"))
        owner = alignment_owner(md, built_a, res_a)
    else:
        owner = alignment_from_incumbents(md)
    qs = quota_sets(md, owner)
    with _timed(timings, "build", progress):
        built_q = build_quotas(qs)
    remaining = max(1.0, left())
    with _timed(timings, "solve", progress):
        res_q, comp_q = solve(
            built_q.model,
            {**opts, "time_limit": remaining},
            solver=sc.solver.name,
            write_model=write_model,
            neighbourhood=True,
            link_unit=sc.rules.rounding.unit if sc.rules.rounding.enabled else None,
            progress=progress,
            block_size=sc.solver.block_size,
            workers=n_workers,
            decompose_above=sc.solver.decompose_above,
            lp_basis=lp_basis,
        )
    _check(res_q, comp_q, "quota", md, remaining)
    assert comp_q is not None
    with _timed(timings, "extract", progress):
        results = extract(md, qs, built_q, comp_q, res_q, built_a, comp_a, res_a, lean=lean)
    status, gap = _status(res_q, res_a)
    return Solved(results, status, gap, res_q, res_a)


def run_files(v: Validated, solved: Solved, timings: dict[str, float]) -> dict[str, Content]:
    """The files of a run folder for a solved scenario (results, summary and manifest)."""
    results, status, gap = solved.results, solved.status, solved.gap
    manifest = _manifest(v, solved.res_q, solved.res_a, status, gap, timings)
    results.summary["status"] = status
    results.summary["gap"] = gap
    results.summary["warnings"] = v.warnings
    manifest["timings"] = timings
    files: dict[str, Content] = {
        "quotas.csv": results.quotas,
        "annual.csv": results.annual,
        "reps.csv": results.reps,
        "rollups.csv": results.rollups,
        "assignments.csv": results.assignments,
        "binding.csv": results.binding,
        "summary.json": results.summary,
        "manifest.json": manifest,
    }
    if results.replan is not None:
        files["replan.csv"] = results.replan
    return files


def run(
    path: Path,
    *,
    out: Path | None = None,
    force: bool = False,
    write_model: Path | None = None,
    progress: Progress = _quiet,
    scenarios: Sequence[str] = (),
    sets: Sequence[str] = (),
    report: bool = True,
    diagnosis_out: Path | None = None,
) -> RunOutcome:
    """Validate, solve both stages, extract, verify and write a run folder.

    The output is claimed before solving (:class:`~allocopt.outputs.runfolder.OutputClaim`):
    ``out`` must not exist (or, with ``force``, be an allocopt run folder holding none of the
    inputs); without ``out`` a fresh timestamped name is taken. An infeasible result writes its
    diagnosis (to ``diagnosis_out`` when given; never over a plan, see :func:`_infeasible`).
    """
    v = validate(path, progress, scenarios=scenarios, sets=sets)
    md = v.md
    sc = md.scenario
    run_dir = out or default_run_dir(v.loaded.base_dir / sc.output.directory, sc.name)
    check_solver(sc.solver.name, v.loaded.file, v.loaded.locate(("solver", "name")))
    protect = _protected(v)
    if md.replan is not None:
        _check_published(md.replan.run_dir)
    with OutputClaim(run_dir, force=force, unique=out is None, protect=protect) as claim:
        claim.diagnosis_out = diagnosis_out
        return _run(v, claim, write_model, progress, report)


def _protected(v: Validated) -> list[Path]:
    """Paths ``--force`` must never replace: the scenario file(s), tables, published plan."""
    ld = v.loaded
    paths = [Path(ld.path), *(Path(f) for f in getattr(ld, "files", []))]
    paths += [src.path for src in v.dataset.sources.values()]
    if v.md.replan is not None:
        paths.append(v.md.replan.run_dir)
    return paths


def _check_published(folder: Path) -> None:
    """A re-plan's published run folder must be unedited (when it records its hashes)."""
    if not (folder / "manifest.json").is_file():
        return
    rf = RunFolder.open(folder, f"the published plan {folder} cannot be used")
    bad = rf.integrity()
    if bad:
        raise InputError(
            [Problem(str(folder), "", "replan.published", b) for b in bad],
            header=f"the published plan {folder} was edited after it was written; restore it "
            "(or solve it again) before re-planning from it",
        )


def _run(
    v: Validated,
    claim: OutputClaim,
    write_model: Path | None,
    progress: Progress,
    report: bool,
) -> RunOutcome:
    timings = dict(v.timings)
    try:
        solved = solve_prepared(v.md, timings, progress=progress, write_model=write_model)
    except Infeasible as inf:
        raise _infeasible(claim, v, inf.findings, inf.stage, inf.extra) from None
    with _timed(timings, "write", progress):
        files = run_files(v, solved, timings)

        def _report(folder: Path) -> None:
            from allocopt.outputs.report import render_report

            html = render_report(folder, run_name=claim.target.name)
            (folder / "report.html").write_text(html, encoding="utf-8", newline="\n")

        run_dir = claim.commit(files, finish=_report if report else None)
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return RunOutcome(
        run_dir, solved.results, solved.status, solved.gap, timings, manifest, v.warnings
    )


def _status(res_q: SolveResult, res_a: SolveResult | None) -> tuple[str, float | None]:
    parts = [r for r in (res_a, res_q) if r is not None]
    status = (
        "optimal"
        if all(r.status == "optimal" for r in parts)
        else "time_limit"
        if any(r.status == "time_limit" for r in parts)
        else "feasible"
        if all(r.status in ("optimal", "feasible") for r in parts)
        else parts[-1].status
    )
    gaps = [r.gap for r in parts if r.is_mip and r.gap is not None]
    return status, (max(gaps) if gaps else (0.0 if status == "optimal" else None))


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; the CPU count elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cores() -> int:
    """``solver.workers`` unset: :func:`available_cores`, at most 8."""
    return min(available_cores(), 8)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    import pydantic

    return {
        "allocopt": __version__,
        "python": platform.python_version(),
        "pyomo": version("pyomo"),  # not `import pyomo` (1 s, it imports scipy.stats)
        "highs": highs_version(),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "pydantic": pydantic.__version__,
    }


def _manifest(
    v: Validated,
    res_q: SolveResult | None,
    res_a: SolveResult | None,
    status: str,
    gap: float | None,
    timings: dict[str, float],
) -> dict[str, Any]:
    ld = v.loaded
    inputs = {"scenario": input_record(str(ld.path), Path(ld.path))}
    for k, base in enumerate(getattr(ld, "files", [])[1:], start=1):
        inputs[f"scenario_base_{k}"] = input_record(str(base), Path(base))
    for name, src in sorted(v.dataset.sources.items()):
        inputs[name] = input_record(src.label, src.path)
    replan_of = None
    if v.md.replan is not None:
        replan_of = str(v.md.replan.run_dir)
        sc = v.loaded.scenario
        assert sc.replan is not None
        inputs["published"] = input_record(sc.replan.published, v.md.replan.run_dir, folder=True)
    return {
        "kind": "run",
        "replan_of": replan_of,
        "scenario": ld.scenario.name,
        "resolved_scenario": ld.scenario.model_dump(mode="json"),
        "changes": ld.changes,
        "data_changes": list(getattr(v.dataset, "changes", [])),
        "inputs": inputs,
        "versions": _versions(),
        "status": status,
        "gap": gap,
        "stages": {
            "alignment": res_a.summary() if res_a is not None else None,
            "quotas": res_q.summary() if res_q is not None else None,
        },
        "timings": timings,
    }


def rebuild(run_dir: Path, changes: dict[str, Any] | None = None) -> tuple[ModelData, np.ndarray]:
    """Model data of a run (its resolved scenario and inputs, with dotted ``changes`` applied) and
    its key-account alignment, for re-solves such as the price of fairness."""
    rf = RunFolder.open(run_dir, f"cannot re-solve the run folder {run_dir}")
    located, _ = rf.data_scenario(strict=True)  # inputs found from anywhere, checked by sha256
    md = _prepare(load_data(_changed(located, changes or {}), rf.path))
    return md, _owners(md, rf.table("assignments.csv"))


def _changed(located: Any, changes: dict[str, Any]) -> Any:
    """The scenario ``located`` with dotted ``changes`` applied, validated."""
    from allocopt.scenario.overrides import set_keys
    from allocopt.scenario.schema import Scenario

    tree = set_keys(located.model_dump(mode="json"), changes, "rebuild")
    return Scenario.model_validate_json(json.dumps(tree))


def _owners(md: ModelData, asg: pd.DataFrame) -> np.ndarray:
    """The run's key-account owners (``assignments.csv``) as rep indices of ``md`` (−1: none)."""
    ridx = md.rep_index()
    aidx = {a: i for i, a in enumerate(md.ka_ids)}
    owner = np.full(len(md.ka_ids), -1, dtype=np.int64)
    for acc, rep in zip(asg["account_id"], asg["owner_rep"], strict=True):
        if acc in aidx and rep in ridx:
            owner[aidx[acc]] = ridx[rep]
    return owner


def relaxed_objective(run_dir: Path, changes: dict[str, Any]) -> float | None:
    """Objective of the run's quota LP (rounding relaxed) with ``changes``; None if infeasible."""
    return relaxed_objectives(run_dir)(changes)


def relaxed_objectives(run_dir: Path) -> Callable[[dict[str, Any]], float | None]:
    """:func:`relaxed_objective` for many ``changes`` of one run (explain's re-solves).

    The run folder, its inputs (sha256-checked) and their tables are read and checked once, on
    the first call; each call prepares them under its changed scenario (data and operations
    unchanged; else they are read again) and solves the LP, its Dantzig–Wolfe pricing in
    ``solver.workers`` processes — the same result, to the bit (20k reps, idle: 43.0 → 32.3 s
    for explain's seven re-solves with two workers).
    """
    import dataclasses

    base: list[Any] = []  # RunFolder, located scenario, its Dataset, assignments.csv

    def objective(changes: dict[str, Any]) -> float | None:
        if not base:
            rf = RunFolder.open(run_dir, f"cannot re-solve the run folder {run_dir}")
            located, _ = rf.data_scenario(strict=True)
            base.extend([rf, located, load_data(located, rf.path), rf.table("assignments.csv")])
        rf, located, ds, asg = base
        sc = _changed(located, {**changes, "rules.rounding.enabled": False})
        same = sc.data == located.data and sc.operations == located.operations
        md = _prepare(dataclasses.replace(ds, scenario=sc) if same else load_data(sc, rf.path))
        return quota_objective(md, _owners(md, asg), workers=sc.solver.workers or _cores())

    return objective
