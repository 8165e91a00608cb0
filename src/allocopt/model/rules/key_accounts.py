"""Key accounts: each key account goes to exactly one eligible rep (generalized assignment).

Over the eligible pairs (a, r) ∈ E (candidates table, or the incumbent's team), forbidden pairs
removed, with binary assign[a,r]:

    one_owner[a]:     Σ_{r:(a,r)∈E} assign[a,r] = 1                       ∀ key accounts a
    max_accounts[r]:  Σ_a assign[a,r] ≤ n_r                               (reps with a limit)
    max_workload[r]:  Σ_a w[a,r] · assign[a,r] ≤ W_r                      (reps with a limit)
    lock[a,r]:        assign[a,r] = 1                                      (locked pairs)
    ka_capacity[r]:   s_min · (eb_r + Σ_a rev_eff[a,r] · assign[a,r]) ≤ cap_r  (when s_min > 0)

Cost of a pair: c[a,r] = pair cost + move_cost · revenue_a if r is not the incumbent.
Stage 1 objective: w_disruption · Σ c[a,r]·assign[a,r] + w_tiebreak · Σ (k/|E|)·assign[a,r].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo

from allocopt.data.prepare import ModelData
from allocopt.scenario.schema import Scenario

NAME = "key_accounts"
STAGE = "alignment"
COMPONENTS = ("assign", "one_owner", "max_accounts", "max_workload", "lock", "ka_capacity")


def enabled(sc: Scenario) -> bool:
    return sc.rules.key_accounts.enabled


def pair_keys(md: ModelData) -> list[tuple[str, str]]:
    """(account, rep) keys of the eligible pairs, sorted."""
    return [
        (md.ka_ids[a], md.rep_ids[r])
        for a, r in zip(md.pairs.acc.tolist(), md.pairs.rep.tolist(), strict=True)
    ]


def add(m: pyo.ConcreteModel, md: ModelData) -> None:
    pr = md.pairs
    keys = pair_keys(md)
    m.assign = pyo.Var(keys, domain=pyo.Binary)
    by_acc: dict[str, list[str]] = {}
    by_rep: dict[str, list[tuple[str, float]]] = {}
    for (a, r), w in zip(keys, pr.workload.tolist(), strict=True):
        by_acc.setdefault(a, []).append(r)
        by_rep.setdefault(r, []).append((a, w))
    m.one_owner = pyo.Constraint(
        list(md.ka_ids),
        rule=lambda m, a: sum(m.assign[a, r] for r in by_acc.get(a, [])) == 1,
    )
    ri = md.rep_index()
    lim_n = {
        r: float(md.max_accounts[ri[r]]) for r in by_rep if np.isfinite(md.max_accounts[ri[r]])
    }
    lim_w = {
        r: float(md.max_workload[ri[r]]) for r in by_rep if np.isfinite(md.max_workload[ri[r]])
    }
    if lim_n:
        m.max_accounts = pyo.Constraint(
            sorted(lim_n), rule=lambda m, r: sum(m.assign[a, r] for a, _ in by_rep[r]) <= lim_n[r]
        )
    if lim_w:
        m.max_workload = pyo.Constraint(
            sorted(lim_w),
            rule=lambda m, r: sum(w * m.assign[a, r] for a, w in by_rep[r]) <= lim_w[r],
        )
    locked = [k for k, flag in zip(keys, pr.locked.tolist(), strict=True) if flag]
    if locked:
        m.lock = pyo.Constraint(locked, rule=lambda m, a, r: m.assign[a, r] == 1)
    _ka_capacity(m, md, by_rep)


def _ka_capacity(
    m: pyo.ConcreteModel, md: ModelData, by_rep: dict[str, list[tuple[str, float]]]
) -> None:
    sc = md.scenario
    smin = sc.rules.potential.min_share
    if not (sc.rules.potential.enabled and sc.rules.capacity.enabled and smin > 0):
        return
    share = np.einsum("pt,rt->rp", md.season, md.avail)  # (R, P)
    ri = md.rep_index()
    ai = {a: k for k, a in enumerate(md.ka_ids)}
    pot_eff = (md.potential * share).sum(axis=1)

    def rev(a: str, r: str) -> float:
        return float(md.ka_revenue[ai[a]] @ share[ri[r]])

    m.ka_capacity = pyo.Constraint(
        sorted(by_rep),
        rule=lambda m, r: (
            smin * (float(pot_eff[ri[r]]) + sum(rev(a, r) * m.assign[a, r] for a, _ in by_rep[r]))
            <= float(md.capacity[ri[r]])
        ),
    )


def objective_terms(m: pyo.ConcreteModel, md: ModelData) -> tuple[Any, Any]:
    """(disruption, tie-break) expressions of the alignment stage."""
    keys = pair_keys(md)
    cost = (md.pairs.pair_cost + md.pairs.move_cost).tolist()
    n = max(len(keys), 1)
    disruption = sum(c * m.assign[k] for k, c in zip(keys, cost, strict=True) if c != 0)
    tiebreak = sum(((i + 1) / n) * m.assign[k] for i, k in enumerate(keys))
    return disruption, tiebreak
