"""Tests for the strict scenario YAML reader."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from allocopt.errors import InputError, Problem
from allocopt.scenario.strict_yaml import LoadedYaml, dotted, load_yaml, locate


def _write(tmp_path: Path, text: str | bytes, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _load(tmp_path: Path, text: str | bytes) -> LoadedYaml:
    return load_yaml(_write(tmp_path, text))


def _problems(tmp_path: Path, text: str | bytes) -> list[Problem]:
    with pytest.raises(InputError) as info:
        _load(tmp_path, text)
    assert info.value.exit_code == 2
    return info.value.problems


def _only(problems: list[Problem], phrase: str) -> Problem:
    hits = [p for p in problems if phrase in p.message]
    assert len(hits) == 1, problems
    return hits[0]


def _value(tmp_path: Path, scalar: str) -> Any:
    return _load(tmp_path, f"v: {scalar}\n").data["v"]


# --- rule 1: safe loading, locations of every value -----------------------------------------


def test_locations_of_mapping_values_and_sequence_items(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        "name: x\ntargets:\n  units:\n    - {unit: EAST, min: 5}\n    - unit: WEST\n      max: 7\n",
    )
    assert loaded.data == {
        "name": "x",
        "targets": {"units": [{"unit": "EAST", "min": 5}, {"unit": "WEST", "max": 7}]},
    }
    assert loaded.file == str(tmp_path / "scenario.yaml")
    assert loaded.locations[("name",)] == (1, 7)
    assert loaded.locations[("targets", "units", 0)] == (4, 7)
    assert loaded.locations[("targets", "units", 0, "min")] == (4, 25)
    assert loaded.locations[("targets", "units", 1, "max")] == (6, 12)


def test_locate_uses_longest_known_prefix(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "plan:\n  granularity: quarter\n")
    assert locate(loaded, ("plan", "granularity")) == "line 2, column 16"
    assert locate(loaded, ("plan", "currency")) == "line 2, column 3"
    empty = LoadedYaml(data={}, file="f", locations={})
    assert locate(empty, ("plan",)) == ""


# --- rule 2: duplicate keys -------------------------------------------------------------------


def test_duplicate_keys_are_rejected_with_both_lines(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, "plan:\n  currency: EUR\n  granularity: month\n  currency: USD\n"
    )
    p = _only(problems, "duplicate key 'currency'")
    assert p.where == "line 4, column 3"
    assert p.field == "plan.currency"
    assert "first defined at line 2" in p.message
    assert "remove one of them" in p.message


# --- rule 3: YAML 1.2 scalar semantics ----------------------------------------------------------


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("yes", "yes"),
        ("no", "no"),
        ("NO", "NO"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("n", "n"),
        ("12", 12),
        ("-3", -3),
        ("+7", 7),
        ("0", 0),
        ("1_000_000", 1_000_000),
        ("012", "012"),
        ("00123", "00123"),
        ("1:20", "1:20"),
        ("0o14", "0o14"),
        ("0x1F", "0x1F"),
        ("1.5", 1.5),
        ("1e6", 1_000_000.0),
        ("1.0e-6", 1.0e-6),
        (".5", 0.5),
        ("01.5", "01.5"),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("", None),
        ("2027-01-01", dt.date(2027, 1, 1)),
        ("2027-01-01T10:00:00", "2027-01-01T10:00:00"),
        ("'12'", "12"),
        ('"true"', "true"),
        ("'null'", "null"),
        ("'2027-01-01'", "2027-01-01"),
        ("!!str 12", "12"),
    ],
)
def test_plain_scalars_follow_yaml_1_2(tmp_path: Path, scalar: str, expected: Any) -> None:
    value = _value(tmp_path, scalar)
    assert value == expected
    assert type(value) is type(expected)


def test_non_finite_floats_are_floats(tmp_path: Path) -> None:
    assert _value(tmp_path, ".inf") == math.inf
    assert _value(tmp_path, "-.inf") == -math.inf
    assert math.isnan(_value(tmp_path, ".nan"))


def test_impossible_date_is_rejected(tmp_path: Path) -> None:
    p = _only(_problems(tmp_path, "plan:\n  fiscal_year_start: 2027-02-30\n"), "not a valid date")
    assert (p.where, p.field, p.value) == (
        "line 2, column 22",
        "plan.fiscal_year_start",
        "2027-02-30",
    )


# --- rule 4: rejected inputs ------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_yaml(tmp_path / "nope.yaml")
    (p,) = info.value.problems
    assert "scenario file not found" in p.message
    assert "check the path" in p.message


def test_not_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, b"name: x\ndescription: caf\xe9\n")
    assert "not UTF-8" in p.message
    assert "byte offset 24" in p.message
    assert p.where == "line 2"


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    assert _load(tmp_path, b"\xef\xbb\xbfname: x\n").data == {"name": "x"}


def test_syntax_error_is_located(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, "name: x\nplan: a: b\n")
    assert p.where == "line 2, column 8"
    assert "mapping values are not allowed here" in p.message


def test_tab_indentation_hint(tmp_path: Path) -> None:
    (p,) = _problems(tmp_path, "plan:\n\tcurrency: EUR\n")
    assert p.where.startswith("line 2")
    assert "not tabs" in p.message


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    (p,) = _problems(tmp_path, text)
    assert p.message == "the scenario file is empty"


@pytest.mark.parametrize(("text", "what"), [("- a\n- b\n", "a list"), ("hello\n", "single value")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, what: str) -> None:
    (p,) = _problems(tmp_path, text)
    assert "top level must be a mapping" in p.message
    assert what in p.message
    assert p.where == "line 1, column 1"


def test_non_string_keys_are_rejected_but_yes_is_a_string(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "by_product:\n  1: x\n  true: y\n  yes: z\n")
    bad = [p for p in problems if "keys must be text" in p.message]
    assert [(p.where, p.field, p.value) for p in bad] == [
        ("line 2, column 3", "by_product", "1"),
        ("line 3, column 3", "by_product", "true"),
    ]
    assert _load(tmp_path, "yes: z\n'1': x\n").data == {"yes": "z", "1": "x"}


def test_anchors_and_aliases_are_allowed(tmp_path: Path) -> None:
    loaded = _load(tmp_path, "base: &b {min: 1, max: 2}\nother: *b\n")
    assert loaded.data == {"base": {"min": 1, "max": 2}, "other": {"min": 1, "max": 2}}
    assert loaded.data["other"] is not loaded.data["base"]
    assert loaded.locations[("other", "max")] == (1, 24)


def test_merge_keys_are_rejected(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "base: &b {min: 1}\nrules:\n  growth:\n    <<: *b\n")
    p = _only(problems, "merge keys")
    assert (p.where, p.field) == ("line 4, column 5", "rules.growth")
    assert "extends:" in p.message


def test_recursive_alias_is_rejected(tmp_path: Path) -> None:
    p = _only(_problems(tmp_path, "a: &x [1, *x]\n"), "refers to its own anchor")
    assert p.field == "a[1]"


@pytest.mark.parametrize("tagged", ["!!python/object:os.system {}", "!foo 1", "!!int 3"])
def test_custom_tags_are_rejected(tmp_path: Path, tagged: str) -> None:
    p = _only(_problems(tmp_path, f"name: x\nsolver: {tagged}\n"), "is not allowed")
    assert (p.where, p.field) == ("line 2, column 9", "solver")
    assert tagged.split()[0] in p.message


def test_all_problems_are_collected(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "a: 1\na: 2\n1: x\nb: !foo y\n")
    assert len(problems) == 3


# --- rule 5: dotted paths ---------------------------------------------------------------------


def test_dotted() -> None:
    assert dotted(("targets", "units", 2, "min")) == "targets.units[2].min"
    assert dotted(("name",)) == "name"
    assert dotted(()) == ""
    assert dotted(("by_product", "a.b")) == "by_product['a.b']"


# --- property: safe_dump round trip -----------------------------------------------------------

# safe_dump quotes strings that YAML 1.1 would read as other types, but writes strings that only
# YAML 1.2 reads as numbers ("1e6", "0E0": exponent without a dot) plain. Those are the one known
# gap, so they are filtered out; every other document must round-trip exactly.
_EXP_ONLY = re.compile(r"[-+]?[0-9._]*[eE][-+]?[0-9]+")
_TEXT = st.text(max_size=8).filter(lambda s: not _EXP_ONLY.fullmatch(s))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
    _TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, min_size=1, max_size=5))
def test_safe_dump_round_trip(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    path = tmp_path_factory.mktemp("rt") / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert load_yaml(path).data == data
