"""Data operations (scale, set, remove_reps, add_reps, move_rep): exact results, located errors,
operations added by overrides, and the shipped what-ifs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.data.checks import Dataset, load_data
from allocopt.errors import InputError, Problem
from allocopt.scenario.load import load_scenario
from tests.conftest import Solve
from tests.plans import write_plan

ROOT = Path(__file__).resolve().parents[1]
WHATIF = ROOT / "scenarios" / "example" / "whatif.yaml"

# Two regions: NORTH → T1 (reps A, B, C), SOUTH → T2 (rep D); products P and Q.
ORG = [
    {"unit_id": "CO", "parent_id": "", "name": "Company", "level": "company"},
    {"unit_id": "NORTH", "parent_id": "CO", "name": "North", "level": "region"},
    {"unit_id": "SOUTH", "parent_id": "CO", "name": "South", "level": "region"},
    {"unit_id": "T1", "parent_id": "NORTH", "name": "Team 1", "level": "team"},
    {"unit_id": "T2", "parent_id": "SOUTH", "name": "Team 2", "level": "team"},
]


def _rep(rep: str, team: str, **kw: Any) -> dict[str, Any]:
    row = {
        "rep_id": rep,
        "team_id": team,
        "role": "rep",
        "fte": 1,
        "start_date": "",
        "end_date": "",
        "capacity": 10000,
        "ly_quota": "",
        "ly_actual": "",
    }
    return {**row, **kw}


REPS = [_rep("A", "T1"), _rep("B", "T1"), _rep("C", "T1"), _rep("D", "T2")]
POTENTIAL = [
    {"rep_id": "A", "product": "P", "potential": 600},
    {"rep_id": "A", "product": "Q", "potential": 100},
    {"rep_id": "B", "product": "P", "potential": 300},
    {"rep_id": "C", "product": "P", "potential": 100},
    {"rep_id": "C", "product": "Q", "potential": 0},
    {"rep_id": "D", "product": "P", "potential": 500},
    {"rep_id": "D", "product": "Q", "potential": 200},
]
ACCOUNTS = [
    {"account_id": "K1", "product": "P", "revenue": 80, "key": "true", "incumbent_rep": "A"},
    {"account_id": "K1", "product": "Q", "revenue": 20, "key": "true", "incumbent_rep": "A"},
    {"account_id": "X1", "product": "P", "revenue": 50, "key": "false", "incumbent_rep": "A"},
    {"account_id": "X2", "product": "P", "revenue": 30, "key": "false", "incumbent_rep": "D"},
]
SEASONALITY = [
    {"product": p, "period": f"Q{q}", "weight": 0.25} for p in ("P", "Q") for q in range(1, 5)
]
ACTUALS = [
    {"rep_id": "A", "product": "P", "period": "Q1", "amount": 10},
    {"rep_id": "B", "product": "P", "period": "Q1", "amount": 20},
]
CANDIDATES = [
    {"account_id": "K1", "rep_id": "A", "cost": 0, "workload": 2},
    {"account_id": "K1", "rep_id": "B", "cost": 5, "workload": 2},
]


def _plan(
    tmp_path: Path,
    ops_yaml: str,
    *,
    candidates: bool = False,
    extra: str = "",
    reps: list[dict[str, Any]] | None = None,
) -> Path:
    """The two-team plan as ``scenario.yaml`` and ``child.yaml`` extending it with ``ops_yaml``
    (the text under ``operations:``) and ``extra`` (more top-level YAML)."""
    tables: dict[str, Any] = {
        "org_units": ORG,
        "reps": reps or REPS,
        "potential": POTENTIAL,
        "accounts": ACCOUNTS,
        "seasonality": SEASONALITY,
        "actuals": ACTUALS,
    }
    if candidates:
        tables["candidates"] = CANDIDATES
    write_plan(
        tmp_path,
        tables=tables,
        extra={"products": ["P", "Q"], "targets": {"by_product": {"P": 500, "Q": 100}}},
    )
    text = "extends: scenario.yaml\n"
    if ops_yaml:
        text += "operations:\n" + ops_yaml
    path = tmp_path / "child.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def _load(path: Path, scenarios: tuple[str, ...] = (), sets: tuple[str, ...] = ()) -> Dataset:
    ld = load_scenario(path, scenarios, sets)
    return load_data(ld.scenario, ld.base_dir, ld.file, ld.locate)


def _problems(path: Path, scenarios: tuple[str, ...] = ()) -> list[Problem]:
    with pytest.raises(InputError) as info:
        _load(path, scenarios)
    return info.value.problems


def _line(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def _at(path: Path, needle: str) -> str:
    """ "line L, column C" of the first occurrence of ``needle`` in the file."""
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return f"line {i}, column {line.index(needle) + 1}"
    raise AssertionError(needle)


def _pot(ds: Dataset) -> dict[tuple[str, str], float]:
    p = ds["potential"]
    return {
        (r, q): float(v) for r, q, v in zip(p["rep_id"], p["product"], p["potential"], strict=True)
    }


def _col(ds: Dataset, table: str, key: str, col: str) -> dict[str, Any]:
    t = ds[table]
    return dict(zip(t[key], t[col], strict=True))


# ---- scale ----------------------------------------------------------------------------------


def test_scale_by_region_and_product(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: scale, table: potential, column: potential, factor: 0.85,\n"
        "     where: {region: [NORTH], product: P}}\n",
    )
    ds = _load(path)
    pot = _pot(ds)
    assert pot[("A", "P")] == pytest.approx(510.0)
    assert pot[("B", "P")] == pytest.approx(255.0)
    assert pot[("C", "P")] == pytest.approx(85.0)
    assert pot[("A", "Q")] == 100.0  # other product untouched
    assert pot[("D", "P")] == 500.0  # other region untouched
    assert ds.changes == [
        "operations[0] scale potential.potential ×0.85 on 3 rows (region NORTH; product P)"
    ]


def test_scale_accounts_by_incumbent_team(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: scale, table: accounts, column: revenue, factor: 2, where: {team: T2}}\n",
    )
    ds = _load(path)
    rev = ds["accounts"].set_index(["account_id", "product"])["revenue"]
    assert rev[("X2", "P")] == 60.0
    assert rev[("K1", "P")] == 80.0 and rev[("X1", "P")] == 50.0


def test_scale_without_filter_keeps_blanks(tmp_path: Path) -> None:
    reps = [_rep("A", "T1", ly_quota=1000), _rep("B", "T1"), _rep("C", "T1"), _rep("D", "T2")]
    path = _plan(
        tmp_path, "  - {op: scale, table: reps, column: ly_quota, factor: 1.1}\n", reps=reps
    )
    ds = _load(path)
    q = _col(ds, "reps", "rep_id", "ly_quota")
    assert q["A"] == pytest.approx(1100.0)
    assert math.isnan(q["B"])
    assert ds.changes == ["operations[0] scale reps.ly_quota ×1.1 on 4 rows (all rows)"]


# ---- set ------------------------------------------------------------------------------------


def test_set_number_date_blank_and_flag(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: set, table: reps, column: capacity, value: 5000, where: {team: [T1]}}\n"
        "  - {op: set, table: reps, column: end_date, value: 2027-06-30, where: {rep: B}}\n"
        "  - {op: set, table: reps, column: role, value: senior, where: {rep: [C, D]}}\n"
        "  - {op: set, table: accounts, column: key, value: true, where: {account: X2}}\n"
        "  - {op: set, table: accounts, column: incumbent_rep, value: null,\n"
        "     where: {account: X1}}\n",
    )
    ds = _load(path)
    assert _col(ds, "reps", "rep_id", "capacity") == {
        "A": 5000.0,
        "B": 5000.0,
        "C": 5000.0,
        "D": 10000.0,
    }
    end = _col(ds, "reps", "rep_id", "end_date")
    assert end["B"] == pd.Timestamp("2027-06-30") and pd.isna(end["A"])
    assert _col(ds, "reps", "rep_id", "role") == {
        "A": "rep",
        "B": "rep",
        "C": "senior",
        "D": "senior",
    }
    acc = ds["accounts"].set_index("account_id")
    assert acc.loc["X2", "key"] is True
    assert acc.loc["X1", "incumbent_rep"] == ""
    assert ds.changes[0] == "operations[0] set reps.capacity = 5000 on 3 rows (team T1)"
    assert ds.changes[1] == "operations[1] set reps.end_date = 2027-06-30 on 1 row (rep B)"
    assert (
        ds.changes[4] == "operations[4] set accounts.incumbent_rep = <blank> on 1 row (account X1)"
    )


def test_set_result_is_checked_like_base_data(tmp_path: Path) -> None:
    # a second incumbent on one row of a key account: the cross-table check reports it
    path = _plan(
        tmp_path,
        "  - {op: set, table: accounts, column: incumbent_rep, value: B,\n"
        "     where: {account: K1, product: Q}}\n",
    )
    msgs = [p.message for p in _problems(path)]
    assert any("different incumbents" in m for m in msgs)


# ---- remove_reps ----------------------------------------------------------------------------


def test_remove_reps_cover_team_without_candidates(tmp_path: Path) -> None:
    path = _plan(tmp_path, "  - {op: remove_reps, reps: [A]}\n")
    ds = _load(path)
    # P: the leaver's 600 goes to B (300) and C (100) in proportion: × (1 + 600/400) = × 2.5;
    # Q: B and C hold no Q potential, so A's 100 is split equally (C's 0 row → 50, B gets a row)
    assert _pot(ds) == {
        ("B", "P"): 750.0,
        ("C", "P"): 250.0,
        ("C", "Q"): 50.0,
        ("B", "Q"): 50.0,
        ("D", "P"): 500.0,
        ("D", "Q"): 200.0,
    }
    assert sum(_pot(ds).values()) == sum(float(r["potential"]) for r in POTENTIAL)
    assert list(ds["reps"]["rep_id"]) == ["B", "C", "D"]
    assert list(ds["actuals"]["rep_id"]) == ["B"]
    # K1 (key) goes to B, the remaining rep of T1 with the most potential (800 vs 300)
    inc = ds["accounts"].set_index(["account_id", "product"])["incumbent_rep"]
    assert inc[("K1", "P")] == "B" and inc[("K1", "Q")] == "B"
    assert inc[("X1", "P")] == "" and inc[("X2", "P")] == "D"
    assert ds.changes == [
        "operations[0] remove_reps A: 1 rep removed from reps, potential, candidates and "
        "actuals; their potential (P 600, Q 100) re-covered by their teams",
        "operations[0] remove_reps: team T1: P 600, Q 100 spread over its 2 remaining reps in "
        "proportion to their own potential (equally where they have none)",
        "operations[0] remove_reps: key account K1: incumbent A left; reassigned to B, the "
        "remaining rep of team T1 with the most potential",
        "operations[0] remove_reps: 1 non-key account rows lost their incumbent (blanked)",
    ]


def test_remove_reps_with_candidates_blanks_incumbent(tmp_path: Path) -> None:
    path = _plan(tmp_path, "  - {op: remove_reps, reps: [A, D], cover: team}\n", candidates=True)
    with pytest.raises(InputError) as info:
        _load(path)  # D is T2's only rep: nobody can take over its potential
    (p,) = info.value.problems
    assert p.field == "operations[0].cover"
    assert "team T2 has no rep left to take over the potential of D" in p.message
    assert p.where == _at(path, "team}")  # the value of cover:

    path = _plan(tmp_path, "  - {op: remove_reps, reps: [A]}\n", candidates=True)
    ds = _load(path)
    inc = ds["accounts"].set_index(["account_id", "product"])["incumbent_rep"]
    assert inc[("K1", "P")] == "" and inc[("K1", "Q")] == ""
    cand = ds["candidates"]
    assert list(zip(cand["account_id"], cand["rep_id"], strict=True)) == [("K1", "B"), ("K1", "C")]
    assert cand["cost"].tolist()[0] == 5.0 and math.isnan(cand["cost"].tolist()[1])
    assert (
        "operations[0] remove_reps: key account K1: incumbent A left; incumbent blanked, "
        "1 rep of team T1 added as candidates"
    ) in ds.changes


def test_remove_reps_cover_none_drops_potential(tmp_path: Path) -> None:
    path = _plan(tmp_path, "  - {op: remove_reps, reps: [B, C], cover: none}\n")
    ds = _load(path)
    assert _pot(ds) == {("A", "P"): 600.0, ("A", "Q"): 100.0, ("D", "P"): 500.0, ("D", "Q"): 200.0}
    assert "dropped (cover: none)" in ds.changes[0]


def test_remove_reps_proportional_hand_computed(tmp_path: Path) -> None:
    # B leaves: its 300 of P goes to A (600) and C (100): × (1 + 300/700)
    path = _plan(tmp_path, "  - {op: remove_reps, reps: [B]}\n")
    pot = _pot(_load(path))
    assert pot[("A", "P")] == pytest.approx(600 + 300 * 600 / 700)  # 857.142857...
    assert pot[("C", "P")] == pytest.approx(100 + 300 * 100 / 700)  # 142.857142...
    assert pot[("A", "Q")] == 100.0 and pot[("C", "Q")] == 0.0


# ---- add_reps and move_rep ------------------------------------------------------------------


def test_add_reps_new_market_and_take_from(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - op: add_reps\n"
        "    reps:\n"
        "      - {rep_id: N1, team_id: T1, start_date: 2027-04-01, capacity: 8000,\n"
        "         potential: {P: 200}, take_from: [A, B]}\n"
        "      - {rep_id: N2, team_id: T2, start_date: 2027-05-01, fte: 0.5, capacity: 6000,\n"
        "         role: senior, potential: {Q: 40}}\n",
    )
    ds = _load(path)
    pot = _pot(ds)
    # 200 of P taken from A (600) and B (300) in proportion: × (1 − 200/900)
    assert pot[("A", "P")] == pytest.approx(600 * 7 / 9)  # 466.67
    assert pot[("B", "P")] == pytest.approx(300 * 7 / 9)  # 233.33
    assert pot[("N1", "P")] == 200.0
    assert pot[("N2", "Q")] == 40.0 and pot[("D", "Q")] == 200.0  # new market
    assert sum(v for (_r, p), v in pot.items() if p == "P") == pytest.approx(1500.0)
    reps = ds["reps"].set_index("rep_id")
    assert reps.loc["N1", "team_id"] == "T1" and reps.loc["N1", "capacity"] == 8000.0
    assert reps.loc["N1", "start_date"] == pd.Timestamp("2027-04-01")
    assert reps.loc["N2", "fte"] == 0.5 and reps.loc["N2", "role"] == "senior"
    assert reps.loc["N2", "_row"] == 0
    assert ds.changes == [
        "operations[0] add_reps N1: team T1, start 2027-04-01, fte 1, capacity 8,000; "
        "potential P 200 taken from A, B",
        "operations[0] add_reps N2: team T2, start 2027-05-01, fte 0.5, capacity 6,000; "
        "potential Q 40",
    ]


def test_move_rep_then_filter_by_new_team(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: move_rep, rep: D, team: T1}\n"
        "  - {op: scale, table: potential, column: potential, factor: 0.5, where: {team: T1,\n"
        "     product: Q}}\n",
    )
    ds = _load(path)
    assert _col(ds, "reps", "rep_id", "team_id")["D"] == "T1"
    pot = _pot(ds)
    assert pot[("D", "Q")] == 100.0 and pot[("A", "Q")] == 50.0 and pot[("D", "P")] == 500.0
    assert (
        ds.changes[0] == "operations[0] move_rep D: team T2 -> T1 (with its potential and accounts)"
    )
    assert ds.changes[1].endswith("on 3 rows (team T1; product Q)")


def test_operations_are_seen_by_the_solve_and_the_verifier(tmp_path: Path, solve: Solve) -> None:
    path = _plan(
        tmp_path,
        "  - {op: remove_reps, reps: [C]}\n"
        "  - op: add_reps\n"
        "    reps: [{rep_id: N1, team_id: T2, capacity: 9000, start_date: 2027-04-01,\n"
        "            potential: {P: 100, Q: 50}}]\n",
    )
    res = solve(path)  # the fixture runs the independent verifier on the run
    annual = res.results.annual
    assert set(annual["rep_id"]) == {"A", "B", "D", "N1"}
    manifest = json.loads((res.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert [o["op"] for o in manifest["resolved_scenario"]["operations"]] == [
        "remove_reps",
        "add_reps",
    ]


# ---- located errors -------------------------------------------------------------------------

BAD = [
    # (operation, field, message part, value)
    (
        "{op: scale, table: potential, column: potentail, factor: 0.5}",
        "operations[0].column",
        "unknown column of potential; did you mean 'potential'?",
        "potentail",
    ),
    (
        "{op: scale, table: reps, column: role, factor: 0.5}",
        "operations[0].column",
        "role is not a numeric column",
        "role",
    ),
    (
        "{op: scale, table: reps, column: max_accounts, factor: 2}",
        "operations[0].column",
        "holds whole numbers; use op: set",
        "max_accounts",
    ),
    (
        "{op: scale, table: potential, column: potential, factor: 2, where: {region: [NORHT]}}",
        "operations[0].where.region[0]",
        "unknown region; did you mean 'NORTH'?",
        "NORHT",
    ),
    (
        "{op: scale, table: accounts, column: revenue, factor: 2, where: {rep: [B]}}",
        "operations[0].where.rep[0]",
        "matches no row of accounts; check the filter",
        "B",
    ),
    (
        "{op: scale, table: potential, column: potential, factor: 2, where: {rep: D, team: T1}}",
        "operations[0].where",
        "the filters together match no row of potential",
        "",
    ),
    (
        "{op: scale, table: reps, column: fte, factor: 2, where: {product: P}}",
        "operations[0].where.product",
        "reps has no product",
        "product",
    ),
    (
        "{op: scale, table: reps, column: fte, factor: 2}",
        "operations[0].factor",
        "reps.fte would be 2 on row 2, which must be in (0, 1]",
        "2",
    ),
    (
        "{op: scale, table: candidates, column: cost, factor: 2}",
        "operations[0].table",
        "the scenario has no candidates table",
        "candidates",
    ),
    (
        "{op: set, table: reps, column: fte, value: 2}",
        "operations[0].value",
        "reps.fte must be in (0, 1]",
        "2.0",
    ),
    (
        "{op: set, table: reps, column: capacity, value: abc}",
        "operations[0].value",
        "reps.capacity is a number; write a number",
        "abc",
    ),
    (
        "{op: set, table: potential, column: product, value: Q}",
        "operations[0].column",
        "product is part of the key of potential",
        "product",
    ),
    (
        "{op: set, table: reps, column: team_id, value: null}",
        "operations[0].value",
        "reps.team_id may not be blank",
        "",
    ),
    ("{op: remove_reps, reps: [Z]}", "operations[0].reps[0]", "unknown rep; check the rep ID", "Z"),
    (
        "{op: remove_reps, reps: [A, B, A]}",
        "operations[0].reps[2]",
        "rep 'A' is listed twice (also reps[0]); keep one",
        "A",
    ),
    (
        "{op: add_reps, reps: [{rep_id: B, team_id: T1, capacity: 1}]}",
        "operations[0].reps[0].rep_id",
        "the rep exists already",
        "B",
    ),
    (
        "{op: add_reps, reps: [{rep_id: N, team_id: T3, capacity: 1}]}",
        "operations[0].reps[0].team_id",
        "unknown team; use a unit_id of the org_units table",
        "T3",
    ),
    (
        "{op: add_reps, reps: [{rep_id: N, team_id: T1, capacity: 1, potential: {R: 5}}]}",
        "operations[0].reps[0].potential.R",
        "unknown product; the products are P, Q",
        "R",
    ),
    (
        "{op: add_reps, reps: [{rep_id: N, team_id: T1, capacity: 1, potential: {Q: 500},"
        " take_from: [A]}]}",
        "operations[0].reps[0].potential.Q",
        "have 100 of Q potential; they cannot give 500",
        "500",
    ),
    (
        "{op: add_reps, reps: [{rep_id: N, team_id: T1, capacity: 1, start_date: 2028-01-01}]}",
        "operations[0].reps[0].start_date",
        "the rep starts after the plan year ends",
        "2028-01-01",
    ),
    ("{op: move_rep, rep: Q, team: T1}", "operations[0].rep", "unknown rep", "Q"),
    ("{op: move_rep, rep: A, team: T7}", "operations[0].team", "unknown team", "T7"),
    ("{op: move_rep, rep: A, team: T1}", "operations[0].team", "is in team T1 already", "T1"),
]


@pytest.mark.parametrize(("op", "field", "message", "value"), BAD)
def test_bad_operation_is_a_located_error(
    tmp_path: Path, op: str, field: str, message: str, value: str
) -> None:
    path = _plan(tmp_path, f"  - {op}\n")
    problems = _problems(path)
    assert len(problems) == 1, problems
    (p,) = problems
    assert p.file == str(path)
    assert p.field == field
    assert message in p.message
    assert p.value == value
    # located on the operation's line, at the key that is wrong
    assert p.where.startswith(f"line {_line(path, '- {op:')}, column ")


def test_schema_errors_of_operations_are_located(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: scale, table: potential, column: potential, factor: -1}\n"
        "  - {op: scael, table: potential}\n"
        "  - {op: scale, table: potential, column: potential, factr: 2}\n"
        "  - {op: scale, table: prices, column: potential, factor: 2}\n"
        "  - {op: set, table: reps, column: fte, value: [1]}\n"
        "  - {table: reps}\n",
    )
    with pytest.raises(InputError) as info:
        load_scenario(path)
    got = {p.field: (p.where, p.message) for p in info.value.problems}
    assert got["operations[0].factor"][0] == "line 3, column 62"
    assert "greater than or equal to 0" in got["operations[0].factor"][1]
    assert got["operations[1]"][1] == "unknown operation 'scael'; did you mean 'scale'?"
    assert got["operations[2].factr"][1] == "unknown key; did you mean 'factor'?"
    assert got["operations[2].factr"][0] == _at(path, "2}")  # the value of factr:
    assert (
        "must be 'potential', 'accounts', 'reps' or 'candidates'" in got["operations[3].table"][1]
    )
    assert got["operations[4].value"][1].startswith("must be a number, text, a date")
    assert got["operations[5]"][1].startswith("an operation needs op: one of scale, set")


def test_removing_a_rep_twice_across_operations(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: remove_reps, reps: [B]}\n"
        "  - {op: remove_reps, reps: [C, B]}\n"
        "  - {op: move_rep, rep: B, team: T2}\n",
    )
    problems = _problems(path)
    assert [(p.field, p.message) for p in problems] == [
        ("operations[1].reps[1]", "rep 'B' was removed by operations[0]; remove it here"),
        ("operations[2].rep", "rep 'B' was removed by operations[0]; remove it here"),
    ]
    assert problems[0].where == f"line {_line(path, '[C, B]')}, column 33"


def test_removed_rep_still_locked_is_reported_by_the_cross_checks(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: remove_reps, reps: [B]}\n",
        candidates=True,
        extra="rules:\n  key_accounts:\n    locked: [{account: K1, rep: B}]\n",
    )
    (p,) = _problems(path)
    assert p.field == "rules.key_accounts.locked[0].rep"
    assert p.message.startswith("unknown rep")


def test_key_account_without_anyone_left_is_an_error(tmp_path: Path) -> None:
    path = _plan(tmp_path, "  - {op: remove_reps, reps: [A, B, C], cover: none}\n")
    (p,) = _problems(path)
    assert p.field == "operations[0].reps[0]"
    assert "key account 'K1' of A has no rep left to take it over" in p.message


# ---- overrides and --set --------------------------------------------------------------------

OVERRIDES = """\
overrides:
  shift:
    targets.by_product.P: 450
    operations:
      - {op: scale, table: potential, column: potential, factor: 0.5, where: {rep: A}}
  churn:
    operations:
      - {op: remove_reps, reps: [C]}
  broken:
    operations:
      - {op: move_rep, rep: A, team: T9}
scenarios:
  both: [shift, churn]
"""


def test_an_override_appends_operations(tmp_path: Path) -> None:
    path = _plan(
        tmp_path,
        "  - {op: scale, table: potential, column: potential, factor: 2, where: {rep: D}}\n",
        extra=OVERRIDES,
    )
    ld = load_scenario(path, ["both"])
    assert [o.op for o in ld.scenario.operations] == ["scale", "scale", "remove_reps"]
    assert ld.changes[0] == "targets.by_product.P: 500 -> 450 (override shift)"
    assert ld.changes[1].startswith('operations[1]: <unset> -> {"op": "scale"')
    assert ld.changes[1].endswith("(override shift)")
    assert ld.changes[2].startswith("operations[2]: <unset> -> ")
    ds = load_data(ld.scenario, ld.base_dir, ld.file, ld.locate)
    pot = _pot(ds)
    # D × 2; A × 0.5 (300 P, 50 Q); C leaves: 100 P to A (300) and B (300) half each
    assert pot[("D", "P")] == 1000.0
    assert pot[("A", "P")] == pytest.approx(350.0) and pot[("B", "P")] == pytest.approx(350.0)
    assert pot[("A", "Q")] == 50.0
    assert [c.split(" ")[0] for c in ds.changes[:3]] == [
        "operations[0]",
        "operations[1]",
        "operations[2]",
    ]
    # --set appends as well
    ld2 = load_scenario(path, ["churn"], ["operations=[{op: move_rep, rep: D, team: T1}]"])
    assert [o.op for o in ld2.scenario.operations] == ["scale", "remove_reps", "move_rep"]
    assert ld2.changes[-1].endswith("(--set)")


def test_an_operation_from_an_override_is_located_there(tmp_path: Path) -> None:
    path = _plan(tmp_path, "", extra=OVERRIDES)
    (p,) = _problems(path, ("broken",))
    assert p.field == "operations[0].team"
    assert p.where == _at(path, "T9")
    assert p.message.startswith("unknown team")


# ---- the shipped what-ifs -------------------------------------------------------------------

WHATIFS = ["east_down", "attrition_hires", "shift_and_churn", "target_up"]


@pytest.mark.parametrize("name", WHATIFS)
def test_shipped_whatifs_validate(name: str) -> None:
    res = CliRunner().invoke(main, ["validate", str(WHATIF), "--scenario", name])
    assert res.exit_code == 0, res.output


def test_shipped_market_shift_and_attrition() -> None:
    base = _load(WHATIF)
    down = _load(WHATIF, ("east_down",))
    assert down.scenario.targets.by_product["HW"] == pytest.approx(
        0.95 * base.scenario.targets.by_product["HW"]
    )
    assert down.changes[0].startswith(
        "operations[0] scale potential.potential ×0.85 on 32 rows (region WEST; product HW)"
    )
    churn = _load(WHATIF, ("attrition_hires",))
    assert len(churn["reps"]) == len(base["reps"]) - 5 + 3
    # potential is conserved by cover: team and take_from; R0102 and R0103 add 1,100,000 + 680,000
    total = float(base["potential"]["potential"].sum())
    assert float(churn["potential"]["potential"].sum()) == pytest.approx(total + 1_780_000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["east_down", "attrition_hires", "shift_and_churn"])
def test_shipped_whatifs_solve_and_verify(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    res = CliRunner().invoke(main, ["solve", str(WHATIF), "--scenario", name, "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["verify", str(out)])
    assert res.exit_code == 0, res.output
