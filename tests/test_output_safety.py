"""Never lose a plan: --force guards, exclusive writes between real processes, signals, stale
temp folders, portable and sealed run folders (issue 9)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.compose import verify_run
from allocopt.errors import Interrupted, OutputError
from allocopt.outputs.runfolder import (
    STALE_AFTER,
    OutputClaim,
    RunFolder,
    _host,
    default_run_dir,
)
from allocopt.pipeline import run
from tests.plans import write_plan

SRC = Path(__file__).resolve().parents[1] / "src"
POSIX = pytest.mark.skipif(os.name != "posix", reason="signals and flock are POSIX")


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_frozen_leftovers() -> Iterator[None]:
    """Kill what a test started and left behind (a failing test may leave a SIGSTOPped solve)."""
    yield
    while _STARTED:
        p = _STARTED.pop()
        if p.poll() is None:
            p.kill()
            p.communicate()


def _cli(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """``python -m allocopt.cli ARGS`` as a real process (this checkout's sources first)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    if args and args[0] == "solve":
        args = (*args, "--no-report")  # the report is not what these tests are about
    p = subprocess.Popen(
        [sys.executable, "-m", "allocopt.cli", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _STARTED.append(p)
    return p


def _temps(parent: Path, name: str, pid: int | None = None) -> list[Path]:
    tag = f"{pid}-" if pid is not None else ""
    return sorted(parent.glob(f".{name}.{tag}*.tmp"))


def _freeze_when_claimed(p: subprocess.Popen[str], parent: Path, name: str | None = None) -> Path:
    """Wait until the process has claimed its output (its temp folder exists), then SIGSTOP it
    so it holds the claim mid-solve; return the temp folder."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = [
            t
            for t in parent.glob(f".*.{p.pid}-*.tmp")
            if name is None or t.name.startswith(f".{name}.")
        ]
        if found:
            # the claim is made under a lock on the parent; stop the process only once it
            # released it (holding the lock ourselves meanwhile), so others can still claim
            fd = os.open(parent, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.kill(p.pid, signal.SIGSTOP)
            finally:
                os.close(fd)
            return found[0]
        if p.poll() is not None:
            out, err = p.communicate()
            pytest.fail(f"the solve ended before its claim was seen: {p.returncode} {out} {err}")
        time.sleep(0.002)
    p.kill()
    pytest.fail("the solve never claimed its output")


def _resume(p: subprocess.Popen[str]) -> tuple[int, str, str]:
    os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def _digest(folder: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()
    }


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    return write_plan(tmp_path / "plan")


@pytest.fixture
def chdir_back() -> Iterator[None]:
    here = Path.cwd()
    yield
    os.chdir(here)


def _solve_cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["solve", *args, "--quiet", "--no-report"])
    return res.exit_code, res.output


# --- --force replaces only what allocopt wrote ---------------------------------------------------


def test_force_never_replaces_inputs_files_or_foreign_folders(
    plan: Path, tmp_path: Path, chdir_back: None
) -> None:
    root = plan.parent
    runs = tmp_path / "runs"
    good = runs / "good"
    assert _solve_cli(str(plan), "--out", str(good))[0] == 0
    before = _digest(root)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    (runs / "file.txt").write_text("mine")
    cases = {
        str(root / "data"): "input of this run",
        str(root): "input of this run",
        str(root / "data" / "reps.csv"): "is a file",
        str(runs / "file.txt"): "is a file",
        str(notes): "is not a run folder",
    }
    for out, why in cases.items():
        code, text = _solve_cli(str(plan), "--out", out, "--force")
        assert code == 3, text
        assert why in text and "Nothing was changed" in text, text
    assert _digest(root) == before
    assert (notes / "todo.txt").read_text() == "mine" and (runs / "file.txt").read_text() == "mine"
    # a run folder holding a file allocopt did not write is not replaced either
    (good / "my-notes.txt").write_text("mine")
    code, text = _solve_cli(str(plan), "--out", str(good), "--force")
    assert code == 3 and "did not write (my-notes.txt)" in text, text
    (good / "my-notes.txt").unlink()
    # nor the folder the command runs in
    os.chdir(good)
    code, text = _solve_cli(str(plan), "--out", str(good), "--force")
    assert code == 3 and "current working folder" in text, text
    os.chdir(tmp_path)
    # an allocopt run folder is replaced, leaving nothing behind
    assert _solve_cli(str(plan), "--out", str(good), "--force")[0] == 0
    assert verify_run(good).ok
    assert _hidden(runs) == [] and _hidden(root) == []


def test_other_commands_force_only_over_their_own_outputs(plan: Path, tmp_path: Path) -> None:
    root = plan.parent
    good = tmp_path / "good"
    assert _solve_cli(str(plan), "--out", str(good))[0] == 0
    before, run_before = _digest(root), _digest(good)
    act = root / "data" / "actuals.csv"
    act.write_text("rep_id,product,period,amount\nA,P,Q1,10\n")
    before = _digest(root)
    r = CliRunner()
    attempts = [
        ["track", str(good), "--actuals", str(act), "--out", str(good), "--force"],
        ["track", str(good), "--actuals", str(act), "--out", str(root / "data"), "--force"],
        ["export", str(good), "--format", "csv", "--out", str(root / "data"), "--force"],
        ["export", str(good), "--format", "csv", "--out", str(root), "--force"],
        ["report", str(good), "--out", str(plan), "--force"],
        ["report", str(good), "--out", str(root / "data"), "--force"],
        ["report", str(good), "--out", str(good / "extra.html")],
        ["compare", str(good), str(good), "--out", str(root / "data" / "reps.csv"), "--force"],
    ]
    for args in attempts:
        res = r.invoke(main, args)
        assert res.exit_code == 3, (args, res.output)
        assert "--force replaces only" in res.output or "never changed" in res.output, res.output
    assert _digest(root) == before and _digest(good) == run_before
    # each command still replaces its own earlier output
    trk, exp, rep, cmp = (tmp_path / n for n in ("trk", "exp", "r.html", "c.csv"))
    for args in (
        ["track", str(good), "--actuals", str(act), "--out", str(trk)],
        ["export", str(good), "--format", "csv", "--out", str(exp)],
        ["report", str(good), "--out", str(rep)],
        ["compare", str(good), str(good), "--out", str(cmp)],
    ):
        assert r.invoke(main, args).exit_code == 0
        again = r.invoke(main, [*args, "--force"])
        assert again.exit_code == 0, (args, again.output)


# --- exclusive writes between real processes ----------------------------------------------------


@POSIX
def test_two_solves_to_one_folder_started_together(plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "same"
    procs = [_cli("solve", str(plan), "--out", str(out), "--quiet") for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results
    loser = next(err for code, _, err in results if code == 3)
    assert "exists already" in loser or "being written by another allocopt process" in loser, loser
    assert verify_run(out).ok
    assert RunFolder.open(out).integrity() == []
    assert _hidden(out.parent) == []


@POSIX
def test_concurrent_force_the_second_exits_3(plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "plan"
    assert _solve_cli(str(plan), "--out", str(out))[0] == 0
    first = _cli(
        "solve", str(plan), "--out", str(out), "--force", "--set", "targets.by_product.P=600"
    )
    _freeze_when_claimed(first, out.parent, "plan")
    second = _cli(
        "solve", str(plan), "--out", str(out), "--force", "--set", "targets.by_product.P=700"
    )
    _, err2 = second.communicate(timeout=300)
    assert second.returncode == 3, err2
    assert f"being written by another allocopt process (PID {first.pid})" in err2
    code, _, err1 = _resume(first)
    assert code == 0, err1
    assert json.loads((out / "summary.json").read_text())["totals"]["P"]["quota"] == 600
    assert verify_run(out).ok and _hidden(out.parent) == []


@POSIX
def test_folder_created_while_solving_is_left_alone(plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "new"
    p = _cli("solve", str(plan), "--out", str(out), "--quiet")
    _freeze_when_claimed(p, out.parent, "new")
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    code, _, err = _resume(p)
    assert code == 3 and "created by another process while this one was working" in err, err
    assert [f.name for f in out.iterdir()] == ["mine.txt"]
    assert _hidden(out.parent) == []


@POSIX
def test_default_names_are_unique_across_processes(plan: Path) -> None:
    runs = plan.parent / "runs"
    first = _cli("solve", str(plan), "--quiet")
    runs.mkdir(exist_ok=True)
    _freeze_when_claimed(first, runs)
    second = _cli("solve", str(plan), "--quiet")
    assert second.wait(timeout=300) == 0, second.communicate()
    assert _resume(first)[0] == 0
    folders = sorted(p for p in runs.iterdir() if not p.name.startswith("."))
    assert len(folders) == 2
    assert all(verify_run(f).ok for f in folders)


def test_default_name_taken_in_the_same_second_gets_a_suffix(tmp_path: Path) -> None:
    import datetime as dt

    now = dt.datetime(2027, 1, 1, 9, 0, 0)
    name = default_run_dir(tmp_path, "plan", now)
    with OutputClaim(name, unique=True) as a, OutputClaim(name, unique=True) as b:
        assert a.target.name == "plan-20270101-090000"
        assert b.target.name == "plan-20270101-090000-2"
        a.commit({"x.txt": "a"})
        b.commit({"x.txt": "b"})
    assert (tmp_path / "plan-20270101-090000" / "x.txt").read_text() == "a"
    assert (tmp_path / "plan-20270101-090000-2" / "x.txt").read_text() == "b"
    with pytest.raises(OutputError, match="exists already"):
        OutputClaim(tmp_path / "plan-20270101-090000").__enter__()


# --- an infeasible --force keeps the plan -------------------------------------------------------


def test_infeasible_force_keeps_the_good_plan(plan: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    good = runs / "plan"
    assert _solve_cli(str(plan), "--out", str(good))[0] == 0
    kept = _digest(good)
    code, text = _solve_cli(
        str(plan), "--out", str(good), "--force", "--set", "targets.by_product.P=50000"
    )
    assert code == 1, text
    assert f"the plan in {good} was kept" in text
    assert _digest(good) == kept and verify_run(good).ok
    (diag,) = runs.glob("plan.infeasible-*")
    assert f"diagnosis written to {diag}" in text.replace("\n", "")
    assert (diag / "infeasible.txt").is_file() and not (diag / "quotas.csv").exists()
    # asked for explicitly, the diagnosis goes where the user says
    chosen = tmp_path / "why"
    code, text = _solve_cli(
        str(plan),
        "--out",
        str(good),
        "--force",
        "--diagnosis-out",
        str(chosen),
        "--set",
        "targets.by_product.P=50000",
    )
    assert code == 1 and (chosen / "infeasible.json").is_file() and _digest(good) == kept
    # a diagnosis folder itself may be replaced by the next diagnosis
    code, _ = _solve_cli(
        str(plan), "--out", str(diag), "--force", "--set", "targets.by_product.P=60000"
    )
    assert code == 1 and (diag / "infeasible.txt").is_file()


# --- signals and stale temp folders -------------------------------------------------------------


def test_interrupted_exit_codes() -> None:
    assert Interrupted(signal.SIGINT).exit_code == 130
    assert Interrupted(signal.SIGTERM).exit_code == 143
    assert "SIGTERM" in Interrupted(signal.SIGTERM).render()


@POSIX
def test_sigint_and_sigterm_during_a_solve_remove_the_temp_folder(
    plan: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    sigs = {"int": signal.SIGINT, "term": signal.SIGTERM}
    procs: dict[str, subprocess.Popen[str]] = {}
    for name in sigs:  # one at a time: a second solve left running meanwhile may finish first
        procs[name] = _cli("solve", str(plan), "--out", str(runs / name))
        assert _freeze_when_claimed(procs[name], runs, name).is_dir()
    for name, p in procs.items():
        os.kill(p.pid, sigs[name])
        code, _, err = _resume(p)
        assert code == 128 + sigs[name], err  # 130 and 143
        assert f"interrupted ({sigs[name].name})" in err
    assert not runs.joinpath("int").exists() and not runs.joinpath("term").exists()
    assert _hidden(runs) == []


@POSIX
def test_kill_9_leftovers_are_cleaned_by_the_next_write(plan: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    p = _cli("solve", str(plan), "--out", str(runs / "killed"))
    tmp = _freeze_when_claimed(p, runs, "killed")
    # started once the first is frozen, so its own claim is watched from the start (a tiny
    # solve may finish before a watcher busy with the other process sees its claim)
    live = _cli("solve", str(plan), "--out", str(runs / "slow"))  # alive, merely slow
    live_tmp = _freeze_when_claimed(live, runs, "slow")
    p.kill()
    p.wait()
    assert tmp.is_dir()  # kill -9 cannot clean up
    # a run folder set aside by a --force that was killed between its two renames
    run(plan, out=runs / "aside")
    aside = runs / f".aside.old-{p.pid}-{_host()}-0badc0de"
    (runs / "aside").rename(aside)
    run(plan, out=runs / "next1")
    assert tmp.is_dir() and aside.is_dir()  # too young: the grace period protects them
    old = time.time() - STALE_AFTER - 60
    for f in (tmp, aside, live_tmp):
        os.utime(f, (old, old))
    run(plan, out=runs / "next2")
    assert not tmp.exists() and not aside.exists()
    assert verify_run(runs / "aside").ok  # restored, not deleted
    assert live_tmp.is_dir()  # its owner still runs: never touched, however old
    assert _resume(live)[0] == 0 and verify_run(runs / "slow").ok
    assert _hidden(runs) == []


# --- run folders work from anywhere -------------------------------------------------------------


def test_run_folder_works_from_any_working_folder(
    plan: Path, tmp_path: Path, chdir_back: None
) -> None:
    root = plan.parent
    os.chdir(root)
    r = CliRunner()
    assert r.invoke(main, ["solve", "scenario.yaml", "--out", "runs/a", "--quiet"]).exit_code == 0
    rep = root / "replan.yaml"
    rep.write_text(
        "extends: scenario.yaml\nname: tiny-replan\nreplan:\n  published: runs/a\n  as_of: Q1\n"
    )
    os.chdir("/")
    run_a = root / "runs" / "a"
    res = r.invoke(main, ["solve", str(rep), "--out", str(root / "runs" / "b"), "--quiet"])
    assert res.exit_code == 0, res.output
    (root / "act.csv").write_text("rep_id,product,period,amount\nA,P,Q1,10\n")
    for args in (
        ["verify", str(run_a)],
        ["verify", str(root / "runs" / "b")],
        ["explain", str(run_a)],
        ["explain", str(run_a), "--rep", "A"],
        ["export", str(run_a), "--format", "xlsx", "--out", str(tmp_path / "x")],
        ["compare", str(run_a), str(root / "runs" / "b")],
        ["track", str(run_a), "--actuals", str(root / "act.csv")],
        ["report", str(run_a)],
    ):
        res = r.invoke(main, args)
        assert res.exit_code == 0, (args, res.output)
    # the whole project moved elsewhere: inputs are found relative to the run folder
    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(str(root), str(moved))
    for args in (
        ["verify", str(moved / "runs" / "a")],
        ["verify", str(moved / "runs" / "b")],
        ["explain", str(moved / "runs" / "a")],
    ):
        res = r.invoke(main, args)
        assert res.exit_code == 0, (args, res.output)
    # a changed input: located message naming the input, its path and the hashes (exit 2)
    reps = moved / "data" / "reps.csv"
    recorded = json.loads((moved / "runs" / "a" / "manifest.json").read_text())["inputs"]["reps"]
    reps.write_text(reps.read_text().replace("10000", "9000"))
    res = r.invoke(main, ["explain", str(moved / "runs" / "a")])
    assert res.exit_code == 2, res.output
    text = res.output.replace("\n", "")
    assert "inputs.reps" in text and "changed since the solve" in text and str(reps) in text
    assert recorded["sha256"][:12] in text
    # a moved input: exit 2, saying where it was looked for
    reps.unlink()
    res = r.invoke(main, ["verify", str(moved / "runs" / "a")])
    assert res.exit_code == 2 and "was moved or deleted" in res.output, res.output
    assert str(reps) in res.output.replace("\n", "")


# --- the run's own files are sealed -------------------------------------------------------------


@pytest.fixture
def sealed(plan: Path, tmp_path: Path) -> Path:
    out = tmp_path / "sealed"
    assert (
        CliRunner().invoke(main, ["solve", str(plan), "--out", str(out), "--quiet"]).exit_code == 0
    )
    return out


def _verify(folder: Path) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["verify", str(folder)])
    return res.exit_code, res.output


def test_manifest_records_hashes_and_portable_paths(sealed: Path) -> None:
    m = json.loads((sealed / "manifest.json").read_text())
    assert m["kind"] == "run"
    files = m["integrity"]["files"]
    assert set(files) == {p.name for p in sealed.iterdir()} - {"manifest.json"}
    assert "report.html" in files
    for rec in m["inputs"].values():
        assert (sealed / rec["rel_path"]).resolve() == Path(rec["abs_path"])
    assert _verify(sealed)[0] == 0


def test_verify_catches_a_coherent_edit_across_files(sealed: Path) -> None:
    # move 10 of quota from rep A to rep B consistently everywhere the rules can see it
    def shift(name: str, step: float = 10.0) -> None:
        path = sealed / name
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        for rep_id, delta in (("A", -step), ("B", step)):
            m = df["rep_id"] == rep_id
            df.loc[m, "quota"] = (df.loc[m, "quota"].astype(float) + delta).map(repr)
        df.to_csv(path, index=False, lineterminator="\n")

    shift("annual.csv")
    shift("reps.csv")
    shift("quotas.csv", 2.5)  # equal seasonality: a quarter of it in each period
    v = verify_run(sealed)
    assert v.violations.empty, v.violations.to_string()  # the rules alone cannot tell
    assert not v.ok
    assert {line.split(":")[0] for line in v.integrity} == {"annual.csv", "reps.csv", "quotas.csv"}
    code, out = _verify(sealed)
    assert code == 1 and "edited after the run was written" in out


def test_verify_catches_edits_to_settings_reports_and_added_files(sealed: Path) -> None:
    m = json.loads((sealed / "manifest.json").read_text())
    m["resolved_scenario"]["rules"]["potential"]["max_share"] = 2.0
    (sealed / "manifest.json").write_text(json.dumps(m, indent=2))
    code, out = _verify(sealed)
    assert code == 1 and "resolved_scenario edited" in out, out
    m["resolved_scenario"]["rules"]["potential"]["max_share"] = 1.0
    m["status"] = "optimal (checked by hand)"
    (sealed / "manifest.json").write_text(json.dumps(m, indent=2))
    code, out = _verify(sealed)
    assert code == 1 and "manifest.json: edited" in out and "resolved_scenario" not in out, out
    m["status"] = "optimal"
    (sealed / "manifest.json").write_text(json.dumps(m, indent=2))
    assert _verify(sealed)[0] == 0
    html = sealed / "report.html"
    html.write_text(html.read_text().replace("</main>", "<p>ok</p></main>"))
    code, out = _verify(sealed)
    assert code == 1 and "report.html: edited" in out
    html.unlink()
    (sealed / "extra.csv").write_text("x\n")
    code, out = _verify(sealed)
    assert code == 1 and "report.html: missing" in out and "extra.csv: added" in out


def test_old_manifests_stay_readable_with_a_note(sealed: Path) -> None:
    m = json.loads((sealed / "manifest.json").read_text())
    for key in ("integrity", "kind", "format"):
        del m[key]
    for rec in m["inputs"].values():
        del rec["rel_path"], rec["abs_path"]
    m["inputs"]["scenario"]["path"] = str(Path(m["inputs"]["scenario"]["path"]))
    (sealed / "manifest.json").write_text(json.dumps(m, indent=2))
    res = CliRunner().invoke(main, ["verify", str(sealed)])
    assert res.exit_code == 0, res.output
    assert "edits to its files cannot be detected" in res.stderr


def test_replan_refuses_an_edited_published_plan(sealed: Path, plan: Path) -> None:
    rep = plan.parent / "replan.yaml"
    rep.write_text(
        f"extends: scenario.yaml\nname: tiny-replan\nreplan:\n  published: {sealed}\n  as_of: Q1\n"
    )
    q = sealed / "quotas.csv"
    df = pd.read_csv(q, dtype=str)
    df.loc[0, "quota"] = "1"
    df.to_csv(q, index=False, lineterminator="\n")
    res = CliRunner().invoke(main, ["solve", str(rep), "--out", str(plan.parent / "rp")])
    assert res.exit_code == 2, res.output
    assert "published plan" in res.output and "quotas.csv: edited" in res.output


def test_init_force_never_changes_your_files(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    r = CliRunner()
    assert r.invoke(main, ["init", str(proj)]).exit_code == 0
    assert r.invoke(main, ["init", str(proj), "--force"]).exit_code == 0  # same files: fine
    reps = proj / "data" / "reps.csv"
    reps.write_text(reps.read_text() + "\n")
    mine = reps.read_bytes()
    res = r.invoke(main, ["init", str(proj), "--force"])
    assert (
        res.exit_code == 3 and "data/reps.csv" in res.output and "Nothing was written" in res.output
    )
    assert reps.read_bytes() == mine


@POSIX
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc (Linux)")
def test_a_pid_reused_by_another_program_does_not_keep_leftovers(tmp_path: Path) -> None:
    from allocopt.outputs.runfolder import clean_stale

    other = subprocess.Popen(["sleep", "60"])  # holds the dead writer's PID, say
    try:
        cmdline = Path(f"/proc/{other.pid}/cmdline")
        for _ in range(100):  # under load /proc can lag the exec: wait until it says `sleep`
            if cmdline.exists() and cmdline.read_bytes().startswith(b"sleep"):
                break
            time.sleep(0.05)
        left = tmp_path / f".r.{other.pid}-{_host()}-abc123.tmp"
        left.mkdir()
        old = time.time() - STALE_AFTER - 60
        os.utime(left, (old, old))
        assert clean_stale(tmp_path) == [f"removed {left} (left by a process that died)"]
        assert not left.exists()
    finally:
        other.kill()
        other.wait()
