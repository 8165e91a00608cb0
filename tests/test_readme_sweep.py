"""The README's sweep section shows what the commands print today.

Its grid and plan-stress examples are re-run on the shipped example (the grid with
``--workers 1``: in this process, the same bytes as the default local cluster — tested in
tests/test_sweep_modes.py) and every printed line is compared with the README's, as are the
lines of the files it shows (``cut``/``cat``/``grep`` of the sweep folder). The progress bar
(stderr) is compared but for its times. The 50-draw Monte Carlo re-plan is not re-run here (about
20 s); its files are made by the same code as the grid's.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main

ROOT = Path(__file__).resolve().parents[1]
SECTION = ("A grid over named what-ifs", "## Speed and reference results")


def _commands() -> list[tuple[str, list[str]]]:
    """(command, the lines the README shows it printing) of the section's text blocks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION[0])
    section = text[start : text.index(SECTION[1], start)]
    out: list[tuple[str, list[str]]] = []
    for block in section.split("```text\n")[1:]:
        lines = block.split("```")[0].splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1
                continue
            cmd = lines[i][2:]
            while cmd.endswith("\\"):
                i += 1
                cmd = cmd[:-1].rstrip() + " " + lines[i].strip()
            i += 1
            shown = []
            while i < len(lines) and lines[i] and not lines[i].startswith("$ "):
                shown.append(lines[i])
                i += 1
            out.append((cmd.split("  #")[0].strip(), shown))
    return out


def _untimed(bar: str) -> str:
    return re.sub("━+", "━", re.sub(r"\d+:\d\d:\d\d", "H:MM:SS", bar))  # times, width


def test_the_readme_shows_what_the_sweep_commands_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    commands = _commands()
    assert len(commands) >= 8, commands
    checked = 0
    for cmd, shown in commands:
        argv = shlex.split(cmd)
        if argv[0] == "allocopt":
            if "--draws" in argv and "--plan" not in argv:
                continue  # the Monte Carlo re-plan: see the module docstring
            res = CliRunner().invoke(main, [*argv[1:], "--workers", "1"] if "--grid" in argv
                                     else argv[1:])  # fmt: skip
            assert res.exit_code == 0, res.output
            printed = res.stdout.splitlines()
            # the bar (stderr) as shown, but for its times
            bars = [x for x in res.output.splitlines() if x.startswith("sweep ")]
            shown_bars = [x for x in shown if x.startswith("sweep ━")]
            assert [_untimed(x) for x in bars[-1:]] == [_untimed(x) for x in shown_bars], cmd
            shown = [x for x in shown if not x.startswith("sweep ━")]
        else:
            folder = next(a for a in argv if a.startswith("runs/")).split("/")[1]
            if not Path("runs", folder).is_dir():
                continue  # a file of the skipped Monte Carlo sweep
            printed = subprocess.run(
                cmd, shell=True, check=True, capture_output=True, text=True
            ).stdout.splitlines()
        assert printed == shown, f"README: {cmd}"
        checked += 1
    assert checked >= 5
    # the statistics of the shown sweep.csv come rounded (no 0.06584299999999998)
    grid = pd.read_csv("runs/sweep-grid/sweep.csv", dtype=str)
    fair = [c for c in grid.columns if c.startswith("fairness_")]
    assert fair and all(len(v.partition(".")[2]) <= 6 for c in fair for v in grid[c])
