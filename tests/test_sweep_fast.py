"""Sweep speed without changed results: lean items, the base sent once, memory per item.

A sweep item not kept as a run folder is extracted lean (no roll-ups or binding frames); its
sweep.csv row (payout columns included), quotas and binding counts must equal the full
extract's, and its fairness statistics and group levels, computed from arrays, the bytes the
pandas rep frame gave. A base sent by the client (scattered once to the workers) must give the
same items as a base the worker validates itself, and must not be validated again (every CLI
sweep of tests/test_sweep.py, whose scenario paths are absolute, sends it through Dask). Speed
itself is measured in benchmarks/sweep.py, never here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import allocopt.sweep.work as work
from allocopt.sweep.define import define
from allocopt.sweep.work import Job, run_item
from tests.test_sweep import _plan
from tests.test_sweep_payout import _incentives

EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "example" / "scenario.yaml"


def _job(defn: Any, keep_runs: bool = False) -> Job:
    return Job.of(defn, keep_runs)


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["row"] == b["row"]
    assert list(a["binding"].items()) == list(b["binding"].items())
    if a["quotas"] is None:
        assert b["quotas"] is None
    else:
        assert a["quotas"].equals(b["quotas"])
        assert a["annual"].tobytes() == b["annual"].tobytes()


def test_lean_items_equal_full_items_on_the_example() -> None:
    # the example has key accounts: the alignment stage's binding rows are counted too
    defn = define(EXAMPLE, grid=["targets.over_assignment=0.04"])
    lean, full = _job(defn), _job(defn, keep_runs=True)
    for it in defn.items:
        a, b = run_item(lean, it), run_item(full, it)
        assert a["row"]["status"] == "optimal"
        assert any(k.startswith("alignment/") for k in a["binding"])
        _same(a, b)
        assert "files" not in a
        # --keep-runs items stay complete run folders (roll-ups, assignments, binding rows)
        for name in ("rollups.csv", "binding.csv"):
            assert len(b["files"][name]) > 0, name


def test_a_lean_item_with_other_reps_equals_its_full_item() -> None:
    # attrition and hires change the reps: the item's quota rows are labelled with its own reps
    # and its annual quotas mapped onto the base's
    defn = define(EXAMPLE.with_name("whatif.yaml"), scenarios=["shift_and_churn"])
    (it,) = defn.items
    a, b = run_item(_job(defn), it), run_item(_job(defn, keep_runs=True), it)
    assert a["row"]["status"] == "optimal"
    base_reps = set(defn.base.md.rep_ids)
    assert set(a["quotas"].column("rep_id").to_pylist()) != base_reps
    _same(a, b)


def test_lean_items_equal_full_items_for_what_ifs_draws_and_infeasible(tmp_path: Path) -> None:
    sc = _plan(tmp_path / "plan")
    paid = _plan(tmp_path / "paid", incentives=_incentives(spread=0.1, budget=3500))
    for defn in (
        define(sc, scenarios=["up,huge,shift"], grid=["rules.potential.max_share=0.9,1.0"]),
        define(sc, draws=3, seed=2),
        define(paid, grid=["targets.over_assignment=0,0.25"]),
    ):
        lean, full = _job(defn), _job(defn, keep_runs=True)
        for it in defn.items:
            a = run_item(lean, it)
            _same(a, run_item(full, it))
            if defn.path == paid:
                assert a["row"]["payout_expected"] > 0


def test_a_sent_base_is_used_as_is_and_gives_the_same_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = _plan(tmp_path / "plan").resolve()
    defn = define(sc, draws=3, seed=5)
    job = _job(defn)
    work._CACHE.clear()
    own = [run_item(job, it) for it in defn.items]  # the worker validates the base itself
    work._CACHE.clear()

    def no_validation(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the base was sent: it must not be validated again")

    monkeypatch.setattr(work, "validate", no_validation)
    sent = [run_item(job, it, base=defn.base) for it in defn.items]
    for a, b in zip(own, sent, strict=True):
        assert a["row"]["status"] == "optimal"
        _same(a, b)
        assert b["seconds"]["peak_rss_mib"] > 0  # the worker's memory is recorded per item
    work._CACHE.clear()


def _levels_by_pandas(
    group: np.ndarray, quota: np.ndarray, eff_base: np.ndarray, diff: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The rep frame's group levels and fairness statistics as the extract computed them with
    pandas before session 5 (groupby on the group names)."""
    from allocopt.results.extract import _gini, _ratio

    df = pd.DataFrame({"group": group, "quota": quota, "eff_base": eff_base, "difficulty": diff})
    glevel = df[df["group"] != ""].groupby("group")[["quota", "eff_base"]].sum()
    lvl = (glevel["quota"] / glevel["eff_base"]).to_dict()
    df["group_level"] = _ratio([lvl.get(g, np.nan) for g in df["group"]])
    df["vs_group"] = _ratio(df["difficulty"] / df["group_level"] - 1)
    d = df[df["group"] != ""]
    fair: dict[str, Any] = {}
    if not d.empty:
        by = d.groupby("group")["difficulty"]
        fair = {
            "difficulty_min": float(d["difficulty"].min()),
            "difficulty_max": float(d["difficulty"].max()),
            "difficulty_gini": round(_gini(d["difficulty"].to_numpy(dtype=float)), 6),
            # rounded to 6 decimals as the extract's since 3e84bee (float noise of a difference)
            "max_group_spread": round(float((by.max() - by.min()).max()), 6),
            "max_abs_vs_group": float(d["vs_group"].abs().max()),
            "groups": int(by.ngroups),
        }
    return df["group_level"].to_numpy(), df["vs_group"].to_numpy(), fair


@pytest.mark.parametrize("seed", range(40))
def test_group_levels_from_arrays_equal_the_pandas_rep_frame(seed: int) -> None:
    # the lean extract's fairness statistics (sweep.csv) and the rep frame's group levels
    # (reps.csv) come from arrays; they must be the bytes the pandas frame gave: groups of one,
    # a group named "", reps without a base (no group), zero quotas, wide magnitudes
    from allocopt.model.rules.fairness import Groups
    from allocopt.results.extract import _levels, _money, _ratio

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    names = np.array(
        ["", "east", "north", "south", "west"][: int(rng.integers(1, 6))], dtype=object
    )
    b = _money(rng.random(n) * 10.0 ** rng.integers(0, 8, n)) * (rng.random(n) > 0.15)
    q = _money(rng.random(n) * 10.0 ** rng.integers(0, 8, n)) * (rng.random(n) > 0.1)
    reps = np.flatnonzero(b > 0)
    gname = names[rng.integers(0, len(names), len(reps))].astype(str)
    uniq, code = np.unique(gname, return_inverse=True)
    fg = Groups(uniq.astype(object), reps, code, b[reps], np.bincount(code, weights=b[reps]))
    group = np.full(n, "", dtype=object)
    group[reps] = fg.names[fg.group]
    diff = _ratio(np.divide(q, b, out=np.full(n, np.nan), where=b > 0))
    lv = _levels(fg, q, b, diff)
    level, vs, fair = _levels_by_pandas(group, q, b, diff)
    assert lv.level.tobytes() == level.tobytes()
    assert lv.vs_group.tobytes() == vs.tobytes()
    assert repr(lv.fairness) == repr(fair)
