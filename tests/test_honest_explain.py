"""Explanations that stay honest: figures on screen add up, prices say where they hold,
pre-checks state a maximum that is both valid and reachable, conflict lists speak business.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from allocopt.cli import main
from allocopt.compose import explain_plan
from allocopt.diagnose import prechecks
from allocopt.errors import InfeasibleError
from allocopt.model.build import build_alignment, build_quotas
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.pipeline import relaxed_objective, run, validate
from allocopt.results.explain import round_to_sum
from allocopt.solve import compile_model, highs_options, new_highs, solve
from tests.plans import write_plan
from tests.test_model_rules import _key_accounts, _reps

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example, solved once for this module (no report)."""
    out = tmp_path_factory.mktemp("example") / "run"
    res = CliRunner().invoke(
        main,
        ["solve", str(EXAMPLE / "scenario.yaml"), "--out", str(out), "--quiet", "--no-report"],
    )
    assert res.exit_code == 0, res.output
    return out


# --- the text view of `explain --rep` adds up -------------------------------------------------

_NUM = re.compile(r"^[+-]?[\d,]+$")


def _table(output: str) -> tuple[list[int], int, int]:
    """(shown parts, shown quota row, quota in the title) parsed from the printed table."""
    title = re.search(r"quota ([\d,]+)", output.splitlines()[0])
    assert title, output
    parts: list[int] = []
    quota = None
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) != 2 or not _NUM.match(cells[1]):
            continue  # header, rules, or a wrapped label's continuation line
        value = int(cells[1].replace(",", ""))
        if cells[0] == "quota":
            quota = value
        else:
            parts.append(value)
    assert quota is not None and parts, output
    return parts, quota, int(title.group(1).replace(",", ""))


def test_shown_parts_add_up_to_the_shown_quota_for_every_rep(example_run: Path) -> None:
    """Every rep of the example: the printed parts sum exactly to the printed quota."""
    reps = pd.read_csv(example_run / "reps.csv", dtype={"rep_id": str})["rep_id"]
    runner = CliRunner()
    several = 0
    for rep in reps:
        out = runner.invoke(main, ["explain", str(example_run), "--rep", rep])
        assert out.exit_code == 0, out.output
        parts, quota, title = _table(out.output)
        assert sum(parts) == quota == title, (rep, parts, quota)
        several += len(parts) >= 3
    assert several > 10  # the check covers reps with several parts, not only trivial ones


@settings(deadline=None)  # a claim about values, not time: no 200 ms deadline on a busy machine
@given(
    st.lists(st.floats(-1e7, 1e7, allow_nan=False), min_size=1, max_size=8),
    st.integers(0, 2),
)
@example([0.15], 1)  # 0.15 is 0.1499…: shown total 0.1, but round(0.15 · 10) = round(1.5) = 2
@example([0.05], 1)  # 0.05 is 0.0500…: shown total 0.1, but round(0.05 · 10) = round(0.5) = 0
def test_round_to_sum_keeps_the_total_and_moves_each_part_less_than_a_step(
    values: list[float], decimals: int
) -> None:
    total = sum(values)
    shown = round_to_sum(values, total, decimals)
    step = 10.0**-decimals
    assert round(sum(shown) * 10**decimals) == round(round(total, decimals) * 10**decimals)
    for v, s in zip(values, shown, strict=True):
        assert abs(v - s) < step + 1e-6 * max(1.0, abs(v))


# --- conflict lists speak business: no internal rows, accounts named ------------------------


def test_infeasible_fairness_example_lists_no_internal_rows(tmp_path: Path) -> None:
    """The IIS holds the company's `group_quota` row (its level's definition): never shown."""
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(
        main, ["solve", str(EXAMPLE / "infeasible-fairness.yaml"), "--out", str(run_dir)]
    )
    assert res.exit_code == 1, res.output
    diag = json.loads((run_dir / "infeasible.json").read_text())
    assert "group_quota" in {r["component"] for r in diag["iis"]["rows"]}  # the raw IIS keeps it
    rules = {f["rule"] for f in diag["findings"]}
    assert rules.isdisjoint(
        {"group_quota", "phasing_sum", "phasing_fit", "deviation", "rounding", "spread_low"}
    )
    assert rules >= {"target", "unit_target", "fairness_low"}
    text = res.output + (run_dir / "infeasible.txt").read_text()
    assert "at least 0" not in text and "its level is its reps' total quota" not in text
    assert "unit T01: quota at most 8.00M" in res.output
    assert "difficulty at least 90% of their company's level" in res.output


def _lock_plan(tmp_path: Path, **rules: Any) -> Path:
    """K1 locked to A; K2 may only go to A (candidates); A holds at most 1 key account."""
    cand = [
        {"account_id": "K1", "rep_id": "A", "cost": 0, "workload": 1},
        {"account_id": "K1", "rep_id": "B", "cost": 0, "workload": 1},
        {"account_id": "K2", "rep_id": "A", "cost": 0, "workload": 1},
    ]
    ka = {"enabled": True, "max_accounts": 1, "locked": [{"account": "K1", "rep": "A"}], **rules}
    return write_plan(
        tmp_path,
        tables={"accounts": _key_accounts(), "candidates": cand},
        extra={"rules": {"key_accounts": ka}},
    )


def test_lock_conflict_found_by_the_solver_names_the_account(tmp_path: Path) -> None:
    """No pre-check sees it (A holds 1 lock, the book limits fit 2 accounts in 2 reps); the IIS
    is lock[K1, A] + one_owner[K2] (only A is eligible) + max_accounts[A]."""
    path = _lock_plan(tmp_path)
    assert prechecks(validate(path).md) == []
    with pytest.raises(InfeasibleError) as err:
        run(path, out=tmp_path / "run", report=False)
    text = err.value.render()
    assert "team T1: key account K1 locked to rep A" in text
    assert "key account K2: needs exactly one owner among its eligible reps" in text
    assert "rep A: at most 1 key accounts" in text


def test_lock_conflict_in_the_pre_checks_names_the_accounts(tmp_path: Path) -> None:
    path = _lock_plan(tmp_path, max_accounts=0, max_workload=0.5)
    texts = [f.text() for f in prechecks(validate(path).md)]
    assert any(
        t.startswith("rep A: 1 key accounts are locked to the rep but it may hold at most 0")
        and "(locked: K1)" in t
        for t in texts
    ), texts
    assert any(
        t.startswith("rep A: locked key accounts (K1) weigh 1 but the rep's workload limit is 0.5")
        for t in texts
    ), texts


# --- the capacity pre-check: a maximum that is valid and reachable ---------------------------


def _true_max(md: Any, owner: np.ndarray, product: str) -> float:
    """The most `product` the full quota LP can carry for one alignment (its target row freed,
    every other rule and target kept): maximise that product's company total."""
    lm = build_quotas(quota_sets(md, owner)).model
    comp = compile_model(lm)
    lp = comp.lp
    lp.integrality_ = []
    j = md.products.index(product)
    cost = np.zeros(lp.num_col_)
    cols = lm.vars["quota"].cols().reshape(md.n_reps, len(md.products))[:, j]
    # HiGHS sees money in units of the model's money scale: weigh each column back to currency
    scale = comp.col_scale if comp.col_scale is not None else np.ones(lp.num_col_)
    cost[cols] = -scale[cols]
    lp.col_cost_ = cost
    lo, up = np.array(lp.row_lower_), np.array(lp.row_upper_)
    row = lm.rows["target"].start + j
    lo[row], up[row] = -highspy.kHighsInf, highspy.kHighsInf
    lp.row_lower_, lp.row_upper_ = lo, up
    h = new_highs()
    h.passModel(lp)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return -float(h.getInfo().objective_function_value)


def test_capacity_pre_check_states_a_valid_and_tight_maximum(tmp_path: Path) -> None:
    """infeasible-capacity: the stated HW maximum was 135.97M (every key account counted for
    each of its candidate reps); each account counted once it is the true LP maximum."""
    md = validate(EXAMPLE / "infeasible-capacity.yaml").md
    (f,) = [f for f in prechecks(md) if f.rule == "target"]
    most = f.numbers["most"]
    built = build_alignment(md)
    assert built is not None
    res, _ = solve(built.model, highs_options(60, 0.0, 1, 0))
    assert res.col_values is not None
    chosen = built.model.vars["assign"].values(res.col_values) > 0.5
    owner = np.full(len(md.ka_ids), -1, dtype=np.int64)
    owner[md.pairs.acc[chosen]] = md.pairs.rep[chosen]
    for alignment in (owner, alignment_from_incumbents(md)):
        true = _true_max(md, alignment, "HW")
        assert most >= true * (1 - 1e-7)  # valid: no plan carries more
        assert most <= true * 1.005  # tight: within 0.5% of what the plan can carry
    assert f.numbers["gap"] == pytest.approx(f.numbers["target"] - most)
    assert "each key account counted once" in f.message


def test_following_the_capacity_pre_check_makes_the_plan_feasible(tmp_path: Path) -> None:
    """Lower the HW target by the stated shortfall (to 99.5% of the stated maximum before the 5%
    cushion: at the maximum itself every rep sits at its cap, which whole multiples of the
    rounding unit cannot all meet): the plan solves. With the old 135.97M it would not."""
    md = validate(EXAMPLE / "infeasible-capacity.yaml").md
    (f,) = [f for f in prechecks(md) if f.rule == "target"]
    cushion = md.scenario.targets.over_assignment
    hw = np.floor(0.995 * f.numbers["most"] / (1 + cushion) / 1000) * 1000
    assert 0.995 * 135.97e6 / (1 + cushion) > 100e6 > hw  # the old bound stays infeasible
    res = CliRunner().invoke(
        main,
        [
            "solve",
            str(EXAMPLE / "infeasible-capacity.yaml"),
            "--set",
            f"targets.by_product.HW={hw:.0f}",
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output


# --- the price of +1% target says where it holds ---------------------------------------------


def test_target_price_reports_its_valid_range_and_the_re_solved_step(tmp_path: Path) -> None:
    """A's capacity 281 binds; references 300 / 200 (target 500), so A is 19 short and B 19 over
    — both in their near band (10%: 30 and 20). With the target × (1 + s): A's shortfall
    19 + 300s and B's excess 19 + 300s (B = 219 + 500s, ref 200 + 200s) cost 1 each: the
    derivative is 600 per unit of s, 6.0 per +1%. B leaves its near band 20 + 20s when
    19 + 300s = 20 + 20s: s* = 1/280 = 0.357%. Re-solved at +1%: A 22, B 20.2 near + 1.8 far:
    22 + 20.2 + 4·1.8 = 49.4 against 38 at the base, so +1% costs 11.4, not 6.0."""
    path = write_plan(tmp_path, tables={"reps": _reps(A={"capacity": 281})})
    out = tmp_path / "run"
    run(path, out=out, report=False)
    (price,) = explain_plan(out).target_prices
    assert price["cost_of_plus_1pct"] == pytest.approx(6.0, abs=1e-3)
    assert price["resolved_plus_1pct"] == pytest.approx(11.4, abs=1e-3)
    base = relaxed_objective(out, {})
    bumped = relaxed_objective(out, {"targets.by_product.P": 505.0})
    assert base is not None and bumped is not None
    assert price["resolved_plus_1pct"] == pytest.approx(bumped - base, abs=1e-9)
    # the range ends at the breakpoint (bisection resolution 1/256 %)
    assert 100 / 280 - 1 / 256 <= price["valid_up_to_pct"] <= 100 / 280
    assert "up to +0.35" in price["note"] and "11.4" in price["note"]
    res = CliRunner().invoke(main, ["explain", str(out)])
    assert res.exit_code == 0, res.output
    assert "re-solved +1%" in res.output and "11" in res.output
    assert "the derivative holds for target changes up to +0.35" in res.output


def test_target_price_without_a_breakpoint_holds_for_the_whole_step(tmp_path: Path) -> None:
    """A capped at 250: B is beyond its near band already; +1% crosses nothing."""
    path = write_plan(tmp_path, tables={"reps": _reps(A={"capacity": 250})})
    out = tmp_path / "run"
    run(path, out=out, report=False)
    (price,) = explain_plan(out).target_prices
    assert price["valid_up_to_pct"] == 1.0
    assert price["resolved_plus_1pct"] == pytest.approx(price["cost_of_plus_1pct"], rel=1e-5)
    assert "note" not in price
