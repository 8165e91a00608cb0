"""A rule declares itself once, and nothing a rule needs elsewhere can be forgotten.

Every registered rule must have: a verifier checker (``results/verify`` CHECKERS, keyed by rule
name), a section in models/allocation.md with the same components, a business phrase for each of
its non-definitional rows, an explain word, and ``requires`` that some rule (or the core model)
provides. The second half proves each check bites on a rule that lacks the thing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import pytest

from allocopt.model import build, objective
from allocopt.model.registry import CORE, Component, RowText, Rule, RuleOrderError, ordered
from allocopt.model.rules import MODEL, REGISTRY, RULES, capacity, components, phasing
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.pipeline import validate
from allocopt.results.verify import CHECKERS, NON_RULE
from tests.plans import write_plan
from tests.test_formulation import _doc_sections


def _problems(
    rules: Iterable[Rule],
    checkers: Iterable[str],
    sections: dict[str, set[str]],
    given: Iterable[str] = CORE.provides,
) -> list[str]:
    """What each rule lacks, one line per gap (empty when every rule is complete)."""
    rules = list(rules)
    checkers = set(checkers)
    provided = set(given) | {p for r in rules for p in r.provides}
    out: list[str] = []
    for r in rules:
        if r is not objective.RULE and r.name not in checkers:
            out.append(f"{r.name}: no verifier checker in results/verify CHECKERS")
        if r.name not in sections:
            out.append(f"{r.name}: no section '## {r.name}' in models/allocation.md")
        elif sections[r.name] != set(r.components):
            out.append(f"{r.name}: models/allocation.md lists other components")
        for name, comp in r.components.items():
            if comp.kind == "row" and not comp.definitional and comp.phrase is None:
                out.append(f"{r.name}: component {name} has no phrase")
        if r is not objective.RULE and r.explain_word is None:
            out.append(f"{r.name}: no explain word")
        for q in r.requires:
            if q not in provided:
                out.append(f"{r.name}: requires {q}, which no rule provides")
    return out


def test_every_rule_is_complete() -> None:
    assert _problems([*RULES, objective.RULE], CHECKERS, _doc_sections()) == []


def test_the_verifier_checks_only_known_rules() -> None:
    """Checkers are keyed by rule name without importing the model: a renamed rule shows here."""
    assert set(CHECKERS) - NON_RULE == {r.name for r in RULES}


def test_component_names_are_unique() -> None:
    names = [c for r in MODEL for c in r.components]
    assert len(names) == len(set(names)) == len(components())


def test_phrases_speak_business(tmp_path: Path) -> None:
    """Every declared phrase renders on a plain label without raising and names no raw block."""
    sc = validate(write_plan(tmp_path)).md.scenario
    for name, (_, comp) in components().items():
        if comp.phrase is not None:
            text = comp.phrase(RowText("A,P,Q1", 10.0, 20.0, sc, lambda x: f"{x:,.0f}"))
            assert text and f"{name}[" not in text, name


# --- the checks bite -----------------------------------------------------------------------------

_FAKE = Rule(
    name="fake",
    stage="quotas",
    requires=("quota", "nothing_provides_this"),
    components={"fake_max": Component(relax=("rules.fake",))},
)


def test_a_rule_missing_everything_is_reported() -> None:
    sections = _doc_sections()
    problems = _problems([*RULES, objective.RULE, _FAKE], CHECKERS, sections)
    assert problems == [
        "fake: no verifier checker in results/verify CHECKERS",
        "fake: no section '## fake' in models/allocation.md",
        "fake: component fake_max has no phrase",
        "fake: no explain word",
        "fake: requires nothing_provides_this, which no rule provides",
    ]


def test_a_real_rule_losing_its_phrase_checker_or_section_is_reported() -> None:
    cap = capacity.RULE
    comps = dict(cap.components)
    comps["capacity"] = dataclasses.replace(comps["capacity"], phrase=None)
    broken = dataclasses.replace(cap, components=comps, explain_word=None)
    rules = [broken if r is cap else r for r in RULES]
    sections = {k: v for k, v in _doc_sections().items() if k != "capacity"}
    checkers = [c for c in CHECKERS if c != "capacity"]
    assert _problems(rules, checkers, sections) == [
        "capacity: no verifier checker in results/verify CHECKERS",
        "capacity: no section '## capacity' in models/allocation.md",
        "capacity: component capacity has no phrase",
        "capacity: no explain word",
    ]


# --- order and requires ---------------------------------------------------------------------------


def test_order_follows_requires_and_uses_not_the_listing() -> None:
    """Capacity uses phasing's period quotas: listed first it still comes after phasing."""
    assert [r.name for r in ordered([capacity.RULE, phasing.RULE])] == ["phasing", "capacity"]
    assert [r.name for r in ordered([phasing.RULE, capacity.RULE])] == ["phasing", "capacity"]
    # the registry is a valid order and sorting it again changes nothing (deterministic)
    assert ordered(RULES) == RULES
    assert ordered(reversed(RULES)) == ordered(reversed(RULES))
    pos = {r.name: i for i, r in enumerate(ordered(reversed(RULES)))}
    assert pos["phasing"] < pos["capacity"]


def test_unprovided_requires_and_cycles_are_named() -> None:
    with pytest.raises(RuleOrderError, match="rule 'fake' requires nothing_provides_this"):
        ordered([*RULES, _FAKE])
    a = Rule("a", "quotas", {}, requires=("y",), provides=("x",))
    b = Rule("b", "quotas", {}, requires=("x",), provides=("y",))
    with pytest.raises(RuleOrderError, match="a, b require each other"):
        ordered([a, b])


def test_build_stops_when_a_requirement_is_not_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule that requires period quotas, with phasing off: the build names the rule."""
    md = validate(write_plan(tmp_path)).md
    qs = quota_sets(md, alignment_from_incumbents(md))
    needs = Rule("needs_periods", "quotas", {}, requires=("period_quota",))
    added: list[str] = []
    fake = SimpleNamespace(
        RULE=needs, enabled=lambda sc: True, add=lambda lm, qs: added.append("added")
    )
    monkeypatch.setattr(build, "REGISTRY", (*REGISTRY, fake))
    with pytest.raises(RuleOrderError, match="rule 'needs_periods' requires period_quota"):
        build.build_quotas(qs)
    assert added == []
    # with phasing in band mode the same rule builds
    md = validate(
        write_plan(
            tmp_path / "band", extra={"rules": {"phasing": {"enabled": True, "mode": "band"}}}
        )
    ).md
    build.build_quotas(quota_sets(md, alignment_from_incumbents(md)))
    assert added == ["added"]


def test_the_verifier_stays_independent() -> None:
    """results/verify imports no model code, no registry, no solver and no run-folder reader:
    its checkers re-derive every rule from the formulation text."""
    import ast

    import allocopt.results.verify as verify_pkg

    banned = (
        "allocopt.model",
        "allocopt.data.prepare",
        "allocopt.solve",
        "allocopt.results.extract",
        "allocopt.outputs",
        "allocopt.pipeline",
    )
    folder = Path(verify_pkg.__file__).parent
    files = sorted(folder.glob("*.py"))
    for r in RULES:  # one checker module per rule, named after it
        assert (folder / f"{r.name}.py").is_file(), f"no results/verify/{r.name}.py"
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(banned), f"{path.name} imports {name}"


def test_the_verifier_takes_plain_tables(tmp_path: Path) -> None:
    """results.verify.verify needs no run folder: the run's tables as frames, the recorded
    scenario and the input tables' folder. A quota edited in memory is caught."""
    import json

    import pandas as pd

    from allocopt.pipeline import run
    from allocopt.results.verify import (
        RUN_FILES,
        RunInputs,
        recorded_scenario,
        typed_table,
        verify,
    )

    scenario = write_plan(tmp_path / "plan")
    out = tmp_path / "run"
    run(scenario, out=out, force=True)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sc = recorded_scenario(out, manifest)
    text = {n: pd.read_csv(out / n, dtype=str, keep_default_na=False) for n in RUN_FILES}
    tables = {n: typed_table(out, n, df) for n, df in text.items()}
    clean = verify(RunInputs(out, manifest, tables, sc, base_dir=scenario.parent))
    assert clean.ok and clean.n_checks > 0
    tables["annual.csv"].loc[0, "quota"] += 1000.0  # in memory only: the file is unchanged
    bad = verify(RunInputs(out, manifest, tables, sc, base_dir=scenario.parent))
    assert {"period_sum", "target"} <= set(bad.violations["rule"])
