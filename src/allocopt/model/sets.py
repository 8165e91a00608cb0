"""Sparse index sets and derived quantities shared by the rules (computed once, vectorised).

The model is solved in two stages (see ``models/allocation.md``):

1. *alignment* — key accounts to reps (a generalized assignment MIP);
2. *quotas* — quota per rep × product (× period), given the alignment.

:class:`QuotaSets` holds what stage 2 needs once the alignment is known: the rep's base
(territory potential + assigned key-account revenue), the effective base (× seasonality-weighted
availability), fairness groups and the reference split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.linear import Index, VarBlock


@dataclass(frozen=True)
class QuotaSets:
    """Stage-2 index sets and coefficients, arrays indexed (rep, product) in sorted-ID order."""

    md: ModelData
    owner: np.ndarray  # (A,) rep index owning each key account (-1 = unassigned)
    base: np.ndarray  # (R, P) potential + key-account revenue
    eff_base: np.ndarray  # (R, P) base × Σ_t season[p,t]·avail[r,t]
    ref_potential: np.ndarray  # (R, P) potential-based split of the target
    ref_history: np.ndarray  # (R, P) history-based split of the target
    reference: np.ndarray  # (R, P) blended reference
    group_of: np.ndarray  # (R,) fairness group ID per rep
    target: np.ndarray  # (P,) company total the reps' quotas add up to (rounded if rounding)
    ref_performance: np.ndarray | None = None  # (R, P) performance-tilted split (weight > 0)

    @property
    def rp_index(self) -> Index:
        """The (rep, product) index, rep-major, in sorted-ID order."""
        md = self.md
        n_p = len(md.products)
        reps = np.asarray(md.rep_ids, dtype=object)
        prods = np.asarray(md.products, dtype=object)
        return Index.of(np.repeat(reps, n_p), np.tile(prods, md.n_reps))

    @property
    def rpt_index(self) -> Index:
        """The (rep, product, period) index."""
        md = self.md
        n_p, n_t = len(md.products), len(md.periods)
        reps = np.asarray(md.rep_ids, dtype=object)
        return Index.of(
            np.repeat(reps, n_p * n_t),
            np.tile(np.repeat(np.asarray(md.products, dtype=object), n_t), md.n_reps),
            np.tile(np.asarray(md.periods, dtype=object), md.n_reps * n_p),
        )


def rep_sum(
    q: VarBlock, reps: np.ndarray, n_p: int, coef: np.ndarray | float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Terms of Σ_p coef_r · quota[r,p], one local row per entry of ``reps`` (rep positions)."""
    reps = np.asarray(reps, dtype=np.int64)
    rows = np.repeat(np.arange(len(reps)), n_p)
    cols = q.start + (reps[:, None] * n_p + np.arange(n_p)[None, :]).ravel()
    vals = np.repeat(np.broadcast_to(np.asarray(coef, dtype=float), (len(reps),)), n_p)
    return rows, cols, vals


def alignment_from_incumbents(md: ModelData) -> np.ndarray:
    """Each key account stays with its incumbent (used when the key-account rule is off)."""
    return md.ka_incumbent.copy()


def company_target(md: ModelData) -> np.ndarray:
    """T_p·(1 + c) per product, rounded to the nearest rounding unit when rounding is on (rule
    ``target``; every other rounding is in :mod:`allocopt.solve.rounding`): halves up, a half
    judged to 1e-9 of T_p·(1 + c)/u, so that float noise of the product (2,359,500 × 1.1 is
    2,595,449.99…, and × 10⁴ lands above the half) never decides it and money × k gives the
    same units."""
    target = md.target.copy()
    if md.scenario.rules.rounding.enabled:
        unit = md.scenario.rules.rounding.unit
        r = target / unit
        target = np.floor(r + 0.5 + 1e-9 * np.maximum(1.0, np.abs(r))) * unit
    return target


def quota_sets(md: ModelData, owner: np.ndarray) -> QuotaSets:
    """Derive stage-2 data from the model data and a key-account alignment."""
    sc = md.scenario
    n_r, n_p = md.n_reps, len(md.products)
    base = md.potential.copy()
    has = owner >= 0
    np.add.at(base, owner[has], md.ka_revenue[has])
    eff = base * md.sell_share
    tot_eff = eff.sum(axis=0)
    target = company_target(md)

    ref_pot = np.divide(eff, tot_eff, out=np.zeros_like(eff), where=tot_eff > 0) * target
    # history split: reps with history share the potential-split mass of the history group by
    # (history × active share of the year), spread over products by their effective-base mix;
    # reps without history keep their potential-based split.
    hist = md.history * md.active
    has_hist = np.isfinite(hist)
    mix_den = eff.sum(axis=1, keepdims=True)
    mix = np.divide(eff, mix_den, out=np.full_like(eff, 1.0 / n_p), where=mix_den > 0)
    h = np.where(has_hist[:, None], np.nan_to_num(hist)[:, None] * mix, 0.0)
    mass = ref_pot[has_hist].sum(axis=0)
    hsum = h.sum(axis=0)
    ref_hist = ref_pot.copy()
    scale = np.divide(mass, hsum, out=np.zeros_like(mass), where=hsum > 0)
    ref_hist[has_hist] = h[has_hist] * scale
    # a product with history mass but no history weight keeps the potential split
    no_w = hsum <= 0
    ref_hist[:, no_w] = ref_pot[:, no_w]
    w = sc.objective.reference
    reference = (w.potential * ref_pot + w.history * ref_hist) / (w.potential + w.history)
    ref_perf = None
    if w.performance > 0 and md.performance is not None:
        # performance driver: the potential/history blend tilted by each rep's factor, then
        # renormalised per product so it still splits the whole target
        tilt = reference * md.performance[:, None]
        tot = tilt.sum(axis=0)
        ref_perf = np.divide(tilt, tot, out=np.zeros_like(tilt), where=tot > 0) * reference.sum(
            axis=0
        )
        w_all = w.potential + w.history + w.performance
        mixed = w.potential * ref_pot + w.history * ref_hist + w.performance * ref_perf
        reference = mixed / w_all
    if md.replan is not None:  # re-plan: stay close to the published plan
        reference = np.where(md.replan.in_published[:, None], md.replan.published, reference)

    level = sc.rules.fairness.level
    if level == "team":
        group = md.team_of
    elif level == "region":
        group = np.where(md.region_of == "", md.team_of, md.region_of)
    else:
        group = np.full(n_r, "company", dtype=object)
    return QuotaSets(
        md, owner, base, eff, ref_pot, ref_hist, reference, group, target, ref_performance=ref_perf
    )
