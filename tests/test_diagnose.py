"""Infeasibility explained: one fixture per pre-check, and a conflict only the IIS can find."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.diagnose import check_iis, compute_iis, prechecks
from allocopt.errors import InfeasibleError
from allocopt.model.build import build_quotas
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.pipeline import run, validate
from allocopt.solve import compile_model
from tests.plans import BASE_TABLES, write_plan
from tests.test_model_rules import _key_accounts, _reps, _two_team_org


def _findings(tmp_path: Path, **kw: Any) -> list[str]:
    md = validate(write_plan(tmp_path, **kw)).md
    return [f.text() for f in prechecks(md)]


def test_feasible_plan_has_no_findings(tmp_path: Path) -> None:
    assert _findings(tmp_path) == []


def test_rep_floor_above_capacity(tmp_path: Path) -> None:
    """B's floor 300 is above its capacity 250."""
    texts = _findings(
        tmp_path,
        tables={"reps": _reps(A={"role": "lead"}, B={"capacity": 250})},
        extra={"rules": {"floors": {"enabled": True, "by_role": {"rep": 300}}}},
    )
    assert texts == [
        "rep B (team T1): floor requires at least 300 but capacity allows at most 250 — relax: "
        "rules.floors.by_role, reps.capacity, rules.capacity"
    ]


def test_company_target_above_what_reps_can_carry(tmp_path: Path) -> None:
    """Max share 0.4 of bases 600 + 400 = 400 < target 500."""
    texts = _findings(tmp_path, extra={"rules": {"potential": {"max_share": 0.4}}})
    assert len(texts) == 1
    assert texts[0].startswith("company, product P: target with cushion 500 is more than the 400")


def test_growth_minimums_above_the_target(tmp_path: Path) -> None:
    """Last year 300 + 300 with growth minimum 0% needs 600 > target 500."""
    texts = _findings(
        tmp_path,
        tables={"reps": _reps(A={"ly_actual": 300}, B={"ly_actual": 300})},
        extra={"rules": {"growth": {"enabled": True, "min": 0.0, "max": 1.0}}},
    )
    assert any(
        t.startswith(
            "company: floors and growth minimums of the 2 reps add up to 600 but the "
            "total target with cushion is 500"
        )
        for t in texts
    ), texts


def test_unit_target_above_its_reps_capacity(tmp_path: Path) -> None:
    """Team T2 (rep C, capacity 10,000 but potential 1000) must carry at least 1,200."""
    texts = _findings(
        tmp_path,
        tables=_two_team_org(),
        extra={"targets": {"by_product": {"P": 1500}, "units": [{"unit": "T2", "min": 1200}]}},
    )
    assert texts == [
        "unit T2: target of at least 1,200 but its 1 reps can carry at most 1,000 — relax: "
        "targets.units[0], rules.capacity, rules.potential.max_share"
    ]


def test_unit_cap_below_its_floors(tmp_path: Path) -> None:
    """T1 (A, B) capped at 300 while each rep's floor is 200."""
    texts = _findings(
        tmp_path,
        tables=_two_team_org(),
        extra={
            "targets": {"by_product": {"P": 1000}, "units": [{"unit": "T1", "max": 300}]},
            "rules": {"floors": {"enabled": True, "by_role": {"rep": 200}}},
        },
    )
    assert any(
        "unit T1: target of at most 300 but floors and growth minimums of its 2 reps add "
        "up to 400" in t
        for t in texts
    ), texts


def test_fixed_units_inconsistent_with_the_company(tmp_path: Path) -> None:
    """T1 ≥ 600 and T2 ≥ 500 cannot both hold under a company target of 1000."""
    texts = _findings(
        tmp_path,
        tables=_two_team_org(),
        extra={
            "targets": {
                "by_product": {"P": 1000},
                "units": [{"unit": "T1", "min": 600}, {"unit": "T2", "min": 500}],
            }
        },
    )
    assert any(
        "company: targets of units T1, T2 add up to at least 1,100 but the company target "
        "is 1,000" in t
        for t in texts
    ), texts


def test_key_accounts_beyond_book_limits(tmp_path: Path) -> None:
    """Two key accounts in team T1, at most 0 per rep."""
    texts = _findings(
        tmp_path,
        tables={"accounts": _key_accounts()},
        extra={"rules": {"key_accounts": {"enabled": True, "max_accounts": 0}}},
    )
    assert any(
        t.startswith(
            "team T1: 2 key accounts must be placed but its 2 eligible reps may hold at most 0"
        )
        for t in texts
    ), texts


def test_locks_beyond_a_reps_limit(tmp_path: Path) -> None:
    locked = [{"account": "K1", "rep": "A"}, {"account": "K2", "rep": "A"}]
    texts = _findings(
        tmp_path,
        tables={"accounts": _key_accounts()},
        extra={"rules": {"key_accounts": {"enabled": True, "max_accounts": 1, "locked": locked}}},
    )
    assert any(
        t.startswith("rep A: 2 key accounts are locked to the rep but it may hold at most 1")
        for t in texts
    ), texts


def _iis_plan(tmp_path: Path) -> Path:
    """Growth pins A ≤ 100 and B ≥ 400 (target 500), but the fairness band wants both near 0.5."""
    reps = _reps(A={"ly_actual": 100}, B={"ly_actual": 400})
    extra = {
        "rules": {
            "growth": {"enabled": True, "min": 0.0, "max": 0.0},
            "fairness": {"enabled": True, "band": 0.2},
        }
    }
    return write_plan(tmp_path, tables={"reps": reps}, extra=extra)


def test_pre_checks_miss_the_fairness_conflict_but_the_iis_finds_it(tmp_path: Path) -> None:
    path = _iis_plan(tmp_path)
    md = validate(path).md
    assert prechecks(md) == []
    comp = compile_model(build_quotas(quota_sets(md, alignment_from_incumbents(md))).model)
    iis = compute_iis(comp)
    assert iis is not None
    names = sorted(comp.model.row_name(int(i)) for i in iis.rows)
    assert names == [
        ("fairness_high", "B"),
        ("fairness_low", "A"),
        ("growth_max", "A"),
        ("growth_min", "B"),
    ]
    infeasible, drop_one = check_iis(comp, iis)
    assert infeasible
    assert drop_one and all(drop_one)  # irreducible: dropping any member makes it feasible


def test_infeasible_run_writes_the_diagnosis_and_exits_1(tmp_path: Path) -> None:
    path = _iis_plan(tmp_path)
    out = tmp_path / "run"
    with pytest.raises(InfeasibleError) as err:
        run(path, out=out)
    assert "rep A: quota at most 100 (growth maximum against last year)" in err.value.render()
    diag = json.loads((out / "infeasible.json").read_text())
    assert diag["stage"] == "quota"
    assert {r["component"] for r in diag["iis"]["rows"]} == {
        "fairness_low",
        "fairness_high",
        "growth_min",
        "growth_max",
    }
    assert "rules.fairness.band" in (out / "infeasible.txt").read_text()
    res = CliRunner().invoke(main, ["solve", str(path), "--out", str(tmp_path / "run2")])
    assert res.exit_code == 1
    assert "difficulty at least 80% of its team's level" in res.output


def test_pre_check_failure_through_the_cli(tmp_path: Path) -> None:
    path = write_plan(tmp_path, extra={"rules": {"potential": {"max_share": 0.4}}})
    res = CliRunner().invoke(main, ["solve", str(path), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "target with cushion 500 is more than the 400 its reps can carry" in res.output
    diag = json.loads((tmp_path / "r" / "infeasible.json").read_text())
    assert diag["stage"] == "pre-checks" and diag["findings"][0]["rule"] == "target"


def test_commands_on_an_infeasible_run_folder_say_it_holds_no_plan(tmp_path: Path) -> None:
    """verify said quotas.csv was missing, explain binding.csv ('re-run the solve'), report
    summary.json: the folder of an infeasible scenario holds only the diagnosis."""
    path = write_plan(tmp_path, extra={"rules": {"potential": {"max_share": 0.4}}})
    run_dir = tmp_path / "r"
    assert CliRunner().invoke(main, ["solve", str(path), "--out", str(run_dir)]).exit_code == 1
    html = tmp_path / "r.html"
    cases = (["verify"], ["explain"], ["explain", "--rep", "A"], ["report", "--out", str(html)])
    for args in cases:
        res = CliRunner().invoke(main, [args[0], str(run_dir), *args[1:]])
        assert res.exit_code == 2, (args, res.output)
        assert "the plan was infeasible" in res.output and "no plan" in res.output, res.output
        assert str(run_dir / "infeasible.txt") in res.output
        assert "missing" not in res.output and "re-run" not in res.output
    assert not html.exists()
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "infeasible.json",
        "infeasible.txt",
        "manifest.json",
    ]


def test_base_tables_untouched() -> None:
    """The fixtures above copy the base tables; the shared module state stays as written."""
    assert BASE_TABLES["reps"][0]["capacity"] == 10000
