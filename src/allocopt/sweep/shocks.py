"""Monte Carlo market shocks: the scenario's ``uncertainty:`` section, sampled and applied.

Public entry points: :func:`select` (which entities each shock hits, checked and located),
:func:`draw` (the factors of draw ``i``) and :func:`apply` (shocked, immutable model data).

Draw ``i`` depends only on ``(seed, i)``: its generator is ``numpy.random.default_rng([seed, i])``
and the entities are visited in sorted-ID order, shock after shock, so a draw is the same
whatever the worker count or completion order. For shock k with entities e (sorted) and, with a
correlation, groups g (sorted)::

    z_g ~ N(0, 1) per group, z_e ~ N(0, 1) per entity
    z = sqrt(rho)·z_group(e) + sqrt(1 − rho)·z_e          (rho = 0 without a correlation)
    normal:      f = max(0, mean + sd·z)
    lognormal:   f = mean · exp(sd·z − sd²/2)              (E f = mean)
    triangular:  f = F⁻¹(Φ(z)), F the triangular CDF on (low, mode, high)

The factors of several shocks on one entity multiply. Entities: potential — (rep, product);
key-account revenue — (key account, product) with revenue, region/team of the incumbent;
capacity — rep; target — product (the company target ``targets.by_product``).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from allocopt.data.prepare import ModelData
from allocopt.errors import InputError, Problem
from allocopt.scenario.schema import Scenario, Shock, Uncertainty

__all__ = ["Selection", "apply", "as_operations", "draw", "select"]

Locate = Any  # Callable[[tuple[str | int, ...]], str]


@dataclass(frozen=True)
class Selection:
    """The entities one shock hits: flat positions in its array and a group number each."""

    shock: Shock
    label: str
    index: np.ndarray  # positions in the flat (R·P | A·P | R | P) array, sorted by ID
    group: np.ndarray  # group number per entity (0 when uncorrelated)
    n_groups: int


def _label(s: Shock, k: int) -> str:
    return s.name or f"{s.on}#{k + 1}"


def select(
    md: ModelData, unc: Uncertainty, file: str = "scenario", locate: Locate = None
) -> list[Selection]:
    """Entities of every shock; raise :class:`InputError` (exit 2) for unknown regions, teams or
    products, or a shock that selects nothing, each located at the shock in the file."""
    loc = locate or (lambda _p: "")
    problems: list[Problem] = []
    regions = sorted({str(r) for r in md.region_of if r})
    teams = sorted({str(t) for t in md.team_of})
    products = list(md.products)
    n_r, n_p = md.n_reps, len(products)
    out: list[Selection] = []
    for k, s in enumerate(unc.shocks):
        path: tuple[str | int, ...] = ("uncertainty", "shocks", k)
        bad = False
        for name, known in (("region", regions), ("team", teams), ("product", products)):
            for v in getattr(s, name) or []:
                if v not in known:
                    close = difflib.get_close_matches(v, known, n=1, cutoff=0.6)
                    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
                    problems.append(
                        Problem(
                            file,
                            loc((*path, name)),
                            f"uncertainty.shocks[{k}].{name}",
                            f"unknown {name}; {hint}",
                            v,
                        )
                    )
                    bad = True
        if bad:
            continue
        if s.on in ("potential", "capacity"):
            rep = np.arange(n_r)
            reg, team = md.region_of, md.team_of
        else:  # key accounts: the incumbent's region and team
            inc = md.ka_incumbent
            rep = inc
            reg = np.where(inc >= 0, md.region_of[np.maximum(inc, 0)], "")
            team = np.where(inc >= 0, md.team_of[np.maximum(inc, 0)], "")
        keep_r = np.ones(len(rep), dtype=bool)
        if s.region is not None:
            keep_r &= np.isin(reg.astype(str), s.region)
        if s.team is not None:
            keep_r &= np.isin(team.astype(str), s.team)
        keep_p = np.isin(np.asarray(products), s.product) if s.product else np.ones(n_p, bool)
        if s.on == "potential":
            mask = keep_r[:, None] & keep_p[None, :]
            idx = np.flatnonzero(mask)
            owner_r, prod = idx // n_p, idx % n_p
        elif s.on == "key_account_revenue":
            mask = keep_r[:, None] & keep_p[None, :] & (md.ka_revenue > 0)
            idx = np.flatnonzero(mask)
            owner_r, prod = idx // n_p, idx % n_p  # owner_r is the account here
            reg, team = reg[owner_r], team[owner_r]
        elif s.on == "capacity":
            idx = np.flatnonzero(keep_r)
            owner_r, prod = idx, np.zeros(len(idx), dtype=np.int64)
        else:
            idx = np.flatnonzero(keep_p)
            owner_r, prod = np.zeros(len(idx), dtype=np.int64), idx
        if len(idx) == 0:
            problems.append(
                Problem(
                    file,
                    loc(path),
                    f"uncertainty.shocks[{k}]",
                    f"the shock on {s.on} selects nothing (no entity matches its filters); "
                    "widen or remove the filters",
                )
            )
            continue
        c = s.correlation
        if c is None:
            group, n_groups = np.zeros(len(idx), dtype=np.int64), 0
        else:
            if c.within == "product":
                labels = np.asarray(products, dtype=object)[prod]
            elif s.on == "key_account_revenue":
                labels = reg if c.within == "region" else team
            else:
                labels = (md.region_of if c.within == "region" else md.team_of)[owner_r]
            names, inv = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
            group, n_groups = inv.astype(np.int64), len(names)
        out.append(Selection(s, _label(s, k), idx.astype(np.int64), group, n_groups))
    if problems:
        raise InputError(problems, header="the uncertainty section has problems")
    return out


def _factors(s: Shock, z: np.ndarray) -> np.ndarray:
    if s.distribution == "normal":
        assert s.sd is not None
        return np.maximum(0.0, s.mean + s.sd * z)
    if s.distribution == "lognormal":
        assert s.sd is not None
        return s.mean * np.exp(s.sd * z - 0.5 * s.sd * s.sd)
    assert s.low is not None and s.mode is not None and s.high is not None
    a, c, b = s.low, s.mode, s.high
    if b <= a:
        return np.full(len(z), a)
    u = ndtr(z)
    fc = (c - a) / (b - a)
    left = a + np.sqrt(u * (b - a) * (c - a))
    right = b - np.sqrt((1 - u) * (b - a) * (b - c))
    return np.where(u < fc, left, right)


def draw(sels: list[Selection], seed: int, i: int) -> list[np.ndarray]:
    """Factors of draw ``i`` for every selection (same order); depends only on (seed, i)."""
    rng = np.random.default_rng([seed, i])
    out = []
    for sel in sels:
        c = sel.shock.correlation
        if c is None:
            z = rng.standard_normal(len(sel.index))
        else:
            zg = rng.standard_normal(sel.n_groups)
            zo = rng.standard_normal(len(sel.index))
            z = np.sqrt(c.rho) * zg[sel.group] + np.sqrt(1.0 - c.rho) * zo
        out.append(_factors(sel.shock, z))
    return out


@dataclass(frozen=True)
class Multipliers:
    """Total factor per entity of one draw (1 where no shock hits)."""

    potential: np.ndarray  # (R, P)
    ka_revenue: np.ndarray  # (A, P)
    capacity: np.ndarray  # (R,)
    target: np.ndarray  # (P,)


def multipliers(md: ModelData, sels: list[Selection], factors: list[np.ndarray]) -> Multipliers:
    """Combine the factors of all shocks (they multiply) into per-entity multipliers."""
    n_r, n_p, n_a = md.n_reps, len(md.products), len(md.ka_ids)
    flat = {
        "potential": np.ones(n_r * n_p),
        "key_account_revenue": np.ones(n_a * n_p),
        "capacity": np.ones(n_r),
        "target": np.ones(n_p),
    }
    for sel, f in zip(sels, factors, strict=True):
        flat[sel.shock.on][sel.index] *= f
    return Multipliers(
        flat["potential"].reshape(n_r, n_p),
        flat["key_account_revenue"].reshape(n_a, n_p),
        flat["capacity"],
        flat["target"],
    )


def shocked_targets(sc: Scenario, m: Multipliers, products: tuple[str, ...]) -> dict[str, float]:
    """The company targets of a draw, rounded to cents."""
    return {
        p: round(float(sc.targets.by_product[p]) * float(m.target[j]), 2)
        for j, p in enumerate(products)
    }


def apply(md: ModelData, m: Multipliers, scenario: Scenario | None = None) -> ModelData:
    """Model data of a draw: potential, key-account revenue (and the move costs that follow it),
    capacity and company targets multiplied; ``md`` is not changed. ``scenario`` (default: the
    data's, with the draw's targets) becomes the new data's scenario."""
    sc = md.scenario
    targets = shocked_targets(sc, m, md.products)
    if scenario is None:
        scenario = sc.model_copy(
            update={"targets": sc.targets.model_copy(update={"by_product": targets})}
        )
    target = np.array([targets[p] for p in md.products]) * (1 + sc.targets.over_assignment)
    rev = md.ka_revenue * m.ka_revenue
    pr = md.pairs
    rule = sc.rules.key_accounts
    has_inc = md.ka_incumbent[pr.acc] >= 0
    move = np.where(has_inc & ~pr.incumbent, rule.move_cost * rev.sum(axis=1)[pr.acc], 0.0)
    return dataclasses.replace(
        md,
        scenario=scenario,
        potential=md.potential * m.potential,
        ka_revenue=rev,
        pairs=dataclasses.replace(pr, move_cost=move),
        capacity=md.capacity * m.capacity,
        period_capacity=md.period_capacity * m.capacity[:, None],
        target=target,
    )


def as_operations(md: ModelData, m: Multipliers) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The draw as data operations (one ``scale`` per shocked rep × product, account × product
    and rep) and company targets, so a kept run folder can be re-derived by ``allocopt verify``."""
    ops: list[dict[str, Any]] = []
    reps, prods, accs = md.rep_ids, md.products, md.ka_ids
    for r, p in zip(*np.nonzero(m.potential != 1.0), strict=True):
        ops.append(
            {
                "op": "scale",
                "table": "potential",
                "column": "potential",
                "factor": float(m.potential[r, p]),
                "where": {"rep": [reps[r]], "product": [prods[p]]},
            }
        )
    for a, p in zip(*np.nonzero(m.ka_revenue != 1.0), strict=True):
        ops.append(
            {
                "op": "scale",
                "table": "accounts",
                "column": "revenue",
                "factor": float(m.ka_revenue[a, p]),
                "where": {"account": [accs[a]], "product": [prods[p]]},
            }
        )
    for r in np.flatnonzero(m.capacity != 1.0):
        ops.append(
            {
                "op": "scale",
                "table": "reps",
                "column": "capacity",
                "factor": float(m.capacity[r]),
                "where": {"rep": [reps[r]]},
            }
        )
    return ops, shocked_targets(md.scenario, m, md.products)
