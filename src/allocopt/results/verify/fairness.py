"""Rule fairness: each rep's difficulty within the band around its group's level."""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocopt.results.verify._common import _Log, _m, _Plan, _Run, _where


def check(pl: _Plan, run: _Run, log: _Log) -> None:
    """fairness_low / fairness_high per rep with a positive effective base."""
    rules = pl.sc.rules
    if rules.fairness.enabled and rules.fairness.band is not None:
        _check_band(pl, run.annual.sum(axis=1), run.eb.sum(axis=1), log)


def _groups(pl: _Plan) -> np.ndarray:
    level = pl.sc.rules.fairness.level
    teams = pl.reps["team_id"].to_numpy(dtype=object)
    if level == "team":
        return teams
    if level == "region":
        return np.where(pl.region == "", teams, pl.region)
    return np.full(len(teams), "company", dtype=object)


def _check_band(pl: _Plan, total: np.ndarray, b_r: np.ndarray, log: _Log) -> None:
    band = pl.sc.rules.fairness.band
    assert band is not None
    n_p = len(pl.products)
    frame = pd.DataFrame({"g": _groups(pl), "q": total, "b": b_r})
    frame = frame[frame["b"] > 0]
    agg = frame.groupby("g").agg(q=("q", "sum"), b=("b", "sum"), n=("q", "size"))
    level = frame["g"].map(agg["q"] / agg["b"]).to_numpy(dtype=float)
    share = frame["b"].to_numpy() / frame["g"].map(agg["b"]).to_numpy(dtype=float)
    size = frame["g"].map(agg["n"]).to_numpy(dtype=float)
    idx = frame.index.to_numpy()
    q, b = frame["q"].to_numpy(), frame["b"].to_numpy()
    groups = frame["g"].to_numpy(dtype=object)
    # the level comes from CSV quotas too: its cent error scales with the rep's share of the group
    cents = n_p + (1 + band) * share * size * n_p
    w = _where(rep=pl.rep_ids[idx], group=groups)

    def note(i: int) -> str:
        return (
            f"difficulty {q[i] / b[i]:.6f} vs group level {level[i]:.6f}; effective base {_m(b[i])}"
        )

    log.bound(
        "fairness_low",
        w,
        q,
        (1 - band) * level * b,
        "ge",
        what="annual quota",
        against=f"(1 − {band:g}) × group level × effective base =",
        cents=cents,
        scale=b,
        note=note,
    )
    log.bound(
        "fairness_high",
        w,
        q,
        (1 + band) * level * b,
        "le",
        what="annual quota",
        against=f"(1 + {band:g}) × group level × effective base =",
        cents=cents,
        scale=b,
        note=note,
    )
