"""Rule potential: quota within min/max share of the effective base."""

from __future__ import annotations

from allocopt.results.verify._common import _Log, _Plan, _rp_where, _Run


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """potential_max / potential_min per rep × product."""
    rules = pl.sc.rules
    q = run.annual
    eb = run.eb
    if not rules.potential.enabled:
        return
    pr = rules.potential
    log.bound(
        "potential_max",
        _rp_where(pl),
        q,
        pr.max_share * eb,
        "le",
        what="quota",
        against=f"{pr.max_share:g} × effective base =",
        cents=1,
    )
    if pr.min_share > 0:
        log.bound(
            "potential_min",
            _rp_where(pl),
            q,
            pr.min_share * eb,
            "ge",
            what="quota",
            against=f"{pr.min_share:g} × effective base =",
            cents=1,
        )
