"""The Dantzig–Wolfe pricing LPs in worker processes and on Dask (allocopt.solve.pricing).

The claim is about processes, so these tests start real ones: the same LP priced in one, two or
three processes gives the same bytes (values, duals, message), a plan forced through the
decomposition in small packs writes the same run folder with ``solver.workers`` 1 and 2 (and
on a local Dask cluster), equal to the whole LP's optimum within 1e-9; the deadline still cuts
a round between packs; a worker that dies ends the solve with a message that names it.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from allocopt.compose import verify_run
from allocopt.errors import SolverError
from allocopt.examples.generate import generate_plan
from allocopt.pipeline import run
from allocopt.solve import decompose, pricing
from allocopt.solve.decompose import solve_lp_decomposed
from allocopt.solve.pricing import Pack, open_pool
from tests.test_decompose import _Clock, _hand_lp

TOL = 1e-9


def _quotas(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "manifest.json").read_text())["stages"]["quotas"])


def test_hand_lp_priced_in_one_two_or_three_processes_is_the_same_bytes() -> None:
    comp, link = _hand_lp()
    res = {
        w: solve_lp_decomposed(comp, link, {"threads": 1}, pack_columns=1, workers=w)
        for w in (1, 2, 3)
    }
    one = res[1]
    assert one is not None and one.status == "optimal"
    assert one.objective == pytest.approx(24.0, rel=TOL)  # the hand-derived optimum
    assert "3 pricing LPs" in one.message
    for w in (2, 3):
        other = res[w]
        assert other is not None
        assert other.objective == one.objective and other.message == one.message
        for name in ("col_values", "row_duals", "col_duals"):
            a, b = getattr(one, name), getattr(other, name)
            assert a is not None and b is not None and a.tobytes() == b.tobytes(), name


def test_deadline_in_a_parallel_round_stops_each_worker_between_packs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    comp, link = _hand_lp()
    # the clock jumps past the deadline as the second round starts: pack 0 (this process) and
    # pack 1 (the worker) are each their set's first and are priced; pack 2 is not
    monkeypatch.setattr(decompose, "_now", _Clock(jump_at=3, by=1e6).now)
    res = solve_lp_decomposed(
        comp, link, {"threads": 1, "time_limit": 10.0}, pack_columns=1, workers=2
    )
    assert res is not None and res.status == "time_limit" and res.has_solution
    assert "cut short by the deadline" in res.message
    assert res.bound is not None and res.bound <= 24.0 + 1e-9  # still a valid bound


def _tiny_packs() -> list[Pack]:
    """Two one-column packs: min −x, 0 ≤ x ≤ 1 (price π on one linking row with coefficient 1)."""
    one = sp.csc_matrix(np.ones((1, 1)))
    return [
        Pack(
            np.array([-1.0]),
            np.zeros(1),
            np.ones(1),
            one,
            np.array([-np.inf]),
            np.ones(1),
            sp.csr_matrix(np.ones((1, 1))),
        )
        for _ in range(2)
    ]


def test_a_worker_that_dies_gives_a_located_solver_error_not_a_hang() -> None:
    pool = open_pool(2, {"threads": 1}, hang_after=60.0)
    try:
        pool.load(_tiny_packs(), {"threads": 1})
        first = pool.price(np.zeros(1), None, "in master iteration 1")
        assert [r[0] for r in first if r is not None] == [True, True]
        assert all(r is not None and r[1] is not None and r[1][0] == 1.0 for r in first)
        # π = −2 makes x dear (reduced cost −1 − 1·(−2) = 1): both packs now propose 0
        second = pool.price(np.array([-2.0]), None, "in master iteration 2")
        assert all(r is not None and r[1] is not None and r[1][0] == 0.0 for r in second)
        worker = pool._procs[0]  # type: ignore[attr-defined]
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=10)
        with pytest.raises(SolverError) as err:
            pool.price(np.zeros(1), None, "in master iteration 3")
        msg = str(err.value)
        assert "pricing worker 1 of 2" in msg and f"process {worker.pid}" in msg
        assert "packs 1" in msg and "in master iteration 3" in msg
        assert "solver.workers: 1" in msg  # what to do
        assert not pool._procs  # type: ignore[attr-defined]  # closed: nothing left running
    finally:
        pool.close()


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pricing-plan")
    return generate_plan(root / "p", regions=3, teams=8, reps=64, seed=11, name="dwp")


FORCE = ["solver.decompose_above=0"]  # always decompose; PACK_COLUMNS is made small below


def _files(run_dir: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(run_dir.iterdir())
        if p.is_file() and p.name != "manifest.json"  # timings and the workers setting differ
    }


def test_one_and_two_pricing_workers_write_the_same_run_folder(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole" / "run"
    run(plan, out=whole)  # the LP solved whole
    monkeypatch.setattr(decompose, "PACK_COLUMNS", 300)  # several packs on a tiny plan
    started: list[int] = []
    real = pricing._Processes.__init__

    def spy(self: Any, workers: int, *args: Any, **kw: Any) -> None:
        started.append(workers)
        real(self, workers, *args, **kw)

    monkeypatch.setattr(pricing._Processes, "__init__", spy)
    runs = []
    for workers in (1, 2):  # same folder name, so the report's own path is the same too
        out = tmp_path / f"w{workers}" / "run"
        run(plan, out=out, sets=[*FORCE, f"solver.workers={workers}"])
        check = verify_run(out)
        assert check.ok, check.violations.to_string()
        runs.append(out)
    assert started == [2]  # workers=2 really priced in a second process
    one, two = runs
    q1, q2 = _quotas(one), _quotas(two)
    assert "Dantzig–Wolfe" in str(q1["lp_message"]) and q1["lp_message"] == q2["lp_message"]
    n_packs = int(str(q1["lp_message"]).split("(")[1].split()[0])
    assert n_packs >= 3
    f1, f2 = _files(one), _files(two)
    assert "quotas.csv" in f1 and sorted(f1) == sorted(f2)
    assert [n for n in f1 if f1[n] != f2[n]] == []
    assert q1["lp_bound"] == q2["lp_bound"] and q1["objective"] == q2["objective"]
    lw = float(_quotas(whole)["lp_bound"])
    assert float(q1["lp_bound"]) == pytest.approx(lw, rel=TOL)


def test_pricing_on_a_local_dask_cluster_writes_the_serial_bytes(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    from allocopt.solve.decompose import dask_blocks

    monkeypatch.setattr(decompose, "PACK_COLUMNS", 300)
    loaded: list[int] = []
    real = pricing._DaskActors._load

    def spy(self: Any, *args: Any) -> None:
        real(self, *args)
        loaded.append(len(self._actors))

    monkeypatch.setattr(pricing._DaskActors, "_load", spy)
    serial = tmp_path / "serial" / "run"
    run(plan, out=serial, sets=FORCE)
    on_dask = tmp_path / "dask" / "run"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
        dask_blocks(client),
    ):
        run(plan, out=on_dask, sets=FORCE)
    assert loaded == [2]  # one pack set as an actor on each of the two workers
    check = verify_run(on_dask)
    assert check.ok, check.violations.to_string()
    fs, fd = _files(serial), _files(on_dask)
    assert "quotas.csv" in fs and [n for n in fs if fs[n] != fd.get(n)] == []
    assert _quotas(serial)["lp_message"] == _quotas(on_dask)["lp_message"]


def test_a_worker_that_stops_answering_gives_a_located_solver_error_after_hang_after() -> None:
    pool = open_pool(2, {"threads": 1}, hang_after=1.0)
    try:
        pool.load(_tiny_packs(), {"threads": 1})
        assert all(r is not None for r in pool.price(np.zeros(1), None, "in master iteration 1"))
        worker = pool._procs[0]  # type: ignore[attr-defined]
        os.kill(worker.pid, signal.SIGSTOP)  # alive, but never answers
        with pytest.raises(SolverError) as err:
            pool.price(np.zeros(1), None, "in master iteration 2")
        msg = str(err.value)
        assert "pricing worker 1 of 2" in msg and "sent nothing for 1 s" in msg
        assert "in master iteration 2" in msg
        assert not worker.is_alive()  # the stopped worker was ended, not left behind
    finally:
        pool.close()


def test_cli_reports_a_dead_pricing_worker_with_exit_1_and_no_run_folder(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from allocopt.cli import main

    monkeypatch.setattr(decompose, "PACK_COLUMNS", 300)
    real = pricing._Processes._start_round

    def kill_in_round_two(self: Any, pi: Any, deadline: Any, what: str) -> None:
        if "iteration 2" in what:  # a real death: the worker process is killed mid-solve
            os.kill(self._procs[0].pid, signal.SIGKILL)
            self._procs[0].join(timeout=10)
        real(self, pi, deadline, what)

    monkeypatch.setattr(pricing._Processes, "_start_round", kill_in_round_two)
    out = tmp_path / "run"
    sets = ["--set", *FORCE, "--set", "solver.workers=2"]
    res = CliRunner().invoke(main, ["solve", str(plan), "--out", str(out), "--quiet", *sets])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert "pricing worker 1 of 2" in res.output and "master iteration 2" in res.output
    assert not out.exists()  # no half-written run folder
