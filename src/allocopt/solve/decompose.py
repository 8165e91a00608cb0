"""Dantzig–Wolfe decomposition of a block-angular LP: :func:`solve_lp_decomposed`.

The LP relaxation of the quota model is block-angular: apart from a few linking rows (the
company totals, row block ``target``), its columns fall into independent blocks b (the connected
components of the remaining rows: a team, or a region when group rows join its teams):

    min Σ_b c_b x_b  s.t.  lo_L ≤ Σ_b L_b x_b ≤ up_L,  x_b ∈ X_b = {lo_b ≤ A_b x_b ≤ up_b, bounds}

Each x_b is written as a convex combination of proposals x_b^p ∈ X_b. The restricted master

    min Σ_bp (c_b x_b^p) λ_bp + B·Σ(s⁺ + s⁻)   s.t.   lo_L ≤ Σ_bp (L_b x_b^p) λ_bp + s⁺ − s⁻ ≤ up_L,
    Σ_p λ_bp = 1  (dual μ_b),   λ, s ≥ 0

gives prices π on the linking rows; every block then solves its pricing LP
v_b(π) = min {(c_b − L_bᵀπ) x_b : x_b ∈ X_b} and its optimum joins the master when its reduced
cost v_b − μ_b is negative. Every π gives the Lagrangian lower bound

    LB(π) = Σ_b v_b(π) + Σ_r π_r · (lo_r if π_r > 0 else up_r)  ≤  LP optimum  ≤  master objective,

so the method stops when the master objective (with s = 0) and the best LB agree to a relative
``tol`` (default 1e-9): the assembled x = Σ_p λ_bp x_b^p is then an optimal LP solution and
(π, the blocks' row duals) an optimal dual. Blocks are priced in packs of consecutive blocks (one
HiGHS LP each, warm-started across iterations; in ``solver.workers`` processes or on Dask by
:mod:`allocopt.solve.pricing`, the same bytes); a pack's optimum splits into its blocks' optima
because the blocks share no row. The penalty B on the artificial slacks grows ×100 while they
stay positive at convergence; a pricing LP that is unbounded, or a master that does not converge
before the deadline, ends the method with ``None`` (the caller solves the LP whole instead) —
except at the deadline with a feasible master point, which is returned with status
``time_limit``, its objective and the best Lagrangian bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from allocopt.solve.blocks import _blocks_of
from allocopt.solve.highs import Compiled, SolveResult, _highs, highs_lp, highs_version
from allocopt.solve.pricing import Pack, PackPool, open_pool

DECOMPOSE_ABOVE = 200_000
"""LP relaxations with more columns are solved by decomposition (solver.decompose_above)."""

PACK_COLUMNS = 20_000
"""Most columns in one pricing LP (several blocks, solved as one HiGHS LP)."""


def solve_lp_decomposed(
    comp: Compiled,
    link_rows: np.ndarray,
    options: dict[str, Any],
    *,
    tol: float = 1e-9,
    pack_columns: int | None = None,
    max_iterations: int = 500,
    workers: int = 1,
) -> SolveResult | None:
    """The LP relaxation of ``comp`` by Dantzig–Wolfe over the blocks left without ``link_rows``.

    Results as :func:`allocopt.solve.run_highs` gives them (HiGHS's scaled units); ``None`` when
    the method cannot finish (see the module docstring) and the LP should be solved whole.
    Packs have at most ``pack_columns`` columns (default :data:`PACK_COLUMNS`); with more than
    one pack they are priced in ``workers`` processes, or on the Dask cluster of
    :func:`dask_blocks` (:mod:`allocopt.solve.pricing`) — the same result, to the bit.
    """
    t0 = _now()
    deadline = t0 + float(options.get("time_limit", 1e9))
    lp = comp.lp
    if lp.sense_ != highspy.ObjSense.kMinimize or len(link_rows) == 0:
        return None
    n_cols = int(comp.matrix.shape[1])
    pack_columns = PACK_COLUMNS if pack_columns is None else max(1, int(pack_columns))
    opts = {key: v for key, v in options.items() if key in ("threads", "random_seed")}
    opts["mip_rel_gap"] = 0.0
    # workers start before the blocks are found, so their imports overlap that work; a plan of
    # one pack stays in this process
    pool = open_pool(
        workers if n_cols > pack_columns else 1,
        opts,
        PACK_CLIENT.get() if n_cols > pack_columns else None,
        hang_after=max(300.0, 2.0 * float(options.get("time_limit", 0.0))),
    )
    try:
        return _decompose(
            comp, link_rows, options, opts, pool, t0, deadline, tol, pack_columns, max_iterations
        )
    finally:
        pool.close()


def _decompose(
    comp: Compiled,
    link_rows: np.ndarray,
    options: dict[str, Any],
    opts: dict[str, Any],
    pool: PackPool,
    t0: float,
    deadline: float,
    tol: float,
    pack_columns: int,
    max_iterations: int,
) -> SolveResult | None:
    """:func:`solve_lp_decomposed` with its packs priced by ``pool``."""
    lp = comp.lp
    a = comp.matrix.tocsc()
    n_rows, n_cols = a.shape
    cost, clo, cup, rlo, rup = comp.arrays()
    offset = float(lp.offset_)
    is_link = np.zeros(n_rows, dtype=bool)
    is_link[link_rows] = True
    block = _blocks_of(comp, link_rows, np.ones(n_cols, dtype=bool), 1)
    n_blocks = int(block.max()) + 1 if n_cols else 0
    if n_blocks < 2:
        return None
    link = a[link_rows, :].tocsc()  # K × n
    k = len(link_rows)
    llo, lup = rlo[link_rows], rup[link_rows]

    # packs of consecutive blocks, each one pricing LP over its own (non-link) rows
    counts = np.bincount(block, minlength=n_blocks)
    pack_of_block = np.zeros(n_blocks, dtype=np.int64)
    pack, load = 0, 0
    for b, c in enumerate(counts.tolist()):
        if load > 0 and load + c > pack_columns:
            pack, load = pack + 1, 0
        pack_of_block[b] = pack
        load += c
    pack_of = pack_of_block[block]
    order = np.argsort(pack_of, kind="stable")
    cuts = np.flatnonzero(np.diff(pack_of[order])) + 1
    packs: list[tuple[np.ndarray, np.ndarray]] = []  # columns, rows
    pack_lps: list[Pack] = []
    for cols in np.split(order, cuts):
        cols = np.sort(cols)
        sub = a[:, cols]
        rows = np.unique(sub.indices)
        rows = rows[~is_link[rows]]
        sub = sub[rows].tocsc()
        link_t = link[:, cols].T.tocsr()
        pack_lps.append(Pack(cost[cols], clo[cols], cup[cols], sub, rlo[rows], rup[rows], link_t))
        packs.append((cols, rows))
    pool.load(pack_lps, opts)
    del pack_lps

    # the master: link rows, then one convexity row per block; artificial slacks first
    big = 1e3 * max(1.0, float(np.abs(cost).max(initial=0.0)))
    master = _highs(opts)
    mlo = np.concatenate([llo, np.ones(n_blocks)])
    mup = np.concatenate([lup, np.ones(n_blocks)])
    eye = sp.identity(k, format="csc")
    arts = sp.vstack([sp.hstack([eye, -eye]), sp.csc_matrix((n_blocks, 2 * k))]).tocsc()
    master.passModel(
        highs_lp(np.full(2 * k, big), np.zeros(2 * k), np.full(2 * k, np.inf), arts, mlo, mup)
    )
    prop_x: list[sp.csc_matrix] = []  # proposal values, n × (proposals of one round)
    pi = np.zeros(k)
    mu = np.full(n_blocks, -np.inf)
    best_lb, master_obj = -np.inf, np.inf
    best_pi, best_dual = pi, None  # the prices of the best LB and the blocks' duals there
    row_dual = np.zeros(n_rows)
    iterations = 0
    converged = False
    x_price = np.zeros(n_cols)
    scale_l = max(1.0, float(np.abs(np.where(np.isfinite(llo), llo, 0.0)).max(initial=1.0)))
    timed_out = False
    cut_short = False  # the deadline passed in the middle of a pricing round
    while iterations < max_iterations:
        iterations += 1
        # price every pack with the link prices; from the second round on, the deadline may
        # stop the round between packs (the first round always ends: every block needs a proposal)
        reduced = cost - np.asarray(link.T @ pi).ravel()
        # the deadline on the workers' clock (time.time()), read from this module's clock
        stop = None if iterations == 1 else time.time() + (deadline - _now())
        results = pool.price(pi, stop, f"in master iteration {iterations}")
        done = np.zeros(len(packs), dtype=bool)
        for i, ((cols, rows), r) in enumerate(zip(packs, results, strict=True)):
            if r is None:
                cut_short = True  # the deadline stopped this pack's set before it
                continue
            if not r[0]:
                return None  # unbounded or infeasible block: the caller solves the LP whole
            x_price[cols] = r[1]
            row_dual[rows] = r[2]
            done[i] = True  # packs are numbered as pack_of_block numbers them
        priced = done[pack_of_block]
        v = np.bincount(block, weights=reduced * x_price, minlength=n_blocks)
        side = np.where(pi > 0, llo, lup)
        used = pi != 0
        if not cut_short and np.all(np.isfinite(side[used])):
            lb = float(v.sum() + pi[used] @ side[used])
            if lb > best_lb:
                # the dual that certifies the bound (the last round's prices need not)
                best_lb, best_pi, best_dual = lb, pi.copy(), row_dual.copy()
        if iterations == 1:
            new = np.arange(n_blocks)
        else:
            art = np.asarray(master.getSolution().col_value[: 2 * k], dtype=float)
            feasible = float(art.sum()) <= 1e-9 * scale_l
            if feasible and master_obj - best_lb <= tol * max(1.0, abs(master_obj)):
                converged = True
                break
            new = np.flatnonzero(priced & (v - mu < -tol * max(1.0, abs(master_obj))))
            if len(new) == 0 and not cut_short:
                if feasible:
                    converged = True  # no proposal prices out: the master is LP-optimal
                    break
                big *= 100.0  # artificials still in use: make them dearer and go on
                master.changeColsCost(2 * k, np.arange(2 * k, dtype=np.int32), np.full(2 * k, big))
        if len(new):
            # one proposal per improving block: its columns of the pricing optimum
            cols = np.flatnonzero(np.isin(block, new))
            pos = np.searchsorted(new, block[cols])
            px = sp.csc_matrix((x_price[cols], (cols, pos)), shape=(n_cols, len(new)))
            pcost = np.asarray(px.T @ cost).ravel()
            conv = sp.csc_matrix(
                (np.ones(len(new)), (new, np.arange(len(new)))), shape=(n_blocks, len(new))
            )
            colmat = sp.vstack([link @ px, conv]).tocsc()
            master.addCols(
                len(new),
                pcost,
                np.zeros(len(new)),
                np.full(len(new), highspy.kHighsInf),
                int(colmat.nnz),
                colmat.indptr[:-1].astype(np.int32),
                colmat.indices.astype(np.int32),
                colmat.data.astype(float),
            )
            prop_x.append(px)
        # the master is small (proposals × linking rows): it is solved even past the deadline,
        # so the best convex combination of the proposals so far is always at hand
        master.run()
        if master.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        duals = np.asarray(master.getSolution().row_dual, dtype=float)
        pi, mu = duals[:k], duals[k:]
        master_obj = float(master.getInfo().objective_function_value)
        if cut_short or _now() > deadline:
            timed_out = True
            break
    if not prop_x:
        return None
    lam = np.asarray(master.getSolution().col_value, dtype=float)
    broken = float(lam[: 2 * k].sum())  # artificial slack still in the linking rows
    feasible = broken <= 1e-9 * scale_l
    if not feasible and not timed_out:
        return None  # no feasible master point: let the whole LP decide
    allx = sp.hstack(prop_x).tocsc()
    x = np.asarray(allx @ lam[2 * k :]).ravel()
    objective = float(cost @ x) + offset
    if best_dual is not None:
        row_dual = best_dual
    row_dual[link_rows] = best_pi
    col_dual = cost - np.asarray(a.T @ row_dual).ravel()
    bound = best_lb + offset if np.isfinite(best_lb) else None
    if converged:
        state = "Optimal"
    elif feasible:
        state = "Time limit reached (best master point so far, not optimal)"
    else:
        # the proposals cannot meet the linking rows yet: x breaks them by ``broken`` in all
        # (phase 1 unfinished); the caller's rounded assembly restores the totals
        state = (
            "Time limit reached before the master was feasible: the linking rows are off by "
            f"{broken:.6g} in all (not an LP solution)"
        )
    res = SolveResult(
        "optimal" if converged else "time_limit",
        True,
        objective=objective,
        bound=bound,
        gap=abs(objective - bound) / max(1e-9, abs(objective))
        if bound is not None and feasible
        else None,
        is_mip=False,
        message=(
            f"{state}: Dantzig–Wolfe over {n_blocks} "
            f"blocks ({len(packs)} pricing LPs, {k} linking rows, {iterations} master iterations"
            + (", last round cut short by the deadline" if cut_short else "")
            + ")"
        ),
        solver=highs_version(),
        seconds=_now() - t0,
        n_cols=n_cols,
        n_rows=n_rows,
        n_nonzeros=int(a.nnz),
        options=dict(options),
        col_values=x,
        row_duals=row_dual if converged else None,
        col_duals=col_dual if converged else None,
    )
    return res


def _now() -> float:
    """The clock the deadline is read from (one place, so tests can move it)."""
    return time.perf_counter()


BlockMap = Callable[..., list[Any]]
"""``mapper(f, *iterables)`` → ``[f(*args) for args in zip(*iterables)]``, in order."""

BLOCK_MAP: ContextVar[BlockMap | None] = ContextVar("allocopt_block_map", default=None)
"""Where the rounding MIP's blocks run: unset → local processes (``solver.workers``)."""

PACK_CLIENT: ContextVar[Any] = ContextVar("allocopt_pack_client", default=None)
"""The Dask client whose workers price the LP's packs: unset → local (``solver.workers``)."""


@contextmanager
def dask_blocks(client: Any) -> Iterator[None]:
    """Within the block, the rounding MIP's blocks run as tasks on the Dask ``client``'s cluster,
    and the LP's Dantzig–Wolfe packs are priced by one actor per worker (:mod:`.pricing`).

    Each chunk of blocks is one task; results come back in block order and depend only on the
    blocks' data and the fixed seed and threads, so the plan is the same bytes as a serial solve.
    """

    def mapper(f: Callable[..., Any], *iterables: Any) -> list[Any]:
        futures = client.map(f, *iterables, pure=False)
        return list(client.gather(futures))

    token = BLOCK_MAP.set(mapper)
    packs = PACK_CLIENT.set(client)  # and the LP's pricing packs, as actors (pricing.py)
    try:
        yield
    finally:
        PACK_CLIENT.reset(packs)
        BLOCK_MAP.reset(token)
