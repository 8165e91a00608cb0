"""The rounded-LP assembly repairs rows its integers alone break (solve/rounding.py
:func:`~allocopt.solve.rounding.round_rows`).

With band phasing a period-capacity row weighs several annual quotas of one rep
(Σ_p (1 − b)·φ[r,p,t]·quota[r,p] ≤ period_capacity[r,t]); rounding each quota to nearest can
break it though the LP optimum holds it. The HiGHS boundary is patched as in
tests/test_time_limit.py so that the integer model "runs out of time" and the assembly is the plan.
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

from allocopt.compose import verify_run
from allocopt.solve import blocks as solve_mod
from allocopt.solve.rounding import _Rows, _twins, round_linked, round_rows
from tests.conftest import Solve
from tests.plans import BASE_TABLES, write_plan
from tests.test_time_limit import _no_integer_plan

PRODUCTS = ["P", "Q", "R"]


def _band_plan(root: Path) -> Path:
    """Rep A: heavy potential, capacity 1,000 (250 a quarter) and a Q4 weighing 40% of the year,
    so 0.9 · 0.4 · Σ_p quota[A,p] ≤ 250 holds A to 694 over three products; rounding unit 100."""
    reps = [dict(r) for r in BASE_TABLES["reps"]]
    reps[0]["capacity"] = 1000
    reps[1]["capacity"] = 100000
    pot = {"A": [2800, 2600, 2400], "B": [1200, 1400, 1600]}
    weights = {"Q1": 0.2, "Q2": 0.2, "Q3": 0.2, "Q4": 0.4}
    return write_plan(
        root,
        tables={
            "reps": reps,
            "potential": [
                {"rep_id": r, "product": p, "potential": v[i]}
                for r, v in pot.items()
                for i, p in enumerate(PRODUCTS)
            ],
            "accounts": [
                {"account_id": "X1", "product": "P", "revenue": 50, "key": "false"},
            ],
            "seasonality": [
                {"product": p, "period": q, "weight": w}
                for p in PRODUCTS
                for q, w in weights.items()
            ],
        },
        extra={
            "products": PRODUCTS,
            "targets": {"by_product": {"P": 1000, "Q": 1000, "R": 1000}},
            "rules": {
                "phasing": {"enabled": True, "mode": "band", "band": 0.1},
                "rounding": {"enabled": True, "unit": 100},
            },
        },
    )


def test_assembly_repairs_a_period_capacity_row_broken_by_rounding(
    tmp_path: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_integer_plan(monkeypatch)
    plain: list[int] = []
    real = solve_mod.round_rows

    def spy(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        plain.append(out[2])
        return out

    monkeypatch.setattr(solve_mod, "round_rows", spy)
    res = solve(_band_plan(tmp_path / "p"), sets=["solver.time_limit=5"])  # verified
    assert plain and plain[0] > 0  # nearest rounding broke a row: the repair was needed
    manifest = json.loads((res.run_dir / "manifest.json").read_text())
    q = manifest["stages"]["quotas"]
    assert manifest["status"] == q["status"] == "time_limit" and q["has_solution"]
    assert "repaired" in q["message"]
    annual = res.results.annual
    totals = annual.groupby("product")["quota"].sum()
    assert totals.to_dict() == {"P": 1000, "Q": 1000, "R": 1000}
    a = annual[annual["rep_id"] == "A"]["quota"].astype(float).sum()
    assert 0.9 * 0.4 * a <= 250 + 1e-6  # A's Q4 capacity holds
    assert verify_run(res.run_dir).ok


def _instance(draw: Any) -> tuple[Any, ...]:
    """Random model of the assembly's shape: integers u[i] (twins quota = 10·u), linked totals
    Σ_i∈g quota = 10·n_g, and ≤ rows over free columns y ≥ c·quota (row Σ y ≤ cap)."""
    n_g = draw(st.integers(1, 2))
    per = draw(st.integers(2, 5))
    n_i = n_g * per
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    u = rng.uniform(0, 6, n_i)
    # integer columns 0..n_i-1, quotas n_i..2n_i-1, y 2n_i..3n_i-1
    n = 3 * n_i
    rows: list[tuple[list[int], list[float], float, float]] = []
    for i in range(n_i):
        rows.append(([n_i + i, i], [1.0, -10.0], 0.0, 0.0))  # twin
    for g in range(n_g):
        idx = list(range(g * per, (g + 1) * per))
        rows.append(([n_i + i for i in idx], [1.0] * per, 0.0, 0.0))  # linked, rhs below
    c = rng.uniform(0.2, 1.0, n_i)
    for i in range(n_i):
        rows.append(([2 * n_i + i, n_i + i], [1.0, -c[i]], 0.0, np.inf))  # y ≥ c·quota
    caps = []
    for _ in range(draw(st.integers(1, 3))):
        mem = sorted(rng.choice(n_i, size=min(n_i, 3), replace=False).tolist())
        cap = float(sum(c[i] * 10 * u[i] for i in mem)) + rng.uniform(0, 3)
        caps.append((mem, cap))
        rows.append(([2 * n_i + i for i in mem], [1.0] * len(mem), -np.inf, cap))
    # the linked totals: u rescaled so that each group sums to a whole number
    for g in range(n_g):
        idx = slice(g * per, (g + 1) * per)
        s = u[idx].sum()
        u[idx] *= np.ceil(s) / s if s > 0 else 1.0
    x = np.zeros(n)
    x[:n_i] = u
    x[n_i : 2 * n_i] = 10 * u
    x[2 * n_i :] = c * 10 * u
    r_i, c_i, v, lo, up = [], [], [], [], []
    for k, (cols, vals, lo_k, up_k) in enumerate(rows):
        r_i += [k] * len(cols)
        c_i += cols
        v += vals
        lo.append(lo_k)
        up.append(up_k)
    lo_a, up_a = np.array(lo), np.array(up)
    link = np.arange(n_i, n_i + n_g)
    for g in range(n_g):
        lo_a[n_i + g] = up_a[n_i + g] = 10 * u[g * per : (g + 1) * per].sum()
    # capacities at the rescaled LP point (it holds every row)
    for j, (mem, _) in enumerate(caps):
        k = n_i + n_g + n_i + j
        up_a[k] = max(up_a[k], float(sum(x[2 * n_i + i] for i in mem)))
    a = sp.csr_matrix((v, (r_i, c_i)), shape=(len(rows), n))
    general = np.zeros(n, dtype=bool)
    general[:n_i] = True
    col_lo, col_up = np.zeros(n), np.full(n, np.inf)
    return a, lo_a, up_a, col_lo, col_up, link, x, general


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_repaired_rounding_keeps_linked_totals_and_never_adds_violation(data: Any) -> None:
    _assert_repair_keeps_totals_and_adds_no_violation(data.draw)


def test_repair_never_breaks_more_rows_than_nearest_rounding_ci_counterexample() -> None:
    """CI's counterexample (fixed in 55358d6; it is also the derandomized CI profile's draw):
    two linked groups of two integers, instance seed 215, three capacity rows. A round lowered the
    total miss V but spread it from 1 broken row over 2, and round_rows returned that state."""
    draws = iter([2, 2, 215, 3])  # n_g, per, seed, capacity rows: _instance's draws in order
    _assert_repair_keeps_totals_and_adds_no_violation(lambda _strategy: next(draws))


def _assert_repair_keeps_totals_and_adds_no_violation(draw: Any) -> None:
    a, lo, up, cl, cu, link, x, general = _instance(draw)
    z0, restored0 = round_linked(a, lo, up, link, x, general)
    z, restored, before, after = round_rows(a, lo, up, cl, cu, link, x, general)
    assert restored == restored0 and after <= before
    n_i = int(general.sum())
    for r in link.tolist():  # linked totals exact, as plain largest remainder keeps them
        cols = a.indices[a.indptr[r] : a.indptr[r + 1]] - n_i
        assert 10 * z[cols].sum() == pytest.approx(lo[r])
    assert np.all(z[general] == np.round(z[general]))
    assert np.all(np.abs(z[general] - x[general]) < 1 + 1e-9)  # floor or ceiling
    # the total violation (the same measure) never grows
    twin_of, weight = _twins(a, lo, up, general)
    rows = _Rows(a, lo, up, cl, cu, general, twin_of, weight)
    v0 = sum(v.sum() for v in rows.violation(*rows.reach(z0)[:2]))
    v1 = sum(v.sum() for v in rows.violation(*rows.reach(z)[:2]))
    assert v1 <= v0 + 1e-9
