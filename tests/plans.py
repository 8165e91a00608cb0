"""Tiny plan builder for tests: a scenario + data written from Python dicts.

The default plan is hand-checkable: company CO → region NORTH → team T1 with reps A and B,
one product P, quarters with equal seasonality, no key accounts, only the potential rule on and
the reference split purely potential-based. Tests change what they need through ``rules=``,
``tables=`` and ``extra=``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

BASE_TABLES: dict[str, list[dict[str, Any]]] = {
    "org_units": [
        {"unit_id": "CO", "parent_id": "", "name": "Company", "level": "company"},
        {"unit_id": "NORTH", "parent_id": "CO", "name": "North", "level": "region"},
        {"unit_id": "T1", "parent_id": "NORTH", "name": "Team 1", "level": "team"},
    ],
    "reps": [
        {
            "rep_id": "A",
            "team_id": "T1",
            "role": "rep",
            "fte": 1,
            "start_date": "",
            "end_date": "",
            "capacity": 10000,
            "ly_quota": "",
            "ly_actual": "",
        },
        {
            "rep_id": "B",
            "team_id": "T1",
            "role": "rep",
            "fte": 1,
            "start_date": "",
            "end_date": "",
            "capacity": 10000,
            "ly_quota": "",
            "ly_actual": "",
        },
    ],
    "potential": [
        {"rep_id": "A", "product": "P", "potential": 600},
        {"rep_id": "B", "product": "P", "potential": 400},
    ],
    "accounts": [
        {"account_id": "X1", "product": "P", "revenue": 50, "key": "false", "incumbent_rep": "A"},
    ],
    "seasonality": [{"product": "P", "period": f"Q{q}", "weight": 0.25} for q in range(1, 5)],
}

BASE_SCENARIO: dict[str, Any] = {
    "name": "tiny",
    "plan": {"fiscal_year_start": "2027-01-01", "granularity": "quarter", "currency": "EUR"},
    "data": {k: f"data/{k}.csv" for k in BASE_TABLES},
    "products": ["P"],
    "targets": {"by_product": {"P": 500}, "over_assignment": 0.0},
    "rules": {
        "capacity": {"enabled": True, "ramp": []},
        "potential": {"enabled": True, "max_share": 1.0, "min_share": 0.0},
        "growth": {"enabled": False},
        "floors": {"enabled": False},
        "key_accounts": {"enabled": False},
        "fairness": {"enabled": False},
        "phasing": {"enabled": True, "mode": "exact"},
        "rounding": {"enabled": False},
    },
    "objective": {
        "reference": {"potential": 1.0, "history": 0.0},
        "weights": {"deviation": 1.0, "fairness": 0.0, "disruption": 1.0, "tiebreak": 1.0e-4},
    },
    "solver": {"time_limit": 60, "mip_gap": 0.0, "threads": 1, "seed": 0},
    "output": {"directory": "runs"},
}


def _merge(base: dict[str, Any], upd: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _csv(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for r in rows:
        cols.extend(c for c in r if c not in cols)
    lines = [",".join(cols)]
    lines += [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def write_plan(
    root: Path,
    *,
    tables: dict[str, list[dict[str, Any]] | None] | None = None,
    extra: dict[str, Any] | None = None,
    raw: dict[str, str] | None = None,
) -> Path:
    """Write the tiny plan under ``root``; ``tables`` replaces whole tables (None drops one)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    tabs = copy.deepcopy(BASE_TABLES)
    for k, v in (tables or {}).items():
        if v is None:
            tabs.pop(k, None)
        else:
            tabs[k] = v
    sc = _merge(BASE_SCENARIO, extra or {})
    sc["data"] = {**{k: f"data/{k}.csv" for k in tabs}, **(extra or {}).get("data", {})}
    for k, rows in tabs.items():
        (root / "data" / f"{k}.csv").write_text(_csv(rows), encoding="utf-8")
    for rel, text in (raw or {}).items():
        (root / rel).write_text(text, encoding="utf-8")
    path = root / "scenario.yaml"
    if "scenario.yaml" not in (raw or {}):
        text = yaml.safe_dump(sc, sort_keys=False)
        path.write_text(text.replace("'2027-01-01'", "2027-01-01"), encoding="utf-8")
    return path
