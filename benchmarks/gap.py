"""Generalized assignment (GAP) benchmark: OR-Library instances solved as allocopt stage 1.

Each OR-Library instance (m agents, n jobs, cost c[i][j], resource a[i][j], capacity b[i]) is
written as an allocopt scenario that holds only the key-account part: agents are reps with
``max_workload`` = b[i], jobs are key accounts, and the candidates table lists every (job, agent)
pair with cost c[i][j] and workload a[i][j]. The stage-1 term ``alignment_disruption`` is then the
GAP objective and is compared with the proven optimum in ``optima.csv``.

Example::

    python benchmarks/gap.py --all --time-limit 60 --out benchmarks/results/gap.json
    python benchmarks/gap.py --instances cattrysse1994/gap1-0 chu1997/a05100

Instances are read from ``../shared/benchmarks/gap`` beside the repository (``--data`` to change).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "gap"
DATASETS = ("cattrysse1994", "chu1997")
# The stage-1 tie-break adds at most TIEBREAK × (number of assigned pairs) ≤ 1e-6 × 200 = 2e-4 to
# the objective: far below 1, the smallest difference between two integer-cost assignments.
TIEBREAK = 1.0e-6


@dataclass(frozen=True)
class GapInstance:
    """One GAP instance: minimise Σ c[i,j] x[i,j], Σ_i x[i,j] = 1, Σ_j a[i,j] x[i,j] ≤ b[i]."""

    c: np.ndarray  # (m, n) cost of giving job j to agent i
    a: np.ndarray  # (m, n) resource job j uses on agent i
    b: np.ndarray  # (m,) capacity of agent i

    @property
    def m(self) -> int:
        return int(self.c.shape[0])

    @property
    def n(self) -> int:
        return int(self.c.shape[1])


def _number(tok: str) -> int | float:
    v = float(tok)
    return int(v) if v.is_integer() else v


def read_orlib(path: Path | str) -> GapInstance:
    """Read one OR-Library GAP instance: ``m n``, c by agent, a by agent, b (any whitespace)."""
    tokens = Path(path).read_text(encoding="utf-8").split()
    if len(tokens) < 2:
        raise ValueError(f"{path}: expected 'm n' at the start of the file")
    m, n = int(tokens[0]), int(tokens[1])
    if m < 1 or n < 1:
        raise ValueError(f"{path}: m and n must be positive (got m={m}, n={n})")
    need = 2 + 2 * m * n + m
    if len(tokens) < need:
        raise ValueError(f"{path}: expected {need} numbers for m={m}, n={n}, found {len(tokens)}")
    if len(tokens) > need:
        raise ValueError(
            f"{path}: {len(tokens) - need} numbers after the capacities; "
            "one instance per file is expected"
        )
    vals = np.array([_number(t) for t in tokens[2:need]], dtype=float)
    c = vals[: m * n].reshape(m, n)
    a = vals[m * n : 2 * m * n].reshape(m, n)
    b = vals[2 * m * n :]
    return GapInstance(c, a, b)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_scenario(
    inst: GapInstance,
    out_dir: Path | str,
    name: str,
    *,
    time_limit: float = 60.0,
    threads: int = 1,
    tiebreak: float = TIEBREAK,
) -> Path:
    """Write ``inst`` as an allocopt scenario (assignment part only); return the YAML path."""
    out = Path(out_dir)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    wa = max(3, len(str(inst.m)))
    wj = max(4, len(str(inst.n)))
    agents = [f"AG{i + 1:0{wa}d}" for i in range(inst.m)]
    jobs = [f"J{j + 1:0{wj}d}" for j in range(inst.n)]
    _write_csv(
        data / "org_units.csv",
        ["unit_id", "parent_id", "name", "level"],
        [["CO", "", "Company", "company"], ["T1", "CO", "Agents", "team"]],
    )
    _write_csv(
        data / "reps.csv",
        ["rep_id", "team_id", "fte", "capacity", "max_workload"],
        [[r, "T1", 1, 1_000_000_000, _fmt(inst.b[i])] for i, r in enumerate(agents)],
    )
    _write_csv(
        data / "potential.csv",
        ["rep_id", "product", "potential"],
        [[r, "P", 0] for r in agents],
    )
    _write_csv(
        data / "accounts.csv",
        ["account_id", "product", "revenue", "key", "incumbent_rep"],
        [[j, "P", 0, "true", ""] for j in jobs],
    )
    _write_csv(
        data / "candidates.csv",
        ["account_id", "rep_id", "cost", "workload"],
        [
            [job, agents[i], _fmt(inst.c[i, j]), _fmt(inst.a[i, j])]
            for j, job in enumerate(jobs)
            for i in range(inst.m)
        ],
    )
    _write_csv(
        data / "seasonality.csv",
        ["product", "period", "weight"],
        [["P", f"Q{q}", 0.25] for q in range(1, 5)],
    )
    scenario: dict[str, Any] = {
        "name": name,
        "description": f"OR-Library GAP instance {name}: {inst.m} agents, {inst.n} jobs",
        "plan": {"fiscal_year_start": "2027-01-01", "granularity": "quarter", "currency": "EUR"},
        "data": {
            k: f"data/{k}.csv"
            for k in (
                "org_units",
                "reps",
                "potential",
                "accounts",
                "candidates",
                "seasonality",
            )
        },
        "products": ["P"],
        "targets": {"by_product": {"P": 0.0}, "over_assignment": 0.0},
        "rules": {
            "capacity": {"enabled": False},
            "potential": {"enabled": False},
            "growth": {"enabled": False},
            "floors": {"enabled": False},
            "key_accounts": {"enabled": True, "move_cost": 0.0},
            "fairness": {"enabled": False},
            "phasing": {"enabled": False},
            "rounding": {"enabled": False},
        },
        "objective": {
            "reference": {"potential": 1.0, "history": 0.0},
            "weights": {
                "deviation": 1.0,
                "fairness": 0.0,
                "disruption": 1.0,
                "tiebreak": float(tiebreak),
            },
        },
        "solver": {
            "time_limit": float(time_limit),
            "mip_gap": 0.0,
            "threads": int(threads),
            "seed": 0,
        },
        "output": {"directory": "runs"},
    }
    path = out / "scenario.yaml"
    text = yaml.safe_dump(scenario, sort_keys=False)
    path.write_text(text.replace("'2027-01-01'", "2027-01-01"), encoding="utf-8")
    return path


def load_optima(data_dir: Path) -> dict[str, float]:
    """{instance path relative to the data folder: proven optimum} from ``optima.csv``."""
    with (data_dir / "optima.csv").open(encoding="utf-8") as f:
        return {row["Path"]: float(row["Optimum"]) for row in csv.DictReader(f)}


def solve_instance(
    data_dir: Path,
    instance: str,
    optimum: float | None,
    *,
    time_limit: float,
    threads: int = 1,
    tiebreak: float = TIEBREAK,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Convert, solve and compare one instance; returns the result record.

    ``objective`` is allocopt's stage-1 term ``alignment_disruption`` (it excludes the tie-break;
    HiGHS's binaries may be off 0/1 by its integrality tolerance, so it can differ from an integer
    by ~1e-8). ``assignment_cost`` re-prices the chosen owners with the instance's own costs.
    """
    from allocopt.pipeline import run

    inst = read_orlib(data_dir / instance)
    name = "gap-" + instance.replace("/", "-")
    with tempfile.TemporaryDirectory(prefix="gap-", dir=work_dir) as tmp:
        scenario = write_scenario(
            inst,
            Path(tmp) / "scenario",
            name,
            time_limit=time_limit,
            threads=threads,
            tiebreak=tiebreak,
        )
        t0 = time.perf_counter()
        outcome = run(scenario, out=Path(tmp) / "run")
        total = time.perf_counter() - t0
    stage = outcome.manifest["stages"]["alignment"] or {}
    objective = float(outcome.results.summary["objective_terms"]["alignment_disruption"])
    asg = outcome.results.assignments
    agent = np.array([int(str(r)[2:]) - 1 for r in asg["owner_rep"]], dtype=np.int64)
    job = np.array([int(str(a)[1:]) - 1 for a in asg["account_id"]], dtype=np.int64)
    cost = float(inst.c[agent, job].sum())
    load = np.bincount(agent, weights=inst.a[agent, job], minlength=inst.m)
    gap_opt = None
    if optimum:
        gap_opt = round((objective - optimum) / abs(optimum), 9) + 0.0  # + 0.0: no "-0.0"
    return {
        "instance": instance,
        "m": inst.m,
        "n": inst.n,
        "optimum": optimum,
        "objective": objective,
        "assignment_cost": cost,
        "gap_to_optimum": gap_opt,
        "feasible": bool(len(job) == inst.n and (load <= inst.b + 1e-9).all()),
        "status": stage.get("status"),
        "mip_gap": stage.get("gap"),
        "solve_seconds": round(float(stage.get("seconds", 0.0)), 3),
        "total_seconds": round(total, 3),
    }


def _sort_key(instance: str) -> tuple[Any, ...]:
    ds, _, fname = instance.partition("/")
    if fname.startswith("gap"):
        series, _, k = fname[3:].partition("-")
        return (ds, 0, int(series), int(k or 0))
    return (ds, 1, fname[0], int(fname[1:3]) if fname[1:3].isdigit() else 0, fname)


def list_instances(data_dir: Path, datasets: tuple[str, ...]) -> list[str]:
    """Every instance file of the given datasets, in a natural order."""
    found = [
        f"{ds}/{p.name}"
        for ds in datasets
        if (data_dir / ds).is_dir()
        for p in (data_dir / ds).iterdir()
        if p.is_file() and not p.name.startswith(".")
    ]
    return sorted(found, key=_sort_key)


def _header(argv: list[str], time_limit: float, threads: int, tiebreak: float) -> dict[str, Any]:
    from allocopt import __version__
    from allocopt.solve import highs_version

    return {
        "benchmark": "OR-Library generalized assignment (stage 1: key-account alignment)",
        "command": " ".join(shlex.quote(a) for a in ["python", "benchmarks/gap.py", *argv]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "versions": {"allocopt": __version__, "highs": highs_version()},
        "settings": {
            "time_limit": time_limit,
            "threads": threads,
            "mip_gap": 0.0,
            "tiebreak": tiebreak,
        },
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if r.get("objective") is not None]
    opt = [
        r for r in done if r["optimum"] is not None and abs(r["objective"] - r["optimum"]) <= 1e-6
    ]
    gaps = [r["gap_to_optimum"] for r in done if r["gap_to_optimum"] is not None]
    solve = [r["solve_seconds"] for r in done]
    slowest = max(done, key=lambda r: r["solve_seconds"]) if done else None
    return {
        "instances": len(rows),
        "solved": len(done),
        "at_optimum": len(opt),
        "feasible": sum(1 for r in done if r["feasible"]),
        "proven_optimal": sum(1 for r in done if r["status"] == "optimal"),
        "max_abs_objective_minus_cost": max(
            (abs(r["objective"] - r["assignment_cost"]) for r in done), default=None
        ),
        "worst_gap_to_optimum": max(gaps) if gaps else None,
        "max_solve_seconds": max(solve) if solve else None,
        "slowest_instance": slowest["instance"] if slowest else None,
        "total_solve_seconds": round(sum(solve), 3),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'instance':<24} {'m':>3} {'n':>4} {'optimum':>8} {'allocopt':>10} {'gap%':>7} "
    head += f"{'status':<11} {'mip_gap':>8} {'solve s':>8} {'total s':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.get("objective") is None:
            lines.append(f"{r['instance']:<24} error: {r.get('error', '?')}")
            continue
        gap = "" if r["gap_to_optimum"] is None else f"{100 * r['gap_to_optimum']:.3f}"
        mg = "" if r["mip_gap"] is None else f"{r['mip_gap']:.2e}"
        opt = "" if r["optimum"] is None else f"{r['optimum']:g}"
        lines.append(
            f"{r['instance']:<24} {r['m']:>3} {r['n']:>4} {opt:>8} {r['objective']:>10.6g} "
            f"{gap:>7} {r['status']:<11} {mg:>8} {r['solve_seconds']:>8.2f} "
            f"{r['total_seconds']:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description="Solve OR-Library GAP instances with allocopt's key-account stage."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--instances", nargs="+", metavar="PATH", help="instances, e.g. cattrysse1994/gap1-0"
    )
    which.add_argument("--all", action="store_true", help="every instance of --dataset")
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        action="append",
        help="with --all: only this dataset (repeatable; default all)",
    )
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance")
    parser.add_argument("--threads", type=int, default=1, help="HiGHS threads (default 1)")
    parser.add_argument(
        "--tiebreak",
        type=float,
        default=TIEBREAK,
        help=f"stage-1 tie-break weight (default {TIEBREAK:g}; 0 lets HiGHS use the integer costs)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="GAP data folder")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gap.json")
    args = parser.parse_args(argv)

    data_dir: Path = args.data
    if not (data_dir / "optima.csv").is_file():
        parser.error(f"no optima.csv in {data_dir}; pass --data")
    optima = load_optima(data_dir)
    if not 0 <= args.tiebreak < 1e-3:  # the n ≤ 200 assigned pairs must add less than 1
        parser.error("--tiebreak must be in [0, 0.001) so it cannot change an integer optimum")
    if args.all:
        instances = list_instances(data_dir, tuple(args.dataset or DATASETS))
    else:
        instances = [i.strip("/") for i in args.instances]
        missing = [i for i in instances if not (data_dir / i).is_file()]
        if missing:
            parser.error(f"instance files not found under {data_dir}: {', '.join(missing)}")

    rows: list[dict[str, Any]] = []
    for k, instance in enumerate(instances, 1):
        try:
            row = solve_instance(
                data_dir,
                instance,
                optima.get(instance),
                time_limit=args.time_limit,
                threads=args.threads,
                tiebreak=args.tiebreak,
            )
        except Exception as exc:  # record the failure, carry on with the other instances
            row = {"instance": instance, "objective": None, "error": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
        status = row.get("status") or row.get("error")
        print(
            f"[{k}/{len(instances)}] {instance}: {row.get('objective')} "
            f"(optimum {optima.get(instance)}) {status} {row.get('solve_seconds', '')}s",
            file=sys.stderr,
            flush=True,
        )

    report = {
        **_header(argv, args.time_limit, args.threads, args.tiebreak),
        "summary": _summary(rows),
    }
    report["results"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(_table(rows))
    s = report["summary"]
    print(
        f"\n{s['at_optimum']}/{s['instances']} at the proven optimum, "
        f"{s['proven_optimal']} proven optimal by HiGHS; worst gap {s['worst_gap_to_optimum']}; "
        f"slowest {s['slowest_instance']} {s['max_solve_seconds']}s -> {args.out}"
    )
    return 0 if s["solved"] == s["instances"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
