"""Results run on frames: no results function opens a run folder (the composition layer,
allocopt.compose, reads it through outputs.runfolder and hands the tables in)."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from allocopt.data.tables import ROW
from allocopt.errors import InputError
from allocopt.results.compare import ComparedRun, compare
from allocopt.results.explain import explain_rep
from allocopt.results.run import RunTables
from allocopt.results.track import Actuals, track_of

SRC = Path(__file__).resolve().parent.parent / "src" / "allocopt"

#: Calls that read a file. results/ makes none; data/ reads the user's input tables only.
_READS = {"read_csv", "read_parquet", "read_excel", "read_text", "read_bytes", "open", "load"}
#: The files of a run folder: data/ never names one (it gets the published plan as frames).
_RUN_FILES = {
    "manifest.json",
    "annual.csv",
    "quotas.csv",
    "assignments.csv",
    "binding.csv",
    "rollups.csv",
    "reps.csv",
    "summary.json",
}


def _calls(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            )
            if name in _READS:
                out.append((node.lineno, name))
    return out


def test_results_modules_read_no_files() -> None:
    bad = []
    for p in sorted((SRC / "results").rglob("*.py")):
        rel = p.relative_to(SRC / "results").as_posix()
        bad += [f"results/{rel}:{line} {name}()" for line, name in _calls(p)]
    assert not bad, "results functions must take frames, not read files:\n" + "\n".join(bad)


def test_data_modules_name_no_run_file() -> None:
    bad = []
    for p in sorted((SRC / "data").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in _RUN_FILES:
                bad.append(f"data/{p.name}:{node.lineno} {node.value!r}")
    assert not bad, "data/ must not open run files (the pipeline passes them in):\n" + "\n".join(
        bad
    )


# ---- results functions fed frames built in memory (no folder anywhere) ----------------------


def _manifest() -> dict:
    return {
        "scenario": "tiny",
        "resolved_scenario": {
            "plan": {
                "fiscal_year_start": "2027-01-01",
                "granularity": "quarter",
                "currency": "EUR",
            },
            "products": ["P"],
            "objective": {"reference": {"potential": 1.0, "history": 1.0}},
            "rules": {"fairness": {"enabled": False, "band": 0.1}},
        },
    }


def test_track_of_frames_hand_derived() -> None:
    # one rep, 100 per quarter; Q1 closed with 90 sold → e = 0.25, quota to date 100,
    # attainment 0.9, seasonal forecast 90 / (100 / 400) = 360, gap 40
    quotas = pd.DataFrame(
        {
            "rep_id": ["R1"] * 4,
            "team_id": ["T1"] * 4,
            "region_id": ["G1"] * 4,
            "product": ["P"] * 4,
            "period": ["Q1", "Q2", "Q3", "Q4"],
            "quota": [100.0] * 4,
        }
    )
    act = pd.DataFrame(
        {ROW: [2], "rep_id": ["R1"], "product": ["P"], "period": ["Q1"], "amount": [90.0]}
    )
    run = RunTables("memory", _manifest(), {"quotas.csv": quotas})
    tr = track_of(run, Actuals(act, "actuals", "actuals", "0" * 64), at_risk=0.95)
    assert tr.as_of == dt.date(2027, 3, 31)
    assert tr.elapsed_share == 0.25
    row = tr.reps[(tr.reps["rep_id"] == "R1") & (tr.reps["product"] == "P")].iloc[0]
    assert row["quota_to_date"] == pytest.approx(100.0)
    assert row["attainment"] == pytest.approx(0.9)
    assert row["forecast_seasonal"] == pytest.approx(360.0)
    assert row["gap"] == pytest.approx(40.0)
    assert list(tr.at_risk["rep_id"]) == ["R1"]  # 0.9 < 0.95
    assert tr.summary["company"]["actual_to_date"] == 90.0


def test_track_of_unknown_rep_is_located_at_the_actuals_label() -> None:
    quotas = pd.DataFrame(
        {
            "rep_id": ["R1"],
            "team_id": ["T1"],
            "region_id": ["G1"],
            "product": ["P"],
            "period": ["Q1"],
            "quota": [10.0],
        }
    )
    act = pd.DataFrame(
        {ROW: [3], "rep_id": ["R9"], "product": ["P"], "period": ["Q1"], "amount": [1.0]}
    )
    run = RunTables("memory", _manifest(), {"quotas.csv": quotas})
    with pytest.raises(InputError) as err:
        track_of(run, Actuals(act, "my_actuals.csv", "my_actuals.csv", ""))
    assert "my_actuals.csv:row 3: rep_id: unknown rep" in err.value.render()


def test_explain_rep_frames_hand_derived() -> None:
    # reference 120 = potential part ½·100 + history part 70; the LP adds 10 against the rep's
    # binding capacity row; rounding 0 → parts 50 + 70 + 10 = 130
    annual = pd.DataFrame(
        {
            "rep_id": ["R1"],
            "team_id": ["T1"],
            "product": ["P"],
            "ref_potential": [100.0],
            "reference": [120.0],
            "quota_lp": [130.0],
            "quota": [130.0],
        }
    )
    binding = pd.DataFrame(
        {
            "stage": ["quotas"],
            "rule": ["capacity"],
            "component": ["capacity"],
            "index": ["R1"],
            "dual": [-2.0],
        }
    )
    reps = pd.DataFrame({"rep_id": ["R1"], "team_id": ["T1"], "difficulty": [float("nan")]})
    asg = pd.DataFrame(
        columns=["account_id", "owner_rep", "incumbent_rep", "moved", "revenue"], dtype=object
    )
    tables = {"annual.csv": annual, "binding.csv": binding, "reps.csv": reps}
    run = RunTables("memory", _manifest(), {**tables, "assignments.csv": asg})
    x = explain_rep(run, "R1")
    assert x.quota == 130.0
    assert [(k.split(":")[0], round(v, 6)) for k, v in x.parts] == [
        ("reference", 50.0),
        ("reference", 70.0),
        ("capacity", 10.0),
    ]
    with pytest.raises(InputError) as err:
        explain_rep(RunTables("memory", _manifest(), tables), "R1")
    assert "memory/assignments.csv: missing from the run folder" in err.value.render()


def test_compare_frames_hand_derived() -> None:
    def run(label: str, quota: float, owner: str) -> ComparedRun:
        annual = pd.DataFrame(
            {
                "rep_id": ["R1"],
                "team_id": ["T1"],
                "region_id": ["G1"],
                "product": ["P"],
                "quota": [quota],
            }
        )
        asg = pd.DataFrame({"account_id": ["A1"], "owner_rep": [owner], "revenue": [5.0]})
        return ComparedRun(label, Path(label), annual, asg, {}, {"resolved_scenario": {}})

    cmp = compare([run("a", 100.0, "R1"), run("b", 110.0, "R2")])
    row = cmp.quotas.iloc[0]
    assert (row["quota_a"], row["quota_b"], row["change"], row["change_pct"]) == (
        100.0,
        110.0,
        10.0,
        10.0,
    )
    assert list(cmp.accounts["account_id"]) == ["A1"]
