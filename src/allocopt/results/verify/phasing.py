"""Rule phasing: period quotas on (exact) or within a band around (band) the phasing profile."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _rpt_where, _Run


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    sc = pl.sc
    rounding = sc.rules.rounding.enabled
    unit = sc.rules.rounding.unit if rounding else 0.0
    raw = pl.avail[:, None, :] * pl.season[None, :, :]  # (R, P, T)
    norm = raw.sum(axis=2, keepdims=True)
    phi = np.divide(raw, norm, out=np.zeros_like(raw), where=norm > 0)
    ideal = phi * run.annual[:, :, None]
    if pl.replan is not None:  # booked periods frozen; the rest re-phased over what remains
        k = pl.replan.as_of
        frozen = pl.replan.period.copy()
        frozen[:, :, k + 1 :] = 0.0
        rest = phi.copy()
        rest[:, :, : k + 1] = 0.0
        rnorm = rest.sum(axis=2, keepdims=True)
        rest = np.divide(rest, rnorm, out=np.zeros_like(rest), where=rnorm > 0)
        remaining = np.maximum(run.annual - frozen.sum(axis=2), 0.0)
        ideal = frozen + rest * remaining[:, :, None]
    # with rounding, a period quota may sit anywhere strictly within one unit of its value
    extra = 0.999999 * unit if rounding else 0.0
    ph = sc.rules.phasing
    w = _rpt_where(pl)
    if ph.enabled and ph.mode == "exact":
        log.bound(
            "phasing",
            w,
            run.period,
            ideal,
            "eq",
            what="period quota",
            against="phasing profile × annual quota =",
            cents=2,
            extra=extra,
        )
    elif ph.enabled:
        log.bound(
            "phasing_low",
            w,
            run.period,
            (1 - ph.band) * ideal,
            "ge",
            what="period quota",
            against=f"(1 − {ph.band:g}) × phasing profile × annual quota =",
            cents=2,
            extra=extra,
        )
        log.bound(
            "phasing_high",
            w,
            run.period,
            (1 + ph.band) * ideal,
            "le",
            what="period quota",
            against=f"(1 + {ph.band:g}) × phasing profile × annual quota =",
            cents=2,
            extra=extra,
        )
