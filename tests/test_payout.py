"""Incentive payout: hand-computed payouts on a tiny plan (threshold, slope, accelerator, cap),
commission plans and per-rep terms, the Monte Carlo spread, determinism, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import payout_run, write_payout
from allocopt.errors import InputError
from allocopt.pipeline import run
from allocopt.results.payout import multiplier
from allocopt.scenario.schema import IncentivePlan
from tests.plans import BASE_TABLES, write_plan

TI_PLAN: dict[str, Any] = {
    "target_incentive": 1000,
    "threshold": 0.5,
    "bands": [{"start": 0, "end": 1, "rate": 1}, {"start": 1, "end": 1.5, "rate": 2}],
    "cap": 1.5,
}


def _rep(rep_id: str, role: str = "rep") -> dict[str, Any]:
    return {**BASE_TABLES["reps"][0], "rep_id": rep_id, "role": role}


def four_rep_plan(root: Path, incentives: dict[str, Any], **tables: Any) -> Path:
    """Reps A, B, C, D with potential 200, 200, 100, 100 and a target of 600 → quotas equal the
    potential (the reference split is purely potential-based and nothing binds)."""
    pot = {"A": 200, "B": 200, "C": 100, "D": 100}
    base = {
        "reps": [_rep(r) for r in pot],
        "potential": [{"rep_id": r, "product": "P", "potential": v} for r, v in pot.items()],
        **tables,
    }
    extra: dict[str, Any] = {"targets": {"by_product": {"P": 600}}, "incentives": incentives}
    if "incentive_reps" in tables:
        extra["data"] = {"incentive_reps": "data/incentive_reps.csv"}
    return write_plan(root, tables=base, extra=extra)


def _actuals(path: Path, year: dict[str, float], quarters: int = 4) -> Path:
    lines = ["rep_id,product,period,amount"]
    for rep, total in year.items():
        for q in range(1, quarters + 1):
            lines.append(f"{rep},P,Q{q},{total / 4:g}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_multiplier_by_hand() -> None:
    """threshold 0.5, slope 1 to 100%, accelerator 2 to 150%, cap 150%."""
    plan = IncentivePlan.model_validate(TI_PLAN)
    a = np.array([0.0, 0.49, 0.5, 0.75, 1.0, 1.2, 1.5, 2.0, np.nan])
    want = [0.0, 0.0, 0.5, 0.75, 1.0, 1.4, 2.0, 2.0, 0.0]
    assert multiplier(plan, a) == pytest.approx(want)


def test_full_year_payout_by_hand(tmp_path: Path) -> None:
    """Quotas 200, 200, 100, 100; full-year sales 80, 150, 120, 200:

    A 0.4 < threshold → 0;  B 0.75 (slope) → 750;  C 1.2 → 1 + 2 × 0.2 = 1.4 → 1,400;
    D 2.0 capped at 1.5 → 1 + 2 × 0.5 = 2 → 2,000.  Company 4,150 on revenue 550 → cost of
    sales 7.545…; 2 of 4 reps at or above quota; budget 4,000 → exceeded for sure. The whole
    year is booked, so there is no uncertainty left (p10 = p90).
    """
    sc = four_rep_plan(tmp_path / "plan", {"roles": {"rep": TI_PLAN}, "budget": 4000})
    res = run(sc, out=tmp_path / "run")
    acts = _actuals(tmp_path / "fy.csv", {"A": 80, "B": 150, "C": 120, "D": 200})
    p = payout_run(res.run_dir, acts, draws=50, seed=3)
    got = dict(zip(p.reps["rep_id"], p.reps["expected_payout"], strict=True))
    assert got == pytest.approx({"A": 0, "B": 750, "C": 1400, "D": 2000})
    att = dict(zip(p.reps["rep_id"], p.reps["expected_attainment"], strict=True))
    assert att == pytest.approx({"A": 0.4, "B": 0.75, "C": 1.2, "D": 2.0})
    s = p.summary
    assert s["expected_payout"] == pytest.approx(4150)
    assert s["payout_p10"] == pytest.approx(4150) and s["payout_p90"] == pytest.approx(4150)
    assert s["expected_revenue"] == pytest.approx(550)
    assert s["cost_of_sales"] == pytest.approx(4150 / 550, rel=1e-6)
    assert s["expected_share_at_or_above_quota"] == pytest.approx(0.5)
    assert s["p_over_budget"] == 1.0
    team = p.units[(p.units["level"] == "team") & (p.units["unit_id"] == "T1")].iloc[0]
    assert team["expected_payout"] == pytest.approx(4150)
    assert team["share_at_or_above_quota"] == pytest.approx(0.5)
    assert s["by_region"] == {"NORTH": pytest.approx(4150)}


def test_commission_and_per_rep_terms_without_actuals(tmp_path: Path) -> None:
    """Commission 10% of sales for role rep; rep B's own rate 20%; D is a senior with a target
    incentive of 500 from the per-rep table. Without actuals and spread 0, sales = quota:
    A 0.1 × 200 = 20, B 0.2 × 200 = 40, C 0.1 × 100 = 10, D 500 × M(1) = 500."""
    inc = {
        "roles": {
            "rep": {"commission_rate": 0.1},
            "senior": {"target_incentive": 900, "threshold": 0.5},
        },
        "spread": 0.0,
    }
    reps = [_rep("A"), _rep("B"), _rep("C"), _rep("D", "senior")]
    rows = [
        {"rep_id": "B", "target_incentive": "", "commission_rate": 0.2},
        {"rep_id": "D", "target_incentive": 500, "commission_rate": ""},
    ]
    sc = four_rep_plan(tmp_path / "plan", inc, reps=reps, incentive_reps=rows)
    res = run(sc, out=tmp_path / "run")
    p = payout_run(res.run_dir, draws=10)
    got = dict(zip(p.reps["rep_id"], p.reps["expected_payout"], strict=True))
    assert got == pytest.approx({"A": 20, "B": 40, "C": 10, "D": 500})
    assert list(p.reps["pay_basis"]) == ["commission"] * 3 + ["target_incentive"]
    assert p.summary["by_role"] == {"rep": pytest.approx(70), "senior": pytest.approx(500)}
    assert p.summary["expected_share_at_or_above_quota"] == pytest.approx(1.0)


def test_monte_carlo_is_unbiased_and_deterministic(tmp_path: Path) -> None:
    """A linear uncapped commission pays rate × expected sales on average (the multiplier has mean
    one); the same seed gives the same numbers, another seed different ones; with a threshold
    at 100% about half the reps (lognormal median just below the mean) make quota."""
    inc = {"roles": {"rep": {"commission_rate": 0.1}}, "spread": 0.3, "correlation": 0.0}
    sc = four_rep_plan(tmp_path / "plan", inc)
    res = run(sc, out=tmp_path / "run")
    a = payout_run(res.run_dir, draws=20000, seed=1)
    assert a.summary["expected_payout"] == pytest.approx(60, rel=0.01)
    assert a.summary["payout_p10"] < 60 < a.summary["payout_p90"]
    # P(m ≥ 1) = P(Z ≥ σ/2) = 1 − Φ(0.15) = 0.4404
    assert a.summary["expected_share_at_or_above_quota"] == pytest.approx(0.4404, abs=0.01)
    b = payout_run(res.run_dir, draws=20000, seed=1)
    assert np.array_equal(a.totals, b.totals)
    c = payout_run(res.run_dir, draws=20000, seed=2)
    assert not np.array_equal(a.totals, c.totals)


def test_mid_year_actuals_use_the_tracking_forecast(tmp_path: Path) -> None:
    """Q1 and Q2 booked (half the year): A has sold 120 of 100 to date (attainment 1.2), so its
    seasonal forecast is 240 and its expected remaining sales 120; with spread 0 its payout is
    TI × M(1.2) = 1,400. B: 50 of 100 → forecast 100 → M(0.5) = 0.5 → 500; C and D on pace."""
    inc = {"roles": {"rep": TI_PLAN}, "spread": 0.5}
    sc = four_rep_plan(tmp_path / "plan", inc)
    res = run(sc, out=tmp_path / "run")
    acts = tmp_path / "h1.csv"
    acts.write_text(
        "rep_id,product,period,amount\nA,P,Q1,60\nA,P,Q2,60\nB,P,Q1,25\nB,P,Q2,25\n"
        "C,P,Q1,25\nC,P,Q2,25\nD,P,Q1,25\nD,P,Q2,25\n",
        encoding="utf-8",
    )
    p = payout_run(res.run_dir, acts, draws=4000, seed=0)
    a = p.reps.set_index("rep_id")
    assert a.loc["A", "actual_to_date"] == pytest.approx(120)
    assert a.loc["A", "expected_remaining"] == pytest.approx(120)
    assert a.loc["B", "expected_remaining"] == pytest.approx(50)
    assert p.summary["elapsed_share"] == pytest.approx(0.5)
    assert p.summary["spread_remaining"] == pytest.approx(0.5 * np.sqrt(0.5), abs=1e-6)
    inc0 = {"roles": {"rep": TI_PLAN}, "spread": 0.0}
    sc0 = four_rep_plan(tmp_path / "plan0", inc0)
    res0 = run(sc0, out=tmp_path / "run0")
    p0 = payout_run(res0.run_dir, acts, draws=5)
    got = dict(zip(p0.reps["rep_id"], p0.reps["expected_payout"], strict=True))
    assert got == pytest.approx({"A": 1400, "B": 500, "C": 1000, "D": 1000})


def test_run_without_incentives_is_exit_2(tmp_path: Path) -> None:
    res = run(write_plan(tmp_path / "plan"), out=tmp_path / "run")
    with pytest.raises(InputError) as info:
        payout_run(res.run_dir)
    assert "no incentives section" in info.value.render()


def test_cli_payout_writes_a_folder(tmp_path: Path) -> None:
    sc = four_rep_plan(tmp_path / "plan", {"roles": {"rep": TI_PLAN}, "budget": 4000})
    res = run(sc, out=tmp_path / "run")
    acts = _actuals(tmp_path / "fy.csv", {"A": 80, "B": 150, "C": 120, "D": 200})
    out = tmp_path / "pay"
    r = CliRunner().invoke(
        main,
        ["payout", str(res.run_dir), "--actuals", str(acts), "--draws", "20", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    assert "4,150" in r.stdout
    assert {p.name for p in out.iterdir()} == {
        "payout_reps.csv",
        "payout_units.csv",
        "summary.json",
    }
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["expected_payout"] == pytest.approx(4150)
    again = CliRunner().invoke(main, ["payout", str(res.run_dir), "--out", str(out)])
    assert again.exit_code == 3
    write_payout(payout_run(res.run_dir, draws=5), tmp_path / "other")


def test_report_and_explain_show_the_expected_payout(tmp_path: Path) -> None:
    """Without actuals and spread 0, sales = quota: every rep earns TI × M(1) = 1,000."""
    inc = {"roles": {"rep": TI_PLAN}, "spread": 0.0, "budget": 3500}
    sc = four_rep_plan(tmp_path / "plan", inc)
    res = run(sc, out=tmp_path / "run")
    html = (res.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Expected variable pay (incentive plans)" in html
    assert "4,000" in html and "chance of exceeding the budget 3,500" in html
    r = CliRunner().invoke(main, ["explain", str(res.run_dir), "--no-resolve"])
    assert r.exit_code == 0, r.output
    assert "expected variable pay 4,000" in r.stdout
    assert "P(payout > budget 3,500) = 100%" in r.stdout
    plain = run(write_plan(tmp_path / "plain"), out=tmp_path / "plain-run")
    assert "Expected variable pay" not in (plain.run_dir / "report.html").read_text("utf-8")


def test_payout_of_in_memory_with_given_draws() -> None:
    """The in-memory entry, no run folder: reps A (quota 100) and B (quota 200), two draws of
    given sales — A 120 / 40, B 200 / 300 — under TI_PLAN (TI 1,000). A: 1.2 → 1,400 and 0.4 →
    0 (threshold); B: 1.0 → 1,000 and 1.5 → 2,000 (cap). Expected A 700, B 1,500; company 2,400
    and 2,000 per draw → 2,200; budget 1,500 exceeded in both draws; reps at quota 2/2 and 1/2
    → 0.75. The reps frame's order does not matter (sorted by rep_id)."""
    from allocopt.results.payout import SalesDraws, payout_of
    from allocopt.scenario.schema import Scenario

    sc = Scenario.model_validate(
        {
            "name": "mem",
            "plan": {"fiscal_year_start": dt.date(2027, 1, 1)},
            "data": {
                "org_units": "o.csv",
                "reps": "r.csv",
                "potential": "p.csv",
                "accounts": "a.csv",
                "seasonality": "s.csv",
            },
            "products": ["P"],
            "targets": {"by_product": {"P": 300}},
            "incentives": {"roles": {"rep": TI_PLAN}, "budget": 1500},
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": ["B", "A"],
            "team_id": ["T", "T"],
            "region_id": ["N", "N"],
            "role": ["rep", "rep"],
            "fte": [1.0, 1.0],
        }
    )
    annual = pd.DataFrame({"rep_id": ["A", "B"], "product": ["P", "P"], "quota": [100.0, 200.0]})
    sales = np.array([[[120.0], [200.0]], [[40.0], [300.0]]])  # (draw, rep A/B, product)
    res = payout_of(sc, reps, annual, sales=SalesDraws(sales, ("A", "B"), ("P",)))
    got = dict(zip(res.reps["rep_id"], res.reps["expected_payout"], strict=True))
    assert got == pytest.approx({"A": 700.0, "B": 1500.0})
    assert list(res.totals) == pytest.approx([2400.0, 2000.0])
    s = res.summary
    assert s["expected_payout"] == 2200.0 and s["p_over_budget"] == 1.0
    assert s["expected_share_at_or_above_quota"] == 0.75 and s["source"] == "sweep draws"
