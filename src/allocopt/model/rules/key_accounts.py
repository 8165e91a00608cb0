"""Key accounts: each key account goes to exactly one eligible rep (generalized assignment).

Over the eligible pairs (a, r) ∈ E (candidates table, or the incumbent's team), forbidden pairs
removed, with binary assign[a,r]:

    one_owner[a]:     Σ_{r:(a,r)∈E} assign[a,r] = 1                       ∀ key accounts a
    max_accounts[r]:  Σ_a assign[a,r] ≤ n_r                               (reps with a limit)
    max_workload[r]:  Σ_a w[a,r] · assign[a,r] ≤ W_r                      (reps with a limit)
    lock[a,r]:        assign[a,r] = 1                                      (locked pairs)
    ka_capacity[r]:   s_min · (eb_r + Σ_a rev_eff[a,r] · assign[a,r]) ≤ cap_r  (when s_min > 0)
    max_moves:        Σ_{r not the published owner} assign[a,r] ≤ m   (re-plan with max_moves)

Cost of a pair: c[a,r] = pair cost + move_cost · revenue_a if r is not the incumbent.
Stage 1 objective: w_disruption · Σ c[a,r]·assign[a,r] + w_tiebreak · Σ g(k)·rev_a·assign[a,r]
(the tie-break is in currency like every cost, so scaling money scales nothing but the plan).
"""

from __future__ import annotations

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.linear import Index, LinearModel, tiebreak_weights
from allocopt.model.registry import Component, Rule
from allocopt.scenario.schema import Scenario

RULE = Rule(
    name="key_accounts",
    stage="alignment",
    provides=("assign",),
    explain_word="assigned its key accounts",
    components={
        "assign": Component(kind="var"),
        "one_owner": Component(
            phrase=lambda r: (
                f"key account {r.label}: needs exactly one owner among its eligible reps"
            ),
            relax=("candidates", "rules.key_accounts.forbidden"),
            what="one owner per key account",
        ),
        "max_accounts": Component(
            phrase=lambda r: f"{r.who}: at most {r.up:g} key accounts",
            relax=("rules.key_accounts.max_accounts",),
            what="key-account book limit",
        ),
        "max_workload": Component(
            phrase=lambda r: f"{r.who}: key-account workload at most {r.up:g}",
            relax=("rules.key_accounts.max_workload",),
            what="key-account workload limit",
        ),
        "lock": Component(
            phrase=lambda r: f"key account {r.parts[0]} locked to rep {r.parts[-1]}",
            relax=("rules.key_accounts.locked",),
            what="locked key account",
        ),
        "ka_capacity": Component(
            phrase=lambda r: (
                f"{r.who}: key-account revenue × min share within capacity {r.money(r.up)}"
            ),
            relax=("rules.potential.min_share", "reps.capacity"),
            what="key-account revenue vs capacity",
        ),
        "max_moves": Component(
            phrase=lambda r: (
                f"at most {r.up:g} key accounts moved away from their published owners"
            ),
            relax=("replan.max_moves",),
            what="key-account moves in the re-plan",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.key_accounts.enabled


def pair_index(md: ModelData) -> Index:
    """(account, rep) keys of the eligible pairs, sorted."""
    acc = np.asarray(md.ka_ids, dtype=object)
    rep = np.asarray(md.rep_ids, dtype=object)
    return Index.of(acc[md.pairs.acc], rep[md.pairs.rep])


def add(lm: LinearModel, md: ModelData) -> None:
    pr = md.pairs
    n_pairs = len(pr)
    x = lm.add_vars("assign", pair_index(md), 0.0, 1.0, integer=True)
    lm.add_rows("one_owner", Index.of(md.ka_ids), [(pr.acc, x.cols(), 1.0)], 1.0, 1.0, money=False)
    has_pair = np.bincount(pr.rep, minlength=md.n_reps) > 0
    rep_ids = np.asarray(md.rep_ids, dtype=object)
    for name, limit, coef in (
        ("max_accounts", md.max_accounts, np.ones(n_pairs)),
        ("max_workload", md.max_workload, pr.workload),
    ):
        reps = np.flatnonzero(has_pair & np.isfinite(limit))
        if not len(reps):
            continue
        pos = np.full(md.n_reps, -1)
        pos[reps] = np.arange(len(reps))
        sel = pos[pr.rep] >= 0
        lm.add_rows(
            name,
            Index.of(rep_ids[reps]),
            [(pos[pr.rep][sel], x.cols(np.flatnonzero(sel)), coef[sel])],
            upper=limit[reps],
            money=False,
        )
    locked = np.flatnonzero(pr.locked)
    if len(locked):
        idx = pair_index(md)
        lm.add_rows(
            "lock",
            Index.of(*(c[locked] for c in idx.columns)),
            [(np.arange(len(locked)), x.cols(locked), 1.0)],
            1.0,
            1.0,
            money=False,
        )
    _ka_capacity(lm, md, has_pair)
    _max_moves(lm, md)
    _objective(lm, md)


def _max_moves(lm: LinearModel, md: ModelData) -> None:
    cfg = md.scenario.replan
    if cfg is None or cfg.max_moves is None:
        return
    pr = md.pairs
    away = (md.ka_incumbent[pr.acc] >= 0) & ~pr.incumbent
    lm.add_rows(
        "max_moves",
        Index.of(["published owners"]),
        [
            (
                np.zeros(int(away.sum()), dtype=np.int64),
                lm.vars["assign"].cols(np.flatnonzero(away)),
                1.0,
            )
        ],
        upper=float(cfg.max_moves),
        money=False,
    )


def _ka_capacity(lm: LinearModel, md: ModelData, has_pair: np.ndarray) -> None:
    sc = md.scenario
    smin = sc.rules.potential.min_share
    if not (sc.rules.potential.enabled and sc.rules.capacity.enabled and smin > 0):
        return
    pr = md.pairs
    share = md.sell_share
    pot_eff = (md.potential * share).sum(axis=1)
    rev = (md.ka_revenue[pr.acc] * share[pr.rep]).sum(axis=1)  # per pair
    reps = np.flatnonzero(has_pair)
    pos = np.full(md.n_reps, -1)
    pos[reps] = np.arange(len(reps))
    lm.add_rows(
        "ka_capacity",
        Index.of(np.asarray(md.rep_ids, dtype=object)[reps]),
        [(pos[pr.rep], lm.vars["assign"].cols(), smin * rev)],
        upper=md.capacity[reps] - smin * pot_eff[reps],
    )


def _objective(lm: LinearModel, md: ModelData) -> None:
    w = md.scenario.objective.weights
    x = lm.vars["assign"]
    cost = md.pairs.pair_cost + md.pairs.move_cost
    lm.add_cost("disruption", x.cols(), w.disruption * cost)
    revenue = md.ka_revenue.sum(axis=1)[md.pairs.acc]
    lm.add_cost("tiebreak", x.cols(), w.tiebreak * revenue * tiebreak_weights(len(x)))


def incumbent_start(lm: LinearModel, md: ModelData) -> tuple[np.ndarray, np.ndarray]:
    """A MIP start for the alignment built by :func:`add`: (assign columns, values 0/1).

    Every key account whose incumbent is an eligible rep gets 1 on that pair and 0 on its other
    pairs; an account is left out (for HiGHS to complete) when its incumbent assignment breaks a
    row: the incumbent books of a rep over one of its limits (max_accounts, max_workload,
    ka_capacity, max_moves: activity above the upper bound → the accounts at 1 in that row) or a
    lock on another rep (activity below the lower bound → every account in the row). The
    columns given are then within every row, so when they cover all pairs the start is a
    feasible plan (the one a time limit can fall back to)."""
    pr = md.pairs
    x = lm.vars["assign"]
    x0 = pr.incumbent.astype(float)
    covered = np.bincount(pr.acc, weights=x0, minlength=len(md.ka_ids)) > 0
    a = lm.matrix().tocsr()
    lo, up = lm.row_bounds()
    act = a @ np.bincount(x.cols(), weights=x0, minlength=lm.n_cols)
    tol = 1e-9 * np.maximum(1.0, np.abs(act))
    over = np.flatnonzero(act > up + tol)
    under = np.flatnonzero(act < lo - tol)
    acc_of = np.full(lm.n_cols, -1, dtype=np.int64)
    acc_of[x.cols()] = pr.acc
    drop = np.zeros(len(md.ka_ids), dtype=bool)
    if len(over):
        sub = a[over].tocoo()
        hot = x0[sub.col - x.start] > 0.5
        drop[acc_of[sub.col[hot]]] = True
    if len(under):
        drop[acc_of[a[under].tocoo().col]] = True
    given = covered & ~drop
    keep = given[pr.acc]
    return x.cols(np.flatnonzero(keep)), x0[keep]
