"""Potential: a rep's quota stays within a share of its effective base.

    potential_max[r,p]:  quota[r,p] ≤ s_max · eb[r,p]
    potential_min[r,p]:  quota[r,p] ≥ s_min · eb[r,p]        (only when s_min > 0)

eb[r,p] = (potential[r,p] + Σ_{a owned by r} revenue[a,p]) · Σ_t season[p,t]·avail[r,t]:
the territory and key-account base, scaled to the part of the year the rep sells.
"""

from __future__ import annotations

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.linear import LinearModel
from allocopt.model.registry import Component, RepBound, Rule
from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario


def _rep_bounds(md: ModelData, eb_lo: np.ndarray, eb_hi: np.ndarray) -> tuple[RepBound, ...]:
    if not enabled(md.scenario):
        return ()
    pr = md.scenario.rules.potential
    out = [
        RepBound(
            "upper",
            (pr.max_share * eb_hi).sum(axis=1),
            f"potential (max share {pr.max_share:g})",
            pr.max_share * eb_hi,
        )
    ]
    if pr.min_share > 0:
        out.append(
            RepBound(
                "lower",
                (pr.min_share * eb_lo).sum(axis=1),
                f"potential (min share {pr.min_share:g})",
                pr.min_share * eb_lo,
            )
        )
    return tuple(out)


RULE = Rule(
    name="potential",
    stage="quotas",
    rep_bounds=_rep_bounds,
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
