"""Pre-checks before any solve: :func:`prechecks` returns findings, each a *proof* that the rules
cannot all hold, with its numbers (per-rep quota bounds, what a team or unit can carry, small
feasibility probes on key accounts and rounding)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from scipy.sparse import coo_matrix

from allocopt.data.prepare import ModelData
from allocopt.diagnose.findings import TOL, Finding, _m
from allocopt.model.rules import RULES
from allocopt.model.sets import company_target
from allocopt.solve import highs_lp, run_lp

# --- pre-checks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RepBounds:
    lower: np.ndarray  # (R,) least total quota each rep must carry
    upper: np.ndarray  # (R,) most total quota each rep may carry
    lower_why: list[str]
    upper_why: list[str]
    upper_p: np.ndarray  # (R, P) most quota per product
    lower_p: np.ndarray  # (R, P) least quota per product


def _base_bounds(md: ModelData) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest effective base per rep × product over every possible alignment."""
    share = md.sell_share
    lo = md.potential * share
    hi = lo.copy()
    sc = md.scenario
    if not md.ka_ids:
        return lo, hi
    if not sc.rules.key_accounts.enabled:
        own = md.ka_incumbent
        has = own >= 0
        add = md.ka_revenue[has] * share[own[has]]
        np.add.at(lo, own[has], add)
        np.add.at(hi, own[has], add)
        return lo, hi
    pr = md.pairs
    n_pairs_acc = np.bincount(pr.acc, minlength=len(md.ka_ids))
    contrib = md.ka_revenue[pr.acc] * share[pr.rep]  # (pairs, P)
    np.add.at(hi, pr.rep, contrib)
    sure = n_pairs_acc[pr.acc] == 1  # the account can only go to this rep
    locked = pr.locked
    np.add.at(lo, pr.rep[sure | locked], contrib[sure | locked])
    return lo, hi


def _rep_bounds(md: ModelData) -> _RepBounds:
    """Least and most quota per rep (and per rep × product) over every alignment, from the
    bounds each rule declares (``Rule.rep_bounds``), with the rule that sets each."""
    n_r, n_p = md.n_reps, len(md.products)
    eb_lo, eb_hi = _base_bounds(md)
    lower = np.zeros(n_r)
    upper = np.full(n_r, np.inf)
    lower_why = [""] * n_r
    upper_why = [""] * n_r
    upper_p = np.full((n_r, n_p), np.inf)
    lower_p = np.zeros((n_r, n_p))

    def raise_lower(v: np.ndarray, why: str) -> None:
        better = v > lower + TOL
        lower[better] = v[better]
        for i in np.flatnonzero(better):
            lower_why[i] = why

    def cut_upper(v: np.ndarray, why: str) -> None:
        better = v < upper - TOL
        upper[better] = v[better]
        for i in np.flatnonzero(better):
            upper_why[i] = why

    for rule in RULES:  # each rule declares its bounds on a rep's quota (registry order)
        for bound in rule.rep_bounds(md, eb_lo, eb_hi) if rule.rep_bounds else ():
            if bound.side == "upper":
                cut_upper(bound.total, bound.why)
                if bound.per_product is not None:
                    upper_p = np.minimum(upper_p, bound.per_product)
            else:
                raise_lower(bound.total, bound.why)
                if bound.per_product is not None:
                    lower_p = np.maximum(lower_p, bound.per_product)
    upper_p = np.minimum(upper_p, upper[:, None])
    return _RepBounds(lower, upper, lower_why, upper_why, upper_p, lower_p)


_STOPPED = (
    highspy.HighsModelStatus.kOptimal,
    highspy.HighsModelStatus.kSolutionLimit,
    highspy.HighsModelStatus.kIterationLimit,
)


MIP_PAIRS = 20_000
"""Above this many eligible pairs the pre-check bound keeps the alignment fractional."""


def _carry(md: ModelData, weight: np.ndarray, sense: str, limit: float) -> float | None:
    """The most (``sense="max"``) or least (``"min"``) Σ weight[r,p] · quota[r,p] any plan can
    have, counting every key account's revenue once; None if the bound could not be computed.

    The alignment is chosen after the pre-checks, so the bound optimises over it too. It is the
    optimum of a relaxation of the two stages with binary y[a,r] over the eligible pairs (the
    key-account rule off: the incumbents' alignment, fixed) and u[r,p] ≥ 0:

        eb[r,p](y) = share[r,p] · (potential[r,p] + Σ_a y[a,r] · revenue[a,p])
        Σ_r y[a,r] = 1 ∀a;  y[a,r] = 1 if locked;  Σ_a y[a,r] ≤ n_r;  Σ_a w[a,r]·y[a,r] ≤ W_r
        max:  Σ_p u[r,p] ≤ cap_r;  Σ_p u[r,p] ≤ (1 + g_max)·h_r;  u[r,p] ≤ s_max · eb[r,p](y)
        min:  Σ_p u[r,p] ≥ (1 + g_min)·h_r;  Σ_p u[r,p] ≥ floor_r;  u[r,p] ≥ s_min · eb[r,p](y)

    Every feasible plan (alignment + quotas) is a feasible point, so the optimum bounds what any
    plan can carry (valid); it is the exact optimum of these rules with an integral alignment,
    so a target at the bound is reachable unless another rule interferes (tight). Reported is
    HiGHS's dual bound (valid even when the node limit stops the search), solved in money units
    of the mean target per rep so the bound scales with money. The LP relaxation (fractional
    y, also valid) is solved first; the integral alignment only when the LP bound already
    crosses ``limit`` (the target: a finding will be reported) and there are at most
    :data:`MIP_PAIRS` pairs, so feasible plans pay for one small LP per check.
    """
    sc = md.scenario
    n_r, n_p = md.n_reps, len(md.products)
    pr = md.pairs
    pt = sc.rules.potential
    s_pot = (pt.max_share if sense == "max" else pt.min_share) if pt.enabled else 0.0
    # the alignment matters only through the potential share of key-account revenue
    ka_on = (
        sc.rules.key_accounts.enabled
        and len(pr) > 0
        and s_pot > 0
        and bool(np.any(md.ka_revenue > 0))
    )
    n_u, n_y = n_r * n_p, (len(pr) if ka_on else 0)
    money = max(float(np.sum(md.target)) / max(n_r, 1), 1e-9)
    share = md.sell_share
    pot = md.potential.copy()
    if not ka_on and md.ka_ids:  # the incumbents keep their accounts
        own = md.ka_incumbent
        np.add.at(pot, own[own >= 0], md.ka_revenue[own >= 0])
    pot = pot / money
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    up: list[np.ndarray] = []
    n_rows = 0

    def add(r: np.ndarray, c: np.ndarray, v: Any, lo_: Any, up_: Any, k: int) -> None:
        nonlocal n_rows
        rows.append(r + n_rows)
        cols.append(c)
        vals.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape))
        lo.append(np.broadcast_to(np.asarray(lo_, dtype=float), (k,)))
        up.append(np.broadcast_to(np.asarray(up_, dtype=float), (k,)))
        n_rows += k

    quick = _feasible_value(md, weight, sense, ka_on, s_pot)
    if quick is not None and (quick >= limit if sense == "max" else quick <= limit):
        return quick  # a point of the relaxation already reaches the limit: nothing to prove
    u = np.arange(n_u)
    by_rep = np.repeat(np.arange(n_r), n_p)
    h = md.history * md.active / money
    hist = np.flatnonzero(np.isfinite(h))
    hist_rows = np.repeat(np.arange(len(hist)), n_p)
    hist_cols = (hist[:, None] * n_p + np.arange(n_p)).ravel()
    g = sc.rules.growth
    if sense == "max":
        if sc.rules.capacity.enabled:
            add(by_rep, u, 1.0, -np.inf, md.capacity / money, n_r)
        if g.enabled and len(hist):
            add(hist_rows, hist_cols, 1.0, -np.inf, (1 + g.max) * h[hist], len(hist))
    else:
        if g.enabled and len(hist):
            add(hist_rows, hist_cols, 1.0, (1 + g.min) * h[hist], np.inf, len(hist))
        if sc.rules.floors.enabled and sc.rules.floors.by_role:
            f = np.array([sc.rules.floors.by_role.get(str(r), 0.0) for r in md.role_of])
            add(by_rep, u, 1.0, f * md.fte * md.active / money, np.inf, n_r)
    if s_pot > 0:  # u[r,p] − s · share · Σ_a y·rev  ≶  s · share · pot
        rr, cc, vv = [u], [u], [np.ones(n_u)]
        if n_y:
            k = np.repeat(np.arange(n_y), n_p)
            j = np.tile(np.arange(n_p), n_y)
            rep = pr.rep[k]
            rr.append(rep * n_p + j)
            cc.append(n_u + k)
            vv.append(-s_pot * share[rep, j] * md.ka_revenue[pr.acc[k], j] / money)
        rhs = (s_pot * share * pot).ravel()
        row_lo, row_up = (-np.inf, rhs) if sense == "max" else (rhs, np.inf)
        add(np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), row_lo, row_up, n_u)
    if n_y:
        y = n_u + np.arange(n_y)
        add(pr.acc, y, 1.0, 1.0, 1.0, len(md.ka_ids))
        for book, coef in ((md.max_accounts, np.ones(n_y)), (md.max_workload, pr.workload)):
            ok = np.isfinite(book[pr.rep])
            if ok.any():
                reps, pos = np.unique(pr.rep[ok], return_inverse=True)
                add(pos, y[ok], coef[ok], -np.inf, book[reps], len(reps))
    if not n_rows:
        return None if sense == "max" else 0.0
    a = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_u + n_y),
    ).tocsc()
    locked = pr.locked.astype(float) if n_y else np.zeros(0)
    lp = highs_lp(
        np.concatenate([np.asarray(weight, dtype=float).ravel(), np.zeros(n_y)]),
        np.concatenate([np.zeros(n_u), locked]),
        np.concatenate([np.full(n_u, np.inf), np.ones(n_y)]),
        a,
        np.concatenate(lo),
        np.concatenate(up),
        maximize=sense == "max",
    )
    value = _run_small(lp, integral=False)
    if value is None:
        return None
    crosses = value * money < limit if sense == "max" else value * money > limit
    if n_y and crosses and n_y <= MIP_PAIRS:
        lp.integrality_ = [highspy.HighsVarType.kContinuous] * n_u + [
            highspy.HighsVarType.kInteger
        ] * n_y
        exact = _run_small(lp, integral=True)
        if exact is not None:
            value = min(value, exact) if sense == "max" else max(value, exact)
    return value * money


def _feasible_value(
    md: ModelData, weight: np.ndarray, sense: str, ka_on: bool, s_pot: float
) -> float | None:
    """Σ weight·u at one feasible point of :func:`_carry`'s relaxation (a cheap inner bound), or
    None. y = each account with its incumbent (else split evenly over its eligible reps), or
    every account split evenly, locks kept, whichever first meets the book limits; u[r,·] at
    the rep's own limit. For "max" the value is ≤ the relaxation's optimum, for "min" ≥ it,
    so a limit it reaches needs no LP."""
    sc = md.scenario
    n_r, n_p = md.n_reps, len(md.products)
    w = np.asarray(weight, dtype=float)
    full, one = w.all(axis=1), (w.sum(axis=1) == 1)
    if not np.all(full | one | (w.sum(axis=1) == 0)):
        return None
    share = md.sell_share
    base = md.potential.copy()
    pr = md.pairs
    if ka_on:
        n_a = len(md.ka_ids)
        even = 1.0 / np.bincount(pr.acc, minlength=n_a)[pr.acc]
        has_inc = np.bincount(pr.acc[pr.incumbent], minlength=n_a) == 1
        stay = np.where(has_inc[pr.acc], pr.incumbent.astype(float), even)
        has_lock = np.bincount(pr.acc[pr.locked], minlength=n_a) > 0
        chosen = None
        for y in (stay, even):  # incumbents keep their accounts, or an even split
            y = np.where(has_lock[pr.acc], pr.locked.astype(float), y)
            books = ((md.max_accounts, np.ones(len(pr))), (md.max_workload, pr.workload))
            if all(
                not np.any(
                    np.bincount(pr.rep, weights=coef * y, minlength=n_r)
                    > np.nan_to_num(book, nan=np.inf) + TOL
                )
                for book, coef in books
            ):
                chosen = y
                break
        if chosen is None:
            return None
        np.add.at(base, pr.rep, chosen[:, None] * md.ka_revenue[pr.acc])
    elif md.ka_ids:
        own = md.ka_incumbent
        np.add.at(base, own[own >= 0], md.ka_revenue[own >= 0])
    eb = s_pot * share * base if s_pot > 0 else np.zeros((n_r, n_p))
    h = md.history * md.active
    g = sc.rules.growth
    has = np.isfinite(h) & g.enabled
    if sense == "max":
        if s_pot <= 0:
            return None
        cap = np.full(n_r, np.inf)
        if sc.rules.capacity.enabled:
            cap = np.minimum(cap, md.capacity)
        cap = np.where(has, np.minimum(cap, (1 + g.max) * np.nan_to_num(h)), cap)
        per_rep = np.where(
            full, np.minimum(cap, eb.sum(axis=1)), np.minimum(cap, (w * eb).sum(axis=1))
        )
    else:
        need = np.where(has, (1 + g.min) * np.nan_to_num(h), 0.0)
        if sc.rules.floors.enabled and sc.rules.floors.by_role:
            f = np.array([sc.rules.floors.by_role.get(str(r), 0.0) for r in md.role_of])
            need = np.maximum(need, f * md.fte * md.active)
        per_rep = np.where(full, np.maximum(need, eb.sum(axis=1)), (w * eb).sum(axis=1))
    per_rep = np.where(full | one, per_rep, 0.0)
    value = float(per_rep.sum())
    return value if np.isfinite(value) else None


def _run_small(lp: Any, *, integral: bool) -> float | None:
    """Optimum (LP) or dual bound (MIP, deterministic node limit) of a pre-check model."""
    try:
        hs = run_lp(
            lp,
            # deterministic work limit (nodes), not a time limit
            {"mip_rel_gap": 1e-7, "mip_max_nodes": 2000, "random_seed": 0},
        )
        status = hs.getModelStatus()
        info = hs.getInfo()
    except Exception:  # a pre-check never crashes the solve; the caller falls back
        return None
    if not integral and status == highspy.HighsModelStatus.kOptimal:
        value = float(info.objective_function_value)
    elif integral and status in _STOPPED:
        value = float(info.mip_dual_bound)
    else:
        return None
    return value if np.isfinite(value) else None


def _relax_for(why: str) -> list[str]:
    if why.startswith("capacity"):
        return ["reps.capacity", "rules.capacity"]
    if why.startswith("potential (max"):
        return ["rules.potential.max_share", "potential"]
    if why.startswith("potential (min"):
        return ["rules.potential.min_share"]
    if why.startswith("growth minimum"):
        return ["rules.growth.min"]
    if why.startswith("growth maximum"):
        return ["rules.growth.max"]
    if why.startswith("floor"):
        return ["rules.floors.by_role"]
    if why.startswith("attainability (P(reach) ≥"):
        return ["rules.attainability.p", "rules.attainability.growth"]
    if why.startswith("attainability"):
        return ["rules.attainability.max_p"]
    return []


def prechecks(md: ModelData) -> list[Finding]:
    """Provable infeasibilities, each with its numbers; empty when none is found."""
    out: list[Finding] = []
    sc = md.scenario
    b = _rep_bounds(md)
    rep_ids = md.rep_ids
    target = company_target(md)
    total = float(target.sum())
    # each rep on its own
    for i in np.flatnonzero(b.lower > b.upper + TOL * np.maximum(1, b.upper)):
        out.append(
            Finding(
                b.lower_why[i].split(" ")[0],
                f"rep {rep_ids[i]} (team {md.team_of[i]})",
                f"{b.lower_why[i]} requires at least {_m(b.lower[i])} "
                f"but {b.upper_why[i]} allows at most "
                f"{_m(b.upper[i])}",
                _relax_for(b.lower_why[i]) + _relax_for(b.upper_why[i]),
                {"lower": float(b.lower[i]), "upper": float(b.upper[i])},
            )
        )
    # the company: what all reps can carry, each key account counted once (see _carry)
    n_r, n_p = md.n_reps, len(md.products)
    for j, p in enumerate(md.products):
        col = np.zeros((n_r, n_p))
        col[:, j] = 1.0
        tight = _carry(md, col, "max", float(target[j]))
        most = float(np.sum(b.upper_p[:, j])) if tight is None else tight
        if target[j] > most + TOL * max(1.0, most):
            out.append(
                Finding(
                    "target",
                    f"company, product {p}",
                    f"target with cushion {_m(target[j])} is more than the {_m(most)} "
                    "its reps can carry "
                    "(capacity, potential share and growth caps per rep, each key account "
                    f"counted once): {_m(target[j] - most)} short",
                    [
                        f"targets.by_product.{p}",
                        "targets.over_assignment",
                        "rules.potential.max_share",
                        "rules.capacity",
                    ],
                    {"target": float(target[j]), "most": most, "gap": float(target[j] - most)},
                )
            )
        least = float(np.sum(b.lower_p[:, j]))
        if sc.rules.potential.enabled and sc.rules.potential.min_share > 0:
            tight = _carry(md, col, "min", float(target[j]))
            least = least if tight is None else max(least, tight)
        if target[j] < least - TOL * max(1.0, least):
            out.append(
                Finding(
                    "target",
                    f"company, product {p}",
                    f"target with cushion {_m(target[j])} is less than the {_m(least)} the minimum "
                    "potential share forces on its reps",
                    [f"targets.by_product.{p}", "rules.potential.min_share"],
                    {"target": float(target[j]), "least": least},
                )
            )
    tight = _carry(md, np.ones((n_r, n_p)), "max", total)
    most_all = float(np.sum(np.minimum(b.upper, b.upper_p.sum(axis=1))))
    most_all = most_all if tight is None else min(most_all, tight)
    if total > most_all + TOL * max(1.0, most_all) and not any(f.rule == "target" for f in out):
        out.append(
            Finding(
                "target",
                "company",
                f"total target with cushion {_m(total)} is more than the {_m(most_all)} "
                "all reps can carry",
                ["targets.by_product", "targets.over_assignment", "rules.capacity"],
                {"target": total, "most": most_all},
            )
        )
    tight = _carry(md, np.ones((n_r, n_p)), "min", total)
    least_all = float(b.lower.sum()) if tight is None else max(float(b.lower.sum()), tight)
    if least_all > total + TOL * max(1.0, total):
        out.append(
            Finding(
                "growth",
                "company",
                f"floors and growth minimums of the {int((b.lower > 0).sum())} reps add up to "
                f"{_m(least_all)} but the total target with cushion is {_m(total)}",
                ["rules.growth.min", "rules.floors.by_role", "targets.by_product"],
                {"least": least_all, "target": total},
            )
        )
    out.extend(_unit_checks(md, b, target))
    out.extend(_key_account_checks(md))
    out.extend(_attainability_checks(md, b, total))
    return out


def _attainability_checks(md: ModelData, b: _RepBounds, total: float) -> list[Finding]:
    """Name the attainability rule when its ceilings are what keeps the target out of reach."""
    if md.sales_median is None:
        return []
    out: list[Finding] = []
    lifted = np.array([w.startswith("attainability (P(reach) ≤") for w in b.lower_why])
    least = float(b.lower.sum())
    if lifted.any() and least > total + TOL * max(1.0, total):
        att = md.scenario.rules.attainability
        out.append(
            Finding(
                "attainability",
                "company",
                f"the least quotas add up to {_m(least)}, more than the total target with "
                f"cushion {_m(total)}: {int(lifted.sum())} reps must reach their quota with "
                f"probability ≤ {att.max_p:g} (their sales are expected to exceed it)",
                ["rules.attainability.max_p", "targets.over_assignment", "targets.by_product"],
                {"least": least, "target": total},
            )
        )
    capped = np.array([w.startswith("attainability (P(reach) ≥") for w in b.upper_why])
    most = float(np.minimum(b.upper, b.upper_p.sum(axis=1)).sum())
    if not capped.any() or total <= most + TOL * max(1.0, most):
        return out
    att = md.scenario.rules.attainability
    return [
        *out,
        Finding(
            "attainability",
            "company",
            f"total target with cushion {_m(total)} is more than the {_m(most)} the reps can "
            f"carry when each must reach its quota with probability ≥ {att.p:g} "
            f"({int(capped.sum())} reps capped by their sales quantile, e.g. rep "
            f"{md.rep_ids[int(np.flatnonzero(capped)[0])]} at "
            f"{_m(float(b.upper[np.flatnonzero(capped)[0]]))})",
            [
                "rules.attainability.p",
                "rules.attainability.growth",
                "targets.over_assignment",
                "targets.by_product",
            ],
            {"target": total, "most": most, "capped_reps": int(capped.sum())},
        ),
    ]


def _unit_checks(md: ModelData, b: _RepBounds, target: np.ndarray) -> list[Finding]:
    out: list[Finding] = []
    units = md.scenario.targets.units
    if not units:
        return out
    members = md.rep_units.groupby("unit_id")["rep"].agg(list).to_dict()
    pidx = {p: j for j, p in enumerate(md.products)}
    for k, u in enumerate(units):
        reps = np.asarray(members.get(u.unit, []), dtype=np.int64)
        lo = u.value if u.value is not None else u.min
        hi = u.value if u.value is not None else u.max
        key = f"targets.units[{k}]"
        what = f"unit {u.unit}" + (f", product {u.product}" if u.product else "")
        weight = np.zeros((md.n_reps, len(md.products)))
        if u.product:
            j = pidx[u.product]
            most = float(b.upper_p[reps, j].sum())
            least = float(b.lower_p[reps, j].sum())
            company = float(target[j])
            weight[reps, j] = 1.0
        else:
            most = float(np.minimum(b.upper[reps], b.upper_p[reps].sum(axis=1)).sum())
            least = float(np.maximum(b.lower[reps], b.lower_p[reps].sum(axis=1)).sum())
            company = float(target.sum())
            weight[reps, :] = 1.0
        if lo is not None and len(reps):  # each key account counted once (see _carry)
            tight = _carry(md, weight, "max", float(lo))
            most = most if tight is None else min(most, tight)
        if hi is not None and len(reps):
            tight = _carry(md, weight, "min", float(hi))
            least = least if tight is None else max(least, tight)
        if lo is not None and lo > most + TOL * max(1.0, most):
            out.append(
                Finding(
                    "unit_target",
                    what,
                    f"target of at least {_m(lo)} but its {len(reps)} reps can carry at most "
                    f"{_m(most)}",
                    [key, "rules.capacity", "rules.potential.max_share"],
                    {"target": lo, "most": most},
                )
            )
        if hi is not None and hi < least - TOL * max(1.0, least):
            out.append(
                Finding(
                    "unit_target",
                    what,
                    f"target of at most {_m(hi)} but floors and growth minimums of its "
                    f"{len(reps)} reps add up to {_m(least)}",
                    [key, "rules.growth.min", "rules.floors.by_role"],
                    {"target": hi, "least": least},
                )
            )
        if lo is not None and lo > company + TOL * max(1.0, company):
            out.append(
                Finding(
                    "unit_target",
                    what,
                    f"target of at least {_m(lo)} is above the company target {_m(company)}",
                    [key, "targets.by_product"],
                    {"target": lo, "company": company},
                )
            )
    # disjoint targeted units with the same product scope cannot exceed the company target
    by_scope: dict[str | None, list[int]] = {}
    for k, u in enumerate(units):
        by_scope.setdefault(u.product, []).append(k)
    for prod, ks in by_scope.items():
        company = float(target[pidx[prod]]) if prod else float(target.sum())
        seen: set[Any] = set()
        lo_sum, used = 0.0, []
        for k in ks:
            u = units[k]
            rset = {int(r) for r in members.get(u.unit, [])}
            lo = u.value if u.value is not None else u.min
            if lo is None or rset & seen:
                continue
            seen |= rset
            lo_sum += lo
            used.append(u.unit)
        if len(used) > 1 and lo_sum > company + TOL * max(1.0, company):
            scope = "company" + (f", product {prod}" if prod else "")
            out.append(
                Finding(
                    "unit_target",
                    scope,
                    f"targets of units {', '.join(used)} add up to at least {_m(lo_sum)} "
                    f"but the company target is {_m(company)}",
                    ["targets.units", "targets.by_product"],
                    {"units": lo_sum, "company": company},
                )
            )
    return out


_KA_LAST: list[tuple[tuple[Any, ...], bool, list[Finding]]] = []
"""The last key-account findings, with the inputs they were found from (kept, not copied)."""


def _key_account_checks(md: ModelData) -> list[Finding]:
    """Locked pairs beyond a rep's limits and connected groups of accounts beyond their reps'
    limits. A sweep's items share their base's pairs and limits (the same arrays, never changed
    in place): the findings of the last call are reused when every input is the same object."""
    inputs = (md.pairs, md.ka_ids, md.rep_ids, md.team_of, md.max_accounts, md.max_workload)
    enabled = md.scenario.rules.key_accounts.enabled
    if _KA_LAST:
        last, was, found = _KA_LAST[0]
        if was == enabled and all(a is b for a, b in zip(last, inputs, strict=True)):
            return copy.deepcopy(found)
    found = _key_account_findings(md)
    _KA_LAST[:] = [(inputs, enabled, found)]
    return copy.deepcopy(found)


def _key_account_findings(md: ModelData) -> list[Finding]:
    out: list[Finding] = []
    sc = md.scenario
    if not sc.rules.key_accounts.enabled or not md.ka_ids:
        return out
    pr = md.pairs
    rep_ids = md.rep_ids
    # locked pairs beyond a rep's book limit
    if pr.locked.any():
        n_locked = np.bincount(pr.rep[pr.locked], minlength=md.n_reps)
        w_locked = np.bincount(
            pr.rep[pr.locked], weights=pr.workload[pr.locked], minlength=md.n_reps
        )

        def locked_to(i: Any) -> str:
            accs = [md.ka_ids[a] for a in pr.acc[pr.locked & (pr.rep == i)]]
            return ", ".join(accs[:8]) + (" …" if len(accs) > 8 else "")

        for i in np.flatnonzero(n_locked > np.nan_to_num(md.max_accounts, nan=np.inf)):
            out.append(
                Finding(
                    "key_accounts",
                    f"rep {rep_ids[i]}",
                    f"{n_locked[i]} key accounts are locked to the rep but it may hold at most "
                    f"{md.max_accounts[i]:g} (locked: {locked_to(i)})",
                    ["rules.key_accounts.locked", "rules.key_accounts.max_accounts"],
                )
            )
        for i in np.flatnonzero(w_locked > np.nan_to_num(md.max_workload, nan=np.inf) + TOL):
            out.append(
                Finding(
                    "key_accounts",
                    f"rep {rep_ids[i]}",
                    f"locked key accounts ({locked_to(i)}) weigh {w_locked[i]:g} but the rep's "
                    f"workload limit is {md.max_workload[i]:g}",
                    ["rules.key_accounts.locked", "rules.key_accounts.max_workload"],
                )
            )
    # connected groups of accounts and reps: accounts vs book limits
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n_a, n_r = len(md.ka_ids), md.n_reps
    g = coo_matrix((np.ones(len(pr)), (pr.acc, n_a + pr.rep)), shape=(n_a + n_r, n_a + n_r))
    _, lab = connected_components(g, directed=False)
    acc_lab, rep_lab = lab[:n_a], lab[n_a:]
    has_pair = np.bincount(pr.rep, minlength=n_r) > 0
    min_work = np.full(n_a, np.inf)
    np.minimum.at(min_work, pr.acc, pr.workload)
    for c in np.unique(acc_lab):
        accs = np.flatnonzero(acc_lab == c)
        reps = np.flatnonzero((rep_lab == c) & has_pair)
        teams = sorted({str(md.team_of[i]) for i in reps})
        where = (
            f"team {teams[0]}"
            if len(teams) == 1
            else f"reps {', '.join(rep_ids[i] for i in reps[:5])}"
        )
        cap_n = float(np.nan_to_num(md.max_accounts[reps], nan=np.inf).sum())
        if len(accs) > cap_n:
            out.append(
                Finding(
                    "key_accounts",
                    where,
                    f"{len(accs)} key accounts must be placed but its {len(reps)} eligible reps "
                    f"may hold at most {cap_n:g}",
                    ["rules.key_accounts.max_accounts", "candidates"],
                    {"accounts": float(len(accs)), "limit": cap_n},
                )
            )
        cap_w = float(np.nan_to_num(md.max_workload[reps], nan=np.inf).sum())
        need_w = float(min_work[accs].sum())
        if need_w > cap_w + TOL:
            out.append(
                Finding(
                    "key_accounts",
                    where,
                    f"its key accounts weigh at least {need_w:g} "
                    f"but its {len(reps)} eligible reps' "
                    f"workload limits add up to {cap_w:g}",
                    ["rules.key_accounts.max_workload", "candidates"],
                    {"workload": need_w, "limit": cap_w},
                )
            )
    return out


def reach_warnings(md: ModelData, eff: np.ndarray) -> list[str]:
    """Targets out of reach under a rule, as warnings for the summary (not proofs: the solve
    may still find a plan when the rule is soft): per product the target with cushion above
    ``max_share`` × the effective base ``eff`` (reps × products), and the total above the reps'
    ramped capacity."""
    sc = md.scenario
    warnings: list[str] = []
    if sc.rules.potential.enabled:
        for j, p in enumerate(md.products):
            reach = sc.rules.potential.max_share * eff[:, j].sum()
            if md.target[j] > reach + 1e-6:
                warnings.append(
                    f"product {p}: target with cushion {md.target[j]:,.0f} is above "
                    f"{sc.rules.potential.max_share:g} × effective base {eff[:, j].sum():,.0f} = "
                    f"{reach:,.0f}: out of reach under the potential rule"
                )
    total_target = float(md.target.sum())
    cap = float(md.capacity.sum())
    if sc.rules.capacity.enabled and total_target > cap + 1e-6:
        warnings.append(
            f"total target with cushion {total_target:,.0f} is above the reps' total ramped "
            f"capacity {cap:,.0f}: out of reach under the capacity rule"
        )
    return warnings
