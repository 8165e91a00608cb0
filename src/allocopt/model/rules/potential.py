"""Potential: a rep's quota stays within a share of its effective base.

    potential_max[r,p]:  quota[r,p] ≤ s_max · eb[r,p]
    potential_min[r,p]:  quota[r,p] ≥ s_min · eb[r,p]        (only when s_min > 0)

eb[r,p] = (potential[r,p] + Σ_{a owned by r} revenue[a,p]) · Σ_t season[p,t]·avail[r,t]:
the territory and key-account base, scaled to the part of the year the rep sells.
"""

from __future__ import annotations

import numpy as np

from allocopt.model.linear import LinearModel
from allocopt.model.registry import Component, Rule
from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario

RULE = Rule(
    name="potential",
    stage="quotas",
    requires=("quota",),
    explain_word="held within its share of potential",
    components={
        "potential_max": Component(
            phrase=lambda r: f"{r.who}: quota at most {r.money(r.up)} (max share × effective base)",
            relax=("rules.potential.max_share",),
            what="most quota under the potential share",
            explain="own",
        ),
        "potential_min": Component(
            phrase=lambda r: (
                f"{r.who}: quota at least {r.money(r.lo)} (min share × effective base)"
            ),
            relax=("rules.potential.min_share",),
            what="least quota under the potential share",
            explain="own",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.potential.enabled


def add(lm: LinearModel, qs: QuotaSets) -> None:
    rule = qs.md.scenario.rules.potential
    q = lm.vars["quota"]
    n = len(q)
    terms = [(np.arange(n), q.cols(), 1.0)]
    eb = qs.eff_base.ravel()
    lm.add_rows("potential_max", qs.rp_index, terms, upper=rule.max_share * eb)
    if rule.min_share > 0:
        lm.add_rows("potential_min", qs.rp_index, terms, lower=rule.min_share * eb)
