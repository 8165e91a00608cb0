"""The key-account alignment solved by its independent blocks (solve/alignment.py).

The plan: three teams T1 (reps A, B), T2 (C, D), T3 (E, F); no candidates table, so each key
account may go to the reps of its incumbent's team and the candidate graph has three connected
components. Every rep holds at most one key account, moving one costs 10% of its revenue:

- T1: A owns K1 (100) and K2 (200) → K1 (the cheaper move, 10) goes to B;
- T2: C owns K3 (300) and K4 (50) → K4 (5) goes to D;
- T3: E owns K5, F owns K6 → nobody moves.

So the optimum moves K1 and K4 at a disruption of 15, whether solved whole or by blocks
(``solver.alignment_block_size: 1`` forces one block per component on a plan this small).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from allocopt.compose import verify_run
from allocopt.errors import SolverError
from allocopt.pipeline import run
from allocopt.solve import alignment as align_mod
from tests.conftest import Solve
from tests.plans import write_plan
from tests.test_replan import _replan

SPLIT = "solver.alignment_block_size=1"
OWNERS = {"K1": "B", "K2": "A", "K3": "C", "K4": "D", "K5": "E", "K6": "F"}


def _rep(rep: str, team: str) -> dict[str, Any]:
    return {
        "rep_id": rep,
        "team_id": team,
        "role": "rep",
        "fte": 1,
        "start_date": "",
        "end_date": "",
        "capacity": 10000,
        "ly_quota": "",
        "ly_actual": "",
    }


def _key(acc: str, revenue: float, rep: str) -> dict[str, Any]:
    return {
        "account_id": acc,
        "product": "P",
        "revenue": revenue,
        "key": "true",
        "incumbent_rep": rep,
    }


def _tables() -> dict[str, list[dict[str, Any]] | None]:
    teams = {"T1": "AB", "T2": "CD", "T3": "EF"}
    org = [
        {"unit_id": "CO", "parent_id": "", "name": "Company", "level": "company"},
        {"unit_id": "NORTH", "parent_id": "CO", "name": "North", "level": "region"},
    ] + [{"unit_id": t, "parent_id": "NORTH", "name": f"Team {t}", "level": "team"} for t in teams]
    reps = [_rep(r, t) for t, rs in teams.items() for r in rs]
    potential = [
        {"rep_id": r, "product": "P", "potential": 600 if k == 0 else 400}
        for rs in teams.values()
        for k, r in enumerate(rs)
    ]
    accounts = [
        _key("K1", 100, "A"),
        _key("K2", 200, "A"),
        _key("K3", 300, "C"),
        _key("K4", 50, "C"),
        _key("K5", 80, "E"),
        _key("K6", 60, "F"),
    ]
    return {"org_units": org, "reps": reps, "potential": potential, "accounts": accounts}


RULES = {"key_accounts": {"enabled": True, "max_accounts": 1, "move_cost": 0.1}}


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    return write_plan(
        tmp_path / "plan",
        tables=_tables(),
        extra={"rules": RULES, "targets": {"by_product": {"P": 1500}}},
    )


def _alignment(run_dir: Path) -> dict[str, Any]:
    stages: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())["stages"]
    return dict(stages["alignment"])


def _owners(res: Any) -> dict[str, str]:
    asg = res.results.assignments
    return dict(zip(asg["account_id"], asg["owner_rep"], strict=True))


def test_blocks_give_the_monolithic_owners_and_objective(plan: Path, solve: Solve) -> None:
    mono = solve(plan)  # both verified by the fixture
    split = solve(plan, sets=[SPLIT])
    am, as_ = _alignment(mono.run_dir), _alignment(split.run_dir)
    assert "independent blocks" not in am["message"]
    assert as_["message"].startswith("Optimal in each of 3 independent blocks")
    assert _owners(mono) == _owners(split) == OWNERS
    for res in (mono, split):
        terms = res.results.summary["objective_terms"]
        assert terms["alignment_disruption"] == pytest.approx(15.0)
    assert as_["objective"] == pytest.approx(am["objective"], rel=1e-12)
    # the blocks share no row: their bounds add up to a bound of the whole model
    assert as_["bound"] <= as_["objective"] + 1e-9
    assert as_["status"] == "optimal" and as_["gap"] == pytest.approx(0.0, abs=1e-9)
    # the same owners → the same quota stage, to the byte
    for name in ("assignments.csv", "quotas.csv", "annual.csv"):
        assert (mono.run_dir / name).read_bytes() == (split.run_dir / name).read_bytes()


def test_one_and_two_workers_write_the_same_bytes(plan: Path, tmp_path: Path) -> None:
    runs = []
    for workers in (1, 2):  # same folder name, so the report's own path is the same too
        out = tmp_path / f"w{workers}" / "run"
        run(plan, out=out, sets=[SPLIT, f"solver.workers={workers}"])
        check = verify_run(out)
        assert check.ok, check.violations.to_string()
        runs.append(out)
    one, two = runs
    names = sorted(p.name for p in one.iterdir() if p.is_file() and p.name != "manifest.json")
    assert "assignments.csv" in names and "quotas.csv" in names
    assert [n for n in names if (one / n).read_bytes() != (two / n).read_bytes()] == []
    a1, a2 = _alignment(one), _alignment(two)
    assert a1["objective"] == a2["objective"] and a1["bound"] == a2["bound"]
    assert "3 independent blocks" in a2["message"]


def test_blocks_on_a_local_dask_cluster_write_the_serial_bytes(plan: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster, get_task_stream

    from allocopt.solve.decompose import dask_blocks

    serial = tmp_path / "serial" / "run"
    run(plan, out=serial, sets=[SPLIT])
    dask = tmp_path / "dask" / "run"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
        dask_blocks(client),
        get_task_stream(client) as stream,
    ):
        run(plan, out=dask, sets=[SPLIT])
    # the quota stage of this plan is one MIP: every task is an alignment block chunk
    keys = [str(t["key"]) for t in stream.data]
    assert keys and all("_solve_chunk" in k for k in keys)
    check = verify_run(dask)
    assert check.ok, check.violations.to_string()
    names = sorted(p.name for p in serial.iterdir() if p.is_file() and p.name != "manifest.json")
    assert "assignments.csv" in names
    assert [n for n in names if (serial / n).read_bytes() != (dask / n).read_bytes()] == []
    assert _alignment(serial)["objective"] == _alignment(dask)["objective"]


def test_a_row_joining_every_account_keeps_the_model_whole(tmp_path: Path, solve: Solve) -> None:
    """Re-plan with max_moves: one row over every account's moves joins the three components, so
    the alignment cannot be split and is solved whole (the message names the row). Published:
    nobody moves (two accounts allowed per rep); the re-plan allows one, so K1 and K4 move."""
    rules = {"key_accounts": {"enabled": True, "max_accounts": 2, "move_cost": 0.1}}
    pub = solve(
        write_plan(
            tmp_path / "plan",
            tables=_tables(),
            extra={"rules": rules, "targets": {"by_product": {"P": 1500}}},
        ),
        sets=[SPLIT],
    )
    assert _owners(pub) == {"K1": "A", "K2": "A", "K3": "C", "K4": "C", "K5": "E", "K6": "F"}
    assert "3 independent blocks" in _alignment(pub.run_dir)["message"]
    path = _replan(
        tmp_path,
        pub.run_dir,
        max_moves=2,
        rules={"key_accounts": {"max_accounts": 1}},
        targets={"by_product": {"P": 1500}},
    )
    res = solve(path, sets=[SPLIT])
    a = _alignment(res.run_dir)
    assert "independent blocks" not in a["message"]
    assert "solved whole: the rows max_moves join all key accounts" in a["message"]
    assert _owners(res) == OWNERS


def _block_times_out(monkeypatch: pytest.MonkeyPatch, which: int) -> list[int]:
    """Block number ``which`` (0-based, in block order) runs out of time before any plan."""
    real = align_mod._solve_block
    seen: list[int] = []

    def fake(data: Any, options: dict[str, Any], deadline: float) -> tuple[Any, ...]:
        seen.append(len(seen))
        if len(seen) - 1 == which:
            return ("time_limit", None, True, None, None)
        return real(data, options, deadline)

    monkeypatch.setattr(align_mod, "_solve_block", fake)
    return seen


def test_a_block_out_of_time_keeps_its_feasible_incumbents_stamped(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """T3's block (the third) gets no plan in time: its incumbents (E: K5, F: K6) keep every row,
    so they are its plan; the whole stage is stamped time_limit with its gap."""
    seen = _block_times_out(monkeypatch, 2)
    res = solve(plan, sets=[SPLIT, "solver.workers=1"])  # one process (the patch), verified
    assert seen == [0, 1, 2]
    a = _alignment(res.run_dir)
    assert a["status"] == "time_limit" and a["has_solution"]
    assert (
        "Time limit reached in 1 of 3 independent blocks (1 kept their incumbent owners)"
        in (a["message"])
    )
    assert a["gap"] is not None and 0.0 <= a["gap"] < 1.0
    assert a["bound"] <= a["objective"] + 1e-9
    assert res.results.summary["status"] == "time_limit"
    assert _owners(res) == OWNERS  # here the incumbents of T3 are its optimum too


def test_a_block_out_of_time_with_infeasible_incumbents_is_an_error(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """T2's incumbents (C owns both K3 and K4, at most one allowed) break a limit: no plan."""
    _block_times_out(monkeypatch, 1)
    with pytest.raises(SolverError) as err:
        run(plan, out=tmp_path / "out", sets=[SPLIT, "solver.workers=1"])
    text = err.value.render()
    assert "time limit reached in the key-account alignment before 1 of its 3" in text
    assert "raise solver.time_limit" in text


def test_whole_model_out_of_time_falls_back_to_the_incumbents(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the block threshold: HiGHS returns no plan in time; with two accounts allowed per
    rep the incumbents are feasible and become the plan, stamped with a gap."""
    real = align_mod.run_highs

    def fake(comp: Any, options: dict[str, Any], **kw: Any) -> Any:
        if comp.model.name == "alignment":
            return align_mod.SolveResult(
                "time_limit", False, is_mip=True, message="Time limit reached", options=options
            )
        return real(comp, options, **kw)

    monkeypatch.setattr(align_mod, "run_highs", fake)
    res = solve(plan, sets=["rules.key_accounts.max_accounts=2"])
    a = _alignment(res.run_dir)
    assert a["status"] == "time_limit" and a["has_solution"]
    assert a["message"].startswith("time limit reached before the solver had a plan")
    assert a["gap"] is not None and a["bound"] <= a["objective"] + 1e-9
    assert _owners(res) == {"K1": "A", "K2": "A", "K3": "C", "K4": "C", "K5": "E", "K6": "F"}
    assert res.results.summary["status"] == "time_limit"


def test_incumbent_start_leaves_out_the_books_over_a_limit(plan: Path) -> None:
    from allocopt.model.build import build_alignment
    from allocopt.model.rules.key_accounts import incumbent_start
    from allocopt.pipeline import validate

    md = validate(plan).md
    built = build_alignment(md)
    assert built is not None
    cols, vals = incumbent_start(built.model, md)
    x = built.model.vars["assign"]
    acc = np.asarray(md.ka_ids)[md.pairs.acc[cols - x.start]]
    # A (K1, K2) and C (K3, K4) hold two accounts where one is allowed: those are left out
    assert sorted(set(acc.tolist())) == ["K5", "K6"]
    assert vals.sum() == 2.0
