"""The planning cycle on the shipped example, from the CLI: solve → track → payout → evaluate →
next year's solve, with the shipped performance.csv reproduced byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from allocopt.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "example"


@pytest.mark.slow
def test_full_cycle_on_the_example(tmp_path: Path) -> None:
    cli = CliRunner()

    def ok(*args: str) -> str:
        res = cli.invoke(main, list(args))
        assert res.exit_code == 0, (args, res.output)
        return res.stdout

    base = tmp_path / "base"
    ok("solve", str(EXAMPLE / "incentives.yaml"), "--out", str(base), "--quiet", "--no-report")
    ok(
        "track",
        str(base),
        "--actuals",
        str(EXAMPLE / "data" / "actuals.csv"),
        "--out",
        str(tmp_path / "track"),
    )
    out = ok(
        "payout",
        str(base),
        "--actuals",
        str(EXAMPLE / "data" / "actuals.csv"),
        "--draws",
        "500",
        "--out",
        str(tmp_path / "pay"),
    )
    assert "P(payout > budget)" in out
    ev = tmp_path / "eval"
    out = ok(
        "evaluate",
        str(base),
        "--actuals",
        str(EXAMPLE / "data" / "actuals-full-year.csv"),
        "--out",
        str(ev),
    )
    assert "set up to fail" in out and "performance.csv" in out
    shipped = EXAMPLE / "data" / "performance.csv"
    assert (ev / "performance.csv").read_bytes() == shipped.read_bytes()
    nxt = tmp_path / "next"
    ok("solve", str(EXAMPLE / "next-year.yaml"), "--out", str(nxt), "--quiet", "--no-report")
    assert "no violations" in ok("verify", str(nxt))
    out = ok("explain", str(nxt), "--rep", "R0001")
    assert "reference: performance part" in out
