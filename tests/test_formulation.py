"""The formulation document, the rule modules and the Pyomo export stay in step."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from allocopt.model import objective
from allocopt.model.build import Built, build_alignment, build_quotas
from allocopt.model.rules import RULES
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.pipeline import validate
from tests.plans import write_plan
from tests.test_model_rules import _key_accounts, _two_team_org

DOC = Path(__file__).resolve().parents[1] / "models" / "allocation.md"
MODULES = (*RULES, objective.RULE)


def _doc_sections() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for sec in re.split(r"^## ", text, flags=re.M)[1:]:
        name = sec.split("\n", 1)[0].strip()
        m = re.search(r"^Components: (.*)$", sec, flags=re.M)
        if m:
            out[name] = set(re.findall(r"`([a-z_]+)`", m.group(1)))
    return out


def test_every_rule_has_its_section_with_the_same_components() -> None:
    sections = _doc_sections()
    for mod in MODULES:
        assert mod.name in sections, f"models/allocation.md has no section '## {mod.name}'"
        assert sections[mod.name] == set(mod.components), mod.name
    assert set(sections) == {m.name for m in MODULES}


def _all_rules_plan(tmp_path: Path, **over: Any) -> Path:
    extra = {
        "targets": {"by_product": {"P": 1000}, "units": [{"unit": "T2", "min": 300, "max": 500}]},
        "rules": {
            "growth": {"enabled": True, "min": -0.5, "max": 1.0},
            "floors": {"enabled": True, "by_role": {"rep": 10}},
            "key_accounts": {
                "enabled": True,
                "max_accounts": 2,
                "max_workload": 5,
                "move_cost": 0.1,
                "locked": [{"account": "K2", "rep": "A"}],
            },
            "fairness": {"enabled": True, "level": "region", "band": 0.9},
            "phasing": {"enabled": True, "mode": "band", "band": 0.2},
            "rounding": {"enabled": True, "unit": 10},
            "potential": {"min_share": 0.01},
            # a wide band (the growth band is tighter) so every component is built
            "attainability": {"enabled": True, "p": 0.01, "max_p": 0.99, "spread": 0.5},
        },
        "objective": {"weights": {"fairness": 1.0}},
    }
    tables = _two_team_org()
    tables["reps"][0]["ly_actual"] = 300
    tables["accounts"] = _key_accounts()
    return write_plan(tmp_path, tables=tables, extra={**extra, **over})


def _built(path: Path) -> list[Built]:
    md = validate(path).md
    a = build_alignment(md)
    q = build_quotas(quota_sets(md, alignment_from_incumbents(md)))
    return [b for b in (a, q) if b is not None]


def test_built_components_belong_to_their_rules(tmp_path: Path) -> None:
    owners = {c: m.name for m in MODULES for c in m.components}
    seen: set[str] = set()
    for b in _built(_all_rules_plan(tmp_path)):
        for name in [*b.model.vars, *b.model.rows]:
            assert name in owners or name == "quota", name
            seen.add(name)
    # the all-rules plan exercises every component of every rule (the objective's obj is the
    # objective itself, not a block)
    # re-plan components (frozen, stability, max_moves) are exercised in tests/test_replan.py
    expected = {c for m in MODULES for c in m.components} - {
        "obj",
        "frozen",
        "stability",
        "max_moves",
    }
    assert expected <= seen | {"quota"}


def _named_entries(
    pm: Any,
) -> tuple[dict[tuple[str, str], float], dict[str, tuple], dict[str, float]]:
    info = LinearStandardFormCompiler().write(pm, mixed_form=True, set_sense=None)
    cols = [v.name for v in info.columns]
    rows = [r.constraint.name for r in info.rows]
    a = info.A.tocoo()
    coef = {(rows[i], cols[j]): float(v) for i, j, v in zip(a.row, a.col, a.data, strict=True)}
    bounds = {c: (v.lb, v.ub, v.is_integer()) for c, v in zip(cols, info.columns, strict=True)}
    dense = info.c.toarray()[0]
    cost = {cols[j]: float(dense[j]) for j in np.flatnonzero(dense)}
    return coef, bounds, cost


@pytest.mark.parametrize("stage", [0, 1])
def test_pyomo_export_is_the_same_model(tmp_path: Path, stage: int) -> None:
    """Compile the Pyomo export with Pyomo's own compiler and compare entry by entry."""
    lm = _built(_all_rules_plan(tmp_path))[stage].model
    pm = lm.to_pyomo()
    coef, bounds, cost = _named_entries(pm)

    def col_name(j: int) -> str:
        comp, label = lm.col_name(j)
        return f"{comp}[{label}]"

    def row_name(i: int) -> str:
        comp, label = lm.row_name(i)
        return f"{comp}[{label}]"

    a = lm.matrix().tocoo()
    ours = {
        (row_name(i), col_name(j)): float(v) for i, j, v in zip(a.row, a.col, a.data, strict=True)
    }
    assert ours.keys() == coef.keys()
    for k, v in ours.items():
        assert coef[k] == pytest.approx(v), k
    lb, ub, integ = lm.bounds()
    for j in range(lm.n_cols):
        name = col_name(j)
        if name not in bounds:
            continue  # a column in no row and with no cost is dropped by Pyomo's compiler
        plb, pub, pint = bounds[name]
        assert (plb if plb is not None else -np.inf) == pytest.approx(lb[j]), name
        assert (pub if pub is not None else np.inf) == pytest.approx(ub[j]), name
        assert pint == bool(integ[j]), name
    c = lm.cost()
    assert {col_name(j): pytest.approx(float(c[j])) for j in np.flatnonzero(c)} == cost
