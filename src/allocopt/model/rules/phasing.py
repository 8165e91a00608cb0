"""Phasing: period quotas from seasonality, adjusted to each rep's availability.

φ[r,p,t] = season[p,t]·avail[r,t] / Σ_t' season[p,t']·avail[r,t']  (a leaver's or new hire's
year is phased over the periods they work).

* mode ``exact``: period quota = φ[r,p,t] · quota[r,p] (computed after the solve, no rows);
* mode ``band`` (variables period_quota[r,p,t] ≥ 0):

      phasing_sum[r,p]:    Σ_t period_quota[r,p,t] = quota[r,p]
      phasing_low[r,p,t]:  period_quota[r,p,t] ≥ (1 − b) · φ[r,p,t] · quota[r,p]
      phasing_high[r,p,t]: period_quota[r,p,t] ≤ (1 + b) · φ[r,p,t] · quota[r,p]
      phasing_fit[r,p,t]:  period_quota[r,p,t] − φ[r,p,t] · quota[r,p] = phase_up − phase_dn
      objective += w_phasing · Σ (phase_up + phase_dn)      (phase_up, phase_dn ≥ 0)

  The fit term keeps period quotas on the seasonal profile unless a rule (period capacity)
  pushes them off it, so the split within the band is unique and scales with money.
"""

from __future__ import annotations

import numpy as np

from allocopt.model.linear import LinearModel
from allocopt.model.registry import Component, RowText, Rule
from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario


def _band(r: RowText) -> float:
    return r.scenario.rules.phasing.band


RULE = Rule(
    name="phasing",
    stage="quotas",
    requires=("quota",),
    provides=("period_quota",),
    explain_word="period phasing band",
    components={
        "period_quota": Component(kind="var"),
        "phasing_sum": Component(definitional=True, explain="own"),
        "phasing_low": Component(
            phrase=lambda r: (
                f"{r.who}: period {r.parts[-1]} at least {1 - _band(r):.0%} of its seasonal share"
            ),
            relax=("rules.phasing.band",),
            explain="own",
        ),
        "phasing_high": Component(
            phrase=lambda r: (
                f"{r.who}: period {r.parts[-1]} at most {1 + _band(r):.0%} of its seasonal share"
            ),
            relax=("rules.phasing.band",),
            explain="own",
        ),
        "phase_up": Component(kind="var", internal=True),
        "phase_dn": Component(kind="var", internal=True),
        "phasing_fit": Component(definitional=True, binding=True),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.phasing.enabled and sc.rules.phasing.mode == "band"


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    b = md.scenario.rules.phasing.band
    n_rp, n_t = md.n_reps * len(md.products), len(md.periods)
    q = lm.vars["quota"]
    pq = lm.add_vars("period_quota", qs.rpt_index)
    rp_of = np.repeat(np.arange(n_rp), n_t)  # (r,p) position of each (r,p,t)
    lm.add_rows(
        "phasing_sum",
        qs.rp_index,
        [(rp_of, pq.cols(), 1.0), (np.arange(n_rp), q.cols(), -1.0)],
        0.0,
        0.0,
    )
    phi = md.phase.reshape(-1)
    local = np.arange(n_rp * n_t)
    lm.add_rows(
        "phasing_low",
        qs.rpt_index,
        [(local, pq.cols(), 1.0), (local, q.cols(rp_of), -(1 - b) * phi)],
        lower=0.0,
    )
    lm.add_rows(
        "phasing_high",
        qs.rpt_index,
        [(local, pq.cols(), 1.0), (local, q.cols(rp_of), -(1 + b) * phi)],
        upper=0.0,
    )
    up = lm.add_vars("phase_up", qs.rpt_index)
    dn = lm.add_vars("phase_dn", qs.rpt_index)
    lm.add_rows(
        "phasing_fit",
        qs.rpt_index,
        [
            (local, pq.cols(), 1.0),
            (local, q.cols(rp_of), -phi),
            (local, up.cols(), -1.0),
            (local, dn.cols(), 1.0),
        ],
        0.0,
        0.0,
    )
    w = md.scenario.objective.weights.phasing
    lm.add_cost("phasing", np.concatenate([up.cols(), dn.cols()]), w)
