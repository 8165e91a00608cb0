"""Experiment: would warm-starting HiGHS between sweep items keep the results byte-identical?

Examples::

    nice -n 10 python benchmarks/sweep_warm.py --items 200 --out benchmarks/results/sweep-warm.json
    nice -n 10 python benchmarks/sweep_warm.py --reps 1000 --draws 16 --out ...

A grid over ``targets.over_assignment`` × ``rules.fairness.band`` on the shipped example
(``--items``; every item has the same matrix pattern: only bounds, right-hand sides and costs
move), or ``--draws`` Monte Carlo draws on a generated ``--reps`` plan, is run in-process
through :func:`allocopt.sweep.work.run_item`: cold (the real ``run_highs``, a fresh HiGHS
instance per solve, as ``allocopt solve``) and warm by a stand-in ``run_highs``:

* ``previous_lp``: each LP relaxation starts from the previous item's optimal basis;
* ``previous_lp_and_mip``: also each MIP from the previous item's solution (``setSolution``);
* ``reference_lp``: each LP relaxation starts from item 0's optimal basis (the same start for
  every item, so a result does not depend on which items a worker solved before); run in item
  order and reversed, which must agree.

It records each HiGHS solve's median time per model and every sweep.csv field and quota that
differs from the cold run. Not part of allocopt: the warm modes exist only here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import allocopt.solve.blocks as blocks  # noqa: E402
import allocopt.solve.entry as entry  # noqa: E402
import allocopt.solve.highs as highs  # noqa: E402
from allocopt.sweep.define import define  # noqa: E402
from allocopt.sweep.work import _CACHE, Job, run_item  # noqa: E402
from sweep import draws_scenario, grid_definition  # noqa: E402  (benchmarks/sweep.py)


def _runner(mode: str, mip_too: bool, times: dict[str, list[float]]) -> Any:
    """A stand-in for ``run_highs`` that starts each LP relaxation from a basis: ``previous``
    (the previous item's optimal basis of the same model: depends on the order the items run in)
    or ``reference`` (the first item's, every later item from that same basis: independent of
    the order). ``mip_too``: MIPs also get the previous item's solution (``setSolution``)."""
    prev: dict[tuple[str, bool], Any] = {}

    def run_highs(
        comp: Any, options: dict[str, Any], *, progress: Any = None, start: Any = None
    ) -> Any:
        lp = comp.lp
        mip = bool(len(lp.integrality_))
        key = (comp.model.name, mip)
        h = highs._highs(options)
        h.passModel(lp)
        warm = key in prev and (not mip or (mip_too and mode == "previous"))
        if warm:
            (h.setSolution if mip else h.setBasis)(prev[key])
        elif start is not None:
            h.setSolution(len(start[0]), start[0].astype(np.int32), start[1].astype(float))
        t = time.perf_counter()
        h.run()
        sec = time.perf_counter() - t
        sol, info = h.getSolution(), h.getInfo()
        if mode == "previous" or key not in prev:
            prev[key] = sol if mip else h.getBasis()
        times[f"{comp.model.name}/{'mip' if mip else 'lp'}"].append(sec)
        r = highs.SolveResult("optimal", True, is_mip=mip and comp.is_mip, seconds=sec)
        r.n_cols, r.n_rows = lp.num_col_, lp.num_row_
        r.col_values = np.asarray(sol.col_value, dtype=float)
        r.objective = float(info.objective_function_value)
        if mip:
            r.bound, r.gap = float(info.mip_dual_bound), float(info.mip_gap)
        else:
            r.bound, r.gap = r.objective, 0.0
            r.row_duals = np.asarray(sol.row_dual, dtype=float)
            r.col_duals = np.asarray(sol.col_dual, dtype=float)
        return r

    return run_highs


def _real_times(times: dict[str, list[float]]) -> Any:
    """The real ``run_highs`` (as ``allocopt solve``), timed per model."""
    real = highs.run_highs

    def run_highs(comp: Any, options: dict[str, Any], **kw: Any) -> Any:
        r = real(comp, options, **kw)
        mip = bool(len(comp.lp.integrality_))
        times[f"{comp.model.name}/{'mip' if mip else 'lp'}"].append(r.seconds)
        return r

    return run_highs


def _definition(items: int, reps: int | None, draws: int, tmp: Path) -> Any:
    if reps is None:
        return grid_definition(items)
    return define(draws_scenario(reps, tmp).resolve(), draws=draws, seed=1)


def run(
    defn: Any, mode: str, mip_too: bool = False, reverse: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every item in-process: ``cold`` (the real path) or warm-started; in item order, or
    reversed (``reference`` takes its basis from item 0 first, whatever the order)."""
    job = Job(str(defn.path), defn.base_scenarios, defn.base_sets, defn.hash, defn.seed, False)
    times: dict[str, list[float]] = defaultdict(list)
    fn = _real_times(times) if mode == "cold" else _runner(mode, mip_too, times)
    saved = blocks.run_highs, entry.run_highs
    blocks.run_highs = entry.run_highs = fn
    items = list(defn.items)
    try:
        _CACHE.clear()
        if mode == "reference":
            run_item(job, items[0], base=defn.base)  # the reference basis
            times.clear()
        order = items[::-1] if reverse else items
        out = {it.index: run_item(job, it, base=defn.base) for it in order}
    finally:
        blocks.run_highs, entry.run_highs = saved
        _CACHE.clear()
    return [out[it.index] for it in items], times


def _compare(a_items: list[dict[str, Any]], b_items: list[dict[str, Any]]) -> dict[str, Any]:
    differ: dict[str, int] = defaultdict(int)
    examples: dict[str, list[Any]] = {}
    quotas_differ = 0
    for a, b in zip(a_items, b_items, strict=True):
        for k, v in a["row"].items():
            if k == "status":  # the stand-in reports every solve as optimal
                continue
            if b["row"].get(k) != v and not (v != v and b["row"].get(k) != b["row"].get(k)):
                differ[k] += 1
                examples.setdefault(k, [a["row"]["item"], v, b["row"].get(k)])
        qa, qb = a["quotas"], b["quotas"]
        quotas_differ += not (qa is None and qb is None) and (
            qa is None or qb is None or not qa.equals(qb)
        )
    return {
        "items_whose_quotas_differ": quotas_differ,
        "items_whose_sweep_csv_field_differs": dict(differ),
        "first_difference_item_a_b": examples,
    }


def _med(t: dict[str, list[float]]) -> dict[str, float]:
    return {k: round(float(np.median(v)), 5) for k, v in sorted(t.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=20, help="grid items on the shipped example")
    ap.add_argument("--reps", type=int, help="instead: Monte Carlo draws on a generated plan")
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="allocopt-warm-") as tmp:
        defn = _definition(args.items, args.reps, args.draws, Path(tmp))
        cold, t_cold = run(defn, "cold")
        modes: dict[str, Any] = {}
        ref_fwd: list[dict[str, Any]] = []
        for name, mode, mip_too, reverse in (
            ("previous_lp", "previous", False, False),
            ("previous_lp_and_mip", "previous", True, False),
            ("reference_lp", "reference", False, False),
            ("reference_lp_reversed_order", "reference", False, True),
        ):
            warm, t_warm = run(defn, mode, mip_too, reverse)
            modes[name] = {"median_highs_seconds": _med(t_warm), "vs_cold": _compare(cold, warm)}
            if name == "reference_lp":
                ref_fwd = warm
            elif name == "reference_lp_reversed_order":
                modes[name]["vs_reference_lp_in_item_order"] = _compare(ref_fwd, warm)
    doc = {
        "command": "python benchmarks/sweep_warm.py " + " ".join(argv or sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "result": {
            "definition": defn.spec(),
            "items": len(cold),
            "median_highs_seconds_cold": _med(t_cold),
            "warm": modes,
        },
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
