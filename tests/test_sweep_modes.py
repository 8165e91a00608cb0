"""How a sweep runs, without changing what it writes.

`--workers 1` solves its items in-process (no Dask cluster is started) and must write the same
bytes as `--workers 2` on a local Dask cluster; finished items are kept one Arrow file each in
the work folder (quotas + the item's result as metadata), `quotas.parquet` is streamed from them
(one row group per solved item, in item order), and `--resume` reuses them — an unreadable one
is solved again. Tiny plan of tests/test_sweep.py. Speed is measured in benchmarks/sweep.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import allocopt.sweep.runner as runner
from allocopt.cli import main
from allocopt.sweep.define import define
from allocopt.sweep.runner import _persist, _prepare_work
from allocopt.sweep.work import Job, run_item
from tests.test_sweep import _ok, _plan, _sweep

SAME = ("sweep.csv", "quotas.parquet", "reps.csv", "units.csv", "rules.csv", "infeasible.csv")
WHAT_IFS = ["--scenarios", "up,huge,shift", "--grid", "rules.potential.max_share=0.9,1.0"]


def test_one_worker_runs_in_process_and_equals_a_two_worker_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = _plan(tmp_path / "plan")
    one, two = tmp_path / "one", tmp_path / "two"
    started: list[Any] = []
    real = runner._client

    def spy(*args: Any) -> Any:
        started.append(args)
        return real(*args)

    monkeypatch.setattr(runner, "_client", spy)
    _ok(_sweep(str(sc), *WHAT_IFS, "--workers", "1", "--out", str(one)))
    assert started == []  # no cluster for one worker
    _ok(_sweep(str(sc), *WHAT_IFS, "--workers", "2", "--out", str(two)))
    assert len(started) == 1
    for name in SAME:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    schedulers = [json.loads((d / "manifest.json").read_text())["scheduler"] for d in (one, two)]
    assert schedulers == ["in-process", "local"]
    # quotas.parquet: one row group per solved item, in item order, each item's own quotas
    sweep = pd.read_csv(one / "sweep.csv")
    assert sweep["status"].tolist().count("infeasible") == 2
    solved = sweep.loc[sweep["status"] == "optimal", "item"].tolist()
    pf = pq.ParquetFile(one / "quotas.parquet")
    assert pf.num_row_groups == len(solved) == 4
    defn = define(sc, scenarios=["up,huge,shift"], grid=["rules.potential.max_share=0.9,1.0"])
    job = Job(str(sc.resolve()), (), (), defn.hash, 0, False)
    by_id = {it.id: it for it in defn.items}
    for k, item in enumerate(solved):
        group = pf.read_row_group(k).to_pandas()
        assert set(group["item"]) == {item}
        mine = group.drop(columns="item").reset_index(drop=True)
        theirs = run_item(job, by_id[item])["quotas"].drop_columns("item").to_pandas()
        pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)
    assert not list(tmp_path.glob(".one*")) and not list(tmp_path.glob(".two*"))


def test_resume_reuses_infeasible_items_and_redoes_unreadable_ones(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    fresh, out = tmp_path / "fresh", tmp_path / "sw"
    _ok(_sweep(str(sc), "--scenarios", "up,huge,down", "--workers", "1", "--out", str(fresh)))
    defn = define(sc, scenarios=["up,huge,down"])
    work = _prepare_work(out, defn, False, False)
    job = Job(str(sc), (), (), defn.hash, 0, False)
    for it in defn.items[:2]:  # up (solved) and huge (infeasible) finished before the interruption
        _persist(work, run_item(job, it))
    (work / "item-0000.arrow").write_bytes(b"not an arrow file")  # cut off while written
    res = CliRunner().invoke(
        main, ["sweep", str(sc), "--scenarios", "up,huge,down", "--workers", "1",
               "--out", str(out), "--resume"],
    )  # fmt: skip
    _ok(res)
    assert "(1 reused)" in res.output  # huge; up is solved again
    for name in SAME:
        assert (out / name).read_bytes() == (fresh / name).read_bytes(), name
    assert not work.exists()


def test_in_process_items_use_one_blas_thread_as_on_a_dask_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a dask worker's nanny sets OPENBLAS_NUM_THREADS=1; a dot product summed by two BLAS
    # threads can differ in its last digit (sweep.csv's objective terms at 5,000 reps did)
    from threadpoolctl import threadpool_info

    seen: list[int] = []
    real = runner.run_item

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(max((p["num_threads"] for p in threadpool_info()), default=1))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_item", spy)
    sc = _plan(tmp_path / "plan")
    _ok(_sweep(str(sc), "--draws", "2", "--workers", "1", "--out", str(tmp_path / "sw")))
    assert seen == [1, 1]


def _worker_env() -> tuple[str | None, str | None, int]:
    import os

    import numpy  # noqa: F401  (its BLAS loaded, as for an item)
    from threadpoolctl import threadpool_info

    threads = max((p["num_threads"] for p in threadpool_info()), default=1)
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OPENBLAS_NUM_THREADS"), threads


def _affinity() -> tuple[int, ...]:
    import os

    return tuple(sorted(os.sched_getaffinity(0)))


@pytest.mark.skipif(
    not hasattr(__import__("os"), "sched_getaffinity")
    or len(__import__("os").sched_getaffinity(0)) < 2,
    reason="needs CPU affinity (Linux) and two CPUs",
)
def test_local_cluster_pins_each_worker_to_a_cpu_of_its_own() -> None:
    # two busy workers moved between two cores lose their caches at each move (29% more CPU
    # per 5k draw than in-process, 7% pinned); the client process itself stays unpinned
    import os

    before = tuple(sorted(os.sched_getaffinity(0)))
    client, cluster, _ = runner._client(2, None)
    try:
        pinned = sorted(client.run(_affinity).values())
        assert all(len(c) == 1 for c in pinned)
        assert len(set(pinned)) == 2 and {c[0] for c in pinned} <= set(before)
        assert tuple(sorted(os.sched_getaffinity(0))) == before
    finally:
        runner._close(client, cluster)


def test_local_cluster_workers_keep_glibc_malloc_defaults_and_one_blas_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Dask's nanny default MALLOC_TRIM_THRESHOLD_=65536 turns off glibc's adaptive mmap
    # threshold (an item took ~20% more CPU on a worker than in-process); one BLAS thread and
    # one queued item per worker stay
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)  # an earlier nanny's leftover
    client, cluster, where = runner._client(1, None)
    try:
        assert where == "local"
        assert list(client.run(_worker_env).values()) == [(None, "1", 1)]
        saturation = client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.WORKER_SATURATION
        )
        assert saturation == 1.0
    finally:
        runner._close(client, cluster)
