"""Rule growth: annual quota within the growth band against prorated history."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """growth_min / growth_max per rep with history."""
    rules = pl.sc.rules
    n_p = len(pl.products)
    total = run.annual.sum(axis=1)
    if not rules.growth.enabled:
        return
    g = rules.growth
    has = np.flatnonzero(np.isfinite(pl.history))
    h = pl.history[has] * pl.active[has]
    w = _where(rep=pl.rep_ids[has])
    log.bound(
        "growth_min",
        w,
        total[has],
        (1 + g.min) * h,
        "ge",
        what="annual quota",
        against=f"(1 {g.min:+g}) × prorated history =",
        cents=n_p,
    )
    log.bound(
        "growth_max",
        w,
        total[has],
        (1 + g.max) * h,
        "le",
        what="annual quota",
        against=f"(1 {g.max:+g}) × prorated history =",
        cents=n_p,
    )
