"""Rule attainability: annual quota within the quantiles of the rep's sales (σ from the team's
last year, shrunk toward the rep's own years of ``attainment_history`` where it has two or more)."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _Log, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """Rule attainability: each rep with last year's actual within the quantiles of its sales."""
    from statistics import NormalDist

    rule = pl.sc.rules.attainability
    if not rule.enabled:
        return
    reps = pl.reps
    act = reps["ly_actual"].to_numpy(dtype=float)
    lyq = reps["ly_quota"].to_numpy(dtype=float)
    has = np.isfinite(act) & (act > 0)
    if rule.spread is not None:
        sigma = np.full(len(reps), max(rule.spread, rule.min_spread))
    else:
        ok = has & np.isfinite(lyq) & (lyq > 0)
        team = reps["team_id"].astype(str).to_numpy()
        logs: dict[str, list[float]] = {t: [] for t in team}
        for i in np.flatnonzero(ok):
            logs[team[i]].append(float(np.log(act[i] / lyq[i])))
        every = [x for v in logs.values() for x in v]
        company = float(np.std(every, ddof=1)) if len(every) >= 2 else rule.default_spread
        sigma = np.array(
            [float(np.std(logs[t], ddof=1)) if len(logs[t]) >= 2 else company for t in team]
        )
        if pl.attainment_history is not None:  # the rep's own years, shrunk toward the team
            own: dict[str, list[float]] = {}
            for i in np.flatnonzero(ok):
                own.setdefault(str(pl.rep_ids[i]), []).append(float(np.log(act[i] / lyq[i])))
            for r, q, a in zip(
                pl.attainment_history["rep_id"].astype(str),
                pl.attainment_history["quota"].astype(float),
                pl.attainment_history["actual"].astype(float),
                strict=True,
            ):
                if q > 0 and a > 0:
                    own.setdefault(r, []).append(float(np.log(a / q)))
            k = rule.history_weight
            for j, rid in enumerate(pl.rep_ids):
                xs = own.get(str(rid), [])
                if len(xs) >= 2:
                    nu = len(xs) - 1
                    s2 = float(np.var(xs, ddof=1))
                    sigma[j] = float(np.sqrt((nu * s2 + k * sigma[j] ** 2) / (nu + k)))
        sigma = np.maximum(sigma, rule.min_spread)
    median = np.nan_to_num(act) * pl.active * (1 + rule.growth)
    idx = np.flatnonzero(has)
    total = run.annual.sum(axis=1)[idx]
    w = _where(rep=pl.rep_ids[idx])
    n_p = len(pl.products)
    z = NormalDist().inv_cdf(1 - rule.p)
    log.bound(
        "attainability",
        w,
        total,
        median[idx] * np.exp(sigma[idx] * z),
        "le",
        what="annual quota",
        against=f"the sales quantile reached with probability {rule.p:g}",
        cents=n_p,
    )
    if rule.max_p is not None:
        z_hi = NormalDist().inv_cdf(1 - rule.max_p)
        log.bound(
            "attainability",
            w,
            total,
            median[idx] * np.exp(sigma[idx] * z_hi),
            "ge",
            what="annual quota",
            against=f"the sales quantile reached with probability {rule.max_p:g}",
            cents=n_p,
        )
