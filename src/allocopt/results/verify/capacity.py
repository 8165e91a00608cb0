"""Rule capacity: annual quota within capacity; period quotas within the period capacity."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """capacity[r]: Σ_p quota ≤ cap_r."""
    rules = pl.sc.rules
    n_p = len(pl.products)
    total = run.annual.sum(axis=1)
    reps = _where(rep=pl.rep_ids)
    if not rules.capacity.enabled:
        return
    log.bound(
        "capacity",
        reps,
        total,
        pl.cap,
        "le",
        what="annual quota",
        against="ramped, prorated capacity",
        cents=n_p,
    )


def check_period(pl: _Plan, run: _Run, log: _Log) -> None:
    """period_capacity[r,t]: Σ_p period quota ≤ cap_{r,t} (phasing mode band)."""
    sc = pl.sc
    ph = sc.rules.phasing
    if not (ph.enabled and ph.mode != "exact" and sc.rules.capacity.enabled):
        return
    n_r, n_p, n_t = run.period.shape
    rounding = sc.rules.rounding.enabled
    unit = sc.rules.rounding.unit if rounding else 0.0
    extra = 0.999999 * unit if rounding else 0.0
    log.bound(
        "period_capacity",
        _where(rep=np.repeat(pl.rep_ids, n_t), period=np.tile(pl.periods, n_r)),
        run.period.sum(axis=1),
        pl.cap_t,
        "le",
        what="period quota",
        against="period capacity",
        cents=n_p,
        extra=extra * n_p,
    )
