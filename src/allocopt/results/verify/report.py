"""Non-rule check: the derived columns the run reports match their re-derived values."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _index, _Log, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """Derived columns the run reports: base, effective base, reference, capacity, totals."""
    base, eb = run.base, run.eb
    df = run.tables["annual.csv"]
    r = _index(df["rep_id"], pl.rep_ids)
    p = _index(df["product"], pl.products)
    ok = np.flatnonzero((r >= 0) & (p >= 0))
    r, p = r[ok], p[ok]
    ref = _reference(pl, eb)
    if pl.replan is not None:  # re-plan: the reference is the published plan
        ref = np.where(pl.replan.present[:, None], pl.replan.annual, ref)
    w = _where(rep=pl.rep_ids[r], product=np.asarray(pl.products, dtype=object)[p])
    for col, mine in (("base", base), ("eff_base", eb), ("reference", ref)):
        log.bound(
            "report",
            w,
            df[col].to_numpy(dtype=float)[ok],
            mine[r, p],
            "eq",
            what=f"annual.csv {col}",
            against="the re-derived value",
        )
    reps = run.tables["reps.csv"]
    ri = _index(reps["rep_id"], pl.rep_ids)
    ok = np.flatnonzero(ri >= 0)
    ri = ri[ok]
    w = _where(rep=pl.rep_ids[ri])
    n_p = len(pl.products)
    for col, mine, cents in (
        ("capacity", pl.cap, 1),
        ("eff_base", eb.sum(axis=1), 1),
        ("quota", run.annual.sum(axis=1), 1 + n_p),
    ):
        log.bound(
            "report",
            w,
            reps[col].to_numpy(dtype=float)[ok],
            mine[ri],
            "eq",
            what=f"reps.csv {col}",
            against="the re-derived value",
            cents=cents,
        )
    asg = run.tables["assignments.csv"]
    ai = asg["account_id"].isin(pl.key_ids).to_numpy()
    rev = pl.key_revenue.sum(axis=1)
    log.bound(
        "report",
        _where(account=asg["account_id"].to_numpy(dtype=object)[ai]),
        asg["revenue"].to_numpy(dtype=float)[ai],
        asg["account_id"][ai].map(rev).to_numpy(dtype=float),
        "eq",
        what="assignments.csv revenue",
        against="the accounts table's revenue",
    )


def _reference(pl: _Plan, eb: np.ndarray) -> np.ndarray:
    """The blended reference split of the objective section, rep by rep."""
    n_p = eb.shape[1]
    ref_pot = np.zeros_like(eb)
    for j in range(n_p):
        col = eb[:, j].sum()
        if col > 0:
            ref_pot[:, j] = pl.target[j] * eb[:, j] / col
    ref_hist = ref_pot.copy()
    hist = np.flatnonzero(np.isfinite(pl.history))
    b_r = eb.sum(axis=1)
    for j in range(n_p):
        mass = ref_pot[hist, j].sum()
        weight = np.array(
            [
                pl.history[i] * pl.active[i] * (eb[i, j] / b_r[i] if b_r[i] > 0 else 1.0 / n_p)
                for i in hist
            ]
        )
        if weight.size and weight.sum() > 0:
            ref_hist[hist, j] = mass * weight / weight.sum()
    ref = pl.sc.objective.reference
    blend = (ref.potential * ref_pot + ref.history * ref_hist) / (ref.potential + ref.history)
    if pl.performance is None:
        return blend
    # performance driver: the blend tilted by each rep's factor, renormalised per product
    perf = np.zeros_like(blend)
    for j in range(n_p):
        tilt = blend[:, j] * pl.performance
        if tilt.sum() > 0:
            perf[:, j] = tilt / tilt.sum() * blend[:, j].sum()
    w = ref.potential + ref.history + ref.performance
    return (ref.potential * ref_pot + ref.history * ref_hist + ref.performance * perf) / w
