"""Mid-year re-plan: booked periods frozen, the rest re-optimised under a stability budget.

Published plan: the tiny base plan (A = 300, B = 200, 75 / 50 per quarter). In the re-plan Q1
is booked and the target rises to 600; the reference is the published plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from allocopt.errors import InfeasibleError, InputError
from allocopt.model.build import build_quotas
from allocopt.model.sets import alignment_from_incumbents, quota_sets
from allocopt.pipeline import validate
from tests.conftest import Solve, annual, periods
from tests.plans import write_plan
from tests.test_model_rules import _key_accounts


def _replan(tmp_path: Path, published: Path, **replan: Any) -> Path:
    """A copy of the published plan's scenario with a re-plan section (and the given changes)."""
    src = yaml.safe_load((tmp_path / "plan" / "scenario.yaml").read_text())
    targets = replan.pop("targets", {"by_product": {"P": 600}})
    rules = replan.pop("rules", None)
    src["targets"].update(targets)
    if rules:
        for k, v in rules.items():
            src["rules"][k].update(v)
    src["name"] = "tiny-replan"
    src["replan"] = {"published": str(published), "as_of": "Q1", **replan}
    path = tmp_path / "plan" / "replan.yaml"
    text = yaml.safe_dump(src, sort_keys=False).replace("'2027-01-01'", "2027-01-01")
    path.write_text(text, encoding="utf-8")
    return path


def test_target_rise_is_spread_over_the_remaining_quarters(tmp_path: Path, solve: Solve) -> None:
    """Target 600: +100 over references 300 / 200 — 30 (A) and 20 (B) in the cheap band, the other
    50 to B (its tie-break weight g(2) = 0.618 < g(1) = 0.809): A = 330, B = 270.
    Q1 stays 75 / 50; A's other quarters (330 − 75) / 3 = 85, B's (270 − 50) / 3 = 73.33.
    """
    pub = solve(write_plan(tmp_path / "plan"))
    res = solve(_replan(tmp_path, pub.run_dir))
    assert annual(res) == {("A", "P"): pytest.approx(330.0), ("B", "P"): pytest.approx(270.0)}
    assert periods(res, "A", "P") == pytest.approx([75.0, 85.0, 85.0, 85.0])
    assert periods(res, "B", "P") == pytest.approx([50.0, 220 / 3, 220 / 3, 220 / 3], abs=0.01)
    side = pd.read_csv(res.run_dir / "replan.csv", dtype={"rep_id": str})
    a = side[side["rep_id"] == "A"]
    assert list(a["frozen"]) == [True, False, False, False]
    assert list(a["published"]) == [75.0] * 4
    assert list(a["change"]) == pytest.approx([0.0, 10.0, 10.0, 10.0])
    assert res.manifest["replan_of"] == str(pub.run_dir.resolve())


def test_stability_budget_binds(tmp_path: Path, solve: Solve) -> None:
    """max_change 0.2 caps B at 240, so A takes 360 (within its own 360 limit)."""
    pub = solve(write_plan(tmp_path / "plan"))
    res = solve(_replan(tmp_path, pub.run_dir, max_change=0.2))
    assert annual(res) == {("A", "P"): pytest.approx(360.0), ("B", "P"): pytest.approx(240.0)}
    bind = res.results.binding
    assert ((bind["component"] == "stability") & (bind["index"] == "B")).any()
    md = validate(_replan(tmp_path, pub.run_dir, max_change=0.2, max_moves=1)).md
    lm = build_quotas(quota_sets(md, alignment_from_incumbents(md))).model
    assert {"frozen", "stability"} <= set(lm.rows)


def test_stability_budget_too_tight_is_infeasible(tmp_path: Path, solve: Solve) -> None:
    """±10% allows at most 330 + 220 = 550 < 600."""
    pub = solve(write_plan(tmp_path / "plan"))
    with pytest.raises(InfeasibleError) as err:
        solve(_replan(tmp_path, pub.run_dir, max_change=0.1))
    assert "stability" in err.value.render()


def test_max_moves_limits_key_account_moves(tmp_path: Path, solve: Solve) -> None:
    """Published: A owns K1 and K2. The re-plan allows one account per rep, so one must move:
    with max_moves 0 that is infeasible, with max_moves 1 K1 (the cheaper) moves to B."""
    rules = {"key_accounts": {"enabled": True, "move_cost": 0.1}}
    pub = solve(
        write_plan(tmp_path / "plan", tables={"accounts": _key_accounts()}, extra={"rules": rules})
    )
    assert set(pub.results.assignments["owner_rep"]) == {"A"}
    tight = {"key_accounts": {"max_accounts": 1}}
    with pytest.raises(InfeasibleError):
        solve(
            _replan(
                tmp_path, pub.run_dir, max_moves=0, rules=tight, targets={"by_product": {"P": 500}}
            )
        )
    res = solve(
        _replan(tmp_path, pub.run_dir, max_moves=1, rules=tight, targets={"by_product": {"P": 500}})
    )
    asg = res.results.assignments.set_index("account_id")
    assert asg.loc["K1", "owner_rep"] == "B" and asg.loc["K2", "owner_rep"] == "A"
    assert res.results.binding["component"].eq("max_moves").any()


def test_published_folder_must_be_a_run(tmp_path: Path, solve: Solve) -> None:
    write_plan(tmp_path / "plan")
    with pytest.raises(InputError) as err:
        solve(_replan(tmp_path, tmp_path / "nowhere"))
    assert "is not a run folder" in err.value.render()


def test_replan_with_band_phasing_is_rejected(tmp_path: Path, solve: Solve) -> None:
    pub = solve(write_plan(tmp_path / "plan"))
    path = _replan(tmp_path, pub.run_dir, rules={"phasing": {"mode": "band"}})
    with pytest.raises(InputError) as err:
        solve(path)
    assert "rules.phasing.mode to exact" in err.value.render()
