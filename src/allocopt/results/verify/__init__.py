"""Independent verification of a run against the formulation (``models/allocation.md``).

Public entry point: :func:`verify`, given the run's tables and records as plain inputs
(:class:`RunInputs`; ``allocopt.compose.verify_run`` opens a run folder and builds them).
Everything is re-derived from the run's output CSVs and the input tables with pandas/numpy only —
availability, ramp and proration, capacity, effective base, phasing profiles, history, fairness
groups and the reference split are recomputed here from the formulation text, never taken from
the model code (``allocopt.model``, ``allocopt.data.prepare``, ``allocopt.results.extract``,
``allocopt.solve`` are deliberately not imported, nor the rule registry). The scenario is the one
recorded in the manifest (``resolved_scenario``) with its tables located by the caller and checked
against the hashes in the manifest (``inputs``); the run's own files are checked against the
hashes its manifest records (``integrity``): any edit, also a coherent one across files or of the
resolved settings, fails.

One checker per rule, in the module of the rule's name (``capacity.py`` …), listed in
:data:`CHECKERS` by rule name; the non-rule checks are ``totals`` (no negative quota, periods add
up), ``rollups``, ``report`` (derived columns), ``inputs``, ``complete`` and ``integrity``.

Tolerances: a row passes when it is within ``tol · max(1, |bound|)`` of its bound, plus half a cent
for every money value read from a CSV that enters the row (the run files store money rounded to
cents). With rounding on, quotas must be whole multiples of the unit, company totals are
``round(T_p / u) · u``, and period quotas (rounded by largest remainder after the solve) may differ
from their unrounded value by less than one unit each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.results.verify import (
    attainability,
    capacity,
    fairness,
    floors,
    growth,
    key_accounts,
    phasing,
    potential,
    report,
    rollups,
    rounding,
    stability,
    target,
    totals,
)
from allocopt.results.verify._common import (
    RUN_FILES,
    PublishedTables,
    _complete_annual,
    _complete_period,
    _effective_base,
    _Log,
    _missing,
    _Plan,
    _plan,
    _published,
    _Run,
    _typed,
)
from allocopt.scenario.schema import Scenario

__all__ = [
    "CHECKERS",
    "NON_RULE",
    "RUN_FILES",
    "InputCheck",
    "PublishedTables",
    "RunInputs",
    "Verification",
    "check_manifest",
    "recorded_scenario",
    "typed_table",
    "verify",
]

Checker = Callable[[_Plan, _Run, _Log], None]

_ORDER: tuple[tuple[str, Checker], ...] = (
    ("totals", totals.check),
    ("target", target.check),
    ("rounding", rounding.check),
    ("rollups", rollups.check),
    ("capacity", capacity.check),
    ("potential", potential.check),
    ("growth", growth.check),
    ("floors", floors.check),
    ("fairness", fairness.check),
    ("phasing", phasing.check),
    ("capacity", capacity.check_period),
    ("stability", stability.check),
    ("attainability", attainability.check),
    ("key_accounts", key_accounts.check),
    ("report", report.check),
)
"""Every check in the order it runs (the order of the violations table)."""

NON_RULE = frozenset({"totals", "rollups", "report"})
"""Checks of the plan as a whole rather than of one rule."""

CHECKERS: Mapping[str, tuple[Checker, ...]] = {
    name: tuple(fn for n, fn in _ORDER if n == name) for name in dict.fromkeys(n for n, _ in _ORDER)
}
"""Checkers by rule name (and the :data:`NON_RULE` checks). Keyed by the rule names of
``allocopt.model.rules`` without importing them; tests/test_rule_registry.py keeps the two in
step."""


@dataclass
class Verification:
    """Result of :func:`verify`: every violation found and how many rows each rule checked."""

    violations: pd.DataFrame
    checked: dict[str, int] = field(default_factory=dict)
    integrity: list[str] = field(default_factory=list)  # run files edited since the solve
    notes: list[str] = field(default_factory=list)  # e.g. a manifest without recorded hashes

    @property
    def ok(self) -> bool:
        """True when no rule is violated and no file of the run was edited."""
        return self.violations.empty and not self.integrity

    @property
    def n_checks(self) -> int:
        """Total number of rows checked over all rules."""
        return sum(self.checked.values())


@dataclass(frozen=True)
class InputCheck:
    """Where an input table of the run was found and whether its sha256 still matches."""

    name: str
    label: str
    path: Path | None
    expected: str | None  # sha256 recorded in the manifest (None: not recorded)
    actual: str | None  # sha256 of the file found
    status: str  # ok | changed | missing | unrecorded


@dataclass
class RunInputs:
    """What the verifier reads of a run, as plain values (no file access but the input tables).

    ``tables``: the run CSVs of :data:`RUN_FILES` through :func:`typed_table`; ``scenario``: the
    resolved scenario with every table pointing at its located file; ``base_dir``: where relative
    table paths resolve (default ``run_dir``); ``published``: a re-plan's published plan;
    ``summary``: summary.json (read for a re-plan); ``integrity``/``sealed``/``notes``: the run
    folder's own hash check. ``run_dir`` only names files in messages.
    """

    run_dir: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    scenario: Scenario
    located: list[InputCheck] = field(default_factory=list)
    base_dir: Path | None = None
    published: PublishedTables | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    integrity: list[str] = field(default_factory=list)
    sealed: bool = False
    notes: list[str] = field(default_factory=list)


def check_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """InputError (exit 2) when the manifest does not record the scenario file."""
    try:
        scen_path = manifest["inputs"]["scenario"]["path"]
    except (KeyError, TypeError):
        scen_path = None
    if not isinstance(scen_path, str) or not scen_path:
        raise _missing(
            run_dir / "manifest.json",
            "is missing; the manifest does not record the scenario file",
            "inputs.scenario.path",
        )


def typed_table(run_dir: Path, name: str, df: pd.DataFrame) -> pd.DataFrame:
    """A run CSV read as text, checked and typed: InputError (exit 2) when a required column is
    missing or a number is not one; money columns parsed to floats."""
    return _typed(run_dir, name, df)


def recorded_scenario(run_dir: Path, manifest: dict[str, Any]) -> Scenario:
    """The resolved scenario of the manifest; InputError (exit 2) when it is not valid."""
    try:
        return Scenario.model_validate_json(json.dumps(manifest["resolved_scenario"]))
    except ValueError as exc:
        raise _missing(
            run_dir / "manifest.json", f"is not a valid scenario: {exc}", "resolved_scenario"
        ) from None


def _check_inputs(located: list[InputCheck], log: _Log) -> None:
    for loc in located:
        if loc.expected is None:
            continue
        log.count("inputs", 1)
        if loc.status == "changed":
            what = "table" if loc.name != "published" else "published plan"
            log.add(
                "inputs",
                f"{what} {loc.name} ({loc.label})",
                f"the file changed since the solve ({loc.path}: sha256 {str(loc.actual)[:12]}… "
                f"now, {loc.expected[:12]}… in the manifest); the checks compare with the "
                "current file",
                1,
            )


def verify(inputs: RunInputs, *, tol: float = 1e-6) -> Verification:
    """Re-derive and check every enabled rule of the formulation on a run's tables.

    Raises :class:`~allocopt.errors.InputError` (exit 2) when an input table is missing.
    """
    sc = inputs.scenario
    base_dir = inputs.base_dir or inputs.run_dir
    log = _Log(tol)
    _check_inputs(inputs.located, log)
    pl = _plan(sc, base_dir)
    pl.replan = _published(sc, inputs.summary, inputs.published, pl)
    if pl.replan is not None:  # published owners act as incumbents
        pl.key_incumbent.update(
            {a: o for a, o in pl.replan.owners.items() if a in pl.key_incumbent}
        )
    tables = inputs.tables
    annual = _complete_annual(pl, tables["annual.csv"], log)
    period = _complete_period(pl, tables["quotas.csv"], log)
    asg = tables["assignments.csv"]
    owner: dict[str, str] = {}
    for a, o in zip(asg["account_id"], asg["owner_rep"], strict=True):
        owner.setdefault(str(a), str(o))
    base, eb = _effective_base(pl, owner)
    run = _Run(annual, period, owner, tables, base, eb)
    for _, check in _ORDER:
        check(pl, run, log)
    if inputs.sealed:
        files = (inputs.manifest.get("integrity") or {}).get("files") or {}
        log.count("integrity", len(files) + 1)
    return Verification(
        log.frame(), dict(sorted(log.checked.items())), list(inputs.integrity), list(inputs.notes)
    )
