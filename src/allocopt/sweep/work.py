"""One sweep item, as a Dask worker runs it (also callable in-process).

Public entry point: :func:`run_item`. A worker loads, validates and prepares the base scenario
ONCE — a per-process cache keyed by the sweep's hash (one base per worker at a time) — and then
applies each item's change to the prepared data:

* a named what-if or grid point re-reads only the (small) scenario file; when the item leaves
  every data-related key as the base has it (``data``, ``operations``, ``products``, ``plan``,
  ``replan``, ``targets.units``, locked/forbidden key-account pairs) the base's checked tables are
  reused and only ``prepare`` runs again; otherwise the item is validated from the files;
* a Monte Carlo draw multiplies the base's prepared arrays (:mod:`allocopt.sweep.shocks`).

The item is then solved by :func:`allocopt.pipeline.solve_prepared`, exactly as ``allocopt solve``
solves it. An infeasible or failed item returns its diagnosis; it never raises.
"""

from __future__ import annotations

import time
import traceback
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from allocopt.errors import AllocoptError
from allocopt.pipeline import (
    Infeasible,
    Validated,
    infeasible_files,
    prepared,
    run_files,
    solve_prepared,
    validate,
)
from allocopt.scenario.load import load_scenario
from allocopt.scenario.overrides import Resolved, read_tree
from allocopt.scenario.schema import Scenario
from allocopt.solve import Basis
from allocopt.sweep.define import Definition, Item
from allocopt.sweep.shocks import Selection, apply, as_operations, draw, multipliers, select
from allocopt.sweep.summarise import ItemQuotas

__all__ = ["Job", "forget", "run_item"]


@dataclass(frozen=True)
class Job:
    """What every item of one sweep shares (small and picklable: sent with each task)."""

    path: str
    base_scenarios: tuple[str, ...]
    base_sets: tuple[str, ...]
    hash: str
    seed: int
    keep_runs: bool
    warm_start: bool = False  # every item's quota LP starts from the base's LP basis

    @classmethod
    def of(cls, defn: Definition, keep_runs: bool = False, warm_start: bool = False) -> Job:
        """The job of ``defn``'s items (its file's absolute path: workers may run elsewhere)."""
        return cls(
            str(defn.path.resolve()),
            defn.base_scenarios,
            defn.base_sets,
            defn.hash,
            defn.seed,
            keep_runs,
            warm_start,
        )


@dataclass
class _Base:
    v: Validated
    sels: list[Selection] | None
    read: Resolved  # the scenario file (and its bases) as read, for the items' scenarios
    quotas: ItemQuotas  # an item's quota table and annual quotas
    keys: tuple[str, str] = ("", "")  # the base's _fixed and _prepared_from keys
    basis: Basis | None = None  # the base's quota LP basis (--warm-start), once solved
    basis_tried: bool = False

    def __post_init__(self) -> None:
        d = self.v.loaded.scenario.model_dump(mode="json")
        self.keys = (_fixed(d), _prepared_from(d))


_CACHE: dict[str, _Base] = {}


def base_of(job: Job, given: Validated | None = None) -> _Base:
    """The prepared base of ``job`` (cached per process): ``given`` (the client's, scattered to
    the workers once) or validated here from the files."""
    b = _CACHE.get(job.hash)
    if b is None:
        _CACHE.clear()  # one base per worker at a time
        v = (
            given
            if given is not None
            else validate(Path(job.path), scenarios=job.base_scenarios, sets=job.base_sets)
        )
        unc = v.loaded.scenario.uncertainty
        sels = select(v.md, unc, v.loaded.file, v.loaded.locate) if unc is not None else None
        b = _CACHE[job.hash] = _Base(v, sels, read_tree(Path(job.path)), ItemQuotas(v.md))
    return b


def _base_basis(b: _Base) -> Basis | None:
    """The base scenario's optimal quota-LP basis, solved once per process (``--warm-start``);
    None when the base has none (infeasible, failed, or a decomposed relaxation): items then
    start cold. Every process solves the same base the same way, so every item gets the same
    start whatever the worker count or order."""
    if not b.basis_tried:
        b.basis_tried = True
        basis = Basis()
        # the base's own trouble (infeasible, failed) is reported by its items; they start cold
        with suppress(Exception):
            solve_prepared(b.v.md, {}, lean=True, workers=1, lp_basis=basis)
        b.basis = basis if basis.highs is not None else None
    return b.basis


def forget() -> None:
    """Drop this process's cached base (an in-process sweep calls it when done)."""
    _CACHE.clear()


def _fixed(d: dict[str, Any]) -> str:
    """The data-related keys of a scenario (``model_dump(mode="json")``)."""
    ka = d["rules"]["key_accounts"]
    keep = {k: d.get(k) for k in ("data", "operations", "products", "plan", "replan")}
    keep["units"] = d["targets"]["units"]
    keep["pairs"] = [ka["locked"], ka["forbidden"]]
    return repr(keep)


def _item_validated(job: Job, b: _Base, item: Item) -> Validated:
    path = Path(job.path)
    if item.draw is not None:
        assert b.sels is not None
        md0 = b.v.md
        m = multipliers(md0, b.sels, draw(b.sels, job.seed, item.draw))
        loaded = b.v.loaded
        sc = None
        if job.keep_runs:  # the draw as data operations, so `allocopt verify` can re-derive it
            ops, targets = as_operations(md0, m)
            tree = loaded.scenario.model_dump(mode="json")
            tree["operations"] = [*tree["operations"], *ops]
            tree["targets"]["by_product"] = targets
            sc = Scenario.model_validate_json(_json(tree))
            loaded = replace(loaded, scenario=sc)
        md = apply(md0, m, sc)
        if sc is None:
            loaded = replace(loaded, scenario=md.scenario)
        return prepared(loaded, b.v.dataset, md, summarise=job.keep_runs)
    scen = [*job.base_scenarios, *item.scenarios]
    sets = [*job.base_sets, *item.sets]
    loaded = load_scenario(path, scen, sets, read=b.read)
    sc = loaded.scenario
    d = sc.model_dump(mode="json")
    if _fixed(d) != b.keys[0]:
        return validate(path, scenarios=scen, sets=sets)
    if _prepared_from(d) == b.keys[1]:
        # nothing `prepare` reads has changed but the targets: reuse the prepared arrays
        md0 = b.v.md
        target = np.array([sc.targets.by_product[p] for p in md0.products]) * (
            1 + sc.targets.over_assignment
        )
        md = replace(md0, scenario=sc, target=target)
        return prepared(loaded, replace(b.v.dataset, scenario=sc), md, summarise=job.keep_runs)
    return prepared(loaded, b.v.dataset, summarise=job.keep_runs)


def _prepared_from(d: dict[str, Any]) -> str:
    """The scenario keys that ``prepare`` reads besides the company targets (of a dump)."""
    r = d["rules"]
    keep = {k: d.get(k) for k in ("data", "operations", "products", "plan", "replan")}
    keep["rules"] = [r["capacity"], r["growth"]["basis"], r["key_accounts"]]
    return repr(keep)


def _json(tree: Any) -> str:
    import json

    return json.dumps(tree)


def run_item(job: Job, item: Item, base: Validated | None = None) -> dict[str, Any]:
    """Solve one item. Returns a dict: ``row`` (the sweep.csv fields), ``quotas`` (its rows of
    quotas.parquet, an Arrow table: item, rep, product, period, quota), ``annual`` (its annual
    quotas over the base's reps and products), ``binding`` (rule → binding rows), ``seconds``
    (stage times, the item's CPU seconds ``cpu`` and the worker's peak resident memory so far,
    ``peak_rss_mib``) and ``files`` (a run folder's files, with ``keep_runs``). ``base``: the
    validated base, when the client sends it (see :func:`base_of`). Items not kept as run
    folders are extracted lean (what sweep.csv and quotas.parquet need)."""
    t0, c0 = time.perf_counter(), time.process_time()
    row: dict[str, Any] = {"item": item.id, **dict(item.params)}
    out: dict[str, Any] = {"index": item.index, "row": row, "quotas": None, "binding": {}}
    timings: dict[str, float] = {}
    v: Validated | None = None
    warm = False
    try:
        b = base_of(job, base)
        v = _item_validated(job, b, item)
        timings = dict(v.timings)
        lp_basis = _base_basis(b) if job.warm_start else None
        solved = solve_prepared(v.md, timings, lean=not job.keep_runs, workers=1, lp_basis=lp_basis)
        relaxed = solved.res_q.relaxed
        warm = relaxed is not None and relaxed.warm_start
        res = solved.results
        row.update(_row(solved, v))
        out["quotas"], out["annual"] = b.quotas(item.id, v.md, res)
        out["binding"] = dict(res.summary.get("binding_counts", {}))
        if job.keep_runs:
            out["files"] = run_files(v, solved, timings)
    except Infeasible as inf:
        row.update({"status": "infeasible", "diagnosis": inf.text().strip()})
        out["stage"] = inf.stage
        if job.keep_runs and v is not None:
            out["files"] = infeasible_files(v, inf)
    except AllocoptError as exc:
        row.update({"status": "failed", "diagnosis": exc.render()})
    except Exception as exc:  # never stop the sweep; record what happened
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        row.update({"status": "failed", "diagnosis": f"internal error: {last}"})
    if job.warm_start:  # 1: the quota LP started from the base's basis; 0: cold (other shape)
        timings["warm_start"] = float(warm)
    timings["total"] = round(time.perf_counter() - t0, 4)
    # the process's CPU seconds in the item: steadier than wall time on a shared machine
    timings["cpu"] = round(time.process_time() - c0, 4)
    timings["peak_rss_mib"] = round(_peak_rss_mib(), 1)
    out["seconds"] = timings
    return out


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _annual(res: Any) -> Any:
    """The annual quotas (money) of the results: the lean arrays, else the annual frame's."""
    return res.lean.annual.reshape(-1) if res.lean is not None else res.annual["quota"]


def _row(solved: Any, v: Validated) -> dict[str, Any]:
    res = solved.results
    s = res.summary
    row: dict[str, Any] = {
        "status": solved.status,
        "gap": solved.gap,
        "objective": solved.res_q.objective,
        "total_quota": round(float(_annual(res).sum()), 2),
    }
    for k, val in sorted(s.get("objective_terms", {}).items()):
        row[f"term_{k}"] = val
    for k, val in sorted(s.get("fairness", {}).items()):
        row[f"fairness_{k}"] = val
    for p in v.md.products:
        sens = s.get("target_sensitivity", {}).get(p)
        row[f"price_plus_1pct_{p}"] = sens["plus_1pct"] if sens else None
    row["moved_accounts"] = s.get("key_accounts", {}).get("moved")
    row["diagnosis"] = ""
    if v.md.scenario.incentives is not None:  # the payout against the cushion (sweep/payout.py)
        from allocopt.sweep.payout import item_payout

        try:
            row.update(item_payout(v.md, res, v.dataset.tables.get("incentive_reps")))
        except AllocoptError as exc:  # the plan stands; say why its payout is missing
            row["diagnosis"] = f"payout not computed: {exc.render()}"
    return row
