"""The example's ``scenario.yaml``: :func:`_scenario_yaml` states the rules of :mod:`.common` with
the generated targets, quoting any name YAML could misread (:func:`_yaml_str`)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from allocopt.examples.common import (
    FLOORS,
    MAX_ACCOUNTS,
    MAX_WORKLOAD,
    MOVE_COST,
    OVER_ASSIGNMENT,
    RAMP,
)

_PLAIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _yaml_str(value: str) -> str:
    """A YAML scalar that reads back as exactly this string (quoted when it could be misread)."""
    if _PLAIN_RE.match(value):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def _scenario_yaml(
    name: str,
    description: str,
    fiscal_year_start: str,
    granularity: str,
    tables: list[str],
    products: tuple[str, ...],
    targets: dict[str, int],
) -> str:
    data = "\n".join(f"  {t}: data/{t}.csv" for t in tables)
    prods = ", ".join(_yaml_str(p) for p in products)
    by_product = ", ".join(f"{_yaml_str(p)}: {v}" for p, v in targets.items())
    lines: list[Any] = [
        f"name: {_yaml_str(name)}",
        f"description: {_yaml_str(description)}",
        "plan:",
        f"  fiscal_year_start: {fiscal_year_start}",
        f"  granularity: {granularity}",
        "  currency: EUR",
        "data:",
        data,
        f"products: [{prods}]",
        "targets:",
        f"  by_product: {{{by_product}}}",
        f"  over_assignment: {OVER_ASSIGNMENT}",
        "rules:",
        "  capacity:     {enabled: true, ramp: [" + ", ".join(str(r) for r in RAMP) + "]}",
        "  potential:    {enabled: true, max_share: 0.9, min_share: 0.0}",
        "  growth:       {enabled: true, min: -0.15, max: 0.40, basis: actual}",
        "  floors:       {enabled: true, by_role: "
        f"{{rep: {FLOORS['rep']}, senior: {FLOORS['senior']}}}}}",
        f"  key_accounts: {{enabled: true, max_accounts: {MAX_ACCOUNTS}, "
        f"max_workload: {MAX_WORKLOAD}, move_cost: {MOVE_COST},",
        "                 locked: [], forbidden: []}",
        "  fairness:     {enabled: true, level: team, band: 0.35}",
        "  phasing:      {enabled: true, mode: exact, band: 0.10}",
        "  rounding:     {enabled: true, unit: 1000}",
        "objective:",
        "  reference: {potential: 0.6, history: 0.4}",
        "  weights: {deviation: 1.0, fairness: 0.0, disruption: 1.0, tiebreak: 1.0e-4}",
        "solver: {time_limit: 120, mip_gap: 0.01, threads: 1, seed: 0}",
        "output: {directory: runs}",
    ]
    return "\n".join(lines) + "\n"
