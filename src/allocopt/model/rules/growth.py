"""Growth band: no ratchet shocks, no giveaways, against last year (reps with history).

    growth_min[r]:  Σ_p quota[r,p] ≥ (1 + g_min) · h_r · e_r
    growth_max[r]:  Σ_p quota[r,p] ≤ (1 + g_max) · h_r · e_r

h_r is last year's actual (basis ``actual``) or quota (basis ``quota``); e_r the share of the
plan year the rep is employed, so leavers' and joiners' bands are prorated.
"""

from __future__ import annotations

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.linear import Index, LinearModel
from allocopt.model.registry import Component, RepBound, Rule
from allocopt.model.sets import QuotaSets, rep_sum
from allocopt.scenario.schema import Scenario


def _rep_bounds(md: ModelData, eb_lo: np.ndarray, eb_hi: np.ndarray) -> tuple[RepBound, ...]:
    if not enabled(md.scenario):
        return ()
    g = md.scenario.rules.growth
    h = md.history * md.active
    has = np.isfinite(h)
    return (
        RepBound(
            "lower",
            np.where(has, (1 + g.min) * np.nan_to_num(h), 0.0),
            f"growth minimum ({g.min:+.0%})",
        ),
        RepBound(
            "upper",
            np.where(has, (1 + g.max) * np.nan_to_num(h), np.inf),
            f"growth maximum ({g.max:+.0%})",
        ),
    )


RULE = Rule(
    name="growth",
    stage="quotas",
    rep_bounds=_rep_bounds,
    requires=("quota",),
    explain_word="held within its growth band against last year",
    components={
        "growth_min": Component(
            phrase=lambda r: (
                f"{r.who}: quota at least {r.money(r.lo)} (growth minimum against last year)"
            ),
            relax=("rules.growth.min",),
            what="growth minimum",
            explain="own",
        ),
        "growth_max": Component(
            phrase=lambda r: (
                f"{r.who}: quota at most {r.money(r.up)} (growth maximum against last year)"
            ),
            relax=("rules.growth.max",),
            what="growth maximum",
            explain="own",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.growth.enabled


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    rule = md.scenario.rules.growth
    h = md.history * md.active
    reps = np.flatnonzero(np.isfinite(h))
    if not len(reps):
        return
    idx = Index.of(np.asarray(md.rep_ids, dtype=object)[reps])
    terms = [rep_sum(lm.vars["quota"], reps, len(md.products))]
    lm.add_rows("growth_min", idx, terms, lower=(1 + rule.min) * h[reps])
    lm.add_rows("growth_max", idx, terms, upper=(1 + rule.max) * h[reps])
