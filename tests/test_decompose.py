"""Dantzig–Wolfe decomposition of the quota LP (allocopt.solve.decompose), forced on small plans.

A hand-checkable LP of three blocks and two linking rows, then the quota model of a generated
plan and of the shipped example with ``solver.decompose_above: 0`` (always decompose): the LP
optimum equals the monolithic one to a relative 1e-9 (the method's stopping tolerance), and the
plan built from it is verified by the independent checker (the ``solve`` fixture).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from allocopt.examples.generate import generate_plan
from allocopt.solve import Compiled, blocks, decompose, highs_lp, run_highs
from allocopt.solve.decompose import solve_lp_decomposed
from tests.conftest import Solve

TOL = 1e-9  # relative: the decomposition stops when master objective and Lagrangian bound agree
EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "example" / "scenario.yaml"


def _hand_lp() -> tuple[Compiled, np.ndarray]:
    """min x0 + 3x1 + 2x2 + 5x3 + 4x4
    block 0: x0 + x1 ≤ 4;  block 1: x2 + x3 ≤ 3;  block 2: x4 ≤ 10
    linking: x0 + x1 + x2 + x3 + x4 = 10;  x1 + x3 ≥ 1;  x ≥ 0.

    By hand: fill the cheapest (x0 = 4, x2 = 3, x4 = 3: cost 22); the second linking row needs a
    unit of x1 or x3: x1 displaces x0 within block 0's row (+2), x3 displaces x2 (+3), so
    x = (3, 1, 3, 0, 3) with cost 24.
    """
    a = sp.csc_matrix(
        np.array(
            [
                [1, 1, 0, 0, 0],
                [0, 0, 1, 1, 0],
                [0, 0, 0, 0, 1],
                [1, 1, 1, 1, 1],
                [0, 1, 0, 1, 0],
            ],
            dtype=float,
        )
    )
    inf = np.inf
    lp = highs_lp(
        np.array([1.0, 3, 2, 5, 4]),
        np.zeros(5),
        np.full(5, inf),
        a,
        np.array([-inf, -inf, -inf, 10, 1]),
        np.array([4.0, 3, 10, 10, inf]),
    )
    return Compiled(lp, a, None, False), np.array([3, 4])  # type: ignore[arg-type]


def test_hand_checked_lp_is_solved_exactly_by_blocks() -> None:
    comp, link = _hand_lp()
    res = solve_lp_decomposed(comp, link, {"threads": 1})
    assert res is not None and res.status == "optimal"
    assert res.objective == pytest.approx(24.0, rel=TOL)
    assert res.bound == pytest.approx(24.0, rel=TOL)  # the Lagrangian bound meets it
    assert np.allclose(res.col_values, [3, 1, 3, 0, 3], atol=1e-9)
    whole = run_highs(comp, {"threads": 1})
    assert whole.objective == pytest.approx(res.objective, rel=TOL)
    # the prices form an optimal dual: reduced costs ≥ 0 at lower bounds, complementary
    assert res.row_duals is not None and res.col_duals is not None
    x, d = res.col_values, res.col_duals
    assert np.all(d >= -1e-9)
    assert np.allclose(x * d, 0.0, atol=1e-9)
    # dual objective (rows at the bound their dual points to) equals the primal one
    y = res.row_duals
    lo, up = np.array(comp.lp.row_lower_), np.array(comp.lp.row_upper_)
    rhs = np.where(y > 0, lo, np.where(y < 0, up, 0.0))
    assert float(y @ rhs) == pytest.approx(24.0, rel=TOL)


def test_one_block_is_left_to_the_whole_lp() -> None:
    comp, _ = _hand_lp()
    # no linking rows: nothing to decompose
    assert solve_lp_decomposed(comp, np.array([], dtype=np.int64), {}) is None


def _quotas(run_dir: Path) -> dict[str, object]:
    return json.loads((run_dir / "manifest.json").read_text())["stages"]["quotas"]


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dw-plan")
    return generate_plan(root / "p", regions=3, teams=8, reps=64, seed=11, name="dw")


@pytest.mark.parametrize("scenario", ["generated", "example"])
def test_decomposed_lp_equals_the_monolithic_lp(scenario: str, plan: Path, solve: Solve) -> None:
    path = plan if scenario == "generated" else EXAMPLE
    mono = solve(path)  # every run verified by the fixture
    dw = solve(path, sets=["solver.decompose_above=0"])
    qm, qd = _quotas(mono.run_dir), _quotas(dw.run_dir)
    lm, ld = float(qm["lp_bound"]), float(qd["lp_bound"])  # type: ignore[arg-type]
    assert ld == pytest.approx(lm, rel=10 * TOL)
    assert ld <= float(qd["objective"]) + 1e-9 * abs(ld)  # type: ignore[arg-type]
    assert qd["lp_gap"] is not None
    assert "Dantzig–Wolfe" in str(qd["lp_message"])
    assert "Dantzig–Wolfe" not in str(qm["lp_message"])
    # company totals exact in both plans
    tm = mono.results.annual.groupby("product")["quota"].sum().sort_index()
    td = dw.results.annual.groupby("product")["quota"].sum().sort_index()
    assert np.allclose(tm.to_numpy(), td.to_numpy(), rtol=0, atol=1e-6)


def test_decomposed_lp_with_block_mips_keeps_the_better_plan(plan: Path, solve: Solve) -> None:
    both = solve(plan, sets=["solver.decompose_above=0", "solver.block_size=1"])
    q = _quotas(both.run_dir)
    assert "independent blocks" in str(q["message"])
    assert "Dantzig–Wolfe" in str(q["lp_message"])
    mono = _quotas(solve(plan).run_dir)
    # the rounded LP optimum competes with the blocks' plan; the result is never worse than
    # the blocks' and never better than the LP bound
    assert float(q["objective"]) >= float(q["lp_bound"]) * (1 - 1e-9)  # type: ignore[arg-type]
    assert float(q["lp_bound"]) == pytest.approx(float(mono["lp_bound"]), rel=10 * TOL)  # type: ignore[arg-type]


class _Clock:
    """perf_counter that jumps past every deadline from its ``jump_at``-th reading by the
    decomposition on (the first reading is the start; the second follows the first round)."""

    def __init__(self, jump_at: int, by: float) -> None:
        self.calls, self.jump_at, self.by, self.offset = 0, jump_at, by, 0.0

    def now(self) -> float:
        self.calls += 1
        if self.calls >= self.jump_at:
            self.offset = self.by
        return self.perf_counter()

    def perf_counter(self) -> float:
        return time.perf_counter() + self.offset


def test_deadline_mid_round_returns_the_best_master_point(monkeypatch: pytest.MonkeyPatch) -> None:
    comp, link = _hand_lp()
    clock = _Clock(jump_at=2, by=1e6)
    monkeypatch.setattr(decompose, "_now", clock.now)
    # one pack per block; the deadline passes right after the first round: no LP optimum,
    # but a point from the first proposals, flagged and with the Lagrangian bound
    res = solve_lp_decomposed(comp, link, {"threads": 1, "time_limit": 10.0}, pack_columns=1)
    assert res is not None and res.status == "time_limit" and res.has_solution
    assert res.col_values is not None and res.row_duals is None
    assert res.bound is not None and res.bound <= 24.0 + 1e-9  # a valid lower bound
    # with π = 0 every block proposes 0: the totals row cannot be met, and the result says so
    assert "not an LP solution" in res.message and res.gap is None
    # the deadline in the second round: it stops after its first pack, whose proposal joins
    clock2 = _Clock(jump_at=3, by=1e6)
    monkeypatch.setattr(decompose, "_now", clock2.now)
    res2 = solve_lp_decomposed(comp, link, {"threads": 1, "time_limit": 10.0}, pack_columns=1)
    assert res2 is not None and res2.status == "time_limit"
    assert "cut short by the deadline" in res2.message
    assert res2.bound is not None and res2.bound <= 24.0 + 1e-9


def test_deadline_after_the_first_round_gives_a_stamped_verified_plan(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the whole solve's clock (blocks.py) and the decomposition's move past the 60-s limit as
    # soon as every block has been priced once: the rounded-LP assembly is the plan
    clock = _Clock(jump_at=2, by=61.0)
    monkeypatch.setattr(decompose, "_now", clock.now)
    monkeypatch.setattr(blocks, "time", clock)
    out = solve(plan, sets=["solver.decompose_above=0", "solver.time_limit=60"])  # verified
    q = _quotas(out.run_dir)
    assert q["status"] == "time_limit"
    assert "Dantzig–Wolfe" in str(q["lp_message"]) and "Time limit" in str(q["lp_message"])
    assert "rounded" in str(q["message"])
    assert q["gap"] is not None and float(q["gap"]) >= 0.0  # type: ignore[arg-type]
    mono = _quotas(solve(plan).run_dir)
    # the first round's Lagrangian bound is below the LP optimum; the plan above it
    assert float(q["lp_bound"]) <= float(mono["lp_bound"]) * (1 + 1e-9)  # type: ignore[arg-type]
    assert float(q["objective"]) >= float(mono["lp_bound"]) * (1 - 1e-9)  # type: ignore[arg-type]
    tm = solve(plan).results.annual.groupby("product")["quota"].sum().sort_index()
    td = out.results.annual.groupby("product")["quota"].sum().sort_index()
    assert np.allclose(tm.to_numpy(), td.to_numpy(), rtol=0, atol=1e-6)  # totals exact
