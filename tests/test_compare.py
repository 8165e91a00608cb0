"""`allocopt compare`: two (or more) runs of the tiny plan with known differences.

The tiny plan (tests/plans.py) splits target 500 by potential 600 / 400: A = 300, B = 200.
Raising the target to 600 gives A = 360, B = 240, so the changes are +60 and +40 (+20% each).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import compare_runs
from tests.conftest import Solve
from tests.plans import write_plan

OVERRIDES = {
    "overrides": {
        "up": {"targets.by_product.P": 600},
        "lock": {"rules.key_accounts.locked": [{"account": "K1", "rep": "A"}]},
    }
}

KEY_ACCOUNTS = [
    {"account_id": "K1", "product": "P", "revenue": 100, "key": "true", "incumbent_rep": "A"},
    {"account_id": "K2", "product": "P", "revenue": 200, "key": "true", "incumbent_rep": "A"},
    {"account_id": "X1", "product": "P", "revenue": 50, "key": "false", "incumbent_rep": "B"},
]


@pytest.fixture
def runs(tmp_path: Path, solve: Solve) -> list[Path]:
    path = write_plan(tmp_path / "plan", extra=OVERRIDES)
    base = solve(path).run_dir
    up = solve(path, scenarios=["up"]).run_dir
    return [base, up]


def test_quota_changes_are_exact(runs: list[Path]) -> None:
    cmp = compare_runs(runs)
    a, b = (r.name for r in runs)
    assert cmp.runs == [a, b]
    q = cmp.quotas.set_index("rep_id")
    assert list(cmp.quotas.columns) == [
        "rep_id",
        "team_id",
        "region_id",
        "product",
        f"quota_{a}",
        f"quota_{b}",
        "change",
        "change_pct",
    ]
    assert q.loc["A", [f"quota_{a}", f"quota_{b}", "change", "change_pct"]].tolist() == [
        300.0,
        360.0,
        60.0,
        20.0,
    ]
    assert q.loc["B", "change"] == 40.0
    assert q.loc["B", "team_id"] == "T1" and q.loc["B", "region_id"] == "NORTH"
    team = cmp.by("team")
    assert team[["team_id", "product", "change"]].values.tolist() == [["T1", "P", 100.0]]
    company = cmp.by("company")
    assert company[[f"quota_{a}", f"quota_{b}", "change", "change_pct"]].values.tolist() == [
        [500.0, 600.0, 100.0, 20.0]
    ]
    assert cmp.by("region")["region_id"].tolist() == ["NORTH"]
    assert cmp.by("product")["change"].tolist() == [100.0]
    assert cmp.top_movers("rep", 1)["rep_id"].tolist() == ["A"]


def test_settings_inputs_and_changes(runs: list[Path]) -> None:
    cmp = compare_runs(runs)
    a, b = cmp.runs
    settings = cmp.settings.set_index("key")
    assert list(settings.index) == ["targets.by_product.P"]
    assert settings.loc["targets.by_product.P"].tolist() == ["500.0", "600.0"]
    assert cmp.inputs.empty  # same files
    assert cmp.changes == {a: [], b: ["targets.by_product.P: 500 -> 600 (override up)"]}
    assert cmp.overview.loc["total_quota"].tolist() == [500.0, 600.0]
    assert cmp.fairness.empty or list(cmp.fairness.columns) == [a, b]
    assert list(cmp.objective.columns) == [a, b]
    assert "deviation" in cmp.objective.index
    assert cmp.accounts.empty


def test_moved_accounts_and_changed_inputs(tmp_path: Path, solve: Solve) -> None:
    """Max one key account per rep with a 10% move cost: K1 (the cheaper) moves to B; locking
    K1 to A moves K2 instead. The second plan also has a different potential table."""
    extra: dict[str, Any] = {
        **OVERRIDES,
        "rules": {"key_accounts": {"enabled": True, "max_accounts": 1, "move_cost": 0.1}},
    }
    path = write_plan(tmp_path / "plan", tables={"accounts": KEY_ACCOUNTS}, extra=extra)
    first = solve(path).run_dir
    second = solve(path, scenarios=["lock"]).run_dir
    pot = path.parent / "data" / "potential.csv"
    pot.write_text(pot.read_text(encoding="utf-8").replace("400", "500"), encoding="utf-8")
    third = solve(path, scenarios=["lock"]).run_dir
    cmp = compare_runs([first, second, third])
    a, b, c = cmp.runs
    acc = cmp.accounts.set_index("account_id")
    assert acc[[f"owner_{a}", f"owner_{b}", f"owner_{c}"]].values.tolist() == [
        ["B", "A", "A"],
        ["A", "B", "B"],
    ]
    assert acc["revenue"].tolist() == [100.0, 200.0]
    assert cmp.settings["key"].tolist() == ["rules.key_accounts.locked"]
    assert cmp.settings[b].tolist() == ['[{"account": "K1", "rep": "A"}]']
    assert cmp.inputs["input"].tolist() == ["potential"]
    # more than two runs: one change column per later run
    cols = list(cmp.quotas.columns)
    assert cols[-4:] == [f"change_{b}", f"change_pct_{b}", f"change_{c}", f"change_pct_{c}"]
    assert cmp.change_column == f"change_{c}"


def test_cli_tables_csv_and_json(runs: list[Path], tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["compare", *map(str, runs)])
    assert res.exit_code == 0, res.output
    out = res.stdout
    for text in ("top 2 movers by rep", "settings that differ", "targets.by_product.P", "+60"):
        assert text in out, out
    assert "applied targets.by_product.P: 500 -> 600 (override up)" in out

    csv = tmp_path / "cmp.csv"
    res = runner.invoke(main, ["compare", *map(str, runs), "--out", str(csv)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(csv, dtype={"rep_id": str})
    a, b = (r.name for r in runs)
    assert list(df.columns) == [
        "rep_id",
        "team_id",
        "region_id",
        "product",
        f"quota_{a}",
        f"quota_{b}",
        "change",
        "change_pct",
    ]
    assert df["change"].tolist() == [60.0, 40.0]
    again = runner.invoke(main, ["compare", *map(str, runs), "--out", str(csv)])
    assert again.exit_code == 3 and "--force" in again.stderr
    forced = runner.invoke(main, ["compare", *map(str, runs), "--out", str(csv), "--force"])
    assert forced.exit_code == 0, forced.output

    res = runner.invoke(main, ["compare", *map(str, runs), "--json", "--by", "team"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["level"] == "team"
    assert data["quotas"][0]["change"] == 100.0
    assert data["settings"] == [{"key": "targets.by_product.P", a: "500.0", b: "600.0"}]


def test_bad_run_folders_exit_2(runs: list[Path], tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["compare", str(runs[0])])
    assert res.exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(main, ["compare", str(runs[0]), str(empty), str(tmp_path / "nope")])
    assert res.exit_code == 2, res.output
    assert "annual.csv: file not found" in res.stderr
    assert "run folder not found" in res.stderr
    assert "Traceback" not in res.output
