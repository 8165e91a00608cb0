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


@pytest.mark.slow
def test_payout_from_the_sweep_on_the_example(tmp_path: Path) -> None:
    """The shipped uncertainty.yaml stresses the incentives plan: the sweep prices its own draws
    (folder, report, terminal), `payout --sweep` gives the same company numbers from the kept
    draws, and a grid over the cushion gives a falling payout and share at quota."""
    import json

    import pandas as pd

    cli = CliRunner()

    def ok(*args: str) -> str:
        res = cli.invoke(main, list(args))
        assert res.exit_code == 0, (args, res.output)
        return res.stdout

    base = tmp_path / "base"
    ok("solve", str(EXAMPLE / "incentives.yaml"), "--out", str(base), "--quiet", "--no-report")
    stress = tmp_path / "stress"
    out = ok(
        "sweep", str(EXAMPLE / "uncertainty.yaml"), "--plan", str(base), "--draws", "100",
        "--seed", "1", "--out", str(stress), "--quiet",
    )  # fmt: skip
    assert "expected variable pay" in out and "P(payout > budget)" in out
    pay = json.loads((stress / "manifest.json").read_text())["summary"]["payout"]
    assert pay["payout_p10"] <= pay["payout_p50"] <= pay["payout_p90"]
    assert 0 < pay["expected_share_at_or_above_quota"] < 1
    assert "Variable pay over the same draws" in (stress / "report.html").read_text()
    again = tmp_path / "again"
    ok("payout", str(base), "--sweep", str(stress), "--out", str(again))
    summary = json.loads((again / "summary.json").read_text())
    for k in ("expected_payout", "payout_p10", "payout_p90", "p_over_budget"):
        assert summary[k] == pay[k], k
    grid = tmp_path / "cushion"
    ok(
        "sweep", str(EXAMPLE / "incentives.yaml"), "--grid", "targets.over_assignment=0,0.1",
        "--workers", "1", "--out", str(grid), "--quiet",
    )  # fmt: skip
    d = pd.read_csv(grid / "sweep.csv").set_index("targets.over_assignment")
    assert d.loc[0.1, "payout_expected"] < d.loc[0.0, "payout_expected"]
    assert d.loc[0.1, "payout_share_at_quota"] < d.loc[0.0, "payout_share_at_quota"]
