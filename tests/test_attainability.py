"""Rule attainability: hand-solved plans, the quantile, the band, infeasibility named, and the
property that raising p never raises a ceiling (nor the quota of a rep held at it)."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from allocopt.cli import main
from allocopt.errors import InfeasibleError
from allocopt.model.rules.attainability import quantile
from allocopt.pipeline import run, validate
from tests.conftest import Solve, annual
from tests.plans import BASE_TABLES, write_plan

Z40 = NormalDist().inv_cdf(0.4)  # -0.253347


def _rep(rep_id: str, actual: float, quota: float) -> dict[str, Any]:
    return {**BASE_TABLES["reps"][0], "rep_id": rep_id, "ly_actual": actual, "ly_quota": quota}


def _plan(root: Path, target: float, **rule: Any) -> Path:
    """A (potential 600, last year 250) and B (potential 400, last year 300); σ = 0.1."""
    return write_plan(
        root,
        tables={"reps": [_rep("A", 250, 250), _rep("B", 300, 300)]},
        extra={
            "targets": {"by_product": {"P": target}},
            "rules": {"attainability": {"enabled": True, "spread": 0.1, **rule}},
        },
    )


def test_quantile_is_the_lognormal_quantile() -> None:
    """P(S ≥ q) for S = m·exp(σZ) at the ceiling is exactly p."""
    q = quantile(np.array([1_000_000.0]), np.array([0.1]), 0.6)
    assert q[0] == pytest.approx(1_000_000 * math.exp(0.1 * Z40))
    assert q[0] == pytest.approx(974_983.52, abs=0.01)
    p_reach = 1 - NormalDist().cdf(math.log(q[0] / 1_000_000) / 0.1)
    assert p_reach == pytest.approx(0.6)


def test_ceiling_binds_by_hand(tmp_path: Path, solve: Solve) -> None:
    """Target 500 → reference A 300, B 200. A's ceiling 250·e^(0.1·Φ⁻¹(0.4)) = 243.746 binds;
    the other 256.254 goes to B (ceiling 292.495, potential 400)."""
    res = solve(_plan(tmp_path / "p", 500))
    q = annual(res)
    assert q[("A", "P")] == pytest.approx(250 * math.exp(0.1 * Z40), abs=0.01)
    assert q[("B", "P")] == pytest.approx(500 - 250 * math.exp(0.1 * Z40), abs=0.01)
    binding = res.results.binding
    assert "attainability_max" in set(binding["component"])
    r = CliRunner().invoke(main, ["explain", str(res.run_dir), "--rep", "A"])
    assert r.exit_code == 0, r.output
    assert "attainability" in r.stdout


def test_band_lifts_the_easy_rep(tmp_path: Path, solve: Solve) -> None:
    """max_p 0.7: floor = m·e^(0.1·Φ⁻¹(0.3)): A 237.23, B 284.67. Target 530 → reference A 318,
    B 212; A held at its ceiling 243.746, B gets 286.254 — above its floor, so both reps'
    chance of reaching quota is within [0.6, 0.7]."""
    res = solve(_plan(tmp_path / "p", 530, max_p=0.7))
    q = annual(res)
    a, b = q[("A", "P")], q[("B", "P")]
    assert a == pytest.approx(250 * math.exp(0.1 * Z40), abs=0.01)
    assert b == pytest.approx(530 - a, abs=0.01)
    for quota, m in ((a, 250), (b, 300)):
        chance = 1 - NormalDist().cdf(math.log(quota / m) / 0.1)
        assert 0.6 - 1e-3 <= chance <= 0.7 + 1e-3  # quotas are stored to the cent


def test_unattainable_target_is_named(tmp_path: Path) -> None:
    """p 0.95: ceilings 212.1 + 254.5 = 466.6 < 500 → infeasible, explained by the pre-check."""
    with pytest.raises(InfeasibleError) as info:
        run(_plan(tmp_path / "p", 500, p=0.95), out=tmp_path / "run")
    text = info.value.render()
    assert "with probability ≥ 0.95" in text and "rules.attainability.p" in text


def test_raising_p_never_raises_a_held_quota(tmp_path: Path, solve: Solve) -> None:
    """From p 0.6 to 0.8 A's ceiling falls 243.746 → 229.82 and so does its quota; B takes the
    rest (the target is fixed: a rep below its ceiling may rise)."""
    lo = annual(solve(_plan(tmp_path / "a", 500, p=0.6)))
    hi = annual(solve(_plan(tmp_path / "b", 500, p=0.8)))
    assert hi[("A", "P")] < lo[("A", "P")]
    assert hi[("A", "P")] == pytest.approx(
        250 * math.exp(0.1 * NormalDist().inv_cdf(0.2)), abs=0.01
    )


@settings(max_examples=60, deadline=None)
@given(
    m=st.floats(1.0, 1e8),
    sigma=st.floats(0.0, 1.0),
    p1=st.floats(0.01, 0.98),
    dp=st.floats(0.0, 0.5),
)
def test_raising_p_never_raises_a_ceiling(m: float, sigma: float, p1: float, dp: float) -> None:
    p2 = min(0.99, p1 + dp)
    c1 = quantile(np.array([m]), np.array([sigma]), p1)[0]
    c2 = quantile(np.array([m]), np.array([sigma]), p2)[0]
    assert c2 <= c1 * (1 + 1e-12)


def test_team_spread_from_last_years_attainment(tmp_path: Path) -> None:
    """Without a spread setting σ is the team's std (ddof 1) of log(actual ÷ quota):
    A log(1.1), B log(0.9) → σ = |log 1.1 − log 0.9| / √2."""
    path = write_plan(
        tmp_path / "p",
        tables={"reps": [_rep("A", 275, 250), _rep("B", 270, 300)]},
        extra={"rules": {"attainability": {"enabled": True}}},
    )
    md = validate(path).md
    want = abs(math.log(1.1) - math.log(0.9)) / math.sqrt(2)
    assert md.sales_sigma is not None and md.sales_median is not None
    assert list(md.sales_sigma) == pytest.approx([want, want])
    assert list(md.sales_median) == pytest.approx([275, 270])


def test_rep_spread_from_its_own_history_shrunk_toward_the_team(tmp_path: Path) -> None:
    """Team σ_T = |log 1.1 − log 0.9| / √2 = 0.141896 (last year, as above). A also has two
    earlier years (200 of 250 → log 0.8; 240 of 200 → log 1.2): its three log attainments
    −0.223144, 0.182322, 0.095310 have s_A = 0.213458 (ddof 1), ν = 2, and with the team's σ
    worth k = 4 years σ_A = √((2·s_A² + 4·σ_T²)/6) = 0.169148; k = 1 gives 0.192582. B has
    no earlier year (one year: no own spread) and keeps the team's σ; a row of an unknown rep is
    ignored."""
    hist = [
        {"rep_id": "A", "year": "2024", "quota": 250, "actual": 200},
        {"rep_id": "A", "year": "2025", "quota": 200, "actual": 240},
        {"rep_id": "Z", "year": "2025", "quota": 100, "actual": 300},
    ]
    team = abs(math.log(1.1) - math.log(0.9)) / math.sqrt(2)
    for k, want_a in ((None, 0.169148), (1.0, 0.192582)):
        rule: dict[str, Any] = {"enabled": True}
        if k is not None:
            rule["history_weight"] = k
        path = write_plan(
            tmp_path / f"p{k}",
            tables={
                "reps": [_rep("A", 275, 250), _rep("B", 270, 300)],
                "attainment_history": hist,
            },
            extra={"rules": {"attainability": rule}},
        )
        md = validate(path).md
        assert md.sales_sigma is not None
        assert list(md.sales_sigma) == pytest.approx([want_a, team], abs=1e-6)


def test_bad_history_table_is_located(tmp_path: Path) -> None:
    """A negative quota in the history table is exit 2 naming the file, row and column."""
    path = write_plan(
        tmp_path / "p",
        tables={
            "reps": [_rep("A", 275, 250), _rep("B", 270, 300)],
            "attainment_history": [{"rep_id": "A", "year": "2024", "quota": -5, "actual": 1}],
        },
        extra={"rules": {"attainability": {"enabled": True}}},
    )
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert "attainment_history" in r.output and "quota" in r.output


def test_verifier_catches_a_quota_above_the_ceiling(tmp_path: Path, solve: Solve) -> None:
    import pandas as pd

    from allocopt.compose import verify_run

    res = solve(_plan(tmp_path / "p", 500))
    assert verify_run(res.run_dir).checked["attainability"] == 2
    path = res.run_dir / "annual.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[df["rep_id"] == "A", "quota"] = "260.0"
    df.to_csv(path, index=False)
    v = verify_run(res.run_dir)
    rows = v.violations[v.violations["rule"] == "attainability"]
    assert list(rows["where"]) == ["rep A"]
    assert "probability 0.6" in rows["detail"].iloc[0]


def test_solver_infeasibility_names_the_rule(tmp_path: Path) -> None:
    """Fairness band 0 ties B to A's difficulty: q_B = 400/600 · q_A ≤ 162.5 with A's ceiling
    243.75, so at most 406 < 500 — only the solver sees it (each rep alone could carry its
    part); the IIS explanation names A's attainable quota and the setting to relax."""
    path = write_plan(
        tmp_path / "p",
        tables={"reps": [_rep("A", 250, 250), _rep("B", 300, 300)]},
        extra={
            "targets": {"by_product": {"P": 500}},
            "rules": {
                "attainability": {"enabled": True, "spread": 0.1},
                "fairness": {"enabled": True, "level": "team", "band": 0.0},
            },
        },
    )
    with pytest.raises(InfeasibleError) as info:
        run(path, out=tmp_path / "run")
    text = info.value.render()
    txt = (tmp_path / "run" / "infeasible.txt").read_text(encoding="utf-8")
    assert "(found by the solver)" in txt
    assert "rep A: quota at most 244 (reached with probability ≥ p)" in text
    assert "rules.attainability.p" in text


def test_expected_share_at_quota_is_reported(tmp_path: Path, solve: Solve) -> None:
    """Band 0.6–0.7 at target 530: A sits at its ceiling (chance 0.6), B at 286.254 of a median
    300: chance 1 − Φ(ln(286.254/300)/0.1) = 0.6827; the mean 0.6414 is the expected share of
    reps at quota, shown by explain."""
    res = solve(_plan(tmp_path / "p", 530, max_p=0.7))
    att = res.results.summary["attainability"]
    chance_b = 1 - NormalDist().cdf(math.log((530 - 250 * math.exp(0.1 * Z40)) / 300) / 0.1)
    assert att["reps_bounded"] == 2
    assert att["expected_share_at_quota"] == pytest.approx((0.6 + chance_b) / 2, abs=1e-4)
    r = CliRunner().invoke(main, ["explain", str(res.run_dir), "--no-resolve"])
    assert r.exit_code == 0, r.output
    assert "of the 2 bounded reps expected at quota" in r.stdout
    assert "rule band 60%–70%" in r.stdout


def test_floors_above_the_target_are_named(tmp_path: Path) -> None:
    """max_p 0.7 floors 237.23 + 284.67 = 521.9 > target 500: the pre-check names max_p."""
    with pytest.raises(InfeasibleError) as info:
        run(_plan(tmp_path / "p", 500, max_p=0.7), out=tmp_path / "run")
    assert "rules.attainability.max_p" in info.value.render()
    assert "probability ≤ 0.7" in info.value.render()


EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "example"


def test_generator_attainment_history_is_an_extra_file(tmp_path: Path) -> None:
    """The option adds data/attainment_history.csv and leaves every plan file unchanged; rows
    are earlier years (before last year) of reps with last year's history; the shipped file is
    the generator's."""
    from allocopt.examples.generate import generate_plan

    a = generate_plan(tmp_path / "a", reps=30, regions=2, reps_per_team=10)
    b = generate_plan(tmp_path / "b", reps=30, regions=2, reps_per_team=10, attainment_history=True)
    for f in sorted((a.parent / "data").glob("*.csv")):
        assert f.read_bytes() == (b.parent / "data" / f.name).read_bytes(), f.name
    hist = pd.read_csv(b.parent / "data" / "attainment_history.csv", dtype={"year": str})
    reps = pd.read_csv(b.parent / "data" / "reps.csv").set_index("rep_id")
    assert len(hist) and set(hist["year"]) <= {"2023", "2024", "2025"}
    assert reps.loc[hist["rep_id"].unique(), "ly_quota"].notna().all()
    assert not hist.duplicated(["rep_id", "year"]).any()
    ex = generate_plan(tmp_path / "ex", full_year_actuals=True, attainment_history=True)
    shipped = EXAMPLE / "data" / "attainment_history.csv"
    assert (ex.parent / "data" / "attainment_history.csv").read_bytes() == shipped.read_bytes()


def test_shipped_attainable_example(solve: Solve) -> None:
    """attainable.yaml solves (verified) with every bounded rep's chance ≥ 0.6; reps with
    earlier years get their own spread (differs from the team's unless both are at
    min_spread 0.05), the others keep the team's."""
    path = EXAMPLE / "attainable.yaml"
    res = solve(path)
    att = res.results.summary["attainability"]
    assert att["reps_bounded"] > 0 and att["min_chance"] >= 0.6 - 1e-6
    with_h = validate(path).md
    without = validate(path, sets=["data.attainment_history=null"]).md
    assert with_h.sales_sigma is not None and without.sales_sigma is not None
    hist = pd.read_csv(EXAMPLE / "data" / "attainment_history.csv")
    own = np.isin(np.asarray(with_h.rep_ids), hist["rep_id"].unique())
    bounded = np.isfinite(with_h.sales_sigma)
    a, b = with_h.sales_sigma, without.sales_sigma
    moved = own & bounded & (np.maximum(a, b) > 0.05 + 1e-9)  # above min_spread on a side
    assert moved.sum() >= 10 and (a[moved] != b[moved]).all()
    same = ~own & bounded
    assert with_h.sales_sigma[same] == pytest.approx(without.sales_sigma[same])
