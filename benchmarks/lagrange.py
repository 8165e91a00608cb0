"""Lagrangian bound benchmark: the block MIPs at the LP prices (``lagrangian``), same model.

    nice -n 10 env PYTHONPATH=src .venv/bin/python benchmarks/lagrange.py --reps 5000 \
        --workers 1 2 --repeats 3 --out benchmarks/results/lagrange-5k.json

Generates a plan (benchmarks/generate.py), runs ``allocopt solve``'s pipeline in this process up
to the quota model's Lagrangian bound (:func:`allocopt.solve.lagrange.lagrangian`, as
``solve/blocks.py`` calls it) and there calls it again ``repeats`` times for each worker count,
alternating, before stopping. Records wall and CPU seconds per call (this process and its reaped
worker processes), CPU milliseconds per block, the load average, the bound (its ``repr``) and a
digest of every block's optimum, so two versions of the code (``PYTHONPATH``) can be compared on
the same model: the same bound and digest mean the same results.
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
    """Stops the pipeline once the Lagrangian bound has been measured."""


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its reaped children (the block workers)."""
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru_self.ru_utime + ru_self.ru_stime, ru_kids.ru_utime + ru_kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "lagrange.json")
    args = ap.parse_args()

    import allocopt
    from allocopt.pipeline import run
    from allocopt.solve import blocks

    plan_dir = args.work / f"plan{args.reps}"
    if not (plan_dir / "scenario.yaml").exists():
        generate_main(["--reps", str(args.reps), "--out", str(plan_dir)])
    real = blocks.lagrangian
    calls: list[dict[str, Any]] = []
    model: dict[str, Any] = {}

    def measure(*a: Any, **kw: Any) -> Any:
        comp, col_block, options = a[0], a[4], a[5]
        model.update(
            n_cols=int(comp.matrix.shape[1]),
            n_rows=int(comp.matrix.shape[0]),
            n_blocks=len(set(col_block.tolist())),
            options=options,
        )
        for r in range(args.repeats):
            for w in args.workers:
                load = os.getloadavg()[0]
                c0, t0 = _cpu(), time.perf_counter()
                lag = real(*a[:6], time.time() + 3600.0, w, repair=kw.get("repair", True))
                wall, c1 = time.perf_counter() - t0, _cpu()
                own, kids = c1[0] - c0[0], c1[1] - c0[1]
                assert lag is not None and lag._sols is not None
                digest = hashlib.sha256(b"".join(x.tobytes() for x in lag._sols)).hexdigest()
                calls.append(
                    {
                        "repeat": r,
                        "workers": w,
                        "wall_seconds": round(wall, 3),
                        "cpu_seconds": round(own + kids, 3),
                        "cpu_master_seconds": round(own, 3),
                        "cpu_workers_seconds": round(kids, 3),
                        "cpu_ms_per_block": round(1000 * (own + kids) / model["n_blocks"], 2),
                        "loadavg_before": round(load, 2),
                        "bound": repr(lag.bound),
                        "optima_sha256": digest[:16],
                    }
                )
                print(json.dumps(calls[-1]), flush=True)
        raise _Captured

    blocks.lagrangian = measure  # type: ignore[assignment]
    t0 = time.perf_counter()
    try:
        run(
            plan_dir / "scenario.yaml",
            out=args.work / f"lagrange{args.reps}",
            force=True,
            report=False,
        )
    except _Captured:
        pass
    finally:
        blocks.lagrangian = real  # type: ignore[assignment]

    def median(xs: list[float]) -> float:
        s = sorted(xs)
        return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2

    summary = {
        str(w): {
            key: median([c[key] for c in calls if c["workers"] == w])
            for key in ("wall_seconds", "cpu_seconds", "cpu_ms_per_block")
        }
        for w in args.workers
    }
    doc = {
        "command": "python benchmarks/lagrange.py " + " ".join(sys.argv[1:]),
        "code": str(Path(allocopt.__file__).resolve().parent),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "reps": args.reps,
        "model": model,
        "seconds_to_capture": round(time.perf_counter() - t0, 1),
        "medians": summary,
        "same_results": len({(c["bound"], c["optima_sha256"]) for c in calls}) == 1,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "calls": calls,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
