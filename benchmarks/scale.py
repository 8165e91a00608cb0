"""Money-scale benchmark: solve the shipped example with every money value × k and time it.

    python benchmarks/scale.py --out benchmarks/results/scale.json

For each k (default 1e-3, 1e-2, 0.1, 1, 10, 100, 1e3, 1e4) the example's data folder and scenario
are copied with every money value multiplied by k — potentials, capacities, last year's quota and
actual, account revenues, candidate costs, actuals, company and unit targets, floors and the
rounding unit — and solved in process (no HTML report). A run at k = 1 with
``rules.rounding.unit=100000`` (a unit large next to many quotas) is added. Each row reports the
quota stage's HiGHS time, status, gap and how the plan compares with k × the plan at k = 1:
the largest annual-quota difference in rounding units and whether every key account keeps its
owner. Scale invariance means: same status, same gap order, plan = k × base plan.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example"

MONEY_COLS = {
    "potential.csv": ["potential"],
    "reps.csv": ["capacity", "ly_quota", "ly_actual"],
    "accounts.csv": ["revenue"],
    "candidates.csv": ["cost"],
    "actuals.csv": ["amount"],
}
SCALES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4)


def _times(value: Any, k: float) -> Any:
    """value × k, exact in decimal (so 374789.96 × 0.001 is 374.78996, not 374.78996000000006)."""
    if value in ("", None):
        return value
    out = Decimal(str(value)) * Decimal(repr(k))
    return float(out) if isinstance(value, (int, float)) else format(out.normalize(), "f")


def scale_example(dst: Path, k: float, src: Path = EXAMPLE) -> Path:
    """Copy the example scenario to ``dst`` with every money value × k; return the scenario path."""
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "data").mkdir(parents=True)
    for f in sorted((src / "data").glob("*.csv")):
        cols = MONEY_COLS.get(f.name, [])
        with f.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            fields = list(rows[0].keys()) if rows else []
        for row in rows:
            for c in cols:
                row[c] = _times(row[c], k)
        with (dst / "data" / f.name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    sc = yaml.safe_load((src / "scenario.yaml").read_text(encoding="utf-8"))
    tg = sc["targets"]
    tg["by_product"] = {p: _times(v, k) for p, v in tg["by_product"].items()}
    for u in tg.get("units", []) or []:
        for key in ("value", "min", "max"):
            if u.get(key) is not None:
                u[key] = _times(u[key], k)
    rules = sc["rules"]
    rules["floors"]["by_role"] = {r: _times(v, k) for r, v in rules["floors"]["by_role"].items()}
    rules["rounding"]["unit"] = _times(rules["rounding"]["unit"], k)
    sc["output"] = {"directory": "runs"}
    path = dst / "scenario.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False), encoding="utf-8")
    return path


def _solve(scenario: Path, out: Path, sets: tuple[str, ...] = ()) -> dict[str, Any]:
    from allocopt.pipeline import run

    t0 = time.perf_counter()
    res = run(scenario, out=out, force=True, sets=sets, report=False)
    wall = time.perf_counter() - t0
    q = res.manifest["stages"]["quotas"]
    a = res.manifest["stages"]["alignment"]
    annual = res.results.annual
    return {
        "status": res.status,
        "gap": res.gap,
        "wall_seconds": round(wall, 3),
        "quota_stage_seconds": round(float(q["seconds"]), 3),
        "alignment_seconds": round(float(a["seconds"]), 3) if a else None,
        "quota_objective": q["objective"],
        "quota_message": q["message"],
        "_quotas": {
            (r, p): float(v)
            for r, p, v in zip(annual["rep_id"], annual["product"], annual["quota"], strict=True)
        },
        "_owners": dict(
            zip(
                res.results.assignments["account_id"],
                res.results.assignments["owner_rep"],
                strict=True,
            )
        ),
    }


def _compare(row: dict[str, Any], base: dict[str, Any], k: float, unit: float) -> None:
    qa, qb = row.pop("_quotas"), base["_quotas"]
    diff = max(abs(qa[key] - k * qb[key]) for key in qb)
    row["max_quota_diff_units"] = round(diff / (k * unit), 6)
    row["quotas_differing"] = sum(abs(qa[key] - k * qb[key]) > 1e-6 * k * unit for key in qb)
    row["same_key_account_owners"] = row.pop("_owners") == base["_owners"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=list(SCALES))
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out" / "scale")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    ap.add_argument("--no-big-unit", action="store_true", help="skip the unit=100000 run")
    ap.add_argument("--time-limit", type=float, help="override solver.time_limit (default: 120 s)")
    ap.add_argument(
        "--set", dest="sets", action="append", default=[], help="a scenario change, as in solve"
    )
    args = ap.parse_args()
    unit = float(
        yaml.safe_load((EXAMPLE / "scenario.yaml").read_text())["rules"]["rounding"]["unit"]
    )
    scales = sorted(set(args.scales) | {1.0})
    sets = tuple(args.sets)
    if args.time_limit:
        sets += (f"solver.time_limit={args.time_limit}",)
    runs: dict[float, dict[str, Any]] = {}
    for k in [1.0] + [s for s in scales if s != 1.0]:
        scenario = scale_example(args.work / f"k{k:g}", k)
        runs[k] = {"k": k, **_solve(scenario, args.work / f"run-k{k:g}", sets)}
        print(
            f"k={k:g}: {runs[k]['status']} gap={runs[k]['gap']} "
            f"quota stage {runs[k]['quota_stage_seconds']} s",
            flush=True,
        )
    base = dict(runs[1.0])
    results = []
    for k in scales:
        row = dict(runs[k])
        _compare(row, base, k, unit)
        results.append(row)
    if not args.no_big_unit:
        row = {
            "k": 1.0,
            "set": "rules.rounding.unit=100000",
            **_solve(
                EXAMPLE / "scenario.yaml",
                args.work / "run-unit100000",
                ("rules.rounding.unit=100000", *sets),
            ),
        }
        row.pop("_quotas")
        row.pop("_owners")
        print(
            f"unit=100000: {row['status']} gap={row['gap']} "
            f"quota stage {row['quota_stage_seconds']} s",
            flush=True,
        )
        results.append(row)
    doc = {
        "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "scenario": "scenarios/example/scenario.yaml, every money value × k",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
