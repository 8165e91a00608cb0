"""``allocopt sweep --warm-start``: every item's quota LP starts from the base's LP basis.

The start is one reference basis (the base scenario's optimal quota-LP basis, solved once per
process), so an item's result cannot depend on which worker ran it or after which item. An item
whose LP has another shape (a what-if that changes the reps) starts cold, and says so. The
optimum is the same within HiGHS's tolerances; quotas are compared to the cold sweep's here,
on the shipped example. Speed is measured in benchmarks/sweep.py (``--warm-start``), never here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner

from allocopt.cli import main
from allocopt.sweep.define import define
from allocopt.sweep.work import Job, forget, run_item

EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "example"
GRID = ["targets.over_assignment=0.02,0.05", "rules.fairness.band=0.3,0.4"]


def _job(defn: Any, warm: bool) -> Job:
    return Job.of(defn, warm_start=warm)


def _items(defn: Any, warm: bool, order: list[Any]) -> dict[int, dict[str, Any]]:
    forget()  # a fresh process's cache: the base (and its basis) solved again
    try:
        return {it.index: run_item(_job(defn, warm), it) for it in order}
    finally:
        forget()


def test_warm_items_have_the_cold_items_quotas_on_the_example_grid() -> None:
    defn = define(EXAMPLE / "scenario.yaml", grid=GRID)
    items = list(defn.items)
    cold, warm = _items(defn, False, items), _items(defn, True, items)
    for it in items:
        c, w = cold[it.index], warm[it.index]
        assert w["row"]["status"] == c["row"]["status"] == "optimal"
        assert w["seconds"]["warm_start"] == 1.0  # same shape as the base: started warm
        assert "warm_start" not in c["seconds"]
        assert w["quotas"].equals(c["quotas"])
        assert w["annual"].tobytes() == c["annual"].tobytes()
        assert w["row"]["total_quota"] == c["row"]["total_quota"]


def test_warm_items_are_the_same_whatever_the_order() -> None:
    defn = define(EXAMPLE / "scenario.yaml", grid=GRID)
    items = list(defn.items)
    ahead, behind = _items(defn, True, items), _items(defn, True, items[::-1])
    for it in items:
        a, b = ahead[it.index], behind[it.index]
        assert a["row"] == b["row"]  # every sweep.csv field, duals' prices included
        assert a["quotas"].equals(b["quotas"])
        assert a["seconds"]["warm_start"] == b["seconds"]["warm_start"] == 1.0


def _sweep(out: Path, *extra: str) -> None:
    res = CliRunner().invoke(
        main,
        ["sweep", str(EXAMPLE / "whatif.yaml"), "--scenarios", "east_down,shift_and_churn",
         "--out", str(out), "--quiet", *extra],
    )  # fmt: skip
    assert res.exit_code == 0, res.output


def test_the_manifest_and_timings_record_the_warm_start_and_other_shapes_run_cold(
    tmp_path: Path,
) -> None:
    _sweep(tmp_path / "warm", "--workers", "1", "--warm-start")
    _sweep(tmp_path / "cold", "--workers", "1")
    _sweep(tmp_path / "warm2", "--workers", "2", "--warm-start")
    manifest = json.loads((tmp_path / "warm" / "manifest.json").read_text())
    assert manifest["warm_start"] is True
    assert json.loads((tmp_path / "cold" / "manifest.json").read_text())["warm_start"] is False
    csv = pd.read_csv(tmp_path / "warm" / "sweep.csv")
    used = pd.read_csv(tmp_path / "warm" / "timings.csv").set_index("item")["warm_start"]
    # east_down keeps the base's reps: warm; shift_and_churn hires and loses reps: cold
    names = dict(zip(csv["item"], csv["scenario"], strict=True))
    assert {names[i]: used[i] for i in names} == {
        "east_down": 1.0,
        "shift_and_churn": 0.0,
    }
    assert "warm_start" not in pd.read_csv(tmp_path / "cold" / "timings.csv").columns
    # the same bytes whatever the worker count (each Dask worker solves the base's basis itself)
    warm = (tmp_path / "warm" / "sweep.csv").read_bytes()
    assert (tmp_path / "warm2" / "sweep.csv").read_bytes() == warm
    assert (tmp_path / "warm2" / "quotas.parquet").read_bytes() == (
        tmp_path / "warm" / "quotas.parquet"
    ).read_bytes()


def test_a_sweep_started_cold_is_not_resumed_warm(tmp_path: Path) -> None:
    from allocopt.sweep.runner import _prepare_work

    defn = define(EXAMPLE / "scenario.yaml", grid=GRID)
    out = tmp_path / "sw"
    _prepare_work(out, defn, False, False)  # an interrupted cold sweep's work folder
    res = CliRunner().invoke(
        main,
        ["sweep", str(EXAMPLE / "scenario.yaml"), *(a for g in GRID for a in ("--grid", g)),
         "--workers", "1", "--out", str(out), "--resume", "--warm-start", "--quiet"],
    )  # fmt: skip
    assert res.exit_code == 2, res.output  # its items would mix both starts
    assert "cannot resume the sweep" in res.output and "--warm-start" in res.output
    assert not out.exists()


def _tiny(n_extra: int = 0, integer: bool = False) -> Any:
    """min x + 2y (+ 3z…)  s.t.  x + y (+ z…) ≥ 2,  0 ≤ x ≤ 1.5,  y, z ≥ 0: x = 1.5, y = 0.5."""
    import numpy as np
    import scipy.sparse as sp

    from allocopt.solve.highs import Compiled, highs_lp

    n = 2 + n_extra
    a = sp.csc_matrix(np.ones((1, n)))
    lp = highs_lp(
        np.arange(1.0, n + 1),
        np.zeros(n),
        np.array([1.5] + [np.inf] * (n - 1)),
        a,
        np.array([2.0]),
        np.array([np.inf]),
        np.array([integer] * n),
    )
    from types import SimpleNamespace

    return Compiled(lp, a, SimpleNamespace(name="tiny"), integer)  # type: ignore[arg-type]


def test_run_highs_records_a_basis_and_starts_an_lp_of_its_shape_from_it() -> None:
    from allocopt.solve.highs import Basis, run_highs

    basis = Basis()
    first = run_highs(_tiny(), {}, basis=basis)
    assert first.objective == 2.5 and not first.warm_start  # 1.5 + 2 · 0.5
    assert basis.highs is not None and basis.shape == (2, 1)
    again = run_highs(_tiny(), {}, basis=basis)
    assert again.warm_start and again.objective == 2.5
    assert again.col_values is not None and again.col_values.tolist() == [1.5, 0.5]
    other = run_highs(_tiny(n_extra=1), {}, basis=basis)  # 3 columns: another shape, cold
    assert not other.warm_start and other.objective == 2.5
    assert basis.shape == (2, 1)  # a filled basis is never overwritten
    empty = Basis()
    mip = run_highs(_tiny(integer=True), {}, basis=empty)  # a MIP: no LP basis either way
    assert not mip.warm_start and mip.objective == 3.0 and empty.highs is None  # x = y = 1
    assert not run_highs(_tiny(integer=True), {}, basis=basis).warm_start
