"""Composable scenarios: extends chains, named overrides and scenarios, --set, and their errors."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.errors import InputError
from allocopt.pipeline import validate
from allocopt.scenario.load import load_scenario
from allocopt.scenario.overrides import parse_set, parse_value, valid_keys
from tests.plans import write_plan

ROOT = Path(__file__).resolve().parents[1]
WHATIF = ROOT / "scenarios" / "example" / "whatif.yaml"


def _child(tmp_path: Path, text: str, name: str = "child.yaml", **base: object) -> Path:
    """A tiny plan as ``scenario.yaml`` plus ``text`` as a file extending it."""
    write_plan(tmp_path, extra=dict(base) or None)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, scenarios: tuple[str, ...] = (), sets: tuple[str, ...] = ()) -> str:
    with pytest.raises(InputError) as info:
        load_scenario(path, scenarios, sets)
    return info.value.render()


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


OVERRIDES = """\
extends: scenario.yaml
rules:
  growth: {max: 0.2}
overrides:
  o1:
    rules.growth.max: 0.3
    rules.fairness.band: 0.1
  o2:
    rules:
      fairness: {level: region}
      rounding: {unit: 500}
  o3:
    rules.fairness.band: 0.2
scenarios:
  both: [o1, o2]
"""


# ---- precedence and merging ---------------------------------------------------------------------


def test_precedence_set_over_overrides_over_file_over_base(tmp_path: Path) -> None:
    path = _child(tmp_path, OVERRIDES, rules={"growth": {"enabled": False, "max": 0.1}})
    assert load_scenario(tmp_path / "scenario.yaml").scenario.rules.growth.max == 0.1
    plain = load_scenario(path).scenario
    assert plain.rules.growth.max == 0.2  # the file over its base
    assert plain.rules.growth.enabled is False  # the rest of the base stays
    assert plain.name == "tiny"
    over = load_scenario(path, ["o1"]).scenario
    assert over.rules.growth.max == 0.3  # an override over the file
    top = load_scenario(path, ["o1"], ["rules.growth.max=0.4"]).scenario
    assert top.rules.growth.max == 0.4  # --set over everything


def test_overrides_apply_in_the_listed_order_and_scenarios_expand(tmp_path: Path) -> None:
    path = _child(tmp_path, OVERRIDES)
    a = load_scenario(path, ["o2,o1"])
    assert [c.split(":")[0] for c in a.changes] == [
        "rules.fairness.level",
        "rules.rounding.unit",
        "rules.growth.max",
        "rules.fairness.band",
    ]
    b = load_scenario(path, ["both"])
    assert b.scenario == load_scenario(path, ["o1", "o2"]).scenario
    assert b.scenario.rules.fairness.level == "region"
    assert b.scenario.rules.rounding.unit == 500
    # a name repeated through a scenario is applied once
    assert load_scenario(path, ["both", "o1"]).changes == b.changes


def test_dotted_and_nested_keys_are_the_same(tmp_path: Path) -> None:
    text = """\
extends: scenario.yaml
overrides:
  dotted: {rules.potential.max_share: 0.8, targets.by_product.P: 450}
  nested:
    rules: {potential: {max_share: 0.8}}
    targets: {by_product: {P: 450}}
  mixed:
    rules.potential: {max_share: 0.8}
    targets.by_product: {P: 450}
"""
    path = _child(tmp_path, text)
    got = [load_scenario(path, [n]).scenario for n in ("dotted", "nested", "mixed")]
    assert got[0] == got[1] == got[2]
    assert got[0].rules.potential.max_share == 0.8
    assert got[0].rules.potential.min_share == 0.0  # sibling keys stay (deep merge)
    assert got[0].targets.by_product == {"P": 450}


def test_lists_replace_and_free_form_keys_may_hold_dots(tmp_path: Path) -> None:
    text = """\
extends: scenario.yaml
products: [P, A.B]
targets:
  by_product: {A.B: 10}
overrides:
  ramp: {rules.capacity.ramp: [0.5]}
  dotted_product: {targets.by_product.A.B: 20}
"""
    path = _child(tmp_path, text)
    sc = load_scenario(path, ["ramp", "dotted_product"]).scenario
    assert sc.rules.capacity.ramp == [0.5]
    assert sc.targets.by_product == {"P": 500, "A.B": 20}  # merged key by key


def test_a_schema_key_absent_from_the_file_may_be_set(tmp_path: Path) -> None:
    path = _child(tmp_path, "extends: scenario.yaml\n")
    ld = load_scenario(path, sets=["rules.floors.by_role.senior=300", "description=what if"])
    assert ld.scenario.rules.floors.by_role == {"senior": 300}
    assert ld.changes == [
        "rules.floors.by_role.senior: <unset> -> 300 (--set)",
        'description: <unset> -> "what if" (--set)',
    ]


# ---- the changes log ----------------------------------------------------------------------------


def test_changes_are_recorded_and_logged_in_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _child(tmp_path, OVERRIDES, rules={"growth": {"enabled": False, "max": 0.1}})
    with caplog.at_level(logging.INFO, logger="allocopt"):
        ld = load_scenario(path, ["o1"], ["targets.over_assignment=0.08", "solver.threads=2"])
    assert ld.changes == [
        "rules.growth.max: 0.2 -> 0.3 (override o1)",
        "rules.fairness.band: <unset> -> 0.1 (override o1)",
        "targets.over_assignment: 0.0 -> 0.08 (--set)",
        "solver.threads: 1 -> 2 (--set)",
    ]
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("allocopt")]
    assert logged == [f"applied {c}" for c in ld.changes]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name.startswith("allocopt"))


def test_no_overrides_no_changes(tmp_path: Path) -> None:
    path = _child(tmp_path, OVERRIDES)
    assert load_scenario(path).changes == []


# ---- errors -------------------------------------------------------------------------------------


def test_two_overrides_setting_one_key_name_both_and_the_line(tmp_path: Path) -> None:
    path = _child(tmp_path, OVERRIDES)
    msg = _error(path, ("o1,o3",))
    first = _line_of(path, "rules.fairness.band: 0.1")
    second = _line_of(path, "rules.fairness.band: 0.2")
    assert f"child.yaml:line {second}, column " in msg
    assert f"override o1 (line {first}, column " in msg
    assert "override o3 both set rules.fairness.band" in msg


def test_a_conflicting_scenario_is_reported_even_when_not_used(tmp_path: Path) -> None:
    text = OVERRIDES.replace("both: [o1, o2]", "both: [o1, o3]")
    path = _child(tmp_path, text)
    msg = _error(path)
    assert "override o1" in msg and "override o3 both set rules.fairness.band" in msg


def test_one_key_twice_in_one_override(tmp_path: Path) -> None:
    text = """\
extends: scenario.yaml
overrides:
  twice:
    rules.growth.max: 0.3
    rules: {growth: {max: 0.4}}
"""
    path = _child(tmp_path, text)
    msg = _error(path)
    assert f"line {_line_of(path, 'max: 0.4')}, column" in msg
    assert "rules.growth.max is set twice in override twice" in msg


def test_unknown_keys_get_the_closest_valid_key(tmp_path: Path) -> None:
    text = """\
extends: scenario.yaml
overrides:
  typo:
    rules.growth.maxx: 0.3
    rule: {fairness: {band: 0.1}}
"""
    path = _child(tmp_path, text)
    msg = _error(path)
    line = _line_of(path, "maxx")
    assert re.search(
        rf"child\.yaml:line {line}, column \d+: .*unknown key rules\.growth\.maxx; "
        r"did you mean rules\.growth\.max\?",
        msg,
    ), msg
    assert "unknown key rule.fairness.band; did you mean rules.fairness.band?" in msg
    msg = _error(tmp_path / "scenario.yaml", sets=("solver.time_limt=5",))
    assert (
        "--set: solver.time_limt: unknown key solver.time_limt; did you mean solver.time_limit?"
        in msg
    )
    msg = _error(tmp_path / "scenario.yaml", sets=("rules.growth.max.x=5",))
    assert "rules.growth.max is a single value or a list, it has no key 'x'" in msg


def test_structural_keys_cannot_be_overridden(tmp_path: Path) -> None:
    msg = _error(tmp_path / write_plan(tmp_path).name, sets=("extends=other.yaml",))
    assert "extends cannot be set by an override or --set" in msg
    assert "overrides" not in valid_keys() and "rules.growth.max" in valid_keys()


def test_unknown_scenario_name_gets_a_suggestion(tmp_path: Path) -> None:
    path = _child(tmp_path, OVERRIDES)
    msg = _error(path, ("bothh",))
    assert "--scenario: bothh: unknown scenario or override; did you mean 'both'?" in msg
    msg = _error(tmp_path / "scenario.yaml", ("x",))
    assert "the file defines none" in msg


def test_unknown_name_inside_a_scenario_and_loops(tmp_path: Path) -> None:
    text = OVERRIDES + "  bad: [o1, bth]\n  loop: [loop2]\n  loop2: [loop]\n  o1: [o2]\n"
    path = _child(tmp_path, text)
    msg = _error(path)
    assert f"line {_line_of(path, 'bad: [o1, bth]')}, column" in msg
    assert "scenarios.bad[1]: unknown scenario or override; did you mean 'both'?" in msg
    assert "scenario 'loop' includes itself (loop → loop2 → loop)" in msg
    assert "'o1' is both an override and a scenario" in msg


def test_set_without_equals_and_bad_yaml(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    msg = _error(path, sets=("rules.growth.max",))
    assert "--set: write --set KEY=VALUE" in msg
    msg = _error(path, sets=("rules.capacity.ramp=[0.5",))
    assert "--set: the value is not valid YAML" in msg


def test_schema_errors_in_an_override_are_located_at_the_override(tmp_path: Path) -> None:
    text = """\
extends: scenario.yaml
overrides:
  bad:
    rules.growth.max: lots
    targets.by_product.Q: 5
"""
    path = _child(tmp_path, text)
    msg = _error(path, ("bad",))
    line = _line_of(path, "lots")
    assert (
        f"child.yaml:line {line}, column 23: rules.growth.max: Input should be a valid number"
        in msg
    )
    msg = _error(path, sets=("targets.by_product.Q=5",))
    assert "--set: targets.by_product.Q: 'Q' is not one of the products (P)" in msg


def test_file_problems_are_reported_with_override_problems(tmp_path: Path) -> None:
    path = _child(tmp_path, "extends: scenario.yaml\nsolver: {threads: two}\n")
    msg = _error(path, sets=("rules.growth.maxx=1",))
    assert "unknown key rules.growth.maxx" in msg
    assert "child.yaml:line 2, column 19: solver.threads" in msg


# ---- --set values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        ("-3", -3),
        ("1_000_000", 1_000_000),
        ("0.25", 0.25),
        ("1e6", 1e6),
        ("true", True),
        ("false", False),
        ("null", None),
        ("", None),
        ("on", "on"),
        ("yes", "yes"),
        ("NO", "NO"),
        ("012", "012"),
        ("'12'", "12"),
        ("[HW, SW]", ["HW", "SW"]),
        ("{max: 0.3}", {"max": 0.3}),
        ("plain text", "plain text"),
    ],
)
def test_set_values_follow_the_strict_yaml_rules(text: str, value: object) -> None:
    assert parse_value(text) == value
    assert parse_set(f"a.b={text}") == ("a.b", value)


def test_set_value_keeps_everything_after_the_first_equals() -> None:
    assert parse_set("description=a=b") == ("description", "a=b")


def test_on_stays_text_and_a_boolean_field_rejects_it(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    msg = _error(path, sets=("rules.growth.enabled=on",))
    assert "--set: rules.growth.enabled:" in msg
    assert "'on' is not a boolean here (only true/false are)" in msg
    sc = load_scenario(
        path, sets=("rules.growth.enabled=true", "plan.fiscal_year_start=2027-02-01")
    )
    assert sc.scenario.rules.growth.enabled is True
    assert str(sc.scenario.plan.fiscal_year_start) == "2027-02-01"


def test_set_twice_is_an_error(tmp_path: Path) -> None:
    msg = _error(write_plan(tmp_path), sets=("solver.seed=1", "solver.seed=2"))
    assert "--set: solver.seed: given twice with --set" in msg


# ---- extends ------------------------------------------------------------------------------------


def test_extends_chain(tmp_path: Path) -> None:
    write_plan(tmp_path)
    (tmp_path / "mid.yaml").write_text(
        "extends: scenario.yaml\nname: mid\nrules: {growth: {max: 0.3, min: -0.1}}\n"
        "overrides:\n  up: {targets.by_product.P: 600}\n",
        encoding="utf-8",
    )
    (tmp_path / "top.yaml").write_text(
        "extends: mid.yaml\nrules: {growth: {max: 0.35}}\n", encoding="utf-8"
    )
    ld = load_scenario(tmp_path / "top.yaml", ["up"])
    sc = ld.scenario
    assert (sc.name, sc.rules.growth.max, sc.rules.growth.min) == ("mid", 0.35, -0.1)
    assert sc.targets.by_product == {"P": 600}  # an override defined in a base
    assert [p.name for p in ld.files] == ["top.yaml", "mid.yaml", "scenario.yaml"]
    assert ld.scenario.extends == "mid.yaml"


def test_extends_cycle_names_the_chain(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a.yaml\n", encoding="utf-8")
    msg = _error(tmp_path / "a.yaml")
    assert "b.yaml:line 2, column 10: extends: extends cycle: a.yaml → b.yaml → a.yaml" in msg
    (tmp_path / "c.yaml").write_text("extends: c.yaml\n", encoding="utf-8")
    assert "extends cycle: c.yaml → c.yaml" in _error(tmp_path / "c.yaml")


def test_missing_base_file_is_located_at_extends(tmp_path: Path) -> None:
    path = _child(tmp_path, "name: x\nextends: nope.yaml\n")
    msg = _error(path)
    assert "child.yaml:line 2, column 10: extends: base scenario file not found" in msg


def test_data_paths_stay_relative_to_the_file_that_wrote_them(tmp_path: Path) -> None:
    common = tmp_path / "common"
    write_plan(common)
    (common / "scenario.yaml").rename(common / "base.yaml")
    with (common / "base.yaml").open("a", encoding="utf-8") as f:
        f.write("overrides:\n  alt_reps: {data.reps: data/reps.csv}\n")
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "local.csv").write_text(
        (common / "data" / "potential.csv").read_text(encoding="utf-8"), encoding="utf-8"
    )
    child = plans / "child.yaml"
    child.write_text(
        "extends: ../common/base.yaml\nname: child\ndata: {potential: local.csv}\n"
        "overrides:\n  here: {data.seasonality: ../common/data/seasonality.csv}\n",
        encoding="utf-8",
    )
    ld = load_scenario(child, ["alt_reps", "here"], ["data.accounts=../common/data/accounts.csv"])
    data = ld.scenario.data
    assert data.org_units == "../common/data/org_units.csv"  # base path, rewritten
    assert data.potential == "local.csv"  # the child's own path
    assert data.reps == "../common/data/reps.csv"  # a base override, relative to the base
    assert data.seasonality == "../common/data/seasonality.csv"
    assert data.accounts == "../common/data/accounts.csv"
    v = validate(child, scenarios=["alt_reps", "here"])
    assert v.summary["reps"] == 2
    # a missing table from the base is reported at the base's line
    (common / "data" / "org_units.csv").unlink()
    with pytest.raises(InputError) as info:
        validate(child)
    text = info.value.render()
    assert re.search(r"child\.yaml:line \d+, column \d+ in .*base\.yaml: data\.org_units", text)


# ---- the command line ---------------------------------------------------------------------------


def test_cli_validate_and_solve_with_scenario_and_set(tmp_path: Path) -> None:
    text = "extends: scenario.yaml\noverrides:\n  up: {targets.by_product.P: 600}\n"
    path = _child(tmp_path, text)
    runner = CliRunner()
    res = runner.invoke(
        main, ["validate", str(path), "--scenario", "up", "--set", "targets.over_assignment=0.1"]
    )
    assert res.exit_code == 0, res.output
    assert "applied: targets.by_product.P: 500 -> 600 (override up)" in res.stdout
    assert "applied: targets.over_assignment: 0.0 -> 0.1 (--set)" in res.stdout

    out = tmp_path / "run"
    res = runner.invoke(
        main,
        ["solve", str(path), "--scenario", "up", "--set", "targets.over_assignment=0.1",
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "applied: targets.by_product.P: 500 -> 600 (override up)" in res.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["changes"] == [
        "targets.by_product.P: 500 -> 600 (override up)",
        "targets.over_assignment: 0.0 -> 0.1 (--set)",
    ]
    assert manifest["resolved_scenario"]["targets"]["by_product"] == {"P": 600.0}
    annual = (out / "annual.csv").read_text(encoding="utf-8")
    assert "A,T1,NORTH,P,396.0" in annual  # 600 · 1.1 · 0.6

    res = runner.invoke(main, ["solve", str(path), "--quiet", "--scenario", "up", "--out",
                               str(tmp_path / "run2")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "applied" not in res.stderr


def test_cli_errors_exit_2(tmp_path: Path) -> None:
    path = _child(tmp_path, OVERRIDES)
    runner = CliRunner()
    for args in (
        ["--scenario", "nope"],
        ["--set", "rules.growth.maxx=1"],
        ["--set", "novalue"],
        ["--scenario", "o1,o3"],
    ):
        res = runner.invoke(main, ["validate", str(path), *args])
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output and "internal error" not in res.output


# ---- the example --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "n_changes"),
    [
        ((), 0),
        (("east_down",), 3),  # the HW target and two data operations
        (("target_up",), 3),
        (("loose_growth",), 1),
        (("east_shift",), 4),
        (("attrition_hires",), 2),
        (("shift_and_churn",), 5),
        (("stretch",), 4),
    ],
)
def test_whatif_example_validates(names: tuple[str, ...], n_changes: int) -> None:
    v = validate(WHATIF, scenarios=names)
    assert v.loaded.scenario.name == "example-whatif"
    assert len(v.loaded.changes) == n_changes


def test_whatif_target_up_is_three_percent() -> None:
    base = load_scenario(WHATIF).scenario.targets.by_product
    up = load_scenario(WHATIF, ["target_up"]).scenario.targets.by_product
    assert {p: round(up[p] / base[p], 6) for p in base} == {"HW": 1.03, "SW": 1.03, "SVC": 1.03}
    down = load_scenario(WHATIF, ["east_down"]).scenario.targets.by_product
    assert round(down["HW"] / base["HW"], 6) == 0.95


@pytest.mark.slow
def test_whatif_example_solves(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["solve", str(WHATIF), "--scenario", "target_up", "--out", str(tmp_path / "x")]
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["changes"]) == 3
    assert manifest["resolved_scenario"]["data"]["reps"] == "data/reps.csv"
