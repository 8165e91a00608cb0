"""Payout from the sweep: the plan stress's Monte Carlo draws priced by the incentive plan
(hand-computed: threshold, slope, accelerator), `allocopt payout RUN --sweep DIR` reusing those
draws, and the payout-vs-cushion curve of a grid over ``targets.over_assignment``.

Tiny plan of tests/test_sweep.py: reps A, B (team T1, NORTH) and C, D (team T2, SOUTH), one
product, potential 600/400/500/500, target 1000. Target incentive 1,000 a rep; threshold 0.5,
rate 1 to 100%, 2 to 150%, cap 150%.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import payout_run
from allocopt.results.payout import multiplier
from allocopt.scenario.schema import IncentivePlan
from tests.test_sweep import _ok, _plan, _sweep

PLAN: dict[str, Any] = {
    "target_incentive": 1000,
    "threshold": 0.5,
    "bands": [{"start": 0, "end": 1, "rate": 1}, {"start": 1, "end": 1.5, "rate": 2}],
    "cap": 1.5,
}


def _incentives(**extra: Any) -> dict[str, Any]:
    return {"roles": {"rep": PLAN}, **extra}


def _fixed(mean: float) -> dict[str, Any]:
    """Every territory's potential × ``mean`` in every draw (sd 0): a hand-computable draw."""
    return {"shocks": [{"on": "potential", "distribution": "normal", "mean": mean, "sd": 0.0}]}


def _solve(sc: Path, out: Path) -> Path:
    _ok(CliRunner().invoke(main, ["solve", str(sc), "--out", str(out), "--quiet"]))
    return out


# The plan's quotas (cushion 25%): A 375, B 262.5, C 312.5, D 300 (D's capacity); the draws'
# sales are the target split by potential × the factor: A 300·f, B 200·f, C 250·f, D 250·f.
@pytest.mark.parametrize(
    ("factor", "pay", "at_quota"),
    [
        # accelerator: A, C 1.2 → 1 + 2·0.2 = 1.4; B 300/262.5 = 1.142857 → 1.285714; D 1.25 → 1.5
        (1.5, {"A": 1400.0, "B": 1285.71, "C": 1400.0, "D": 1500.0}, 1.0),
        # cap: A 1.6, B 1.52, C 1.6, D 1.67 all capped at 1.5 → 1 + 2·0.5 = 2
        (2.0, {"A": 2000.0, "B": 2000.0, "C": 2000.0, "D": 2000.0}, 1.0),
        # slope: A, C 0.8; B 200/262.5 = 0.761905; D 250/300 = 0.833333
        (1.0, {"A": 800.0, "B": 761.90, "C": 800.0, "D": 833.33}, 0.0),
        # threshold: all below 0.5 (A 0.4, B 0.38, C 0.4, D 0.42) → nothing
        (0.5, {"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.0}, 0.0),
    ],
)
def test_stress_payout_by_hand(
    tmp_path: Path, factor: float, pay: dict[str, float], at_quota: float
) -> None:
    """No spread in the draws (sd 0): each rep's payout is TI 1,000 × M(a) in every draw, the
    units add up (p10 = p50 = p90), and the budget 3,000 is exceeded iff the total is above."""
    targets = {"by_product": {"P": 1000}, "over_assignment": 0.25}
    base = _plan(tmp_path / "plan", targets=targets, incentives=_incentives(budget=3000))
    run_dir = _solve(base, tmp_path / "run")
    sc = _plan(tmp_path / "stress", targets=targets, uncertainty=_fixed(factor))
    out = tmp_path / "sweep"
    _ok(_sweep(str(sc), "--draws", "4", "--plan", str(run_dir), "--out", str(out)))
    reps = pd.read_csv(out / "payout_reps.csv").set_index("rep_id")
    assert reps["expected_payout"].to_dict() == pytest.approx(pay, abs=0.01)
    total = sum(pay.values())
    units = pd.read_csv(out / "payout_units.csv", keep_default_na=False)
    by = {(r.level, r.unit_id): r for r in units.itertuples(index=False)}
    co = by[("company", "CO")]
    for v in (co.expected_payout, co.payout_p10, co.payout_p50, co.payout_p90):
        assert v == pytest.approx(total, abs=0.02)
    assert by[("team", "T1")].expected_payout == pytest.approx(pay["A"] + pay["B"], abs=0.01)
    assert by[("region", "SOUTH")].expected_payout == pytest.approx(pay["C"] + pay["D"], abs=0.01)
    assert co.share_at_or_above_quota == at_quota
    s = json.loads((out / "manifest.json").read_text())["summary"]["payout"]
    assert s["expected_payout"] == pytest.approx(total, abs=0.02)
    assert s["p_over_budget"] == (1.0 if total > 3000 else 0.0)
    assert s["expected_share_at_or_above_quota"] == at_quota
    sweep = pd.read_csv(out / "sweep.csv")
    assert list(sweep["company_payout"]) == pytest.approx([total] * 4, abs=0.02)
    assert "Variable pay over the same draws" in (out / "report.html").read_text()


def test_stress_payout_is_the_draws_priced_and_payout_reuses_them(tmp_path: Path) -> None:
    """Random shocks: each rep's expected payout is the mean over the sweep's own sales draws
    (sales_draws.parquet) of TI × M(sales ÷ quota), recomputed here; `allocopt payout RUN
    --sweep DIR` gives the same numbers, the terminal shows them, and --sweep with --actuals or
    a folder that is not a plan stress is exit 2."""
    targets = {"by_product": {"P": 1000}, "over_assignment": 0.05}
    sc = _plan(tmp_path / "plan", targets=targets, incentives=_incentives(budget=4000))
    run_dir = _solve(sc, tmp_path / "run")
    out = tmp_path / "sweep"
    r = CliRunner().invoke(
        main, ["sweep", str(sc), "--draws", "300", "--seed", "3", "--plan", str(run_dir),
               "--out", str(out)],
    )  # fmt: skip
    _ok(r)
    assert "expected variable pay" in r.output and "P(payout > budget)" in r.output
    draws = pd.read_parquet(out / "sales_draws.parquet")
    assert len(draws) == 300 * 4
    quota = pd.read_csv(run_dir / "annual.csv").groupby("rep_id")["quota"].sum()
    att = draws["sales"].to_numpy() / draws["rep_id"].map(quota).to_numpy()
    m = multiplier(IncentivePlan.model_validate(PLAN), att)
    want = (draws.assign(pay=1000 * m).groupby("rep_id")["pay"].mean()).to_dict()
    reps = pd.read_csv(out / "payout_reps.csv").set_index("rep_id")
    assert reps["expected_payout"].to_dict() == pytest.approx(want, abs=0.01)
    assert 0 < reps["p_at_or_above_quota"].min() < reps["p_at_or_above_quota"].max() < 1
    s = json.loads((out / "manifest.json").read_text())["summary"]["payout"]
    company = draws.assign(pay=1000 * m).groupby("draw")["pay"].sum()
    assert s["p_over_budget"] == pytest.approx(float((company > 4000).mean()), abs=1e-6)
    assert s["payout_p90"] == pytest.approx(float(np.percentile(company, 90)), abs=0.01)

    res = payout_run(run_dir, sweep_dir=out)
    assert res.summary["source"] == "sweep draws" and res.summary["draws"] == 300
    got = res.reps.set_index("rep_id")["expected_payout"].round(2).to_dict()
    assert got == reps["expected_payout"].to_dict()
    assert res.summary["p_over_budget"] == s["p_over_budget"]

    folder = tmp_path / "pay"
    r = CliRunner().invoke(
        main, ["payout", str(run_dir), "--sweep", str(out), "--out", str(folder)]
    )
    _ok(r)
    assert "300 draws of the sweep" in r.output
    assert (
        pd.read_csv(folder / "payout_reps.csv").set_index("rep_id")["expected_payout"].to_dict()
        == reps["expected_payout"].to_dict()
    )
    acts = tmp_path / "acts.csv"
    acts.write_text("rep_id,product,period,amount\nA,P,Q1,10\n", encoding="utf-8")
    r = CliRunner().invoke(
        main, ["payout", str(run_dir), "--sweep", str(out), "--actuals", str(acts)]
    )
    assert r.exit_code == 2 and "not both" in r.output
    r = CliRunner().invoke(main, ["payout", str(run_dir), "--sweep", str(run_dir)])
    assert r.exit_code == 2 and "not a plan stress sweep" in r.output


def test_payout_against_the_cushion(tmp_path: Path) -> None:
    """A grid over targets.over_assignment with incentives (spread 0: no noise): expected sales
    stay at the target split (A 300, B 200, C 250, D 250) while quotas grow with the cushion:
    c = 0 → quotas = sales, attainment 1.0 → 1,000 each, all at quota; c = 0.25 → quotas A 375,
    B 262.5, C 312.5, D 300 (capacity) → 800 + 761.90 + 800 + 833.33 = 3,195.24 (the plan stress
    case with factor 1 above), none at quota. The report draws the curve."""
    sc = _plan(tmp_path / "plan", incentives=_incentives(spread=0.0, budget=3500))
    out = tmp_path / "grid"
    _ok(
        _sweep(
            str(sc), "--grid", "targets.over_assignment=0,0.25", "--workers", "1",
            "--out", str(out),
        )
    )  # fmt: skip
    sweep = pd.read_csv(out / "sweep.csv").set_index("targets.over_assignment")
    assert sweep.loc[0.0, "payout_expected"] == 4000.0
    assert sweep.loc[0.25, "payout_expected"] == pytest.approx(3195.24, abs=0.01)
    assert sweep.loc[0.0, "payout_share_at_quota"] == 1.0
    assert sweep.loc[0.25, "payout_share_at_quota"] == 0.0
    assert sweep.loc[0.0, "payout_p_over_budget"] == 1.0
    assert sweep.loc[0.25, "payout_p_over_budget"] == 0.0
    assert sweep.loc[0.0, "payout_cost_of_sales"] == pytest.approx(4.0)  # 4,000 on 1,000 sold
    html = (out / "report.html").read_text()
    assert "Variable pay against targets.over_assignment" in html


def test_draws_not_kept_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the size limit the sweep still prices its draws but does not keep them; `payout
    --sweep` then says so (exit 2) instead of reporting a missing file."""
    from allocopt.sweep import summarise

    monkeypatch.setattr(summarise, "SALES_DRAWS_MAX", 10)
    sc = _plan(tmp_path / "plan", incentives=_incentives())
    run_dir = _solve(sc, tmp_path / "run")
    out = tmp_path / "sweep"
    _ok(_sweep(str(sc), "--draws", "5", "--plan", str(run_dir), "--out", str(out)))
    assert (out / "payout_units.csv").is_file() and not (out / "sales_draws.parquet").exists()
    r = CliRunner().invoke(main, ["payout", str(run_dir), "--sweep", str(out)])
    assert r.exit_code == 2 and "did not keep its draws" in r.output
