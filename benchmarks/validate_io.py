"""Time ``allocopt validate`` (read + check + prepare) on generated plans: medians of repeated runs.

Example::

    nice -n 10 python benchmarks/validate_io.py --plans /tmp/plan20k /tmp/plan100k --runs 2 \
        --label after --out benchmarks/results/validate-io.json

Each run is a fresh process (``python -m allocopt.cli validate``) so imports and page cache count
the same way for every run; the wall time and peak RSS come from the child's rusage. The load
average is recorded before and after each plan.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _one(scenario: Path, src: str | None) -> tuple[float, float]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "allocopt.cli", "validate", str(scenario)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return wall, peak / 1024


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
        walls = []
        for _ in range(args.runs):
            wall, _peak = _one(plan / "scenario.yaml", args.src)
            walls.append(round(wall, 2))
        res = {
            "label": args.label,
            "plan": plan.name,
            "runs_seconds": walls,
            "median_seconds": round(statistics.median(walls), 2),
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
