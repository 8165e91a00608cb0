"""Turn solved models into tidy DataFrames and a summary.

Public entry point: :func:`extract` (and :func:`alignment_owner`, the key-account owners the
quota stage is built on). Money is rounded to cents and ratios to 6 decimals so the
files are byte-stable; period quotas come from the per-rep phasing profile (or the band
variables) and, with rounding on, are rounded per rep by largest remainder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allocopt.data.prepare import ModelData
from allocopt.model.build import Built
from allocopt.model.objective import NEAR
from allocopt.model.registry import CORE
from allocopt.model.rules import components
from allocopt.model.rules.fairness import Groups, groups
from allocopt.model.sets import QuotaSets
from allocopt.solve import Compiled, SolveResult
from allocopt.solve.rounding import apportion, to_unit

BIND_TOL = 1e-6
DEFINITIONAL = tuple(
    c for c, (_, comp) in components().items() if comp.kind == "row" and not comp.listed_in_binding
)
"""Equality rows that define auxiliary variables: always tight, never a binding business rule
(declared per component in the rule registry: ``Component.binding``)."""


@dataclass
class Results:
    """Tidy result tables and a JSON-able summary."""

    quotas: pd.DataFrame  # rep_id, team_id, region_id, product, period, quota
    annual: pd.DataFrame  # rep_id, team_id, region_id, product, quota, reference, eff_base
    reps: pd.DataFrame  # one row per rep: totals, capacity, base, difficulty, group level
    rollups: pd.DataFrame  # unit_id, level, product, period, quota
    assignments: pd.DataFrame  # account_id, incumbent_rep, owner_rep, moved, revenue, costs
    binding: pd.DataFrame  # stage, rule, component, index, activity, lower, upper, side, dual
    summary: dict[str, Any] = field(default_factory=dict)
    replan: pd.DataFrame | None = None  # re-plans: old and new per rep, product and period
    lean: LeanQuotas | None = None  # a lean extraction's quotas as arrays (see extract)


@dataclass(frozen=True)
class LeanQuotas:
    """A lean extraction's quotas as the frames would hold them (money to the cent), indexed
    like the model data: ``annual`` (R, P) is ``annual.quota`` and ``period`` (R, P, T) is
    ``quotas.quota``, both in (rep, product[, period]) order."""

    annual: np.ndarray
    period: np.ndarray


def _money(a: Any) -> Any:
    return np.round(np.asarray(a, dtype=float), 2) + 0.0


def _ratio(a: Any) -> Any:
    return np.round(np.asarray(a, dtype=float), 6) + 0.0


def alignment_owner(md: ModelData, built: Built, res: SolveResult) -> np.ndarray:
    """Each key account's owner (index into the reps; −1 none) from the solved alignment: the
    eligible pair whose assignment variable is 1."""
    assert res.col_values is not None
    chosen = built.model.vars["assign"].values(res.col_values) > 0.5
    owner = np.full(len(md.ka_ids), -1, dtype=np.int64)
    owner[md.pairs.acc[chosen]] = md.pairs.rep[chosen]
    return owner


def binding_rows(
    stage: str, comp: Compiled, res: SolveResult, rule_of: dict[str, str]
) -> pd.DataFrame:
    """Rows whose activity sits at a bound (within tolerance), with LP duals when known."""
    if res.col_values is None:
        return pd.DataFrame(
            columns=[
                "stage",
                "rule",
                "component",
                "index",
                "activity",
                "lower",
                "upper",
                "side",
                "dual",
            ]
        )
    act, lo, up, at_lo, at_up, idx = _binding(comp, res.col_values)
    eq = at_lo & at_up & (lo == up)
    component, label = _row_names(comp, idx)
    duals = res.row_duals[idx] if res.row_duals is not None else np.full(len(idx), np.nan)
    side = np.where(eq[idx], "equal", np.where(at_up[idx], "upper", "lower"))
    df = pd.DataFrame(
        {
            "stage": stage,
            "rule": [rule_of.get(c, c) for c in component],
            "component": component,
            "index": label,
            "activity": _money(act[idx]),
            "lower": lo[idx],
            "upper": up[idx],
            "side": side,
            "dual": duals,
        }
    )
    df["lower"] = df["lower"].where(np.isfinite(df["lower"]))
    df["upper"] = df["upper"].where(np.isfinite(df["upper"]))
    return df


def _row_names(comp: Compiled, idx: np.ndarray) -> tuple[list[str], list[str]]:
    """(component, index label) of each global row in ``idx``, as ``LinearModel.row_name``
    gives them, one row block at a time."""
    blocks = list(comp.model.rows.values())
    starts = np.array([b.start for b in blocks], dtype=np.int64)
    idx = np.asarray(idx, dtype=np.int64)
    which = np.searchsorted(starts, idx, side="right") - 1
    component = np.empty(len(idx), dtype=object)
    label = np.empty(len(idx), dtype=object)
    for k in np.unique(which):
        sel = np.flatnonzero(which == k)
        b = blocks[int(k)]
        local = idx[sel] - b.start
        component[sel] = b.name
        cols = [np.asarray(c, dtype=object)[local] for c in b.index.columns]
        if not cols:
            label[sel] = ""
        elif len(cols) == 1:
            label[sel] = [str(v) for v in cols[0]]
        else:
            label[sel] = [",".join(map(str, vs)) for vs in zip(*cols, strict=True)]
    return component.tolist(), label.tolist()


def _binding(comp: Compiled, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """(activity, lower, upper, at lower, at upper, binding row numbers) for column values x:
    rows at a bound within tolerance, definitional rows left out."""
    act = comp.activity(x)
    lo, up = comp.model.row_bounds()
    tol_lo = BIND_TOL * np.maximum(1.0, np.abs(lo))
    tol_up = BIND_TOL * np.maximum(1.0, np.abs(up))
    at_lo = np.isfinite(lo) & (np.abs(act - lo) <= tol_lo)
    at_up = np.isfinite(up) & (np.abs(act - up) <= tol_up)
    definitional = np.zeros(len(lo), dtype=bool)
    for name in DEFINITIONAL:
        blk = comp.model.rows.get(name)
        if blk is not None:
            definitional[blk.start : blk.start + len(blk)] = True
    idx = np.flatnonzero((at_lo | at_up) & ~definitional)
    return act, lo, up, at_lo, at_up, idx


def binding_counts(
    stage: str, comp: Compiled, res: SolveResult, rule_of: dict[str, str]
) -> dict[str, int]:
    """``{"stage/rule": binding rows}`` — the counts of :func:`binding_rows` without building
    its frame (no per-row names: one count per row block)."""
    if res.col_values is None:
        return {}
    idx = _binding(comp, res.col_values)[5]
    out: dict[str, int] = {}
    for name, blk in comp.model.rows.items():
        n = int(np.count_nonzero((idx >= blk.start) & (idx < blk.start + len(blk))))
        if n:
            key = f"{stage}/{rule_of.get(name, name)}"
            out[key] = out.get(key, 0) + n
    return out


def _gini(x: np.ndarray) -> float:
    x = np.sort(x[np.isfinite(x)])
    n = len(x)
    if n == 0 or x.sum() <= 0:
        return 0.0
    k = np.arange(1, n + 1)
    return float((2 * (k * x).sum()) / (n * x.sum()) - (n + 1) / n)


def extract(
    md: ModelData,
    qs: QuotaSets,
    quotas: Built,
    comp_q: Compiled,
    res_q: SolveResult,
    alignment: Built | None = None,
    comp_a: Compiled | None = None,
    res_a: SolveResult | None = None,
    *,
    lean: bool = False,
) -> Results:
    """Collect results of both stages into tidy frames and a summary.

    ``lean`` (a sweep item that is not kept as a run folder): the same quotas, annual, rep and
    assignment frames and summary, but no roll-ups or binding frames (left empty; the binding
    counts are counted per row block, without naming each row)."""
    sc = md.scenario
    lm = quotas.model
    assert res_q.col_values is not None
    x = res_q.col_values
    n_r, n_p, n_t = md.n_reps, len(md.products), len(md.periods)
    q = lm.vars["quota"].values(x).reshape(n_r, n_p).copy()
    q = np.where(np.abs(q) < 1e-7, 0.0, q)
    x_lp = res_q.relaxed.col_values if res_q.relaxed is not None else None
    q_lp = q.copy() if x_lp is None else lm.vars["quota"].values(x_lp).reshape(n_r, n_p)
    q_lp = np.where(np.abs(q_lp) < 1e-7, 0.0, q_lp)
    if sc.rules.rounding.enabled:
        q = to_unit(q, sc.rules.rounding.unit)
    if md.replan is not None:  # booked periods frozen, the rest phased over what remains
        rest = np.maximum(q - md.replan.frozen_sum, 0.0)
        per_rest = md.replan.phase_rest * rest[:, :, None]
        if sc.rules.rounding.enabled:
            unit = sc.rules.rounding.unit
            flat = apportion(per_rest.reshape(-1, n_t), rest.reshape(-1), unit)
            per_rest = flat.reshape(n_r, n_p, n_t)
        per = md.replan.frozen + per_rest
    elif "period_quota" in lm.vars:
        per = lm.vars["period_quota"].values(x).reshape(n_r, n_p, n_t).copy()
    else:
        per = md.phase * q[:, :, None]
    if sc.rules.rounding.enabled and md.replan is None:
        unit = sc.rules.rounding.unit
        flat = apportion(per.reshape(-1, n_t), q.reshape(-1), unit)
        per = flat.reshape(n_r, n_p, n_t)
    elif not sc.rules.rounding.enabled:
        # money is written in cents: apportion the cents so the periods add up to the annual quota
        q = np.round(q, 2)
        flat = apportion(np.maximum(per, 0.0).reshape(-1, n_t), q.reshape(-1), 0.01)
        per = np.round(flat, 2).reshape(n_r, n_p, n_t)

    lean = lean and md.replan is None
    fg = groups(qs)
    tot = q.sum(axis=1)
    b = qs.eff_base.sum(axis=1)
    diff = _ratio(np.divide(tot, b, out=np.full(n_r, np.nan), where=b > 0))
    lv = _levels(fg, _money(tot), _money(b), diff)
    moved = _moved(md, qs)
    # a lean extraction (a sweep item) builds no frames; the payout of a sweep item with
    # incentives reads the annual, rep and assignment frames (sweep/payout.py)
    frames = not lean or sc.incentives is not None
    annual = quota_long = rep_df = assignments = pd.DataFrame()
    if frames:
        group_col = np.full(n_r, "", dtype=object)
        group_col[fg.reps] = fg.names[fg.group]
        annual, quota_long, rep_df = _frames(md, qs, q, q_lp, per, group_col, diff, lv)
        assignments = _assignments(md, qs)

    rule_of = _rule_map()
    # binding rows and shadow prices come from the LP (the relaxation when rounding is on)
    lp_res = res_q.relaxed if res_q.relaxed is not None else res_q
    if lean:
        rollups = binding = pd.DataFrame()
        counts = binding_counts("quotas", comp_q, lp_res, rule_of)
        if comp_a is not None and res_a is not None:
            counts.update(binding_counts("alignment", comp_a, res_a, rule_of))
        counts = dict(sorted(counts.items(), key=lambda kv: tuple(kv[0].split("/", 1))))
    else:
        rollups = _rollups(md, quota_long)
        bind = [binding_rows("quotas", comp_q, lp_res, rule_of)]
        if comp_a is not None and res_a is not None:
            bind.insert(0, binding_rows("alignment", comp_a, res_a, rule_of))
        binding = pd.concat(bind, ignore_index=True)
        counts = {
            f"{s}/{r}": int(n)
            for s, r, n in (
                binding.groupby(["stage", "rule"]).size().reset_index().itertuples(index=False)
                if len(binding)
                else []
            )
        }

    sensitivity = _target_sensitivity(lm, lp_res, qs)
    terms = lm.term_values(x)
    if alignment is not None and res_a is not None and res_a.col_values is not None:
        terms.update(
            {f"alignment_{k}": v for k, v in alignment.model.term_values(res_a.col_values).items()}
        )
    summary = _summary(md, qs, q, terms, lv.fairness, counts, sensitivity, moved)
    replan = None
    if md.replan is not None:
        annual["published"] = _money(md.replan.published.ravel())
        replan = quota_long[["rep_id", "team_id", "region_id", "product", "period"]].copy()
        replan["frozen"] = np.tile(np.arange(n_t) <= md.replan.as_of, n_r * n_p)
        replan["published"] = _money(md.replan.published_period.ravel())
        replan["new"] = quota_long["quota"].to_numpy()
        replan["change"] = _money(replan["new"] - replan["published"])
        replan["actual"] = _money(md.replan.actuals.ravel())
        summary["replan"] = {
            "published": str(md.replan.run_dir),
            "as_of": md.periods[md.replan.as_of],
            "reps_changed": int(
                (np.abs(q.sum(axis=1) - md.replan.published.sum(axis=1)) > 0.5).sum()
            ),
            "max_rep_change": float(
                np.max(np.abs(q.sum(axis=1) - md.replan.published.sum(axis=1)))
            ),
        }
    if md.sales_median is not None and md.sales_sigma is not None:  # rule attainability
        summary["attainability"] = _attainability(md, q.sum(axis=1))
    arrays = LeanQuotas(_money(q), _money(per)) if lean else None
    return Results(
        quota_long, annual, rep_df, rollups, assignments, binding, summary, replan, arrays
    )


def _frames(
    md: ModelData,
    qs: QuotaSets,
    q: np.ndarray,
    q_lp: np.ndarray,
    per: np.ndarray,
    group_col: np.ndarray,
    diff: np.ndarray,
    lv: _Levels,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The annual, period-quota and rep frames of quotas ``q`` (R, P) and ``per`` (R, P, T)."""
    n_r, n_p, n_t = md.n_reps, len(md.products), len(md.periods)
    reps_idx = np.repeat(np.arange(n_r), n_p)
    prod_idx = np.tile(np.arange(n_p), n_r)
    rep_col = np.asarray(md.rep_ids, dtype=object)
    prods = np.asarray(md.products, dtype=object)
    annual = pd.DataFrame(
        {
            "rep_id": rep_col[reps_idx],
            "team_id": md.team_of[reps_idx],
            "region_id": md.region_of[reps_idx],
            "product": prods[prod_idx],
            "quota": _money(q.ravel()),
            "quota_lp": _money(q_lp.ravel()),
            "reference": _money(qs.reference.ravel()),
            "ref_potential": _money(qs.ref_potential.ravel()),
            "ref_history": _money(qs.ref_history.ravel()),
            "base": _money(qs.base.ravel()),
            "eff_base": _money(qs.eff_base.ravel()),
        }
    )
    if qs.ref_performance is not None:  # only with a performance weight: old plans unchanged
        annual.insert(
            list(annual.columns).index("ref_history") + 1,
            "ref_performance",
            _money(qs.ref_performance.ravel()),
        )
    ri = np.repeat(np.arange(n_r), n_p * n_t)
    pj = np.tile(np.repeat(np.arange(n_p), n_t), n_r)
    tk = np.tile(np.arange(n_t), n_r * n_p)
    periods = np.asarray(md.periods, dtype=object)
    quota_long = pd.DataFrame(
        {
            "rep_id": rep_col[ri],
            "team_id": md.team_of[ri],
            "region_id": md.region_of[ri],
            "product": prods[pj],
            "period": periods[tk],
            "quota": _money(per.ravel()),
        }
    )
    rep_df = pd.DataFrame(
        {
            "rep_id": rep_col,
            "team_id": md.team_of,
            "region_id": md.region_of,
            "role": md.role_of,
            "fte": md.fte,
            "active_share": _ratio(md.active),
            "capacity": _money(md.capacity),
            "base": _money(qs.base.sum(axis=1)),
            "eff_base": _money(qs.eff_base.sum(axis=1)),
            "history": _money(np.nan_to_num(md.history * md.active, nan=np.nan)),
            "reference": _money(qs.reference.sum(axis=1)),
            "quota": _money(q.sum(axis=1)),
            "difficulty": diff,
            "group": group_col,
            "group_level": lv.level,
            "vs_group": lv.vs_group,
        }
    )
    if md.performance is not None and qs.ref_performance is not None:
        rep_df["performance_factor"] = _ratio(md.performance)
    return annual, quota_long, rep_df


def _rollups(md: ModelData, quota_long: pd.DataFrame) -> pd.DataFrame:
    """Every ancestor unit, product, period and the full year."""
    ru = md.rep_units
    by_rep = quota_long.assign(rep=quota_long["rep_id"].map(md.rep_index()))
    merged = ru.merge(by_rep[["rep", "product", "period", "quota"]], on="rep")
    roll = merged.groupby(["unit_id", "product", "period"], sort=True)["quota"].sum().reset_index()
    year = merged.groupby(["unit_id", "product"], sort=True)["quota"].sum().reset_index()
    year["period"] = "FY"
    rollups = pd.concat([roll, year], ignore_index=True)
    rollups = rollups.merge(md.units[["unit_id", "level"]], on="unit_id", how="left")
    rollups = rollups[["unit_id", "level", "product", "period", "quota"]]
    rollups["quota"] = _money(rollups["quota"])
    rollups = rollups.sort_values(["unit_id", "product", "period"], kind="stable").reset_index(
        drop=True
    )
    return rollups


def _summary(
    md: ModelData,
    qs: QuotaSets,
    q: np.ndarray,
    terms: dict[str, Any],
    fair: dict[str, Any],
    counts: dict[str, int],
    sensitivity: dict[str, Any],
    moved: int,
) -> dict[str, Any]:
    return {
        "objective_terms": terms,
        "fairness": fair,
        "binding_counts": counts,
        "totals": {
            p: {
                "target": float(md.target[j]),
                "target_rounded": float(qs.target[j]),
                "quota": float(q[:, j].sum()),
            }
            for j, p in enumerate(md.products)
        },
        "target_sensitivity": sensitivity,
        "key_accounts": {"count": len(md.ka_ids), "moved": moved},
    }


def _attainability(md: ModelData, quota: np.ndarray) -> dict[str, Any]:
    """Each bounded rep's chance of reaching its quota, 1 − Φ((ln q − ln m) / σ), and their mean
    (the expected share of reps at quota)."""
    assert md.sales_median is not None and md.sales_sigma is not None
    rule = md.scenario.rules.attainability
    has = np.flatnonzero(np.isfinite(md.sales_median) & (quota > 0))
    m, s, qq = md.sales_median[has], np.maximum(md.sales_sigma[has], 1e-12), quota[has]
    z = (np.log(qq) - np.log(m)) / s
    chance = 0.5 * np.vectorize(math.erfc)(z / math.sqrt(2.0)) if len(has) else np.zeros(0)
    return {
        "p": rule.p,
        "max_p": rule.max_p,
        "reps_bounded": len(has),
        "expected_share_at_quota": round(float(chance.mean()), 6) if len(has) else None,
        "min_chance": round(float(chance.min()), 6) if len(has) else None,
        "max_chance": round(float(chance.max()), 6) if len(has) else None,
    }


def _moved_mask(md: ModelData, qs: QuotaSets) -> np.ndarray:
    """(A,) the key account has an incumbent and another owner."""
    inc, own = md.ka_incumbent, qs.owner
    return np.asarray((inc >= 0) & (own >= 0) & (inc != own))


def _moved(md: ModelData, qs: QuotaSets) -> int:
    """How many key accounts the plan moves away from their incumbent."""
    return int(np.count_nonzero(_moved_mask(md, qs)))


def _assignments(md: ModelData, qs: QuotaSets) -> pd.DataFrame:
    rep = np.asarray(md.rep_ids, dtype=object)
    inc = md.ka_incumbent
    own = qs.owner
    pr = md.pairs
    # each account's costs at its owner: the (last) pair (account, owner), else 0
    pair_cost = np.zeros(len(own))
    move_cost = np.zeros(len(own))
    acc = np.asarray(pr.acc, dtype=np.int64)
    hit = np.flatnonzero(np.asarray(pr.rep, dtype=np.int64) == own[acc])
    if len(hit):
        last = hit[::-1][np.unique(acc[hit][::-1], return_index=True)[1]]
        pair_cost[acc[last]] = np.asarray(pr.pair_cost, dtype=float)[last]
        move_cost[acc[last]] = np.asarray(pr.move_cost, dtype=float)[last]
    return pd.DataFrame(
        {
            "account_id": np.asarray(md.ka_ids, dtype=object),
            "incumbent_rep": np.where(inc >= 0, rep[np.maximum(inc, 0)], ""),
            "owner_rep": np.where(own >= 0, rep[np.maximum(own, 0)], ""),
            "moved": _moved_mask(md, qs),
            "revenue": _money(md.ka_revenue.sum(axis=1)),
            "pair_cost": _money(pair_cost),
            "move_cost": _money(move_cost),
        }
    )


def _rule_map() -> dict[str, str]:
    return {c: r.name for c, (r, _) in components().items() if r is not CORE}


@dataclass(frozen=True)
class _Levels:
    """Each rep's group level and distance to it, and the fairness statistics of the summary."""

    level: np.ndarray  # (R,) Σ quota ÷ Σ effective base of the rep's group (NaN: no group)
    vs_group: np.ndarray  # (R,) difficulty ÷ group level − 1
    fairness: dict[str, Any]


def _levels(fg: Groups, quota: np.ndarray, eff_base: np.ndarray, diff: np.ndarray) -> _Levels:
    """Group levels L_g = Σ_{r∈g} quota_r ÷ Σ_{r∈g} eff_base_r over the fairness groups ``fg``
    (reps with a positive effective base; a group named "" counts as none), each rep's
    difficulty ÷ L_g − 1, and the fairness statistics: difficulty min/max/Gini over the grouped
    reps, the largest within-group spread (max − min), the largest |vs group| and the group
    count. NaN difficulties are skipped as pandas skips them. Arrays are (R,); money and ratios
    are rounded as the rep frame holds them."""
    n_r = len(quota)
    keep = fg.names[fg.group] != ""
    reps = fg.reps[keep]
    codes = np.asarray(fg.group[keep], dtype=np.int64)
    n_g = len(fg.names)
    sums = _group_sums(codes, np.column_stack([quota[reps], eff_base[reps]]), n_g)
    with np.errstate(divide="ignore", invalid="ignore"):
        lvl_g = sums[:, 0] / sums[:, 1]
        level = np.full(n_r, np.nan)
        level[reps] = lvl_g[codes]
        level = _ratio(level)
        vs = _ratio(diff / level - 1)
    if not len(reps):
        return _Levels(level, vs, {})
    d = diff[reps]
    ok = ~np.isnan(d)
    gmax = np.full(n_g, -np.inf)
    gmin = np.full(n_g, np.inf)
    np.fmax.at(gmax, codes, d)
    np.fmin.at(gmin, codes, d)
    seen = np.bincount(codes[ok], minlength=n_g) > 0
    spread = (gmax - gmin)[seen]
    fairness = {
        "difficulty_min": _skipna(np.min, d[ok]),
        "difficulty_max": _skipna(np.max, d[ok]),
        "difficulty_gini": round(_gini(d), 6),
        # a spread of 6-decimal difficulties, rounded as they are
        "max_group_spread": round(_skipna(np.max, spread[~np.isnan(spread)]), 6),
        "max_abs_vs_group": _skipna(np.max, np.abs(vs[reps][~np.isnan(vs[reps])])),
        "groups": len(np.unique(codes)),
    }
    return _Levels(level, vs, fairness)


def _skipna(f: Any, a: np.ndarray) -> float:
    """``f`` (min or max) of ``a`` (NaN removed), NaN when nothing is left (as pandas)."""
    return float(f(a)) if len(a) else float("nan")


def _group_sums(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """(G, K) sums of the rows of ``values`` (n, K) per group ``codes`` (n,), added by pandas'
    grouped sum (its compensated summation, in row order: the same bytes as the rep frame's
    group sums always were) on integer codes instead of a string column."""
    sums = np.zeros((n_groups, values.shape[1]))
    if len(codes):
        frame = pd.DataFrame(values).groupby(codes, sort=True).sum()
        sums[frame.index.to_numpy()] = frame.to_numpy()
    return sums


def _target_sensitivity(lm: Any, res: SolveResult, qs: QuotaSets) -> dict[str, dict[str, float]]:
    """Marginal objective cost of the company target per product (LP), two ways.

    ``dual``: the target row's shadow price, holding every reference quota fixed.
    ``per_unit``: the total derivative when the target grows and the reference split grows with
    it (ref ∝ target): dual + Σ_r (dual(deviation[r,p]) + 0.1 · reduced costs of the near-band
    deviations at their bound) · ref[r,p] / T_p — what "+1% target" really costs.
    ``plus_1pct`` = per_unit × 1% × T_p.
    """
    y = res.row_duals
    if y is None or "target" not in lm.rows or "deviation" not in lm.rows:
        return {}
    md = qs.md
    n_r, n_p = md.n_reps, len(md.products)
    tb, db = lm.rows["target"], lm.rows["deviation"]
    y_t = y[tb.start : tb.start + len(tb)]
    y_d = y[db.start : db.start + len(db)].reshape(n_r, n_p)
    # the near-band bounds (NEAR · ref) move with the reference too: reduced costs at the bound
    near = np.zeros((n_r, n_p))
    if res.col_duals is not None and res.col_values is not None:
        for name in ("dev_up", "dev_dn"):
            vb = lm.vars[name]
            val = vb.values(res.col_values)
            rc = vb.values(res.col_duals)
            at_ub = (vb.ub > 0) & (np.abs(val - vb.ub) <= 1e-7 * np.maximum(1.0, vb.ub))
            near += np.where(at_ub, rc, 0.0).reshape(n_r, n_p)
    y_ref = y_d + NEAR * near
    out = {}
    for j, p in enumerate(md.products):
        t = float(qs.target[j])
        total = float(y_t[j]) + (float((y_ref[:, j] * qs.reference[:, j]).sum()) / t if t else 0.0)
        out[p] = {"dual": float(y_t[j]), "per_unit": total, "plus_1pct": total * 0.01 * t}
    return out
