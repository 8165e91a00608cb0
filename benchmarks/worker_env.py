"""One sweep item's stage times in a plain process and on a one-worker local Dask cluster, with
and without Dask's default worker environment (``MALLOC_TRIM_THRESHOLD_=65536``).

    nice -n 10 python benchmarks/worker_env.py --reps 5000 --repeat 3 \\
        --out benchmarks/results/worker-env-5k.json

Each condition defines the draws sweep of ``benchmarks/sweep.py`` (a generated plan), solves
draw ``--draw`` once to warm up and then ``--repeat`` times, timing the stages as
``benchmarks/item_pair.py`` does (wall, CPU seconds, minor page faults). Conditions:
``plain`` (a subprocess, as an in-process sweep), ``dask`` (a worker of the sweep's local
cluster, :data:`allocopt.sweep.runner.LOCAL_CONFIG`) and ``dask-default-env`` (the same
cluster in Dask's default configuration, as before session 5). CPU seconds are the measure:
on a shared machine the wall times include other processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

_STATE: dict[str, Any] = {}


def timed_item(scenario: str, draw: int, repeat: int) -> list[dict[str, list[float]]]:
    """Solve ``draw`` once to warm up, then ``repeat`` times; each run's stage times."""
    from threadpoolctl import threadpool_limits

    from allocopt.sweep.define import define
    from allocopt.sweep.work import Job, run_item

    if "times" not in _STATE:
        import item_pair

        _STATE["times"] = item_pair.instrument()
        _STATE["defn"] = define(Path(scenario), draws=draw + 1, seed=1)
    times, defn = _STATE["times"], _STATE["defn"]
    job = Job.of(defn)
    runs = []
    with threadpool_limits(limits=1):
        for k in range(repeat + 1):
            times.clear()
            t, c = time.perf_counter(), time.process_time()
            f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            run_item(job, defn.items[draw], base=defn.base)
            times["item total"] = [
                time.perf_counter() - t,
                time.process_time() - c,
                resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f,
            ]
            if k:  # the first run warms up
                runs.append({n: [round(x, 4) for x in v] for n, v in times.items()})
    return runs


def _on_dask(scenario: str, draw: int, repeat: int, default_env: bool) -> Any:
    import dask
    from distributed import Client, LocalCluster

    from allocopt.sweep.runner import LOCAL_CONFIG

    with dask.config.set({} if default_env else LOCAL_CONFIG):
        cluster = LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster, set_as_default=False) as client:
        env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        runs = client.submit(timed_item, scenario, draw, repeat, pure=False).result()
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # a nanny sets it in this process too
    return runs, sorted(set(env.values()), key=str)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--draw", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plan", type=Path, help="reuse this folder for the generated plan")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.child:  # the plain condition
        print(json.dumps(timed_item(a.child, a.draw, a.repeat)))
        return
    from sweep import draws_scenario

    tmp = a.plan or Path(tempfile.mkdtemp(prefix="allocopt-worker-env-"))
    tmp.mkdir(parents=True, exist_ok=True)
    sc = tmp / f"plan{a.reps}" / "sweep.yaml"
    if not sc.exists():
        sc = draws_scenario(a.reps, tmp)
    load0 = [round(x, 2) for x in os.getloadavg()]
    conds: dict[str, Any] = {}
    cmd = [sys.executable, __file__, "--child", str(sc), "--draw", str(a.draw)]
    cmd += ["--repeat", str(a.repeat)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    conds["plain"] = {"runs": json.loads(out.strip().splitlines()[-1]), "malloc_trim": [None]}
    for name, default in (("dask", False), ("dask-default-env", True)):
        runs, trim = _on_dask(str(sc), a.draw, a.repeat, default)
        conds[name] = {"runs": runs, "malloc_trim": trim}
    table: dict[str, dict[str, Any]] = {}
    for cond, d in conds.items():
        for stage in d["runs"][0]:
            row = table.setdefault(stage, {})
            for k, what in enumerate(("wall", "cpu", "faults")):
                vals = [r[stage][k] for r in d["runs"] if stage in r]
                row[f"{cond} {what}"] = round(statistics.median(vals), 4)
    for row in table.values():
        base = row.get("plain cpu")
        for cond in ("dask", "dask-default-env"):
            if base and row.get(f"{cond} cpu") is not None:
                row[f"{cond} cpu ÷ plain"] = round(row[f"{cond} cpu"] / base, 3)
    doc = {
        "command": "python benchmarks/worker_env.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_before": load0,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "reps": a.reps,
        "draw": a.draw,
        "median_of": a.repeat,
        "stages": table,
        "conditions": conds,
    }
    for stage, row in table.items():
        print(
            f"{stage:26s} cpu plain {row.get('plain cpu')}  dask {row.get('dask cpu')}  "
            f"default-env {row.get('dask-default-env cpu')}  "
            f"faults {row.get('plain faults')} / {row.get('dask faults')} / "
            f"{row.get('dask-default-env faults')}"
        )
    if a.out:
        a.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
