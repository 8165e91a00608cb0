"""Generate a large synthetic plan for benchmarks.

Example::

    python benchmarks/generate.py --reps 20000 --out benchmarks/out/plan20k

Teams of about ``--reps-per-team`` reps (default 20), 25 teams per region (at least 3 regions),
2 key accounts per rep with 5 candidates each, products HW/SW/SVC, quarters.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from allocopt.examples.generate import generate_plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--reps", type=int, default=20_000, help="number of reps (default 20000)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default benchmarks/out/plan<reps>)",
    )
    parser.add_argument("--reps-per-team", type=int, default=20)
    parser.add_argument("--teams-per-region", type=int, default=25)
    parser.add_argument("--key-per-rep", type=float, default=2.0)
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--products", default="HW,SW,SVC", help="comma-separated products")
    parser.add_argument("--granularity", choices=("quarter", "month"), default="quarter")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--name", default=None, help="scenario name (default bench-<reps>)")
    parser.add_argument("--no-actuals", action="store_true", help="omit the actuals table")
    parser.add_argument(
        "--full-year-actuals",
        action="store_true",
        help="also write data/actuals-full-year.csv (a whole year, for allocopt evaluate)",
    )
    parser.add_argument(
        "--attainment-history",
        action="store_true",
        help="also write data/attainment_history.csv (earlier years, for rule attainability)",
    )
    args = parser.parse_args(argv)

    if args.reps < 1 or args.reps_per_team < 1 or args.teams_per_region < 1:
        parser.error("--reps, --reps-per-team and --teams-per-region must be >= 1")
    teams = max(1, args.reps // args.reps_per_team)
    regions = min(teams, max(3, teams // args.teams_per_region))
    out = args.out or Path("benchmarks/out") / f"plan{args.reps}"
    name = args.name or f"bench-{args.reps}"

    started = time.perf_counter()
    scenario = generate_plan(
        out,
        regions=regions,
        teams=teams,
        reps=args.reps,
        reps_per_team=args.reps_per_team,
        products=tuple(p.strip() for p in args.products.split(",") if p.strip()),
        key_accounts_per_rep=args.key_per_rep,
        candidates_per_key=args.candidates,
        granularity=args.granularity,
        seed=args.seed,
        name=name,
        with_actuals=not args.no_actuals,
        full_year_actuals=args.full_year_actuals,
        attainment_history=args.attainment_history,
    )
    elapsed = time.perf_counter() - started

    print(f"{scenario}  ({args.reps} reps, {teams} teams, {regions} regions) in {elapsed:.2f} s")
    for path in sorted((scenario.parent / "data").glob("*.csv")):
        with path.open("rb") as fh:
            rows = sum(1 for _ in fh) - 1
        print(f"  {path.name:<16} {rows:>9} rows {path.stat().st_size / 1e6:>8.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
