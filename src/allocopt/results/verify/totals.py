"""Non-rule checks of the shape: no negative quota; period quotas add up to the annual one."""

from __future__ import annotations

from allocopt.results.verify._common import _Log, _Plan, _rp_where, _rpt_where, _Run


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """nonnegative: annual and period quotas ≥ 0; period_sum: Σ_t period = annual."""
    n_t = run.period.shape[2]
    log.bound(
        "nonnegative", _rp_where(pl), run.annual, 0.0, "ge", what="annual quota", against="zero"
    )
    log.bound(
        "nonnegative", _rpt_where(pl), run.period, 0.0, "ge", what="period quota", against="zero"
    )
    log.bound(
        "period_sum",
        _rp_where(pl),
        run.period.sum(axis=2),
        run.annual,
        "eq",
        what="sum of the period quotas",
        against="the annual quota",
        cents=n_t + 1,
    )
