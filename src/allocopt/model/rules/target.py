"""Target conservation: the reps' quotas add up to the company target; optional unit targets.

    target[p]:          Σ_r quota[r,p] = T_p · (1 + c)                    ∀ p
    unit_target[k]:     lo_k ≤ Σ_{r ∈ unit_k} Σ_{p ∈ P_k} quota[r,p] ≤ hi_k   ∀ unit targets k

Roll-ups per org unit are sums over the unit's reps, so they are exact by construction.
The company target rows are the model's linking rows (``linking=True``): they alone tie the teams
together, so the solver may split their right-hand sides over independent blocks.
With rounding on, T_p·(1+c) is rounded to the nearest rounding unit first.
"""

from __future__ import annotations

import numpy as np

from allocopt.model.linear import INF, Index, LinearModel
from allocopt.model.registry import Component, RowText, Rule
from allocopt.model.sets import QuotaSets
from allocopt.scenario.schema import Scenario


def _unit_target_phrase(r: RowText) -> str:
    unit, _, prod = r.label.partition("/")
    if r.lo == r.up:
        rng = r.money(r.lo)
    elif not np.isfinite(r.lo):
        rng = f"at most {r.money(r.up)}"
    elif not np.isfinite(r.up):
        rng = f"at least {r.money(r.lo)}"
    else:
        rng = f"between {r.money(r.lo)} and {r.money(r.up)}"
    scope = f"unit {unit}" + ("" if prod in ("", "*") else f", product {prod}")
    return f"{scope}: quota {rng}"


RULE = Rule(
    name="target",
    stage="quotas",
    requires=("quota",),
    explain_word="redistribution so the company and unit targets add up (other reps are bound)",
    components={
        "target": Component(
            phrase=lambda r: (
                f"company, product {r.label}: reps' quotas must add up to {r.money(r.lo)}"
            ),
            relax=("targets.by_product", "targets.over_assignment"),
            what="company target",
            explain="link",
        ),
        "unit_target": Component(
            phrase=_unit_target_phrase,
            relax=("targets.units",),
            what="unit target",
            explain="link",
        ),
    },
)


def enabled(sc: Scenario) -> bool:
    return True


def add(lm: LinearModel, qs: QuotaSets) -> None:
    md = qs.md
    q = lm.vars["quota"]
    n_r, n_p = md.n_reps, len(md.products)
    rows = np.tile(np.arange(n_p), n_r)
    lm.add_rows(
        "target", Index.of(md.products), [(rows, q.cols(), 1.0)], qs.target, qs.target, linking=True
    )
    units = md.scenario.targets.units
    if not units:
        return
    members = md.rep_units.groupby("unit_id")["rep"].agg(list).to_dict()
    pidx = {p: j for j, p in enumerate(md.products)}
    r_all, c_all = [], []
    lo = np.full(len(units), -INF)
    hi = np.full(len(units), INF)
    for k, u in enumerate(units):
        reps = np.asarray(members.get(u.unit, []), dtype=np.int64)
        prods = np.array([pidx[u.product]] if u.product else np.arange(n_p), dtype=np.int64)
        cols = q.start + (reps[:, None] * n_p + prods[None, :]).ravel()
        r_all.append(np.full(len(cols), k))
        c_all.append(cols)
        if u.value is not None:
            lo[k] = hi[k] = u.value
        else:
            lo[k] = -INF if u.min is None else u.min
            hi[k] = INF if u.max is None else u.max
    lm.add_rows(
        "unit_target",
        Index.of([f"{u.unit}/{u.product or '*'}" for u in units]),
        [(np.concatenate(r_all), np.concatenate(c_all), 1.0)],
        lo,
        hi,
    )
