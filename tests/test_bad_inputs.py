"""The bad-input corpus: every folder of tests/bad_inputs/ must be rejected with located messages.

Each folder holds a small complete scenario (scenario.yaml + data/) with one kind of mistake and
an ``expected.txt``: one substring per line that ``allocopt validate`` must print on stderr.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.errors import InputError
from allocopt.pipeline import validate
from tests.plans import write_plan

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())

# every expected line names a place: a scenario line/column, a table row/line, or the count
_LOCATED = re.compile(
    r"scenario\.yaml:line \d+, column \d+: |\.(csv|xlsx)(\[[^\]]+\])?:(row|line) \d+: "
    r"|^\d+ problems? in the input$"
)


def _expected(case: Path) -> list[str]:
    text = (case / "expected.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    names = [c.name.split("-", 1)[1] for c in CASES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_bad_input_is_reported(case: Path) -> None:
    expected = _expected(case)
    assert expected, f"{case.name}/expected.txt is empty"
    assert any(_LOCATED.search(line) for line in expected), expected
    result = CliRunner().invoke(main, ["validate", str(case / "scenario.yaml")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    missing = [line for line in expected if line not in result.stderr]
    assert not missing, f"not printed: {missing}\n--- stderr:\n{result.stderr}"


def test_several_problems_in_one_file_are_all_reported() -> None:
    case = next(c for c in CASES if c.name.endswith("several-problems-one-file"))
    with pytest.raises(InputError) as info:
        validate(case / "scenario.yaml")
    problems = info.value.problems
    assert len(problems) == 6
    assert {p.file for p in problems} == {"data/reps.csv"}
    assert all(p.where.startswith("row ") and p.field for p in problems)


def test_debug_shows_traceback_only_when_asked() -> None:
    case = CASES[0] / "scenario.yaml"
    plain = CliRunner().invoke(main, ["validate", str(case)])
    debug = CliRunner().invoke(main, ["--debug", "validate", str(case)])
    assert plain.exit_code == debug.exit_code == 2
    assert "Traceback" not in plain.output
    assert "Traceback" in debug.stderr


def test_odd_ids_survive(tmp_path: Path) -> None:
    rep = {"team_id": "T1", "role": "rep", "fte": 1, "capacity": 10000}
    path = write_plan(
        tmp_path,
        tables={
            "reps": [{"rep_id": "00123", **rep}, {"rep_id": "NA", **rep}],
            "potential": [
                {"rep_id": "00123", "product": "P", "potential": 600},
                {"rep_id": "NA", "product": "P", "potential": 400},
            ],
            "accounts": [
                {
                    "account_id": "007",
                    "product": "P",
                    "revenue": 50,
                    "key": "false",
                    "incumbent_rep": "NA",
                }
            ],
        },
    )
    v = validate(path)
    assert v.md.rep_ids == ("00123", "NA")
    assert list(v.dataset["accounts"]["account_id"]) == ["007"]
    assert list(v.dataset["accounts"]["incumbent_rep"]) == ["NA"]


def test_utf8_bom_csv_and_yaml_are_accepted(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    for f in (tmp_path / "data" / "reps.csv", path):
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert validate(path).md.rep_ids == ("A", "B")
