"""Pricing benchmark: the quota LP by Dantzig–Wolfe with 1 vs N pricing workers, same model.

    nice -n 10 env PYTHONPATH=src .venv/bin/python benchmarks/pricing.py --reps 20000 \
        --workers 1 2 --repeats 3 --out benchmarks/results/pricing-20k.json

Generates a plan (benchmarks/generate.py), runs ``allocopt solve``'s pipeline in this process up
to the quota model's LP relaxation and there solves that LP (the captured model: the same
matrix, link rows and options) ``repeats`` times for each worker count, alternating, before
stopping. Records wall and CPU seconds per solve (this process and its reaped worker
processes), the load average, the objective, and whether the LP's values are the same bytes as
the first solve's. Also the start-up of a pool of N workers (spawn, import, one round trip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import main as generate_main  # noqa: E402


class _Captured(Exception):
    """Stops the pipeline once the LP has been measured."""


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its reaped children (the pricing workers)."""
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru_self.ru_utime + ru_self.ru_stime, ru_kids.ru_utime + ru_kids.ru_stime


def _autogroup() -> str | None:
    """Linux groups a session's processes for CPU shares: on a loaded host two processes of
    one session then get no more CPU than one."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return None


def _startup(workers: int) -> float:
    """Seconds to start ``workers`` − 1 worker processes and get one (empty) round back."""
    import numpy as np

    from allocopt.solve.pricing import open_pool

    t0 = time.perf_counter()
    pool = open_pool(workers, {"threads": 1})
    try:
        pool.load([], {"threads": 1})
        pool.price(np.zeros(1), None, "in a start-up probe")
    finally:
        pool.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pricing.json")
    args = ap.parse_args()

    from allocopt.pipeline import run
    from allocopt.solve import decompose

    plan_dir = args.work / f"plan{args.reps}"
    generate_main(["--reps", str(args.reps), "--out", str(plan_dir)])
    real = decompose.solve_lp_decomposed
    solves: list[dict[str, Any]] = []
    model: dict[str, Any] = {}

    def measure(comp: Any, link_rows: Any, options: dict[str, Any], **kw: Any) -> Any:
        first: bytes | None = None
        model.update(n_cols=int(comp.matrix.shape[1]), n_rows=int(comp.matrix.shape[0]))
        for r in range(args.repeats):
            for w in args.workers:
                load = os.getloadavg()[0]
                c0, t0 = _cpu(), time.perf_counter()
                res = real(comp, link_rows, {**options, "time_limit": 3600.0}, workers=w)
                wall, c1 = time.perf_counter() - t0, _cpu()
                own, workers = c1[0] - c0[0], c1[1] - c0[1]
                assert res is not None and res.col_values is not None
                digest = hashlib.sha256(res.col_values.tobytes()).digest()
                first = digest if first is None else first
                solves.append(
                    {
                        "repeat": r,
                        "workers": w,
                        "wall_seconds": round(wall, 2),
                        "cpu_seconds": round(own + workers, 2),
                        # this process (the master and pack set 0) and the worker processes: on
                        # free cores the wall time would be about the larger of the two
                        "cpu_master_seconds": round(own, 2),
                        "cpu_workers_seconds": round(workers, 2),
                        "loadavg_before": round(load, 2),
                        "status": res.status,
                        "objective": res.objective,
                        "message": res.message,
                        "same_bytes_as_first": digest == first,
                    }
                )
                print(json.dumps(solves[-1]), flush=True)
        raise _Captured

    decompose.solve_lp_decomposed = measure  # type: ignore[assignment]
    t0 = time.perf_counter()
    try:
        run(
            plan_dir / "scenario.yaml",
            out=args.work / f"pricing{args.reps}",
            force=True,
            report=False,
        )
    except _Captured:
        pass
    finally:
        decompose.solve_lp_decomposed = real  # type: ignore[assignment]
    startup = {str(w): round(_startup(w), 2) for w in args.workers if w > 1}
    by = {
        str(w): sorted(s["wall_seconds"] for s in solves if s["workers"] == w) for w in args.workers
    }
    critical = {
        str(w): sorted(
            max(s["cpu_master_seconds"], s["cpu_workers_seconds"] / max(1, w - 1))
            for s in solves
            if s["workers"] == w
        )
        for w in args.workers
    }
    doc = {
        "command": "python benchmarks/pricing.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "reps": args.reps,
        "model": model,
        "seconds_to_capture": round(time.perf_counter() - t0, 1),
        "pool_startup_seconds": startup,
        "lp_wall_seconds_sorted": by,
        # the busiest process's CPU seconds (workers' CPU split evenly): the wall time on free cores
        "lp_busiest_process_cpu_seconds_sorted": critical,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "sched_autogroup": _autogroup(),
        "solves": solves,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
