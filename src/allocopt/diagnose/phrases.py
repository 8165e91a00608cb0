"""IIS rows in business words: the settings to relax per model component (``_RELAX``), the
rule names (``_WHAT``), the definitional rows and helper columns never shown to the user, and
:func:`_phrase` for one row."""

from __future__ import annotations

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.diagnose.findings import _m

_RELAX = {
    "target": ["targets.by_product", "targets.over_assignment"],
    "unit_target": ["targets.units"],
    "capacity": ["reps.capacity", "rules.capacity"],
    "period_capacity": ["rules.phasing.band", "reps.capacity"],
    "potential_max": ["rules.potential.max_share"],
    "potential_min": ["rules.potential.min_share"],
    "growth_min": ["rules.growth.min"],
    "growth_max": ["rules.growth.max"],
    "floor": ["rules.floors.by_role"],
    "fairness_low": ["rules.fairness.band"],
    "fairness_high": ["rules.fairness.band"],
    "group_quota": [],
    "phasing_sum": [],
    "phasing_low": ["rules.phasing.band"],
    "phasing_high": ["rules.phasing.band"],
    "one_owner": ["candidates", "rules.key_accounts.forbidden"],
    "max_accounts": ["rules.key_accounts.max_accounts"],
    "max_workload": ["rules.key_accounts.max_workload"],
    "lock": ["rules.key_accounts.locked"],
    "ka_capacity": ["rules.potential.min_share", "reps.capacity"],
    "rounding": ["rules.rounding.unit"],
    "deviation": [],
    "attainability_max": ["rules.attainability.p", "rules.attainability.growth"],
    "attainability_min": ["rules.attainability.max_p"],
}

_WHAT = {
    "target": "company target",
    "unit_target": "unit target",
    "capacity": "capacity",
    "period_capacity": "period capacity",
    "potential_max": "most quota under the potential share",
    "potential_min": "least quota under the potential share",
    "growth_min": "growth minimum",
    "growth_max": "growth maximum",
    "floor": "floor",
    "fairness_low": "fairness band (low side)",
    "fairness_high": "fairness band (high side)",
    "group_quota": "fairness group total",
    "one_owner": "one owner per key account",
    "max_accounts": "key-account book limit",
    "max_workload": "key-account workload limit",
    "lock": "locked key account",
    "ka_capacity": "key-account revenue vs capacity",
    "attainability_max": "attainable quota (sales quantile at probability p)",
    "attainability_min": "least quota (sales quantile at probability max_p)",
}


_DEFINITIONAL = frozenset(
    {
        "group_quota",
        "phasing_sum",
        "phasing_fit",
        "deviation",
        "rounding",
        "spread_low",
        "spread_high",
    }
)
"""Rows that only define a helper quantity (a group's total quota, the period split, the
deviation parts, quota in rounding units, the objective's spread): never a business rule on
their own, so they are folded into the rules that use them and never listed to the user."""

_INTERNAL_COLS = frozenset(
    {
        "quota",
        "quota_units",
        "level",
        "m_min",
        "m_max",
        "dev_up",
        "dev_dn",
        "dev_up_far",
        "dev_dn_far",
        "phase_up",
        "phase_dn",
    }
)
"""Helper variables whose bounds are modelling devices, not business limits."""


def _phrase(comp: str, label: str, lo: float, up: float, md: ModelData) -> str:
    """One IIS row in business words."""
    parts = label.split(",")
    who = f"rep {parts[0]}" + (f", product {parts[1]}" if len(parts) > 1 else "")
    b = md.scenario.rules.fairness.band or 0.0
    level = md.scenario.rules.fairness.level
    pb = md.scenario.rules.phasing.band
    fixed = {
        "capacity": f"{who}: quota at most its ramped capacity {_m(up)}",
        "period_capacity": f"{who}: period quota at most its capacity {_m(up)} in {parts[-1]}",
        "potential_max": f"{who}: quota at most {_m(up)} (max share × effective base)",
        "potential_min": f"{who}: quota at least {_m(lo)} (min share × effective base)",
        "growth_min": f"{who}: quota at least {_m(lo)} (growth minimum against last year)",
        "growth_max": f"{who}: quota at most {_m(up)} (growth maximum against last year)",
        "floor": f"{who}: quota at least the floor {_m(lo)}",
        "fairness_low": f"{who}: difficulty at least {1 - b:.0%} of its {level}'s level",
        "fairness_high": f"{who}: difficulty at most {1 + b:.0%} of its {level}'s level",
        "group_quota": (f"{level} level" if label == level else f"{level} {label}")
        + ": its level is its reps' total quota over their base",
        "target": f"company, product {label}: reps' quotas must add up to {_m(lo)}",
        "one_owner": f"key account {label}: needs exactly one owner among its eligible reps",
        "max_accounts": f"{who}: at most {up:g} key accounts",
        "max_workload": f"{who}: key-account workload at most {up:g}",
        "lock": f"key account {parts[0]} locked to rep {parts[-1]}",
        "ka_capacity": f"{who}: key-account revenue × min share within capacity {_m(up)}",
        "attainability_max": f"{who}: quota at most {_m(up)} (reached with probability ≥ p)",
        "attainability_min": f"{who}: quota at least {_m(lo)} (reached with probability ≤ max_p)",
        "phasing_low": f"{who}: period {parts[-1]} at least {1 - pb:.0%} of its seasonal share",
        "phasing_high": f"{who}: period {parts[-1]} at most {1 + pb:.0%} of its seasonal share",
    }
    if comp == "unit_target":
        unit, _, prod = label.partition("/")
        if lo == up:
            rng = _m(lo)
        elif not np.isfinite(lo):
            rng = f"at most {_m(up)}"
        elif not np.isfinite(up):
            rng = f"at least {_m(lo)}"
        else:
            rng = f"between {_m(lo)} and {_m(up)}"
        scope = f"unit {unit}" + ("" if prod in ("", "*") else f", product {prod}")
        return f"{scope}: quota {rng}"
    return fixed.get(comp, f"{comp}[{label}]")
