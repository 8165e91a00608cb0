"""Explanations that stay honest: figures on screen add up, prices say where they hold,
pre-checks state a maximum that is both valid and reachable, conflict lists speak business.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from allocopt.cli import main
from allocopt.results.explain import round_to_sum

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example, solved once for this module (no report)."""
    out = tmp_path_factory.mktemp("example") / "run"
    res = CliRunner().invoke(
        main,
        ["solve", str(EXAMPLE / "scenario.yaml"), "--out", str(out), "--quiet", "--no-report"],
    )
    assert res.exit_code == 0, res.output
    return out


# --- the text view of `explain --rep` adds up -------------------------------------------------

_NUM = re.compile(r"^[+-]?[\d,]+$")


def _table(output: str) -> tuple[list[int], int, int]:
    """(shown parts, shown quota row, quota in the title) parsed from the printed table."""
    title = re.search(r"quota ([\d,]+)", output.splitlines()[0])
    assert title, output
    parts: list[int] = []
    quota = None
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) != 2 or not _NUM.match(cells[1]):
            continue  # header, rules, or a wrapped label's continuation line
        value = int(cells[1].replace(",", ""))
        if cells[0] == "quota":
            quota = value
        else:
            parts.append(value)
    assert quota is not None and parts, output
    return parts, quota, int(title.group(1).replace(",", ""))


def test_shown_parts_add_up_to_the_shown_quota_for_every_rep(example_run: Path) -> None:
    """Every rep of the example: the printed parts sum exactly to the printed quota."""
    reps = pd.read_csv(example_run / "reps.csv", dtype={"rep_id": str})["rep_id"]
    runner = CliRunner()
    several = 0
    for rep in reps:
        out = runner.invoke(main, ["explain", str(example_run), "--rep", rep])
        assert out.exit_code == 0, out.output
        parts, quota, title = _table(out.output)
        assert sum(parts) == quota == title, (rep, parts, quota)
        several += len(parts) >= 3
    assert several > 10  # the check covers reps with several parts, not only trivial ones


@given(
    st.lists(st.floats(-1e7, 1e7, allow_nan=False), min_size=1, max_size=8),
    st.integers(0, 2),
)
def test_round_to_sum_keeps_the_total_and_moves_each_part_less_than_a_step(
    values: list[float], decimals: int
) -> None:
    total = sum(values)
    shown = round_to_sum(values, total, decimals)
    step = 10.0**-decimals
    assert round(sum(shown) * 10**decimals) == round(round(total, decimals) * 10**decimals)
    for v, s in zip(values, shown, strict=True):
        assert abs(v - s) < step + 1e-6 * max(1.0, abs(v))
