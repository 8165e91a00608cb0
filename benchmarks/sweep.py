"""Benchmark `allocopt sweep`: per-item overhead of a grid, and draws scaling over workers.

Examples::

    nice -n 10 python benchmarks/sweep.py grid --items 200 --out benchmarks/results/sweep-grid.json
    nice -n 10 python benchmarks/sweep.py draws --reps 5000 --draws 16 --workers 1 2 \\
        --out benchmarks/results/sweep-draws.json

``grid``: a grid over ``targets.over_assignment`` × ``rules.fairness.band`` on the shipped example
(``--items`` points, 1 local worker). Reports the total wall time (cluster start-up included)
÷ (items × the median item's solve-stage time), and where the time goes (sum of each stage over
the items, cluster start-up and assembling the folder).

``draws``: a generated plan (``benchmarks/generate.py``) with a potential and a target shock,
``--draws`` Monte Carlo items on 1 and 2 local workers; the speed-up is wall(1) ÷ wall(2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from allocopt.sweep.define import define  # noqa: E402
from allocopt.sweep.runner import run_sweep  # noqa: E402

UNCERTAINTY = """
uncertainty:
  shocks:
    - {name: territory, on: potential, distribution: normal, sd: 0.1,
       correlation: {within: region, rho: 0.5}}
    - {name: target, on: target, distribution: normal, sd: 0.02}
"""


def _stages(folder: Path) -> dict[str, float]:
    t = pd.read_csv(folder / "timings.csv")
    return {c: round(float(t[c].sum()), 3) for c in t.columns if c not in ("item", "peak_rss_mib")}


def _rss(folder: Path) -> list[float]:
    """The worker's peak resident memory (MiB) after each item, in item order."""
    t = pd.read_csv(folder / "timings.csv")
    return [float(x) for x in t["peak_rss_mib"]] if "peak_rss_mib" in t else []


def grid(items: int, tmp: Path) -> dict[str, object]:
    n_band = 10
    n_oa = max(1, items // n_band)
    oas = ",".join(f"{0.02 + 0.001 * i:.3f}" for i in range(n_oa))
    bands = ",".join(f"{0.30 + 0.01 * i:.2f}" for i in range(n_band))
    scenario = ROOT / "scenarios/example/scenario.yaml"
    t0 = time.perf_counter()
    defn = define(scenario, grid=[f"targets.over_assignment={oas}", f"rules.fairness.band={bands}"])
    t_define = time.perf_counter() - t0
    out = tmp / "grid"
    t1 = time.perf_counter()
    res = run_sweep(defn, out=out, workers=1)
    wall = time.perf_counter() - t1
    t = pd.read_csv(out / "timings.csv")
    solve = float(t["solve"].median())
    n = len(defn.items)
    stages = _stages(out)
    return {
        "items": n,
        "ok": res.ok,
        "define_seconds": round(t_define, 3),
        "sweep_wall_seconds": round(wall, 3),
        "median_item_solve_seconds": round(solve, 4),
        "median_item_total_seconds": round(float(t["total"].median()), 4),
        "ratio_wall_to_items_x_solve": round(wall / (n * solve), 3),
        "ratio_including_define": round((wall + t_define) / (n * solve), 3),
        "stage_sums_seconds": stages,
        "outside_items_seconds": round(wall - stages["total"], 3),
        "goal": "≤ 1.5",
    }


def draws(reps: int, n_draws: int, workers: list[int], tmp: Path) -> dict[str, object]:
    from allocopt.examples.generate import generate_plan

    plan = tmp / f"plan{reps}"
    teams = max(1, reps // 20)  # as benchmarks/generate.py: teams of 20, 25 teams per region
    base = generate_plan(
        plan,
        regions=min(teams, max(3, teams // 25)),
        teams=teams,
        reps=reps,
        reps_per_team=20,
        key_accounts_per_rep=2.0,
        candidates_per_key=5,
        seed=7,
        name=f"bench-{reps}",
    )
    sc = plan / "sweep.yaml"
    sc.write_text(f"extends: {base.name}\nname: bench-sweep\n" + UNCERTAINTY, encoding="utf-8")
    defn = define(sc, draws=n_draws, seed=1)
    runs: dict[str, object] = {}
    for w in workers:
        out = tmp / f"draws-w{w}"
        t0 = time.perf_counter()
        res = run_sweep(defn, out=out, workers=w)
        wall = time.perf_counter() - t0
        runs[str(w)] = {
            "wall_seconds": round(wall, 2),
            "ok": res.ok,
            "statuses": pd.read_csv(out / "sweep.csv")["status"].value_counts().to_dict(),
            "stage_sums_seconds": _stages(out),
            "worker_peak_rss_mib_after_each_item": _rss(out),
        }
        if w != workers[0]:
            same = all(
                (out / f).read_bytes() == (tmp / f"draws-w{workers[0]}" / f).read_bytes()
                for f in ("sweep.csv", "quotas.parquet")
            )
            runs[str(w)]["identical_to_first"] = same  # type: ignore[index]
    first = runs[str(workers[0])]["wall_seconds"]  # type: ignore[index]
    speedups = {
        str(w): round(first / runs[str(w)]["wall_seconds"], 3)  # type: ignore[index,operator]
        for w in workers
    }
    return {"reps": reps, "draws": n_draws, "runs": runs, "speedup": speedups, "goal": "≥ 1.7"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("grid", "draws"))
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="allocopt-sweep-bench-"))
    try:
        if args.what == "grid":
            result = grid(args.items, tmp)
        else:
            result = draws(args.reps, args.draws, args.workers, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    doc = {
        "command": "python benchmarks/sweep.py " + " ".join(argv or sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "result": result,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
