"""Non-rule check: every org unit's roll-up is the sum over its reps."""

from __future__ import annotations

import numpy as np

from allocopt.results.verify._common import _index, _Log, _Plan, _Run, _unknown, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    df = run.tables["rollups.csv"]
    units = sorted(pl.members)
    n_u, n_p, n_t = len(units), len(pl.products), len(pl.periods)
    sizes = np.array([len(pl.members[u]) for u in units], dtype=np.int64)
    expect = np.zeros((n_u, n_p, n_t + 1))
    for k, u in enumerate(units):
        idx = pl.members[u]
        expect[k, :, :n_t] = run.period[idx].sum(axis=0)
        expect[k, :, n_t] = run.annual[idx].sum(axis=0)
    cols = [*pl.periods, "FY"]
    ui = _index(df["unit_id"], units)
    pj = _index(df["product"], pl.products)
    tk = _index(df["period"], cols)
    known = (ui >= 0) & (pj >= 0) & (tk >= 0)
    for i in np.flatnonzero(~known):
        log.add(
            "rollup",
            f"rollups.csv row {i + 2}",
            _unknown(df, int(i), ("unit_id", "product", "period")),
            1,
        )
    count = np.zeros(expect.shape, dtype=np.int64)
    np.add.at(count, (ui[known], pj[known], tk[known]), 1)
    need = (sizes > 0)[:, None, None] & np.ones(expect.shape, dtype=bool)
    for a, b, c in zip(*np.nonzero((count > 1) | (need & (count == 0))), strict=True):
        n = int(count[a, b, c])
        log.add(
            "rollup",
            f"unit {units[a]}, product {pl.products[b]}, period {cols[c]}",
            "missing from rollups.csv" if n == 0 else f"appears {n} times in rollups.csv",
            abs(n - 1),
        )
    ka = np.flatnonzero(known)
    a, b, c = ui[ka], pj[ka], tk[ka]
    val = df["quota"].to_numpy(dtype=float)[ka]
    # periods: sums of the CSV period values; FY: annual.csv values, each within (T+1) cents
    cents = 1 + np.where(c == n_t, sizes[a] * (n_t + 1), 0)
    log.bound(
        "rollup",
        _where(
            unit=np.asarray(units, dtype=object)[a],
            product=np.asarray(pl.products, dtype=object)[b],
            period=np.asarray(cols, dtype=object)[c],
        ),
        val,
        expect[a, b, c],
        "eq",
        what="roll-up",
        against="the sum over the unit's reps",
        cents=cents,
    )
    log.count("rollup", int((need & (count == 0)).sum()))
