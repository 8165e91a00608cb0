"""Attainability: each rep has at least probability p of reaching its quota (SMART: achievable).

A rep's annual sales S_r are lognormal with median m_r and log-spread σ_r (last year's actual ×
the share of the year employed × (1 + growth); σ from the team's dispersion of last year's
attainment, shrunk toward the rep's own over its years of history —
:func:`allocopt.data.attainability.sales_distribution`). P(S_r ≥ q) ≥ p holds
exactly when q is at most the (1 − p) quantile, a constant, so the rule is linear:

    attainability_max[r]:  Σ_p quota[r,p] ≤ m_r · exp(σ_r · Φ⁻¹(1 − p))
    attainability_min[r]:  Σ_p quota[r,p] ≥ m_r · exp(σ_r · Φ⁻¹(1 − p_max))   (max_p given)

for every rep with last year's actual. With both, each rep's chance of reaching quota lies in
[p, p_max], so the expected share of reps at quota (their mean) does too: the plan-level band
is enforced rep by rep, without binaries. Raising p lowers every ceiling (Φ⁻¹ is increasing).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.linear import Index, LinearModel
from allocopt.model.registry import Component, RepBound, Rule
from allocopt.model.sets import QuotaSets, rep_sum
from allocopt.scenario.schema import Scenario


def _rep_bounds(md: ModelData, eb_lo: np.ndarray, eb_hi: np.ndarray) -> tuple[RepBound, ...]:
    if md.sales_median is None or md.sales_sigma is None:
        return ()
    sc = md.scenario
    att = sc.rules.attainability
    ceiling, floor = bounds(sc, md.sales_median, md.sales_sigma)
    has = np.isfinite(ceiling)
    why = f"attainability (P(reach) ≥ {att.p:g})"
    out = [RepBound("upper", np.where(has, ceiling, np.inf), why)]
    if att.max_p is not None:
        why = f"attainability (P(reach) ≤ {att.max_p:g})"
        out.append(RepBound("lower", np.where(has, floor, 0.0), why))
    return tuple(out)


RULE = Rule(
    name="attainability",
    stage="quotas",
    rep_bounds=_rep_bounds,
    requires=("quota",),
    explain_word="held to what it can reach with the set probability (attainability)",
    components={
        "attainability_max": Component(
            phrase=lambda r: (
                f"{r.who}: quota at most {r.money(r.up)} (reached with probability ≥ p)"
            ),
            relax=("rules.attainability.p", "rules.attainability.growth"),
            what="attainable quota (sales quantile at probability p)",
            explain="own",
        ),
        "attainability_min": Component(
            phrase=lambda r: (
                f"{r.who}: quota at least {r.money(r.lo)} (reached with probability ≤ max_p)"
            ),
            relax=("rules.attainability.max_p",),
            what="least quota (sales quantile at probability max_p)",
            explain="own",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.attainability.enabled


def quantile(median: np.ndarray, sigma: np.ndarray, prob: float) -> np.ndarray:
    """The quota q with P(S ≥ q) = prob for lognormal S (median, σ): m · exp(σ · Φ⁻¹(1 − prob))."""
    return np.asarray(median, dtype=float) * np.exp(
        np.asarray(sigma, dtype=float) * NormalDist().inv_cdf(1.0 - prob)
    )


def bounds(sc: Scenario, median: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ceiling, floor) per rep; NaN where the rep has no distribution (floor 0 without max_p)."""
    rule = sc.rules.attainability
    ceiling = quantile(median, sigma, rule.p)
    floor = (
        quantile(median, sigma, rule.max_p)
        if rule.max_p is not None
        else np.where(np.isfinite(median), 0.0, np.nan)
    )
    return ceiling, floor


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    if md.sales_median is None or md.sales_sigma is None:
        return
    ceiling, floor = bounds(md.scenario, md.sales_median, md.sales_sigma)
    reps = np.flatnonzero(np.isfinite(ceiling))
    if not len(reps):
        return
    idx = Index.of(np.asarray(md.rep_ids, dtype=object)[reps])
    terms = [rep_sum(lm.vars["quota"], reps, len(md.products))]
    lm.add_rows("attainability_max", idx, terms, upper=ceiling[reps])
    if md.scenario.rules.attainability.max_p is not None:
        lm.add_rows("attainability_min", idx, terms, lower=floor[reps])
