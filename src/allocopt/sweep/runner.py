"""Run a sweep on Dask distributed and write the sweep folder.

Public entry point: :func:`run_sweep`. The items of a :class:`~allocopt.sweep.define.Definition`
are mapped onto a Dask cluster — a local one (``LocalCluster``: processes, one thread each, no
dashboard) or an existing scheduler (``--scheduler tcp://host:port``) — or, with one local
worker, solved here one after the other (no cluster: its start-up and transfers would be all it
adds). Each finished item is persisted at once in a hidden work folder next to the target
(``.NAME.sweep-work/item-0007.arrow``: its quotas, with its result as metadata), so
``--resume`` can finish an interrupted sweep without redoing finished items (when the sweep's
hash — definition and input contents — matches); only its annual quotas stay in memory. The
sweep folder is written atomically with :func:`allocopt.outputs.runfolder.write_run` once every
item is done; results are assembled in item order (``quotas.parquet`` streamed from the work
files), so the files are the same bytes whatever the worker count or completion order (timings,
which do vary, go to ``timings.csv`` only).

A plan stress (``--plan``) needs no solve: it runs in-process, vectorised
(:mod:`allocopt.sweep.summarise`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from allocopt.errors import AllocoptError, InputError, OutputError, Problem
from allocopt.outputs.runfolder import default_run_dir, write_run
from allocopt.pipeline import available_cores
from allocopt.sweep.define import Definition, Item
from allocopt.sweep.summarise import QUOTAS, SOLVED, AnnualOf
from allocopt.sweep.work import Job, forget, run_item

__all__ = ["SchedulerError", "SweepOutcome", "run_sweep"]

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler
WORKER_TIMEOUT = 30.0  # seconds to wait for a first worker
LOCAL_CONFIG: dict[str, Any] = {
    # A nanny starts its worker with MALLOC_TRIM_THRESHOLD_=65536 (Dask's default, to hand
    # freed memory back to the OS at once). Setting it turns off glibc's adaptive mmap
    # threshold: every array above 128 KiB is mapped and unmapped, page-faulted in anew each
    # time — an item of the 5,000-rep draws then takes ~20% more CPU on a worker than in this
    # process (quota LP +35%, the rounded LP optimum +70%, HiGHS's block MIPs +10%; 6x the page
    # faults; benchmarks/README.md, session 5). The workers keep the one BLAS/OpenMP thread.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # one item per worker thread at a time (Dask's 1.1 rounds up to two per one-thread worker):
    # an item lasts seconds, so a queued second one would only wait there while another worker
    # may fall idle at the end of the sweep (then it has to be stolen)
    "distributed.scheduler.worker-saturation": 1.0,
}
"""Dask settings of the local cluster (not of an existing scheduler's workers)."""
IN_PROCESS = "in-process"  # the scheduler of a `--workers 1` sweep: no cluster, items run here
Progress = Callable[[int, int, int], None]  # (done, total, not solved: infeasible or failed)


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
    phases: dict[str, float] = field(default_factory=dict)
    """Client-side seconds of each phase (cluster start-up, items, assembling, writing, the
    report…), in order; they vary between runs and are not written to the folder."""


class _Clock:
    """Consecutive client-side phase times (``mark`` closes the phase that ran since the last)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._last = time.perf_counter()

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = round(self.phases.get(phase, 0.0) + now - self._last, 4)
        self._last = now


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


COMPRESS_ABOVE = 1 << 20
"""Bytes of an item's quota table above which its work file is compressed (zstd: ~2.5 MB → ~1 MB
an item at 5,000 reps); a small one (50 kB at 100 reps) is written and read back ~30× faster
as it is."""


def _arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    zstd = table.nbytes > COMPRESS_ABOVE
    opts = pa.ipc.IpcWriteOptions(compression="zstd" if zstd else None)
    with pa.ipc.new_file(sink, table.schema, options=opts) as w:
        w.write_table(table)
    return bytes(sink.getvalue())


def _read_arrow(path: Path) -> pa.Table:
    return pa.ipc.open_file(pa.py_buffer(path.read_bytes())).read_all()


META = b"allocopt.item"  # the item's result (JSON) in its Arrow file's schema metadata


def _persist(work: Path, res: dict[str, Any]) -> None:
    """Keep a finished item: its kept run folder, then one Arrow IPC file, written atomically
    (its presence marks the item finished): the item's quotas (the rows of quotas.parquet,
    none when it has no plan) with its result (row, binding counts, times) as JSON metadata."""
    item = res["row"]["item"]
    files = res.pop("files", None)
    if files is not None:
        write_run(work / "runs" / item, files, force=True)
    q = res.get("quotas")
    table = q if q is not None else QUOTAS.empty_table()
    meta = {k: v for k, v in res.items() if k not in ("quotas", "annual")}
    meta["has_quotas"] = q is not None
    table = table.replace_schema_metadata({META: json.dumps(meta, default=str).encode()})
    _write_atomic(work / f"{item}.arrow", _arrow_bytes(table))


def _shrink(res: dict[str, Any]) -> dict[str, Any]:
    """Keep only the item's annual quotas in memory (its quota table is on disk)."""
    res.pop("quotas", None)
    res.setdefault("annual", None)
    return res


def _load_done(work: Path, defn: Definition, keep_runs: bool) -> dict[int, dict[str, Any]]:
    done: dict[int, dict[str, Any]] = {}
    annual = AnnualOf(defn.base.md)
    for it in defn.items:
        path = work / f"{it.id}.arrow"
        if not path.is_file() or (keep_runs and not (work / "runs" / it.id).is_dir()):
            continue
        try:
            table = _read_arrow(path)
            res = json.loads((table.schema.metadata or {})[META])
            has = bool(res.pop("has_quotas"))
        except (OSError, ValueError, KeyError, pa.ArrowException):
            continue  # not finished after all: done again
        res["annual"] = annual(table.drop_columns("item").to_pandas()) if has else None
        done[it.index] = _shrink(res)
    return done


def _prepare_work(
    target: Path, defn: Definition, resume: bool, keep_runs: bool, warm_start: bool = False
) -> Path:
    work = work_dir(target)
    stamp = {"hash": defn.hash, "keep_runs": keep_runs, "definition": defn.spec()}
    if warm_start:
        stamp["warm_start"] = True
    if work.exists():
        if resume:
            try:
                old = json.loads((work / "definition.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {}
            if (
                old.get("hash") != defn.hash
                or old.get("keep_runs") != keep_runs
                or bool(old.get("warm_start")) != warm_start
            ):
                raise InputError(
                    Problem(
                        str(work),
                        "",
                        "--resume",
                        "this unfinished sweep was started with another definition, other "
                        "input files or options (--keep-runs, --warm-start); run without "
                        "--resume to start it again",
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
    import dask

    n = workers or available_cores()
    with dask.config.set(LOCAL_CONFIG):
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler's HTTP server (metrics) on a free local port: no clash with 8787
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        )
    client = Client(cluster, set_as_default=False)
    _pin_workers(client)
    return client, cluster, "local"


def _pin_workers(client: Any) -> None:
    """Pin each local worker to a CPU of its own (Linux, when there are as many CPUs as workers).

    Left to the OS, two busy workers on two cores are moved between them whenever the client,
    the scheduler or a nanny runs for a moment, and each move leaves the item's working set in
    the other core's cache: the 5,000-rep draws took 29% more CPU per item on two workers than
    in-process, 7% with each worker pinned (benchmarks/README.md, session 5). Which worker gets
    which CPU changes no result."""
    if not hasattr(os, "sched_getaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    workers = sorted(client.scheduler_info()["workers"])
    if len(workers) > len(cpus):
        return
    for cpu, address in zip(cpus, workers, strict=False):
        client.run(_pin_process, cpu, workers=[address])


def _pin_process(cpu: int) -> None:
    """Every thread of this process (and those it starts later) on ``cpu`` alone."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(tid), {cpu})


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
    in_process: bool | None = None,
    warm_start: bool = False,
) -> SweepOutcome:
    """Run every item of ``defn`` and write the sweep folder (see the module docstring).

    ``in_process``: run the items here, one after the other, instead of on a Dask cluster
    (default: exactly when ``workers`` is 1 and no ``scheduler`` is given — a one-worker local
    cluster would only add its start-up and the transfers). The files are the same bytes.
    ``warm_start``: every item's quota LP relaxation starts from the base scenario's optimal LP
    basis (solved once per process; an item whose LP has another shape starts cold) — the same
    optimum within HiGHS's tolerances, not byte-identical to ``allocopt solve``; recorded in the
    manifest and per item in ``timings.csv`` (``warm_start`` 1/0)."""
    from allocopt.sweep.summarise import assemble, stress_plan, with_plan, write_quotas

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
        return SweepOutcome(target, defn.kind, n, n, 0, 0, 0, "none", summary, {})

    job = Job.of(defn, keep_runs, warm_start)
    clock = _Clock()
    warming: threading.Thread | None = None
    closing: threading.Thread | None = None
    client = cluster = None
    work: Path | None = None
    if in_process is None:
        in_process = scheduler is None and workers == 1
    where = IN_PROCESS if in_process else "local"
    try:
        results: dict[int, dict[str, Any]] = {}
        work_path = work_dir(target)
        reused = 0
        if resume and work_path.exists():
            # checked before any cluster starts
            _prepare_work(target, defn, True, keep_runs, warm_start)
            results = _load_done(work_path, defn, keep_runs)
            reused = len(results)
        todo = [it for it in defn.items if it.index not in results]
        failed = sum(r["row"]["status"] not in SOLVED for r in results.values())
        progress(len(results), len(defn.items), failed)
        if todo and not in_process:
            client, cluster, where = _client(workers, scheduler)
            clock.mark("cluster")
        work = _prepare_work(target, defn, resume, keep_runs, warm_start)
        if todo:
            done: Iterator[dict[str, Any]]
            if in_process:
                done = _here(job, defn, todo)
            else:
                assert client is not None
                done = _on_dask(client, defn, job, todo, clock)
            # the report's charting loads while the items are solved
            warming = threading.Thread(target=_warm_report, name="allocopt-report", daemon=True)
            warming.start()
            for res in done:
                _persist(work, res)
                results[res["index"]] = _shrink(res)
                failed += res["row"]["status"] not in SOLVED
                progress(len(results), len(defn.items), failed)
            clock.mark("items")
        if client is not None:  # every result is in: the cluster closes while the folder is written
            closing = threading.Thread(
                target=_close, args=(client, cluster), name="allocopt-close", daemon=True
            )
            closing.start()
            client = cluster = None
    except BaseException:
        if warming is not None:
            warming.join()  # never leave an import running behind an error
        raise
    finally:
        _close(client, cluster)
        if in_process:
            forget()
    try:
        ordered = [results[it.index] for it in defn.items]
        files, summary = assemble(defn, ordered)
        files["manifest.json"] = _manifest(defn, where, summary, warm_start)
        clock.mark("assemble")
        runs = work / "runs" if keep_runs else None

        def finish(tmp: Path) -> None:
            assert work is not None
            quotas = (_read_arrow(work / f"{r['row']['item']}.arrow") for r in with_plan(ordered))
            write_quotas(tmp / "quotas.parquet", quotas)
            if runs is not None and runs.is_dir():
                shutil.copytree(runs, tmp / "runs")
            clock.mark("write")
            _render_report(tmp)
            clock.mark("report")

        write_run(target, files, force=force, finish=finish)
        shutil.rmtree(work, ignore_errors=True)
        clock.mark("commit")
    finally:
        if closing is not None:
            closing.join()
            clock.mark("cluster_close")
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
        clock.phases,
    )


def _close(client: Any, cluster: Any) -> None:
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def _here(job: Job, defn: Definition, todo: list[Item]) -> Iterator[dict[str, Any]]:
    """Solve the items in this process, with one BLAS/OpenMP thread as on a Dask worker (its
    nanny sets ``OPENBLAS_NUM_THREADS=1`` …): a dot product summed by two threads can differ in
    its last digit, and sweep.csv's objective terms must be the same bytes either way."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        for it in todo:
            yield run_item(job, it, base=defn.base)


def _on_dask(
    client: Any, defn: Definition, job: Job, todo: list[Item], clock: _Clock
) -> Iterator[dict[str, Any]]:
    """Map the items onto the cluster; yield their results as they finish."""
    from distributed import as_completed

    # the client's validated base, sent once to every worker (not validated again there),
    # when it was read from the same absolute path the workers would read
    base = None
    if defn.path.is_absolute():
        base = client.scatter(defn.base, broadcast=True, hash=False)
        clock.mark("scatter")
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
        fut.release()
        yield res


def _warm_report() -> None:
    """Import the report's charting (matplotlib, ~1 s) and draw once, in a background thread
    while the items are solved (HiGHS releases the GIL), not after them."""
    try:
        from allocopt.sweep.report import warm_up

        warm_up()
    except Exception:  # the report is rendered (and any error raised) at the end anyway
        pass


def _render_report(folder: Path) -> None:
    from allocopt.sweep.report import render

    (folder / "report.html").write_text(render(folder), encoding="utf-8", newline="\n")


def _manifest(
    defn: Definition, scheduler: str, summary: dict[str, Any], warm_start: bool = False
) -> dict[str, Any]:
    from importlib.metadata import version

    from allocopt.pipeline import _versions

    v = defn.base
    return {
        "kind": "sweep",
        "sweep": defn.spec(),
        "hash": defn.hash,
        "scheduler": scheduler,
        # --warm-start: the items' quota LPs started from the base's LP basis (timings.csv says
        # which did): the same optimum within the solver's tolerances, not byte-identical
        "warm_start": warm_start,
        "scenario": v.loaded.scenario.name,
        "resolved_scenario": v.loaded.scenario.model_dump(mode="json"),
        "changes": v.loaded.changes,
        "inputs": {k: {"sha256": h} for k, h in sorted(defn.inputs.items())},
        # the sweep's own: which Dask ran it (the scheduler and workers must match the client's)
        "versions": {**_versions(), "dask": version("dask"), "distributed": version("distributed")},
        "summary": summary,
    }
