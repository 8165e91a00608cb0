"""Experiment: would warm-starting HiGHS between sweep items keep the results byte-identical?

Example::

    nice -n 10 python benchmarks/sweep_warm.py --out benchmarks/results/sweep-warm.json

A 4 × 5 grid over ``targets.over_assignment`` × ``rules.fairness.band`` on the shipped example
(every item has the same matrix pattern: only bounds, right-hand sides and costs move) is run
in-process twice through :func:`allocopt.sweep.work.run_item`: cold (a fresh HiGHS instance per
solve, as ``allocopt solve``) and warm (the LP relaxation started from the previous item's
basis, the rounding MIP given the previous item's solution with ``setSolution``). It records each
HiGHS solve's median time per model and every sweep.csv field and quota that differs between
the two. Not part of allocopt: the warm mode exists only here, by replacing ``run_highs``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
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

LP_ONLY = "--lp-only" in sys.argv


def _runner(warm: bool, times: dict[str, list[float]]) -> Any:
    prev: dict[tuple[str, bool], Any] = {}

    def run_highs(
        comp: Any, options: dict[str, Any], *, progress: Any = None, start: Any = None
    ) -> Any:
        lp = comp.lp
        mip = bool(len(lp.integrality_))
        key = (comp.model.name, mip)
        h = highs._highs(options)
        h.passModel(lp)
        if warm and key in prev and (not mip or not LP_ONLY):
            (h.setSolution if mip else h.setBasis)(prev[key])
        elif start is not None:
            h.setSolution(len(start[0]), start[0].astype(np.int32), start[1].astype(float))
        t = time.perf_counter()
        h.run()
        sec = time.perf_counter() - t
        sol, info = h.getSolution(), h.getInfo()
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


def run(warm: bool) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    path = (ROOT / "scenarios/example/scenario.yaml").resolve()
    oas = "targets.over_assignment=0.020,0.021,0.022,0.023"
    bands = "rules.fairness.band=0.30,0.31,0.32,0.33,0.34"
    defn = define(path, grid=[oas, bands])
    job = Job(str(path), defn.base_scenarios, defn.base_sets, defn.hash, defn.seed, False)
    times: dict[str, list[float]] = defaultdict(list)
    fn = _runner(warm, times)
    saved = blocks.run_highs, entry.run_highs
    blocks.run_highs = entry.run_highs = fn
    try:
        _CACHE.clear()
        out = [run_item(job, it) for it in defn.items]
    finally:
        blocks.run_highs, entry.run_highs = saved
    return out, times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--lp-only", action="store_true", help="warm-start the LP relaxation only (MIPs cold)"
    )
    args = ap.parse_args(argv)
    cold, t_cold = run(False)
    warm, t_warm = run(True)
    differ: dict[str, int] = defaultdict(int)
    examples: dict[str, list[Any]] = {}
    quotas_differ = 0
    for a, b in zip(cold, warm, strict=True):
        for k, v in a["row"].items():
            if b["row"].get(k) != v:
                differ[k] += 1
                examples.setdefault(k, [a["row"]["item"], v, b["row"].get(k)])
        quotas_differ += not a["quotas"].equals(b["quotas"])

    def med(t: dict[str, list[float]]) -> dict[str, float]:
        return {k: round(float(np.median(v)), 5) for k, v in sorted(t.items())}

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
            "items": len(cold),
            "median_highs_seconds_cold": med(t_cold),
            "median_highs_seconds_warm": med(t_warm),
            "items_whose_quotas_differ": quotas_differ,
            "items_whose_sweep_csv_field_differs": dict(differ),
            "first_difference_item_cold_warm": examples,
        },
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
