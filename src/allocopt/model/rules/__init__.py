"""The business rules, one module each, in the order they are added to the model."""

from types import ModuleType

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

REGISTRY: tuple[ModuleType, ...] = (
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
"""Ordered rule registry. Each module has NAME, STAGE, COMPONENTS, enabled(scenario), add(...)."""
