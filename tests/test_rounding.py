"""Rounding in one place (allocopt.solve.rounding) and the linking rows the model hands over.

Largest remainder: hand-derived cases and, with hypothesis, its invariants — the rounded values
add up to the wanted total, none moves by a whole unit, ties go to the earlier position (or the
lower key). The company target rows reach the solver as linking rows because the target rule
says so, whatever their name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from allocopt.examples.generate import generate_plan
from allocopt.model.build import build_quotas
from allocopt.model.linear import Index, LinearModel
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.pipeline import validate
from allocopt.solve.rounding import apportion, largest_remainder, round_linked, round_to_sum


def test_largest_remainder_by_hand() -> None:
    # floors 1, 2, 0 (sum 3); 5 wanted: the two largest remainders .7 and .6 get one more
    assert largest_remainder(np.array([1.6, 2.2, 0.7]), 5).tolist() == [2.0, 2.0, 1.0]
    # equal remainders: the earlier position first, or the lower key
    assert largest_remainder(np.array([0.5, 0.5, 0.5]), 1).tolist() == [1.0, 0.0, 0.0]
    keyed = largest_remainder(np.array([0.5, 0.5, 0.5]), 1, key=np.array([9, 3, 5]))
    assert keyed.tolist() == [0.0, 1.0, 0.0]
    # row by row
    rows = largest_remainder(np.array([[0.5, 0.5], [1.9, 0.1]]), np.array([1, 2]))
    assert rows.tolist() == [[1.0, 0.0], [2.0, 0.0]]


def test_apportion_and_round_to_sum_by_hand() -> None:
    # units of 1,000: 4.1 + 4.1 + 4.8 = 13 → floors 4 + 4 + 4, the one missing unit to the .8
    per = apportion(np.array([[4100.0, 4100.0, 4800.0]]), np.array([13000.0]), 1000.0)
    assert per.tolist() == [[4000.0, 4000.0, 5000.0]]
    # cents: 0.005 + 0.005 = 0.01 → one cent, to the earlier period
    assert apportion(np.array([[0.005, 0.005]]), np.array([0.01]), 0.01).tolist() == [[0.01, 0.0]]
    assert round_to_sum([0.4, 0.4, 0.2], 1.0, 0) == [1.0, 0.0, 0.0]
    assert round_to_sum([1.25, 1.25], 2.5, 1) == [1.3, 1.2]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=12),
    st.integers(0, 2),
)
def test_largest_remainder_keeps_the_total(values: list[float], decimals: int) -> None:
    u = np.asarray(values) * 10.0**decimals
    want = round(float(np.floor(u + 1e-9).sum())) + len(u) // 2  # a reachable total
    k = largest_remainder(u, want)
    assert k.sum() == want
    assert np.all(k == np.round(k))
    assert np.all(np.abs(k - u) < 1 + 1e-6)
    assert np.array_equal(k, largest_remainder(u, want))  # deterministic


def test_round_linked_restores_a_linking_total() -> None:
    """quota_i = 10·units_i (twin rows), Σ quota = 30 (the linking row). At the LP optimum
    15.5 / 15.5 (1.55 units each) nearest rounding gives 2 + 2 units (40 ≠ 30); largest
    remainder gives 2 + 1, the tie to the lower column."""
    lm = LinearModel("t")
    q = lm.add_vars("quota", Index.of(["a", "b"]))
    k = lm.add_vars("units", Index.of(["a", "b"]), integer=True)
    loc = np.arange(2)
    lm.add_rows("twin", Index.of(["a", "b"]), [(loc, q.cols(), 1.0), (loc, k.cols(), -10.0)], 0, 0)
    lm.add_rows(
        "total", Index.of(["all"]), [(np.zeros(2), q.cols(), 1.0)], 30.0, 30.0, linking=True
    )
    assert lm.linking_rows().tolist() == [2]
    a = lm.matrix().tocsr()
    lo, up = lm.row_bounds()
    x = np.array([15.5, 15.5, 1.55, 1.55])
    general = np.array([False, False, True, True])
    z, restored = round_linked(a, lo, up, lm.linking_rows(), x, general)
    assert restored == 1
    assert z[2:].tolist() == [2.0, 1.0]  # 3 units in all; the tie goes to the lower column
    z0, none = round_linked(a, lo, up, np.zeros(0, dtype=np.int64), x, general)
    assert none == 0 and z0[2:].tolist() == [2.0, 2.0]  # nearest, total broken


def test_the_target_rule_declares_its_rows_linking(tmp_path: Path) -> None:
    plan = generate_plan(tmp_path / "p", regions=1, teams=2, reps=6, seed=1, name="l")
    md = validate(plan).md
    lm = build_quotas(quota_sets(md, alignment_from_incumbents(md))).model
    linking = [b.name for b in lm.rows.values() if b.linking]
    assert linking == ["target"]
    tb = lm.rows["target"]
    assert lm.linking_rows().tolist() == list(range(tb.start, tb.start + len(tb)))
