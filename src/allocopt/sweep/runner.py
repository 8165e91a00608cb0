"""Run a sweep on Dask distributed and write the sweep folder.

Public entry point: :func:`run_sweep`. The items of a :class:`~allocopt.sweep.define.Definition`
are mapped onto a Dask cluster — a local one (``LocalCluster``: processes, one thread each, no
dashboard) or an existing scheduler (``--scheduler tcp://host:port``) — and each finished item is
persisted at once in a hidden work folder next to the target (``.NAME.sweep-work/item-0007.json``
and ``.parquet``), so ``--resume`` can finish an interrupted sweep without redoing finished
items (when the sweep's hash — definition and input contents — matches). The sweep folder is
written atomically with :func:`allocopt.outputs.runfolder.write_run` once every item is done;
results are assembled in item order, so the files are the same bytes whatever the worker count
or completion order (timings, which do vary, go to ``timings.csv`` only).

A plan stress (``--plan``) needs no solve: it runs in-process, vectorised
(:mod:`allocopt.sweep.summarise`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.errors import AllocoptError, InputError, OutputError, Problem
from allocopt.outputs.runfolder import default_run_dir, write_run
from allocopt.sweep.define import Definition
from allocopt.sweep.work import Job, quotas_frame, run_item

__all__ = ["SchedulerError", "SweepOutcome", "run_sweep"]

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler
WORKER_TIMEOUT = 30.0  # seconds to wait for a first worker
Progress = Callable[[int, int, int], None]  # (done, total, failed)


class SchedulerError(AllocoptError):
    """The Dask scheduler cannot be reached or has no workers. Exit 1."""

    exit_code = 1


@dataclass
class SweepOutcome:
    """What a sweep wrote and how it went."""

    folder: Path
    kind: str
    items: int
    ok: int
    infeasible: int
    failed: int
    reused: int
    scheduler: str
    summary: dict[str, Any]


def _noop(_d: int, _t: int, _f: int) -> None:
    return None


def sweep_dir(defn: Definition, out: Path | None) -> Path:
    """The target folder: ``--out`` or ``<output dir>/<name>-sweep-<stamp>``."""
    if out is not None:
        return out
    sc = defn.base.loaded.scenario
    return default_run_dir(defn.base.loaded.base_dir / sc.output.directory, f"{sc.name}-sweep")


def work_dir(target: Path) -> Path:
    """The hidden folder where finished items are kept until the sweep is written."""
    return target.parent / f".{target.name}.sweep-work"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def _persist(work: Path, res: dict[str, Any]) -> None:
    """Keep a finished item: its quotas (parquet), its kept run folder, then its JSON last (the
    JSON's presence marks the item finished)."""
    item = res["row"]["item"]
    q = quotas_frame(res)
    if q is not None:
        _write_atomic(work / f"{item}.parquet", _parquet_bytes(q))
    files = res.pop("files", None)
    if files is not None:
        write_run(work / "runs" / item, files, force=True)
    meta = {k: v for k, v in res.items() if k != "quotas"}
    _write_atomic(work / f"{item}.json", json.dumps(meta, sort_keys=True, default=str).encode())


def _load_done(work: Path, defn: Definition, keep_runs: bool) -> dict[int, dict[str, Any]]:
    done: dict[int, dict[str, Any]] = {}
    for it in defn.items:
        meta_path = work / f"{it.id}.json"
        if not meta_path.is_file():
            continue
        try:
            res = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        qp = work / f"{it.id}.parquet"
        if res["row"].get("status") not in ("infeasible", "failed"):
            if not qp.is_file():
                continue
            q = pd.read_parquet(qp)
            res["quotas"] = q.drop(columns="item")
        if keep_runs and not (work / "runs" / it.id).is_dir():
            continue
        done[it.index] = res
    return done


def _prepare_work(target: Path, defn: Definition, resume: bool, keep_runs: bool) -> Path:
    work = work_dir(target)
    stamp = {"hash": defn.hash, "keep_runs": keep_runs, "definition": defn.spec()}
    if work.exists():
        if resume:
            try:
                old = json.loads((work / "definition.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {}
            if old.get("hash") != defn.hash or old.get("keep_runs") != keep_runs:
                raise InputError(
                    Problem(
                        str(work),
                        "",
                        "--resume",
                        "this unfinished sweep was started with another definition or other "
                        "input files; run without --resume to start it again",
                    ),
                    header="cannot resume the sweep",
                )
            return work
        shutil.rmtree(work)  # a stale work folder of ours: start again
    try:
        work.mkdir(parents=True)
        (work / "definition.json").write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot create the sweep work folder {work}: {exc.strerror}") from None
    return work


def _client(workers: int | None, scheduler: str | None) -> tuple[Any, Any, str]:
    """(client, cluster or None, scheduler description); raise SchedulerError when unreachable."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerError(
                f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT:g} s",
                details=[
                    f"{type(exc).__name__}: {exc}",
                    "start one with `dask scheduler` and workers with `dask worker "
                    f"{scheduler}`, or leave out --scheduler to use a local cluster",
                ],
            ) from None
        try:
            client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            client.close()
            raise SchedulerError(
                f"the Dask scheduler at {scheduler} has no workers after {WORKER_TIMEOUT:g} s",
                details=[f"{exc}", f"start one with `dask worker {scheduler}`"],
            ) from None
        return client, None, scheduler
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # the scheduler's HTTP server (metrics) on a free local port: no clash with 8787
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )
    return Client(cluster, set_as_default=False), cluster, "local"


def run_sweep(
    defn: Definition,
    *,
    out: Path | None = None,
    force: bool = False,
    resume: bool = False,
    keep_runs: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress = _noop,
) -> SweepOutcome:
    """Run every item of ``defn`` and write the sweep folder (see the module docstring)."""
    from allocopt.sweep.summarise import assemble, stress_plan

    target = sweep_dir(defn, out)
    if target.exists() and not force:
        raise OutputError(f"{target} exists already; choose another --out or add --force")
    if resume and out is None:
        raise InputError(
            Problem("--resume", "", "", "give the --out folder of the sweep to resume"),
            header="the sweep definition has problems",
        )
    if workers is not None and workers < 1:
        raise InputError(Problem("--workers", "", "", "must be at least 1", str(workers)))
    if defn.kind == "plan":
        assert defn.plan is not None
        files, summary = stress_plan(defn)
        progress(len(defn.items), len(defn.items), 0)
        files["manifest.json"] = _manifest(defn, "none (vectorised, no solve)", summary)
        write_run(target, files, force=force, finish=_render_report)
        n = len(defn.items)
        return SweepOutcome(target, defn.kind, n, n, 0, 0, 0, "none", summary)

    job = Job(
        str(defn.path.resolve()),  # workers may run in another folder
        defn.base_scenarios,
        defn.base_sets,
        defn.hash,
        defn.seed,
        keep_runs,
    )
    client = cluster = None
    work: Path | None = None
    where = "local"
    try:
        results: dict[int, dict[str, Any]] = {}
        work_path = work_dir(target)
        reused = 0
        if resume and work_path.exists():
            # checked before any cluster starts
            _prepare_work(target, defn, True, keep_runs)
            results = _load_done(work_path, defn, keep_runs)
            reused = len(results)
        todo = [it for it in defn.items if it.index not in results]
        failed = sum(r["row"]["status"] == "failed" for r in results.values())
        progress(len(results), len(defn.items), failed)
        if todo:
            client, cluster, where = _client(workers, scheduler)
        work = _prepare_work(target, defn, resume, keep_runs)
        if todo:
            from distributed import as_completed

            assert client is not None
            # the client's validated base, sent once to every worker (not validated again there),
            # when it was read from the same absolute path the workers would read
            base = None
            if defn.path.is_absolute():
                base = client.scatter(defn.base, broadcast=True, hash=False)
            futures = client.map(
                run_item,
                [job] * len(todo),
                todo,
                base=base,
                key=[f"allocopt-{defn.hash[:12]}-{it.id}" for it in todo],
                pure=False,
            )
            for fut in as_completed(futures, loop=client.loop):
                res = fut.result()
                _persist(work, res)
                if keep_runs:
                    res.pop("files", None)
                results[res["index"]] = res
                failed += res["row"]["status"] == "failed"
                progress(len(results), len(defn.items), failed)
                fut.release()
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    ordered = [results[it.index] for it in defn.items]
    files, summary = assemble(defn, ordered)
    files["manifest.json"] = _manifest(defn, where, summary)
    runs = work / "runs" if keep_runs else None

    def finish(tmp: Path) -> None:
        if runs is not None and runs.is_dir():
            shutil.copytree(runs, tmp / "runs")
        _render_report(tmp)

    write_run(target, files, force=force, finish=finish)
    shutil.rmtree(work, ignore_errors=True)
    counts = summary["items"]
    return SweepOutcome(
        target,
        defn.kind,
        len(defn.items),
        counts["ok"],
        counts["infeasible"],
        counts["failed"],
        reused,
        where,
        summary,
    )


def _render_report(folder: Path) -> None:
    from allocopt.sweep.report import render

    (folder / "report.html").write_text(render(folder), encoding="utf-8", newline="\n")


def _manifest(defn: Definition, scheduler: str, summary: dict[str, Any]) -> dict[str, Any]:
    from allocopt.pipeline import _versions

    v = defn.base
    return {
        "kind": "sweep",
        "sweep": defn.spec(),
        "hash": defn.hash,
        "scheduler": scheduler,
        "scenario": v.loaded.scenario.name,
        "resolved_scenario": v.loaded.scenario.model_dump(mode="json"),
        "changes": v.loaded.changes,
        "inputs": {k: {"sha256": h} for k, h in sorted(defn.inputs.items())},
        "versions": _versions(),
        "summary": summary,
    }
