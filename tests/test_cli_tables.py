"""Terminal tables never cut a number: at 80 (and 60) columns every rich table of track, compare,
explain and validate shows its numbers whole — columns get fixed widths, the style turns compact,
or low-priority columns are left out with a note — instead of rich's ellipsis (``37,191,0…``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocopt import cli
from allocopt.cli import main
from allocopt.compose import explain_rep, track

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example"
ACTUALS = EXAMPLE / "data" / "actuals.csv"
CUT = re.compile(r"[\d,.%]…|…[\d,.%]")  # an ellipsis touching a digit: a cut number


def _invoke(monkeypatch: pytest.MonkeyPatch, width: int, args: list[str]) -> str:
    monkeypatch.setattr(cli.console, "_width", width)
    monkeypatch.setattr(cli.err, "_width", width)
    result = CliRunner().invoke(main, args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    assert not CUT.search(result.output), CUT.search(result.output)
    rules = [line for line in result.output.splitlines() if set(line) & set("│┃─━")]
    assert rules and max(len(line) for line in rules) <= width  # tables fit; prose may wrap
    return result.output


@pytest.mark.parametrize("width", [80, 60])
def test_track_numbers_are_whole(
    monkeypatch: pytest.MonkeyPatch, example_run: Path, tmp_path: Path, width: int
) -> None:
    out = _invoke(
        monkeypatch,
        width,
        ["track", str(example_run), "--actuals", str(ACTUALS), "--out", str(tmp_path / "t")],
    )
    company = track(example_run, ACTUALS).summary["company"]
    for key in ("quota_to_date", "actual_to_date", "pacing"):
        assert f"{company[key]:,.0f}" in out, key
    if width == 80:  # the 80-column table keeps every column
        assert f"{company['forecast_seasonal']:,.0f}" in out
    else:
        assert "not shown at this width" in out


@pytest.mark.parametrize("width", [80, 60])
def test_compare_explain_validate_numbers_are_whole(
    monkeypatch: pytest.MonkeyPatch, example_run: Path, width: int
) -> None:
    published = EXAMPLE / "published"
    out = _invoke(monkeypatch, width, ["compare", str(example_run), str(published)])
    assert "159,028,000" in out  # the total quota of both runs
    out = _invoke(monkeypatch, width, ["explain", str(example_run), "--rep", "R0042"])
    for _, amount in explain_rep(example_run, "R0042").parts:
        assert f"{amount:+,.0f}" in out
    out = _invoke(monkeypatch, width, ["validate", str(EXAMPLE / "scenario.yaml")])
    assert "70,252,350" in out  # HW target with cushion
