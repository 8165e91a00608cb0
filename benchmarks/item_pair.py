"""Where two sweep items running at once slow each other: one Monte Carlo draw of a generated
plan solved alone, then two copies at the same moment (two processes), stage by stage.

    nice -n 10 python benchmarks/item_pair.py --reps 5000 --runs 3 \\
        --out benchmarks/results/item-pair-5k.json

Each child process defines the draws sweep (``benchmarks/sweep.py``'s plan and shocks), loads
the base, says it is ready and waits; the parent starts the item in one child (``alone``) or in
two at once (``paired``, the children released together), ``--runs`` times alternately. The
item runs as a sweep worker runs it (:func:`allocopt.sweep.work.run_item`, one BLAS thread, one
HiGHS thread), with its stages timed by wrapping the functions that do them: the draw
(shocks + prepare), pre-checks, the key-account alignment, compiling, the quota LP, the rounded
LP optimum, the Lagrangian block MIPs and the plan made from them, extract — wall and CPU
seconds, and minor page faults (a stage that allocates and frees large arrays shows many).

``--env K=V`` sets an environment variable in the children (e.g. the
``MALLOC_TRIM_THRESHOLD_=65536`` a Dask nanny sets), to compare a worker's environment with the
in-process one. Result per stage: the median alone, the median paired (both copies), and
paired ÷ alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

# module attribute → stage name; the wrapped functions do not nest except where noted
STAGES: list[tuple[str, str, str]] = [
    ("allocopt.sweep.work", "_item_validated", "draw (shocks + prepare)"),
    ("allocopt.pipeline", "prechecks", "pre-checks"),
    ("allocopt.pipeline", "build_alignment", "build"),
    ("allocopt.pipeline", "build_quotas", "build"),
    ("allocopt.solve.entry", "compile_model", "compile"),
    ("allocopt.solve.alignment", "solve_components", "alignment MIPs"),
    ("allocopt.solve.blocks", "_relax", "quota LP"),
    ("allocopt.solve.blocks", "_assemble", "rounded LP optimum"),
    ("allocopt.solve.blocks", "_blocks_of", "blocks of the LP"),
    ("allocopt.solve.blocks", "lagrangian", "Lagrangian block MIPs"),
    ("allocopt.solve.blocks", "lagrangian_plan", "Lagrangian plan"),
    ("allocopt.pipeline", "extract", "extract"),
]


def instrument() -> dict[str, list[float]]:
    """Wrap the functions of :data:`STAGES` in this process; the dict they fill: stage →
    [wall seconds, CPU seconds, minor page faults], summed over calls."""
    import importlib

    times: dict[str, list[float]] = {}

    def wrap(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            try:
                return fn(*a, **k)
            finally:
                s = times.setdefault(name, [0.0, 0.0, 0.0])
                s[0] += time.perf_counter() - t
                s[1] += time.process_time() - c
                s[2] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f

        return timed

    for mod, attr, name in STAGES:
        m = importlib.import_module(mod)
        setattr(m, attr, wrap(getattr(m, attr), name))
    return times


def _child(scenario: str, draw: int) -> None:
    """Load the base, say ``ready``, wait for a line on stdin, run the item, print its times."""

    from threadpoolctl import threadpool_limits

    from allocopt.sweep.define import define
    from allocopt.sweep.work import Job, base_of, run_item

    times = instrument()
    defn = define(Path(scenario), draws=draw + 1, seed=1)
    job = Job.of(defn)
    base_of(job, defn.base)
    item = defn.items[draw]
    with threadpool_limits(limits=1):
        run_item(job, item, base=defn.base)  # warm: imports, first-call costs
        times.clear()
        print("ready", flush=True)
        sys.stdin.readline()
        t, c = time.perf_counter(), time.process_time()
        f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        res = run_item(job, item, base=defn.base)
        total = [
            time.perf_counter() - t,
            time.process_time() - c,
            resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f,
        ]
    out = {k: [round(v[0], 4), round(v[1], 4), int(v[2])] for k, v in times.items()}
    out["item total"] = [round(total[0], 4), round(total[1], 4), int(total[2])]
    print(json.dumps({"status": res["row"]["status"], "stages": out}), flush=True)


def _run(scenario: Path, draw: int, n: int, env: dict[str, str]) -> list[dict[str, Any]]:
    """``n`` children, released together once all are ready; their stage times."""
    cmd = [sys.executable, __file__, "--child", str(scenario), "--draw", str(draw)]
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT / "src")}
    procs = [
        subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=full_env
        )
        for _ in range(n)
    ]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"child not ready: {line!r}")
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = []
    for p in procs:
        out, _ = p.communicate()
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def _median(runs: list[dict[str, Any]], stage: str, k: int) -> float | None:
    vals = [r["stages"][stage][k] for r in runs if stage in r["stages"]]
    return round(statistics.median(vals), 4) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--draw", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--env", action="append", default=[], help="K=V in the children")
    ap.add_argument("--plan", type=Path, help="reuse this folder for the generated plan")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.child:
        _child(a.child, a.draw)
        return
    from sweep import draws_scenario

    env = dict(kv.split("=", 1) for kv in a.env)
    tmp = a.plan or Path(tempfile.mkdtemp(prefix="allocopt-item-pair-"))
    tmp.mkdir(parents=True, exist_ok=True)
    sc = tmp / f"plan{a.reps}" / "sweep.yaml"
    if not sc.exists():
        sc = draws_scenario(a.reps, tmp)
    load0 = [round(x, 2) for x in os.getloadavg()]
    alone: list[dict[str, Any]] = []
    paired: list[dict[str, Any]] = []
    for _ in range(a.runs):
        alone += _run(sc, a.draw, 1, env)
        paired += _run(sc, a.draw, 2, env)
    names = list(dict.fromkeys([n for _, _, n in STAGES] + ["item total"]))
    table = {}
    for name in names:
        wa, wp = _median(alone, name, 0), _median(paired, name, 0)
        if wa is None or wp is None:
            continue
        table[name] = {
            "alone_seconds": wa,
            "paired_seconds": wp,
            "slowdown": round(wp / wa, 3) if wa > 0 else None,
            "alone_cpu_seconds": _median(alone, name, 1),
            "paired_cpu_seconds": _median(paired, name, 1),
            "minor_faults": _median(alone, name, 2),
        }
    doc = {
        "command": "python benchmarks/item_pair.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_before": load0,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "reps": a.reps,
        "draw": a.draw,
        "env": env,
        "statuses": sorted({r["status"] for r in alone + paired}),
        "stages": table,
        "runs": {"alone": alone, "paired": paired},
    }
    text = json.dumps(doc, indent=2)
    print(json.dumps({k: doc[k] for k in ("load_average_before", "load_average_after", "env")}))
    for name, row in table.items():
        print(
            f"{name:28s} {row['alone_seconds']:8.3f} {row['paired_seconds']:8.3f} "
            f"{row['slowdown']}  cpu {row['alone_cpu_seconds']} / {row['paired_cpu_seconds']}"
            f"  faults {row['minor_faults']}"
        )
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
