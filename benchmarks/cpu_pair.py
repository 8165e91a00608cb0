"""How much two CPU-bound processes slow each other on this machine (the ceiling of any 2-worker
speed-up): a pure-Python loop alone, then two copies at once, ``--runs`` times alternately.

    python benchmarks/cpu_pair.py --runs 3 --out benchmarks/results/cpu-pair.json

ceiling = 2 × alone ÷ (median time of one copy when two run at once).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

LOOP = (
    "import time\nt=time.perf_counter();s=0\nfor i in range(30_000_000): s+=i*i\n"
    "print(time.perf_counter()-t)"
)


def _once(n: int) -> list[float]:
    procs = [
        subprocess.Popen([sys.executable, "-c", LOOP], stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    return [float(p.communicate()[0]) for p in procs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    alone: list[float] = []
    paired: list[float] = []
    load = os.getloadavg()
    for _ in range(a.runs):
        alone += _once(1)
        paired += _once(2)
    res = {
        "command": " ".join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        "loadavg_before": load,
        "alone_seconds": alone,
        "paired_seconds": paired,
        "slowdown_when_paired": round(statistics.median(paired) / statistics.median(alone), 3),
        "speedup_ceiling_two_processes": round(
            2 * statistics.median(alone) / statistics.median(paired), 3
        ),
    }
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
