"""The key-account alignment MIP solved by its independent blocks: :func:`solve_components`.

The alignment (a generalized assignment: one owner per account among its eligible reps, per-rep
book limits) falls apart along its candidate graph. Columns x_j (pairs) joined by a row — an
account's one-owner row, a rep's limits, a lock — belong to one connected component; with the
model written as min Σ_k c_k x_k s.t. A_k x_k ∈ [lo_k, up_k], x_k binary, component by
component (no row touches two components), its optimum is the concatenation of the components'
optima and its bound the sum of their bounds:

    OPT = Σ_k OPT_k,   bound = Σ_k bound_k ≤ OPT ≤ Σ_k c_k x̂_k = objective.

So solving the components separately is exact (not a heuristic: no row is relaxed or split),
and the assembled plan's gap, (objective − Σ bound_k) / |objective|, is honest for the whole
model. Above a size (:data:`ALIGNMENT_BLOCKS_ABOVE` pairs, or ``solver.alignment_block_size``)
the components are packed, in the order of their lowest column, into blocks of at most
:data:`ALIGNMENT_BLOCK_SIZE` pairs and solved as separate HiGHS MIPs, in ``workers`` processes
or on the Dask cluster of ``allocopt solve --scheduler`` (a block's result depends only on its
data and the fixed seed and threads, so the plan is the same whatever the worker count). A row
that joins every account (``max_moves`` of a re-plan) leaves one component: then the model is
solved whole, and the result's message says which row prevented the split.

Every block starts from the incumbents (a partial MIP start, ``start``); when the deadline
passes in a block before HiGHS has a plan, that block's incumbents are its plan if they give
every pair a value and keep every row (:func:`allocopt.model.rules.key_accounts.incumbent_start`
builds such a start), and the gap is stamped against the bound HiGHS proved or, when none, the
assignment bound Σ_a min_r c_ar (each account with its cheapest eligible rep, limits ignored).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from allocopt.model.linear import LinearModel
from allocopt.solve.blocks import _blocks_of, _run_blocks
from allocopt.solve.highs import (
    Compiled,
    Progress,
    SolveResult,
    highs_lp,
    highs_version,
    run_highs,
)

ALIGNMENT_BLOCKS_ABOVE = 20_000
"""Alignment models with more pairs (columns) than this are solved by blocks."""

ALIGNMENT_BLOCK_SIZE = 5_000
"""Most pairs in one block (components are packed up to this; a bigger one is its own block)."""

CHOICE_ROWS = "one_owner"
"""The row block in which every pair has coefficient 1 in exactly one equality row = 1."""

Start = tuple[np.ndarray, np.ndarray]


def solve_components(
    comp: Compiled,
    options: dict[str, Any],
    *,
    start: Start | None = None,
    block_size: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> SolveResult:
    """Solve the compiled alignment MIP ``comp``, by its independent blocks above a size.

    ``block_size``: split above this many pairs into blocks of at most this many (default:
    above :data:`ALIGNMENT_BLOCKS_ABOVE`, blocks of :data:`ALIGNMENT_BLOCK_SIZE`); smaller
    models are one HiGHS MIP, as before. ``start`` (columns, values) is the incumbents' MIP
    start. Results as :func:`~allocopt.solve.highs.run_highs` gives them (HiGHS's units).
    """
    above, size = (
        (ALIGNMENT_BLOCKS_ABOVE, ALIGNMENT_BLOCK_SIZE)
        if block_size is None
        else (block_size, block_size)
    )
    n_cols = comp.lp.num_col_
    col_block = None
    if n_cols > above:
        col_block = _blocks_of(
            comp, np.zeros(0, dtype=np.int64), np.ones(n_cols, dtype=bool), max(1, int(size))
        )
    if col_block is not None and int(col_block.max()) >= 1:
        n_blocks = int(col_block.max()) + 1
        if progress is not None:
            progress(f"solving {comp.model.name} in {n_blocks} independent blocks")
        return _solve_by_blocks(comp, col_block, n_blocks, options, start, workers)
    res = run_highs(comp, options, progress=progress, start=start)
    _fall_back_to_start(res, comp, start)
    if col_block is not None:  # big enough to split, but one piece
        joined = _joining_rows(comp.model, comp)
        if joined:
            res.message += (
                f" (solved whole: the rows {', '.join(joined)} join all key accounts into one "
                "block)"
            )
    return res


def _components(comp: Compiled, skip: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """(number, labels per column) of the connected components of the columns, rows ``skip``
    left out."""
    from scipy.sparse.csgraph import connected_components

    a = comp.matrix.tocoo()
    n_rows, n_cols = a.shape
    keep = np.ones(a.nnz, dtype=bool) if skip is None else ~np.isin(a.row, skip)
    graph = sp.coo_matrix(
        (np.ones(int(keep.sum())), (a.col[keep], n_cols + a.row[keep])),
        shape=(n_cols + n_rows, n_cols + n_rows),
    )
    _, labels = connected_components(graph, directed=False)
    return len(np.unique(labels[:n_cols])), labels[:n_cols]


def _joining_rows(model: LinearModel, comp: Compiled) -> list[str]:
    """The row blocks that keep the model in one piece: set aside, widest rows first (most
    columns in one row), until the rest falls apart; [] when it never does."""
    per_row = np.diff(comp.matrix.tocsr().indptr)
    blocks = [(name, np.arange(b.start, b.start + len(b))) for name, b in model.rows.items()]
    blocks = [(n, r) for n, r in blocks if len(r)]
    blocks.sort(key=lambda nr: -int(per_row[nr[1]].max()))
    removed: list[np.ndarray] = []
    for k, (_, rows) in enumerate(blocks[:-1]):
        removed.append(rows)
        if _components(comp, np.concatenate(removed))[0] > 1:
            return [n for n, _ in blocks[: k + 1]]
    return []


def _assignment_bound(comp: Compiled, cols: np.ndarray | None = None) -> float | None:
    """Σ over the choice rows of the cheapest column in each (HiGHS units), over ``cols``: a
    lower bound of the assignment (every feasible plan picks one column per choice row)."""
    model = comp.model
    blk = model.rows.get(CHOICE_ROWS)
    if blk is None:
        return None
    cost = np.asarray(comp.lp.col_cost_, dtype=float)
    a = comp.matrix.tocsc()
    if cols is not None:
        a = a[:, cols]
        cost = cost[cols]
    sub = a[blk.start : blk.start + len(blk)].tocsr()
    per_row = np.diff(sub.indptr)
    if not sub.nnz:
        return 0.0
    if (np.bincount(sub.indices, minlength=sub.shape[1]) > 1).any():
        return None  # a column in two choice rows: not an assignment
    rows = per_row > 0
    mins = np.minimum.reduceat(cost[sub.indices], sub.indptr[:-1][rows])
    return float(mins.sum())


def _feasible(comp: Compiled, x: np.ndarray, cols: np.ndarray | None = None) -> bool:
    """``x`` (HiGHS units, on ``cols`` or all columns) keeps every row it touches and bound."""
    lp = comp.lp
    a = comp.matrix if cols is None else comp.matrix[:, cols]
    act = np.asarray(a @ x)
    touched = np.diff(a.tocsr().indptr) > 0
    lo = np.asarray(lp.row_lower_, dtype=float)[touched]
    up = np.asarray(lp.row_upper_, dtype=float)[touched]
    act = act[touched]
    tol = 1e-7 * np.maximum(1.0, np.abs(act))
    clo = np.asarray(lp.col_lower_, dtype=float)
    cup = np.asarray(lp.col_upper_, dtype=float)
    if cols is not None:
        clo, cup = clo[cols], cup[cols]
    return bool(
        np.all(act >= lo - tol)
        and np.all(act <= up + tol)
        and np.all(x >= clo)
        and np.all(x <= cup)
    )


def _full_start(n_cols: int, start: Start | None) -> np.ndarray | None:
    """The start as a full column vector, when it gives every column a value."""
    if start is None:
        return None
    cols, vals = start
    if len(np.unique(cols)) != n_cols:
        return None
    x = np.zeros(n_cols)
    x[cols] = vals
    return x


def _fall_back_to_start(res: SolveResult, comp: Compiled, start: Start | None) -> None:
    """A time limit without a plan: the start is the plan when it is full and feasible
    (stamped ``time_limit`` with its gap); otherwise ``res`` is left as it is."""
    if res.has_solution or res.status != "time_limit":
        return
    x = _full_start(comp.lp.num_col_, start)
    if x is None or not _feasible(comp, x):
        return
    cost = np.asarray(comp.lp.col_cost_, dtype=float)
    obj = float(cost @ x) + float(comp.lp.offset_)
    proved = res.bound if res.bound is not None and math.isfinite(res.bound) else None
    cheap = _assignment_bound(comp)
    cands = [
        b for b in (proved, None if cheap is None else cheap + comp.lp.offset_) if b is not None
    ]
    bound = max(cands) if cands else None
    res.has_solution = True
    res.col_values = x
    res.objective = obj
    res.bound = bound
    res.gap = None if bound is None else abs(obj - bound) / max(abs(obj), 1e-9)
    res.message = (
        "time limit reached before the solver had a plan: the incumbent owners are the plan"
        + ("" if bound is None else f" (gap {res.gap:.2%} against the bound)")
    )


_Block = tuple[np.ndarray, ...]  # cost, lo, hi, row lo, row up, indptr, indices, data, start


def _solve_block(data: _Block, options: dict[str, Any], deadline: float) -> tuple[Any, ...]:
    """One block's MIP from its start: (status, values or None, timed out, gap, bound).
    Picklable in and out (runs in a worker process or a Dask task)."""
    cost, clo, chi, rlo, rup, indptr, indices, values, x0 = data
    a = sp.csc_matrix((values, indices, indptr), shape=(len(rlo), len(cost)))
    lp = highs_lp(cost, clo, chi, a, rlo, rup, np.ones(len(cost), dtype=bool))
    left = deadline - time.time()
    if left <= 0:
        return ("time_limit", None, True, None, None)
    import highspy

    from allocopt.solve.highs import _highs

    h = _highs({**options, "time_limit": left})
    h.passModel(lp)
    given = np.flatnonzero(~np.isnan(x0))
    if len(given):
        h.setSolution(len(given), given.astype(np.int32), x0[given].astype(float))
    h.run()
    info = h.getInfo()
    ms = h.getModelStatus()
    timed_out = ms == highspy.HighsModelStatus.kTimeLimit
    if info.primal_solution_status != 2:
        status = (
            "time_limit"
            if timed_out
            else "infeasible"
            if ms == highspy.HighsModelStatus.kInfeasible
            else "error"
        )
        bound = float(info.mip_dual_bound)
        return (status, None, timed_out, None, bound if math.isfinite(bound) else None)
    x = np.asarray(h.getSolution().col_value, dtype=float)
    gap = float(info.mip_gap)
    return (
        "time_limit" if timed_out else "optimal",
        x,
        timed_out,
        gap if math.isfinite(gap) else None,
        float(info.mip_dual_bound),
    )


def _solve_chunk(
    chunk: list[_Block], options: dict[str, Any], deadline: float
) -> list[tuple[Any, ...]]:
    """Solve consecutive blocks in one worker (every block: a time-limited one may fall back to
    its start)."""
    return [_solve_block(data, options, deadline) for data in chunk]


def _solve_by_blocks(
    comp: Compiled,
    col_block: np.ndarray,
    n_blocks: int,
    options: dict[str, Any],
    start: Start | None,
    workers: int,
) -> SolveResult:
    """Solve the blocks and assemble the plan (HiGHS units); see the module docstring."""
    t0 = time.perf_counter()
    deadline = time.time() + float(options.get("time_limit", 1e9))
    lp = comp.lp
    a = comp.matrix.tocsc()
    n_cols = a.shape[1]
    cost, clo, chi, row_lo, row_up = comp.arrays()
    x0 = np.full(n_cols, np.nan)
    if start is not None:
        x0[start[0]] = start[1]
    order = np.argsort(col_block, kind="stable")  # columns ascending within each block
    cuts = np.flatnonzero(np.diff(col_block[order])) + 1
    block_cols = np.split(order, cuts)
    blocks: list[_Block] = []
    for cols in block_cols:
        sub = a[:, cols]
        rows = np.unique(sub.indices)
        sub = sub[rows].tocsc()
        blocks.append(
            (
                cost[cols],
                clo[cols],
                chi[cols],
                row_lo[rows],
                row_up[rows],
                sub.indptr.astype(np.int32),
                sub.indices.astype(np.int32),
                sub.data.astype(float),
                x0[cols],
            )
        )
    results = _run_blocks(blocks, options, deadline, workers, chunk=_solve_chunk)
    out = np.zeros(n_cols)
    bound = 0.0
    worst = 0.0
    timed_out = from_start = 0
    missing: list[int] = []
    for k, (cols, blk, r) in enumerate(zip(block_cols, blocks, results, strict=True)):
        status, x, late, gap, b = r
        timed_out += bool(late)
        if status == "infeasible":
            return _result(
                comp,
                "infeasible",
                False,
                options,
                t0,
                message=f"Infeasible (block {k + 1} of {n_blocks} of the key accounts)",
            )
        if x is None:
            xs = blk[-1]
            if late and not np.isnan(xs).any() and _feasible(comp, xs, cols):
                x, from_start = xs, from_start + 1
                cheap = _assignment_bound(comp, cols)
                cands = [v for v in (b, cheap) if v is not None and math.isfinite(v)]
                b = max(cands) if cands else None
            else:
                missing.append(k + 1)
                continue
        out[cols] = x
        worst = max(worst, 0.0 if gap is None else float(gap))
        if b is None or not math.isfinite(float(b)):
            bound = -math.inf
        else:
            bound += float(b)
    if missing:
        late_word = "time limit reached" if timed_out else "the solver failed"
        return _result(
            comp,
            "time_limit" if timed_out else "error",
            False,
            options,
            t0,
            message=(
                f"{late_word} in the key-account alignment before {len(missing)} of its "
                f"{n_blocks} independent blocks had a plan (first: block {missing[0]}) and their "
                "incumbent owners break a limit or are incomplete; raise solver.time_limit"
            ),
        )
    offset = float(lp.offset_)
    obj = float(cost @ out) + offset
    bnd = bound + offset if math.isfinite(bound) else None
    gap = None if bnd is None else abs(obj - bnd) / max(abs(obj), 1e-9)
    head = (
        f"Time limit reached in {timed_out} of {n_blocks} independent blocks"
        + (f" ({from_start} kept their incumbent owners)" if from_start else "")
        if timed_out
        else f"Optimal in each of {n_blocks} independent blocks"
    )
    msg = (
        head + f" (connected components of key accounts and candidate reps; worst block gap "
        f"{worst:.2%}; exact: the blocks share no row)"
    )
    res = _result(comp, "time_limit" if timed_out else "optimal", True, options, t0, message=msg)
    res.col_values = out
    res.objective = obj
    res.bound = bnd
    res.gap = gap
    return res


def _result(
    comp: Compiled,
    status: str,
    has: bool,
    options: dict[str, Any],
    t0: float,
    *,
    message: str,
) -> SolveResult:
    lp = comp.lp
    return SolveResult(
        status,
        has,
        is_mip=True,
        message=message,
        solver=highs_version(),
        seconds=time.perf_counter() - t0,
        n_cols=lp.num_col_,
        n_rows=lp.num_row_,
        n_nonzeros=int(comp.matrix.nnz),
        n_integer=lp.num_col_,
        options=dict(options),
    )
