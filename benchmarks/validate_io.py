"""Time ``allocopt validate`` (read + check + prepare) on generated plans: medians of repeated runs.

Example::

    nice -n 10 python benchmarks/validate_io.py --plans /tmp/plan20k /tmp/plan100k --runs 2 \
        --label after --out benchmarks/results/validate-io.json

Each run is a fresh process (``python -m allocopt.cli validate``) so imports and page cache count
the same way for every run; the wall time, and the CPU time (user + system, all threads) and
peak RSS from that child's own rusage (``os.wait4``): on a shared host the CPU time is the
steadier measure. The load average is recorded before and after each plan.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _one(scenario: Path, src: str | None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one ``allocopt validate`` child process."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    t = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-m", "allocopt.cli", "validate", str(scenario)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    _pid, status, ru = os.wait4(p.pid, 0)  # this child's own rusage
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, p.args)
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plans", type=Path, nargs="+", required=True, help="generated plan folders")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--src", default=None, help="PYTHONPATH for the child (a source tree)")
    ap.add_argument("--label", default="run")
    ap.add_argument("--out", type=Path, default=None, help="JSON file to add the results to")
    args = ap.parse_args(argv)
    results = []
    for plan in args.plans:
        load_before = list(os.getloadavg())
        walls, cpus, peaks = [], [], []
        for _ in range(args.runs):
            wall, cpu, peak = _one(plan / "scenario.yaml", args.src)
            walls.append(round(wall, 2))
            cpus.append(round(cpu, 2))
            peaks.append(round(peak))
        res = {
            "label": args.label,
            "plan": plan.name,
            "runs_seconds": walls,
            "median_seconds": round(statistics.median(walls), 2),
            "cpu_seconds": cpus,
            "median_cpu_seconds": round(statistics.median(cpus), 2),
            "peak_rss_mib": peaks,
            "loadavg": {"before": load_before, "after": list(os.getloadavg())},
        }
        print(json.dumps(res))
        results.append(res)
    if args.out:
        doc = json.loads(args.out.read_text()) if args.out.exists() else {"results": []}
        doc["results"].extend(results)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
