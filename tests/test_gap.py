"""Stage 1 (key-account alignment) reaches the proven optimum of OR-Library GAP instances.

The instances live in ``shared/benchmarks/gap`` beside the repository; the converter is
``benchmarks/gap.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from allocopt.compose import verify_run
from allocopt.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "gap"
SMALL = [f"cattrysse1994/gap{s}-{k}" for s in range(1, 5) for k in range(5)]


def _load_gap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_gap", ROOT / "benchmarks" / "gap.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up while the class is created
    spec.loader.exec_module(mod)
    return mod


gap = _load_gap()


def test_read_orlib_tiny(tmp_path: Path) -> None:
    f = tmp_path / "tiny"
    # 2 agents, 3 jobs; ragged line breaks and extra blanks are allowed
    f.write_text(" 2 3\n 1 2\n3\n4 5 6\n  7 8 9 10\n11 12\n\n 20 30 \n", encoding="utf-8")
    inst = gap.read_orlib(f)
    assert (inst.m, inst.n) == (2, 3)
    np.testing.assert_array_equal(inst.c, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(inst.a, [[7, 8, 9], [10, 11, 12]])
    np.testing.assert_array_equal(inst.b, [20, 30])


def test_read_orlib_wrong_count(tmp_path: Path) -> None:
    f = tmp_path / "short"
    f.write_text("2 3\n1 2 3 4 5 6\n7 8 9 10 11 12\n20\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected 16 numbers"):
        gap.read_orlib(f)


def test_tiny_instance_solved(tmp_path: Path) -> None:
    """A hand-checkable instance: the cheapest split respecting both capacities."""
    # job costs: agent 1 is cheaper for every job, but can take only one of jobs 1-3
    inst = gap.GapInstance(
        c=np.array([[1.0, 1.0, 1.0], [5.0, 6.0, 7.0]]),
        a=np.array([[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]),
        b=np.array([2.0, 3.0]),
    )
    scenario = gap.write_scenario(inst, tmp_path / "sc", "tiny-gap", time_limit=30)
    res = run(scenario, out=tmp_path / "run")
    assert res.results.summary["objective_terms"]["alignment_disruption"] == pytest.approx(
        1 + 5 + 6, abs=1e-6
    )
    asg = res.results.assignments
    owners = dict(zip(asg["account_id"], asg["owner_rep"], strict=True))
    assert owners == {"J0001": "AG002", "J0002": "AG002", "J0003": "AG001"}
    assert verify_run(res.run_dir).ok


@pytest.fixture(scope="module")
def optima() -> dict[str, float]:
    if not (DATA / "optima.csv").is_file():
        pytest.skip(f"GAP benchmark data not found at {DATA} (shared/ beside the repository)")
    return gap.load_optima(DATA)


@pytest.mark.parametrize("instance", SMALL)
def test_reaches_proven_optimum(instance: str, optima: dict[str, float], tmp_path: Path) -> None:
    inst = gap.read_orlib(DATA / instance)
    assert inst.m == 5 and 15 <= inst.n <= 30
    scenario = gap.write_scenario(inst, tmp_path / "sc", instance.replace("/", "-"), time_limit=60)
    res = run(scenario, out=tmp_path / "run")
    assert res.manifest["stages"]["alignment"]["status"] == "optimal"
    objective = res.results.summary["objective_terms"]["alignment_disruption"]
    assert objective == pytest.approx(optima[instance], rel=0, abs=1e-6)
    v = verify_run(res.run_dir)
    assert v.ok, v.violations.to_string()
    # recompute cost and loads from the assignment table and the raw instance
    asg = res.results.assignments
    assert sorted(asg["account_id"]) == [f"J{j + 1:04d}" for j in range(inst.n)]
    agent = np.array([int(r[2:]) - 1 for r in asg["owner_rep"]])
    job = np.array([int(a[1:]) - 1 for a in asg["account_id"]])
    assert inst.c[agent, job].sum() == optima[instance]
    load = np.bincount(agent, weights=inst.a[agent, job], minlength=inst.m)
    assert (load <= inst.b).all()
