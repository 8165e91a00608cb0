"""`allocopt sweep` on the command line: usage refused before anything runs, the messages an
analyst reads (the plan stress, an interrupted sweep), each problem said once.

Every refusal exits 2 without a progress bar and leaves nothing behind; none of these tests
starts a cluster or solves more than the few tiny items of tests/test_sweep.py's plan.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from tests.test_sweep import SRC, _ok, _plan


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["sweep", *args])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--draws", "2", "--workers", "0"], "--workers: must be at least 1"),
        (["--draws", "2", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"],
         "give one of the two"),
        (["--draws", "2", "--scheduler", "nonsense"], "write it as tcp://HOST:PORT"),
        (["--draws", "2", "--scheduler", "foo://127.0.0.1:8786"], "unknown address scheme"),
        (["--draws", "2", "--plan", "nowhere"], "no such run folder"),
        (["--draws", "2", "--plan", "RUN", "--keep-runs"], "no item runs to keep"),
        (["--grid", "targets.by_product.P=900,1000", "--seed", "3"],
         "only Monte Carlo draws are seeded"),
        (["--scenarios", "a,b", "--seed", "0"], "add --draws N or leave --seed out"),
    ],
)  # fmt: skip
def test_bad_usage_exits_2_before_anything_runs(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    sc = _plan(tmp_path / "plan")
    run_dir = tmp_path / "run"
    run_dir.mkdir()  # a folder that is no run folder is enough: --keep-runs is refused first
    out = tmp_path / "sw"
    args = [str(run_dir) if a == "RUN" else str(tmp_path / a) if a == "nowhere" else a
            for a in args]  # fmt: skip
    res = _run(str(sc), *args, "--out", str(out))  # no --quiet: the bar must not show
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert "sweep ━" not in res.output and "0/2" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".sw*"))


def test_a_grid_pointing_at_a_missing_data_file_exits_2_before_anything_runs(
    tmp_path: Path,
) -> None:
    # define() checks every item's data files exist (it reads no table): not a failed item
    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    res = _run(str(sc), "--grid", "data.potential=data/potential.csv,data/nope.csv",
               "--workers", "1", "--out", str(out))  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "--grid: data.potential: file not found:" in res.output and "nope.csv" in res.output
    assert "0/2" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".sw*"))


def test_an_existing_folder_is_refused_without_a_bar(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    res = _run(str(sc), "--grid", "targets.by_product.P=900,1000", "--workers", "1",
               "--out", str(out))  # fmt: skip
    assert res.exit_code == 3, res.output
    assert "exists already" in res.output and "--force" in res.output
    assert "0/2" not in res.output
    assert (out / "mine.txt").read_text() == "keep me"
    # --resume of a finished sweep: nothing to resume, said so
    done = tmp_path / "done"
    grid = ["--grid", "targets.by_product.P=900,1000", "--workers", "1", "--out", str(done)]
    _ok(_run(str(sc), *grid, "--quiet"))
    res = _run(str(sc), *grid, "--resume")
    assert res.exit_code == 3, res.output
    assert "the sweep finished, nothing to resume" in res.output
    res = _run(str(sc), "--grid", "targets.by_product.P=900,1000", "--workers", "1",
               "--out", str(out), "--resume")  # fmt: skip
    assert res.exit_code == 3 and "exists already" in res.output


def test_a_bad_grid_key_is_reported_once(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    res = _run(str(sc), "--grid", "rules.fairnes.band=0.1,0.2,0.3", "--out", str(tmp_path / "s"))
    assert res.exit_code == 2, res.output
    assert res.output.count("unknown key rules.fairnes.band") == 1
    # two bad values of one key are two problems
    res = _run(str(sc), "--grid", "rules.growth.max=abc,xyz", "--out", str(tmp_path / "s"))
    assert res.exit_code == 2, res.output
    assert "'abc'" in res.output and "'xyz'" in res.output
    # an unknown name with a grid: said once, not once per grid point
    res = _run(str(sc), "--scenarios", "sideways", "--grid", "targets.by_product.P=900,1000",
               "--out", str(tmp_path / "s"))  # fmt: skip
    assert res.exit_code == 2, res.output
    assert res.output.count("sideways") == 1


def test_a_plan_from_another_scenario_is_refused_before_the_stress(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    run_dir = tmp_path / "run"
    _ok(CliRunner().invoke(main, ["solve", str(sc), "--out", str(run_dir), "--quiet"]))
    annual = run_dir / "annual.csv"
    annual.write_text(annual.read_text().replace("\nA,", "\nZZ,"))
    out = tmp_path / "stress"
    res = _run(str(sc), "--draws", "3", "--plan", str(run_dir), "--out", str(out))
    assert res.exit_code == 2, res.output
    assert "annual.csv: rep_id: 1 rep(s) of the plan are not in the scenario's data (ZZ)" in (
        res.output
    )
    assert "0/3" not in res.output and not out.exists()


def test_a_plan_stress_says_nothing_is_solved(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    run_dir = tmp_path / "run"
    _ok(CliRunner().invoke(main, ["solve", str(sc), "--out", str(run_dir), "--quiet"]))
    out = tmp_path / "stress"
    res = _run(str(sc), "--draws", "4", "--plan", str(run_dir), "--out", str(out), "--quiet")
    _ok(res)
    assert "plan stress: 4 draws of sales outcomes for the plan's quotas (nothing solved)" in (
        res.output
    )
    assert "solved, 0 infeasible" not in res.output
    assert "chance to reach it" in res.output
    html = (out / "report.html").read_text()
    assert "4 draws of sales outcomes" in html and "(nothing solved)" in html
    assert "items: 4 solved" not in html
    assert "<h2>Chance to reach quota</h2>" in html
    # company first, then regions, then teams
    assert html.index("<td>CO</td>") < html.index("<td>NORTH</td>") < html.index("<td>T1</td>")


@pytest.mark.parametrize("given_out", [True, False])
def test_an_interrupted_sweep_says_how_to_resume(tmp_path: Path, given_out: bool) -> None:
    # a real process and a real SIGINT once the first items are kept (the claim is about them);
    # without --out the note names the default folder, which --resume needs
    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    where = ["--out", str(out)] if given_out else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocopt.cli", "sweep", str(sc), "--draws", "5000",
         "--workers", "1", *where, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip

    def kept() -> list[Path]:
        return list(tmp_path.rglob(".*.sweep-work/item-*.arrow"))

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not kept():
            time.sleep(0.1)
        assert kept(), proc.stderr.read() if proc.poll() is not None else "no item kept"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted (SIGINT)" in stderr
    work = kept()[0].parent
    target = work.parent / work.name.removeprefix(".").removesuffix(".sweep-work")
    if given_out:
        assert target == out
    again = "--resume" if given_out else f"--out {target} --resume"
    assert f"the finished items are kept in {work}: run the same command with {again}" in stderr
    assert not target.exists()


def test_items_infeasible_for_one_cause_are_counted_under_one_reason(tmp_path: Path) -> None:
    # two targets above what the reps can carry: short by different amounts, for one reason
    sc = _plan(tmp_path / "plan")
    out = tmp_path / "sw"
    res = _run(str(sc), "--grid", "targets.by_product.P=1000,50000,60000", "--workers", "1",
               "--out", str(out), "--quiet")  # fmt: skip
    _ok(res)
    assert "3 items, 1 solved, 2 infeasible, 0 failed" in res.output
    assert res.output.count("not solved") == 1 and "2 of 3 items not solved" in res.output
    manifest = json.loads((out / "manifest.json").read_text())
    # the manifest: the definition, the resolved base, the scheduler used, versions with Dask
    assert manifest["kind"] == "sweep" and manifest["scheduler"] == "in-process"
    assert manifest["sweep"]["grid"] == [
        {"key": "targets.by_product.P", "values": ["1000", "50000", "60000"]}
    ]
    assert manifest["resolved_scenario"]["targets"]["by_product"] == {"P": 1000.0}
    assert {"allocopt", "highs", "dask", "distributed"} <= set(manifest["versions"])
    reasons = manifest["summary"]["reasons"]
    assert list(reasons.values()) == [2]
    (reason,) = reasons
    assert "…" in reason and "50" not in reason and "60" not in reason
    bad = pd.read_csv(out / "infeasible.csv", keep_default_na=False)
    assert bad["item"].tolist() == ["item-0001", "item-0002"]
    assert bad["reason"].tolist() == [reason, reason]
    assert bad["diagnosis"].str.contains("infeasible").all()
    assert bad.loc[0, "diagnosis"] != bad.loc[1, "diagnosis"]  # the amounts stay there
    # the report: one row per item with its parameter, the reason counted once
    html = (out / "report.html").read_text()
    assert "<h2>Items</h2>" in html and "<td>60000</td>" in html
    assert html.count(f"2 of 3 items: {reason}") == 1
    assert "Infeasible and failed items: 2 of 3 (66.7%)" in html
    assert ">nan<" not in html


def test_the_json_schema_states_the_uncertainty_bounds_as_json_schema() -> None:
    # an editor validating with `allocopt schema` must reject rho: 1.5 or sd: -0.1
    res = CliRunner().invoke(main, ["schema"])
    _ok(res)
    schema = json.loads(res.stdout)
    defs = schema["$defs"]
    assert schema["properties"]["uncertainty"]["anyOf"][0] == {"$ref": "#/$defs/Uncertainty"}
    rho = defs["Correlation"]["properties"]["rho"]
    assert (rho["minimum"], rho["maximum"]) == (0, 1)
    assert {"minimum": 0, "type": "number"} in defs["Shock"]["properties"]["sd"]["anyOf"]
    assert defs["Shock"]["properties"]["distribution"]["enum"] == [
        "normal",
        "lognormal",
        "triangular",
    ]
    # nowhere a pydantic-only bound keyword JSON Schema validators ignore
    text = json.dumps(schema)
    assert not any(f'"{k}": ' in text for k in ("ge", "le", "gt", "lt"))


def test_the_progress_bar_counts_items_not_solved(tmp_path: Path) -> None:
    # items done of all, the infeasible and failed ones as they come in, the time left
    sc = _plan(tmp_path / "plan")
    res = _run(str(sc), "--grid", "targets.by_product.P=1000,50000,60000", "--workers", "1",
               "--out", str(tmp_path / "sw"))  # fmt: skip
    _ok(res)
    bar = [x for x in res.output.splitlines() if x.startswith("sweep ")]
    assert bar and "3/3" in bar[-1] and "2 infeasible/failed" in bar[-1] and "ETA" in bar[-1]


def test_the_report_says_when_its_chart_shows_only_some_teams() -> None:
    from allocopt.sweep.report import MAX_TEAMS, _fan

    n = MAX_TEAMS + 5
    units = pd.DataFrame({"unit_id": [f"T{i:03d}" for i in range(n)], "level": "team",
                          "quota_p10": 1.0, "quota_p50": 2.0, "quota_p90": 3.0})  # fmt: skip
    html = _fan(units, "quota_", "Annual quota by team", None)
    assert f"the first {MAX_TEAMS} of {n} teams; all in the CSV" in html
    assert "of 3 teams" not in _fan(units.head(3), "quota_", "Annual quota by team", None)


def test_a_sweep_folder_given_as_a_run_folder_is_named_as_such(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    sw = tmp_path / "sw"
    _ok(_run(str(sc), "--grid", "targets.by_product.P=900,1000,50000", "--workers", "1",
             "--keep-runs", "--out", str(sw), "--quiet"))  # fmt: skip
    for args in (["verify", str(sw)], ["explain", str(sw)],
                 ["sweep", str(sc), "--draws", "2", "--plan", str(sw), "--out",
                  str(tmp_path / "st")]):  # fmt: skip
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        assert "is a sweep folder (`allocopt sweep`), not the run folder of one plan" in res.output
    # `report SWEEP` said summary.json was missing: it names the sweep and its own report
    html = tmp_path / "sw.html"
    res = CliRunner().invoke(main, ["report", str(sw), "--out", str(html)])
    assert res.exit_code == 2, res.output
    assert f"cannot report on {sw}" in res.output and "is a sweep folder" in res.output
    assert "the sweep's own report is" in res.output and "report.html" in res.output
    assert "summary.json" not in res.output and not html.exists()
    # its kept items are run folders
    _ok(CliRunner().invoke(main, ["verify", str(sw / "runs" / "item-0000")]))
    _ok(CliRunner().invoke(main, ["explain", str(sw / "runs" / "item-0001")]))
    # a kept infeasible item holds only its diagnosis: said so, not "quotas.csv missing"
    inf = sw / "runs" / "item-0002"
    for cmd in ("verify", "explain"):
        res = CliRunner().invoke(main, [cmd, str(inf)])
        assert res.exit_code == 2, res.output
        assert "the plan was infeasible" in res.output and str(inf / "infeasible.txt") in res.output


def test_the_tornado_credits_each_shock_with_its_own_effect() -> None:
    # the total follows shock a exactly (y = 100·a); shock b is correlated with a in the sample
    # but does not move y: b's swing is 0 and a's is 100 × (its p90 − p10)
    from types import SimpleNamespace

    from allocopt.sweep.summarise import _tornado

    a = np.array([0.9, 0.95, 1.0, 1.05, 1.1, 0.97, 1.02, 0.93])
    b = a + np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02, -0.03, 0.01])
    sels = [SimpleNamespace(label=n, shock=SimpleNamespace(on="potential"), index=np.arange(3))
            for n in ("a", "b")]  # fmt: skip
    t = _tornado(sels, np.column_stack([a, b]), 100 * a, "company_quota").set_index("shock")  # type: ignore[arg-type]
    lo, hi = np.percentile(a, [10, 90])
    assert t.loc["a", "swing"] == pytest.approx(100 * (hi - lo), abs=0.01)
    assert t.loc["b", "swing"] == pytest.approx(0.0, abs=0.01)
    assert list(t.index) == ["a", "b"]
