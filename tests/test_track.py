"""``allocopt track``: attainment, pacing, forecasts and at-risk flags, checked by hand.

The tiny plan (tests/plans.py) with seasonality Q1..Q4 = 0.1, 0.2, 0.3, 0.4 gives rep A an annual
quota of 300 (600 of 1,000 potential × target 500) phased 30, 60, 90, 120, and rep B 200 phased
20, 40, 60, 80 (team T1, region NORTH, company CO, one product P; fiscal year from 2027-01-01).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import track, write_track
from allocopt.errors import InputError
from allocopt.pipeline import run
from allocopt.results.track import ALL, TrackResult
from tests.plans import write_plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example" / "scenario.yaml"
EXAMPLE_ACTUALS = ROOT / "scenarios" / "example" / "data" / "actuals.csv"

SEASONALITY = [
    {"product": "P", "period": f"Q{q}", "weight": w}
    for q, w in zip(range(1, 5), (0.1, 0.2, 0.3, 0.4), strict=True)
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    path = write_plan(root, tables={"seasonality": SEASONALITY})
    res = run(path, out=root / "run")
    q = res.results.quotas
    assert [float(x) for x in q["quota"]] == [30, 60, 90, 120, 20, 40, 60, 80]
    return res.run_dir


def _actuals(path: Path, rows: list[tuple[str, str, str, object]]) -> Path:
    lines = ["rep_id,product,period,amount", *(",".join(map(str, r)) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _row(res: TrackResult, rep: str, product: str = "P") -> pd.Series:
    r = res.reps
    return r[(r["rep_id"] == rep) & (r["product"] == product)].iloc[0]


def _unit(res: TrackResult, level: str, unit: str, product: str = ALL) -> pd.Series:
    u = res.units
    return u[(u["level"] == level) & (u["unit_id"] == unit) & (u["product"] == product)].iloc[0]


def test_closed_quarter_by_hand(tiny_run: Path, tmp_path: Path) -> None:
    """Actuals for Q1: A 36, B 10. Default as-of = end of Q1 = 2027-03-31; elapsed share 0.25.

    A: quota to date 30, attainment 36/30 = 1.2, pacing +6, run-rate 36/0.25 = 144 (144/300 =
       0.48), seasonal share 30/300 = 0.1 → seasonality-adjusted forecast 360, forecast
       attainment 1.2, gap 300 − 360 = −60, not at risk, performance factor 1.2.
    B: quota to date 20, attainment 0.5, pacing −10, run-rate 40 (0.2), seasonal share 0.1 →
       forecast 100, forecast attainment 0.5 < 0.9 → at risk, gap 100, factor clip(0.5) = 0.5.
    Team T1 (and NORTH, CO): quota to date 50, actual 46, attainment 0.92, pacing −4, run-rate
       184 (0.368), forecast 46/0.1 = 460, forecast attainment 0.92 ≥ 0.9 → not at risk.
    Distribution over {1.2, 0.5}: mean = median = 0.85, p10 = 0.57, p90 = 1.13, ≥100% = 0.5.
    """
    act = _actuals(tmp_path / "a.csv", [("A", "P", "Q1", 36), ("B", "P", "Q1", 10)])
    res = track(tiny_run, act)
    assert res.as_of == dt.date(2027, 3, 31)
    assert res.elapsed_share == pytest.approx(0.25)
    a = _row(res, "A")
    assert a["annual_quota"] == pytest.approx(300)
    assert a["quota_to_date"] == pytest.approx(30)
    assert a["actual_to_date"] == pytest.approx(36)
    assert a["attainment"] == pytest.approx(1.2)
    assert a["pacing"] == pytest.approx(6)
    assert a["forecast_run_rate"] == pytest.approx(144)
    assert a["forecast_run_rate_attainment"] == pytest.approx(0.48)
    assert a["seasonal_share"] == pytest.approx(0.1)
    assert a["forecast_seasonal"] == pytest.approx(360)
    assert a["forecast_attainment"] == pytest.approx(1.2)
    assert a["gap"] == pytest.approx(-60)
    assert not a["at_risk"]
    assert a["performance_factor"] == pytest.approx(1.2)

    b = _row(res, "B")
    assert b["quota_to_date"] == pytest.approx(20)
    assert b["attainment"] == pytest.approx(0.5)
    assert b["pacing"] == pytest.approx(-10)
    assert b["forecast_run_rate"] == pytest.approx(40)
    assert b["forecast_run_rate_attainment"] == pytest.approx(0.2)
    assert b["forecast_seasonal"] == pytest.approx(100)
    assert b["forecast_attainment"] == pytest.approx(0.5)
    assert b["gap"] == pytest.approx(100)
    assert b["at_risk"]
    assert b["performance_factor"] == pytest.approx(0.5)
    assert _row(res, "B", ALL)["attainment"] == pytest.approx(0.5)

    for level, unit in (("team", "T1"), ("region", "NORTH"), ("company", "CO")):
        for product in ("P", ALL):
            u = _unit(res, level, unit, product)
            assert u["quota_to_date"] == pytest.approx(50)
            assert u["actual_to_date"] == pytest.approx(46)
            assert u["attainment"] == pytest.approx(0.92)
            assert u["pacing"] == pytest.approx(-4)
            assert u["forecast_run_rate"] == pytest.approx(184)
            assert u["forecast_seasonal"] == pytest.approx(460)
            assert u["forecast_attainment"] == pytest.approx(0.92)
            assert not u["at_risk"]

    assert list(res.at_risk["rep_id"]) == ["B"]
    s = res.summary
    assert s["as_of"] == "2027-03-31"
    assert s["closed_periods"] == ["Q1"] and s["current_period"] is None
    assert s["company"]["attainment"] == pytest.approx(0.92)
    assert s["by_region"]["NORTH"]["pacing"] == pytest.approx(-4)
    d = s["distribution"]
    assert d["count"] == 2
    assert d["mean"] == pytest.approx(0.85) and d["median"] == pytest.approx(0.85)
    assert d["p10"] == pytest.approx(0.57) and d["p90"] == pytest.approx(1.13)
    assert d["share_at_or_above_100"] == pytest.approx(0.5)
    assert s["at_risk"]["count"] == 1 and s["at_risk"]["reps"][0]["rep_id"] == "B"
    assert s["at_risk"]["teams"] == []


def test_partial_current_period_by_hand(tiny_run: Path, tmp_path: Path) -> None:
    """As of 2027-08-15: Q1, Q2 closed; Q3 (Jul 1 – Sep 30, 92 days) has 46 days elapsed = 0.5.

    Elapsed share of the year = 0.25 + 0.25 + 0.5 × 0.25 = 0.625. A B row for Q4 is ignored.
    A: quota to date 30 + 60 + 0.5 × 90 = 135; actuals 36 + 66 + 60 = 162 → attainment 1.2,
       pacing +27, run-rate 162/0.625 = 259.2 (0.864), seasonal share 135/300 = 0.45 → forecast
       360, forecast attainment 1.2, not at risk.
    B: quota to date 20 + 40 + 30 = 90; actuals 10 + 32 + 30 = 72 → attainment 0.8, pacing −18,
       run-rate 115.2 (0.576), share 0.45 → forecast 160, forecast attainment 0.8 → at risk, gap
       40. Team: 225 to date, 234 actual → attainment 1.04, forecast 234/0.45 = 520 (1.04).
    With threshold 0.75, B is no longer at risk.
    """
    rows = [
        ("A", "P", "Q1", 36),
        ("A", "P", "Q2", 66),
        ("A", "P", "Q3", 60),
        ("B", "P", "Q1", 10),
        ("B", "P", "Q2", 32),
        ("B", "P", "Q3", 30),
        ("B", "P", "Q4", 5),
    ]
    act = _actuals(tmp_path / "a.csv", rows)
    res = track(tiny_run, act, as_of=dt.date(2027, 8, 15))
    assert res.elapsed_share == pytest.approx(0.625)
    assert [p.status for p in res.periods] == ["closed", "closed", "current", "future"]
    assert res.periods[2].elapsed == pytest.approx(0.5)
    assert any("Q4" in w and "ignored" in w for w in res.warnings)

    a = _row(res, "A")
    assert a["quota_to_date"] == pytest.approx(135)
    assert a["actual_to_date"] == pytest.approx(162)
    assert a["attainment"] == pytest.approx(1.2)
    assert a["pacing"] == pytest.approx(27)
    assert a["forecast_run_rate"] == pytest.approx(259.2)
    assert a["forecast_run_rate_attainment"] == pytest.approx(0.864)
    assert a["forecast_seasonal"] == pytest.approx(360)
    assert a["forecast_attainment"] == pytest.approx(1.2)
    assert not a["at_risk"]

    b = _row(res, "B")
    assert b["quota_to_date"] == pytest.approx(90)
    assert b["actual_to_date"] == pytest.approx(72)
    assert b["attainment"] == pytest.approx(0.8)
    assert b["pacing"] == pytest.approx(-18)
    assert b["forecast_run_rate"] == pytest.approx(115.2)
    assert b["forecast_run_rate_attainment"] == pytest.approx(0.576)
    assert b["forecast_seasonal"] == pytest.approx(160)
    assert b["forecast_attainment"] == pytest.approx(0.8)
    assert b["gap"] == pytest.approx(40)
    assert b["at_risk"]

    t = _unit(res, "team", "T1")
    assert t["quota_to_date"] == pytest.approx(225)
    assert t["attainment"] == pytest.approx(1.04)
    assert t["forecast_seasonal"] == pytest.approx(520)
    assert res.summary["current_period"] == {"period": "Q3", "elapsed": 0.5}

    lenient = track(tiny_run, act, as_of=dt.date(2027, 8, 15), at_risk=0.75)
    assert not _row(lenient, "B")["at_risk"]
    assert lenient.at_risk.empty


def test_write_track_files_and_no_overwrite(tiny_run: Path, tmp_path: Path) -> None:
    act = _actuals(tmp_path / "a.csv", [("A", "P", "Q1", 36), ("B", "P", "Q1", 10)])
    res = track(tiny_run, act)
    out = write_track(res, tmp_path / "trk")
    names = {"attainment_reps.csv", "attainment_units.csv", "at_risk.csv", "summary.json"}
    assert names <= {p.name for p in out.iterdir()}
    reps = pd.read_csv(out / "attainment_reps.csv", dtype={"rep_id": str})
    assert set(reps["product"]) == {"P", ALL}
    assert json.loads((out / "summary.json").read_text())["as_of"] == "2027-03-31"
    runner = CliRunner()
    again = runner.invoke(main, ["track", str(tiny_run), "--actuals", str(act), "--out", str(out)])
    assert again.exit_code == 3, again.output
    forced = runner.invoke(
        main, ["track", str(tiny_run), "--actuals", str(act), "--out", str(out), "--force"]
    )
    assert forced.exit_code == 0, forced.output


def test_unknown_reps_products_periods_are_located(tiny_run: Path, tmp_path: Path) -> None:
    rows = [("A", "P", "Q1", 1), ("Z", "P", "Q1", 1), ("B", "X", "Q1", 1), ("B", "P", "Q9", 1)]
    act = _actuals(tmp_path / "a.csv", rows)
    with pytest.raises(InputError) as exc:
        track(tiny_run, act)
    where = {(p.where, p.field) for p in exc.value.problems}
    assert where == {("row 3", "rep_id"), ("row 4", "product"), ("row 5", "period")}
    result = CliRunner().invoke(main, ["track", str(tiny_run), "--actuals", str(act)])
    assert result.exit_code == 2, result.output
    assert "row 3" in result.stderr and "unknown rep" in result.stderr


def test_bad_actuals_table_and_bad_as_of(tiny_run: Path, tmp_path: Path) -> None:
    act = _actuals(tmp_path / "a.csv", [("A", "P", "Q1", "lots")])
    result = CliRunner().invoke(main, ["track", str(tiny_run), "--actuals", str(act)])
    assert result.exit_code == 2, result.output
    assert "row 2" in result.stderr and "amount" in result.stderr
    good = _actuals(tmp_path / "b.csv", [("A", "P", "Q1", 1)])
    early = CliRunner().invoke(
        main, ["track", str(tiny_run), "--actuals", str(good), "--as-of", "2026-12-31"]
    )
    assert early.exit_code == 2, early.output
    assert "before the fiscal year" in early.stderr


def test_example_track_cli(tmp_path: Path) -> None:
    res = run(EXAMPLE, out=tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(main, ["track", str(res.run_dir), "--actuals", str(EXAMPLE_ACTUALS)])
    assert result.exit_code == 0, result.output
    out = res.run_dir.with_name(f"{res.run_dir.name}-track-2027-03-31")  # beside, not inside
    for name in ("attainment_reps.csv", "attainment_units.csv", "at_risk.csv", "summary.json"):
        assert (out / name).is_file(), name
    assert "at-risk reps" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["closed_periods"] == ["Q1"]
    assert summary["distribution"]["count"] > 0
    # reps who start after Q1 have no quota to date: never at risk, neutral factor
    reps = pd.read_csv(out / "attainment_reps.csv", dtype={"rep_id": str})
    idle = reps[(reps["product"] == ALL) & (reps["quota_to_date"] == 0)]
    assert len(idle) == summary["reps_not_measurable"]
    assert (~idle["at_risk"]).all() and (idle["performance_factor"] == 1.0).all()
    as_json = runner.invoke(
        main,
        [
            "track",
            str(res.run_dir),
            "--actuals",
            str(EXAMPLE_ACTUALS),
            "--json",
            "--out",
            str(tmp_path / "t2"),
        ],
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["as_of"] == "2027-03-31"
