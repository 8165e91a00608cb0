"""Lagrangian integer bound and plan from block MIPs at the LP prices: :func:`lagrangian`,
raised by rounds on better prices when weak: :func:`improve_bound`.

Without its K linking rows (the company totals) the rounding MIP falls into independent blocks b
(:func:`~allocopt.solve.blocks._blocks_of`):

    min Σ_b c_b x_b   s.t.  lo_L ≤ Σ_b L_b x_b ≤ up_L,   x_b ∈ X_b (the block's rows, bounds and
                                                          integrality)

For any prices π on the linking rows (HiGHS's row-dual convention: reduced cost c − Lᵀπ, π_r > 0
when row r's lower bound binds in a minimisation) and every plan x meeting them,

    c x ≥ c x − π·(L x − side(π)) = Σ_b (c_b − L_bᵀπ) x_b + π·side(π) ≥ Σ_b w_b(π) + π·side(π)

with side_r = lo_r if π_r > 0 else up_r (the term vanishes for π_r = 0), and
w_b(π) = min {(c_b − L_bᵀπ) x_b : x_b ∈ X_b} the block's FULL integer pricing problem. So

    LB_int(π) = Σ_b w_b(π) + π·side(π)

bounds every integer plan, and any lower bound on w_b (HiGHS's MIP dual bound when a block stops
at its gap tolerance or time limit; the block's LP value (c_b − L_bᵀπ) x_b^LP at worst) keeps it
valid. At the LP's optimal duals every w_b is at least the block's LP value, so LB_int ≥ the LP
bound; it adds what rounding costs inside each block (every quota a multiple of u), which the LP
bound misses.

The LP prices need not maximise LB_int, and can be far from it: when a rule holds some quotas off
their reference, the LP prices a total at the deviation's slope (π ≈ 1), where rounding a quota
up costs nothing in the priced blocks and LB_int stays at the LP bound although every plan pays
for its rounding (5k reps with market shocks: LB_int 0.59 M at the LP prices, 4.33 M at π = 0,
the integer optimum 4.33 M). LB_int(π) is concave (a minimum of functions linear in π), so
:func:`improve_bound` climbs it from the LP prices with a trust-region cutting-plane model
built from the block plans (subgradient cuts, one per block and round), keeping the best bound:
valid whatever the prices, never below the bound at the LP prices.

The blocks' optima also give a plan (a Lagrangian heuristic): each x_b(π) is optimal for c_b
among the block's plans with the same link activities s_b = L_b x_b(π) (the price term is
constant there). Their union misses each equality total by a few units; for row r with n_r units
missing, the candidate blocks (the ones whose LP activity exceeds s_rb most in the direction
needed, ties by lower block) are re-solved with their link activities fixed to s_b ± one unit
on r, and the |n_r| cheapest changes are kept; a block picked for several rows is re-solved with
all of its changes. The plan then meets every row, and it exceeds LB_int by the blocks' own gap
tolerance plus what the changes cost, both stated in the gap.
Everything runs block by block in ``workers`` processes (or the Dask cluster of
:data:`~allocopt.solve.decompose.BLOCK_MAP`), in block order: the same bytes whatever the
number of workers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from allocopt.solve.highs import Compiled, SolveResult, highs_lp, run_arrays, run_lp

CANDIDATES_EXTRA = 4
"""Blocks tried per missing unit of a total: 2·|n_r| + this many, the cheapest |n_r| kept."""

DUAL_ROUNDS = 8
"""At most this many rounds of block MIPs in :func:`improve_bound` after the LP prices."""

_Mip = tuple[Any, ...]  # cost, offset, lo, hi, row lo, row up, indptr, indices, data, integer


@dataclass
class _Own:
    """A block's own (non-link) rows and its matrix there, column-wise (int32, int32, float)."""

    rows: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def matrix(self, n_cols: int) -> sp.csc_matrix:
        return sp.csc_matrix((self.data, self.indices, self.indptr), shape=(len(self.rows), n_cols))


@dataclass
class _Split:
    """The model in HiGHS's units, split into blocks: each block's columns and own rows."""

    link: sp.csr_matrix  # the linking rows, K × n
    link_rows: np.ndarray
    cost: np.ndarray
    clo: np.ndarray
    chi: np.ndarray
    rlo: np.ndarray
    rup: np.ndarray
    integ: np.ndarray
    cols: list[np.ndarray]  # each block's columns
    own: list[_Own]  # each block's own rows and their matrix
    _static: list[tuple[np.ndarray, ...]] | None = None  # every block's problem but its cost

    def priced(self, pi: np.ndarray, x_lp: np.ndarray) -> tuple[list[_Mip], np.ndarray]:
        """Every block's full pricing problem at prices ``pi``, and the priced value of the LP
        point x^LP in each block, (c_b − L_bᵀπ)·x_b^LP.

        Block b's objective reads c_b x_b + π·(L_b x_b^LP − L_b x_b) (offset π·L_b x_b^LP): about
        the block's cost, so the relative MIP gap means what it means for the whole model.
        What does not depend on π (bounds, rows, matrix, integrality) is sliced once, at the
        first call, and shared by every round's problems."""
        if self._static is None:
            self._static = [
                (
                    self.clo[cols],
                    self.chi[cols],
                    self.rlo[own.rows],
                    self.rup[own.rows],
                    own.indptr,
                    own.indices,
                    own.data,
                    self.integ[cols],
                )
                for cols, own in zip(self.cols, self.own, strict=True)
            ]
        reduced = self.cost - np.asarray(self.link.T @ pi).ravel()
        problems: list[_Mip] = []
        values = np.zeros(len(self.cols))
        for b, cols in enumerate(self.cols):
            values[b] = float(reduced[cols] @ x_lp[cols])
            offset = float(self.cost[cols] @ x_lp[cols]) - values[b]
            clo, chi, rlo, rup, indptr, indices, data, integ = self._static[b]
            problems.append(
                (reduced[cols], offset, clo, chi, rlo, rup, indptr, indices, data, integ)
            )
        return problems, values

    def fixed(self, b: int, target: np.ndarray, touches: np.ndarray) -> _Mip:
        """Block b's own problem (cost c_b) with its link activities fixed to ``target``."""
        cols = self.cols[b]
        rows, sub = self.own[b].rows, self.own[b].matrix(len(cols))
        lrows = np.flatnonzero(touches)
        m = sp.vstack([sub, self.link[lrows][:, cols]]).tocsc()
        lo = np.concatenate([self.rlo[rows], target[lrows]])
        up = np.concatenate([self.rup[rows], target[lrows]])
        return _mip(
            self.cost[cols], 0.0, self.clo[cols], self.chi[cols], lo, up, m, self.integ[cols]
        )


@dataclass
class Lagrangian:
    """The bound and (when the totals could be restored) the plan, in HiGHS's units."""

    bound: float  # LB_int(π) including the model's objective offset
    lp_part: float  # the same sum with every block at its LP value: the LP bound, recomputed
    values: np.ndarray | None  # every column of a plan that meets every row, or None
    objective: float | None
    n_blocks: int
    timed_out: int  # blocks whose pricing MIP stopped at the time limit
    changed: int  # blocks re-solved to restore the totals
    missing: int  # units the blocks' union missed the totals by, in all
    seconds: float
    lp_price_bound: float | None = None  # LB_int at the LP prices (``bound`` may be higher)
    rounds: int = 0  # rounds of :func:`improve_bound` (each: every block's MIP)
    _split: _Split | None = None  # what :func:`repair` needs: the blocks and their optima
    _sols: list[np.ndarray] | None = None  # the blocks' optima at the prices ``_pi``
    _pi: np.ndarray | None = None
    _plan_pi: np.ndarray | None = None  # the prices whose optima gave ``values``
    _unit: float = 1.0
    _x_lp: np.ndarray | None = None
    _offset: float = 0.0
    _kept: Any = None  # the block processes (a blocks.Spawned), kept for the rounds and repair


def _solve_mip(data: _Mip, options: dict[str, Any], deadline: float) -> tuple[Any, ...]:
    """One block's (MIP or LP) problem: (has solution, values, timed out, objective, bound)."""
    cost, offset, clo, chi, rlo, rup, indptr, indices, values, integ = data
    left = deadline - time.time()
    if left <= 0:
        return (False, None, True, None, -math.inf)
    h = run_arrays(
        cost,
        offset,
        clo,
        chi,
        rlo,
        rup,
        indptr,
        indices,
        values,
        integ,
        {**options, "time_limit": left},
    )
    info = h.getInfo()
    timed_out = str(h.getModelStatus()).endswith("kTimeLimit")
    has = info.primal_solution_status == 2
    x = np.asarray(h.getSolution().col_value, dtype=float) if has else None
    obj = float(info.objective_function_value) if has else None
    if bool(integ.any()):
        bound = float(info.mip_dual_bound)
    else:
        optimal = str(h.getModelStatus()).endswith("kOptimal")
        bound = obj if optimal and obj is not None else -math.inf
    return (has, x, timed_out, obj, bound if math.isfinite(bound) else -math.inf)


def _solve_chunk_priced(
    chunk: list[_Mip], options: dict[str, Any], deadline: float
) -> list[tuple[Any, ...]]:
    """Solve consecutive block problems in one worker process (all of them, in order)."""
    return [_solve_mip(d, options, deadline) for d in chunk]


def lagrangian(
    comp: Compiled,
    relaxed: SolveResult,
    link_rows: np.ndarray,
    unit: float,
    col_block: np.ndarray,
    options: dict[str, Any],
    deadline: float,
    workers: int = 1,
    repair: bool = True,
) -> Lagrangian | None:
    """LB_int at the LP relaxation's duals on ``link_rows`` and the repaired block plan.

    ``col_block`` is every column's block, ``deadline`` a ``time.time()`` instant, ``options``
    HiGHS options for the block MIPs (``mip_rel_gap`` applies to each block's objective, offset
    to about the block's cost). With ``repair`` the blocks' optima are made into a plan. None
    when the relaxation has no duals, a price points to an infinite side, or a block has no
    bound while x^LP does not price out at π (then no finite or no valid bound).
    """
    if relaxed.row_duals is None or relaxed.col_values is None or not len(link_rows):
        return None
    t0 = time.perf_counter()
    lp = comp.lp
    a = comp.matrix.tocsc()
    n_rows = a.shape[0]
    cost, clo, chi, rlo, rup = comp.arrays()
    integ = comp.integer_columns()
    pi = np.asarray(relaxed.row_duals, dtype=float)[link_rows]
    constant = _side_term(pi, rlo[link_rows], rup[link_rows])
    if constant is None:
        return None
    constant += float(lp.offset_)
    link = a[link_rows, :].tocsr()  # K × n
    x_lp = np.asarray(relaxed.col_values, dtype=float)
    is_link = np.zeros(n_rows, dtype=bool)
    is_link[link_rows] = True

    order = np.argsort(col_block, kind="stable")
    cuts = np.flatnonzero(np.diff(col_block[order])) + 1
    block_cols = [np.sort(c) for c in np.split(order, cuts)]
    n_blocks = len(block_cols)
    own = _own_rows(a, is_link, block_cols)
    split = _Split(link, link_rows, cost, clo, chi, rlo, rup, integ, block_cols, own)
    priced, lp_value = split.priced(pi, x_lp)
    kept = _spawned()
    results = _run(priced, options, deadline, workers, kept)
    # a block without a MIP bound counts at its LP value at the LP optimum: valid (to the LP's
    # tolerance) only when x^LP prices out optimally at π, i.e. Σ_b LP values + π·side is the
    # LP bound; otherwise there is no bound
    lp_part = float(lp_value.sum()) + constant
    exact = abs(lp_part - float(relaxed.bound or 0.0)) <= 1e-7 * max(1.0, abs(lp_part))
    bounds = np.array([float(r[4]) - float(d[1]) for r, d in zip(results, priced, strict=True)])
    if not exact and not np.all(np.isfinite(bounds)):
        return None
    w = np.where(np.isfinite(bounds), bounds, lp_value)
    timed_out = sum(bool(r[2]) for r in results)
    out = Lagrangian(
        bound=float(w.sum()) + constant,
        lp_part=lp_part,
        values=None,
        objective=None,
        n_blocks=n_blocks,
        timed_out=timed_out,
        changed=0,
        missing=0,
        seconds=0.0,
    )
    out.lp_price_bound = out.bound
    out._kept = kept
    out._split, out._pi = split, pi
    out._unit, out._x_lp, out._offset = unit, x_lp, float(lp.offset_)
    if all(r[0] for r in results):
        out._sols = [r[1] for r in results]
    out.seconds = time.perf_counter() - t0
    if repair:
        lagrangian_plan(out, options, deadline, workers)
    return out


def lagrangian_plan(
    lag: Lagrangian, options: dict[str, Any], deadline: float, workers: int = 1
) -> None:
    """The blocks' optima of :func:`lagrangian` (at the best prices of :func:`improve_bound`
    when it ran) made into a plan that meets every row (see the top): sets ``values``,
    ``objective``, ``changed`` and ``missing`` of ``lag`` when it can; a plan already made from
    other prices' optima is replaced only by a cheaper one."""
    if lag._split is None or lag._sols is None or lag._x_lp is None:
        return
    if lag.values is not None and lag._plan_pi is lag._pi:
        return  # made from these optima already
    t0 = time.perf_counter()
    trial = replace(lag, values=None, objective=None, changed=0, missing=0)
    _repair(trial, lag._split, lag._unit, lag._x_lp, lag._sols, options, deadline, workers)
    if trial.values is not None:
        objective = float(lag._split.cost @ trial.values) + lag._offset
        if lag.objective is None or objective < lag.objective:
            lag.values, lag.objective = trial.values, objective
            lag.changed, lag.missing = trial.changed, trial.missing
    lag._plan_pi = lag._pi
    lag.seconds += time.perf_counter() - t0


def improve_bound(
    lag: Lagrangian,
    target: float,
    tol: float,
    options: dict[str, Any],
    deadline: float,
    workers: int = 1,
    rounds: int | None = None,
) -> None:
    """Raise ``lag.bound`` by better prices: a trust-region cutting-plane method on the
    Lagrangian dual, disaggregated by block (see the top).

    Every block plan x_b^j found so far (one per block and round) bounds the block's pricing
    value from above for every π: w_b(π) ≤ c_b·x_b^j − π·L_b x_b^j. So

        M(π) = Σ_b min_j (c_b·x_b^j − π·L_b x_b^j) + π·side(π)  ≥  LB_int(π)

    (the dual of a Dantzig–Wolfe master over the blocks' integer plans). The next prices
    maximise M over the box ‖π − π_best‖_∞ ≤ Δ (a small LP: K prices, one column per block, one
    row per block plan); a round then solves every block's full MIP there (in ``workers``
    processes, in block order), giving LB_int(π) and each block's new plan. A round that raises
    the bound moves the centre π_best there (Δ doubles when the step reached the box's edge);
    one that does not halves Δ. The first Δ is the largest component of Polyak's step
    2·(target − LB_int)/‖g‖²·g from the LP prices (g = side(π) − L·x(π), a supergradient).
    Prices keep their sign on one-sided rows. Stops when the bound is within ``tol``
    (relative) of ``target`` (the best plan's objective, which no LB_int exceeds), after
    ``rounds`` rounds (default :data:`DUAL_ROUNDS`), when the model promises no more than that
    tolerance, when the blocks' optima meet every linking row (g = 0), or when one more round
    (timed as the last) would pass ``deadline``; a round with a block that has neither a plan
    nor a bound (cut by the deadline) is dropped. Every round's LB_int is a valid bound, so
    ``lag.bound`` = the best of them. Deterministic: everything depends only on the blocks'
    results in block order, which do not depend on the number of workers.
    """
    split, sols, pi, x_lp = lag._split, lag._sols, lag._pi, lag._x_lp
    if split is None or sols is None or pi is None or x_lp is None:
        return
    t0 = time.perf_counter()
    lo, up = split.rlo[split.link_rows], split.rup[split.link_rows]
    best_lb, best_pi, best_sols = lag.bound, pi, sols
    costs, acts = [], []  # per round: every block plan's cost c_b·x_b and link activity L_b x_b
    c, a = _block_plans(split, sols)
    costs.append(c)
    acts.append(a)
    g = _supergradient(split, pi, sols, lo, up)
    norm = float(g @ g)
    if norm == 0.0:
        return
    delta = float(np.max(np.abs(2.0 * (target - best_lb) / norm * g)))
    last = max(lag.seconds, 1e-3)  # the time of one round of block MIPs
    gap = tol * max(abs(target), 1e-9)
    for _ in range(DUAL_ROUNDS if rounds is None else rounds):
        if target - best_lb <= gap or delta <= 1e-12 * (1.0 + float(np.max(np.abs(best_pi)))):
            break
        if time.time() + last > deadline:
            break
        model = _cutting_plane(np.stack(costs), np.stack(acts), best_pi, delta, lo, up)
        if model is None:
            break
        trial, promised = model
        inside = float(np.max(np.abs(trial - best_pi))) < 0.99 * delta
        if inside and promised + lag._offset - best_lb <= gap:
            break  # M's maximum (M is concave): no price raises the bound by more than the gap
        constant = _side_term(trial, lo, up)
        if constant is None or np.array_equal(trial, best_pi):
            break
        tr = time.perf_counter()
        priced, _ = split.priced(trial, x_lp)
        results = _run(priced, options, deadline, workers, lag._kept)
        last = time.perf_counter() - tr
        lag.rounds += 1
        bounds = np.array([float(r[4]) - float(d[1]) for r, d in zip(results, priced, strict=True)])
        if not np.all(np.isfinite(bounds)) or not all(r[0] for r in results):
            break  # cut by the deadline (or a block without a plan): keep the best so far
        new_sols = [np.asarray(r[1], dtype=float) for r in results]
        c, a = _block_plans(split, new_sols)
        costs.append(c)
        acts.append(a)
        lb = float(bounds.sum()) + constant + lag._offset
        if lb > best_lb:
            # the model's promise kept (ρ ≥ 1/2): a bigger box if the step reached its edge;
            # poorly kept: a box half the step, so far cuts weigh less
            rho = (lb - best_lb) / max(promised + lag._offset - best_lb, 1e-300)
            moved = float(np.max(np.abs(trial - best_pi)))
            delta = 2.0 * delta if rho >= 0.5 and moved >= 0.99 * delta else moved / 2.0
            best_lb, best_pi, best_sols = lb, trial, new_sols
        else:
            delta /= 2.0
    lag.bound, lag._pi, lag._sols = best_lb, best_pi, best_sols
    lag.seconds += time.perf_counter() - t0


def _block_plans(split: _Split, sols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each block plan's cost c_b·x_b (B) and link activities L_b x_b (B × K)."""
    n_blocks = len(split.cols)
    x = np.zeros(split.link.shape[1])
    col_block = np.empty(len(x), dtype=np.int64)
    for b, (cols, xb) in enumerate(zip(split.cols, sols, strict=True)):
        x[cols] = xb
        col_block[cols] = b
    cost = np.bincount(col_block, weights=split.cost * x, minlength=n_blocks)
    lc = split.link.tocoo()
    act = np.zeros((n_blocks, split.link.shape[0]))
    np.add.at(act, (col_block[lc.col], lc.row), lc.data * x[lc.col])
    return cost, act


def _cutting_plane(
    costs: np.ndarray,
    acts: np.ndarray,
    center: np.ndarray,
    delta: float,
    lo: np.ndarray,
    up: np.ndarray,
) -> tuple[np.ndarray, float] | None:
    """argmax of M(π) = Σ_b min_j (costs[j,b] − π·acts[j,b]) + π·side(π) over the box
    ‖π − center‖_∞ ≤ delta (signs kept on one-sided rows), and M there (no objective offset).

    One LP, maximised: columns π (K), s (K, s_r ≤ π_r·lo_r and ≤ π_r·up_r: π_r·side_r(π)),
    t (B, t_b ≤ costs[j,b] − π·acts[j,b] for every plan j)."""
    n_plans, n_blocks, k = acts.shape
    rows_a: list[sp.coo_matrix] = []
    # cuts: t_b + acts[j,b]·π ≤ costs[j,b]
    cut_rows = np.arange(n_plans * n_blocks)
    t_part = sp.coo_matrix(
        (np.ones(len(cut_rows)), (cut_rows, 2 * k + np.tile(np.arange(n_blocks), n_plans))),
        shape=(len(cut_rows), 2 * k + n_blocks),
    )
    flat = acts.reshape(n_plans * n_blocks, k)
    pr, pc = np.nonzero(flat)
    pi_part = sp.coo_matrix((flat[pr, pc], (pr, pc)), shape=t_part.shape)
    rows_a.append((t_part + pi_part).tocoo())
    rup_list = [costs.reshape(-1)]
    # s_r − side·π_r ≤ 0 for each finite side (s_r ≤ 0 on a free row)
    for side in (lo, up):
        r = np.flatnonzero(np.isfinite(side))
        m = sp.coo_matrix(
            (
                np.concatenate([np.ones(len(r)), -side[r]]),
                (np.tile(np.arange(len(r)), 2), np.concatenate([k + r, r])),
            ),
            shape=(len(r), 2 * k + n_blocks),
        )
        rows_a.append(m)
        rup_list.append(np.zeros(len(r)))
    free = np.flatnonzero(~np.isfinite(lo) & ~np.isfinite(up))
    rows_a.append(
        sp.coo_matrix(
            (np.ones(len(free)), (np.arange(len(free)), k + free)),
            shape=(len(free), 2 * k + n_blocks),
        )
    )
    rup_list.append(np.zeros(len(free)))
    a = sp.vstack(rows_a).tocsc()
    rup = np.concatenate(rup_list)
    rlo = np.full(len(rup), -np.inf)
    plo = _project(center - delta, lo, up)
    phi = _project(center + delta, lo, up)
    clo = np.concatenate([np.minimum(plo, phi), np.full(k + n_blocks, -np.inf)])
    chi = np.concatenate([np.maximum(plo, phi), np.full(k + n_blocks, np.inf)])
    cost = np.concatenate([np.zeros(k), np.ones(k + n_blocks)])
    lp = highs_lp(cost, clo, chi, a, rlo, rup, maximize=True)
    h = run_lp(lp, {"threads": 1, "random_seed": 0})
    if not str(h.getModelStatus()).endswith("kOptimal"):
        return None
    x = np.asarray(h.getSolution().col_value, dtype=float)
    return x[:k].copy(), float(h.getInfo().objective_function_value)


def _own_rows(a: sp.csc_matrix, is_link: np.ndarray, block_cols: list[np.ndarray]) -> list[_Own]:
    """Each block's own rows (the non-link rows its columns touch, ascending) and its matrix
    there (its columns in order, each column's entries in ``a``'s order), for every block at once:
    ``a[:, cols][rows]`` of each block, vectorised (one column permutation, one sort of the
    (block, row) pairs), the per-block work left being array slices."""
    n_rows = a.shape[0]
    n_blocks = len(block_cols)
    sizes = np.array([len(c) for c in block_cols], dtype=np.int64)
    perm = np.concatenate(block_cols) if n_blocks else np.zeros(0, dtype=np.int64)
    sub = a[:, perm]  # every block's columns, block after block
    col_of = np.repeat(np.arange(len(perm)), np.diff(sub.indptr))
    keep = ~is_link[sub.indices]
    rows, data, col_of = sub.indices[keep], sub.data[keep], col_of[keep]
    block_of = np.repeat(np.arange(n_blocks), sizes)[col_of]
    pairs, local = np.unique(block_of * np.int64(n_rows) + rows, return_inverse=True)
    first = np.searchsorted(pairs // n_rows, np.arange(n_blocks + 1))  # each block's first pair
    local = (local.ravel() - first[block_of]).astype(np.int32)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(col_of, minlength=len(perm)))])
    col_start = np.concatenate([[0], np.cumsum(sizes)])
    data = data.astype(float)
    out: list[_Own] = []
    for b in range(n_blocks):
        c0, c1 = int(col_start[b]), int(col_start[b + 1])
        p0, p1 = int(indptr[c0]), int(indptr[c1])
        out.append(
            _Own(
                pairs[first[b] : first[b + 1]] % n_rows,
                (indptr[c0 : c1 + 1] - p0).astype(np.int32),
                local[p0:p1],
                data[p0:p1],
            )
        )
    return out


def _side_term(pi: np.ndarray, lo: np.ndarray, up: np.ndarray) -> float | None:
    """π·side(π) (side_r = lo_r where π_r > 0, up_r where π_r < 0); None when a price points
    to an infinite side (then LB_int(π) = −∞)."""
    side = np.where(pi > 0, lo, up)
    used = pi != 0
    if not np.all(np.isfinite(side[used])):
        return None
    return float(pi[used] @ side[used])


def _project(pi: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Prices kept where LB_int is finite: π_r ≥ 0 on a row without upper bound, ≤ 0 on one
    without lower bound (0 on a free row)."""
    out = np.where(np.isfinite(up), pi, np.maximum(pi, 0.0))
    return np.where(np.isfinite(lo), out, np.minimum(out, 0.0))


def _supergradient(
    split: _Split, pi: np.ndarray, sols: list[np.ndarray], lo: np.ndarray, up: np.ndarray
) -> np.ndarray:
    """side(π) − L·x(π) at the blocks' optima: a supergradient of LB_int at π (for π_r = 0 the
    one of smallest size, the activity's distance to [lo_r, up_r])."""
    x = np.zeros(split.link.shape[1])
    for cols, xb in zip(split.cols, sols, strict=True):
        x[cols] = xb
    act = np.asarray(split.link @ x).ravel()
    side = np.where(pi > 0, lo, np.where(pi < 0, up, np.clip(act, lo, up)))
    return np.asarray(side - act, dtype=float)


def _mip(
    cost: np.ndarray,
    offset: float,
    clo: np.ndarray,
    chi: np.ndarray,
    rlo: np.ndarray,
    rup: np.ndarray,
    sub: sp.csc_matrix,
    integ: np.ndarray,
) -> _Mip:
    return (
        cost,
        offset,
        clo,
        chi,
        rlo,
        rup,
        sub.indptr.astype(np.int32),
        sub.indices.astype(np.int32),
        sub.data.astype(float),
        integ,
    )


def _spawned() -> Any:
    from allocopt.solve.blocks import Spawned

    return Spawned()


def _run(
    problems: list[_Mip], options: dict[str, Any], deadline: float, workers: int, kept: Any = None
) -> list[tuple[Any, ...]]:
    """The block problems' results in block order (:func:`~allocopt.solve.blocks._run_blocks`),
    in ``kept``'s processes when given (kept from one round to the next)."""
    from allocopt.solve.blocks import _run_blocks

    return _run_blocks(problems, options, deadline, workers, _solve_chunk_priced, kept)


def _repair(
    out: Lagrangian,
    split: _Split,
    unit: float,
    x_lp: np.ndarray,
    sols: list[np.ndarray],
    options: dict[str, Any],
    deadline: float,
    workers: int,
) -> None:
    """Restore the linking rows from the blocks' pricing optima (see the module docstring);
    sets ``out.values`` when every row holds."""
    link, link_rows, block_cols = split.link, split.link_rows, split.cols
    rlo, rup, cost = split.rlo, split.rup, split.cost
    k = len(link_rows)
    x = x_lp.copy()
    for cols, xb in zip(block_cols, sols, strict=True):
        x[cols] = xb
    col_block = np.empty(len(x), dtype=np.int64)
    for b, cols in enumerate(block_cols):
        col_block[cols] = b
    n_blocks = len(block_cols)
    lc = link.tocoo()
    share = np.zeros((k, n_blocks))  # s_rb at the blocks' optima
    np.add.at(share, (lc.row, col_block[lc.col]), lc.data * x[lc.col])
    lp_share = np.zeros((k, n_blocks))
    np.add.at(lp_share, (lc.row, col_block[lc.col]), lc.data * x_lp[lc.col])
    touches = np.zeros((k, n_blocks), dtype=bool)
    touches[lc.row, col_block[lc.col]] = True
    total = share.sum(axis=1)
    lo, up = rlo[link_rows], rup[link_rows]
    need = np.where(total < lo, lo - total, np.where(total > up, up - total, 0.0))
    steps = need / unit
    if not np.all(np.isfinite(steps)) or not np.allclose(steps, np.round(steps), atol=1e-6):
        return  # the totals are not reachable in whole units
    steps = np.round(steps).astype(np.int64)
    out.missing = int(np.abs(steps).sum())
    if out.missing > n_blocks:
        return  # more units than blocks: not a few units off (an unbounded block, say)
    # candidates: one step of ±unit on one row of one block, link activities otherwise fixed
    tried: list[tuple[int, int, int]] = []  # (row, block, sign)
    problems: list[_Mip] = []
    for r in np.flatnonzero(steps).tolist():
        sign = 1 if steps[r] > 0 else -1
        blocks = np.flatnonzero(touches[r])
        room = sign * (lp_share[r, blocks] - share[r, blocks])
        pick = blocks[np.lexsort((blocks, -room))][: 2 * abs(int(steps[r])) + CANDIDATES_EXTRA]
        for b in pick.tolist():
            delta = np.zeros(k)
            delta[r] = sign * unit
            tried.append((r, b, sign))
            problems.append(split.fixed(b, share[:, b] + delta, touches[:, b]))
    results = _run(problems, options, deadline, workers, out._kept) if problems else []
    base = np.array([float(cost[c] @ x[c]) for c in block_cols])
    chosen: dict[int, np.ndarray] = {}  # block → its change of link activities
    by_block: dict[int, np.ndarray] = {}  # block → its re-solved values (one change)
    for r in np.flatnonzero(steps).tolist():
        cand = [
            (float(res[3]) - base[b], b, res[1])
            for (rr, b, _), res in zip(tried, results, strict=True)
            if rr == r and res[0]
        ]
        if len(cand) < abs(int(steps[r])):
            return  # not enough blocks can move: no plan from the blocks
        cand.sort(key=lambda t: (t[0], t[1]))
        for _, b, xb in cand[: abs(int(steps[r]))]:
            d = chosen.setdefault(b, np.zeros(k))
            d[r] += (1 if steps[r] > 0 else -1) * unit
            by_block[b] = xb
    again = [b for b, d in sorted(chosen.items()) if np.count_nonzero(d) > 1]
    if again:
        res2 = _run(
            [split.fixed(b, share[:, b] + chosen[b], touches[:, b]) for b in again],
            options,
            deadline,
            workers,
            out._kept,
        )
        for b, res in zip(again, res2, strict=True):
            if not res[0]:
                return
            by_block[b] = res[1]
    for b in chosen:
        x[block_cols[b]] = by_block[b]
    out.changed = len(chosen)
    out.values = x
