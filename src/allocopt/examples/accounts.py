"""Steps 3-4 of the example: territories and the product mix (:func:`_draw_territories`), then
the accounts (:func:`_draw_accounts`: long-tailed revenue, the largest ``key_share`` are key
accounts, incumbents; :func:`_draw_account_products`: what each account buys), the key-account
candidates (:func:`_candidates`) and the per-rep key-account limits (:func:`_key_limits`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from allocopt.examples.common import (
    DEFAULT_PRODUCTS,
    MAX_ACCOUNTS,
    MAX_WORKLOAD,
    MOVE_COST,
    BoolArray,
    FloatArray,
    IntArray,
)
from allocopt.examples.org import _Org, _Reps

_TERRITORY_MEDIAN = 1_400_000.0  # white space of a median full-time rep (EUR)
_TERRITORY_SIGMA = 0.45
_SENIOR_TERRITORY = 1.5
_ACCOUNT_REVENUE_RATIO = 0.5  # total account revenue / total white space
_REVENUE_SIGMA = 1.75
_BLANK_INCUMBENT_SHARE = 0.02
_KEY_CAP = 4  # key accounts per full-time incumbent (workload <= 3 each: 12)
_KEY_CAP_PART_TIME = 2
_PART_TIME_MAX_ACCOUNTS = 4
_PART_TIME_MAX_WORKLOAD = 6


@dataclass(frozen=True)
class _Territories:
    base_mix: FloatArray  # (P,) company product mix
    region_mix: FloatArray  # (regions, P)
    white_space: FloatArray  # (R, P) territory per rep and product


@dataclass(frozen=True)
class _Accounts:
    revenue: FloatArray  # (A,)
    is_key: BoolArray  # (A,)
    key_idx: IntArray  # (K,) key accounts, ascending
    key_workload: IntArray  # (K,) 3 / 2 / 1 by revenue tercile
    key_count: IntArray  # (R,) key accounts each rep holds today
    incumbent: IntArray  # (A,) rep index, -1 = none


@dataclass(frozen=True)
class _AccountRows:
    """One row per account and product bought (sorted by account, then product order)."""

    account: IntArray
    product: IntArray
    revenue: FloatArray


def _draw_territories(
    rng: np.random.Generator, products: tuple[str, ...], regions: int, reps: _Reps
) -> _Territories:
    """White space per rep (lognormal, larger for seniors, scaled by FTE) split over products by a
    region-specific mix."""
    base_mix = _base_mix(products)
    region_mix = rng.dirichlet(base_mix * 30.0, size=regions)
    rep_mix = region_mix[reps.region] * np.exp(rng.normal(0.0, 0.3, (reps.n, len(products))))
    rep_mix /= rep_mix.sum(axis=1, keepdims=True)
    territory = _TERRITORY_MEDIAN * np.exp(rng.normal(0.0, _TERRITORY_SIGMA, reps.n))
    territory = np.maximum(territory, 0.45 * _TERRITORY_MEDIAN)
    territory *= np.where(reps.is_senior, _SENIOR_TERRITORY, 1.0) * reps.fte
    return _Territories(base_mix, region_mix, territory[:, None] * rep_mix)


def _draw_accounts(
    rng: np.random.Generator, n_acc: int, n_key: int, terr: _Territories, reps: _Reps
) -> _Accounts:
    """Revenue (lognormal σ 1.75, capped at 3σ, scaled to half the white space); the ``n_key``
    largest are key accounts (workload 3/2/1 by tercile), held by seniors more often, never by new
    hires; the other accounts are spread evenly, a few without an incumbent."""
    n_reps = reps.n
    revenue = rng.lognormal(0.0, _REVENUE_SIGMA, n_acc)
    revenue = np.minimum(revenue, math.exp(3.0 * _REVENUE_SIGMA))  # no single giant account
    if n_acc:
        revenue *= _ACCOUNT_REVENUE_RATIO * terr.white_space.sum() / revenue.sum()
    by_revenue = np.argsort(-revenue, kind="stable")
    key_idx = np.sort(by_revenue[:n_key])
    is_key = np.zeros(n_acc, dtype=bool)
    is_key[key_idx] = True
    key_rank = np.empty(n_key, dtype=np.int64)  # 0 = largest key account
    key_rank[np.argsort(np.argsort(-revenue[key_idx], kind="stable"), kind="stable")] = np.arange(
        n_key
    )
    key_workload = np.where(
        key_rank * 3 < n_key, 3, np.where(key_rank * 3 < 2 * n_key, 2, 1)
    ).astype(np.int64)

    incumbent = np.full(n_acc, -1, dtype=np.int64)
    key_count = _key_incumbent_counts(rng, n_key, reps.is_new, reps.is_senior, reps.fte)
    incumbent[key_idx] = rng.permutation(np.repeat(np.arange(n_reps, dtype=np.int64), key_count))
    nonkey_idx = np.flatnonzero(~is_key)
    if nonkey_idx.size:
        spread = np.resize(rng.permutation(n_reps), nonkey_idx.size)
        owners = rng.permutation(spread)
        owners[rng.random(nonkey_idx.size) < _BLANK_INCUMBENT_SHARE] = -1
        incumbent[nonkey_idx] = owners
    return _Accounts(revenue, is_key, key_idx, key_workload, key_count, incumbent)


def _draw_account_products(
    rng: np.random.Generator, acc: _Accounts, terr: _Territories, reps: _Reps
) -> _AccountRows:
    """Products per account: mostly 1-2, key accounts buy more, chosen by the incumbent's region
    mix; the revenue is split over them (gamma weights, cents)."""
    n_acc, n_prod = acc.revenue.size, terr.base_mix.size
    n_bought = 1 + rng.choice(n_prod, size=n_acc, p=_bought_probs(n_prod))
    n_bought = np.minimum(n_bought + (acc.is_key & (rng.random(n_acc) < 0.4)), n_prod)
    acc_mix = np.where(
        acc.incumbent[:, None] >= 0, terr.region_mix[reps.region[acc.incumbent]], terr.base_mix
    )
    gumbel = np.log(acc_mix) - np.log(-np.log(rng.random((n_acc, n_prod))))
    prod_rank = np.argsort(np.argsort(-gumbel, axis=1, kind="stable"), axis=1, kind="stable")
    bought = prod_rank < n_bought[:, None]
    split = rng.gamma(2.0, 1.0, (n_acc, n_prod)) * bought
    split /= split.sum(axis=1, keepdims=True)
    acc_row, prod_row = np.nonzero(bought)  # sorted by account, then product order
    row_revenue = np.round(acc.revenue[acc_row] * split[acc_row, prod_row], 2)
    return _AccountRows(acc_row, prod_row, row_revenue)


def _key_limits(acc: _Accounts, reps: _Reps) -> tuple[IntArray, IntArray]:
    """Per-rep ``max_accounts`` / ``max_workload`` (-1 = the scenario default): part-timers get a
    smaller book, anyone whose current book is larger than the default keeps room for it."""
    key_load = np.bincount(acc.incumbent[acc.key_idx], acc.key_workload, reps.n).astype(np.int64)
    part_time = reps.fte < 1.0
    max_acc = np.where(part_time, np.maximum(_PART_TIME_MAX_ACCOUNTS, acc.key_count), -1)
    max_acc = np.where(acc.key_count > MAX_ACCOUNTS, acc.key_count, max_acc)
    max_load = np.where(part_time, np.maximum(_PART_TIME_MAX_WORKLOAD, key_load), -1)
    max_load = np.where(key_load > MAX_WORKLOAD, key_load, max_load)
    return max_acc, max_load


def _base_mix(products: tuple[str, ...]) -> FloatArray:
    if products == DEFAULT_PRODUCTS:
        return np.array([0.45, 0.35, 0.20])
    mix = 1.0 / np.arange(1, len(products) + 1)
    return mix / mix.sum()


def _bought_probs(n_prod: int) -> FloatArray:
    probs = np.array([0.55, 0.35, 0.10, 0.05, 0.03] + [0.01] * max(0, n_prod - 5))[:n_prod]
    return probs / probs.sum()


def _account_counts(
    n_reps: int, accounts_per_rep: float, key_share: float, key_accounts_per_rep: float | None
) -> tuple[int, int]:
    n_acc = round(accounts_per_rep * n_reps)
    if key_accounts_per_rep is None:
        return n_acc, round(key_share * n_acc)
    n_key = round(key_accounts_per_rep * n_reps)
    return max(n_acc, math.ceil(n_key / key_share - 1e-9)), n_key


def _key_incumbent_counts(
    rng: np.random.Generator,
    n_key: int,
    is_new: BoolArray,
    is_senior: BoolArray,
    fte: FloatArray,
) -> IntArray:
    """Key accounts per rep: seniors hold more, new hires none, at most 4 (part-time 2) each."""
    n_reps = is_new.size
    weight = np.where(is_senior, 2.5, 1.0) * np.where(fte < 1.0, 0.5, 1.0) * ~is_new
    cap = np.where(fte < 1.0, _KEY_CAP_PART_TIME, _KEY_CAP) * ~is_new
    if weight.sum() == 0:  # everybody is new: anyone may hold key accounts
        weight = np.ones(n_reps)
        cap = np.full(n_reps, _KEY_CAP)
    eligible = weight > 0
    if cap.sum() < n_key:  # very many key accounts per rep: raise everybody's cap evenly
        cap = cap + eligible * math.ceil((n_key - cap.sum()) / eligible.sum())
    counts = rng.multinomial(n_key, weight / weight.sum()).astype(np.int64)
    excess = int(np.maximum(counts - cap, 0).sum())
    counts = np.minimum(counts, cap).astype(np.int64)
    spare_slots = np.repeat(np.arange(n_reps), cap - counts)
    counts += np.bincount(rng.choice(spare_slots, size=excess, replace=False), minlength=n_reps)
    return counts


def _candidates(
    rng: np.random.Generator,
    key_idx: IntArray,
    incumbent: IntArray,
    revenue: FloatArray,
    key_workload: IntArray,
    rep_team: IntArray,
    org: _Org,
    per_key: int,
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Incumbent + (per_key - 1) distinct other reps of its team for every key account."""
    n_key = key_idx.size
    inc = incumbent[key_idx]
    team = rep_team[inc]
    others = org.team_size[team] - 1  # reps of the team other than the incumbent
    k = np.minimum(per_key - 1, others)
    chosen = np.full((n_key, per_key - 1), -1, dtype=np.int64)
    for j in range(per_key - 1):  # Floyd's sampling, vectorised over accounts
        upper = others - k + j
        draw = np.floor(rng.random(n_key) * (upper + 1)).astype(np.int64)
        dup = (chosen[:, :j] == draw[:, None]).any(axis=1)
        chosen[:, j] = np.where(j < k, np.where(dup, upper, draw), -1)
    inc_pos = inc - org.team_start[team]
    other_rep = org.team_start[team][:, None] + chosen + (chosen >= inc_pos[:, None])
    other_rep = np.where(chosen >= 0, other_rep, -1)
    reps_matrix = np.concatenate([inc[:, None], other_rep], axis=1)
    factor = rng.uniform(0.8, 1.25, reps_matrix.shape)
    cost_matrix = np.round(MOVE_COST * revenue[key_idx][:, None] * factor, 2)
    cost_matrix[:, 0] = 0.0
    acc_matrix = np.broadcast_to(key_idx[:, None], reps_matrix.shape)
    load_matrix = np.broadcast_to(key_workload[:, None], reps_matrix.shape)
    valid = reps_matrix >= 0
    acc, rep = acc_matrix[valid], reps_matrix[valid]
    cost, load = cost_matrix[valid], load_matrix[valid]
    sort = np.lexsort((rep, acc))
    return acc[sort], rep[sort], cost[sort], load[sort]
