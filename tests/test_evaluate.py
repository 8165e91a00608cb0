"""Year-end evaluation: a hand-made 4-rep case (categories, factors, accuracy, payout), the
generator's full-year actuals, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import evaluate_run, write_evaluation
from allocopt.examples.generate import generate_plan
from allocopt.pipeline import run
from allocopt.results.evaluate import spearman
from tests.plans import BASE_TABLES, write_plan
from tests.test_payout import TI_PLAN, _actuals


def _rep(rep_id: str, history: float) -> dict[str, Any]:
    return {**BASE_TABLES["reps"][0], "rep_id": rep_id, "ly_actual": history}


def history_plan(root: Path) -> Path:
    """Team T1: A, B, C, D with potential 200, 200, 100, 100 and last year 300, 100, 100, 100;
    target 600 split purely by history → quotas 300, 100, 100, 100, difficulty (quota ÷
    potential) 1.5, 0.5, 1.0, 1.0."""
    pot = {"A": 200, "B": 200, "C": 100, "D": 100}
    hist = {"A": 300, "B": 100, "C": 100, "D": 100}
    return write_plan(
        root,
        tables={
            "reps": [_rep(r, h) for r, h in hist.items()],
            "potential": [{"rep_id": r, "product": "P", "potential": v} for r, v in pot.items()],
        },
        extra={
            "targets": {"by_product": {"P": 600}},
            "rules": {"potential": {"max_share": 2.0}},
            "objective": {"reference": {"potential": 0.0, "history": 1.0}},
            "incentives": {"roles": {"rep": TI_PLAN}, "budget": 4000},
        },
    )


def test_four_reps_by_hand(tmp_path: Path) -> None:
    """Sales 210, 70, 100, 120 → attainment 0.7, 0.7, 1.0, 1.2; team 500 / 600 = 0.8333.
    High difficulty = ≥ the 0.75 quantile of (1.5, 0.5, 1, 1) = 1.125: only A.
    A: low and hard → set up to fail, factor max(0.7 / 0.8333 = 0.84, 1) = 1;
    B: low, normal difficulty → under-performer, factor 0.84; C 1.0 / 0.8333 = 1.2;
    D 1.2 / 0.8333 = 1.44. Accuracy: RMSE √((0.09 + 0.09 + 0 + 0.04) / 4) = 0.234521.
    Spearman of difficulty vs attainment: ranks (4, 1, 2.5, 2.5) and (1.5, 1.5, 3, 4) → 0.
    Payout: 1,000 × (0.7, 0.7, 1.0, 1.4) = 3,800, 200 under the budget of 4,000."""
    res = run(history_plan(tmp_path / "plan"), out=tmp_path / "run")
    quotas = res.results.reps.set_index("rep_id")["quota"]
    assert list(quotas) == pytest.approx([300, 100, 100, 100], abs=0.01)
    acts = _actuals(tmp_path / "fy.csv", {"A": 210, "B": 70, "C": 100, "D": 120})
    ev = evaluate_run(res.run_dir, acts)
    r = ev.reps.set_index("rep_id")
    assert list(r["attainment"]) == pytest.approx([0.7, 0.7, 1.0, 1.2])
    assert list(r["category"]) == [
        "set_up_to_fail",
        "under_performer",
        "at_or_above_quota",
        "at_or_above_quota",
    ]
    perf = ev.performance.set_index("rep_id")
    assert list(perf["factor"]) == pytest.approx([1.0, 0.84, 1.2, 1.44])
    assert list(perf["n_periods"]) == [4, 4, 4, 4]
    assert perf.loc["A", "reason"].startswith("set up to fail: attainment 70% vs team 83%")
    assert perf.loc["B", "reason"].startswith("under-performer")
    s = ev.summary
    assert s["company"]["attainment"] == pytest.approx(500 / 600, abs=1e-6)
    assert s["company"]["rmse_vs_100"] == pytest.approx(0.234521, abs=1e-6)
    assert s["company"]["share_at_or_above_100"] == pytest.approx(0.5)
    assert s["company"]["share_within_10pct"] == pytest.approx(0.25)
    assert s["difficulty_vs_attainment"]["spearman"] == pytest.approx(0.0, abs=1e-12)
    assert s["set_up_to_fail"] == ["A"] and s["under_performers"] == ["B"]
    assert s["payout"]["payout"] == pytest.approx(3800)
    assert s["payout"]["vs_budget"] == pytest.approx(-200) and s["payout"]["exact"]
    team = ev.teams.set_index("team_id").loc["T1"]
    assert team["rmse_vs_100"] == pytest.approx(0.234521, abs=1e-6)
    assert team["set_up_to_fail"] == 1 and team["under_performers"] == 1
    folder = write_evaluation(ev, tmp_path / "eval")
    table = pd.read_csv(folder / "performance.csv", dtype={"rep_id": str})
    assert list(table.columns) == ["rep_id", "factor", "reason", "n_periods"]


def test_spearman_by_hand() -> None:
    assert spearman(pd.Series([1, 2, 3]).to_numpy(float), pd.Series([3, 2, 1]).to_numpy(float)) == (
        pytest.approx(-1.0)
    )
    assert spearman(pd.Series([1.0, 2.0]).to_numpy(), pd.Series([1.0, 2.0]).to_numpy()) is None


def test_factors_feed_next_years_reference(tmp_path: Path) -> None:
    """performance.csv is a valid performance table: a next plan using it solves, and the reps
    that beat their team get a larger reference than without it."""
    res = run(history_plan(tmp_path / "plan"), out=tmp_path / "run")
    acts = _actuals(tmp_path / "fy.csv", {"A": 210, "B": 70, "C": 100, "D": 120})
    folder = write_evaluation(evaluate_run(res.run_dir, acts), tmp_path / "eval")
    plan = tmp_path / "plan"
    (plan / "data" / "performance.csv").write_bytes((folder / "performance.csv").read_bytes())
    text = (plan / "scenario.yaml").read_text(encoding="utf-8")
    text = text.replace("history: 1.0", "history: 1.0\n    performance: 1.0")
    text = text.replace(
        "  seasonality: data/seasonality.csv",
        "  seasonality: data/seasonality.csv\n  performance: data/performance.csv",
    )
    (plan / "next.yaml").write_text(text, encoding="utf-8")
    nxt = run(plan / "next.yaml", out=tmp_path / "next")
    before = res.results.annual.set_index("rep_id")["reference"]
    after = nxt.results.annual.set_index("rep_id")["reference"]
    assert after["D"] > before["D"] and after["B"] < before["B"]
    assert after.sum() == pytest.approx(before.sum(), abs=0.05)


def test_generator_full_year_actuals(tmp_path: Path) -> None:
    """The extra file leaves the plan's files unchanged, repeats Q1 exactly and covers the year."""
    a = generate_plan(tmp_path / "a", reps=30, regions=2, reps_per_team=10)
    b = generate_plan(tmp_path / "b", reps=30, regions=2, reps_per_team=10, full_year_actuals=True)
    for f in sorted((a.parent / "data").glob("*.csv")):
        assert f.read_bytes() == (b.parent / "data" / f.name).read_bytes(), f.name
    year = pd.read_csv(b.parent / "data" / "actuals-full-year.csv", dtype=str)
    q1 = pd.read_csv(a.parent / "data" / "actuals.csv", dtype=str)
    got = year[year["period"] == "Q1"].reset_index(drop=True)
    assert got.equals(q1)
    assert set(year["period"]) == {"Q1", "Q2", "Q3", "Q4"}
    again = generate_plan(
        tmp_path / "c", reps=30, regions=2, reps_per_team=10, full_year_actuals=True
    )
    assert (again.parent / "data" / "actuals-full-year.csv").read_bytes() == (
        b.parent / "data" / "actuals-full-year.csv"
    ).read_bytes()


def test_cli_evaluate_and_report_section(tmp_path: Path) -> None:
    res = run(history_plan(tmp_path / "plan"), out=tmp_path / "run")
    acts = _actuals(tmp_path / "fy.csv", {"A": 210, "B": 70, "C": 100, "D": 120})
    out = tmp_path / "eval"
    r = CliRunner().invoke(
        main, ["evaluate", str(res.run_dir), "--actuals", str(acts), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "set up to fail: A" in r.stdout
    assert "variable pay 3,800 vs budget 4,000 (-200)" in r.stdout
    assert (out / "report.html").read_text("utf-8").count("Year-end evaluation") >= 2
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["categories"]["set_up_to_fail"] == 1
    html = tmp_path / "r.html"
    r = CliRunner().invoke(
        main, ["report", str(res.run_dir), "--evaluate", str(out), "--out", str(html)]
    )
    assert r.exit_code == 0, r.output
    assert "Year-end evaluation" in html.read_text("utf-8")
    bad = CliRunner().invoke(
        main, ["evaluate", str(res.run_dir), "--actuals", str(acts), "--low", "1.5"]
    )
    assert bad.exit_code == 2
