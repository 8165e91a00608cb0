"""Reading tables: cells padded with whitespace read exactly as unpadded ones, whichever path
(the fast C reader with its skip-the-strip test, or the strip) the file takes."""

from __future__ import annotations

from pathlib import Path

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
