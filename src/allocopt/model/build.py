"""Build the two stage models: stage 1 (key-account alignment) and stage 2 (quotas).

Public entry points: :func:`build_alignment` and :func:`build_quotas`. Each walks the ordered rule
registry and lets every enabled rule of its stage add its named components to a
:class:`~allocopt.model.linear.LinearModel`, and sets the money scale the solver works in
(:func:`money_scale`): the rounding unit u in stage 2 with rounding on, so that
quota = u · quota_units has coefficient 1 whatever the currency's size; otherwise the power of ten
10^⌊log10 m⌋ / 100 with m the mean company target per (rep, product), so quotas reach HiGHS as
numbers of order 100–1,000. Both scale with money, so a plan with money × k is the same problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from allocopt.data.prepare import ModelData
from allocopt.model import objective
from allocopt.model.linear import LinearModel
from allocopt.model.registry import CORE, check_requires
from allocopt.model.rules import REGISTRY, key_accounts
from allocopt.model.sets import QuotaSets


@dataclass
class Built:
    """A built model and the rules it contains."""

    model: LinearModel
    rules: tuple[str, ...]


def build_alignment(md: ModelData) -> Built | None:
    """Stage 1: the key-account assignment MIP, or None when there is nothing to assign."""
    sc = md.scenario
    if not key_accounts.enabled(sc) or not md.ka_ids:
        return None
    lm = LinearModel("alignment", money_scale=money_scale(md, "alignment"))
    return Built(lm, _add_rules(lm, md, "alignment", set()))


def build_quotas(qs: QuotaSets) -> Built:
    """Stage 2: quotas per rep × product given the alignment in ``qs``."""
    lm = LinearModel("quotas", money_scale=money_scale(qs.md, "quotas"))
    lm.add_vars("quota", qs.rp_index)
    built = set(CORE.provides)
    used = _add_rules(lm, qs, "quotas", built)
    check_requires(objective.RULE, built)
    objective.add(lm, qs)
    return Built(lm, used)


def _add_rules(lm: LinearModel, sets: Any, stage: str, built: set[str]) -> tuple[str, ...]:
    """Let every enabled rule of ``stage`` add its components, in registry order.

    ``built`` collects what the added rules provide; a rule whose ``requires`` are not built
    yet stops the build with its name (:func:`~allocopt.model.registry.check_requires`).
    """
    sc = sets.scenario if isinstance(sets, ModelData) else sets.md.scenario
    used = []
    for mod in REGISTRY:
        rule = mod.RULE
        if rule.stage == stage and mod.enabled(sc):
            check_requires(rule, built)
            mod.add(lm, sets)
            built.update(rule.provides)
            used.append(rule.name)
    return tuple(used)


def money_scale(md: ModelData, stage: str) -> float:
    """The currency amount that is 1 for the solver in ``stage`` (see the module docstring)."""
    rounding = md.scenario.rules.rounding
    if stage == "quotas" and rounding.enabled:
        return float(rounding.unit)
    n = md.n_reps * len(md.products)
    typical = float(abs(md.target).sum()) / n if n else 0.0
    if not (math.isfinite(typical) and typical > 0):
        return 1.0
    return 10.0 ** (math.floor(math.log10(typical)) - 2)
