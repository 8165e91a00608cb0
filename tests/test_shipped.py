"""Every shipped scenario works end to end from the CLI.

Feasible scenarios (and each named what-if of whatif.yaml) solve, verify independently, explain
(plan and one rep) and export; `infeasible-*` scenarios exit 1 with an explanation that names
units and numbers, written into the run folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from allocopt.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example"
FEASIBLE = sorted(p for p in EXAMPLE.glob("*.yaml") if "infeasible" not in p.name)
INFEASIBLE = sorted(EXAMPLE.glob("infeasible*.yaml"))


def _cases() -> list[tuple[Path, str | None]]:
    out: list[tuple[Path, str | None]] = [(p, None) for p in FEASIBLE]
    whatif = EXAMPLE / "whatif.yaml"
    if whatif.exists():
        names = yaml.safe_load(whatif.read_text()).get("scenarios", {})
        out += [(whatif, name) for name in sorted(names)]
    return out


def _id(case: tuple[Path, str | None]) -> str:
    path, name = case
    return path.stem + (f"[{name}]" if name else "")


def test_shipped_scenarios_are_found() -> None:
    assert {p.name for p in FEASIBLE} >= {"scenario.yaml", "whatif.yaml", "replan.yaml"}
    assert len(INFEASIBLE) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("case", _cases(), ids=_id)
def test_shipped_scenario_solves_verifies_explains(
    case: tuple[Path, str | None], tmp_path: Path
) -> None:
    path, name = case
    runner = CliRunner()
    run_dir = tmp_path / "run"
    args = ["solve", str(path), "--out", str(run_dir), "--quiet", "--no-report"]
    if name:
        args += ["--scenario", name]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["verify", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert "no violations" in res.output
    res = runner.invoke(main, ["explain", str(run_dir), "--json", "--no-resolve"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["target_prices"]
    rep = (run_dir / "reps.csv").read_text().splitlines()[1].split(",")[0]
    res = runner.invoke(main, ["explain", str(run_dir), "--rep", rep, "--json"])
    assert res.exit_code == 0, res.output
    parts = json.loads(res.output)
    assert sum(p["amount"] for p in parts["parts"]) == pytest.approx(parts["quota"], abs=0.01)
    for fmt in ("csv", "xlsx", "varicent", "salesforce", "xactly"):
        res = runner.invoke(
            main, ["export", str(run_dir), "--format", fmt, "--out", str(tmp_path / f"hr-{fmt}")]
        )
        assert res.exit_code == 0, (fmt, res.output)
        assert any((tmp_path / f"hr-{fmt}").iterdir())


@pytest.mark.parametrize("path", INFEASIBLE, ids=lambda p: p.stem)
def test_shipped_infeasible_scenario_explains_itself(path: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(main, ["solve", str(path), "--out", str(run_dir), "--quiet"])
    assert res.exit_code == 1, res.output
    assert "infeasible" in res.output
    # names a unit or rep and carries numbers
    assert re.search(r"(team|unit|rep|company)\b", res.output)
    assert re.search(r"\d[\d,.]*[Mk]?\b", res.output)
    diag = json.loads((run_dir / "infeasible.json").read_text())
    assert diag["findings"], diag
    assert (run_dir / "infeasible.txt").read_text().startswith("the ")
