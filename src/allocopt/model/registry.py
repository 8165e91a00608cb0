"""How a business rule declares itself once: :class:`Rule`, :class:`Component`, :func:`ordered`.

Each rule module under ``model/rules/`` declares ``RULE = Rule(...)``: its name and stage, the
named quantities it ``requires`` (must be built before it), ``uses`` (built before it when
present) and ``provides``, and per component (row or variable block) the words the later stages
show — the IIS phrase and relax settings (diagnose), the explain owner word (explain), whether
the row only defines a helper quantity (diagnose folds it, extract leaves it out of binding.csv).
The core model (the quota variables, the objective) declares itself the same way
(:data:`CORE`, ``model.objective.RULE``). :func:`ordered` sorts the rules topologically by those
names (ties keep the listed order), and :func:`check_requires` makes the build fail with the
rule's name when something it requires is not built yet — rules never probe each other by string.

Adding a rule:

1. ``model/rules/<name>.py`` with ``RULE = Rule(...)`` (every component with its phrase, relax
   settings and explain word), ``enabled(scenario)`` and ``add(lm, sets)``; list it in
   ``model/rules/__init__.py``;
2. its checker ``results/verify/<name>.py``, listed in ``results/verify/__init__.py``'s table;
3. its section ``## <name>`` in ``models/allocation.md`` with a ``Components:`` line.

``tests/test_rule_registry.py`` fails until all three are there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from allocopt.scenario.schema import Scenario

if TYPE_CHECKING:
    from allocopt.data.prepare import ModelData

Stage = Literal["alignment", "quotas"]
Kind = Literal["row", "var"]


@dataclass(frozen=True)
class RowText:
    """What a phrase sees of one model row: its label, bounds, the scenario and a money format."""

    label: str
    lo: float
    up: float
    scenario: Scenario
    money: Callable[[float], str]

    @property
    def parts(self) -> list[str]:
        return self.label.split(",")

    @property
    def who(self) -> str:
        """``rep R`` or ``rep R, product P`` from a (rep[, product, …]) label."""
        parts = self.parts
        return f"rep {parts[0]}" + (f", product {parts[1]}" if len(parts) > 1 else "")


Phrase = Callable[[RowText], str]


@dataclass(frozen=True)
class Component:
    """One named block of rows or variables and how the later stages speak about it.

    ``phrase``: one row in business words (diagnose); ``relax``: the scenario settings that
    loosen it; ``what``: its name in a grouped finding (\"capacity of 5 reps …\");
    ``explain``: ``own`` when it adjusts its rep's quota (explain attributes the adjustment to the
    rule's ``explain_word``), ``link`` when it redistributes across reps; ``definitional``: the row
    only defines a helper quantity and is never a business rule on its own; ``binding``: listed in
    binding.csv when tight (default: not definitional); ``internal``: a helper variable whose
    bounds are a modelling device.
    """

    kind: Kind = "row"
    phrase: Phrase | None = None
    relax: tuple[str, ...] = ()
    what: str | None = None
    explain: Literal["own", "link"] | None = None
    definitional: bool = False
    binding: bool | None = None
    internal: bool = False

    @property
    def listed_in_binding(self) -> bool:
        return (not self.definitional) if self.binding is None else self.binding


@dataclass(frozen=True)
class RepBound:
    """A bound a rule puts on every rep's total quota, for the pre-checks (before any model).

    ``total`` (R,) bounds Σ_p quota[r,p] on ``side`` (inf / 0 where the rule does not bind);
    ``per_product`` (R, P) bounds each quota[r,p] when the rule has one; ``why`` names the rule
    and its setting in a finding.
    """

    side: Literal["lower", "upper"]
    total: np.ndarray
    why: str
    per_product: np.ndarray | None = None


RepBounds = Callable[["ModelData", np.ndarray, np.ndarray], tuple[RepBound, ...]]
"""(model data, lowest and highest effective base per rep × product) → the rule's rep bounds."""


@dataclass(frozen=True)
class Rule:
    """A business rule's declaration (see the module docstring).

    ``rep_bounds``: the bounds the rule puts on each rep's quota whatever the alignment, used by
    the pre-checks to prove infeasibility before solving (None: the rule has none).
    """

    name: str
    stage: Stage
    components: Mapping[str, Component]
    explain_word: str | None = None
    requires: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    provides: tuple[str, ...] = field(default=())
    rep_bounds: RepBounds | None = None


class RuleOrderError(RuntimeError):
    """A rule requires a quantity no rule before it provides (a programming error)."""


CORE = Rule(
    name="core",
    stage="quotas",
    components={"quota": Component(kind="var", internal=True)},
    provides=("quota",),
)
"""The stage-2 model's own quota variables (added by ``model.build`` before any rule)."""


def ordered(rules: Iterable[Rule], given: Iterable[str] = ("quota",)) -> tuple[Rule, ...]:
    """Rules sorted so each comes after the providers of what it requires or uses.

    Kahn's algorithm taking the first ready rule in the listed order, so the result is
    deterministic and equals the listing when the listing is already valid. A quantity required
    but provided by no rule (nor ``given``) raises :class:`RuleOrderError` naming the rule.
    """
    todo = list(rules)
    providers: dict[str, set[str]] = {}
    for r in todo:
        for p in r.provides:
            providers.setdefault(p, set()).add(r.name)
    known = set(given)
    for r in todo:
        missing = [q for q in r.requires if q not in providers and q not in known]
        if missing:
            raise RuleOrderError(
                f"rule {r.name!r} requires {', '.join(missing)}, which no rule provides"
            )
    done: set[str] = set()
    out: list[Rule] = []
    while todo:
        for i, r in enumerate(todo):
            deps = {p for q in (*r.requires, *r.uses) for p in providers.get(q, ())} - {r.name}
            if deps <= done:
                out.append(todo.pop(i))
                done.add(r.name)
                break
        else:
            names = ", ".join(r.name for r in todo)
            raise RuleOrderError(f"rules {names} require each other (a cycle)")
    return tuple(out)


def check_requires(rule: Rule, built: set[str]) -> None:
    """Raise :class:`RuleOrderError` naming ``rule`` when a quantity it requires is not built."""
    missing = [q for q in rule.requires if q not in built]
    if missing:
        raise RuleOrderError(
            f"rule {rule.name!r} requires {', '.join(missing)}, not built before it "
            f"(enable the rule that provides it, or fix the order in model/rules/__init__.py)"
        )
