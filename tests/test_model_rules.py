"""One tiny instance per rule, each with an optimum derived by hand (see each test's docstring).

The base plan (tests/plans.py): reps A and B in team T1, one product P, potential 600 / 400,
target 500, reference purely potential-based, so without binding rules A = 300 and B = 200.
Deviation costs 1 per unit up to 10% of the reference and 4 per unit beyond.
Every solve is re-checked by the independent verifier (fixture ``solve``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from allocopt.errors import InfeasibleError
from tests.conftest import Solve, annual, periods
from tests.plans import BASE_TABLES, write_plan


def _reps(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [dict(r) for r in BASE_TABLES["reps"]]
    for r in rows:
        r.update(changes.get(r["rep_id"], {}))
    return rows


def _rules(**rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": rules}


def test_base_plan_equals_the_reference(tmp_path: Path, solve: Solve) -> None:
    """No rule binds: quotas are the potential split 500·600/1000 = 300 and 200; phased 1/4."""
    res = solve(write_plan(tmp_path))
    assert annual(res) == {("A", "P"): 300.0, ("B", "P"): 200.0}
    assert periods(res, "A", "P") == [75.0] * 4
    assert res.status == "optimal"


def test_over_assignment_cushion(tmp_path: Path, solve: Solve) -> None:
    """Cushion 10%: reps carry 550, split 330 / 220."""
    res = solve(write_plan(tmp_path, extra={"targets": {"over_assignment": 0.1}}))
    assert annual(res) == {("A", "P"): pytest.approx(330.0), ("B", "P"): pytest.approx(220.0)}


def test_capacity_binds(tmp_path: Path, solve: Solve) -> None:
    """A's capacity 250 < 300: A = 250 and B takes the other 250 (A + B = 500)."""
    res = solve(write_plan(tmp_path, tables={"reps": _reps(A={"capacity": 250})}))
    assert annual(res) == {("A", "P"): 250.0, ("B", "P"): 250.0}
    bind = res.results.binding
    assert ((bind["component"] == "capacity") & (bind["index"] == "A")).any()


def test_new_hire_is_prorated_and_phased(tmp_path: Path, solve: Solve) -> None:
    """B starts 2027-07-01, no ramp: employed Q3-Q4, s_B = 0.5, eb_B = 200, eb_A = 600.

    Reference: A = 500·600/800 = 375, B = 125; B's quarters 0, 0, 62.5, 62.5.
    """
    res = solve(write_plan(tmp_path, tables={"reps": _reps(B={"start_date": "2027-07-01"})}))
    assert annual(res) == {("A", "P"): 375.0, ("B", "P"): 125.0}
    assert periods(res, "B", "P") == [0.0, 0.0, 62.5, 62.5]


def test_ramp_reduces_availability(tmp_path: Path, solve: Solve) -> None:
    """Ramp [0.5]: B's July counts half, Q3 avail = (0.5+1+1)/3, s_B = (2.5/3 + 1)/4 = 11/24.

    eb_B = 400·11/24 = 183.33; B = 500·183.33/783.33 = 117.02, A = 382.98.
    """
    extra = {"rules": {"capacity": {"ramp": [0.5]}}}
    res = solve(
        write_plan(tmp_path, tables={"reps": _reps(B={"start_date": "2027-07-01"})}, extra=extra)
    )
    eb_b = 400 * 11 / 24
    b = 500 * eb_b / (600 + eb_b)
    q = annual(res)
    assert q[("B", "P")] == pytest.approx(b, abs=0.01)
    assert q[("A", "P")] == pytest.approx(500 - b, abs=0.01)


def test_potential_share_forces_the_split(tmp_path: Path, solve: Solve) -> None:
    """max_share 0.55, target 550: A ≤ 330 and B ≤ 220 sum to exactly 550, so both bind."""
    extra = {"targets": {"by_product": {"P": 550}}, **_rules(potential={"max_share": 0.55})}
    res = solve(write_plan(tmp_path, extra=extra))
    assert annual(res) == {("A", "P"): pytest.approx(330.0), ("B", "P"): pytest.approx(220.0)}


def test_potential_out_of_reach_is_infeasible(tmp_path: Path, solve: Solve) -> None:
    """max_share 0.5 caps the team at 500 < target 550."""
    extra = {"targets": {"by_product": {"P": 550}}, **_rules(potential={"max_share": 0.5})}
    with pytest.raises(InfeasibleError):
        solve(write_plan(tmp_path, extra=extra))


def test_growth_max_binds(tmp_path: Path, solve: Solve) -> None:
    """A's last-year actual 200, max growth 20%: A ≤ 240, so A = 240 and B = 260."""
    extra = _rules(growth={"enabled": True, "min": -0.5, "max": 0.2, "basis": "actual"})
    reps = _reps(A={"ly_actual": 200, "ly_quota": 210})
    res = solve(write_plan(tmp_path, tables={"reps": reps}, extra=extra))
    assert annual(res) == {("A", "P"): 240.0, ("B", "P"): 260.0}


def test_growth_min_binds_with_quota_basis(tmp_path: Path, solve: Solve) -> None:
    """B's last-year quota 300, min growth -10%: B ≥ 270, so B = 270 and A = 230."""
    extra = _rules(growth={"enabled": True, "min": -0.1, "max": 1.0, "basis": "quota"})
    reps = _reps(B={"ly_quota": 300, "ly_actual": 10})
    res = solve(write_plan(tmp_path, tables={"reps": reps}, extra=extra))
    assert annual(res) == {("A", "P"): 230.0, ("B", "P"): 270.0}


def test_floor_by_role(tmp_path: Path, solve: Solve) -> None:
    """B is senior with floor 260: B = 260, A = 240. A (role rep, floor 100) is not bound."""
    extra = _rules(floors={"enabled": True, "by_role": {"senior": 260, "rep": 100}})
    res = solve(write_plan(tmp_path, tables={"reps": _reps(B={"role": "senior"})}, extra=extra))
    assert annual(res) == {("A", "P"): 240.0, ("B", "P"): 260.0}


def test_floor_is_prorated_by_fte(tmp_path: Path, solve: Solve) -> None:
    """B at FTE 0.5 with floor 520 must carry 260."""
    extra = _rules(floors={"enabled": True, "by_role": {"rep": 520}})
    reps = _reps(A={"role": "lead"}, B={"fte": 0.5})
    res = solve(write_plan(tmp_path, tables={"reps": reps}, extra=extra))
    assert annual(res) == {("A", "P"): 240.0, ("B", "P"): 260.0}


def test_fairness_band_around_team_level(tmp_path: Path, solve: Solve) -> None:
    """History-only reference A = 100, B = 400 (last-year 100 / 400); team level 500/1000 = 0.5.

    Band ±20%: A ∈ [240, 360], B ∈ [160, 240]; with A + B = 500 the closest point is A = 260,
    B = 240 (moving further from the reference only costs more).
    """
    extra = {
        "objective": {"reference": {"potential": 0.0, "history": 1.0}},
        **_rules(fairness={"enabled": True, "level": "team", "band": 0.2}),
    }
    reps = _reps(A={"ly_actual": 100}, B={"ly_actual": 400})
    res = solve(write_plan(tmp_path, tables={"reps": reps}, extra=extra))
    assert annual(res) == {("A", "P"): pytest.approx(260.0), ("B", "P"): pytest.approx(240.0)}
    assert res.results.summary["fairness"]["max_abs_vs_group"] == pytest.approx(0.2, abs=1e-6)


def test_fairness_minmax_objective_equalises(tmp_path: Path, solve: Solve) -> None:
    """Same history reference; with a large fairness weight both difficulties meet at 0.5."""
    extra = {
        "objective": {
            "reference": {"potential": 0.0, "history": 1.0},
            "weights": {"fairness": 100.0},
        },
        **_rules(fairness={"enabled": True, "level": "team", "band": None}),
    }
    reps = _reps(A={"ly_actual": 100}, B={"ly_actual": 400})
    res = solve(write_plan(tmp_path, tables={"reps": reps}, extra=extra))
    assert annual(res) == {("A", "P"): pytest.approx(300.0), ("B", "P"): pytest.approx(200.0)}


def test_phasing_band_respects_period_capacity(tmp_path: Path, solve: Solve) -> None:
    """Seasonality 0.4/0.2/0.2/0.2; A capacity 400 → 100 per quarter, but exact Q1 = 120.

    Band ±25%: Q1 ∈ [90, 150] ∩ [0, 100]; A keeps 300 for the year, Q1 ≤ 100.
    """
    season = [{"product": "P", "period": "Q1", "weight": 0.4}] + [
        {"product": "P", "period": f"Q{q}", "weight": 0.2} for q in (2, 3, 4)
    ]
    extra = _rules(phasing={"enabled": True, "mode": "band", "band": 0.25})
    reps = _reps(A={"capacity": 400})
    res = solve(write_plan(tmp_path, tables={"reps": reps, "seasonality": season}, extra=extra))
    assert annual(res)[("A", "P")] == pytest.approx(300.0)
    q = periods(res, "A", "P")
    assert sum(q) == pytest.approx(300.0)
    assert 90 - 1e-6 <= q[0] <= 100 + 1e-6
    for x in q[1:]:
        assert 0.75 * 60 - 1e-6 <= x <= 1.25 * 60 + 1e-6


def test_rounding_keeps_totals_and_breaks_ties_by_id(tmp_path: Path, solve: Solve) -> None:
    """Potential 610/390 → reference 305/195; unit 10: (300, 200) and (310, 190) cost the same.

    The tie-break weighs each (rep, product) by g(k) = 0.5 + frac(k·φ)/2: g(1) = 0.809 for A and
    g(2) = 0.618 for B, so B's quota is the cheaper one to carry: A = 300, B = 200.
    Periods: 300/4 = 75 → 70 each + 2 extra units to the earliest periods → 80, 80, 70, 70.
    """
    pot = [
        {"rep_id": "A", "product": "P", "potential": 610},
        {"rep_id": "B", "product": "P", "potential": 390},
    ]
    extra = _rules(rounding={"enabled": True, "unit": 10})
    res = solve(write_plan(tmp_path, tables={"potential": pot}, extra=extra))
    assert annual(res) == {("A", "P"): 300.0, ("B", "P"): 200.0}
    assert periods(res, "A", "P") == [80.0, 80.0, 70.0, 70.0]
    assert periods(res, "B", "P") == [50.0, 50.0, 50.0, 50.0]


def _two_team_org() -> dict[str, Any]:
    org = [
        *BASE_TABLES["org_units"],
        {"unit_id": "T2", "parent_id": "NORTH", "name": "Team 2", "level": "team"},
    ]
    reps = [*_reps(), {**BASE_TABLES["reps"][0], "rep_id": "C", "team_id": "T2"}]
    pot = [*BASE_TABLES["potential"], {"rep_id": "C", "product": "P", "potential": 1000}]
    return {"org_units": org, "reps": reps, "potential": pot}


def test_unit_target_fixes_a_team(tmp_path: Path, solve: Solve) -> None:
    """Target 1000 over A, B (team T1) and C (team T2, potential 1000); T2 is fixed at 400.

    References: A 300, B 200, C 500. C must drop 100, so T1 takes +100: the first 30 (A) and
    20 (B) are inside the cheap 10% band, the other 50 cost 4 per unit whoever takes them — a tie
    that the tie-break gives to B (g(2) = 0.618 < g(1) = 0.809). So A = 330, B = 270, C = 400.
    """
    extra = {"targets": {"by_product": {"P": 1000}, "units": [{"unit": "T2", "value": 400}]}}
    res = solve(write_plan(tmp_path, tables=_two_team_org(), extra=extra))
    q = annual(res)
    assert q[("C", "P")] == pytest.approx(400.0)
    assert q[("A", "P")] + q[("B", "P")] == pytest.approx(600.0)
    assert q[("A", "P")] == pytest.approx(330.0)
    assert q[("B", "P")] == pytest.approx(270.0)
    roll = res.results.rollups
    t1 = roll[(roll["unit_id"] == "T1") & (roll["period"] == "FY")]["quota"].sum()
    assert t1 == pytest.approx(600.0)


def _key_accounts() -> list[dict[str, Any]]:
    return [
        {"account_id": "K1", "product": "P", "revenue": 100, "key": "true", "incumbent_rep": "A"},
        {"account_id": "K2", "product": "P", "revenue": 200, "key": "true", "incumbent_rep": "A"},
        {"account_id": "X1", "product": "P", "revenue": 50, "key": "false", "incumbent_rep": "B"},
    ]


def test_key_accounts_move_the_cheapest(tmp_path: Path, solve: Solve) -> None:
    """A owns K1 (100) and K2 (200) but may keep one; moving costs 10% of revenue → K1 moves.

    Bases: A = 600 + 200 = 800, B = 400 + 100 = 500; reference 500·800/1300 and 500·500/1300.
    """
    extra = _rules(key_accounts={"enabled": True, "max_accounts": 1, "move_cost": 0.1})
    res = solve(write_plan(tmp_path, tables={"accounts": _key_accounts()}, extra=extra))
    asg = res.results.assignments.set_index("account_id")
    assert asg.loc["K1", "owner_rep"] == "B"
    assert bool(asg.loc["K1", "moved"])
    assert asg.loc["K2", "owner_rep"] == "A"
    assert res.results.summary["objective_terms"]["alignment_disruption"] == pytest.approx(10.0)
    q = annual(res)
    assert q[("A", "P")] == pytest.approx(500 * 800 / 1300, abs=0.01)
    assert q[("B", "P")] == pytest.approx(500 * 500 / 1300, abs=0.01)


def test_locked_pair_overrides_the_cheaper_move(tmp_path: Path, solve: Solve) -> None:
    """Locking K1 to A forces K2 (cost 20) to move instead."""
    extra = _rules(
        key_accounts={
            "enabled": True,
            "max_accounts": 1,
            "move_cost": 0.1,
            "locked": [{"account": "K1", "rep": "A"}],
        }
    )
    res = solve(write_plan(tmp_path, tables={"accounts": _key_accounts()}, extra=extra))
    asg = res.results.assignments.set_index("account_id")
    assert asg.loc["K1", "owner_rep"] == "A"
    assert asg.loc["K2", "owner_rep"] == "B"


def test_forbidden_pair_keeps_the_account(tmp_path: Path, solve: Solve) -> None:
    """Forbidding (K1, B) leaves B unable to take K1, so K2 moves (max one account each)."""
    extra = _rules(
        key_accounts={
            "enabled": True,
            "max_accounts": 1,
            "move_cost": 0.1,
            "forbidden": [{"account": "K1", "rep": "B"}],
        }
    )
    res = solve(write_plan(tmp_path, tables={"accounts": _key_accounts()}, extra=extra))
    asg = res.results.assignments.set_index("account_id")
    assert (asg.loc["K1", "owner_rep"], asg.loc["K2", "owner_rep"]) == ("A", "B")


def test_candidates_table_with_costs_and_workload(tmp_path: Path, solve: Solve) -> None:
    """Candidates: K1→A cost 5, K1→B cost 0, K2→A cost 0, K2→B cost 50; workload limit 2 on A
    with K1 weighing 2 on A: A cannot hold both (2 + 1 > 2), cheapest is K1→B (0 + move 10)."""
    cand = [
        {"account_id": "K1", "rep_id": "A", "cost": 5, "workload": 2},
        {"account_id": "K1", "rep_id": "B", "cost": 0, "workload": 1},
        {"account_id": "K2", "rep_id": "A", "cost": 0, "workload": 1},
        {"account_id": "K2", "rep_id": "B", "cost": 50, "workload": 1},
    ]
    extra = {
        "data": {"candidates": "data/candidates.csv"},
        **_rules(key_accounts={"enabled": True, "max_workload": 2, "move_cost": 0.1}),
    }
    res = solve(
        write_plan(tmp_path, tables={"accounts": _key_accounts(), "candidates": cand}, extra=extra)
    )
    asg = res.results.assignments.set_index("account_id")
    assert (asg.loc["K1", "owner_rep"], asg.loc["K2", "owner_rep"]) == ("B", "A")
    assert res.results.summary["objective_terms"]["alignment_disruption"] == pytest.approx(10.0)


def test_key_accounts_off_keeps_incumbents(tmp_path: Path, solve: Solve) -> None:
    """With the rule off, A keeps both accounts: base A = 900, B = 400."""
    res = solve(write_plan(tmp_path, tables={"accounts": _key_accounts()}))
    q = annual(res)
    assert q[("A", "P")] == pytest.approx(500 * 900 / 1300, abs=0.01)
    assert set(res.results.assignments["owner_rep"]) == {"A"}


def test_period_quotas_add_up_to_the_annual_quota_in_cents(tmp_path: Path, solve: Solve) -> None:
    """A month plan with weights 0.0833 × 11 + 0.0837: each month's exact share has fractions of a
    cent; the cents are apportioned by largest remainder so the 12 months add up to the year."""
    season = [{"product": "P", "period": f"M{m:02d}", "weight": 0.0833} for m in range(1, 12)]
    season.append({"product": "P", "period": "M12", "weight": 0.0837})
    pot = [
        {"rep_id": "A", "product": "P", "potential": 603.7},
        {"rep_id": "B", "product": "P", "potential": 396.3},
    ]
    extra = {"plan": {"granularity": "month"}, "targets": {"by_product": {"P": 500.01}}}
    res = solve(write_plan(tmp_path, tables={"seasonality": season, "potential": pot}, extra=extra))
    for rep in ("A", "B"):
        months = periods(res, rep, "P")
        assert len(months) == 12
        assert round(sum(months), 2) == annual(res)[(rep, "P")]
        assert all(round(m, 2) == m for m in months)
