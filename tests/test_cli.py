"""The command line, through click's CliRunner: validate, schema, init, --version, --debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from allocopt import __version__
from allocopt.cli import main
from tests.plans import write_plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example" / "scenario.yaml"


def test_validate_example() -> None:
    result = CliRunner().invoke(main, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "valid" in out
    assert "rows per table" in out
    for table in ("org_units", "reps", "potential", "accounts", "seasonality"):
        assert table in out
    assert "targets per product" in out


def test_validate_json() -> None:
    result = CliRunner().invoke(main, ["validate", "--json", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["scenario"] == "example"
    assert data["rows"]["reps"] > 0
    assert set(data["products"]) == {"HW", "SW", "SVC"}
    assert isinstance(data["warnings"], list)


def test_schema_prints_json_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert "rules" in schema["properties"]
    assert "name" in schema["required"]


def test_init_writes_a_valid_project_and_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "proj"
    runner = CliRunner()
    result = runner.invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    scenarios = list(target.rglob("*.yaml"))
    assert len(scenarios) == 1
    check = runner.invoke(main, ["validate", str(scenarios[0])])
    assert check.exit_code == 0, check.output

    again = runner.invoke(main, ["init", str(target)])
    assert again.exit_code == 3, again.output
    assert "not empty" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.output

    forced = runner.invoke(main, ["init", "--force", str(target)])
    assert forced.exit_code == 0, forced.output


def test_init_into_an_empty_existing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
    assert "allocopt" in result.output


def test_debug_shows_a_traceback_plain_does_not(tmp_path: Path) -> None:
    path = write_plan(tmp_path, extra={"solver": {"threads": "two"}})
    runner = CliRunner()
    plain = runner.invoke(main, ["validate", str(path)])
    assert plain.exit_code == 2
    assert "solver.threads" in plain.stderr
    assert "Traceback" not in plain.output
    debug = runner.invoke(main, ["--debug", "validate", str(path)])
    assert debug.exit_code == 2
    assert "Traceback" in debug.stderr
    assert "solver.threads" in debug.stderr


def test_missing_scenario_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "scenario file not found" in result.stderr
    assert "Traceback" not in result.output


def test_markup_like_text_is_printed_verbatim(tmp_path: Path) -> None:
    # "[red]" looks like a rich style tag: the message must still show it as written
    path = write_plan(tmp_path, extra={"name": "[red]plan"})
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "name: may only contain letters" in result.stderr
    assert "(value '[red]plan')" in result.stderr


def test_init_project_solves_and_write_model_is_the_solved_model(tmp_path: Path) -> None:
    """`init` writes a project that solves; --write-model writes what HiGHS was given."""
    import highspy

    runner = CliRunner()
    proj = tmp_path / "plan"
    assert runner.invoke(main, ["init", str(proj)]).exit_code == 0
    mps = tmp_path / "model.mps"
    res = runner.invoke(
        main,
        [
            "solve",
            str(proj / "scenario.yaml"),
            "--out",
            str(tmp_path / "run"),
            "--write-model",
            str(mps),
            "--quiet",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    for path, stage in ((mps, "quotas"), (tmp_path / "model-alignment.mps", "alignment")):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        assert h.readModel(str(path)) == highspy.HighsStatus.kOk
        lp = h.getLp()
        assert (lp.num_row_, lp.num_col_) == (
            manifest["stages"][stage]["n_rows"],
            manifest["stages"][stage]["n_cols"],
        )


def test_validate_and_solve_show_applied_data_operations(tmp_path: Path) -> None:
    """Each data operation's effect (rows touched) is printed and recorded, like overrides."""
    runner = CliRunner()
    whatif = Path(__file__).resolve().parents[1] / "scenarios" / "example" / "whatif.yaml"
    res = runner.invoke(main, ["validate", str(whatif), "--scenario", "east_down", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert any("scale potential.potential ×0.85" in c for c in data["data_changes"])
    res = runner.invoke(
        main,
        [
            "solve",
            str(whatif),
            "--scenario",
            "east_down",
            "--out",
            str(tmp_path / "r"),
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "applied: operations[0] scale potential.potential ×0.85" in res.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["data_changes"] == data["data_changes"]


def test_python_m_allocopt_cli_has_every_command() -> None:
    """``python -m allocopt.cli`` (a real process, as the process tests use it) runs the same
    group as the console script: every command, including those registered last."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run(
        [sys.executable, "-m", "allocopt.cli", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    listed = {line.split()[0] for line in res.stdout.split("Commands:")[1].splitlines() if line}
    assert listed == set(main.commands)
    assert {"solve", "payout", "evaluate", "sweep", "serve", "init"} <= listed


def test_solve_quiet_prints_nothing_on_success(tmp_path: Path) -> None:
    """--quiet means only warnings and errors: no status line, no company totals table."""
    path = write_plan(tmp_path / "plan")
    loud = CliRunner().invoke(main, ["solve", str(path), "--out", str(tmp_path / "a"),
                                     "--no-report"])  # fmt: skip
    assert loud.exit_code == 0, loud.output
    assert "company totals" in loud.stdout and str(tmp_path / "a") in loud.stdout
    res = CliRunner().invoke(main, ["solve", str(path), "--out", str(tmp_path / "b"),
                                    "--no-report", "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.stdout == "" and res.stderr == ""
    assert (tmp_path / "b" / "quotas.csv").is_file()
