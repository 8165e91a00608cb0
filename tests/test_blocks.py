"""Block decomposition of the quota model's rounding MIP, forced on a small plan.

``solver.block_size: 1`` splits the rounding MIP into its independent blocks (one per connected
component once the company-total rows are set aside) even on a plan this small.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import verify_run
from allocopt.examples.generate import generate_plan
from allocopt.pipeline import run
from tests.conftest import Solve

UNIT = 1000.0  # the generated plans' rounding unit


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("block-plan")
    return generate_plan(root / "p", regions=3, teams=6, reps=48, seed=5, name="blocks")


def _quotas(run_dir: Path) -> dict[str, object]:
    return json.loads((run_dir / "manifest.json").read_text())["stages"]["quotas"]


def test_blocks_keep_the_lp_optimum_and_exact_rounded_totals(plan: Path, solve: Solve) -> None:
    mono = solve(plan)
    split = solve(plan, sets=["solver.block_size=1"])  # both verified by the fixture
    qm, qs = _quotas(mono.run_dir), _quotas(split.run_dir)
    assert "independent blocks" not in str(qm["message"])
    assert "independent blocks" in str(qs["message"])
    n_blocks = int(str(qs["message"]).split(" of ")[1].split()[0])
    assert n_blocks >= 6  # at least one block per team
    # the LP is solved whole either way: the same optimum, to the bit
    assert qs["lp_bound"] == qm["lp_bound"]
    assert mono.results.summary["status"] == "optimal"
    # split: optimal when proven within mip_gap (1%) of the Lagrangian bound, else feasible (a
    # handful of blocks leaves a Lagrangian duality gap of about 1% on this plan)
    want = "optimal" if float(qs["gap"]) <= 0.01 else "feasible"
    assert split.results.summary["status"] == qs["status"] == want
    q = np.asarray(split.results.annual["quota"], dtype=float)
    assert np.array_equal(q / UNIT, np.round(q / UNIT))
    for res in (mono, split):
        totals = res.results.annual.groupby("product")["quota"].sum().sort_index()
        assert np.allclose(totals / UNIT, np.round(totals / UNIT))
    tm = mono.results.annual.groupby("product")["quota"].sum().sort_index()
    ts = split.results.annual.groupby("product")["quota"].sum().sort_index()
    assert np.array_equal(tm.to_numpy(), ts.to_numpy())  # company totals exact in both
    # the assembled plan is no better than the LP bound, and reports its own gap
    assert float(qs["objective"]) >= float(qs["lp_bound"]) - 1e-6 * abs(float(qs["lp_bound"]))
    assert qs["gap"] is not None


def test_one_worker_and_two_workers_write_the_same_bytes(plan: Path, tmp_path: Path) -> None:
    runs = []
    for workers in (1, 2):  # same folder name, so the report's own path is the same too
        out = tmp_path / f"w{workers}" / "run"
        run(plan, out=out, sets=["solver.block_size=1", f"solver.workers={workers}"])
        check = verify_run(out)
        assert check.ok, check.violations.to_string()
        runs.append(out)
    one, two = runs
    names = sorted(p.name for p in one.iterdir() if p.is_file() and p.name != "manifest.json")
    assert names == sorted(
        p.name for p in two.iterdir() if p.is_file() and p.name != "manifest.json"
    )
    assert "quotas.csv" in names and "report.html" in names
    differ = [n for n in names if (one / n).read_bytes() != (two / n).read_bytes()]
    assert differ == []  # the manifest differs only in timings and the workers setting
    assert _quotas(one)["objective"] == _quotas(two)["objective"]
    assert "independent blocks" in str(_quotas(two)["message"])
    # the Lagrangian bound of the block MIPs is the same number whatever the workers
    assert _quotas(two)["bound_method"] == "lagrangian"
    assert _quotas(one)["lagrangian_bound"] == _quotas(two)["lagrangian_bound"]


def test_blocks_on_a_local_dask_cluster_write_the_serial_bytes(plan: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster, get_task_stream

    from allocopt.solve.decompose import dask_blocks

    serial = tmp_path / "serial" / "run"
    run(plan, out=serial, sets=["solver.block_size=1"])
    dask = tmp_path / "dask" / "run"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
        dask_blocks(client),
        get_task_stream(client) as stream,
    ):
        run(plan, out=dask, sets=["solver.block_size=1"])
        cli_out = tmp_path / "cli" / "run"
        args = ["solve", str(plan), "--out", str(cli_out), "--set", "solver.block_size=1"]
        cli = CliRunner().invoke(main, [*args, "--scheduler", cluster.scheduler_address, "--quiet"])
        assert cli.exit_code == 0, cli.output
    assert (cli_out / "quotas.csv").read_bytes() == (serial / "quotas.csv").read_bytes()
    assert any("_solve_chunk" in str(t["key"]) for t in stream.data)  # the blocks ran there
    check = verify_run(dask)
    assert check.ok, check.violations.to_string()
    names = sorted(p.name for p in serial.iterdir() if p.is_file() and p.name != "manifest.json")
    assert "quotas.csv" in names
    differ = [n for n in names if (serial / n).read_bytes() != (dask / n).read_bytes()]
    assert differ == []
    assert _quotas(serial)["objective"] == _quotas(dask)["objective"]
    assert "independent blocks" in str(_quotas(dask)["message"])


def test_cli_says_a_block_plan_is_optimal_per_block_and_what_its_gap_is_against(
    plan: Path, tmp_path: Path
) -> None:
    """A plan assembled from blocks is not proven optimal for the whole model: the status line
    gives its gap and says which bound valid for the whole model it is against (the Lagrangian
    integer bound of the blocks), and calls it optimal only within the scenario's mip_gap."""
    out = tmp_path / "split"
    r = CliRunner().invoke(
        main,
        ["solve", str(plan), "--out", str(out), "--set", "solver.block_size=1"],
    )
    assert r.exit_code == 0, r.output
    q = _quotas(out)
    assert "independent blocks" in str(q["message"])  # the plan came from the blocks
    line = next(s for s in r.output.splitlines() if " → " in s)
    assert q["bound_method"] == "lagrangian" and q["gap"] < q["lp_gap"]
    word = "optimal" if q["gap"] <= q["options"]["mip_rel_gap"] else "feasible"
    basis = "against the Lagrangian integer bound of the blocks"
    assert line.startswith(f"{word}, gap {float(q['gap']):.4%} {basis}")
    mono = CliRunner().invoke(main, ["solve", str(plan), "--out", str(tmp_path / "m")])
    assert mono.exit_code == 0, mono.output
    assert "in each block" not in mono.output and "LP relaxation's bound" not in mono.output


def test_workers_default_to_the_available_cores_at_most_8(monkeypatch: pytest.MonkeyPatch) -> None:
    import allocopt.pipeline as pl

    for cores, want in ((set(range(12)), 8), ({0, 1}, 2), ({3}, 1)):
        monkeypatch.setattr(pl.os, "sched_getaffinity", lambda _pid, c=cores: c, raising=False)
        assert pl._cores() == want
