"""IIS rows in business words, looked up in the rule registry (each rule's ``RULE`` declares per
component its phrase, the settings to relax, its name in a grouped finding, whether it is
definitional or a helper column): :func:`_phrase` for one row and the tables the IIS explanation
reads (``_RELAX``, ``_WHAT``, ``_DEFINITIONAL``, ``_INTERNAL_COLS``)."""

from __future__ import annotations

from allocopt.data.prepare import ModelData
from allocopt.diagnose.findings import _m
from allocopt.model.registry import RowText
from allocopt.model.rules import components

_COMPONENTS = components()

_RELAX = {c: list(comp.relax) for c, (_, comp) in _COMPONENTS.items() if comp.kind == "row"}
"""Scenario settings (or data columns) that loosen each row block."""

_WHAT = {c: comp.what for c, (_, comp) in _COMPONENTS.items() if comp.what is not None}
"""A row block's name in a finding that groups many reps."""

_DEFINITIONAL = frozenset(
    c for c, (_, comp) in _COMPONENTS.items() if comp.kind == "row" and comp.definitional
)
"""Rows that only define a helper quantity (a group's total quota, the period split, the
deviation parts, quota in rounding units, the objective's spread): never a business rule on
their own, so they are folded into the rules that use them and never listed to the user."""

_INTERNAL_COLS = frozenset(
    c for c, (_, comp) in _COMPONENTS.items() if comp.kind == "var" and comp.internal
)
"""Helper variables whose bounds are modelling devices, not business limits."""


def _phrase(comp: str, label: str, lo: float, up: float, md: ModelData) -> str:
    """One IIS row in business words (the component's declared phrase)."""
    entry = _COMPONENTS.get(comp)
    if entry is None or entry[1].phrase is None:
        return f"{comp}[{label}]"
    return entry[1].phrase(RowText(label, float(lo), float(up), md.scenario, _m))
