"""Rule target: Σ_r quota = the company target per product; unit targets within their bounds."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """target[p] and unit_target[k] of the formulation."""
    n_r, n_p, _ = run.period.shape
    sc = pl.sc
    rounding = sc.rules.rounding.enabled
    log.bound(
        "target",
        _where(product=pl.products),
        run.annual.sum(axis=0),
        pl.target,
        "eq",
        what="sum of the reps' quotas",
        against="the rounded company target" if rounding else "the company target × (1 + cushion)",
        cents=n_r,
    )
    for k, ut in enumerate(sc.targets.units):
        reps = pl.members.get(ut.unit, np.zeros(0, dtype=np.int64))
        cols = np.array(
            [pl.products.index(ut.product)] if ut.product else range(n_p), dtype=np.int64
        )
        total = float(run.annual[np.ix_(reps, cols)].sum())
        where = _where(unit=[f"{ut.unit}" + (f", product {ut.product}" if ut.product else "")])
        cents = max(1, len(reps) * len(cols))
        note = lambda _i, k=k: f"targets.units[{k}]"  # noqa: E731
        if ut.value is not None:
            log.bound(
                "unit_target",
                where,
                [total],
                ut.value,
                "eq",
                what="unit quota",
                against="the unit's target",
                cents=cents,
                note=note,
            )
        if ut.min is not None:
            log.bound(
                "unit_target",
                where,
                [total],
                ut.min,
                "ge",
                what="unit quota",
                against="the unit's min",
                cents=cents,
                note=note,
            )
        if ut.max is not None:
            log.bound(
                "unit_target",
                where,
                [total],
                ut.max,
                "le",
                what="unit quota",
                against="the unit's max",
                cents=cents,
                note=note,
            )
