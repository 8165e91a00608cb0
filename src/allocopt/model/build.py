"""Build the Pyomo models: stage 1 (key-account alignment) and stage 2 (quotas).

Public entry points: :func:`build_alignment` and :func:`build_quotas`. Each walks the ordered rule
registry and lets every enabled rule of its stage add its named components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo

from allocopt.data.prepare import ModelData
from allocopt.model import objective
from allocopt.model.rules import REGISTRY, key_accounts
from allocopt.model.sets import QuotaSets


@dataclass
class Built:
    """A built model, the rules it contains and its objective terms (Pyomo expressions)."""

    model: pyo.ConcreteModel
    rules: tuple[str, ...]
    terms: dict[str, Any]


def build_alignment(md: ModelData) -> Built | None:
    """Stage 1: the key-account assignment MIP, or None when there is nothing to assign."""
    sc = md.scenario
    if not key_accounts.enabled(sc) or not md.ka_ids:
        return None
    m = pyo.ConcreteModel(name="alignment")
    used = []
    for rule in REGISTRY:
        if rule.STAGE == "alignment" and rule.enabled(sc):
            rule.add(m, md)
            used.append(rule.NAME)
    disruption, tiebreak = key_accounts.objective_terms(m, md)
    w = sc.objective.weights
    terms: dict[str, Any] = {
        "disruption": w.disruption * disruption,
        "tiebreak": w.tiebreak * tiebreak,
    }
    m.obj = pyo.Objective(expr=terms["disruption"] + terms["tiebreak"], sense=pyo.minimize)
    return Built(m, tuple(used), terms)


def build_quotas(qs: QuotaSets) -> Built:
    """Stage 2: quotas per rep × product given the alignment in ``qs``."""
    md = qs.md
    sc = md.scenario
    m = pyo.ConcreteModel(name="quotas")
    m.quota = pyo.Var(qs.rp, domain=pyo.NonNegativeReals)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    used = []
    for rule in REGISTRY:
        if rule.STAGE == "quotas" and rule.enabled(sc):
            rule.add(m, qs)
            used.append(rule.NAME)
    terms = objective.add(m, qs)
    return Built(m, tuple(used), terms)
