"""Rule floors: annual quota at least the role floor × FTE × share of the year."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """floor per rep whose role has a floor."""
    rules = pl.sc.rules
    n_p = len(pl.products)
    total = run.annual.sum(axis=1)
    if not (rules.floors.enabled and rules.floors.by_role):
        return
    role = pl.reps["role"].where(pl.reps["role"] != "", "rep").to_numpy(dtype=object)
    has = np.flatnonzero([r in rules.floors.by_role for r in role])
    floor = np.array([rules.floors.by_role[role[i]] for i in has], dtype=float)
    fte = pl.reps["fte"].to_numpy(dtype=float)[has]
    log.bound(
        "floor",
        _where(rep=pl.rep_ids[has]),
        total[has],
        floor * fte * pl.active[has],
        "ge",
        what="annual quota",
        against="role floor × FTE × share of year =",
        cents=n_p,
    )
