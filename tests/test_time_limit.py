"""The time limit bounds the whole quota solve; past it, a rounded LP plan is written and stamped.

The HiGHS boundary (:func:`allocopt.solve.highs.run_highs`, as :mod:`allocopt.solve.blocks` calls
it) is patched so that every integer quota model "runs out of time" without a solution — the path
a large plan takes when the limit is reached — deterministically and without timing anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from allocopt.examples.generate import generate_plan
from allocopt.pipeline import verify_run
from allocopt.solve import blocks as solve_mod
from tests.conftest import Solve


def _no_integer_plan(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every quota MIP return time_limit without a solution; log what ran."""
    real = solve_mod.run_highs
    ran: list[str] = []

    def fake(comp: solve_mod.Compiled, options: dict[str, Any], **kw: Any) -> Any:
        mip = bool(len(comp.lp.integrality_))
        ran.append(f"{comp.model.name}:{'mip' if mip else 'lp'}")
        if comp.model.name == "quotas" and mip:
            return solve_mod.SolveResult(
                "time_limit", False, is_mip=True, message="Time limit reached", options=options
            )
        return real(comp, options, **kw)

    monkeypatch.setattr(solve_mod, "run_highs", fake)
    return ran


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tl-plan")
    return generate_plan(root / "p", regions=2, teams=4, reps=40, seed=3, name="tl")


def test_time_limit_without_integer_plan_writes_stamped_rounded_plan(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = _no_integer_plan(monkeypatch)
    res = solve(plan, sets=["solver.time_limit=5"])  # the verifier runs in the fixture
    # relaxation, neighbourhood MIP (timed out: no full MIP after it), assembly LP
    assert [r for r in ran if r.startswith("quotas")] == ["quotas:lp", "quotas:mip", "quotas:lp"]
    manifest = json.loads((res.run_dir / "manifest.json").read_text())
    summary = json.loads((res.run_dir / "summary.json").read_text())
    assert manifest["status"] == summary["status"] == "time_limit"
    q = manifest["stages"]["quotas"]
    assert q["status"] == "time_limit" and q["has_solution"]
    assert "rounded" in q["message"] and "largest remainder" in q["message"]
    # the bound is the LP relaxation; the gap is measured against it, not claimed
    assert q["bound"] == pytest.approx(q["lp_bound"])
    assert q["objective"] >= q["bound"] - 1e-6 * abs(q["bound"])
    gap = abs(q["objective"] - q["bound"]) / abs(q["objective"])
    assert q["gap"] == pytest.approx(gap)
    assert manifest["gap"] == pytest.approx(max(gap, manifest["stages"]["alignment"]["gap"] or 0))
    # rounded quotas, company totals exact
    annual = res.results.annual
    unit = 1000.0
    assert np.allclose(
        np.asarray(annual["quota"], dtype=float) / unit,
        np.round(np.asarray(annual["quota"], dtype=float) / unit),
    )
    totals = annual.groupby("product")["quota"].sum()
    assert np.allclose(totals / unit, np.round(totals / unit))
    assert verify_run(res.run_dir).ok  # company totals, rounding and every rule hold


def test_assembly_that_breaks_a_row_gives_no_plan_and_says_so(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocopt.errors import SolverError
    from allocopt.pipeline import run

    _no_integer_plan(monkeypatch)
    real_round = solve_mod._round_linked

    def off_by_one(*args: Any) -> tuple[np.ndarray, int]:
        z, n = real_round(*args)
        general = args[2]
        k = int(np.flatnonzero(general)[0])
        z[k] += 1  # one quota one unit too high: its product total no longer holds
        return z, n

    monkeypatch.setattr(solve_mod, "_round_linked", off_by_one)
    out = tmp_path / "run"
    with pytest.raises(SolverError) as err:
        run(plan, out=out, sets=["solver.time_limit=5"])
    assert "breaks a row" in str(err.value)
    assert not out.exists()


def test_lp_relaxation_out_of_time_is_named_and_nothing_is_written(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocopt.errors import SolverError
    from allocopt.pipeline import run

    real = solve_mod.run_highs
    ran: list[str] = []

    def fake(comp: solve_mod.Compiled, options: dict[str, Any], **kw: Any) -> Any:
        mip = bool(len(comp.lp.integrality_))
        ran.append(f"{comp.model.name}:{'mip' if mip else 'lp'}")
        if comp.model.name == "quotas":  # the relaxation itself runs out of time
            return solve_mod.SolveResult("time_limit", False, message="Time limit reached")
        return real(comp, options, **kw)

    monkeypatch.setattr(solve_mod, "run_highs", fake)
    out = tmp_path / "run"
    with pytest.raises(SolverError) as err:
        run(plan, out=out, sets=["solver.time_limit=5"])
    assert "before the LP relaxation was solved" in str(err.value)
    assert [r for r in ran if r.startswith("quotas")] == ["quotas:lp"]  # no MIP after it
    assert not out.exists()


def test_time_limit_bounds_both_stages_end_to_end(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alignment gets at most half of the limit; the quotas what is left after it (a clock
    that jumps 40 s while the alignment runs stands in for a slow alignment)."""
    from allocopt import pipeline

    class Clock:
        offset = 0.0

        @staticmethod
        def perf_counter() -> float:
            import time

            return time.perf_counter() + Clock.offset

    real = pipeline.solve
    limits: dict[str, float] = {}

    def spy(model: Any, options: dict[str, Any], **kw: Any) -> Any:
        limits[model.name] = float(options["time_limit"])
        out = real(model, options, **kw)
        if model.name == "alignment":
            Clock.offset += 40.0  # the alignment "took" 40 s
        return out

    monkeypatch.setattr(pipeline, "time", Clock)
    monkeypatch.setattr(pipeline, "solve", spy)
    res = solve(plan, sets=["solver.time_limit=100"])
    assert set(limits) == {"alignment", "quotas"}
    assert limits["alignment"] <= 50.0  # half of what was left at its start
    assert limits["quotas"] <= 60.0  # the limit less the 40 s already spent
    assert limits["quotas"] > 40.0  # and not much less: loading a small plan is quick
    assert res.results.summary["status"] == "optimal"
