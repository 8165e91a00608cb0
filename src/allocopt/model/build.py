"""Build the two stage models: stage 1 (key-account alignment) and stage 2 (quotas).

Public entry points: :func:`build_alignment` and :func:`build_quotas`. Each walks the ordered rule
registry and lets every enabled rule of its stage add its named components to a
:class:`~allocopt.model.linear.LinearModel`.
"""

from __future__ import annotations

from dataclasses import dataclass

from allocopt.data.prepare import ModelData
from allocopt.model import objective
from allocopt.model.linear import LinearModel
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
    lm = LinearModel("alignment")
    used = []
    for rule in REGISTRY:
        if rule.STAGE == "alignment" and rule.enabled(sc):
            rule.add(lm, md)
            used.append(rule.NAME)
    return Built(lm, tuple(used))


def build_quotas(qs: QuotaSets) -> Built:
    """Stage 2: quotas per rep × product given the alignment in ``qs``."""
    sc = qs.md.scenario
    lm = LinearModel("quotas")
    lm.add_vars("quota", qs.rp_index)
    used = []
    for rule in REGISTRY:
        if rule.STAGE == "quotas" and rule.enabled(sc):
            rule.add(lm, qs)
            used.append(rule.NAME)
    objective.add(lm, qs)
    return Built(lm, tuple(used))
