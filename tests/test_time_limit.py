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

from allocopt.compose import verify_run
from allocopt.examples.generate import generate_plan
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


def _lp_out_of_time(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The quota model's whole LP relaxation runs out of time without a point (its first HiGHS
    run); everything else runs for real. Returns what ran."""
    real = solve_mod.run_highs
    ran: list[str] = []

    def fake(comp: solve_mod.Compiled, options: dict[str, Any], **kw: Any) -> Any:
        mip = bool(len(comp.lp.integrality_))
        ran.append(f"{comp.model.name}:{'mip' if mip else 'lp'}")
        if ran.count("quotas:lp") == 1 and comp.model.name == "quotas" and not mip:
            return solve_mod.SolveResult("time_limit", False, message="Time limit reached")
        return real(comp, options, **kw)

    monkeypatch.setattr(solve_mod, "run_highs", fake)
    return ran


def test_lp_relaxation_out_of_time_gets_a_point_from_one_decomposition_round(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to round after the whole LP was cut: one Dantzig–Wolfe round (the first always
    ends) gives a point, and the plan is built from it, verified, its bound from that round."""
    ran = _lp_out_of_time(monkeypatch)
    res = solve(plan, sets=["solver.time_limit=5"])  # the verifier runs in the fixture
    assert next(r for r in ran if r.startswith("quotas")) == "quotas:lp"
    q = json.loads((res.run_dir / "manifest.json").read_text())["stages"]["quotas"]
    assert q["has_solution"] and "Dantzig–Wolfe" in q["lp_message"]
    assert "1 master iterations" in q["lp_message"]
    assert q["lp_bound"] <= q["objective"] and q["bound"] <= q["objective"]
    assert verify_run(res.run_dir).ok


def test_lp_relaxation_out_of_time_without_blocks_is_named_and_nothing_is_written(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model the decomposition cannot split (patched to give up) has nothing to round."""
    from allocopt.errors import SolverError
    from allocopt.pipeline import run
    from allocopt.solve import decompose

    ran = _lp_out_of_time(monkeypatch)
    monkeypatch.setattr(decompose, "solve_lp_decomposed", lambda *a, **k: None)
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


def _lp_past_the_deadline(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> list[float]:
    """The quota LP relaxation "takes" 10 s and ends an hour past the deadline (the clock of
    :mod:`allocopt.solve.blocks` jumps): a first Dantzig–Wolfe round that overran. Returns the
    time limits the rounded assembly is given. With ``fail`` the LP ends in time and the
    assembly is the step that runs out of it (and the clock jumps then)."""
    import time as real_time
    from types import SimpleNamespace

    jump = [0.0]
    clock = SimpleNamespace(
        perf_counter=lambda: real_time.perf_counter() + jump[0],
        time=lambda: real_time.time() + jump[0],
    )
    monkeypatch.setattr(solve_mod, "time", clock)
    real_relax, real_assemble = solve_mod._relax, solve_mod._assemble
    limits: list[float] = []

    def relax(*args: Any, **kw: Any) -> Any:
        res = real_relax(*args, **kw)
        if args[0].model.name == "quotas":
            res.seconds = 10.0
            jump[0] = 0.0 if fail else 3600.0
        return res

    def assemble(comp: Any, relaxed: Any, general: Any, link: Any, time_limit: float) -> Any:
        limits.append(time_limit)
        if fail:
            jump[0] = 3600.0
            msg = "time limit reached before an integer plan was found, and … could not be"
            msg += " completed"
            return solve_mod.SolveResult("time_limit", False, message=msg)
        return real_assemble(comp, relaxed, general, link, time_limit)

    monkeypatch.setattr(solve_mod, "_relax", relax)
    monkeypatch.setattr(solve_mod, "_assemble", assemble)
    return limits


def test_an_lp_ending_past_the_deadline_still_gets_its_assembly_reserve(
    plan: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks forced (``solver.block_size=1``): the rounded assembly gets at least its reserve,
    ASSEMBLY_RESERVE × the LP's 10 s (it used to get 1 s: 50k reps with a 15 s limit then ended
    without a plan), and the plan is written, stamped and verified."""
    limits = _lp_past_the_deadline(monkeypatch)
    res = solve(plan, sets=["solver.block_size=1"])  # the verifier runs in the fixture
    assert limits == [solve_mod.ASSEMBLY_RESERVE * 10.0]
    q = json.loads((res.run_dir / "manifest.json").read_text())["stages"]["quotas"]
    assert q["status"] == "time_limit" and q["has_solution"]
    assert "rounded" in q["message"]
    assert verify_run(res.run_dir).ok


def test_an_assembly_out_of_time_is_not_built_again(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks forced; the rounded assembly (built first, right after the LP) runs out of time.
    The same rounding again as the last resort would only overrun the limit again: one attempt,
    a located error, nothing written."""
    from allocopt.errors import SolverError
    from allocopt.pipeline import run

    limits = _lp_past_the_deadline(monkeypatch, fail=True)
    out = tmp_path / "run"
    with pytest.raises(SolverError) as err:
        run(plan, out=out, sets=["solver.block_size=1"])
    assert len(limits) == 1
    assert "could not be completed" in str(err.value)
    assert not out.exists()
