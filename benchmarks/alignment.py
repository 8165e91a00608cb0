"""Stage-1 benchmark: the key-account alignment MIP solved whole or by its independent blocks.

    python benchmarks/alignment.py --reps 20000 --modes whole blocks whole blocks \\
        --out benchmarks/results/alignment-20k.json

Generates a plan (benchmarks/generate.py: teams of 20, 2 key accounts per rep, 5 candidates each
in the account's team), validates it and builds the alignment model once, then solves it in each
mode in turn, in this process (alternate modes to spread the host's load over both):

- ``whole``: one HiGHS MIP from the incumbent start (the path below the block threshold);
- ``whole-nostart``: one HiGHS MIP without a start;
- ``blocks``: by connected components, packed into blocks of ``--block-size`` pairs, from the
  incumbent start, in ``--workers`` processes;
- ``blocks-nostart``: the same without a start.

Records per solve: wall and CPU seconds (this process and its children), HiGHS seconds, the
objective, bound, gap and message, and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import main as generate_main  # noqa: E402

MODES = ("whole", "whole-nostart", "blocks", "blocks-nostart")


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--plan", type=Path, help="an existing plan's scenario.yaml (else generated)")
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out")
    ap.add_argument("--modes", nargs="+", choices=MODES, default=["whole", "blocks"])
    ap.add_argument("--block-size", type=int, default=None, help="default: the solver's (5000)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    from allocopt.model.build import build_alignment
    from allocopt.model.rules.key_accounts import incumbent_start
    from allocopt.pipeline import validate
    from allocopt.solve import highs_options, solve

    scenario = args.plan
    if scenario is None:
        plan_dir = args.work / f"plan{args.reps}"
        if plan_dir.exists():
            shutil.rmtree(plan_dir)
        generate_main(["--reps", str(args.reps), "--out", str(plan_dir)])
        scenario = plan_dir / "scenario.yaml"
    t0 = time.perf_counter()
    md = validate(scenario).md
    built = build_alignment(md)
    assert built is not None
    t1 = time.perf_counter()
    start = incumbent_start(built.model, md)
    t2 = time.perf_counter()
    sc = md.scenario
    opts = highs_options(args.time_limit, sc.solver.mip_gap, sc.solver.threads, sc.solver.seed)
    print(f"validated and built in {t1 - t0:.1f} s; start in {t2 - t1:.2f} s", flush=True)
    runs: list[dict[str, Any]] = []
    for mode in args.modes:
        kw: dict[str, Any] = {} if mode.endswith("nostart") else {"start": start}
        if mode.startswith("blocks"):
            kw.update(components=True, block_size=args.block_size, workers=args.workers)
        load = os.getloadavg()[0]
        c0, w0 = _cpu(), time.perf_counter()
        res, _ = solve(built.model, opts, **kw)
        rec = {
            "mode": mode,
            "wall_seconds": round(time.perf_counter() - w0, 2),
            "cpu_seconds": round(_cpu() - c0, 2),
            "highs_seconds": round(res.seconds, 2),
            "loadavg_1min_before": round(load, 2),
            "status": res.status,
            "objective": res.objective,
            "bound": res.bound,
            "gap": res.gap,
            "message": res.message,
        }
        runs.append(rec)
        print(json.dumps(rec), flush=True)
    doc = {
        "command": "python benchmarks/alignment.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "model": {
            "reps": md.n_reps,
            "key_accounts": len(md.ka_ids),
            "pairs": built.model.n_cols,
            "rows": built.model.n_rows,
            "start_pairs": len(start[0]),
        },
        "validate_and_build_seconds": round(t1 - t0, 2),
        "start_seconds": round(t2 - t1, 2),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
