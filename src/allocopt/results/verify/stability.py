"""Rule stability (re-plan): booked periods frozen; annual quotas within the stability budget."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _rp_where, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """Re-plan: annual quota ≥ its frozen part; each rep within the stability budget."""
    if pl.replan is None or pl.sc.replan is None:
        return
    k = pl.replan.as_of
    frozen = pl.replan.period[:, :, : k + 1].sum(axis=2)
    log.bound(
        "frozen",
        _rp_where(pl),
        run.annual,
        frozen,
        "ge",
        what="annual quota",
        against="booked (frozen) period quotas",
        cents=k + 2,
    )
    cfg = pl.sc.replan
    if cfg.max_change is None and cfg.max_change_amount is None:
        return
    idx = np.flatnonzero(pl.replan.present)
    pub = pl.replan.annual.sum(axis=1)[idx]
    lim = np.full(len(idx), np.inf)
    if cfg.max_change is not None:
        lim = np.minimum(lim, cfg.max_change * pub)
    if cfg.max_change_amount is not None:
        lim = np.minimum(lim, cfg.max_change_amount)
    tot = run.annual.sum(axis=1)[idx]
    w = _where(rep=pl.rep_ids[idx])
    n_p = len(pl.products)
    log.bound(
        "stability",
        w,
        tot,
        pub + lim,
        "le",
        what="annual quota",
        against="published quota + stability budget",
        cents=2 * n_p,
    )
    log.bound(
        "stability",
        w,
        tot,
        pub - lim,
        "ge",
        what="annual quota",
        against="published quota − stability budget",
        cents=2 * n_p,
    )
