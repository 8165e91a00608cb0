"""The business rules, one module each, and the registry that orders them.

:data:`REGISTRY` lists the rule modules (each with ``RULE``, ``enabled(scenario)`` and
``add(lm, sets)``), sorted by :func:`allocopt.model.registry.ordered` so every rule comes after
the rules providing what it requires or uses; :data:`RULES` are their declarations. How to add
a rule: see :mod:`allocopt.model.registry`.
"""

from __future__ import annotations

from typing import Any, Protocol

from allocopt.model import objective
from allocopt.model.linear import LinearModel
from allocopt.model.registry import CORE, Component, Rule, ordered
from allocopt.model.rules import (
    attainability,
    capacity,
    fairness,
    floors,
    growth,
    key_accounts,
    phasing,
    potential,
    rounding,
    stability,
    target,
)
from allocopt.scenario.schema import Scenario


class RuleModule(Protocol):
    """What a rule module offers: its declaration, when it is on, and how it adds itself."""

    RULE: Rule

    def enabled(self, sc: Scenario) -> bool: ...

    def add(self, lm: LinearModel, sets: Any, /) -> None: ...


_LISTED: tuple[RuleModule, ...] = (
    key_accounts,
    target,
    phasing,
    capacity,
    potential,
    growth,
    floors,
    attainability,
    fairness,
    stability,
    rounding,
)
_MODULE = {m.RULE.name: m for m in _LISTED}

RULES: tuple[Rule, ...] = ordered(m.RULE for m in _LISTED)
"""The rule declarations in build order (alignment and quota rules; the objective is last)."""

REGISTRY: tuple[RuleModule, ...] = tuple(_MODULE[r.name] for r in RULES)
"""The rule modules in build order."""

MODEL: tuple[Rule, ...] = (CORE, *RULES, objective.RULE)
"""Every declaration whose components a built model can hold: the core, the rules, the objective."""


def components() -> dict[str, tuple[Rule, Component]]:
    """Every declared component name → (its declaration, the component)."""
    return {c: (r, comp) for r in MODEL for c, comp in r.components.items()}
