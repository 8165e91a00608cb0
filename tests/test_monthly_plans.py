"""Monthly plans end to end: a tiny generated plan with 12 periods validates, solves (exact and
band phasing, whole and in blocks) and passes the independent verifier; and the growth-curve
benchmark's summary (benchmarks/curve.py) fits the exponents it reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from allocopt.examples.generate import generate_plan
from allocopt.pipeline import validate
from tests.conftest import Solve

ROOT = Path(__file__).resolve().parents[1]
MONTHS = [f"M{m:02d}" for m in range(1, 13)]


@pytest.fixture(scope="module")
def monthly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monthly-plan")
    return generate_plan(
        root / "p", regions=2, teams=4, reps=32, granularity="month", seed=9, name="monthly"
    )


def test_a_generated_monthly_plan_validates_with_twelve_periods(monthly: Path) -> None:
    v = validate(monthly)
    assert list(v.md.periods) == MONTHS
    # the phasing profile of every rep and product is a split of the year over 12 months
    phase = np.asarray(v.md.phase).reshape(v.md.n_reps, len(v.md.products), 12)
    sums = phase.sum(axis=2)
    assert np.all(np.isclose(sums, 1.0) | (sums == 0.0))
    assert np.isclose(sums, 1.0).mean() > 0.9


# Band phasing at the generator's band of 10% is infeasible on this plan, correctly: period
# capacity is flat over the months while the generated December weighs ~13% of the year, so a rep
# above ~70% of its capacity cannot hold 90% of its December share (quarters: ~90%). A 50% band
# keeps every lower bound inside the monthly capacity.
@pytest.mark.parametrize(
    "sets",
    [[], ["rules.phasing.mode=band", "rules.phasing.band=0.5"], ["solver.block_size=1"]],
    ids=["exact", "band", "blocks"],
)
def test_a_monthly_plan_solves_and_verifies(monthly: Path, solve: Solve, sets: list[str]) -> None:
    res = solve(monthly, sets=sets)  # the fixture runs the independent verifier
    assert res.status == "optimal"
    q = res.results.quotas
    assert sorted(set(q["period"])) == MONTHS
    per_cell = q.groupby(["rep_id", "product"])["period"].nunique()
    assert (per_cell == 12).all()
    # 12 monthly quotas add up to the annual quota, which is a whole number of rounding units
    months = q.groupby(["rep_id", "product"])["quota"].sum().sort_index()
    year = res.results.annual.set_index(["rep_id", "product"])["quota"].sort_index()
    assert np.allclose(months.to_numpy(float), year.to_numpy(float), atol=0.011)
    units = year.to_numpy(float) / 1000.0
    assert np.array_equal(units, np.round(units))


def _point(reps: int, granularity: str, wall: float, lp: float, ok: bool = True) -> dict:
    res: dict = {"reps": reps, "granularity": granularity}
    if not ok:
        res.update(error="no plan", exit_code=1, wall_seconds=wall)
    else:
        res.update(
            status="optimal",
            gap=0.01,
            wall_seconds=wall,
            cpu_seconds=wall,
            peak_memory_mib=reps / 10,
            loadavg={"before": [1.0, 1.0, 1.0], "after": [1.0, 1.0, 1.0]},
            stage_timings={"load": 0.0, "validate": 0.1, "extract": 0.1, "write": 0.1},
            stages={
                "alignment": {"seconds": 0.1},
                "quotas": {"seconds": lp + 0.5, "lp_seconds": lp, "message": "Optimal"},
            },
        )
    return {"date": "2026-11-29T00:00:00", "results": [res]}


def test_the_curve_summary_fits_the_growth_exponents(tmp_path: Path) -> None:
    points = tmp_path / "points"
    points.mkdir()
    # wall ∝ reps, quota LP ∝ reps^1.5; one monthly point failed (kept, not fitted)
    for n in (1000, 4000, 16000):
        p = _point(n, "quarter", wall=n / 100, lp=(n / 1000) ** 1.5)
        (points / f"quarter-{n}.json").write_text(json.dumps(p))
    for n, ok in ((1000, True), (4000, True), (16000, False)):
        p = _point(n, "month", wall=n / 50, lp=n / 1000, ok=ok)
        (points / f"month-{n}.json").write_text(json.dumps(p))
    out, png = tmp_path / "curve.json", tmp_path / "curve.png"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "curve.py"), "--no-run", "--points"]
    cmd += [str(points), "--out", str(out), "--png", str(png)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    summary = json.loads(out.read_text())
    q, m = summary["curves"]["quarter"], summary["curves"]["month"]
    assert q["exponents"]["wall"]["k"] == pytest.approx(1.0, abs=1e-3)
    assert q["exponents"]["quota_lp"]["k"] == pytest.approx(1.5, abs=1e-3)
    assert [x["k"] for x in q["exponents"]["quota_lp"]["local"]] == [1.5, 1.5]
    assert q["exponents"]["quota_integer"]["k"] == pytest.approx(0.0, abs=1e-3)  # 0.5 s each
    assert q["exponents"]["peak_memory_mib"]["k"] == pytest.approx(1.0, abs=1e-3)
    assert [p["ok"] for p in m["points"]] == [True, True, False]
    assert m["exponents"]["wall"]["points"] == 2
    assert m["points"][2]["wall"] == 320.0
    # stage seconds: quota integer = quota stage − LP; other = wall − the named stages
    s = q["points"][0]["stages"]
    assert s["quota_integer"] == 0.5
    assert s["other"] == pytest.approx(10.0 - (0.1 + 0.1 + 1.0 + 0.5 + 0.1 + 0.1), abs=0.011)
    assert png.stat().st_size > 0
