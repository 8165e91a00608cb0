"""Stability (mid-year re-plan): booked periods stay frozen, and quotas move little.

With a published plan P and the periods up to ``as_of`` booked (their published period quotas
F[r,p,t] are kept as they are; F_rp = Σ_{t ≤ as_of} F[r,p,t]):

    frozen[r,p]:     quota[r,p] ≥ F_rp        (= F_rp when the rep sells in no remaining period)
    stability[r]:    P_r − L_r ≤ Σ_p quota[r,p] ≤ P_r + L_r     (reps in the published plan)

L_r = min(max_change · P_r, max_change_amount) (whichever is given). The rest of the year is
phased over the remaining periods by the rep's profile; the objective's reference is the
published annual quota (new reps keep their blended reference), so the re-plan changes as little
as the rules allow. Key accounts: published owners act as incumbents, and ``max_moves`` caps the
accounts moved away from them (rule ``key_accounts``).
"""

from __future__ import annotations

import numpy as np

from allocopt.model.linear import Index, LinearModel
from allocopt.model.registry import Component, Rule
from allocopt.model.sets import QuotaSets, rep_sum
from allocopt.scenario.schema import Scenario

RULE = Rule(
    name="stability",
    stage="quotas",
    requires=("quota",),
    explain_word="held within the re-plan's stability budget",
    components={
        "frozen": Component(
            phrase=lambda r: (
                f"{r.who}: quota at least {r.money(r.lo)} already booked in the frozen periods"
            ),
            relax=("replan.as_of",),
            what="quota booked in the frozen periods",
            explain="own",
        ),
        "stability": Component(
            phrase=lambda r: (
                f"{r.who}: quota between {r.money(r.lo)} and {r.money(r.up)} "
                "(the re-plan's most change from the published plan)"
            ),
            relax=("replan.max_change", "replan.max_change_amount"),
            what="re-plan stability budget",
            explain="own",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.replan is not None


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    rp = md.replan
    assert rp is not None and md.scenario.replan is not None
    q = lm.vars["quota"]
    n = len(q)
    f = rp.frozen_sum.ravel()
    no_rest = rp.phase_rest.sum(axis=2).ravel() <= 0
    lm.add_rows(
        "frozen",
        qs.rp_index,
        [(np.arange(n), q.cols(), 1.0)],
        lower=f,
        upper=np.where(no_rest, f, np.inf),
    )
    cfg = md.scenario.replan
    if cfg.max_change is None and cfg.max_change_amount is None:
        return
    reps = np.flatnonzero(rp.in_published)
    pub = rp.published.sum(axis=1)[reps]
    lim = np.full(len(reps), np.inf)
    if cfg.max_change is not None:
        lim = np.minimum(lim, cfg.max_change * pub)
    if cfg.max_change_amount is not None:
        lim = np.minimum(lim, cfg.max_change_amount)
    lm.add_rows(
        "stability",
        Index.of(np.asarray(md.rep_ids, dtype=object)[reps]),
        [rep_sum(q, reps, len(md.products))],
        lower=pub - lim,
        upper=pub + lim,
    )
