"""The independent verifier: real solves verify clean, tampered run folders are caught."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import verify_run
from allocopt.errors import InputError
from allocopt.pipeline import run
from allocopt.results.verify import Verification
from tests.plans import write_plan

# A small but non-trivial organisation: two regions, three teams, five reps, two products.
ORG = [
    {"unit_id": "CO", "parent_id": "", "name": "Company", "level": "company"},
    {"unit_id": "NORTH", "parent_id": "CO", "name": "North", "level": "region"},
    {"unit_id": "SOUTH", "parent_id": "CO", "name": "South", "level": "region"},
    {"unit_id": "T1", "parent_id": "NORTH", "name": "Team 1", "level": "team"},
    {"unit_id": "T2", "parent_id": "NORTH", "name": "Team 2", "level": "team"},
    {"unit_id": "T3", "parent_id": "SOUTH", "name": "Team 3", "level": "team"},
]


def _rep(rep_id: str, team: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rep_id": rep_id,
        "team_id": team,
        "role": "rep",
        "fte": 1,
        "start_date": "",
        "end_date": "",
        "capacity": 2000,
        "ly_quota": "",
        "ly_actual": "",
    }
    row.update(kw)
    return row


REPS = [
    _rep("A", "T1", ly_actual=420, role="senior", capacity=650),
    _rep("B", "T1", ly_actual=300, start_date="2027-03-15"),  # new hire with ramp
    _rep("C", "T2", ly_actual=300, fte=0.5),
    _rep("D", "T3", ly_actual=300, end_date="2027-08-20"),  # leaver
    _rep("E", "T3", ly_actual=""),  # no history
]
POTENTIAL = [
    {"rep_id": r, "product": p, "potential": v}
    for r, vals in {
        "A": (500, 300),
        "B": (400, 200),
        "C": (300, 250),
        "D": (350, 150),
        "E": (250, 300),
    }.items()
    for p, v in zip(("P", "S"), vals, strict=True)
]
SEASON = [
    {"product": "P", "period": q, "weight": w}
    for q, w in zip(("Q1", "Q2", "Q3", "Q4"), (0.2, 0.25, 0.25, 0.3), strict=True)
] + [
    {"product": "S", "period": q, "weight": w}
    for q, w in zip(("Q1", "Q2", "Q3", "Q4"), (0.1, 0.2, 0.3, 0.4), strict=True)
]
ACCOUNTS = [
    {"account_id": "K1", "product": "P", "revenue": 120, "key": "true", "incumbent_rep": "A"},
    {"account_id": "K1", "product": "S", "revenue": 40, "key": "true", "incumbent_rep": "A"},
    {"account_id": "K2", "product": "P", "revenue": 90, "key": "yes", "incumbent_rep": "B"},
    {"account_id": "K3", "product": "S", "revenue": 70, "key": "true", "incumbent_rep": "D"},
    {"account_id": "K4", "product": "P", "revenue": 60, "key": "TRUE", "incumbent_rep": ""},
    {"account_id": "N1", "product": "P", "revenue": 500, "key": "false", "incumbent_rep": "A"},
]
CANDIDATES = [
    {"account_id": a, "rep_id": r, "cost": c, "workload": w}
    for a, r, c, w in (
        ("K1", "A", 0, 2),
        ("K1", "B", 5, 1),
        ("K2", "B", 0, 1),
        ("K2", "A", 0, 1),
        ("K3", "D", 0, 1),
        ("K3", "E", 1, 1),
        ("K4", "C", 0, 1),
        ("K4", "E", 0, 1),
    )
]

RICH_TABLES: dict[str, list[dict[str, Any]] | None] = {
    "org_units": ORG,
    "reps": REPS,
    "potential": POTENTIAL,
    "seasonality": SEASON,
    "accounts": ACCOUNTS,
    "candidates": CANDIDATES,
}
RICH_EXTRA: dict[str, Any] = {
    "products": ["P", "S"],
    "targets": {"by_product": {"P": 1200, "S": 700}, "over_assignment": 0.05},
    "rules": {
        "capacity": {"enabled": True, "ramp": [0.25, 0.5, 0.75]},
        "potential": {"enabled": True, "max_share": 0.95, "min_share": 0.1},
        "growth": {"enabled": True, "min": -0.4, "max": 0.5, "basis": "actual"},
        "floors": {"enabled": True, "by_role": {"rep": 400, "senior": 250}},
        "key_accounts": {
            "enabled": True,
            "max_accounts": 2,
            "max_workload": 3,
            "move_cost": 0.05,
            "locked": [{"account": "K2", "rep": "A"}],
            "forbidden": [],
        },
        "fairness": {"enabled": True, "level": "region", "band": 0.1},
    },
    "objective": {"reference": {"potential": 0.6, "history": 0.4}},
}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _solve(
    tmp: Path,
    *,
    tables: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    rich: bool = True,
) -> Path:
    tabs = {**(RICH_TABLES if rich else {}), **(tables or {})}
    ext = _merge(RICH_EXTRA, extra or {}) if rich else (extra or {})
    scenario = write_plan(tmp / "plan", tables=tabs, extra=ext)
    out = tmp / "run"
    run(scenario, out=out, force=True)
    return out


def _rows(v: Verification, rule: str) -> pd.DataFrame:
    return v.violations[v.violations["rule"] == rule]


def _edit(path: Path, fn: Any) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = fn(df)
    df.to_csv(path, index=False, lineterminator="\n")


def _set(df: pd.DataFrame, mask: Any, col: str, value: float) -> pd.DataFrame:
    assert int(mask.sum()) == 1
    df.loc[mask, col] = repr(float(value))
    return df


def _num(path: Path, **match: str) -> float:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    mask = pd.Series(True, index=df.index)
    for k, v in match.items():
        mask &= df[k] == v
    assert int(mask.sum()) == 1
    return float(df.loc[mask, "quota"].iloc[0])


# --- real solves verify clean -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rich_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _solve(tmp_path_factory.mktemp("rich"))


def test_tiny_default_plan_verifies(tmp_path: Path) -> None:
    v = verify_run(_solve(tmp_path, rich=False))
    assert v.ok, v.violations.to_string()
    # 2 reps × 1 product × 4 quarters, all present, and the potential rule was checked per pair
    assert v.checked["complete"] == 2 + 8
    assert v.checked["potential_max"] == 2
    assert "growth_min" not in v.checked and "fairness_low" not in v.checked


def test_rich_plan_verifies_every_enabled_rule(rich_run: Path) -> None:
    v = verify_run(rich_run)
    assert v.ok, v.violations.to_string()
    for rule in (
        "target",
        "rollup",
        "period_sum",
        "capacity",
        "potential_max",
        "potential_min",
        "growth_min",
        "growth_max",
        "floor",
        "fairness_low",
        "fairness_high",
        "phasing",
        "one_owner",
        "eligible",
        "lock",
        "max_accounts",
        "max_workload",
        "ka_capacity",
        "incumbent",
        "moved",
        "nonnegative",
        "report",
        "inputs",
    ):
        assert v.checked.get(rule, 0) > 0, rule
    assert v.checked["growth_min"] == 4  # E has no history
    assert v.checked["eligible"] == 4  # K1..K4
    assert v.checked["lock"] == 1
    assert v.checked["rollup"] == 6 * 2 * 5  # units × products × (4 quarters + FY)
    # the lock moved K2 from B to A
    asg = pd.read_csv(rich_run / "assignments.csv", dtype=str, keep_default_na=False)
    assert asg.set_index("account_id").loc["K2", "owner_rep"] == "A"


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(
            {
                "rules": {"rounding": {"enabled": True, "unit": 10}},
                "targets": {"by_product": {"P": 1203, "S": 695}},
            },
            id="rounding-exact",
        ),
        pytest.param(
            {"rules": {"phasing": {"enabled": True, "mode": "band", "band": 0.2}}},
            id="band-phasing",
        ),
        pytest.param(
            {
                "rules": {
                    "phasing": {"enabled": True, "mode": "band", "band": 0.15},
                    "rounding": {"enabled": True, "unit": 5},
                }
            },
            id="band-phasing-rounding",
        ),
        pytest.param(
            {
                "rules": {"fairness": {"level": "team", "band": 0.2}},
                "objective": {"weights": {"fairness": 1.0}},
            },
            id="fairness-team-weighted",
        ),
        pytest.param(
            {
                "rules": {
                    "fairness": {"level": "company", "band": 0.5},
                    "growth": {"basis": "quota"},
                }
            },
            id="fairness-company-quota-basis",
        ),
        pytest.param({"rules": {"key_accounts": {"enabled": False}}}, id="key-accounts-off"),
        pytest.param(
            {
                "targets": {
                    "units": [
                        {"unit": "T2", "value": 380},
                        {"unit": "SOUTH", "product": "S", "min": 250, "max": 300},
                    ]
                }
            },
            id="unit-targets",
        ),
        pytest.param({"plan": {"granularity": "month"}}, id="month-plan"),
    ],
)
def test_variants_verify(tmp_path: Path, extra: dict[str, Any]) -> None:
    tables: dict[str, Any] = {}
    if extra.get("plan", {}).get("granularity") == "month":
        tables["seasonality"] = [
            {"product": p, "period": f"M{m:02d}", "weight": w}
            for p in ("P", "S")
            for m, w in zip(
                range(1, 13), [0.05] * 4 + [0.1] * 4 + [0.15, 0.1, 0.15, 0.0], strict=True
            )
        ]
    if "units" in extra.get("targets", {}):
        extra = _merge(extra, {"targets": {"by_product": RICH_EXTRA["targets"]["by_product"]}})
    v = verify_run(_solve(tmp_path, tables=tables, extra=extra))
    assert v.ok, v.violations.to_string()
    rules = extra.get("rules", {})
    if rules.get("rounding", {}).get("enabled"):
        assert v.checked["rounding"] > 0
    if rules.get("phasing", {}).get("mode") == "band":
        assert v.checked["phasing_high"] == v.checked["phasing_low"] > 0
        assert v.checked["period_capacity"] == 5 * 4
    if "units" in extra.get("targets", {}):
        assert v.checked["unit_target"] == 3
    if rules.get("key_accounts", {}).get("enabled") is False:
        assert v.checked["alignment"] == 4 and "eligible" not in v.checked


# Found by the verifier: ramp used to be counted in calendar months; the formulation (and now
# the model) counts fiscal months from the one containing the start date.
def test_mid_month_fiscal_year_new_hire_ramp(tmp_path: Path) -> None:
    reps = [r for r in REPS if r["rep_id"] != "B"]
    reps.append(_rep("B", "T1", start_date="2027-05-01", capacity=300))
    out = _solve(
        tmp_path,
        tables={"reps": reps},
        extra={
            "plan": {"fiscal_year_start": dt.date(2027, 4, 15)},
            "rules": {
                "floors": {"enabled": False},
                "fairness": {"enabled": False},
                "growth": {"enabled": False},
            },
        },
    )
    v = verify_run(out)
    assert v.ok, v.violations.to_string()


def test_rounded_totals_are_multiples_of_the_unit(tmp_path: Path) -> None:
    out = _solve(
        tmp_path,
        extra={
            "rules": {"rounding": {"enabled": True, "unit": 10}},
            "targets": {"by_product": {"P": 1203, "S": 695}},
        },
    )
    v = verify_run(out)
    assert v.ok, v.violations.to_string()
    annual = pd.read_csv(out / "annual.csv")
    # round(1203 × 1.05 / 10) × 10 = 1260, round(695 × 1.05 / 10) × 10 = 730
    assert annual.groupby("product")["quota"].sum().to_dict() == {"P": 1260.0, "S": 730.0}


# --- tampered run folders -------------------------------------------------------------------


@pytest.fixture
def copy(rich_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(rich_run, dst)
    return dst


def test_quota_above_capacity_is_reported_for_that_rep(copy: Path) -> None:
    reps = pd.read_csv(copy / "reps.csv", dtype={"rep_id": str}).set_index("rep_id")
    cap = float(reps.loc["C", "capacity"])
    other = _num(copy / "annual.csv", rep_id="C", product="S")
    new_p = cap - other + 123.45
    _edit(
        copy / "annual.csv",
        lambda d: _set(d, (d.rep_id == "C") & (d["product"] == "P"), "quota", new_p),
    )
    v = verify_run(copy)
    rows = _rows(v, "capacity")
    assert list(rows["where"]) == ["rep C"]
    assert rows["amount"].iloc[0] == pytest.approx(123.45, abs=0.02)
    assert "capacity" in rows["detail"].iloc[0]
    # the company total and the period split no longer match either
    assert "product P" in set(_rows(v, "target")["where"])
    assert "rep C, product P" in set(_rows(v, "period_sum")["where"])


def test_broken_rollup_is_reported_for_the_unit(copy: Path) -> None:
    def bump(d: pd.DataFrame) -> pd.DataFrame:
        m = (d.unit_id == "NORTH") & (d["product"] == "S") & (d.period == "Q2")
        return _set(d, m, "quota", float(d.loc[m, "quota"].iloc[0]) + 7)

    _edit(copy / "rollups.csv", bump)
    v = verify_run(copy)
    rows = _rows(v, "rollup")
    assert list(rows["where"]) == ["unit NORTH, product S, period Q2"]
    assert rows["amount"].iloc[0] == pytest.approx(7, abs=0.01)
    assert set(v.violations["rule"]) == {"rollup"}


def test_missing_rollup_row_is_reported(copy: Path) -> None:
    _edit(copy / "rollups.csv", lambda d: d[~((d.unit_id == "T3") & (d.period == "FY"))])
    rows = _rows(verify_run(copy), "rollup")
    assert sorted(rows["where"]) == [f"unit T3, product {p}, period FY" for p in ("P", "S")]
    assert rows["detail"].str.contains("missing from rollups.csv").all()


def test_account_with_two_owners(copy: Path) -> None:
    def dup(d: pd.DataFrame) -> pd.DataFrame:
        extra = d[d.account_id == "K3"].copy()
        extra["owner_rep"] = "E"
        return pd.concat([d, extra], ignore_index=True)

    _edit(copy / "assignments.csv", dup)
    rows = _rows(verify_run(copy), "one_owner")
    assert list(rows["where"]) == ["account K3"]
    assert "2 rows" in rows["detail"].iloc[0] and "E" in rows["detail"].iloc[0]
    assert rows["amount"].iloc[0] == 1


def test_owner_outside_candidates_breaks_lock_and_eligibility(copy: Path) -> None:
    _edit(
        copy / "assignments.csv",
        lambda d: d.assign(
            owner_rep=d.owner_rep.where(d.account_id != "K2", "C"),
            moved=d.moved.where(d.account_id != "K2", "True"),
        ),
    )
    v = verify_run(copy)
    assert list(_rows(v, "eligible")["where"]) == ["account K2"]
    assert list(_rows(v, "lock")["where"]) == ["account K2"]
    assert "locked to rep A" in _rows(v, "lock")["detail"].iloc[0]


def test_wrong_moved_flag_and_incumbent(copy: Path) -> None:
    _edit(
        copy / "assignments.csv",
        lambda d: d.assign(
            moved=d.moved.where(d.account_id != "K1", "True"),
            incumbent_rep=d.incumbent_rep.where(d.account_id != "K3", "E"),
        ),
    )
    v = verify_run(copy)
    assert list(_rows(v, "moved")["where"]) == ["account K1"]
    assert list(_rows(v, "incumbent")["where"]) == ["account K3"]


def test_moved_period_amount_breaks_phasing_not_the_annual_sum(copy: Path) -> None:
    def move(d: pd.DataFrame) -> pd.DataFrame:
        a = (d.rep_id == "A") & (d["product"] == "P") & (d.period == "Q1")
        b = (d.rep_id == "A") & (d["product"] == "P") & (d.period == "Q3")
        d = _set(d, a, "quota", float(d.loc[a, "quota"].iloc[0]) - 10)
        return _set(d, b, "quota", float(d.loc[b, "quota"].iloc[0]) + 10)

    _edit(copy / "quotas.csv", move)
    v = verify_run(copy)
    rows = _rows(v, "phasing")
    assert sorted(rows["where"]) == ["rep A, product P, period Q1", "rep A, product P, period Q3"]
    assert rows["amount"].tolist() == pytest.approx([10, 10], abs=0.02)
    assert _rows(v, "period_sum").empty
    # the period roll-ups of A's units no longer add up, the FY ones still do
    assert set(_rows(v, "rollup")["where"]) == {
        f"unit {u}, product P, period {q}" for u in ("CO", "NORTH", "T1") for q in ("Q1", "Q3")
    }


def test_potential_violation(copy: Path) -> None:
    annual = pd.read_csv(copy / "annual.csv", dtype={"rep_id": str})
    eb = float(annual.set_index(["rep_id", "product"]).loc[("E", "S"), "eff_base"])
    _edit(
        copy / "annual.csv",
        lambda d: _set(d, (d.rep_id == "E") & (d["product"] == "S"), "quota", eb),
    )
    pot = _rows(verify_run(copy), "potential_max")
    assert list(pot["where"]) == ["rep E, product S"]
    assert pot["amount"].iloc[0] == pytest.approx(0.05 * eb, abs=0.02)


def test_fairness_violation_is_a_difficulty_ratio(copy: Path) -> None:
    # move 60 of P from E to D: the SOUTH level is unchanged, D becomes too hard, E too easy
    def move(d: pd.DataFrame) -> pd.DataFrame:
        for rep, delta in (("D", 60.0), ("E", -60.0)):
            m = (d.rep_id == rep) & (d["product"] == "P")
            d = _set(d, m, "quota", float(d.loc[m, "quota"].iloc[0]) + delta)
        return d

    reps = pd.read_csv(copy / "reps.csv", dtype={"rep_id": str}).set_index("rep_id")
    _edit(copy / "annual.csv", move)
    v = verify_run(copy)
    level = float(reps.loc["D", "group_level"])
    high, low = _rows(v, "fairness_high"), _rows(v, "fairness_low")
    assert list(high["where"]) == ["rep D, group SOUTH"]
    assert list(low["where"]) == ["rep E, group SOUTH"]
    d_q, d_b = reps.loc["D", "quota"] + 60, reps.loc["D", "eff_base"]
    e_q, e_b = reps.loc["E", "quota"] - 60, reps.loc["E", "eff_base"]
    assert high["amount"].iloc[0] == pytest.approx(d_q / d_b - 1.1 * level, abs=1e-4)
    assert low["amount"].iloc[0] == pytest.approx(0.9 * level - e_q / e_b, abs=1e-4)
    assert list(_rows(v, "floor")["where"]) == ["rep E"]  # E's floor is 400


def test_negative_and_missing_quota_rows(copy: Path) -> None:
    def tamper(d: pd.DataFrame) -> pd.DataFrame:
        d = d[~((d.rep_id == "D") & (d["product"] == "S") & (d.period == "Q4"))]
        return _set(d, (d.rep_id == "E") & (d["product"] == "P") & (d.period == "Q2"), "quota", -5)

    _edit(copy / "quotas.csv", tamper)
    v = verify_run(copy)
    assert list(_rows(v, "complete")["where"]) == ["rep D, product S, period Q4"]
    neg = _rows(v, "nonnegative")
    assert list(neg["where"]) == ["rep E, product P, period Q2"]
    assert neg["amount"].iloc[0] == pytest.approx(5)


def test_growth_and_floor_violations(copy: Path) -> None:
    # rep C: fte 0.5, so its floor is 400 × 0.5 = 200; growth down to (1 − 0.4) × 300 = 180
    _edit(copy / "annual.csv", lambda d: d.assign(quota=d.quota.where(d.rep_id != "C", "10.0")))
    v = verify_run(copy)
    g = _rows(v, "growth_min")
    assert list(g["where"]) == ["rep C"]
    assert g["amount"].iloc[0] == pytest.approx(180 - 20, abs=0.02)
    f = _rows(v, "floor")
    assert list(f["where"]) == ["rep C"]
    assert f["amount"].iloc[0] == pytest.approx(200 - 20, abs=0.02)


def test_rounding_violation(tmp_path: Path) -> None:
    out = _solve(tmp_path, extra={"rules": {"rounding": {"enabled": True, "unit": 10}}})
    assert verify_run(out).ok
    _edit(
        out / "annual.csv",
        lambda d: _set(
            d,
            (d.rep_id == "B") & (d["product"] == "P"),
            "quota",
            float(d.loc[(d.rep_id == "B") & (d["product"] == "P"), "quota"].iloc[0]) + 3,
        ),
    )
    rows = _rows(verify_run(out), "rounding")
    assert list(rows["where"]) == ["rep B, product P"]
    assert rows["amount"].iloc[0] == pytest.approx(3)


def test_changed_input_is_reported(copy: Path) -> None:
    scen = json.loads((copy / "manifest.json").read_text())["inputs"]["scenario"]["path"]
    pot = Path(scen).parent / "data" / "potential.csv"
    original = pot.read_text()
    try:
        pot.write_text(original.replace("E,S,300", "E,S,30"))
        v = verify_run(copy)
        assert list(_rows(v, "inputs")["where"]) == ["table potential (data/potential.csv)"]
        # with E's potential cut, its quota for S now exceeds the (smaller) effective base
        assert "rep E, product S" in set(_rows(v, "potential_max")["where"])
    finally:
        pot.write_text(original)


def test_unit_target_violation(tmp_path: Path) -> None:
    out = _solve(tmp_path, extra={"targets": {"units": [{"unit": "T2", "value": 380}]}})
    assert verify_run(out).ok
    _edit(
        out / "annual.csv",
        lambda d: _set(
            d,
            (d.rep_id == "C") & (d["product"] == "P"),
            "quota",
            float(d.loc[(d.rep_id == "C") & (d["product"] == "P"), "quota"].iloc[0]) + 40,
        ),
    )
    rows = _rows(verify_run(out), "unit_target")
    assert list(rows["where"]) == ["unit T2"]
    assert rows["amount"].iloc[0] == pytest.approx(40, abs=0.02)


# --- incomplete run folders ---------------------------------------------------------------------


def test_missing_file_is_an_input_error(copy: Path) -> None:
    (copy / "quotas.csv").unlink()
    with pytest.raises(InputError) as info:
        verify_run(copy)
    assert info.value.exit_code == 2
    assert "quotas.csv" in info.value.render() and "missing" in info.value.render()


def test_missing_column_is_an_input_error(copy: Path) -> None:
    _edit(copy / "annual.csv", lambda d: d.drop(columns="quota"))
    with pytest.raises(InputError) as info:
        verify_run(copy)
    text = info.value.render()
    assert "annual.csv" in text and "quota" in text and "required column is missing" in text


def test_missing_manifest_key_is_an_input_error(copy: Path) -> None:
    m = json.loads((copy / "manifest.json").read_text())
    del m["resolved_scenario"]
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="cannot be verified") as info:
        verify_run(copy)
    assert "manifest.json: resolved_scenario" in info.value.render()


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_clean_run_exits_0(rich_run: Path) -> None:
    res = CliRunner().invoke(main, ["verify", str(rich_run)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("verified: ")
    assert res.output.strip().endswith("rules, no violations")


def test_cli_violation_exits_1(copy: Path) -> None:
    _edit(
        copy / "annual.csv",
        lambda d: _set(d, (d.rep_id == "C") & (d["product"] == "P"), "quota", 99999),
    )
    res = CliRunner().invoke(main, ["verify", str(copy)])
    assert res.exit_code == 1, res.output
    assert "capacity" in res.output and "rep C" in res.output
    assert "violations per rule:" in res.output


def test_cli_incomplete_run_exits_2(copy: Path, tmp_path: Path) -> None:
    (copy / "rollups.csv").unlink()
    res = CliRunner().invoke(main, ["verify", str(copy)])
    assert res.exit_code == 2
    assert "rollups.csv" in res.output and "missing" in res.output
    res = CliRunner().invoke(main, ["verify", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "no such run folder" in res.output
