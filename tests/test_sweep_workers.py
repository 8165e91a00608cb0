"""A sweep item solves in its worker's own process, whatever ``solver.workers`` says.

``allocopt solve`` runs the blocks of a large plan in ``solver.workers`` processes; inside a
sweep the items are the parallel unit and a Dask worker (a daemonic process) may not start
processes, so a plan with ``solver.workers: 2`` used to fail every item with "daemonic
processes are not allowed to have children". Its items must now solve, and equal
``allocopt solve`` with the same settings (blocks in two processes there), byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.examples.generate import generate_plan

SETS = ["--set", "solver.workers=2", "--set", "solver.block_size=1"]


def test_items_of_a_plan_with_block_workers_solve_on_a_dask_cluster(tmp_path: Path) -> None:
    plan = generate_plan(tmp_path / "p", regions=2, teams=4, reps=32, seed=3, name="swk")
    sc = plan / "scenario.yaml" if plan.is_dir() else plan
    out = tmp_path / "sw"
    res = CliRunner().invoke(
        main,
        ["sweep", str(sc), *SETS, "--grid", "targets.over_assignment=0.0,0.02",
         "--workers", "2", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    sweep = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert sweep["diagnosis"].tolist() == ["", ""]  # solved, not failed
    solo = tmp_path / "solo"
    r = CliRunner().invoke(
        main,
        ["solve", str(sc), *SETS, "--set", "targets.over_assignment=0.02", "--out", str(solo),
         "--quiet", "--no-report"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    status = json.loads((solo / "manifest.json").read_text())["status"]
    assert sweep["status"].tolist()[1] == status and status in ("optimal", "feasible")
    q = pd.read_parquet(out / "quotas.parquet")
    mine = q[q["item"] == "item-0001"].drop(columns="item").reset_index(drop=True)
    theirs = pd.read_csv(solo / "quotas.csv", dtype={"rep_id": str})
    pd.testing.assert_frame_equal(mine, theirs[["rep_id", "product", "period", "quota"]])
