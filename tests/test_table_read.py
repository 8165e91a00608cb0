"""Reading tables: cells padded with whitespace read exactly as unpadded ones, whichever path
(the fast C reader with its skip-the-strip test, or the strip) the file takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocopt.data.tables import SPECS, TableSource, _no_cell_whitespace, read_table

PLAIN = "account_id,rep_id,cost,workload\nA1,R1,1.5,1\nA1,R2,2,1\nA2,R1,0,2\n"


@pytest.mark.parametrize(
    "padded",
    [
        "account_id, rep_id ,cost,workload\n A1,R1 ,1.5,1\nA1,R2,2 , 1\nA2,R1,0,2\n",
        "account_id,rep_id,cost,workload\nA1\t,R1,1.5,1\nA1,R2,2,1\nA2,R1,0,2\n",
        "account_id,rep_id,cost,workload\nA1,\xa0R1,1.5,1\nA1,R2,2,1\nA2,R1,0,2\n",
        "account_id,rep_id,cost,workload\r\nA1,R1,1.5,1\r\nA1,R2,2,1\r\nA2,R1,0,2\r\n",
        'account_id,rep_id,cost,workload\n" A1",R1,1.5,1\nA1,R2,2,1\nA2,R1,0,2\n',
    ],
)
def test_padded_cells_read_as_plain_ones(tmp_path: Path, padded: str) -> None:
    (tmp_path / "plain.csv").write_text(PLAIN, encoding="utf-8")
    (tmp_path / "padded.csv").write_text(padded, encoding="utf-8", newline="")
    spec = SPECS["candidates"]
    plain = read_table(spec, TableSource(tmp_path / "plain.csv"))
    pad = read_table(spec, TableSource(tmp_path / "padded.csv"))
    assert plain.problems == [] and pad.problems == []
    assert plain.frame is not None and pad.frame is not None
    pd.testing.assert_frame_equal(plain.frame, pad.frame)
    assert list(pad.frame["account_id"]) == ["A1", "A1", "A2"]


def test_whitespace_test_says_bare_only_when_no_cell_can_be_padded() -> None:
    assert _no_cell_whitespace("a,b\n1,two words\n")
    assert _no_cell_whitespace("a,b\n1,Ärger und so\n")
    for text in (
        "a,b\n1, 2\n",
        "a,b\n1 ,2\n",
        "a,b\n 1,2\n",
        "a,b\n1,2 \n",
        "a,b\n1,2 ",
        " a,b\n1,2\n",
        "a,b\n1,2\t\n",
        "a,b\r\n1,2\r\n",
        "a,b\n1,2\xa0\n",
        "a,b\n1,Ä\u3000\n",
        'a,b\n1," 2"\n',
    ):
        assert not _no_cell_whitespace(text), repr(text)


# --- the pyarrow reader gives what the pandas / csv-module readers give ----------------------

TRICKY = {
    "quoted": 'account_id,rep_id,cost,workload\n"A1","R,1","1.5",1\n"A""2",R2,2,1\n',
    "bom": "\ufeffaccount_id,rep_id,cost,workload\nA1,R1,1.5,1\nA2,R2,2,1\n",
    "blank lines": "account_id,rep_id,cost,workload\n\nA1,R1,1.5,1\n,,,\nA2,R2,2,1\n\n",
    "leading zeros": "account_id,rep_id,cost,workload\n00123,007,0012.50,01\nNA,null,,\n",
    "crlf and padding": "account_id,rep_id,cost,workload\r\n A1 ,R1\t,1.5 ,1\r\nA2,\xa0R2,2,1\r\n",
    "text after a quote": 'account_id,rep_id,cost,workload\n"A"1,R1,1,1\nA2,R"2",2,1\n',
    "bad numbers": (
        'account_id,rep_id,cost,workload\nA1,R1,1 000,1\nA2,R1,"1,000",x\nA3,R1,inf,-nan\n'
        "A4,R1,1e3,+2\nA5,R1,-0,-0.0\nA6,R1,.5,5.\nA7,R1,2e13,-3\nA8,R1,1234567890123456,1\n"
    ),
    "duplicates and ranges": (
        "account_id,rep_id,cost,workload\nA1,R1,1,-1\nA1,R1,2,1\nA2,R1,3,-2\nA1,R1,4,1\n"
    ),
    "short record": "account_id,rep_id,cost,workload\nA1,R1\nA2,R2,2,1\n",
    "long record": "account_id,rep_id,cost,workload\nA1,R1,1,1,9\nA2,R2,2,1\n",
    "quoted line break": 'account_id,rep_id,cost,workload\n"A\n1",R1,1,1\nA2,R2,2,1\n',
    "unterminated quote": 'account_id,rep_id,cost,workload\n"A1,R1,1,1\nA2,R2,2,1\n',
    "only a header": "account_id,rep_id,cost,workload\n",
    "missing column": "account_id,rep,cost\nA1,R1,1\n",
    "unicode": "account_id,rep_id,cost,workload\nÄrger\u3000,R\u00e9,1.25,2\n",
}


def _both(tmp_path: Path, text: str, table: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    from allocopt.data import tables

    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8", newline="")
    spec = SPECS[table]
    arrow = read_table(spec, TableSource(path, label="t.csv"))
    with monkeypatch.context() as m:
        m.setattr(tables, "_read_csv_arrow", lambda _data, _text: None)
        other = read_table(spec, TableSource(path, label="t.csv"))
    return arrow, other


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_arrow_reader_gives_the_same_frame_and_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    arrow, other = _both(tmp_path, TRICKY[case], "candidates", monkeypatch)
    assert arrow.problems == other.problems
    assert arrow.complete == other.complete
    if other.frame is None:
        assert arrow.frame is None
        return
    assert arrow.frame is not None
    pd.testing.assert_frame_equal(arrow.frame, other.frame, check_exact=True)
    for col in arrow.frame.columns:  # the same Python types cell by cell (str stays str)
        assert list(map(type, arrow.frame[col])) == list(map(type, other.frame[col])), col
    assert list(np.signbit(arrow.frame["cost"])) == list(np.signbit(other.frame["cost"]))


def test_bad_numbers_are_located_on_their_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    arrow, _ = _both(tmp_path, TRICKY["bad numbers"], "candidates", monkeypatch)
    got = [(p.where, p.field, p.value) for p in arrow.problems]
    assert ("row 2", "cost", "1 000") in got
    assert ("row 3", "cost", "1,000") in got and ("row 3", "workload", "x") in got
    assert ("row 4", "cost", "inf") in got
    assert ("row 8", "cost", "2e13") in got  # too large
    assert not any(w in ("row 5", "row 6", "row 7") for w, _f, _v in got)


@pytest.mark.parametrize(
    "text",
    [
        "account_id,product,name,revenue,key,incumbent_rep\n"
        "A1,HW,x,1,TRUE,R1\nA2,HW,,2,no,\nA3,SW,y,3,Yes,R2\nA4,SW,,4,maybe,\nA5,SW,,5,,\n",
        "account_id,product,name,revenue,key,incumbent_rep\nA1,HW,x,1,TRUE,R1\nA2,HW,,2,ÿes,\n",
    ],
)
def test_arrow_reader_reads_bools_as_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    arrow, other = _both(tmp_path, text, "accounts", monkeypatch)
    assert arrow.problems == other.problems and arrow.problems
    assert arrow.frame is not None and other.frame is not None
    pd.testing.assert_frame_equal(arrow.frame, other.frame, check_exact=True)
    assert list(map(type, arrow.frame["key"])) == list(map(type, other.frame["key"]))


def test_dates_and_ranges_read_as_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    text = (
        "rep_id,team_id,fte,capacity,start_date,max_accounts\n"
        "R1,T1,1.0,100,2027-01-05,3\nR2,T1,0,-5,2027-1-5,2.5\nR3,T1,1.5,7,,\nR1,T2,0.5,1,x,\n"
    )
    arrow, other = _both(tmp_path, text, "reps", monkeypatch)
    assert arrow.problems == other.problems and len(arrow.problems) >= 6
    assert arrow.frame is not None and other.frame is not None
    pd.testing.assert_frame_equal(arrow.frame, other.frame, check_exact=True)


def test_vectorised_rules_give_pandera_s_problems() -> None:
    from allocopt.data.tables import ROW, _pandera_problems, _rule_problems

    spec = SPECS["reps"]
    frame = pd.DataFrame(
        {
            ROW: [2, 3, 4, 5, 6, 7],
            "rep_id": ["R1", "R2", "R1", "R3", "R2", "R1"],
            "fte": [1.0, 0.0, 1.5, np.nan, 0.5, -1.0],
            "capacity": [5.0, -1.0, np.nan, 0.0, -0.0, -3.0],
            "max_accounts": [np.nan, 2.0, -1.0, 0.0, 1.0, np.nan],
        }
    )
    present = [spec.col(c) for c in ("rep_id", "fte", "capacity", "max_accounts")]
    ours = _rule_problems(spec, present, frame, "reps.csv")
    assert ours == _pandera_problems(spec, present, frame, "reps.csv")
    assert [p.where for p in ours if p.field == "rep_id"] == ["row 4", "row 7", "row 6"]
