"""Property-based tests (hypothesis): invariants of the whole pipeline on random small plans.

Random plans are feasible by construction. Every target is c × the effective base of the
product, with one c in [0.3, 0.6] for all products, so the proportional split quota = c · eb is a
point where every difficulty equals c; it satisfies any fairness band, potential shares around c,
wide growth bands around c · B_r, low floors and capacities of 2.5× that split per period. The
margins also cover rounding (every non-zero c · eb is at least 50 rounding units) and small
key-account moves (key-account revenue is 200-1,000 per product, potentials 20,000+).

Every solve goes through the ``solve`` fixture, which also runs the independent verifier.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import itertools
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from allocopt.examples.generate import generate_plan
from allocopt.pipeline import RunOutcome
from tests.conftest import Solve
from tests.plans import BASE_TABLES, write_plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example" / "scenario.yaml"

#: IDs are text and sorted by code point: "00123" < "A" < "NA" < "R10" < "R9" < "b"
REP_POOL = ("00123", "A", "B", "C", "NA", "R10", "R9", "b")
KA_POOL = ("00042", "K1", "K10", "K2")
FY = 2027
CENT = 0.005

SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_dirs = itertools.count()


@dataclass
class Plan:
    """Tables and scenario overrides for ``write_plan``, plus what the test needs to check."""

    tables: dict[str, list[dict[str, Any]]]
    extra: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def write(self, root: Path) -> Path:
        tables: dict[str, list[dict[str, Any]] | None] = dict(copy.deepcopy(self.tables))
        path = write_plan(root, tables=tables, extra=copy.deepcopy(self.extra))
        # write_plan merges dicts into the base scenario: replace the targets (base product P)
        sc = yaml.safe_load(path.read_text(encoding="utf-8"))
        sc["targets"]["by_product"] = dict(self.extra["targets"]["by_product"])
        path.write_text(yaml.safe_dump(sc, sort_keys=False), encoding="utf-8")
        return path


# ---- plan generator ----------------------------------------------------------------------------


def _add_months(year: int, month0: int) -> tuple[int, int]:
    """(year, month 1..12) of fiscal month index ``month0`` (0 = January of FY, may be < 0)."""
    y, m = divmod(month0, 12)
    return year + y, m + 1


def _monthly(start: dt.date | None, end: dt.date | None, ramp: tuple[float, ...]) -> list[float]:
    """Employment share × ramp per fiscal month (the formulation's emp · ramp)."""
    out = []
    for m in range(12):
        ms = dt.date(FY, m + 1, 1)
        me = dt.date(FY, m + 1, calendar.monthrange(FY, m + 1)[1])
        lo = max(ms, start) if start else ms
        hi = min(me, end) if end else me
        emp = max(0, (hi - lo).days + 1) / me.day
        f = 1.0
        if start is not None and ramp:
            k = m - ((start.year - FY) * 12 + start.month - 1)
            f = ramp[k] if 0 <= k < len(ramp) else 1.0
        out.append(emp * f)
    return out


def _employment(start: dt.date | None, end: dt.date | None) -> float:
    return sum(_monthly(start, end, ())) / 12


@st.composite
def plans(draw: st.DrawFn, *, key_rule: bool | None = None, rounding: bool | None = None) -> Plan:
    """A small random plan that is feasible by construction (see the module docstring)."""
    gran = draw(st.sampled_from(["quarter", "quarter", "month"]))
    if gran == "quarter":
        labels = [f"Q{q}" for q in range(1, 5)]
        months = [[3 * t, 3 * t + 1, 3 * t + 2] for t in range(4)]
    else:
        labels = [f"M{m:02d}" for m in range(1, 13)]
        months = [[m] for m in range(12)]
    n_t = len(labels)
    products = draw(st.sampled_from([("P",), ("HW", "SW")]))
    season: dict[str, list[float]] = {}
    for p in products:
        w = draw(st.lists(st.integers(1, 10), min_size=n_t, max_size=n_t))
        season[p] = [x / sum(w) for x in w]

    # organisation: CO → 1-2 regions → 1-3 teams (a team may sit directly under CO)
    n = draw(st.integers(2, 6))
    reps = draw(st.lists(st.sampled_from(REP_POOL), min_size=n, max_size=n, unique=True))
    regions = ["NORTH", "SOUTH"][: draw(st.integers(1, 2))]
    teams = [f"T{i + 1}" for i in range(draw(st.integers(1, min(3, n))))]
    org = [{"unit_id": "CO", "parent_id": "", "name": "Company", "level": "company"}]
    org += [{"unit_id": r, "parent_id": "CO", "name": r, "level": "region"} for r in regions]
    org += [
        {"unit_id": t, "parent_id": draw(st.sampled_from([*regions, "CO"])), "level": "team"}
        for t in teams
    ]
    team_of = [teams[i] if i < len(teams) else draw(st.sampled_from(teams)) for i in range(n)]

    # rules
    capacity_on = draw(st.booleans())
    ramp = draw(st.sampled_from([(), (0.5,), (0.25, 0.5, 0.75)]))
    potential_on, growth_on, floors_on, fairness_on = (draw(st.booleans()) for _ in range(4))
    unit = draw(st.sampled_from([None, 10, 100])) if rounding is None else None
    if rounding:
        unit = draw(st.sampled_from([10, 100]))
    ka_on = draw(st.booleans()) if key_rule is None else key_rule
    c = draw(st.integers(30, 60)) / 100
    cushion = draw(st.integers(0, 10)) / 100
    max_share = draw(st.sampled_from([0.8, 0.9, 1.0]))
    min_share = draw(st.sampled_from([0.0, 0.1]))

    # reps: dates (never for the first rep), FTE, role; availability per period
    fte, role, start, end, avail, emp = [], [], [], [], [], []
    for i in range(n):
        kind = "none" if i == 0 else draw(st.sampled_from(["none", "none", "start", "end"]))
        s = e = None
        if kind == "start":
            y, m = _add_months(FY, draw(st.integers(-3, 8)))
            s = dt.date(y, m, draw(st.sampled_from([1, 1, 15, 28])))
        elif kind == "end":
            m = draw(st.integers(3, 11)) + 1
            e = dt.date(FY, m, draw(st.sampled_from([15, calendar.monthrange(FY, m)[1]])))
        start.append(s)
        end.append(e)
        fte.append(draw(st.sampled_from([1.0, 0.8, 0.5])))
        role.append(draw(st.sampled_from(["rep", "senior", "lead"])))
        monthly = _monthly(s, e, ramp if capacity_on else ())
        avail.append([sum(monthly[k] for k in ms) / len(ms) for ms in months])
        emp.append(_employment(s, e))
    share = [
        {p: sum(season[p][t] * avail[r][t] for t in range(n_t)) for p in products} for r in range(n)
    ]

    # potential: 20k-200k per rep × product; with two products a rep may lack one
    pot = [{p: draw(st.integers(20_000, 200_000)) for p in products} for _ in range(n)]
    if len(products) == 2:
        for r in range(n):
            gone = draw(st.sampled_from([None, None, None, *products]))
            if gone is not None:
                pot[r][gone] = 0

    # accounts: 1-3 informative ones, 0-2 key accounts with distinct incumbents
    accounts = [
        {
            "account_id": f"X{i + 1}",
            "product": draw(st.sampled_from(products)),
            "revenue": draw(st.integers(0, 5_000)),
            "key": draw(st.sampled_from(["false", "no", "0", "FALSE"])),
            "incumbent_rep": draw(st.sampled_from(["", *reps])),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    n_ka = draw(st.integers(1 if key_rule else 0, min(2, n)))
    ka_ids = draw(st.lists(st.sampled_from(KA_POOL), min_size=n_ka, max_size=n_ka, unique=True))
    ka_inc = draw(st.lists(st.integers(0, n - 1), min_size=n_ka, max_size=n_ka, unique=True))
    ka_rev: list[dict[str, int]] = []
    for a, inc in zip(ka_ids, ka_inc, strict=True):
        sel = draw(st.lists(st.sampled_from(products), min_size=1, unique=True))
        rev = {p: draw(st.integers(200, 1_000)) for p in sorted(sel)}
        ka_rev.append(rev)
        flag = draw(st.sampled_from(["true", "yes", "1", "TRUE"]))
        accounts += [
            {
                "account_id": a,
                "product": p,
                "revenue": v,
                "key": flag,
                "incumbent_rep": reps[inc],
            }
            for p, v in rev.items()
        ]

    def bases(scale: int) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
        own = [{p: float(pot[r][p] * scale) for p in products} for r in range(n)]
        every = copy.deepcopy(own)
        for inc, rev in zip(ka_inc, ka_rev, strict=True):
            for p, v in rev.items():
                own[inc][p] += v
                for r in range(n):
                    every[r][p] += v
        return own, every

    scale = 1
    base, base_all = bases(scale)
    if unit:  # every non-zero c · eb is at least 50 units
        low = min(c * base[r][p] * share[r][p] for r in range(n) for p in products if base[r][p])
        if low < 50 * unit:
            scale = math.ceil(50 * unit / low)
            base, base_all = bases(scale)
    pot = [{p: v * scale for p, v in row.items()} for row in pot]
    eb = [{p: base[r][p] * share[r][p] for p in products} for r in range(n)]
    b_rep = [sum(eb[r].values()) for r in range(n)]
    targets = {
        p: max(1, round(c * sum(eb[r][p] for r in range(n)) / (1 + cushion))) for p in products
    }

    # capacity: 2.5 × the proportional split in every period (base with every key account)
    capacity = []
    for r in range(n):
        need = max(
            sum(base_all[r][p] * season[p][t] for p in products) * 12 / len(months[t])
            for t in range(n_t)
        )
        capacity.append(math.ceil(2.5 * c * need / fte[r] + 4 * (unit or 0) / fte[r]))

    rep_rows = []
    for r, (s_r, e_r) in enumerate(zip(start, end, strict=True)):
        hist = draw(st.booleans())
        la = round(c * b_rep[r] * draw(st.integers(80, 125)) / 100 / emp[r]) if hist else ""
        lq = round(c * b_rep[r] * draw(st.integers(80, 125)) / 100 / emp[r]) if hist else ""
        rep_rows.append(
            {
                "rep_id": reps[r],
                "team_id": team_of[r],
                "role": role[r],
                "fte": fte[r],
                "start_date": s_r.isoformat() if s_r else "",
                "end_date": e_r.isoformat() if e_r else "",
                "capacity": capacity[r],
                "ly_quota": lq,
                "ly_actual": la,
            }
        )
    floors = {}
    for rl in ("rep", "senior"):
        vals = [c * b_rep[r] / (fte[r] * emp[r]) for r in range(n) if role[r] == rl]
        floors[rl] = math.floor(0.4 * min(vals)) if vals else 1_000

    tables: dict[str, list[dict[str, Any]]] = {
        "org_units": org,
        "reps": rep_rows,
        "potential": [
            {"rep_id": reps[r], "product": p, "potential": pot[r][p]}
            for r in range(n)
            for p in products
            if pot[r][p]
        ],
        "accounts": accounts,
        "seasonality": [
            {"product": p, "period": labels[t], "weight": season[p][t]}
            for p in products
            for t in range(n_t)
        ],
    }
    if draw(st.booleans()):
        tables["actuals"] = [
            {
                "rep_id": reps[r],
                "product": p,
                "period": labels[0],
                "amount": draw(st.integers(-1_000, 10_000)),
            }
            for r in range(n)
            for p in products
        ]

    # key-account rule: candidates (incumbent + others, small integer costs to make ties)
    ka_rule: dict[str, Any] = {"enabled": ka_on, "locked": [], "forbidden": []}
    if n_ka and draw(st.booleans()):
        cand: list[dict[str, Any]] = []
        for a, inc in zip(ka_ids, ka_inc, strict=True):
            for r in range(n):
                if r == inc or draw(st.booleans()):
                    cand.append(
                        {
                            "account_id": a,
                            "rep_id": reps[r],
                            "cost": draw(st.integers(0, 3)),
                            "workload": draw(st.integers(1, 2)),
                        }
                    )
        tables["candidates"] = cand
        incumbent = dict(zip(ka_ids, (reps[i] for i in ka_inc), strict=True))
        others = [
            (str(x["account_id"]), str(x["rep_id"]))
            for x in cand
            if x["rep_id"] != incumbent[x["account_id"]]
        ]
        if len(others) > 0 and draw(st.booleans()):
            acc_id, rep_id = draw(st.sampled_from(others))
            ka_rule["forbidden"] = [{"account": acc_id, "rep": rep_id}]
    if n_ka and draw(st.booleans()):
        ka_rule["locked"] = [{"account": ka_ids[0], "rep": reps[ka_inc[0]]}]
    ka_rule["max_accounts"] = draw(st.sampled_from([None, 1]))
    ka_rule["max_workload"] = draw(st.sampled_from([None, 2, 3]))
    ka_rule["move_cost"] = draw(st.sampled_from([0.0, 0.05, 0.1]))

    band = draw(st.sampled_from([None, 0.3, 0.5, 1.0]))
    ref = draw(st.sampled_from([(1.0, 0.0), (0.6, 0.4), (0.5, 0.5), (0.0, 1.0)]))
    extra = {
        "plan": {"granularity": gran},
        "products": list(products),
        "targets": {"by_product": targets, "over_assignment": cushion},
        "rules": {
            "capacity": {"enabled": capacity_on, "ramp": list(ramp)},
            "potential": {"enabled": potential_on, "max_share": max_share, "min_share": min_share},
            "growth": {
                "enabled": growth_on,
                "min": -0.5,
                "max": 1.0,
                "basis": draw(st.sampled_from(["actual", "quota"])),
            },
            "floors": {"enabled": floors_on, "by_role": floors},
            "key_accounts": ka_rule,
            "fairness": {
                "enabled": fairness_on,
                "level": draw(st.sampled_from(["team", "region", "company"])),
                "band": band,
            },
            "phasing": {
                "enabled": True,
                "mode": draw(st.sampled_from(["exact", "band"])),
                "band": draw(st.sampled_from([0.1, 0.25, 0.5])),
            },
            "rounding": {"enabled": unit is not None, "unit": unit or 1000},
        },
        "objective": {
            "reference": {"potential": ref[0], "history": ref[1]},
            "weights": {"fairness": draw(st.sampled_from([0.0, 1.0]))},
        },
    }
    meta = {
        "targets": targets,
        "cushion": cushion,
        "unit": unit,
        "n_periods": n_t,
        "capacity_on": capacity_on,
        "potential_on": potential_on,
        "max_share": max_share,
    }
    return Plan(tables, extra, meta)


# ---- plan transformations ----------------------------------------------------------------------

REP_COLS = {
    "reps": ["rep_id"],
    "potential": ["rep_id"],
    "accounts": ["incumbent_rep"],
    "candidates": ["rep_id"],
    "actuals": ["rep_id"],
}
UNIT_COLS = {"org_units": ["unit_id", "parent_id"], "reps": ["team_id"]}
ACCOUNT_COLS = {"accounts": ["account_id"], "candidates": ["account_id"]}
MONEY_COLS = {
    "potential": ["potential"],
    "reps": ["capacity", "ly_quota", "ly_actual"],
    "accounts": ["revenue"],
    "candidates": ["cost"],
    "actuals": ["amount"],
}


def _prefix(prefix: str) -> Callable[[str], str]:
    return lambda x: f"{prefix}{x}" if x != "" else ""


def _map_columns(plan: Plan, cols: dict[str, list[str]], f: Callable[[Any], Any]) -> None:
    for table, names in cols.items():
        for row in plan.tables.get(table, []):
            for col in names:
                if col in row and row[col] != "":
                    row[col] = f(row[col])


def renamed(plan: Plan) -> Plan:
    """Order-preserving renaming: reps X-…, accounts K-…, org units U-…."""
    out = copy.deepcopy(plan)
    rep, acc, unit = _prefix("X-"), _prefix("K-"), _prefix("U-")
    _map_columns(out, REP_COLS, rep)
    _map_columns(out, UNIT_COLS, unit)
    _map_columns(out, ACCOUNT_COLS, acc)
    ka = out.extra["rules"]["key_accounts"]
    for kind in ("locked", "forbidden"):
        ka[kind] = [{"account": acc(x["account"]), "rep": rep(x["rep"])} for x in ka[kind]]
    for u in out.extra["targets"].get("units", []):
        u["unit"] = unit(u["unit"])
    return out


def scaled(plan: Plan, k: int) -> Plan:
    """Every money value × k (IDs, shares, FTE, weights and workloads unchanged)."""
    out = copy.deepcopy(plan)
    _map_columns(out, MONEY_COLS, lambda v: v * k)
    tg = out.extra["targets"]
    tg["by_product"] = {p: v * k for p, v in tg["by_product"].items()}
    for u in tg.get("units", []):
        for key in ("value", "min", "max"):
            if u.get(key) is not None:
                u[key] *= k
    fl = out.extra["rules"]["floors"]
    fl["by_role"] = {r: v * k for r, v in fl["by_role"].items()}
    return out


def shuffled(plan: Plan, rnd: random.Random) -> Plan:
    out = copy.deepcopy(plan)
    for rows in out.tables.values():
        rnd.shuffle(rows)
    return out


# ---- helpers -----------------------------------------------------------------------------------


def _root(tmp_path: Path) -> Path:
    return tmp_path / f"plan{next(_dirs)}"


def _csv(res: RunOutcome, name: str) -> pd.DataFrame:
    return pd.read_csv(res.run_dir / name, dtype=str, keep_default_na=False)


RUN_CSVS = ("quotas.csv", "annual.csv", "rollups.csv", "assignments.csv")


# ---- 1. totals conserved, bounds held ----------------------------------------------------------


@settings(SETTINGS, max_examples=15)
@given(plan=plans())
def test_totals_conserved_and_bounds_held(plan: Plan, tmp_path: Path, solve: Solve) -> None:
    res = solve(plan.write(_root(tmp_path)))
    assert res.status == "optimal"
    m = plan.meta
    unit = m["unit"]
    annual = res.results.annual
    quotas = res.results.quotas
    n_reps = len(plan.tables["reps"])

    for p, target in m["targets"].items():
        total = float(annual.loc[annual["product"] == p, "quota"].sum())
        want = target * (1 + m["cushion"])
        if unit:
            x = want / unit
            assert total / unit in (math.floor(x), math.ceil(x))
            assert abs(total / unit - x) <= 0.5 + 1e-9
        else:
            assert total == pytest.approx(want, abs=n_reps * CENT + 1e-6)

    assert (annual["quota"] >= 0).all()
    assert (quotas["quota"] >= 0).all()
    if unit:
        for q in (annual["quota"], quotas["quota"]):
            assert ((q / unit - (q / unit).round()).abs() < 1e-9).all()

    by_rep = quotas.groupby(["rep_id", "product"])["quota"].sum()
    year = annual.set_index(["rep_id", "product"])["quota"]
    tol = 1e-9 if unit else (m["n_periods"] + 1) * CENT
    diff = (by_rep - year.reindex(by_rep.index)).abs()
    assert (diff <= tol).all(), diff[diff > tol]
    assert len(by_rep) == len(year)

    reps = res.results.reps
    if m["capacity_on"]:
        assert (reps["quota"] <= reps["capacity"] + 2 * CENT).all()
    if m["potential_on"]:
        assert (annual["quota"] <= m["max_share"] * annual["eff_base"] + 2 * CENT).all()


# ---- 2. row order does not matter --------------------------------------------------------------


@settings(SETTINGS, max_examples=10)
@given(plan=plans(key_rule=True), rnd=st.randoms(use_true_random=False))
def test_row_order_does_not_matter(
    plan: Plan, rnd: random.Random, tmp_path: Path, solve: Solve
) -> None:
    first = solve(plan.write(_root(tmp_path)))
    second = solve(shuffled(plan, rnd).write(_root(tmp_path)))
    for name in RUN_CSVS:
        assert (first.run_dir / name).read_bytes() == (second.run_dir / name).read_bytes(), name


# ---- 3. renaming IDs (order-preserving) does not matter ----------------------------------------


@settings(SETTINGS, max_examples=10)
@given(plan=plans(key_rule=True))
def test_renaming_ids_does_not_matter(plan: Plan, tmp_path: Path, solve: Solve) -> None:
    first = solve(plan.write(_root(tmp_path)))
    second = solve(renamed(plan).write(_root(tmp_path)))
    rep, unit, acc = _prefix("X-"), _prefix("U-"), _prefix("K-")
    cols = {
        "rep_id": rep,
        "incumbent_rep": rep,
        "owner_rep": rep,
        "team_id": unit,
        "region_id": unit,
        "unit_id": unit,
        "account_id": acc,
    }
    for name in RUN_CSVS:
        want = _csv(first, name)
        for col, f in cols.items():
            if col in want:
                want[col] = want[col].map(f)
        pd.testing.assert_frame_equal(_csv(second, name), want, obj=name)


# ---- 4. scaling money scales the plan ----------------------------------------------------------


def _band_phasing_plan() -> Plan:
    """Found by hypothesis (shrunk by hand): the period quotas of band phasing are not unique.

    Two reps (A: potential 130k, capacity 150k; B: 77k, 86k), target 150k, seasonality
    0.35/0.15/0.3/0.2, phasing band ±10%. The annual quotas scale by k, but with k = 1000 A's
    period quotas land on other corners of the band (Q1 36,268 → 29,674 per 1/k): nothing in the
    objective (no tie-break, no pull to the profile) picks one split of the year, so the solver's
    path decides (the solver seed changes them too).
    """
    reps = [
        {**BASE_TABLES["reps"][0], "capacity": 150_000},
        {**BASE_TABLES["reps"][1], "capacity": 86_000},
    ]
    weights = (0.35, 0.15, 0.3, 0.2)
    tables = {
        "org_units": copy.deepcopy(BASE_TABLES["org_units"]),
        "reps": reps,
        "potential": [
            {"rep_id": "A", "product": "P", "potential": 130_000},
            {"rep_id": "B", "product": "P", "potential": 77_000},
        ],
        "accounts": copy.deepcopy(BASE_TABLES["accounts"]),
        "seasonality": [
            {"product": "P", "period": f"Q{q + 1}", "weight": w} for q, w in enumerate(weights)
        ],
    }
    extra = {
        "targets": {"by_product": {"P": 150_000}, "over_assignment": 0.0},
        "rules": {
            "phasing": {"enabled": True, "mode": "band", "band": 0.1},
            "floors": {"enabled": False, "by_role": {}},
        },
    }
    return Plan(tables, extra)


@settings(SETTINGS, max_examples=8)
@given(plan=plans(key_rule=True, rounding=False), k=st.sampled_from([10, 1000]))
@example(plan=_band_phasing_plan(), k=1000)
def test_scaling_money_scales_quotas(plan: Plan, k: int, tmp_path: Path, solve: Solve) -> None:
    first = solve(plan.write(_root(tmp_path)))
    second = solve(scaled(plan, k).write(_root(tmp_path)))
    for name in ("annual", "quotas"):
        a = getattr(first.results, name)
        b = getattr(second.results, name)
        assert list(a["rep_id"]) == list(b["rep_id"])
        for x, y in zip(a["quota"], b["quota"], strict=True):
            # both files hold money in cents; period quotas get their cents by largest remainder
            # (so they add up to the annual quota), which puts each within one cent of exact
            assert y == pytest.approx(k * x, rel=1e-6, abs=(k + 1) * 2 * CENT + 1e-9), name
    ka = first.results.assignments
    kb = second.results.assignments
    assert list(ka["account_id"]) == list(kb["account_id"])
    assert list(ka["owner_rep"]) == list(kb["owner_rep"])
    assert list(ka["moved"]) == list(kb["moved"])


# ---- 5. determinism on the shipped example -----------------------------------------------------


def test_example_solves_deterministically(solve: Solve) -> None:
    first = solve(EXAMPLE)  # the fixture solves into a fresh run folder each time
    second = solve(EXAMPLE)
    assert first.run_dir != second.run_dir
    for name in (*RUN_CSVS, "reps.csv", "binding.csv", "summary.json"):
        assert (first.run_dir / name).read_bytes() == (second.run_dir / name).read_bytes(), name
    ma, mb = (json.loads((r.run_dir / "manifest.json").read_text()) for r in (first, second))
    assert ma["status"] == mb["status"] == "optimal"
    for stage in ("alignment", "quotas"):
        assert ma["stages"][stage]["objective"] == mb["stages"][stage]["objective"]


# ---- 6. generator + solver ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_small_plans_solve(seed: int, tmp_path: Path, solve: Solve) -> None:
    scenario = generate_plan(tmp_path / "plan", regions=2, reps_per_team=4, seed=seed)
    res = solve(scenario)
    assert res.status == "optimal"
    totals = res.results.summary["totals"]
    unit = res.manifest["resolved_scenario"]["rules"]["rounding"]
    for t in totals.values():
        if unit["enabled"]:
            assert abs(t["quota"] - t["target"]) <= unit["unit"] / 2 + 1e-6
        else:
            assert t["quota"] == pytest.approx(t["target"], rel=1e-9)
    assert (res.results.annual["quota"] >= 0).all()
