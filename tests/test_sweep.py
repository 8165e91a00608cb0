"""`allocopt sweep`: grids, named what-ifs, Monte Carlo draws and the plan stress, on Dask.

Tiny hand-checkable plan: company CO → NORTH → T1 (reps A, B) and CO → SOUTH → T2 (reps C, D),
one product P. Every kept item run is checked by the independent verifier; a grid item must
equal `allocopt solve --set` byte for byte; a sweep through a real `dask scheduler` + `dask
worker` (subprocesses on 127.0.0.1) must equal a local `--workers 1` sweep byte for byte.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import verify_run
from tests.plans import BASE_TABLES, write_plan

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _rep(rep_id: str, team: str, capacity: float = 10000) -> dict[str, Any]:
    return {
        "rep_id": rep_id,
        "team_id": team,
        "role": "rep",
        "fte": 1,
        "start_date": "",
        "end_date": "",
        "capacity": capacity,
        "ly_quota": "",
        "ly_actual": "",
    }


UNCERTAINTY = {
    "shocks": [
        {
            "name": "territory",
            "on": "potential",
            "distribution": "normal",
            "mean": 1.0,
            "sd": 0.1,
            "correlation": {"within": "region", "rho": 0.5},
        },
        {
            "name": "south",
            "on": "potential",
            "region": ["SOUTH"],
            "distribution": "lognormal",
            "sd": 0.2,
        },
        {
            "name": "cap",
            "on": "capacity",
            "team": ["T2"],
            "distribution": "triangular",
            "low": 0.9,
            "mode": 1.0,
            "high": 1.1,
        },
        {"name": "tgt", "on": "target", "distribution": "normal", "sd": 0.05},
    ]
}


def _plan(root: Path, **extra: Any) -> Path:
    tables = {
        "org_units": [
            *BASE_TABLES["org_units"],
            {"unit_id": "SOUTH", "parent_id": "CO", "name": "South", "level": "region"},
            {"unit_id": "T2", "parent_id": "SOUTH", "name": "Team 2", "level": "team"},
        ],
        "reps": [_rep("A", "T1"), _rep("B", "T1"), _rep("C", "T2"), _rep("D", "T2", 300)],
        "potential": [
            {"rep_id": "A", "product": "P", "potential": 600},
            {"rep_id": "B", "product": "P", "potential": 400},
            {"rep_id": "C", "product": "P", "potential": 500},
            {"rep_id": "D", "product": "P", "potential": 500},
        ],
    }
    sc = {
        "targets": {"by_product": {"P": 1000}, "over_assignment": 0.0},
        "uncertainty": UNCERTAINTY,
        "overrides": {
            "up": {"targets.by_product.P": 1200},
            "down": {"targets.by_product.P": 800},
            "huge": {"targets.by_product.P": 50000},  # above the reps' capacity: infeasible
            # a data operation: the item is validated from the files, not from the base's tables
            "shift": {
                "operations": [
                    {
                        "op": "scale",
                        "table": "potential",
                        "column": "potential",
                        "factor": 0.5,
                        "where": {"region": ["SOUTH"]},
                    }
                ]
            },
        },
        "scenarios": {"up_then_down": ["up"]},
        **extra,
    }
    return write_plan(root, tables=tables, extra=sc)


def _sweep(*args: str) -> Any:
    return CliRunner().invoke(main, ["sweep", *args, "--quiet"])


def _ok(res: Any) -> None:
    assert res.exit_code == 0, res.output + (str(res.exception) if res.exception else "")


def test_grid_items_equal_solve_and_verify(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    res = _sweep(
        str(sc), "--scenarios", "up,huge,shift", "--grid", "rules.potential.max_share=0.9,1.0",
        "--workers", "1", "--keep-runs", "--out", str(out),
    )  # fmt: skip
    _ok(res)
    sweep = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert sweep["item"].tolist() == [f"item-000{i}" for i in range(6)]
    assert sweep["scenario"].tolist() == ["up", "up", "huge", "huge", "shift", "shift"]
    assert [float(x) for x in sweep["rules.potential.max_share"]] == [0.9, 1.0] * 3
    assert (
        sweep["status"].tolist()
        == ["optimal", "optimal", "infeasible", "infeasible"] + ["optimal"] * 2
    )
    # the infeasible items are recorded with their diagnosis and did not stop the sweep
    assert all("capacity" in d for d in sweep["diagnosis"][2:4])
    assert (out / "runs" / "item-0002" / "infeasible.txt").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["sweep"]["kind"] == "grid"
    # the up items: quotas add up to the new target; every kept run passes the verifier
    assert [float(x) for x in sweep["total_quota"][:2]] == [1200.0, 1200.0]
    for item in ("item-0000", "item-0001", "item-0004", "item-0005"):
        v = verify_run(out / "runs" / item)
        assert v.ok, v.violations.to_string()
    # item-0001 equals `allocopt solve --scenario up --set rules.potential.max_share=1.0`
    solo = tmp_path / "solo"
    r = CliRunner().invoke(
        main,
        ["solve", str(sc), "--scenario", "up", "--set", "rules.potential.max_share=1.0",
         "--out", str(solo), "--quiet", "--no-report"],
    )  # fmt: skip
    _ok(r)
    for name in ("quotas.csv", "annual.csv", "reps.csv", "assignments.csv"):
        assert (solo / name).read_bytes() == (out / "runs" / "item-0001" / name).read_bytes()
    q = pd.read_parquet(out / "quotas.parquet")
    mine = q[q["item"] == "item-0001"].drop(columns="item").reset_index(drop=True)
    theirs = pd.read_csv(solo / "quotas.csv", dtype={"rep_id": str})
    pd.testing.assert_frame_equal(mine, theirs[["rep_id", "product", "period", "quota"]])
    # kept runs are ordinary run folders: compare accepts them
    r = CliRunner().invoke(main, ["compare", str(out / "runs/item-0000"), str(solo)])
    _ok(r)
    reps = pd.read_csv(out / "reps.csv")
    assert set(reps["product"]) == {"ALL", "P"} and (reps["items"] == 4).all()
    # the shift items really halve SOUTH's potential (their manifest records the operation)
    m = json.loads((out / "runs" / "item-0004" / "manifest.json").read_text())
    assert m["resolved_scenario"]["operations"][0]["factor"] == 0.5
    ann = pd.read_csv(out / "runs" / "item-0004" / "annual.csv").set_index("rep_id")
    assert ann.loc["C", "base"] == 250.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real `dask scheduler` and one `dask worker` as subprocesses on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = []
    log = (tmp_path / "dask.log").open("w")
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                 "--port", str(port), "--no-dashboard"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the dask scheduler did not start within 60 s")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                 "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        )  # fmt: skip
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        log.close()


def test_draws_on_a_real_scheduler_equal_one_local_worker(
    tmp_path: Path, dask_cluster: str
) -> None:
    sc = _plan(tmp_path / "plan")
    remote, local = tmp_path / "remote", tmp_path / "local"
    _ok(_sweep(str(sc), "--draws", "4", "--seed", "3", "--scheduler", dask_cluster,
               "--keep-runs", "--out", str(remote)))  # fmt: skip
    _ok(_sweep(str(sc), "--draws", "4", "--seed", "3", "--workers", "1", "--out", str(local)))
    for name in ("sweep.csv", "quotas.parquet", "reps.csv", "units.csv", "tornado.csv"):
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    sweep = pd.read_csv(remote / "sweep.csv")
    assert (sweep["status"] == "optimal").all()
    # the draws really differ (the target shock moves the company total)
    assert sweep["total_quota"].nunique() > 1
    assert json.loads((remote / "manifest.json").read_text())["scheduler"] == dask_cluster
    # every draw, kept as a run folder (its shocks as data operations), passes the verifier
    for item in sweep["item"]:
        v = verify_run(remote / "runs" / item)
        assert v.ok, v.violations.to_string()
    assert (remote / "report.html").read_text().count("data:image/png;base64") >= 2


def test_draw_depends_only_on_seed_and_index(tmp_path: Path) -> None:
    from allocopt.pipeline import validate
    from allocopt.sweep.shocks import draw, select

    v = validate(_plan(tmp_path / "plan"))
    unc = v.md.scenario.uncertainty
    assert unc is not None
    sels = select(v.md, unc)
    a = [f.tolist() for f in draw(sels, 7, 5)]
    for i in (0, 9, 5):
        draw(sels, 7, i)
    assert [f.tolist() for f in draw(sels, 7, 5)] == a
    assert [f.tolist() for f in draw(sels, 7, 4)] != a
    # the region factor is common: with rho = 1 both reps of a region get the same factor
    one = unc.shocks[0].model_copy(
        update={"correlation": unc.shocks[0].correlation.model_copy(update={"rho": 1.0})}  # type: ignore[union-attr]
    )
    s1 = select(v.md, unc.model_copy(update={"shocks": [one]}))
    f = draw(s1, 1, 0)[0]  # reps A, B (NORTH), C, D (SOUTH)
    assert f[0] == f[1] and f[2] == f[3] and f[0] != f[2]


def test_plan_stress_hand_derived(tmp_path: Path) -> None:
    # over-assignment 25%: quotas add up to 1250 while expected sales add up to the target 1000,
    # so with no shock variance every rep and unit attains exactly 0.8 and never reaches quota
    fixed = {"shocks": [{"on": "potential", "distribution": "normal", "sd": 0.0}]}
    sc = _plan(tmp_path / "plan", uncertainty=fixed,
               targets={"by_product": {"P": 1000}, "over_assignment": 0.25})  # fmt: skip
    run_dir = tmp_path / "run"
    _ok(CliRunner().invoke(main, ["solve", str(sc), "--out", str(run_dir), "--quiet"]))
    out = tmp_path / "stress"
    _ok(_sweep(str(sc), "--draws", "5", "--plan", str(run_dir), "--out", str(out)))
    units = pd.read_csv(out / "attainment_units.csv", keep_default_na=False)
    co = units[units["unit_id"] == "CO"].iloc[0]
    assert co["attainment_p10"] == co["attainment_p90"] == 0.8 and co["p_reach"] == 0.0
    # rep sales are the target split by potential (600, 400, 500, 500 of 2000)
    quota = pd.read_csv(run_dir / "annual.csv").set_index("rep_id")["quota"]
    reps = pd.read_csv(out / "attainment_reps.csv").set_index("rep_id")
    sales = {"A": 300.0, "B": 200.0, "C": 250.0, "D": 250.0}
    for r, s_r in sales.items():
        assert reps.loc[r, "expected_sales"] == s_r
        assert reps.loc[r, "attainment_p50"] == round(s_r / quota[r], 6)
        assert reps.loc[r, "p_reach"] == (1.0 if s_r >= quota[r] else 0.0)
    assert co["quota"] == 1250.0 and co["expected_sales"] == 1000.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["summary"]["company_p_reach"] == 0.0
    # with real shocks some draws reach quota and some do not
    wide = tmp_path / "wide"
    sc2 = _plan(tmp_path / "plan2", targets={"by_product": {"P": 1000}, "over_assignment": 0.0})
    run2 = tmp_path / "run2"
    _ok(CliRunner().invoke(main, ["solve", str(sc2), "--out", str(run2), "--quiet"]))
    _ok(_sweep(str(sc2), "--draws", "200", "--seed", "1", "--plan", str(run2), "--out", str(wide)))
    reps = pd.read_csv(wide / "attainment_reps.csv")
    assert ((reps["p_reach"] > 0.05) & (reps["p_reach"] < 0.95)).all()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--grid", "rules.fairnes.band=0.2,0.3"], "did you mean rules.fairness.band"),
        (["--grid", "rules.growth.max=abc"], "rules.growth.max"),
        (["--grid", "rules.growth.max"], "write --grid KEY=V1,V2"),
        (["--scenarios", "up,sideways"], "sideways"),
        (["--draws", "2", "--grid", "rules.growth.max=0.1"], "takes no --scenarios or --grid"),
        (["--plan", "nowhere"], "needs --draws"),
        ([], "say what to sweep"),
    ],
)
def test_bad_sweep_definitions_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    res = _sweep(str(sc), *args, "--out", str(out))
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert not out.exists() and not list(tmp_path.glob(".sw*"))


@pytest.mark.parametrize(
    ("shock", "needle"),
    [
        ({"on": "potential", "team": ["T9"], "distribution": "normal", "sd": 0.1},
         "unknown team; known: T1, T2"),
        ({"on": "potential", "distribution": "normal", "sd": -0.1}, "greater than or equal"),
        ({"on": "potential", "distribution": "uniform", "sd": 0.1}, "normal"),
        ({"on": "potential", "distribution": "triangular", "low": 1.2, "mode": 1, "high": 1.1},
         "low ≤ mode ≤ high"),
        ({"on": "target", "region": ["NORTH"], "distribution": "normal", "sd": 0.1},
         "per product"),
    ],
)  # fmt: skip
def test_bad_uncertainty_exit_2_located(tmp_path: Path, shock: dict[str, Any], needle: str) -> None:
    sc = _plan(tmp_path / "plan", uncertainty={"shocks": [shock]})
    out = tmp_path / "sw"
    res = _sweep(str(sc), "--draws", "3", "--out", str(out))
    assert res.exit_code == 2, res.output
    assert needle in res.output and "uncertainty.shocks" in res.output
    assert "line " in res.output  # located in the scenario file
    assert not out.exists()


def test_unreachable_scheduler_exit_1_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import allocopt.sweep.runner as runner

    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", 3.0)
    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    port = _free_port()
    res = _sweep(str(sc), "--draws", "2", "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--out", str(out))  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "cannot reach the Dask scheduler" in res.output and "dask scheduler" in res.output
    assert not out.exists() and not list(tmp_path.glob(".sw*"))


def test_resume_reuses_finished_items(tmp_path: Path) -> None:
    from allocopt.sweep.define import define
    from allocopt.sweep.runner import _persist, _prepare_work
    from allocopt.sweep.work import Job, run_item

    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    defn = define(sc, grid=["targets.by_product.P=900,1000,1100"])
    # an interrupted sweep: item 1 finished and persisted, the others not
    work = _prepare_work(out, defn, False, False)
    job = Job(str(sc), (), (), defn.hash, 0, False)
    done = run_item(job, defn.items[1])
    done["row"]["diagnosis"] = "persisted before the interruption"
    _persist(work, done)
    res = CliRunner().invoke(
        main, ["sweep", str(sc), "--grid", "targets.by_product.P=900,1000,1100", "--workers",
               "1", "--out", str(out), "--resume"],
    )  # fmt: skip
    _ok(res)
    assert "(1 reused)" in res.output
    sweep = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert sweep["diagnosis"].tolist() == ["", "persisted before the interruption", ""]
    assert sweep["total_quota"].tolist() == [900.0, 1000.0, 1100.0]
    assert not work.exists()
    # resuming with another definition is refused (exit 2), nothing written
    out2 = tmp_path / "sw2"
    _prepare_work(out2, defn, False, False)
    res = CliRunner().invoke(
        main, ["sweep", str(sc), "--grid", "targets.by_product.P=900,1000", "--workers", "1",
               "--out", str(out2), "--resume"],
    )  # fmt: skip
    assert res.exit_code == 2 and "another definition" in res.output
    assert not out2.exists()
