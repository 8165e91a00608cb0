"""``allocopt report``: one self-contained HTML file with embedded charts, checked as text and,
when Chromium is installed, rendered headless to a non-blank screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import track, write_track
from allocopt.outputs.report import SECTIONS, write_report
from allocopt.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example" / "scenario.yaml"
EXAMPLE_ACTUALS = ROOT / "scenarios" / "example" / "data" / "actuals.csv"

IMG = re.compile(r'<img[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"')
NETWORK = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The example solved once, with a track folder of its Q1 actuals."""
    root = tmp_path_factory.mktemp("example")
    res = run(EXAMPLE, out=root / "run")
    trk = write_track(track(res.run_dir, EXAMPLE_ACTUALS), root / "track")
    return res.run_dir, trk


def test_report_is_self_contained(example: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, trk = example
    path = write_report(run_dir, tmp_path / "report.html", track_dir=trk)
    text = path.read_text(encoding="utf-8")
    for key in ("headline", "teams", "difficulty", "rollups", "moves", "phasing", "attainment"):
        assert f"<h2>{SECTIONS[key]}</h2>" in text, key
    assert SECTIONS["replan"] not in text  # not a re-plan
    assert len(IMG.findall(text)) >= 5
    assert not NETWORK.search(text), NETWORK.search(text)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "@import" not in text and "url(" not in text
    assert "70,252,000" in text  # HW quota with thousands separators
    # the same run gives the same bytes
    again = write_report(run_dir, tmp_path / "again.html", track_dir=trk)
    assert again.read_bytes() == path.read_bytes()


def test_report_cli_default_path_and_no_overwrite(example: tuple[Path, Path]) -> None:
    run_dir, _ = example
    runner = CliRunner()
    assert (run_dir / "report.html").is_file()  # solve writes it inside the run folder
    first = runner.invoke(main, ["report", str(run_dir)])
    assert first.exit_code == 0, first.output
    html = run_dir.with_name(f"{run_dir.name}-report.html")  # re-renders go beside the run
    assert html.is_file()
    text = html.read_text(encoding="utf-8")
    assert len(IMG.findall(text)) >= 4
    assert SECTIONS["attainment"] not in text
    second = runner.invoke(main, ["report", str(run_dir)])
    assert second.exit_code == 3, second.output
    assert "--force" in second.stderr
    assert runner.invoke(main, ["report", str(run_dir), "--force"]).exit_code == 0
    html.unlink()


def test_report_old_vs_new_for_a_replan(example: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, _ = example
    copy = tmp_path / "replan"
    shutil.copytree(run_dir, copy)
    annual = pd.read_csv(copy / "annual.csv", dtype={"rep_id": str})
    annual.loc[annual["rep_id"] == "R0001", "quota"] += 5000
    (copy / "previous").mkdir()
    annual.to_csv(copy / "previous" / "annual.csv", index=False)
    text = write_report(copy, tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"<h2>{SECTIONS['replan']}</h2>" in text
    assert "1 of 100 reps" in text
    assert "-15,000" in text  # R0001 lost 3 × 5,000 against the "previous" plan


def test_report_missing_run_folder_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2, result.output


def test_report_renders_in_headless_chromium(example: tuple[Path, Path], tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian packages chromium, chromium-driver)")
    run_dir, trk = example
    path = write_report(run_dir, tmp_path / "report.html", track_dir=trk)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            path.resolve().as_uri(),
        ],
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert shot.is_file() and shot.stat().st_size > 0
    import matplotlib.image as mpimg

    pixels = mpimg.imread(str(shot))
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    assert float(pixels[..., :3].std()) > 0.02  # not a blank page
