"""Personalised targets: the performance driver of the reference split, by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.errors import InputError
from allocopt.pipeline import validate
from tests.conftest import Solve, annual
from tests.plans import BASE_TABLES, write_plan


def _rep(rep_id: str, history: Any) -> dict[str, Any]:
    return {**BASE_TABLES["reps"][0], "rep_id": rep_id, "ly_actual": history, "ly_quota": history}


def _plan(root: Path, weight: float, rows: list[dict[str, Any]] | None, **factor: Any) -> Path:
    """A 600, B 400, C 500 potential (C a new hire without history), target 750: the
    potential split is 300, 200, 250."""
    tables: dict[str, Any] = {
        "reps": [_rep("A", 900), _rep("B", 700), _rep("C", "")],
        "potential": [
            {"rep_id": r, "product": "P", "potential": v}
            for r, v in (("A", 600), ("B", 400), ("C", 500))
        ],
    }
    extra: dict[str, Any] = {
        "targets": {"by_product": {"P": 750}},
        "objective": {
            "reference": {"potential": 1.0, "history": 0.0, "performance": weight},
            "performance_factor": {"credibility": 4, **factor},
        },
    }
    if rows is not None:
        tables["performance"] = rows
        extra["data"] = {"performance": "data/performance.csv"}
    return write_plan(root, tables=tables, extra=extra)


ROWS = [
    {"rep_id": "A", "factor": 1.5, "reason": "beat quota", "n_periods": 4},
    {"rep_id": "B", "factor": 0.5, "reason": "missed", "n_periods": ""},
    {"rep_id": "C", "factor": 2.0, "reason": "new hire", "n_periods": 4},
]


def test_performance_driver_by_hand(tmp_path: Path, solve: Solve) -> None:
    """k = 4 and 4 periods of evidence → z = 0.5: A 1 + 0.5 × 0.5 = 1.25, B (blank n = the 4
    quarters) 0.75, C (no history) 1. Tilted split 375, 150, 250 (sum 775) renormalised to
    750: 362.903, 145.161, 241.935; reference = (potential + performance) / 2 =
    331.452, 172.581, 245.968 — the quotas, since nothing binds."""
    res = solve(_plan(tmp_path / "p", 1.0, ROWS, min=0.5, max=1.5))
    q = annual(res)
    assert q[("A", "P")] == pytest.approx(331.451613, abs=0.01)
    assert q[("B", "P")] == pytest.approx(172.580645, abs=0.01)
    assert q[("C", "P")] == pytest.approx(245.967742, abs=0.01)
    reps = res.results.reps.set_index("rep_id")
    assert list(reps["performance_factor"]) == pytest.approx([1.25, 0.75, 1.0])
    assert res.results.annual["ref_performance"].tolist() == pytest.approx(
        [362.90, 145.16, 241.94], abs=0.01
    )
    r = CliRunner().invoke(main, ["explain", str(res.run_dir), "--rep", "A", "--json"])
    assert r.exit_code == 0, r.output
    assert '"reference: performance part"' in r.output


def test_factors_are_bounded_and_shrunk_by_evidence(tmp_path: Path, solve: Solve) -> None:
    """Default bounds 0.8..1.2: A 1.25 → 1.2, B 0.75 → 0.8; tilt 360, 160, 250 (770) →
    350.649, 155.844, 243.506; reference 325.325, 177.922, 246.753. With one period of
    evidence, z = 1/5: A 1 + 0.2 × 0.5 = 1.1."""
    res = solve(_plan(tmp_path / "p", 1.0, ROWS))
    q = annual(res)
    assert [q[(r, "P")] for r in "ABC"] == pytest.approx([325.3247, 177.9221, 246.7532], abs=0.01)
    one = [{**ROWS[0], "n_periods": 1}]
    res = solve(_plan(tmp_path / "q", 1.0, one, min=0.5, max=1.5))
    assert list(res.results.reps["performance_factor"]) == pytest.approx([1.1, 1.0, 1.0])


def test_weight_zero_leaves_the_plan_byte_identical(tmp_path: Path, solve: Solve) -> None:
    a = solve(_plan(tmp_path / "a", 0.0, None))
    b = solve(_plan(tmp_path / "b", 0.0, ROWS))
    for name in ("annual.csv", "quotas.csv", "reps.csv", "rollups.csv", "binding.csv"):
        assert (a.run_dir / name).read_bytes() == (b.run_dir / name).read_bytes(), name


def test_weight_without_table_and_unknown_rep_are_exit_2(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        validate(_plan(tmp_path / "a", 1.0, None))
    assert "objective.reference.performance: a performance weight needs" in info.value.render()
    rows = [*ROWS, {"rep_id": "Z", "factor": 1.1, "reason": "", "n_periods": 4}]
    rows.append({"rep_id": "Y", "factor": 0, "reason": "", "n_periods": 4})
    with pytest.raises(InputError) as info:
        validate(_plan(tmp_path / "b", 1.0, rows))
    text = info.value.render()
    assert "data/performance.csv:row 5: rep_id: unknown rep" in text
    assert "data/performance.csv:row 6: factor: must be > 0" in text
