"""Numbers, dates and files at the edge: documented maxima, Excel formulas without values,
delimiters, capped error lists, cut cells, deep YAML — and never a RuntimeWarning."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.data.checks import MAX_PER_COLUMN
from allocopt.data.tables import MAX_ABS, SPECS, TableSource, clip, read_table
from allocopt.errors import InputError
from allocopt.pipeline import validate
from allocopt.scenario.schema import MAX_AMOUNT, Scenario
from allocopt.scenario.strict_yaml import load_yaml
from tests.plans import BASE_TABLES, write_plan

CORPUS = Path(__file__).parent / "bad_inputs"
SRC = Path(__file__).parents[1] / "src"


def _rep(rep_id: str, **kw: Any) -> dict[str, Any]:
    row = dict(BASE_TABLES["reps"][0])
    row.update(rep_id=rep_id, **kw)
    return row


def _problems(path: Path, *args: str) -> list[str]:
    with pytest.raises(InputError) as info:
        validate(path, sets=args) if args else validate(path)
    return [str(p) for p in info.value.problems]


# ---- no RuntimeWarning, whatever the input -----------------------------------------------------


def test_no_runtime_warning_on_any_bad_input() -> None:
    cases = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for case in cases:
            with pytest.raises(InputError):
                validate(case / "scenario.yaml")
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not runtime, [f"{w.filename}:{w.lineno}: {w.message}" for w in runtime]


def test_largest_amounts_solve_with_a_clean_stderr(tmp_path: Path) -> None:
    """The documented maximum end to end in a real process: exit 0, nothing on stderr."""
    pot = [
        {"rep_id": "A", "product": "P", "potential": MAX_ABS},
        {"rep_id": "B", "product": "P", "potential": 5e-324},  # the smallest float there is
    ]
    reps = [_rep("A", capacity=MAX_ABS), _rep("B", capacity=MAX_ABS)]
    path = write_plan(
        tmp_path,
        tables={"potential": pot, "reps": reps},
        extra={"targets": {"by_product": {"P": MAX_AMOUNT}}},
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-W", "error::RuntimeWarning", "-m", "allocopt.cli", "solve"]
    proc = subprocess.run(
        [*cmd, str(path), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


# ---- magnitudes ----------------------------------------------------------------------------------


def test_table_numbers_above_the_maximum_are_located(tmp_path: Path) -> None:
    pot = [
        {"rep_id": "A", "product": "P", "potential": "1e300"},
        {"rep_id": "B", "product": "P", "potential": "10000000000000"},  # exactly 1e13: fine
    ]
    path = write_plan(tmp_path, tables={"potential": pot})
    (msg,) = _problems(path)
    assert msg.startswith("data/potential.csv:row 2: potential: is too large")
    assert "at most 1e13" in msg and "(value '1e300')" in msg


def test_scenario_amounts_and_ratios_have_maxima(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    msgs = _problems(
        path,
        "targets.by_product.P=2e13",
        "rules.floors.by_role.rep=1e300",
        "rules.growth.max=1e7",
        "objective.weights.deviation=1e300",
    )
    joined = "\n".join(msgs)
    for key in (
        "targets.by_product.P",
        "rules.floors.by_role.rep",
        "rules.growth.max",
        "objective.weights.deviation",
    ):
        assert f"--set: {key}: is too large" in joined, joined
    by_product = Scenario.model_json_schema()["$defs"]["Targets"]["properties"]["by_product"]
    (amount,) = by_product["patternProperties"].values()
    assert amount["maximum"] == MAX_AMOUNT == 1e13


def test_scale_overflow_through_set_is_rejected_at_the_operation(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    op = "operations=[{op: scale, table: potential, column: potential, factor: 1e13}]"
    (msg,) = _problems(path, op)
    assert "operations[0].factor: potential.potential would be 6e+15 on row 2" in msg
    assert "must be at most 1e13" in msg


def test_set_value_must_be_in_range_and_an_iso_date(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    msgs = _problems(
        path,
        "operations=[{op: set, table: reps, column: capacity, value: 1e300},"
        " {op: set, table: reps, column: end_date, value: '20271231'}]",
    )
    assert any("operations[0].value: reps.capacity must be at most 1e13" in m for m in msgs)
    assert any("operations[1].value: reps.end_date is a date; write YYYY-MM-DD" in m for m in msgs)


def test_leaver_potential_goes_to_a_rep_with_almost_none_without_overflow(tmp_path: Path) -> None:
    """need / have overflows when the remaining rep's potential is subnormal; the share is
    computed without it: B ends with 1e13 (+ 5e-324), finite."""
    pot = [
        {"rep_id": "A", "product": "P", "potential": MAX_ABS},
        {"rep_id": "B", "product": "P", "potential": 5e-324},
    ]
    path = write_plan(
        tmp_path,
        tables={"potential": pot},
        extra={"operations": [{"op": "remove_reps", "reps": ["A"]}]},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v = validate(path)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert v.dataset["potential"]["potential"].tolist() == [MAX_ABS]


# ---- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [29, 30, 31])
def test_fiscal_year_cannot_start_after_the_28th(tmp_path: Path, day: int) -> None:
    path = write_plan(tmp_path)
    (msg,) = _problems(path, f"plan.fiscal_year_start=2027-03-{day}")
    assert "plan.fiscal_year_start: a fiscal year must start on day 1–28 of a month" in msg
    assert "use 2027-03-28 or the 1st of the next month" in msg


def test_fiscal_year_on_the_28th_is_fine(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    assert validate(path, sets=("plan.fiscal_year_start=2027-02-28",)).md is not None


def test_dates_must_be_zero_padded(tmp_path: Path) -> None:
    reps = [_rep("A", start_date="2027-4-5"), _rep("B", end_date="2027-12-31")]
    path = write_plan(tmp_path, tables={"reps": reps})
    (msg,) = _problems(path)
    assert msg == (
        "data/reps.csv:row 2: start_date: must be a date written YYYY-MM-DD, with a two-digit "
        "month and day: 2027-04-05 (value '2027-4-5')"
    )


# ---- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab")])
def test_delimiter_is_named(tmp_path: Path, sep: str, name: str) -> None:
    path = write_plan(tmp_path)
    reps = tmp_path / "data" / "reps.csv"
    reps.write_text(reps.read_text(encoding="utf-8").replace(",", sep), encoding="utf-8")
    (msg,) = _problems(path)
    assert msg.startswith(f"data/reps.csv:line 1: the file looks {name}-delimited")
    assert "save it as CSV (comma delimited)" in msg


def _workbook(path: Path, rows: list[list[Any]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "reps"
    for r in rows:
        ws.append(r)
    wb.save(path)


_REPS_HEADER = ["rep_id", "team_id", "role", "fte", "capacity", "ly_actual"]


def test_formula_without_a_cached_value_is_reported_at_its_cell(tmp_path: Path) -> None:
    book = tmp_path / "reps.xlsx"
    _workbook(
        book,
        [_REPS_HEADER, ["A", "T1", "rep", 1, 10000, "=E2*0.9"], ["B", "T1", "rep", 1, "=E2", None]],
    )
    res = read_table(SPECS["reps"], TableSource(book, "reps", "reps.xlsx[reps]"))
    assert [str(p) for p in res.problems] == [
        "reps.xlsx[reps]:row 2: ly_actual: cell F2 is a formula without a value: open and save "
        "the file in Excel (or LibreOffice), or paste the values (value '=E2*0.9')",
        "reps.xlsx[reps]:row 3: capacity: cell E3 is a formula without a value: open and save "
        "the file in Excel (or LibreOffice), or paste the values (value '=E2')",
    ]


def test_formula_whose_saved_value_is_empty_text_is_blank(tmp_path: Path) -> None:
    """Excel saves =IF(..., "", ...) as t="str" with an empty <v>: a real blank, not reported."""
    book = tmp_path / "reps.xlsx"
    _workbook(book, [_REPS_HEADER, ["A", "T1", "rep", 1, 10000, '=IF(E2>1,"",1)']])
    with zipfile.ZipFile(book) as z:
        files = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert b'<c r="F2"><f>' in files[sheet]
    files[sheet] = files[sheet].replace(b'<c r="F2"><f>', b'<c r="F2" t="str"><f>')
    with zipfile.ZipFile(book, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    res = read_table(SPECS["reps"], TableSource(book, "reps"))
    assert res.problems == []
    assert res.frame is not None and res.frame["ly_actual"].isna().all()


def test_problems_are_capped_per_column_with_a_count(tmp_path: Path) -> None:
    n = 500
    reps = [_rep(f"R{i:03d}", capacity="n/a") for i in range(n)]
    pot = [{"rep_id": f"R{i:03d}", "product": "P", "potential": 1} for i in range(n)]
    acc = [dict(BASE_TABLES["accounts"][0], incumbent_rep="R000")]
    path = write_plan(tmp_path, tables={"reps": reps, "potential": pot, "accounts": acc})
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("  - ")]
    assert len(lines) == MAX_PER_COLUMN + 1
    assert result.stderr.startswith(f"error: {n} problems in the input")
    assert lines[-1] == (
        f"  - data/reps.csv:row {MAX_PER_COLUMN + 2}: capacity: … and {n - MAX_PER_COLUMN} more "
        f"problems in column capacity (row {MAX_PER_COLUMN + 2} to {n + 1}); fix the ones above "
        "and run allocopt validate again"
    )


def test_a_huge_cell_is_cut_in_messages(tmp_path: Path) -> None:
    huge = "9" * 5_000_000 + "x"
    pot = [
        {"rep_id": "A", "product": "P", "potential": huge},
        {"rep_id": "Z" * 100_000, "product": "P", "potential": 1},
    ]
    path = write_plan(tmp_path, tables={"potential": pot})
    msgs = _problems(path)
    assert len(msgs) == 2 and all(len(m) < 600 for m in msgs), [len(m) for m in msgs]
    assert f"(value '{'9' * 80}… (5,000,001 characters)')" in msgs[0]
    assert "… (100,000 characters)" in msgs[1]
    assert clip(clip(huge)) == clip(huge)


# ---- YAML nesting --------------------------------------------------------------------------------


def test_yaml_nested_too_deeply_is_located(tmp_path: Path) -> None:
    f = tmp_path / "deep.yaml"
    f.write_text("name: x\nplan:\n  a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_yaml(f)
    (p,) = info.value.problems
    assert p.where == "line 3, column 104"  # the 101st level: root, plan, then 99 brackets in
    assert "nested too deeply" in p.message


def test_yaml_alias_nesting_too_deeply_is_located(tmp_path: Path) -> None:
    f = tmp_path / "alias.yaml"
    f.write_text(
        "name: x\na: &d " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*d" + "]" * 60 + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_yaml(f)
    (p,) = info.value.problems
    assert p.where.startswith("line 2, column ")
    assert "nested too deeply" in p.message


def test_validate_table_never_cuts_the_largest_amounts(tmp_path: Path) -> None:
    pot = [{"rep_id": r, "product": "P", "potential": MAX_ABS} for r in ("A", "B")]
    reps = [_rep("A", capacity=MAX_ABS), _rep("B", capacity=MAX_ABS)]
    path = write_plan(
        tmp_path,
        tables={"potential": pot, "reps": reps},
        extra={"targets": {"by_product": {"P": MAX_AMOUNT}}},
    )
    result = CliRunner().invoke(main, ["validate", str(path)], terminal_width=80)
    assert result.exit_code == 0, result.output
    row = next(ln for ln in result.stdout.splitlines() if ln.lstrip("│ ").startswith("P "))
    assert "…" not in result.stdout
    shown = row.count("20,000,000,000,000")
    assert row.count("10,000,000,000,000") == 2 and shown >= 1, row
    # a column that does not fit is left out whole, and the table says so
    assert shown == 2 or "not shown at this width: effective base" in result.stdout
