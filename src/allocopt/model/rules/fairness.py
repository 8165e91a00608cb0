"""Fairness: comparable difficulty (quota ÷ effective base) within each group.

Group g = the rep's team, region or the company (``level``).
B_r = Σ_p eb[r,p], Q_r = Σ_p quota[r,p],
B_g = Σ_{r∈g} B_r, β_r = B_r / B_g (reps with B_r = 0 have no difficulty and are left out).
The group's difficulty is G_g / B_g with G_g its total quota. With band b:

    group_quota[g]:     G_g = Σ_{r∈g} Q_r
    fairness_low[r]:    Q_r ≥ (1 − b) · β_r · G_{g(r)}     ⇔  d_r ≥ (1 − b) · G_g / B_g
    fairness_high[r]:   Q_r ≤ (1 + b) · β_r · G_{g(r)}     ⇔  d_r ≤ (1 + b) · G_g / B_g

With a positive fairness weight the objective also minimises each group's spread (min-max),
m_min[g] / B_g and m_max[g] / B_g being the lowest and highest difficulty in the group:

    spread_low[r]:   Q_r ≥ β_r · m_min[g(r)]
    spread_high[r]:  Q_r ≤ β_r · m_max[g(r)]        objective += w_fair · Σ_g (m_max[g] − m_min[g])

The spread term is in currency: the quota the spread represents across the group's base.
All linear because the alignment (hence B_r) is fixed in stage 2; all coefficients are ≤ 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocopt.model.linear import Index, LinearModel
from allocopt.model.registry import Component, RowText, Rule
from allocopt.model.sets import QuotaSets, rep_sum
from allocopt.scenario.schema import Scenario


def _band(r: RowText) -> float:
    return r.scenario.rules.fairness.band or 0.0


def _group_phrase(r: RowText) -> str:
    level = r.scenario.rules.fairness.level
    return (
        f"{level} level" if r.label == level else f"{level} {r.label}"
    ) + ": its level is its reps' total quota over their base"


RULE = Rule(
    name="fairness",
    stage="quotas",
    requires=("quota",),
    provides=("m_min", "m_max"),
    explain_word="kept within the fairness band of its group",
    components={
        "level": Component(kind="var", internal=True),
        "group_quota": Component(
            phrase=_group_phrase, what="fairness group total", explain="link", definitional=True
        ),
        "fairness_low": Component(
            phrase=lambda r: (
                f"{r.who}: difficulty at least {1 - _band(r):.0%} of its "
                f"{r.scenario.rules.fairness.level}'s level"
            ),
            relax=("rules.fairness.band",),
            what="fairness band (low side)",
            explain="own",
        ),
        "fairness_high": Component(
            phrase=lambda r: (
                f"{r.who}: difficulty at most {1 + _band(r):.0%} of its "
                f"{r.scenario.rules.fairness.level}'s level"
            ),
            relax=("rules.fairness.band",),
            what="fairness band (high side)",
            explain="own",
        ),
        "m_min": Component(kind="var", internal=True),
        "m_max": Component(kind="var", internal=True),
        "spread_low": Component(definitional=True, binding=True, explain="own"),
        "spread_high": Component(definitional=True, binding=True, explain="own"),
    },
)


def enabled(sc: Scenario) -> bool:
    return sc.rules.fairness.enabled


@dataclass(frozen=True)
class Groups:
    """Fairness groups: reps with a positive effective base, their group and share β_r."""

    names: np.ndarray  # (G,) group IDs, sorted
    reps: np.ndarray  # (n,) rep positions in groups
    group: np.ndarray  # (n,) group position of each of those reps
    b_rep: np.ndarray  # (n,) B_r
    b_group: np.ndarray  # (G,) B_g

    @property
    def beta(self) -> np.ndarray:
        return self.b_rep / self.b_group[self.group]


def groups(qs: QuotaSets) -> Groups:
    """The fairness groups of a stage-2 model."""
    b = qs.eff_base.sum(axis=1)
    reps = np.flatnonzero(b > 0)
    g_ids = np.asarray(qs.group_of, dtype=object)[reps].astype(str)
    names, group = np.unique(g_ids, return_inverse=True)
    b_group = np.bincount(group, weights=b[reps], minlength=len(names))
    return Groups(names.astype(object), reps, group, b[reps], b_group)


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    rule = md.scenario.rules.fairness
    g = groups(qs)
    if not len(g.reps):
        return
    n_p = len(md.products)
    q = lm.vars["quota"]
    gidx = Index.of(g.names)
    ridx = Index.of(np.asarray(md.rep_ids, dtype=object)[g.reps])
    local = np.arange(len(g.reps))
    q_terms = rep_sum(q, g.reps, n_p)
    if rule.band is not None:
        b = rule.band
        lvl = lm.add_vars("level", gidx)
        lm.add_rows(
            "group_quota",
            gidx,
            [(np.arange(len(g.names)), lvl.cols(), 1.0), (g.group[q_terms[0]], q_terms[1], -1.0)],
            0.0,
            0.0,
        )
        lm.add_rows(
            "fairness_low",
            ridx,
            [q_terms, (local, lvl.cols(g.group), -(1 - b) * g.beta)],
            lower=0.0,
        )
        lm.add_rows(
            "fairness_high",
            ridx,
            [q_terms, (local, lvl.cols(g.group), -(1 + b) * g.beta)],
            upper=0.0,
        )
    if md.scenario.objective.weights.fairness > 0:
        mn = lm.add_vars("m_min", gidx)
        mx = lm.add_vars("m_max", gidx)
        lm.add_rows("spread_low", ridx, [q_terms, (local, mn.cols(g.group), -g.beta)], lower=0.0)
        lm.add_rows("spread_high", ridx, [q_terms, (local, mx.cols(g.group), -g.beta)], upper=0.0)
