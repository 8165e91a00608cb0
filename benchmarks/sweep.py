"""Benchmark `allocopt sweep`: per-item overhead of a grid, and draws scaling over workers.

Examples::

    nice -n 10 python benchmarks/sweep.py grid --items 200 --out benchmarks/results/sweep-grid.json
    nice -n 10 python benchmarks/sweep.py draws --reps 5000 --draws 16 --workers 1 2 \\
        --out benchmarks/results/sweep-draws.json

``grid``: a grid over ``targets.over_assignment`` × ``rules.fairness.band`` on the shipped example
(``--items`` points, one worker: in-process, as ``--workers 1``). Reports the total wall time
÷ (items × the median item's solve-stage time), and where the time goes (sum of each stage over
the items, the client's phases: items, assembling, writing, the report).

``draws``: a generated plan (``benchmarks/generate.py``) with a potential and a target shock,
``--draws`` Monte Carlo items on 1 (in-process) and 2 local workers; the speed-up is
wall(1) ÷ wall(2), with ``identical_to_first``, the serial part and Amdahl's prediction.

Every run records wall and CPU seconds, the load average before and after, and the client's
phases. ``--dask-one`` also runs one worker on a local Dask cluster (the pre-session-4 path).
``--warm-start`` (grid): also runs the same grid with ``allocopt sweep --warm-start`` right after
the cold one, and compares them (quotas, sweep.csv columns that differ, items started warm).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


COMPARED = ("sweep.csv", "quotas.parquet", "reps.csv", "units.csv", "rules.csv", "tornado.csv")


def _stages(folder: Path) -> dict[str, float]:
    t = pd.read_csv(folder / "timings.csv")
    return {c: round(float(t[c].sum()), 3) for c in t.columns if c not in ("item", "peak_rss_mib")}
    # "cpu": the items' own CPU seconds, summed (in their worker processes)


def _rss(folder: Path) -> list[float]:
    """The worker's peak resident memory (MiB) after each item, in item order."""
    t = pd.read_csv(folder / "timings.csv")
    return [float(x) for x in t["peak_rss_mib"]] if "peak_rss_mib" in t else []


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children (the workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _sweep(
    defn: object, out: Path, workers: int, in_process: bool | None, warm_start: bool = False
) -> dict[str, object]:
    """One timed sweep: wall, CPU seconds, load average before/after, client phases, stages,
    and when each item's result reached the client (seconds from the start)."""
    load0, cpu0 = _load(), _cpu()
    t0 = time.perf_counter()
    arrived: list[float] = []

    def progress(done: int, _total: int, _failed: int) -> None:
        if done > len(arrived):
            arrived.append(round(time.perf_counter() - t0, 3))

    res = run_sweep(  # type: ignore[arg-type]
        defn,
        out=out,
        workers=workers,
        in_process=in_process,
        progress=progress,
        warm_start=warm_start,
    )
    wall = time.perf_counter() - t0
    stages = _stages(out)
    return {
        "workers": workers,
        "scheduler": res.scheduler,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(_cpu() - cpu0, 2),
        "load_average_before": load0,
        "load_average_after": _load(),
        "ok": res.ok,
        "client_phases_seconds": res.phases,
        "stage_sums_seconds": stages,
        # what the client did besides waiting for items: the serial part of the sweep
        "outside_items_seconds": round(wall - stages["total"] / workers, 3),
        "items_arrived_at_seconds": arrived,
        # the last item alone: from the one before it to the last (another worker idle)
        "tail_seconds": round(arrived[-1] - arrived[-2], 3) if len(arrived) > 1 else None,
    }


def _items(folder: Path) -> list[dict[str, object]]:
    """Each item's status, gap and objective, from sweep.csv."""
    t = pd.read_csv(folder / "sweep.csv")
    cols = [c for c in ("item", "draw", "status", "gap", "objective") if c in t.columns]
    return [
        {c: (None if pd.isna(v) else v) for c, v in row.items()}
        for row in t[cols].to_dict("records")
    ]


def _same(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in COMPARED if (a / f).exists())


def grid_definition(items: int) -> Any:
    """The benchmark grid on the shipped example: ``targets.over_assignment`` × (up to) 10
    values of ``rules.fairness.band``, about ``items`` items (also used by sweep_warm.py)."""
    n_band = min(10, items)
    n_oa = max(1, items // n_band)
    oas = ",".join(f"{0.02 + 0.001 * i:.3f}" for i in range(n_oa))
    bands = ",".join(f"{0.30 + 0.01 * i:.2f}" for i in range(n_band))
    scenario = ROOT / "scenarios/example/scenario.yaml"
    return define(scenario, grid=[f"targets.over_assignment={oas}", f"rules.fairness.band={bands}"])


def draws_scenario(reps: int, tmp: Path) -> Path:
    """A generated plan of ``reps`` reps with the benchmark's shocks: its sweep scenario file
    (also used by sweep_warm.py)."""
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
    return sc


def _warm_grid(defn: Any, cold: Path, tmp: Path, n: int) -> dict[str, object]:
    """The grid again with ``--warm-start``: its times and how its results compare."""
    out = tmp / "grid-warm"
    run = _sweep(defn, out, 1, None, warm_start=True)
    t, tc = pd.read_csv(out / "timings.csv"), pd.read_csv(cold / "timings.csv")
    a, b = pd.read_csv(cold / "sweep.csv"), pd.read_csv(out / "sweep.csv")
    differ = {
        c: int((a[c].astype(str) != b[c].astype(str)).sum())
        for c in a.columns
        if not a[c].equals(b[c])
    }
    solve = float(t["solve"].median())
    return {
        "sweep_wall_seconds": run["wall_seconds"],
        "median_item_solve_seconds": round(solve, 4),
        "median_item_solve_seconds_cold": round(float(tc["solve"].median()), 4),
        "summed_solve_seconds": round(float(t["solve"].sum()), 3),
        "summed_solve_seconds_cold": round(float(tc["solve"].sum()), 3),
        "ratio_wall_to_items_x_cold_median_solve": round(
            float(run["wall_seconds"]) / (n * float(tc["solve"].median())),  # type: ignore[arg-type]
            3,
        ),
        "items_started_warm": int(t["warm_start"].sum()),
        "quotas_parquet_identical_to_cold": _same_file(cold, out, "quotas.parquet"),
        "sweep_csv_identical_to_cold": _same_file(cold, out, "sweep.csv"),
        "sweep_csv_columns_differing_from_cold_items": differ,
        "run": run,
    }


def _same_file(a: Path, b: Path, name: str) -> bool:
    return (a / name).read_bytes() == (b / name).read_bytes()


def grid(items: int, tmp: Path, dask_too: bool, warm_too: bool = False) -> dict[str, object]:
    t0 = time.perf_counter()
    defn = grid_definition(items)
    t_define = time.perf_counter() - t0
    out = tmp / "grid"
    run = _sweep(defn, out, 1, None)
    wall = float(run["wall_seconds"])  # type: ignore[arg-type]
    t = pd.read_csv(out / "timings.csv")
    solve = float(t["solve"].median())
    n = len(defn.items)
    stages = run["stage_sums_seconds"]
    doc: dict[str, object] = {
        "items": n,
        "ok": run["ok"],
        "define_seconds": round(t_define, 3),
        "sweep_wall_seconds": wall,
        "median_item_solve_seconds": round(solve, 4),
        "median_item_total_seconds": round(float(t["total"].median()), 4),
        "ratio_wall_to_items_x_solve": round(wall / (n * solve), 3),
        "ratio_including_define": round((wall + t_define) / (n * solve), 3),
        "ratio_wall_to_summed_solve": round(wall / stages["solve"], 3),  # type: ignore[index]
        "run": run,
        "goal": "ratio_wall_to_items_x_solve ≤ 1.5",
    }
    if warm_too:  # the same sweep with --warm-start, right after the cold one
        doc["warm_start"] = _warm_grid(defn, out, tmp, n)
    if dask_too:  # the same sweep on a one-worker local Dask cluster, for comparison
        d = _sweep(defn, tmp / "grid-dask", 1, False)
        d["identical_to_first"] = _same(out, tmp / "grid-dask")
        d["ratio_wall_to_items_x_solve"] = round(float(d["wall_seconds"]) / (n * solve), 3)  # type: ignore[arg-type]
        doc["dask_one_worker"] = d
    return doc


def _with_dask_default_env(fn: Any) -> Any:
    """``fn()`` with the local cluster's workers started in Dask's default environment
    (``MALLOC_TRIM_THRESHOLD_=65536``, as before session 5), for a before/after in one window.
    A nanny also sets that variable in this process: it is removed again afterwards."""
    from allocopt.sweep import runner

    saved, before = runner.LOCAL_CONFIG, os.environ.get("MALLOC_TRIM_THRESHOLD_")
    runner.LOCAL_CONFIG = {}
    try:
        return fn()
    finally:
        runner.LOCAL_CONFIG = saved
        if before is None:
            os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


def draws(
    reps: int,
    n_draws: int,
    workers: list[int],
    tmp: Path,
    dask_too: bool,
    dask_env: bool = False,
) -> dict[str, object]:
    sc = draws_scenario(reps, tmp)
    t0 = time.perf_counter()
    defn = define(sc, draws=n_draws, seed=1)
    t_define = time.perf_counter() - t0
    plan_runs: list[tuple[str, int, bool | None]] = [(str(w), w, None) for w in workers]
    if dask_too and 1 in workers:
        plan_runs.append(("1-dask", 1, False))
    if dask_env:
        plan_runs += [(f"{w}-dask-default-env", w, False) for w in workers if w > 1]
    runs: dict[str, dict[str, object]] = {}
    first = plan_runs[0][0]
    for label, w, mode in plan_runs:
        out = tmp / f"draws-{label}"
        if label.endswith("-dask-default-env"):
            run = _with_dask_default_env(lambda: _sweep(defn, out, w, mode))  # noqa: B023
        else:
            run = _sweep(defn, out, w, mode)
        run["statuses"] = pd.read_csv(out / "sweep.csv")["status"].value_counts().to_dict()
        run["items"] = _items(out)
        run["worker_peak_rss_mib_after_each_item"] = _rss(out)
        if label != first:
            run["identical_to_first"] = _same(out, tmp / f"draws-{first}")
            stopped = [r["statuses"].get("time_limit", 0) for r in (run, runs[first])]  # type: ignore[attr-defined]
            if not run["identical_to_first"] and any(stopped):
                # a plan stopped by the solver's time limit depends on the timing (a loaded
                # machine), not on the worker count
                run["not_identical_because"] = "an item stopped at solver.time_limit"
        runs[label] = run
    wall1 = float(runs[first]["wall_seconds"])  # type: ignore[arg-type]
    speedups = {k: round(wall1 / float(r["wall_seconds"]), 3) for k, r in runs.items()}  # type: ignore[arg-type]
    # Amdahl from the one-worker run: the serial part is what the client does outside the items
    # (assembling, writing, the report; with a cluster also its start-up and the transfers);
    # with two free cores the items' part halves (rounded up to whole items per worker)
    one = runs[first]
    items_sum = float(one["stage_sums_seconds"]["total"])  # type: ignore[index]
    serial = wall1 - items_sum
    per_item = items_sum / n_draws
    two = runs.get("2")
    serial2 = serial
    if two is not None:  # the two-worker run's own serial part (cluster start-up, scatter...)
        ph = two["client_phases_seconds"]
        serial2 = float(two["wall_seconds"]) - float(ph.get("items", 0.0))  # type: ignore[union-attr,arg-type]
    predicted_wall2 = serial2 + math.ceil(n_draws / 2) * per_item
    return {
        "reps": reps,
        "draws": n_draws,
        "define_seconds": round(t_define, 3),
        "runs": runs,
        "speedup": speedups,
        "serial_seconds_one_worker": round(serial, 3),
        "serial_fraction_one_worker": round(serial / wall1, 4),
        "amdahl_speedup_two_free_cores": round(1 / (serial / wall1 + (1 - serial / wall1) / 2), 3),
        "predicted_speedup_two_free_cores_with_measured_two_worker_serial": round(
            wall1 / predicted_wall2, 3
        ),
        "goal": "speedup['2'] ≥ 1.7",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("grid", "draws"))
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--dask-default-env",
        action="store_true",
        help="draws: also run each --workers > 1 with the workers in Dask's default environment "
        "(MALLOC_TRIM_THRESHOLD_ set, before session 5)",
    )
    ap.add_argument(
        "--dask-one",
        action="store_true",
        help="also run one worker on a local Dask cluster (the default runs it in-process)",
    )
    ap.add_argument(
        "--warm-start",
        action="store_true",
        help="grid: also run the grid with allocopt sweep --warm-start and compare",
    )
    args = ap.parse_args(argv)
    load0 = _load()
    tmp = Path(tempfile.mkdtemp(prefix="allocopt-sweep-bench-"))
    try:
        if args.what == "grid":
            result = grid(args.items, tmp, args.dask_one, args.warm_start)
        else:
            result = draws(
                args.reps, args.draws, args.workers, tmp, args.dask_one, args.dask_default_env
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    doc = {
        "command": "python benchmarks/sweep.py " + " ".join(argv or sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": load0,
            "load_average_at_end": _load(),
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
