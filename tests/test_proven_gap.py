"""The gap of a small plan is proven on the whole integer model, not on its rounding neighbourhood.

Below :data:`~allocopt.solve.blocks.BLOCKS_ABOVE` general integers the plan comes from the MIP
restricted to the floor/ceiling neighbourhood of the LP optimum; HiGHS's bound on that MIP holds
for the neighbourhood only. :func:`~allocopt.solve.blocks._prove` gives the plan a bound valid for
the whole model (and a better plan when the whole model has one).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from allocopt.model.build import build_quotas
from allocopt.model.sets import quota_sets
from allocopt.pipeline import rebuild
from allocopt.solve import blocks
from allocopt.solve import solve as solve_model
from allocopt.solve.blocks import _prove, _solve_neighbourhood
from allocopt.solve.highs import Compiled, SolveResult, highs_lp
from tests.conftest import Solve

EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "example" / "scenario.yaml"

OPTS = {"threads": 1, "random_seed": 0, "mip_rel_gap": 1e-6}


def _far_optimum() -> Compiled:
    """min −x + 10·(s⁺ + s⁻)  s.t.  3x + 5y + s⁺ − s⁻ = 16, x, y ∈ {0..10}, s ≥ 0.

    By hand: the LP takes x = 16/3, y = 0 (objective −16/3; y would pay 5/3 of x per unit), so
    the neighbourhood is x ∈ {5, 6}, y = 0: x = 5 misses by 1 (−5 + 10 = 5), x = 6 by 2
    (−6 + 20 = 14); its optimum is 5, and HiGHS proves it optimal there (bound 5, gap 0). The
    whole model has 3·2 + 5·2 = 16 exactly: x = y = 2, objective −2 — outside the neighbourhood.
    """
    cost = np.array([-1.0, 0.0, 10.0, 10.0])  # x, y, s+, s-
    lo = np.zeros(4)
    hi = np.array([10.0, 10.0, np.inf, np.inf])
    a = sp.csc_matrix(np.array([[3.0, 5.0, 1.0, -1.0]]))
    lp = highs_lp(cost, lo, hi, a, np.array([16.0]), np.array([16.0]), np.array([1, 1, 0, 0]))
    return Compiled(lp, a, SimpleNamespace(name="far"), True)  # type: ignore[arg-type]


def test_a_better_plan_outside_the_neighbourhood_is_found_and_its_gap_proven() -> None:
    res = _solve_neighbourhood(_far_optimum(), OPTS)
    assert res.has_solution and res.col_values is not None
    assert res.objective == pytest.approx(-2.0)
    assert res.col_values[:2] == pytest.approx([2.0, 2.0])
    assert res.status == "optimal" and res.bound_method == "mip"
    assert res.bound == pytest.approx(-2.0) and res.gap == pytest.approx(0.0, abs=1e-9)
    assert res.lp_bound == pytest.approx(-16.0 / 3.0)
    assert "the whole integer model" in res.message


def _neighbourhood_plan(comp: Compiled) -> tuple[SolveResult, SolveResult, np.ndarray]:
    """The LP relaxation and the neighbourhood MIP's plan of ``comp`` (x = 5, y = 0: objective 5,
    restricted bound 5) by hand, as :func:`_solve_neighbourhood` would pass them on."""
    relaxed = SolveResult("optimal", True, objective=-16.0 / 3.0, bound=-16.0 / 3.0)
    plan = SolveResult(
        "optimal", True, objective=5.0, bound=5.0, gap=0.0, col_values=np.array([5, 0, 0, 1.0])
    )
    return relaxed, plan, np.array([0, 1])


def test_without_time_to_prove_the_gap_is_against_the_lp_bound_and_stamped() -> None:
    comp = _far_optimum()
    relaxed, plan, cols = _neighbourhood_plan(comp)
    out = _prove(comp, OPTS, plan, relaxed, cols, 0.0, None)
    assert out.status == "time_limit" and out.bound_method == "lp" and out.gap_against_lp
    # (5 − (−16/3)) / 5: the restricted bound's "gap 0" is not what is reported
    assert out.gap == pytest.approx((5.0 + 16.0 / 3.0) / 5.0)
    assert out.objective == 5.0


def test_a_proof_stopped_by_its_node_cap_leaves_the_plan_feasible_with_the_gap_so_far(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no node allowed HiGHS stops at once (no dual bound of its own): the plan stays, its
    gap is against the LP bound, and a stopped proof is no time limit: ``feasible``."""
    monkeypatch.setattr(blocks, "PROOF_NODES", 0)
    comp = _far_optimum()
    relaxed, plan, cols = _neighbourhood_plan(comp)
    out = _prove(comp, OPTS, plan, relaxed, cols, 10.0, None)
    assert out.status == "feasible" and out.objective == 5.0 and out.bound_method == "mip"
    assert out.bound == pytest.approx(-16.0 / 3.0)
    assert out.gap == pytest.approx((5.0 + 16.0 / 3.0) / 5.0)
    assert "stopped" in out.message


def test_a_plan_within_the_gap_of_the_lp_bound_needs_no_proof() -> None:
    comp = _far_optimum()
    relaxed = SolveResult("optimal", True, objective=-2.0, bound=-2.0)
    plan = SolveResult("optimal", True, objective=-2.0, col_values=np.array([2, 2, 0, 0.0]))
    out = _prove(comp, OPTS, plan, relaxed, np.array([0, 1]), 10.0, None)
    assert out.status == "optimal" and out.bound_method == "lp" and out.gap == 0.0
    assert out is plan  # nothing re-solved


def test_the_example_gap_is_against_a_bound_valid_for_the_whole_model(solve: Solve) -> None:
    """bound ≤ the whole model's optimum (HiGHS to gap 0) ≤ the plan, gap = (plan − bound)/plan."""
    res = solve(EXAMPLE)  # verified by the fixture
    q = json.loads((res.run_dir / "manifest.json").read_text())["stages"]["quotas"]
    assert q["bound_method"] == "mip" and res.status == "optimal"
    assert "gap proven on the whole integer model" in q["message"]
    md, owner = rebuild(res.run_dir)
    full, _ = solve_model(build_quotas(quota_sets(md, owner)).model, {**OPTS, "mip_rel_gap": 0.0})
    assert full.status == "optimal" and full.objective is not None
    opt = full.objective
    assert q["bound"] <= opt * (1 + 1e-9) and opt <= q["objective"] * (1 + 1e-9)
    assert q["gap"] == pytest.approx((q["objective"] - q["bound"]) / abs(q["objective"]))
    assert q["gap"] <= q["options"]["mip_rel_gap"]
