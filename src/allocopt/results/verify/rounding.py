"""Rule rounding: annual and period quotas are whole multiples of the rounding unit."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _rp_where, _rpt_where, _Run


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """rounding: every quota is its nearest multiple of the unit (rounding on)."""
    sc = pl.sc
    rounding = sc.rules.rounding.enabled
    unit = sc.rules.rounding.unit
    if rounding:
        for name, arr, where in (
            ("annual quota", run.annual, _rp_where(pl)),
            ("period quota", run.period, _rpt_where(pl)),
        ):
            flat = arr.ravel()
            nearest = np.round(flat / unit) * unit
            log.bound(
                "rounding",
                where,
                flat,
                nearest,
                "eq",
                what=name,
                against=f"the nearest multiple of {unit:g}",
            )
