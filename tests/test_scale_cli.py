"""Issue 12 from the planner's side: `allocopt solve --scheduler/--workers` usage, and what the
CLI line, the report and `explain` say about a plan stamped by the time limit.

The time limit is reached deterministically by patching the HiGHS boundary as
tests/test_time_limit.py does (no timing in any test)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.examples.generate import generate_plan
from allocopt.solve import blocks as solve_mod
from tests.test_time_limit import _no_integer_plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scale-cli")
    return generate_plan(root / "p", regions=2, teams=4, reps=40, seed=3, name="tl")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--scheduler", "foo"], "is not a Dask scheduler address"),
        (["--scheduler", ""], "is not a Dask scheduler address"),
        (["--scheduler", "tcp://127.0.0.1:port"], "write it as tcp://HOST:PORT"),
        (["--scheduler", "foo://127.0.0.1:8786"], "unknown address scheme"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "give one of the two"),
        (["--workers", "0"], "'--workers'"),
        (["--workers", "two"], "'--workers'"),
    ],
)  # fmt: skip
def test_bad_scheduler_or_workers_exit_2_before_anything_runs(
    plan: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    """A malformed address is refused at once (it used to wait 10 s, say "cannot reach", exit 1
    and print a distributed traceback from Client.__del__); nothing is written."""
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["solve", str(plan), "--out", str(out), *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_workers_option_is_solver_workers_and_keeps_the_plan(plan: Path, tmp_path: Path) -> None:
    """`--workers N` is `--set solver.workers=N` (recorded in the manifest); the plan forced into
    blocks is the same bytes with 2 processes as with 1."""
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        args = ["--out", str(out), "--workers", str(n), "--quiet", "--set", "solver.block_size=1"]
        r = CliRunner().invoke(main, ["solve", str(plan), *args])
        assert r.exit_code == 0, r.output
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["resolved_scenario"]["solver"]["workers"] == n
        assert "independent blocks" in manifest["stages"]["quotas"]["message"]
        runs[n] = (out / "quotas.csv").read_bytes()
    assert runs[1] == runs[2]


def test_status_line_of_a_time_limited_plan_says_what_stopped_it() -> None:
    from allocopt.cli.solve import _status_line

    def manifest(gap: float, method: str) -> dict[str, Any]:
        return {"stages": {"quotas": {"gap": gap, "bound_method": method,
                                      "gap_against_lp": method == "lp"}}}  # fmt: skip

    lp = _status_line("time_limit", 0.866, manifest(0.866, "lp"))
    assert lp.startswith("[green]time_limit[/], gap 86.6000% against the LP relaxation's bound")
    assert "leaves out the cost of rounding the quotas to the unit" in lp
    assert "solver.time_limit reached" in lp and "raise the limit" in lp
    lagr = _status_line("time_limit", 0.02, manifest(0.02, "lagrangian"))
    assert "Lagrangian integer bound" in lagr and "solver.time_limit reached" in lagr
    assert "rounding" not in lagr  # that bound includes the rounding
    # a proven plan's line is unchanged: no advice
    ok = _status_line("optimal", 7.3e-6, manifest(7.3e-6, "lagrangian"))
    assert "time_limit" not in ok and "raise" not in ok


def test_a_time_limited_run_folder_is_stamped_explained_reported_and_verified(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit a stamped plan is written; the CLI line, summary, manifest, the report's
    headline and `explain` all say time_limit, what the gap is against and what to do; `verify`
    passes."""
    _no_integer_plan(monkeypatch)
    out = tmp_path / "run"
    runner = CliRunner()
    r = runner.invoke(main, ["solve", str(plan), "--out", str(out), "--set", "solver.time_limit=5"])
    assert r.exit_code == 0, r.output
    line = next(s for s in r.output.splitlines() if " → " in s)
    assert line.startswith("time_limit, gap") and "solver.time_limit reached" in line
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["status"] == manifest["status"] == "time_limit"
    assert summary["gap"] == manifest["gap"] and manifest["stages"]["quotas"]["gap_against_lp"]

    html = (out / "report.html").read_text()
    assert "gap against the LP relaxation&#x27;s bound" in html or (
        "gap against the LP relaxation's bound" in html
    )
    assert "The solve stopped at solver.time_limit (5 s)" in html
    assert "larger solver.time_limit" in html
    rep = tmp_path / "again.html"
    r = runner.invoke(main, ["report", str(out), "--out", str(rep)])
    assert r.exit_code == 0, r.output
    assert "The solve stopped at solver.time_limit (5 s)" in rep.read_text()

    r = runner.invoke(main, ["explain", str(out), "--no-resolve"])
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("plan: time_limit, gap ") and "LP relaxation's bound" in first
    assert "the prices below are the LP relaxation's" in first
    r = runner.invoke(main, ["explain", str(out), "--no-resolve", "--json"])
    assert json.loads(r.output)["plan"]["status"] == "time_limit"

    r = runner.invoke(main, ["verify", str(out)])
    assert r.exit_code == 0 and "no violations" in r.output, r.output


def test_no_time_for_the_lp_names_the_limit_and_how_to_raise_it(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the limit passes before the LP relaxation is solved (and the decomposition cannot
    give a point: patched to give up) there is nothing to round: exit 1 with the limit, the
    quota stage's share of it and the --set to raise it; nothing written."""
    from allocopt.solve import decompose

    monkeypatch.setattr(decompose, "solve_lp_decomposed", lambda *a, **k: None)
    real = solve_mod.run_highs

    def fake(comp: solve_mod.Compiled, options: dict[str, Any], **kw: Any) -> Any:
        if comp.model.name == "quotas":
            return solve_mod.SolveResult("time_limit", False, message="Time limit reached")
        return real(comp, options, **kw)

    monkeypatch.setattr(solve_mod, "run_highs", fake)
    out = tmp_path / "run"
    r = CliRunner().invoke(
        main, ["solve", str(plan), "--out", str(out), "--set", "solver.time_limit=4"]
    )
    assert r.exit_code == 1, r.output
    assert "before the LP relaxation was solved" in r.output
    assert "solver.time_limit is 4 s for the whole solve" in r.output
    assert "the quota stage was given" in r.output and "--set solver.time_limit=" in r.output
    assert "no run folder was written" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_explain_never_prints_minus_zero() -> None:
    from allocopt.cli.explain import _whole

    assert _whole(-0.3) == "0" and _whole(-1234.6) == "-1,235" and _whole(0.4) == "0"


def test_quiet_still_warns_of_a_time_limited_plan(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--quiet prints only warnings and errors: a plan stopped by the limit (exit 0) is one."""
    _no_integer_plan(monkeypatch)
    out = tmp_path / "run"
    args = ["--out", str(out), "--set", "solver.time_limit=5", "--quiet", "--no-report"]
    r = CliRunner().invoke(main, ["solve", str(plan), *args])
    assert r.exit_code == 0, r.output
    (line,) = [s for s in r.output.splitlines() if s.strip()]
    assert line.startswith("warning: time_limit, gap") and "solver.time_limit reached" in line
    assert "company totals" not in r.output


def test_truncated_report_tables_say_how_many_they_leave_out() -> None:
    """At 100k reps a report table shows the largest rows only, and says so (a re-plan's
    old-vs-new table listed 200 of them without a word)."""
    import pandas as pd

    from allocopt.outputs import report

    n = report.MAX_ROWS + 50
    old = pd.Series([1000.0 * (i + 1) for i in range(n)])
    df = pd.DataFrame({"rep_id": [f"R{i:04d}" for i in range(n)], "old": old, "new": old + 7.0})
    df["change"] = df["new"] - df["old"]
    df["change_pct"] = df["change"] / df["old"]
    html = report._replan(df, "EUR")
    assert f"{n:,} reps have a changed annual quota" in html
    assert f"the {report.MAX_ROWS} largest changes" in html
    assert html.count("<tr>") <= report.MAX_ROWS + 2  # header (+ total) and the shown rows
    small = report._replan(df.head(3), "EUR")
    assert "largest changes" not in small


def test_evaluation_report_says_which_teams_its_table_leaves_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocopt.outputs import report
    from tests.test_io_scale import evaluated_run

    run_dir, folder = evaluated_run(tmp_path)
    plain = report.render_report(run_dir, evaluate_dir=folder)
    assert "least accurate of" not in plain
    monkeypatch.setattr(report, "MAX_BARS", 0)  # the plan has one team: show none of it
    cut = report.render_report(run_dir, evaluate_dir=folder)
    assert "(least accurate first; the 0 least accurate of 1)" in cut


def test_compare_shows_a_time_limited_run_s_status_and_gap_as_a_percentage(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    ok, cut = tmp_path / "ok", tmp_path / "cut"
    r = runner.invoke(main, ["solve", str(plan), "--out", str(ok), "--quiet", "--no-report"])
    assert r.exit_code == 0, r.output
    _no_integer_plan(monkeypatch)
    args = ["--out", str(cut), "--quiet", "--no-report", "--set", "solver.time_limit=5"]
    r = runner.invoke(main, ["solve", str(plan), *args])
    assert r.exit_code == 0, r.output
    gaps = [json.loads((d / "manifest.json").read_text())["gap"] for d in (ok, cut)]
    r = runner.invoke(main, ["compare", str(ok), str(cut)])
    assert r.exit_code == 0, r.output
    (row,) = [s for s in r.output.splitlines() if s.strip("│ ").startswith("gap ")]
    assert f"{gaps[0]:.4%}" in row and f"{gaps[1]:.4%}" in row
    assert "time_limit" in r.output


def test_a_plan_without_rounding_solves_its_lp_by_blocks_too(plan: Path, solve: Any) -> None:
    """solver.decompose_above held only for the relaxation of a rounding MIP: with rounding off
    the quota LP was always one HiGHS LP (50k reps: 257–389 s, past the 120-s limit). Now it is
    decomposed the same way, to the same optimum; both plans verified (the fixture)."""
    off = "rules.rounding.enabled=false"
    mono = solve(plan, sets=[off])
    dw = solve(plan, sets=[off, "solver.decompose_above=0"])
    qm, qd = (json.loads((r.run_dir / "manifest.json").read_text())["stages"]["quotas"]
              for r in (mono, dw))  # fmt: skip
    assert "Dantzig–Wolfe" in qd["message"] and "Dantzig–Wolfe" not in qm["message"]
    assert qd["status"] == qm["status"] == "optimal" and not qd["is_mip"]
    assert qd["objective"] == pytest.approx(qm["objective"], rel=1e-8)
    tm = mono.results.annual.groupby("product")["quota"].sum().sort_index()
    td = dw.results.annual.groupby("product")["quota"].sum().sort_index()
    assert np.allclose(tm.to_numpy(), td.to_numpy(), rtol=0, atol=1e-6)


def test_lp_by_blocks_past_the_deadline_is_a_plan_only_if_it_meets_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first round's master point of the hand LP cannot meet its totals row (every block
    proposes 0 at π = 0): no plan, and the message says the LP was not solved in time."""
    from allocopt.solve import decompose
    from allocopt.solve.blocks import solve_lp_by_blocks
    from tests.test_decompose import _Clock, _hand_lp

    comp, link = _hand_lp()
    monkeypatch.setattr(decompose, "_now", _Clock(jump_at=2, by=1e6).now)
    res = solve_lp_by_blocks(comp, {"threads": 1, "time_limit": 10.0}, link, 0)
    assert res.status == "time_limit" and not res.has_solution
    assert res.message.startswith("time limit reached before the LP relaxation was solved")
    assert "not an LP solution" in res.message
    # in time: the LP optimum of the hand LP (cost 24, derived in tests/test_decompose.py)
    monkeypatch.setattr(decompose, "_now", time.perf_counter)
    ok = solve_lp_by_blocks(comp, {"threads": 1, "time_limit": 10.0}, link, 0)
    assert ok.status == "optimal" and ok.objective == pytest.approx(24.0, rel=1e-9)


def test_explain_re_solves_out_of_time_are_not_measured_never_infeasible(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """explain re-solves the LP under the run's solver.time_limit; one that stops there said
    "the plan is infeasible at +1% target" (seen on a 5k plan stamped at a 2-s limit)."""
    from allocopt.solve import entry

    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["solve", str(plan), "--out", str(out), "--quiet", "--no-report"])
    assert r.exit_code == 0, r.output
    real = entry.run_highs

    def out_of_time(comp: Any, options: dict[str, Any], **kw: Any) -> Any:
        if comp.model.name == "quotas":
            return solve_mod.SolveResult("time_limit", False, message="Time limit reached")
        return real(comp, options, **kw)

    monkeypatch.setattr(entry, "run_highs", out_of_time)
    r = CliRunner().invoke(main, ["explain", str(out)])
    assert r.exit_code == 0, r.output
    assert "infeasible" not in r.output and "Traceback" not in r.output
    assert "price of fairness not measured: the LP re-solve stopped without its optimum" in (
        " ".join(r.output.split())
    )
    assert "+1% target re-solve not measured" in " ".join(r.output.split())
    data = json.loads(CliRunner().invoke(main, ["explain", str(out), "--json"]).output)
    assert all("not measured" in p["note"] for p in data["target_prices"])
    assert all("resolved_plus_1pct" not in p for p in data["target_prices"])
