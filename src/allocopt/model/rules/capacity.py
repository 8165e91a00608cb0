"""Capacity: a rep's quota fits its ramped, prorated capacity.

    capacity[r]:           Σ_p quota[r,p] ≤ cap_r
    period_capacity[r,t]:  Σ_p period_quota[r,p,t] ≤ cap_{r,t}      (phasing mode band only)

cap_{r,t} = capacity_r · fte_r · avail_{r,t} · len_t, with avail_{r,t} the mean over the
period's months of (share of the month employed) × ramp(months since start); cap_r = Σ_t cap_{r,t}.
"""

from __future__ import annotations

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.linear import Index, LinearModel
from allocopt.model.registry import Component, RepBound, Rule
from allocopt.model.rules import phasing
from allocopt.model.sets import QuotaSets, rep_sum
from allocopt.scenario.schema import Scenario


def _rep_bounds(md: ModelData, eb_lo: np.ndarray, eb_hi: np.ndarray) -> tuple[RepBound, ...]:
    if not enabled(md.scenario):
        return ()
    return (RepBound("upper", md.capacity, "capacity", md.capacity[:, None]),)


RULE = Rule(
    name="capacity",
    stage="quotas",
    rep_bounds=_rep_bounds,
    requires=("quota",),
    uses=("period_quota",),
    explain_word="capped by its ramped capacity",
    components={
        "capacity": Component(
            phrase=lambda r: f"{r.who}: quota at most its ramped capacity {r.money(r.up)}",
            relax=("reps.capacity", "rules.capacity"),
            what="capacity",
            explain="own",
        ),
        "period_capacity": Component(
            phrase=lambda r: (
                f"{r.who}: period quota at most its capacity {r.money(r.up)} in {r.parts[-1]}"
            ),
            relax=("rules.phasing.band", "reps.capacity"),
            what="period capacity",
            explain="own",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.capacity.enabled


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    n_r, n_p, n_t = md.n_reps, len(md.products), len(md.periods)
    q = lm.vars["quota"]
    lm.add_rows(
        "capacity", Index.of(md.rep_ids), [rep_sum(q, np.arange(n_r), n_p)], upper=md.capacity
    )
    if phasing.enabled(md.scenario):  # ordered after phasing by RULE.uses
        pq = lm.vars["period_quota"]
        # column (r, p, t) → row (r, t)
        r = np.repeat(np.arange(n_r), n_p * n_t)
        t = np.tile(np.arange(n_t), n_r * n_p)
        reps = np.asarray(md.rep_ids, dtype=object)
        idx = Index.of(np.repeat(reps, n_t), np.tile(np.asarray(md.periods, dtype=object), n_r))
        lm.add_rows(
            "period_capacity",
            idx,
            [(r * n_t + t, pq.cols(), 1.0)],
            upper=md.period_capacity.ravel(),
        )
