"""The Lagrangian integer bound of the rounding MIP from block MIPs at the LP prices.

A hand example with two blocks and one linking row fixes the value of LB_int and HiGHS's sign
conventions (equality row written either way, and a one-sided row); a small generated plan forced
into blocks checks LP bound ≤ LB_int ≤ the full integer optimum ≤ the plan; the time limit cutting
the block MIPs still gives a stamped, verified plan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from allocopt.examples.generate import generate_plan
from allocopt.model.build import build_quotas
from allocopt.model.sets import quota_sets
from allocopt.pipeline import rebuild
from allocopt.solve import lagrange as lag_mod
from allocopt.solve import solve as solve_model
from allocopt.solve.highs import Compiled, highs_lp, lp_relaxation, run_highs, run_lp
from allocopt.solve.lagrange import lagrangian
from tests.conftest import Solve

OPTS = {"threads": 1, "random_seed": 0, "mip_rel_gap": 0.0}


def _two_blocks(sign: float = 1.0, one_sided: bool = False) -> tuple[Compiled, np.ndarray]:
    """min |x1 − 1.2| + 2·|x2 − 1.6|  s.t.  x1 + x2 = 3 (the link), x1 ∈ {0,1,2}, x2 ∈ {0..10}.

    Columns x1, d1, x2, d2 (d_b ≥ |x_b − a_b| by two rows each); the link row is multiplied by
    ``sign``, or made x1 + x2 ≥ 3 with ``one_sided``.

    By hand: the LP puts the missing 0.2 on block 1 (weight 1): x = (1.4, 1.6), optimum 0.2, and
    raising the total by one costs 1 there, so the link's price is π = 1 (−1 for the row × −1).
    At π = 1: w1 = min_x |x − 1.2| − x = −1.2 (x1 = 2), w2 = min_x 2|x − 1.6| − x = −1.2 (x2 = 2),
    so LB_int = −1.2 − 1.2 + 1·3 = 0.6. The integer optimum is x = (1, 2): 0.2 + 0.8 = 1.0.
    """
    cost = np.array([0.0, 1.0, 0.0, 2.0])
    lo = np.zeros(4)
    hi = np.array([2.0, np.inf, 10.0, np.inf])
    rows = [
        ([1.0, 1.0, 0.0, 0.0], 1.2, np.inf),  # d1 + x1 ≥ 1.2
        ([-1.0, 1.0, 0.0, 0.0], -1.2, np.inf),  # d1 − x1 ≥ −1.2
        ([0.0, 0.0, 1.0, 1.0], 1.6, np.inf),
        ([0.0, 0.0, -1.0, 1.0], -1.6, np.inf),
        (
            [sign, 0.0, sign, 0.0],
            3.0 * sign if sign > 0 or not one_sided else -np.inf,
            np.inf if one_sided else 3.0 * sign,
        ),
    ]
    a = sp.csc_matrix(np.array([r[0] for r in rows]))
    rlo = np.array([r[1] for r in rows])
    rup = np.array([r[2] for r in rows])
    integ = np.array([True, False, True, False])
    lp = highs_lp(cost, lo, hi, a, rlo, rup, integ)
    comp = Compiled(lp, a, None, True)  # type: ignore[arg-type]  # no named model needed
    return comp, np.array([4])


@pytest.mark.parametrize(("sign", "one_sided"), [(1.0, False), (-1.0, False), (1.0, True)])
def test_hand_example_two_blocks(sign: float, one_sided: bool) -> None:
    comp, link = _two_blocks(sign, one_sided)
    with lp_relaxation(comp.lp):
        relaxed = run_highs(comp, OPTS)
    assert relaxed.status == "optimal" and relaxed.row_duals is not None
    assert relaxed.objective == pytest.approx(0.2)
    assert relaxed.row_duals[4] == pytest.approx(sign)  # HiGHS: c − Aᵀy, y ≥ 0 at a lower bound
    col_block = np.array([0, 0, 1, 1])
    out = lagrangian(comp, relaxed, link, 1.0, col_block, OPTS, 1e18)
    assert out is not None and out.n_blocks == 2 and out.timed_out == 0
    assert out.lp_part == pytest.approx(0.2)  # the LP bound, recomputed from the blocks
    assert out.bound == pytest.approx(0.6)
    assert out.values is not None
    if one_sided:  # the blocks' optima (2, 2) meet x1 + x2 ≥ 3 as they are: 0.8 + 0.8
        assert out.missing == 0 and out.changed == 0
        assert out.objective == pytest.approx(1.6)
    else:  # they miss the total by one unit; block 1 moving down costs least
        assert out.missing == 1 and out.changed == 1
        assert out.values[[0, 2]] == pytest.approx([1.0, 2.0])
        assert out.objective == pytest.approx(1.0)
    full = run_lp(comp.lp, OPTS).getInfo().objective_function_value  # whole MIP, gap 0
    assert full == pytest.approx(1.0)
    assert relaxed.objective <= out.bound <= full + 1e-9


def test_bound_without_a_block_bound_is_the_lp_bound() -> None:
    """A block with no MIP bound (stopped before its root) counts at its LP value: LB_int then
    stays valid, between the LP bound and the full bound."""
    comp, link = _two_blocks()
    with lp_relaxation(comp.lp):
        relaxed = run_highs(comp, OPTS)
    real = lag_mod._solve_mip
    calls = []

    def first_times_out(data: Any, options: dict[str, Any], deadline: float) -> Any:
        calls.append(1)
        if len(calls) == 1:
            return (False, None, True, None, -np.inf)
        return real(data, options, deadline)

    lag_mod._solve_mip = first_times_out  # type: ignore[assignment]
    try:
        out = lagrangian(comp, relaxed, link, 1.0, np.array([0, 0, 1, 1]), OPTS, 1e18)
    finally:
        lag_mod._solve_mip = real  # type: ignore[assignment]
    assert out is not None and out.timed_out == 1 and out.values is None
    # block 1 at its LP value: (1.4 − 1.2) − 1.4 = −1.2, the same as its integer optimum here;
    # block 2 at −1.2: LB = 0.6 still; never above the integer optimum
    assert 0.2 - 1e-9 <= out.bound <= 1.0 + 1e-9


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lagrange-plan")
    return generate_plan(root / "p", regions=3, teams=6, reps=48, seed=5, name="lagrange")


def _quotas(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "manifest.json").read_text())["stages"]["quotas"])


def test_lp_bound_le_lagrangian_le_integer_optimum_le_plan(plan: Path, solve: Solve) -> None:
    res = solve(plan, sets=["solver.block_size=1"])  # verified by the fixture
    q = _quotas(res.run_dir)
    assert q["bound_method"] == "lagrangian" and not q["gap_against_lp"]
    assert "independent blocks" in q["message"] and "Lagrangian bound" in q["message"]
    lb, lp, obj = float(q["lagrangian_bound"]), float(q["lp_bound"]), float(q["objective"])
    assert q["bound"] == lb
    assert q["gap"] == pytest.approx((obj - lb) / obj)
    # the full integer model (not a neighbourhood), solved whole to gap 0
    md, owner = rebuild(res.run_dir)
    full, _ = solve_model(build_quotas(quota_sets(md, owner)).model, OPTS)
    assert full.status == "optimal" and full.objective is not None
    tol = 1e-7 * abs(obj)
    assert lp <= lb + tol
    assert lb <= full.objective + tol
    assert full.objective <= obj + tol
    assert lb > lp + 0.5 * (full.objective - lp)  # it captures most of the rounding cost


def test_a_finished_plan_above_mip_gap_is_feasible_not_optimal(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status follows the proven gap: above solver.mip_gap the plan is ``feasible`` (exit 0,
    a plan), within it ``optimal`` — in the manifest, the summary and sweep/report readers."""
    # the bound at the LP prices alone: the subgradient rounds close this plan's gap (below)
    monkeypatch.setattr(lag_mod, "DUAL_ROUNDS", 0)
    tight = solve(plan, sets=["solver.block_size=1", "solver.mip_gap=0.000001"])
    q = _quotas(tight.run_dir)
    assert q["bound_method"] == "lagrangian" and float(q["gap"]) > 1e-6  # 48 reps: ~1%
    assert q["status"] == "feasible" and tight.status == "feasible"
    assert tight.results.summary["status"] == "feasible"
    loose = solve(plan, sets=["solver.block_size=1", f"solver.mip_gap={float(q['gap']) * 2}"])
    assert _quotas(loose.run_dir)["status"] == "optimal" and loose.status == "optimal"


def test_block_mips_cut_by_the_time_limit_still_give_a_stamped_plan(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = lag_mod._solve_mip
    n = [0]

    def every_other_times_out(data: Any, options: dict[str, Any], deadline: float) -> Any:
        n[0] += 1
        if n[0] % 2:
            return (False, None, True, None, -np.inf)  # stopped before its root
        return real(data, options, deadline)

    monkeypatch.setattr(lag_mod, "_solve_mip", every_other_times_out)
    # one process: the patch lives in this one
    res = solve(plan, sets=["solver.block_size=1", "solver.workers=1"])  # verified by the fixture
    q = _quotas(res.run_dir)
    assert q["status"] == "time_limit" and q["has_solution"]
    assert res.results.summary["status"] == "time_limit"
    assert "cut by the time limit" in q["message"]
    assert float(q["lp_bound"]) <= float(q["bound"]) <= float(q["objective"])
    annual = np.asarray(res.results.annual["quota"], dtype=float)
    assert np.array_equal(annual / 1000.0, np.round(annual / 1000.0))


def test_status_line_says_which_bound_the_gap_is_against() -> None:
    from allocopt.cli.solve import _status_line

    def manifest(gap: float, method: str) -> dict[str, Any]:
        q = {"gap": gap, "bound_method": method, "gap_against_lp": method == "lp"}
        return {"stages": {"quotas": {**q, "options": {"mip_rel_gap": 0.01}}}}

    lagr = "against the Lagrangian integer bound of the blocks (see the manifest)"
    assert _status_line("optimal", 7.3e-6, manifest(7.3e-6, "lagrangian")) == (
        f"[green]optimal[/], gap 0.0007% {lagr}"
    )
    # blocks finished, but the gap to the bound is above mip_gap: status feasible, not optimal
    assert _status_line("feasible", 0.0111, manifest(0.0111, "lagrangian")) == (
        f"[green]feasible[/], gap 1.1100% {lagr}"
    )
    assert _status_line("time_limit", 0.02, manifest(0.02, "lagrangian")).startswith(
        "[green]time_limit[/], gap 2.0000% against the Lagrangian"
    )
    assert _status_line("optimal", 0.87, manifest(0.87, "lp")) == (
        "[green]optimal in each block[/], gap 87.0000% against the LP relaxation's bound"
        " (see the manifest)"
    )


def _three_quotas() -> tuple[Compiled, np.ndarray]:
    """min Σ_i |x_i − a_i|  s.t.  x1 + x2 + x3 = 7 (the link), x_i ∈ {0..10}, x3 ≤ 3, a = (1.3, 2.4,
    3.3): three blocks (x_i, d_i ≥ |x_i − a_i| by two rows each), quotas held off their
    reference by a cap, as the rules hold some quotas of a shocked plan.

    By hand: the LP caps x3 at 3 (0.3 below a3) and puts those 0.3 on x1, x2 (weight 1): optimum
    0.6, and raising the total costs 1, so π = 1. At π = 1 every block rounds up for free:
    w1 = min_x |x − 1.3| − x = −1.3, w2 = −2.4, w3 = min_{x≤3} |x − 3.3| − x = −2.7, so
    LB_int(1) = −6.4 + 7 = 0.6, the LP bound: the price hides the rounding. For 0 ≤ π ≤ 1 the
    blocks pick x1 = 1 (π ≤ 0.4) else 2, x2 = 2 (π ≤ 0.2) else 3, x3 = 3, and
    LB_int(π) = 1 + π on [0, 0.2], 1.2 on [0.2, 0.4], 1.6 − π on [0.4, 1]; for π < 0 it is 1 + π.
    So max_π LB_int = 1.2, and the integer optimum x = (1, 3, 3) costs 0.3 + 0.6 + 0.3 = 1.2.
    """
    refs = [1.3, 2.4, 3.3]
    n = 6  # columns x1, d1, x2, d2, x3, d3
    cost = np.array([0.0, 1.0] * 3)
    lo = np.zeros(n)
    hi = np.array([10.0, np.inf, 10.0, np.inf, 3.0, np.inf])
    rows: list[tuple[np.ndarray, float, float]] = []
    for i, ref in enumerate(refs):
        up, dn = np.zeros(n), np.zeros(n)
        up[[2 * i, 2 * i + 1]] = [1.0, 1.0]  # d + x ≥ a
        dn[[2 * i, 2 * i + 1]] = [-1.0, 1.0]  # d − x ≥ −a
        rows += [(up, ref, np.inf), (dn, -ref, np.inf)]
    link = np.zeros(n)
    link[[0, 2, 4]] = 1.0
    rows.append((link, 7.0, 7.0))
    a = sp.csc_matrix(np.array([r[0] for r in rows]))
    rlo = np.array([r[1] for r in rows])
    rup = np.array([r[2] for r in rows])
    integ = np.array([True, False] * 3)
    lp = highs_lp(cost, lo, hi, a, rlo, rup, integ)
    comp = Compiled(lp, a, None, True)  # type: ignore[arg-type]  # no named model needed
    return comp, np.array([6])


def test_subgradient_rounds_raise_a_bound_the_lp_prices_leave_at_the_lp_bound() -> None:
    comp, link = _three_quotas()
    with lp_relaxation(comp.lp):
        relaxed = run_highs(comp, OPTS)
    assert relaxed.row_duals is not None
    assert relaxed.objective == pytest.approx(0.6)
    assert relaxed.row_duals[6] == pytest.approx(1.0)
    out = lagrangian(comp, relaxed, link, 1.0, np.array([0, 0, 1, 1, 2, 2]), OPTS, 1e18)
    assert out is not None
    assert out.bound == pytest.approx(0.6)  # weak: no more than the LP bound
    assert out.lp_price_bound == out.bound and out.rounds == 0
    full = run_lp(comp.lp, OPTS).getInfo().objective_function_value  # whole MIP, gap 0
    assert full == pytest.approx(1.2)
    # towards a plan's objective (here the whole MIP's: the blocks' optima at π = 1 miss the
    # total by more units than there are blocks, so they give no plan)
    lag_mod.improve_bound(out, full, 0.0, OPTS, 1e18)
    assert 1 <= out.rounds <= lag_mod.DUAL_ROUNDS
    assert out.lp_price_bound == pytest.approx(0.6)  # kept for the record
    assert out.bound > 0.6 + 0.5  # strictly better: here the dual's maximum, 1.2 ...
    assert out.bound == pytest.approx(1.2)
    assert out.bound <= full + 1e-9  # ... and still a bound
    assert out._pi is not None and 0.2 - 1e-9 <= out._pi[0] <= 0.4 + 1e-9  # where LB_int = 1.2
    # the blocks' optima at those prices make a plan at the integer optimum
    out.values = out.objective = None
    lag_mod.lagrangian_plan(out, OPTS, 1e18)
    assert out.objective == pytest.approx(1.2)


def test_subgradient_rounds_stop_at_once_when_the_bound_is_within_the_gap() -> None:
    """No extra round of block MIPs when the LP prices' bound already certifies the plan (the
    unshocked benchmark plans): the time of a solve does not change."""
    comp, link = _two_blocks()
    with lp_relaxation(comp.lp):
        relaxed = run_highs(comp, OPTS)
    out = lagrangian(comp, relaxed, link, 1.0, np.array([0, 0, 1, 1]), OPTS, 1e18)
    assert out is not None and out.bound == pytest.approx(0.6)
    lag_mod.improve_bound(out, 0.605, 0.01, OPTS, 1e18)  # 0.6 is within 1% of 0.605
    assert out.rounds == 0 and out.bound == pytest.approx(0.6)
    lag_mod.improve_bound(out, 1.0, 0.0, OPTS, 1e18)  # the plan of the hand example: 1.0
    assert out.rounds >= 1 and out.bound == pytest.approx(1.0)  # here the integer optimum


def test_subgradient_rounds_close_the_small_plans_gap_with_the_same_bytes_on_two_workers(
    plan: Path, tmp_path: Path
) -> None:
    """48 reps in a handful of blocks: the LP prices leave ~1% between plan and bound (above a
    tight mip_gap); the subgradient rounds close it, the bound stays below the full integer
    optimum, and 1 and 2 workers give the same plan, bound and message."""
    from allocopt.compose import verify_run
    from allocopt.pipeline import run

    sets = ["solver.block_size=1", "solver.mip_gap=0.000001"]
    runs = []
    for workers in (1, 2):  # same folder name, so the report's own path is the same too
        out = tmp_path / f"w{workers}" / "run"
        run(plan, out=out, sets=[*sets, f"solver.workers={workers}"])
        check = verify_run(out)
        assert check.ok, check.violations.to_string()
        runs.append(out)
    one, two = runs
    q1, q2 = _quotas(one), _quotas(two)
    assert "subgradient rounds" in q1["message"]
    for key in ("objective", "bound", "lagrangian_bound", "gap", "message", "status"):
        assert q1[key] == q2[key], key
    for name in ("quotas.csv", "annual.csv", "reps.csv"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    at_lp = float(q1["message"].split("on the prices from ")[1].split()[0].replace(",", ""))
    obj, lb = float(q1["objective"]), float(q1["lagrangian_bound"])
    assert (obj - at_lp) / obj > 0.005  # the LP prices' bound: ~1% below the plan
    assert q1["status"] == "optimal" and float(q1["gap"]) <= 1e-6  # closed
    md, owner = rebuild(one)
    full, _ = solve_model(build_quotas(quota_sets(md, owner)).model, OPTS)
    assert full.status == "optimal" and full.objective is not None
    assert lb <= full.objective + 1e-7 * abs(obj) and full.objective <= obj + 1e-7 * abs(obj)


def _block_matrix(data: Any) -> tuple[sp.csc_matrix, np.ndarray, list[np.ndarray]]:
    """A random sparse matrix, some of its rows links, its columns dealt into blocks."""
    n_rows = data.draw(st.integers(1, 12))
    n_cols = data.draw(st.integers(1, 12))
    dense = np.array(
        data.draw(
            st.lists(
                st.sampled_from([0.0, 0.0, 1.0, -2.5, 0.125]),
                min_size=n_rows * n_cols,
                max_size=n_rows * n_cols,
            )
        )
    ).reshape(n_rows, n_cols)
    is_link = np.array(data.draw(st.lists(st.booleans(), min_size=n_rows, max_size=n_rows)))
    col_block = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n_cols, max_size=n_cols)))
    order = np.argsort(col_block, kind="stable")
    cuts = np.flatnonzero(np.diff(col_block[order])) + 1
    return sp.csc_matrix(dense), is_link, [np.sort(c) for c in np.split(order, cuts)]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_block_slices_are_each_blocks_own_rows_and_matrix(data: Any) -> None:
    """The blocks' own rows and matrices, cut for all blocks at once, are what slicing each
    block's columns and then its non-link rows gives (same rows, same entries in the same
    order): the block MIPs HiGHS sees are the same arrays."""
    a, is_link, block_cols = _block_matrix(data)
    own = lag_mod._own_rows(a, is_link, block_cols)
    assert len(own) == len(block_cols)
    for cols, got in zip(block_cols, own, strict=True):
        sub = a[:, cols]
        rows = np.unique(sub.indices)
        rows = rows[~is_link[rows]]
        want = sub[rows].tocsc()
        assert np.array_equal(got.rows, rows)
        assert np.array_equal(got.indptr, want.indptr) and got.indptr.dtype == np.int32
        assert np.array_equal(got.indices, want.indices) and got.indices.dtype == np.int32
        assert np.array_equal(got.data, want.data)
        assert (got.matrix(len(cols)) != want).nnz == 0


def _small_mips(n: int) -> list[Any]:
    """``n`` different small block MIPs (lagrange's problem tuples): min c·x − 0.1·y over
    x ∈ {0..5}³, y ≤ Σx/2 (continuous), Σx ≥ b, with c and b drawn from a fixed seed."""
    rng = np.random.default_rng(7)
    a = sp.csc_matrix(np.array([[1.0, 1.0, 1.0, 0.0], [0.5, 0.5, 0.5, -1.0]]))
    problems = []
    for _ in range(n):
        cost = np.concatenate([rng.uniform(0.5, 2.0, 3), [-0.1]])
        problems.append(
            (
                cost,
                float(rng.uniform(-1, 1)),
                np.zeros(4),
                np.array([5.0, 5.0, 5.0, np.inf]),
                np.array([float(rng.integers(1, 12)), 0.0]),
                np.array([np.inf, np.inf]),
                a.indptr.astype(np.int32),
                a.indices.astype(np.int32),
                a.data.astype(float),
                np.array([True, True, True, False]),
            )
        )
    return problems


def test_blocks_solved_here_and_in_worker_processes_give_the_serial_results() -> None:
    """This process solves chunks of blocks alongside the spawned ones (guided chunks, taken
    whenever it is free): every block's result — plan, objective, bound — is the same, in block
    order, with 1, 2 or 3 processes (real processes)."""
    problems = _small_mips(40)
    runs = [lag_mod._run(problems, OPTS, 1e18, w) for w in (1, 2, 3)]
    serial = runs[0]
    assert len(serial) == 40 and all(r[0] and not r[2] for r in serial)
    for other in runs[1:]:
        assert len(other) == 40
        for r, s in zip(other, serial, strict=True):
            assert r[0] == s[0] and r[3] == s[3] and r[4] == s[4]
            assert np.asarray(r[1]).tobytes() == np.asarray(s[1]).tobytes()


def test_arrays_passed_to_highs_are_the_highslp_model() -> None:
    """:func:`run_arrays` (the block MIPs' path) gives what building a HighsLp and running it
    gives: the same status, plan, objective (with its offset) and bound, for a MIP and an LP."""
    from allocopt.solve.highs import run_arrays

    for cost, offset, clo, chi, rlo, rup, indptr, indices, values, integ in _small_mips(3):
        for kinds in (integ, np.zeros(4, dtype=bool)):
            a = sp.csc_matrix((values, indices, indptr), shape=(len(rlo), len(cost)))
            lp = highs_lp(cost, clo, chi, a, rlo, rup, kinds)
            lp.offset_ = offset
            want = run_lp(lp, OPTS)
            got = run_arrays(cost, offset, clo, chi, rlo, rup, indptr, indices, values, kinds, OPTS)
            assert got.getModelStatus() == want.getModelStatus()
            assert got.getInfo().objective_function_value == want.getInfo().objective_function_value
            assert got.getInfo().mip_dual_bound == want.getInfo().mip_dual_bound
            assert list(got.getSolution().col_value) == list(want.getSolution().col_value)


def test_block_processes_are_kept_for_the_rounds_and_stopped_with_the_bound() -> None:
    """The spawned block processes of one Lagrangian bound serve its rounds of better prices
    (started once, ~0.4 s of CPU each), give the one-process results, and stop when the bound
    is dropped (real processes)."""
    import gc

    comp, link = _two_blocks()
    with lp_relaxation(comp.lp):
        relaxed = run_highs(comp, OPTS)
    blocks = np.array([0, 0, 1, 1])
    alone = lagrangian(comp, relaxed, link, 1.0, blocks, OPTS, 1e18)
    out = lagrangian(comp, relaxed, link, 1.0, blocks, OPTS, 1e18, workers=2)
    assert alone is not None and out is not None and out.bound == alone.bound
    pool = out._kept._pool
    assert pool is not None
    procs = list(pool._processes.values())
    assert procs and all(p.is_alive() for p in procs)
    lag_mod.improve_bound(alone, 1.0, 0.0, OPTS, 1e18)
    lag_mod.improve_bound(out, 1.0, 0.0, OPTS, 1e18, workers=2)
    assert out.rounds == alone.rounds >= 1 and out.bound == alone.bound == pytest.approx(1.0)
    assert out._kept._pool is pool and list(pool._processes.values()) == procs  # the same ones
    del out
    gc.collect()
    for p in procs:
        p.join(timeout=10)
    assert not any(p.is_alive() for p in procs)  # stopped with the bound
