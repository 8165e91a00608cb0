"""The pipeline: load → validate → prepare → build → solve → extract → verify → write.

Public entry points: :func:`validate` (no solve) and :func:`run` (a full solve writing a run
folder). The CLI only composes these; every stage is timed and reported through ``progress``.
"""

from __future__ import annotations

import hashlib
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
from allocopt.diagnose import Finding, compute_iis, explain_iis, prechecks, rounding_conflict
from allocopt.errors import InfeasibleError, OutputError, SolverError
from allocopt.model.build import Built, build_alignment, build_quotas
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.outputs.runfolder import Content, default_run_dir, write_run
from allocopt.results.extract import Results, extract
from allocopt.scenario.load import LoadedScenario, load_scenario
from allocopt.solve import Compiled, SolveResult, highs_options, highs_version
from allocopt.solve import solve as _solve_direct

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
        md = prepare(ds)
    summary, warnings = _summary(ds, md)
    return Validated(loaded, ds, md, summary, warnings, timings)


def _summary(ds: Dataset, md: ModelData) -> tuple[dict[str, Any], list[str]]:
    sc = md.scenario
    eff = quota_sets(md, alignment_from_incumbents(md)).eff_base
    products = {}
    warnings: list[str] = []
    for j, p in enumerate(md.products):
        products[p] = {
            "target": float(sc.targets.by_product[p]),
            "target_with_cushion": float(md.target[j]),
            "potential": float(md.potential[:, j].sum()),
            "key_account_revenue": float(md.ka_revenue[:, j].sum()),
            "effective_base": float(eff[:, j].sum()),
        }
        if sc.rules.potential.enabled:
            reach = sc.rules.potential.max_share * eff[:, j].sum()
            if md.target[j] > reach + 1e-6:
                warnings.append(
                    f"product {p}: target with cushion {md.target[j]:,.0f} is above "
                    f"{sc.rules.potential.max_share:g} × effective base {eff[:, j].sum():,.0f} = "
                    f"{reach:,.0f}: out of reach under the potential rule"
                )
    total_target = float(md.target.sum())
    cap = float(md.capacity.sum())
    if sc.rules.capacity.enabled and total_target > cap + 1e-6:
        warnings.append(
            f"total target with cushion {total_target:,.0f} is above the reps' total ramped "
            f"capacity {cap:,.0f}: out of reach under the capacity rule"
        )
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
    return summary, warnings


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


def _hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _infeasible(
    run_dir: Path,
    v: Validated,
    findings: list[Finding],
    stage: str,
    force: bool,
    extra: dict[str, Any] | None = None,
) -> InfeasibleError:
    """Write the diagnosis into a run folder and build the error to raise (exit 1)."""
    head = (
        "the plan is infeasible: the rules cannot all hold at once"
        if stage == "pre-checks"
        else f"the {stage} model is infeasible: the rules cannot all hold at once"
    )
    lines = [f.text() for f in findings] or [
        "no smaller conflicting set could be isolated; run `allocopt validate` and relax a rule"
    ]
    text = head + f" (found by {'the pre-checks' if stage == 'pre-checks' else 'the solver'}):\n"
    text += "\n".join(f"  - {ln}" for ln in lines) + "\n"
    payload = {"stage": stage, "findings": [f.as_dict() for f in findings], **(extra or {})}
    manifest = _manifest(v, None, None, "infeasible", None, dict(v.timings))
    write_run(
        run_dir,
        {"infeasible.json": payload, "infeasible.txt": text, "manifest.json": manifest},
        force=force,
    )
    return InfeasibleError(head, details=[*lines, f"diagnosis written to {run_dir}"])


def _check(
    res: SolveResult, comp: Compiled | None, stage: str, v: Validated, run_dir: Path, force: bool
) -> None:
    if res.has_solution:
        return
    if res.status in ("infeasible", "infeasible_or_unbounded") and comp is not None:
        iis = compute_iis(comp)
        findings = explain_iis(comp.model, iis, v.md) if iis is not None else []
        if not findings:
            findings = rounding_conflict(comp, v.md)
        extra = {}
        if iis is not None:
            extra["iis"] = {
                "rows": [
                    {"component": c, "index": i, "side": side}
                    for (c, i), side in zip(
                        (comp.model.row_name(int(r)) for r in iis.rows), iis.row_sides, strict=True
                    )
                ],
                "columns": [
                    {"component": c, "index": i, "side": side}
                    for (c, i), side in zip(
                        (comp.model.col_name(int(j)) for j in iis.cols), iis.col_sides, strict=True
                    )
                ],
            }
        raise _infeasible(run_dir, v, findings, stage, force, extra)
    if res.status == "time_limit":
        raise SolverError(
            f"the {stage} model found no solution within the time limit; raise solver.time_limit"
        )
    raise SolverError(f"the solver failed on the {stage} model: {res.message or res.status}")


def solve(
    model: Any,
    options: dict[str, Any],
    *,
    solver: str = "highs",
    write_model: Path | None = None,
    **kwargs: Any,
) -> tuple[SolveResult, Compiled | None]:
    """Dispatch: ``highs`` → the direct path; any other name → Pyomo (the full model, with an LP
    relaxation first when rounding would use the neighbourhood). ``*.lp`` → Pyomo's LP writer."""
    if write_model is not None and write_model.suffix.lower() == ".lp":
        from allocopt.solve_pyomo import write_lp

        write_lp(model, write_model)
        write_model = None
    if solver == "highs":
        return _solve_direct(model, options, write_model=write_model, **kwargs)
    from allocopt.solve_pyomo import solve_pyomo

    if write_model is not None:  # .mps: written by HiGHS, as on the direct path
        _solve_direct(model, {**options, "time_limit": 1e-3}, write_model=write_model)
    return solve_pyomo(model, solver, options, relax_first=bool(kwargs.get("neighbourhood")))


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
) -> RunOutcome:
    """Validate, solve both stages, extract, verify and write a run folder."""
    v = validate(path, progress, scenarios=scenarios, sets=sets)
    timings = dict(v.timings)
    md = v.md
    sc = md.scenario
    run_dir = out or default_run_dir(v.loaded.base_dir / sc.output.directory, sc.name)
    if run_dir.exists() and not force:
        raise OutputError(f"{run_dir} exists already; choose another --out or add --force")
    with _timed(timings, "pre-checks", progress):
        findings = prechecks(md)
    if findings:
        raise _infeasible(run_dir, v, findings, "pre-checks", force)
    if sc.solver.name != "highs":
        from allocopt.solve_pyomo import check_solver

        check_solver(sc.solver.name, v.loaded.file, v.loaded.locate(("solver", "name")))
    opts = highs_options(sc.solver.time_limit, sc.solver.mip_gap, sc.solver.threads, sc.solver.seed)
    started = time.perf_counter()

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
            res_a, comp_a = solve(
                built_a.model, opts, solver=sc.solver.name, write_model=wm, progress=progress
            )
        _check(res_a, comp_a, "key-account alignment", v, run_dir, force)
        assert res_a.col_values is not None
        chosen = built_a.model.vars["assign"].values(res_a.col_values) > 0.5
        owner = np.full(len(md.ka_ids), -1, dtype=np.int64)
        owner[md.pairs.acc[chosen]] = md.pairs.rep[chosen]
    else:
        owner = alignment_from_incumbents(md)
    qs = quota_sets(md, owner)
    with _timed(timings, "build", progress):
        built_q = build_quotas(qs)
    remaining = max(1.0, sc.solver.time_limit - (time.perf_counter() - started))
    with _timed(timings, "solve", progress):
        res_q, comp_q = solve(
            built_q.model,
            {**opts, "time_limit": remaining},
            solver=sc.solver.name,
            write_model=write_model,
            neighbourhood=True,
            link=("target", sc.rules.rounding.unit) if sc.rules.rounding.enabled else None,
            progress=progress,
        )
    _check(res_q, comp_q, "quota", v, run_dir, force)
    assert comp_q is not None
    with _timed(timings, "extract", progress):
        results = extract(md, qs, built_q, comp_q, res_q, built_a, comp_a, res_a)
    status, gap = _status(res_q, res_a)
    manifest = _manifest(v, res_q, res_a, status, gap, timings)
    results.summary["status"] = status
    results.summary["gap"] = gap
    results.summary["warnings"] = v.warnings
    with _timed(timings, "write", progress):
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
        write_run(run_dir, files, force=force, finish=_report if report else None)
    return RunOutcome(run_dir, results, status, gap, timings, manifest, v.warnings)


def _report(folder: Path) -> None:
    from allocopt.outputs.report import write_report

    write_report(folder, folder / "report.html")


def _status(res_q: SolveResult, res_a: SolveResult | None) -> tuple[str, float | None]:
    parts = [r for r in (res_a, res_q) if r is not None]
    status = (
        "optimal"
        if all(r.status == "optimal" for r in parts)
        else "time_limit"
        if any(r.status == "time_limit" for r in parts)
        else parts[-1].status
    )
    gaps = [r.gap for r in parts if r.is_mip and r.gap is not None]
    return status, (max(gaps) if gaps else (0.0 if status == "optimal" else None))


def _versions() -> dict[str, str]:
    import pydantic
    import pyomo.version

    return {
        "allocopt": __version__,
        "python": platform.python_version(),
        "pyomo": str(pyomo.version.version),
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
    inputs = {"scenario": {"path": str(ld.path), "sha256": _hash(ld.path)}}
    for k, base in enumerate(getattr(ld, "files", [])[1:], start=1):
        inputs[f"scenario_base_{k}"] = {"path": str(base), "sha256": _hash(Path(base))}
    for name, src in sorted(v.dataset.sources.items()):
        inputs[name] = {"path": src.label, "sha256": _hash(src.path)}
    replan_of = None
    if v.md.replan is not None:
        replan_of = str(v.md.replan.run_dir)
    return {
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
    import json

    from allocopt.scenario.schema import Scenario

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    tree = manifest["resolved_scenario"]
    for key, value in (changes or {}).items():
        node = tree
        *head, last = key.split(".")
        for part in head:
            node = node[part]
        node[last] = value
    sc = Scenario.model_validate_json(json.dumps(tree))
    base_dir = Path(manifest["inputs"]["scenario"]["path"]).parent
    md = prepare(load_data(sc, base_dir))
    asg = pd.read_csv(run_dir / "assignments.csv", dtype=str, keep_default_na=False)
    ridx = md.rep_index()
    aidx = {a: i for i, a in enumerate(md.ka_ids)}
    owner = np.full(len(md.ka_ids), -1, dtype=np.int64)
    for acc, rep in zip(asg["account_id"], asg["owner_rep"], strict=True):
        if acc in aidx and rep in ridx:
            owner[aidx[acc]] = ridx[rep]
    return md, owner


def relaxed_objective(run_dir: Path, changes: dict[str, Any]) -> float | None:
    """Objective of the run's quota LP (rounding relaxed) with ``changes``; None if infeasible."""
    md, owner = rebuild(run_dir, {**changes, "rules.rounding.enabled": False})
    sc = md.scenario
    built = build_quotas(quota_sets(md, owner))
    opts = highs_options(sc.solver.time_limit, sc.solver.mip_gap, sc.solver.threads, sc.solver.seed)
    res, _ = solve(built.model, opts)
    return res.objective if res.has_solution else None
