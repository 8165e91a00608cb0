"""Explanations: per-rep decompositions sum exactly; shadow prices match finite differences."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import explain_plan, explain_rep
from allocopt.model.linear import tiebreak_weights
from allocopt.pipeline import relaxed_objective
from tests.conftest import Solve
from tests.plans import write_plan
from tests.test_model_rules import _key_accounts, _reps


def _capacity_plan(tmp_path: Path) -> Path:
    """A's capacity 250 binds: A = 250, B = 250 (references 300 / 200)."""
    return write_plan(tmp_path, tables={"reps": _reps(A={"capacity": 250})})


def test_rep_decomposition_names_the_binding_rule(tmp_path: Path, solve: Solve) -> None:
    res = solve(_capacity_plan(tmp_path))
    a = explain_rep(res.run_dir, "A")
    assert a.parts[0] == ("reference: potential part", pytest.approx(300.0))
    labels = dict(a.parts)
    assert labels["capacity: capped by its ramped capacity"] == pytest.approx(-50.0)
    assert sum(v for _, v in a.parts) == pytest.approx(250.0, abs=1e-9)
    b = explain_rep(res.run_dir, "B")
    assert dict(b.parts)[
        "target: redistribution so the company and unit targets add up (other reps are bound)"
    ] == pytest.approx(50.0)


def test_every_explanation_sums_exactly_to_the_quota(tmp_path: Path, solve: Solve) -> None:
    """A plan where several rules bind, with rounding: every rep's parts add up to its quota."""
    extra = {
        "targets": {"by_product": {"P": 1003}},
        "objective": {"reference": {"potential": 0.5, "history": 0.5}},
        "rules": {
            "growth": {"enabled": True, "min": -0.2, "max": 0.5},
            "floors": {"enabled": True, "by_role": {"senior": 450}},
            "key_accounts": {"enabled": True, "max_accounts": 1, "move_cost": 0.1},
            "rounding": {"enabled": True, "unit": 10},
        },
    }
    reps = _reps(A={"ly_actual": 380, "capacity": 560}, B={"ly_actual": 350, "role": "senior"})
    res = solve(
        write_plan(tmp_path, tables={"reps": reps, "accounts": _key_accounts()}, extra=extra)
    )
    annual = pd.read_csv(res.run_dir / "annual.csv", dtype={"rep_id": str})
    for rep in ("A", "B"):
        x = explain_rep(res.run_dir, rep)
        quota = float(annual.loc[annual["rep_id"] == rep, "quota"].sum())
        assert sum(v for _, v in x.parts) == pytest.approx(quota, abs=1e-6)
        assert x.quota == pytest.approx(quota)
    kept = explain_rep(res.run_dir, "A").accounts
    assert {a["account_id"] for a in kept} == {"K1", "K2"}
    moved = [a for a in kept if a["owner_rep"] == "B"]
    assert moved and "moved out to B: this rep's key-account book is full" in moved[0]["why"]


def test_target_shadow_price_matches_finite_difference(tmp_path: Path, solve: Solve) -> None:
    """With A capped, one more unit of target goes to B beyond its near band: cost 4 per unit."""
    res = solve(_capacity_plan(tmp_path))
    plan = explain_plan(res.run_dir, resolve=False)
    price = plan.target_prices[0]
    base = relaxed_objective(res.run_dir, {})
    bumped = relaxed_objective(res.run_dir, {"targets.by_product.P": 501.0})
    assert base is not None and bumped is not None
    # +1 target also lifts the references (0.6 to A, 0.4 to B): A's shortfall grows at
    # 0.1·1 + 0.9·4 = 3.7 per unit of reference, B's excess shrinks at 0.1·1 − 1.1·4 = −4.3:
    # 4 (the row dual) + 0.6·3.7 − 0.4·4.3 = 4.5
    assert bumped - base == pytest.approx(price["per_unit"], rel=1e-4)
    assert price["per_unit"] == pytest.approx(4.5, abs=1e-3)
    assert price["dual"] == pytest.approx(4.0, abs=1e-3)
    assert price["cost_of_plus_1pct"] == pytest.approx(4.5 * 5.0, abs=1e-2)


def test_capacity_shadow_price_matches_finite_difference(tmp_path: Path, solve: Solve) -> None:
    """One more unit of A's capacity moves one unit from B to A: both far deviations shrink: −8."""
    res = solve(_capacity_plan(tmp_path))
    plan = explain_plan(res.run_dir, resolve=False)
    (cap,) = plan.capacity_prices
    assert cap["rep_id"] == "A"
    md_path = tmp_path / "more-capacity"
    bumped_plan = write_plan(md_path, tables={"reps": _reps(A={"capacity": 251})})
    bumped = solve(bumped_plan)
    diff = (
        bumped.results.summary["objective_terms"]["deviation"]
        - res.results.summary["objective_terms"]["deviation"]
    )
    assert diff == pytest.approx(-cap["saving_per_unit"], rel=1e-4)
    assert cap["saving_per_unit"] == pytest.approx(8.0, abs=1e-3)


def test_price_of_fairness_by_re_solving(tmp_path: Path, solve: Solve) -> None:
    """History reference A = 100, B = 400; band ±20% forces A = 260, B = 240 (cost 1130)."""
    extra = {
        "objective": {"reference": {"potential": 0.0, "history": 1.0}},
        "rules": {"fairness": {"enabled": True, "level": "team", "band": 0.2}},
    }
    reps = _reps(A={"ly_actual": 100}, B={"ly_actual": 400})
    res = solve(write_plan(tmp_path, tables={"reps": reps}, extra=extra))
    pf = explain_plan(res.run_dir).price_of_fairness
    # A +160: 10 near + 150 far (×4) = 610; B −160: 40 near + 120 far (×4) = 520; without: 0
    # without fairness only the tie-break remains: 1e-4 · (g(1)·100 + g(2)·400)
    g = tiebreak_weights(2)
    assert pf["objective_without_fairness"] == pytest.approx(1e-4 * (g[0] * 100 + g[1] * 400))
    assert pf["price_of_fairness"] == pytest.approx(1130.0, abs=0.05)
    assert pf["saving_band_plus_5pts"] > 0


def test_explain_cli(tmp_path: Path, solve: Solve) -> None:
    res = solve(_capacity_plan(tmp_path))
    runner = CliRunner()
    out = runner.invoke(main, ["explain", str(res.run_dir), "--rep", "A"])
    assert out.exit_code == 0, out.output
    assert "capped by its ramped capacity" in out.output
    out = runner.invoke(main, ["explain", str(res.run_dir), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["binding_counts"]["capacity"] == 1
    out = runner.invoke(main, ["explain", str(res.run_dir), "--rep", "Z"])
    assert out.exit_code == 2 and "no rep 'Z'" in out.output
    out = runner.invoke(main, ["explain", str(tmp_path / "nowhere")])
    assert out.exit_code == 2


def test_the_re_solves_of_one_run_read_its_inputs_once_and_match_one_by_one(
    tmp_path: Path, solve: Solve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """explain's re-solves share one read of the run's inputs (a second read only when a change
    touches the data); each objective equals the one-off :func:`relaxed_objective`'s."""
    import allocopt.pipeline as pipeline

    res = solve(_capacity_plan(tmp_path))
    changes: list[dict[str, object]] = [
        {},
        {"targets.by_product.P": 501.0},
        {"rules.fairness.enabled": False},
    ]
    alone = [relaxed_objective(res.run_dir, c) for c in changes]
    reads: list[object] = []
    real = pipeline.load_data

    def counted(*args: object, **kw: object) -> object:
        reads.append(args[0])
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "load_data", counted)
    objective = pipeline.relaxed_objectives(res.run_dir)
    assert not reads  # nothing read before the first re-solve
    shared = [objective(c) for c in changes]
    assert shared == alone and all(v is not None for v in shared)
    assert len(reads) == 1
    assert alone[1] is not None and alone[0] is not None and alone[1] > alone[0]
