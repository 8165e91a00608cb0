"""Rounding neighbourhood and block solving of an integer model (for :func:`allocopt.solve.solve`).

LP relaxation → MIP with every general integer bounded to the floor and ceiling of its LP value
→ full MIP, within one deadline (:func:`_solve_neighbourhood`). Above :data:`BLOCKS_ABOVE`
general integers the plan is the LP optimum rounded (:func:`_round_linked`, continuous columns
re-solved: :func:`_assemble`) and its bound the Lagrangian bound of the independent blocks'
full MIPs at the LP prices (:mod:`allocopt.solve.lagrange`; blocks = connected components
without the linking rows), whose optima also give a plan when the rounded one is not within the
gap; the restricted block MIPs (right-hand sides of the linking rows split over the blocks by
largest remainder, :func:`_solve_blocks`) run only when neither plan exists. When the deadline
passes before any integer plan exists, the LP optimum is rounded and assembled as well.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from allocopt.solve.highs import (
    Basis,
    Compiled,
    Progress,
    SolveResult,
    highs_lp,
    highs_version,
    lp_relaxation,
    run_highs,
    run_lp,
)
from allocopt.solve.lagrange import Lagrangian, improve_bound, lagrangian, lagrangian_plan
from allocopt.solve.rounding import neighbourhood, round_linked, round_rows, split_linked

BLOCKS_ABOVE = 10_000
"""Rounding MIPs with more general integers than this are solved block by block."""

PROOF_NODES = 1000
"""Branch-and-bound nodes the proof of a neighbourhood plan's gap may use (:func:`_prove`): a
deterministic cap (every proof measured, up to 3,000 reps and band phasing, closed at the root
node); a proof it stops leaves the plan ``feasible`` with the gap proven so far."""

ASSEMBLY_RESERVE = 0.5
"""Time kept for the rounded assembly (:func:`_assemble`), as a share of the LP relaxation's:
measured 0.32 at 20k reps and 0.44 at 50k (its LP with the integers fixed, and the rounding)."""

Link = tuple[np.ndarray, float]
"""The model's linking rows (global row numbers) and the unit their right-hand sides split in."""


def _solve_neighbourhood(
    comp: Compiled,
    options: dict[str, Any],
    link: Link | None = None,
    progress: Progress | None = None,
    blocks_above: int = BLOCKS_ABOVE,
    block_size: int = 1,
    workers: int = 1,
    decompose_above: int | None = None,
    basis: Basis | None = None,
) -> SolveResult:
    """LP relaxation → rounding-neighbourhood MIP (blocks) → full MIP, within one deadline.

    ``basis``: the LP relaxation's start basis (or a request to record it; :class:`Basis`), used
    when it is solved as one HiGHS LP (a decomposed relaxation starts cold).

    ``options["time_limit"]`` bounds all of it: every step gets what is left of the deadline,
    less a reserve of :data:`ASSEMBLY_RESERVE` times the LP relaxation's time for
    :func:`_assemble`, which runs when the deadline passes before any integer plan exists and
    gets at least that reserve, even past the deadline (a stamped plan rather than none).
    """
    lp = comp.lp
    is_int = comp.integer_columns()  # not lp.integrality_: about a second per million columns
    lo0 = np.array(lp.col_lower_, dtype=float)
    hi0 = np.array(lp.col_upper_, dtype=float)
    general = is_int & ~((lo0 >= 0) & (hi0 <= 1))
    t0 = time.perf_counter()
    deadline = t0 + float(options.get("time_limit", 1e9))
    with lp_relaxation(lp):
        relaxed = _relax(comp, options, link, decompose_above, workers, basis)
    if not relaxed.has_solution or relaxed.col_values is None or not general.any():
        if relaxed.status == "time_limit" and general.any():
            # no LP optimum within the limit: nothing to round, and no time left
            relaxed.message = (
                f"time limit reached before the LP relaxation was solved ({relaxed.seconds:.0f} s)"
                "; raise solver.time_limit"
            )
            return relaxed
        rest = max(1.0, deadline - time.perf_counter())
        res = run_highs(comp, {**options, "time_limit": rest}, progress=progress)
        res.seconds += relaxed.seconds
        if relaxed.has_solution:
            res.lp_bound = relaxed.bound
            res.relaxed = relaxed
        return res
    # fixing the integers leaves a far easier LP (50k reps: 6 s against the relaxation's 389 s)
    reserve = ASSEMBLY_RESERVE * relaxed.seconds

    def left() -> float:
        return deadline - reserve - time.perf_counter()

    x = relaxed.col_values
    lo, hi = neighbourhood(x, lo0, hi0, general)
    searched = 0.0
    status = "time_limit"
    assembled: SolveResult | None = None
    if link is not None and int(general.sum()) > blocks_above and left() > 0:
        tb = time.perf_counter()
        # the rounded LP optimum first (one LP with the integers fixed): a plan at hand when the
        # deadline passes later, and the best plan measured (5k, 20k, 50k, 100k reps)
        # at least the reserve: a plan rather than none when the LP ended near the deadline
        rounded = _assemble(
            comp, relaxed, general, link, max(1.0, reserve, deadline - time.perf_counter())
        )
        assembled = rounded
        col_block = _blocks_of(
            comp, link[0], is_int & ~((lo >= 0) & (hi <= 1)), max(1, int(block_size))
        )
        lag = None
        no_time = left() <= 0  # a step skipped for the deadline: the plan is stamped time_limit
        if not no_time:
            # the blocks' FULL integer problems at the LP prices: a bound for the whole model
            # (and, when the rounded assembly failed, a plan)
            lag = lagrangian(
                comp,
                relaxed,
                link[0],
                link[1],
                col_block,
                _pricing_options(options),
                time.time() + left(),
                workers,
                repair=False,
            )
        tol = float(options.get("mip_rel_gap", 1e-4))
        obj = float(rounded.objective or 0.0)
        if lag is not None and not rounded.has_solution and left() > 0:
            # no rounded plan: the blocks' optima at the LP prices made into one (a target for
            # the prices below, and a plan)
            lagrangian_plan(lag, _pricing_options(options), time.time() + left(), workers)
        best = obj if rounded.has_solution else lag.objective if lag is not None else None
        if lag is not None and best is not None and best - lag.bound > tol * max(abs(best), 1e-9):
            # the bound at the LP prices is not within the gap of the plan: better prices by
            # a cutting-plane model (a few rounds of the block MIPs; none within the gap)
            improve_bound(lag, best, tol, _pricing_options(options), time.time() + left(), workers)
        if lag is not None and (
            not rounded.has_solution or obj - lag.bound > tol * max(abs(obj), 1e-9)
        ):
            # the blocks' optima (at the best prices) made into a plan, when the rounded LP
            # optimum is not within the gap of the bound (or failed): a restricted search
            # where it matters
            if left() > 0:
                lagrangian_plan(lag, _pricing_options(options), time.time() + left(), workers)
            else:
                no_time = True
        blocks = None
        if not rounded.has_solution and (lag is None or lag.values is None) and left() > 0:
            blocks = _solve_blocks(
                comp, x, lo, hi, link, {**options, "time_limit": left()}, block_size, workers
            )
        out = _best_plan(comp, relaxed, rounded, lag, blocks, options, no_time)
        if out is not None:
            out.seconds = relaxed.seconds + (time.perf_counter() - tb)
            out.lp_bound = relaxed.bound
            out.relaxed = relaxed
            return out
        searched += time.perf_counter() - tb  # the blocks' time counts though they failed
    if left() > 0:
        # start from the LP optimum rounded (company totals by largest remainder): HiGHS
        # completes it into an incumbent that is often within the gap already (5k reps)
        z, _ = _round_linked(comp, x, general, link)
        cols = np.flatnonzero(is_int)
        start = (cols, np.clip(np.round(z[cols]), lo[cols], hi[cols]))
        lp.col_lower_, lp.col_upper_ = lo, hi
        res = run_highs(comp, {**options, "time_limit": left()}, progress=progress, start=start)
        lp.col_lower_, lp.col_upper_ = lo0, hi0
        searched += res.seconds
        status = res.status
        if res.has_solution:
            out = _prove(comp, options, res, relaxed, cols, left(), progress)
            out.seconds += relaxed.seconds
            out.lp_bound = relaxed.bound  # bounds the full integer model as well
            out.relaxed = relaxed
            return out
    if status != "time_limit" and left() > 0:
        full = run_highs(comp, {**options, "time_limit": left()}, progress=progress)
        full.seconds += relaxed.seconds + searched
        # the plan comes from the full integer model; the explanation still from its LP relaxation
        full.lp_bound = relaxed.bound
        full.relaxed = relaxed
        if full.has_solution or full.status != "time_limit":
            return full
        searched = full.seconds - relaxed.seconds
    # at least the reserve: when the LP itself overran the deadline (its first round of
    # Dantzig–Wolfe always ends), the assembly still gets the time set aside for it
    if assembled is not None:  # built above and failed: the same rounding again fails again
        out = assembled
        out.seconds = relaxed.seconds + searched
    else:
        out = _assemble(
            comp, relaxed, general, link, max(1.0, reserve, deadline - time.perf_counter())
        )
        out.seconds += relaxed.seconds + searched
    out.lp_bound = relaxed.bound
    out.relaxed = relaxed
    return out


def _prove(
    comp: Compiled,
    options: dict[str, Any],
    res: SolveResult,
    relaxed: SolveResult,
    cols: np.ndarray,
    time_left: float,
    progress: Progress | None,
) -> SolveResult:
    """The rounding neighbourhood's plan ``res`` with a gap valid for the whole integer model.

    HiGHS's bound on the neighbourhood MIP bounds only that restriction. Unless the LP bound z_LP
    already proves the plan within ``mip_rel_gap`` (``bound_method`` ``lp``), the whole integer
    model is solved from the plan (a MIP start on the integer ``cols``) in ``time_left`` and at
    most :data:`PROOF_NODES` nodes: its dual
    bound z_MIP is valid for the whole model, bound = max(z_LP, z_MIP) (``bound_method``
    ``mip``), and a better plan it finds replaces the neighbourhood's. Status ``optimal`` when the
    proven gap is within ``mip_rel_gap`` (or HiGHS proved it, within its own tolerances),
    ``time_limit`` when the proof was cut by the deadline (or had no time), else ``feasible``.
    The example: the neighbourhood's own bound said 0.18%; the whole model proves 0.01% in
    0.04 s.
    """
    tol = float(options.get("mip_rel_gap", 1e-4))
    assert res.objective is not None and res.col_values is not None
    obj = float(res.objective)
    lp_bound = float(relaxed.bound if relaxed.bound is not None else -math.inf)
    where = "rounding neighbourhood of the LP optimum"

    def within(o: float, bound: float) -> bool:
        # up to float noise: mip_gap 0 must accept a bound 1e-14 below the plan
        return o - bound <= tol * abs(o) + 1e-9 * max(abs(o), 1.0)

    def stamp(
        out: SolveResult, bound: float, method: str, cut: bool, what: str, proven: bool = False
    ) -> SolveResult:
        o = float(out.objective or 0.0)
        out.bound, out.bound_method = bound, method
        out.gap = max(0.0, o - bound) / max(abs(o), 1e-9)
        out.gap_against_lp = False
        # or proven by HiGHS on the whole model within its own tolerances (mip_abs_gap too)
        ok = proven or within(o, bound)
        out.status = "optimal" if ok else "time_limit" if cut else "feasible"
        state = {"optimal": "Optimal", "time_limit": "Time limit reached", "feasible": "Feasible"}
        out.message = f"{state[out.status]} ({what})"
        return out

    if within(obj, lp_bound):
        return stamp(res, lp_bound, "lp", False, f"{where}; within the gap of the LP bound")
    if time_left <= 0 or res.status == "time_limit":
        out = stamp(res, lp_bound, "lp", True, f"{where}; no time left to prove its gap")
        out.gap_against_lp = True
        return out
    start = (cols, np.round(res.col_values[cols]))
    opts = {**options, "time_limit": time_left, "mip_max_nodes": PROOF_NODES}
    full = run_highs(comp, opts, progress=progress, start=start)
    bound = lp_bound
    if full.bound is not None and math.isfinite(full.bound) and full.status != "error":
        bound = max(bound, float(full.bound))  # HiGHS's dual bound, wherever it stopped
    cut = full.status == "time_limit"  # (a node limit is no time limit: feasible, not cut)
    better = full.has_solution and float(full.objective or 0.0) < obj - 1e-9 * max(abs(obj), 1.0)
    seconds = res.seconds + full.seconds  # the caller adds the LP relaxation's
    if better:
        full.seconds = seconds
        what = f"the whole integer model, started from the {where}"
        return stamp(full, bound, "mip", cut, what, proven=full.status == "optimal")
    # not better: HiGHS's incumbent on the whole model is this plan (up to float noise)
    res.seconds = seconds
    what = f"{where}; gap proven on the whole integer model"
    if full.status != "optimal":
        what = f"{where}; its gap's proof on the whole integer model stopped: {full.message}"
    proven = full.status == "optimal" and full.has_solution
    return stamp(res, bound, "mip", cut, what, proven=proven)


def _pricing_options(options: dict[str, Any]) -> dict[str, Any]:
    """HiGHS options of the Lagrangian block MIPs: the scenario's threads and seed, a tenth of
    its gap (at least 1e-6) on each block, and no feasibility jump (the blocks solve at the root;
    measured 20% less CPU at 5k reps, same bounds)."""
    opts = {k: v for k, v in options.items() if k in ("threads", "random_seed")}
    opts["mip_rel_gap"] = max(1e-6, 0.1 * float(options.get("mip_rel_gap", 1e-4)))
    opts["mip_heuristic_run_feasibility_jump"] = False
    return opts


def _best_plan(
    comp: Compiled,
    relaxed: SolveResult,
    rounded: SolveResult,
    lag: Lagrangian | None,
    blocks: SolveResult | None,
    options: dict[str, Any],
    no_time: bool = False,
) -> SolveResult | None:
    """The best of the candidate plans, its bound and gap, and a message that says which.

    Candidates: the rounded LP optimum (:func:`_assemble`), the Lagrangian plan and the
    restricted block MIPs' plan, when they exist. The bound is max(LP bound, LB_int) and
    ``bound_method`` says which (``lp`` | ``lagrangian``); the status is ``time_limit`` when a
    step stopped at (or, ``no_time``, was skipped for) the time limit, else ``optimal`` when the
    gap is within ``mip_rel_gap`` and ``feasible`` when it is not.
    """
    cands: list[tuple[float, str, SolveResult]] = []
    if rounded.has_solution:
        cands.append((float(rounded.objective or 0.0), "rounded", rounded))
    if lag is not None and lag.values is not None and lag.objective is not None:
        res = SolveResult(
            "optimal",
            True,
            objective=lag.objective,
            is_mip=True,
            solver=highs_version(),
            n_cols=rounded.n_cols,
            n_rows=rounded.n_rows,
            n_nonzeros=rounded.n_nonzeros,
            n_integer=rounded.n_integer,
            options=dict(options),
            col_values=lag.values,
        )
        cands.append((lag.objective, "lagrangian", res))
    if blocks is not None and blocks.has_solution:
        cands.append((float(blocks.objective or 0.0), "blocks", blocks))
    if not cands:
        return None
    obj, kind, out = min(cands, key=lambda c: c[0])
    lp_bound = float(relaxed.bound or 0.0)
    use_lag = lag is not None and lag.bound > lp_bound
    bound = lag.bound if lag is not None and use_lag else lp_bound
    gap = max(0.0, obj - bound) / max(abs(obj), 1e-9)
    timed_out = (
        no_time
        or relaxed.status != "optimal"
        or (lag is not None and lag.timed_out > 0)
        or (blocks is not None and blocks.status != "optimal")
    )
    tol = float(options.get("mip_rel_gap", 1e-4))
    # a finished plan whose proven gap is above mip_gap is "feasible", not optimal (the
    # neighbourhood MIP of smaller plans stops at mip_gap, so "optimal" means within it)
    out.status = "time_limit" if timed_out else "optimal" if gap <= tol else "feasible"
    out.bound = bound
    out.gap = gap
    out.bound_method = "lagrangian" if use_lag else "lp"
    out.gap_against_lp = not use_lag
    out.lagrangian_bound = None if lag is None else lag.bound
    out.row_duals = out.col_duals = None
    what = {
        "rounded": rounded.message.split(": ", 1)[-1],
        "lagrangian": "the blocks' Lagrangian optima with "
        + (f"{lag.changed} blocks re-solved to restore {lag.missing} units" if lag else ""),
        "blocks": "the restricted block MIPs' plan (company totals split over blocks)",
    }[kind]
    if lag is None:
        against = "the LP bound (no Lagrangian bound: the LP has no prices, or no time)"
    else:
        against = (
            f"the Lagrangian bound of {lag.n_blocks} independent blocks' MIPs"
            + _rounds_text(lag, comp.money_scale)
            + (f", {lag.timed_out} cut by the time limit" if lag.timed_out else "")
            + ("" if use_lag else ", no higher than the LP bound")
        )
    state = (
        "Time limit reached"
        if timed_out
        else "Optimal within the gap"
        if gap <= tol
        else f"Feasible, gap above {tol:.4%}"
    )
    out.message = f"{state}: {what}; gap against {against}"
    return out


def _rounds_text(lag: Lagrangian, money_scale: float) -> str:
    """Where the Lagrangian bound's prices come from, for the message."""
    at_lp = lag.lp_price_bound
    if not lag.rounds or at_lp is None:
        return " at the LP prices"
    rounds = f"{lag.rounds} subgradient round{'s' if lag.rounds > 1 else ''}"
    if lag.bound > at_lp:
        return f", raised by {rounds} on the prices from {at_lp * money_scale:,.6g} at the LP's"
    return f" at the LP prices ({rounds} on the prices found no higher bound)"


def _relax(
    comp: Compiled,
    options: dict[str, Any],
    link: Link | None,
    decompose_above: int | None,
    workers: int = 1,
    basis: Basis | None = None,
) -> SolveResult:
    """The LP relaxation (integrality already dropped): by Dantzig–Wolfe over the blocks when
    there are linking rows and more than ``decompose_above`` columns (its pricing LPs in
    ``workers`` processes), else (or when the decomposition gives up) as one HiGHS LP in what is
    left of the time limit. A whole LP cut by the limit without a point, when there are linking
    rows, is followed by one round of the decomposition (its first round always ends, with a
    point that the rounded assembly makes into a stamped plan rather than none)."""
    from allocopt.solve.decompose import DECOMPOSE_ABOVE, solve_lp_decomposed

    above = DECOMPOSE_ABOVE if decompose_above is None else decompose_above
    if link is None or len(link[0]) == 0 or comp.lp.num_col_ <= above:
        whole = run_highs(comp, options, basis=basis)
        if whole.has_solution or whole.status != "time_limit" or link is None or not len(link[0]):
            return whole
        t0 = time.perf_counter()
        first = solve_lp_decomposed(
            comp, np.asarray(link[0]), {**options, "time_limit": 0.0}, workers=workers
        )
        if first is None or not first.has_solution:
            return whole
        first.seconds = whole.seconds + (time.perf_counter() - t0)
        return first
    t0 = time.perf_counter()
    res = solve_lp_decomposed(comp, np.asarray(link[0]), options, workers=workers)
    if res is not None:
        return res
    left = float(options.get("time_limit", 1e9)) - (time.perf_counter() - t0)
    whole = run_highs(comp, {**options, "time_limit": max(1.0, left)})
    whole.seconds = time.perf_counter() - t0  # the decomposition's attempt counts
    return whole


def _round_linked(
    comp: Compiled, x: np.ndarray, general: np.ndarray, link: Link | None
) -> tuple[np.ndarray, int]:
    """:func:`~allocopt.solve.rounding.round_linked` on the compiled model (its link rows)."""
    return round_linked(
        comp.matrix.tocsr(),
        np.asarray(comp.lp.row_lower_, dtype=float),
        np.asarray(comp.lp.row_upper_, dtype=float),
        np.zeros(0, dtype=np.int64) if link is None else link[0],
        x,
        general,
    )


def _assemble(
    comp: Compiled,
    relaxed: SolveResult,
    general: np.ndarray,
    link: Link | None,
    time_limit: float,
) -> SolveResult:
    """A plan when the deadline passed before any integer one: the LP optimum rounded.

    The general integers are rounded by :func:`_round_linked` (company totals exact) and
    repaired where they alone break a row (:func:`~allocopt.solve.rounding.round_rows`), every
    other integer column is rounded to nearest and fixed, and the continuous columns are
    re-solved as an LP against all rows. The result carries status ``time_limit`` and the LP
    relaxation as its bound; when that LP has no solution the rounded assembly breaks a row of
    the model and no plan is returned (the message says so).
    """
    lp = comp.lp
    assert relaxed.col_values is not None
    is_int = comp.integer_columns()
    lo0 = np.array(lp.col_lower_, dtype=float)
    hi0 = np.array(lp.col_upper_, dtype=float)
    # rounded by _round_linked, then repaired where the integers alone break a row
    z0, restored = _round_linked(comp, relaxed.col_values, general, link)
    z, _, broken, left = round_rows(
        comp.matrix.tocsr(),
        np.asarray(lp.row_lower_, dtype=float),
        np.asarray(lp.row_upper_, dtype=float),
        lo0,
        hi0,
        np.zeros(0, dtype=np.int64) if link is None else link[0],
        relaxed.col_values,
        general,
        is_int,
        start=z0,
    )
    lo, hi = lo0.copy(), hi0.copy()
    lo[is_int] = hi[is_int] = np.clip(z[is_int], lo0[is_int], hi0[is_int])
    with lp_relaxation(lp):
        lp.col_lower_, lp.col_upper_ = lo, hi
        try:
            res = run_highs(comp, {**relaxed.options, "time_limit": time_limit})
        finally:
            lp.col_lower_, lp.col_upper_ = lo0, hi0
    res.is_mip = True
    res.n_integer = int(is_int.sum())
    res.row_duals = res.col_duals = None
    what = (
        f"the {'LP optimum' if relaxed.status == 'optimal' else 'best LP point so far'}"
        f" with its {int(is_int.sum())} integers rounded "
        f"({restored} linked totals restored by largest remainder"
        + (f"; {broken - left} of {broken} rows broken by the rounding repaired" if broken else "")
        + ")"
    )
    if not res.has_solution:
        out_of_time = res.status == "time_limit"
        res.status = "time_limit"
        res.message = (
            "time limit reached before an integer plan was found, and "
            + what
            + (
                " could not be completed in the time left"
                if out_of_time
                else f" breaks a row of the model ({res.message})"
            )
            + "; raise solver.time_limit"
        )
        return res
    res.status = "time_limit"
    res.bound = relaxed.bound
    obj = float(res.objective or 0.0)
    res.gap = abs(obj - float(relaxed.bound or 0.0)) / max(abs(obj), 1e-9)
    res.gap_against_lp = True
    res.message = "Time limit reached before an integer plan was found: " + what
    return res


def _blocks_of(comp: Compiled, link_rows: np.ndarray, general: np.ndarray, size: int) -> np.ndarray:
    """Block number of every column: connected components without the link rows, packed.

    Components (columns joined by any non-link row) come in the order of their lowest column;
    consecutive components are packed into one block while it has at most ``size`` general
    integers (a bigger component is a block of its own). Deterministic for a given model.
    """
    from scipy.sparse.csgraph import connected_components

    a = comp.matrix
    n_rows, n_cols = a.shape
    is_link = np.zeros(n_rows, dtype=bool)
    is_link[link_rows] = True
    coo = a.tocoo()
    keep = ~is_link[coo.row]
    graph = sp.coo_matrix(
        (np.ones(int(keep.sum())), (coo.col[keep], n_cols + coo.row[keep])),
        shape=(n_cols + n_rows, n_cols + n_rows),
    )
    _, labels = connected_components(graph, directed=False)
    comp_of = labels[:n_cols]
    _, first, comp_of = np.unique(comp_of, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    comp_of = rank[comp_of]  # components numbered by their lowest column
    ints = np.bincount(comp_of, weights=general.astype(float), minlength=len(first))
    pack = np.empty(len(first), dtype=np.int64)
    block, load = 0, 0.0
    for c, k in enumerate(ints.tolist()):  # one step per component, not per nonzero
        if load > 0 and load + k > size:
            block, load = block + 1, 0.0
        pack[c] = block
        load += k
    return np.asarray(pack[comp_of])


_Block = tuple[np.ndarray, ...]  # cost, lo, hi, row lo, row up, indptr, indices, data, integer


def _solve_block(data: _Block, options: dict[str, Any], deadline: float) -> tuple[Any, ...]:
    """Solve one block's MIP; (has solution, values, timed out, gap, bound). Picklable I/O."""
    cost, clo, chi, rlo, rup, indptr, indices, values, integ = data
    a = sp.csc_matrix((values, indices, indptr), shape=(len(rlo), len(cost)))
    lp = highs_lp(cost, clo, chi, a, rlo, rup, integ)
    is_mip = bool(integ.any())
    left = deadline - time.time()
    if left <= 0:
        return (False, None, True, None, None)
    h = run_lp(lp, {**options, "time_limit": left})
    info = h.getInfo()
    timed_out = str(h.getModelStatus()).endswith("kTimeLimit")
    if info.primal_solution_status != 2:
        return (False, None, timed_out, None, None)
    x = np.asarray(h.getSolution().col_value, dtype=float)
    if not is_mip:
        obj = float(info.objective_function_value)
        return (True, x, timed_out, 0.0, obj)
    gap = float(info.mip_gap)
    return (True, x, timed_out, gap if math.isfinite(gap) else 0.0, float(info.mip_dual_bound))


def _solve_chunk(
    chunk: list[_Block], options: dict[str, Any], deadline: float
) -> list[tuple[Any, ...]]:
    """Solve consecutive blocks in one worker process (stops at the first failure)."""
    out = []
    for data in chunk:
        out.append(_solve_block(data, options, deadline))
        if not out[-1][0]:
            break
    return out


def _run_blocks(
    blocks: list[Any],
    options: dict[str, Any],
    deadline: float,
    workers: int,
    chunk: Callable[..., list[tuple[Any, ...]]] | None = None,
    kept: Spawned | None = None,
) -> list[tuple[Any, ...]]:
    """Each block's result, in block order; with ``workers`` > 1 in that many processes.

    ``chunk(blocks, options, deadline)`` solves consecutive blocks in one process (default
    :func:`_solve_chunk`, the restricted MIPs; the Lagrangian pricing and the key-account
    alignment pass their own).

    A block's result depends only on its data and the options (fixed threads and seed), so the
    assembled plan is the same whatever the number of workers, and whichever process solves it.
    Locally this process is one of the ``workers``: ``workers`` − 1 processes are spawned (each
    costs about 0.4 s of CPU to start and import, 2 cores), and this one solves chunks too while
    they start and run, taking the next chunk whenever it is free (:func:`_share`). With
    ``kept``, the spawned processes are ``kept``'s, started at its first call and kept for the
    next (the rounds of one Lagrangian bound), else started and stopped here.
    """
    from allocopt.solve.decompose import BLOCK_MAP

    fn = _solve_chunk if chunk is None else chunk
    mapper = BLOCK_MAP.get()  # a Dask cluster (allocopt solve --scheduler)
    if mapper is not None and len(blocks) >= 2:
        per = -(-len(blocks) // 64)  # 64 tasks at most
        chunks = [blocks[i : i + per] for i in range(0, len(blocks), per)]
        parts = mapper(fn, chunks, [options] * len(chunks), [deadline] * len(chunks))
        return [r for part in parts for r in part]
    if workers <= 1 or len(blocks) < 2:
        return fn(blocks, options, deadline)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    n = min(workers, len(blocks))
    if kept is not None:
        return _share(kept.pool(n - 1), n - 1, fn, blocks, options, deadline)
    ctx = mp.get_context("spawn")  # HiGHS's thread pool does not survive a fork
    with ProcessPoolExecutor(max_workers=n - 1, mp_context=ctx) as pool:
        return _share(pool, n - 1, fn, blocks, options, deadline)


class Spawned:
    """Block processes kept across calls of :func:`_run_blocks`: started (spawned) at the first
    call that needs them, stopped by :meth:`close` or when this object is dropped (each costs
    ~0.4 s of CPU to start, once instead of at every round)."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._n = 0
        self._stop: Any = None

    def pool(self, n: int) -> Any:
        """An executor of ``n`` spawned processes (a new one when ``n`` changed)."""
        if self._pool is None or self._n != n:
            import multiprocessing as mp
            import weakref
            from concurrent.futures import ProcessPoolExecutor

            self.close()
            ctx = mp.get_context("spawn")  # HiGHS's thread pool does not survive a fork
            self._pool, self._n = ProcessPoolExecutor(max_workers=n, mp_context=ctx), n
            self._stop = weakref.finalize(self, self._pool.shutdown)
        return self._pool

    def close(self) -> None:
        """Stop the processes (idempotent)."""
        if self._stop is not None:
            self._stop()
        self._pool, self._n, self._stop = None, 0, None


def _share(
    pool: Any,
    spawned: int,
    fn: Callable[..., list[tuple[Any, ...]]],
    blocks: list[Any],
    options: dict[str, Any],
    deadline: float,
) -> list[tuple[Any, ...]]:
    """Every block's result, in block order, solved by chunks of consecutive blocks: ``pool``'s
    ``spawned`` processes keep two chunks each in hand, and this process solves the next chunk
    whenever it is free. A chunk is an eighth of what is left per process (guided: big chunks
    first, one-block chunks last), so every process ends within about one block of the others."""
    procs = spawned + 1
    parts: list[list[tuple[Any, ...]]] = []
    pending: dict[Any, int] = {}  # future → its chunk
    at = 0

    def take() -> list[Any]:
        nonlocal at
        size = max(1, -(-(len(blocks) - at) // (8 * procs)))
        parts.append([])
        at += size
        return blocks[at - size : at]

    try:
        while at < len(blocks) or pending:
            while at < len(blocks) and len(pending) < 2 * spawned:
                chunk = take()
                pending[pool.submit(fn, chunk, options, deadline)] = len(parts) - 1
            for f in [f for f in pending if f.done()]:
                parts[pending.pop(f)] = f.result()
            if at < len(blocks):  # this process takes the next chunk itself
                chunk = take()
                parts[-1] = fn(chunk, options, deadline)
            elif pending:  # nothing left to take: wait for the workers
                f = next(iter(pending))
                parts[pending.pop(f)] = f.result()
    except BaseException:
        for f in pending:
            f.cancel()
        raise
    return [r for part in parts for r in part]


def _solve_blocks(
    comp: Compiled,
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    link: Link,
    options: dict[str, Any],
    block_size: int = BLOCKS_ABOVE,
    workers: int = 1,
) -> SolveResult | None:
    """Solve the restricted rounding MIP as independent blocks; None if a block fails.

    Blocks are the connected components of the rows other than the link block (the company
    totals), packed into blocks of at most ``block_size`` general integers (:func:`_blocks_of`).
    Each link row's right-hand side is split over the blocks: every block gets its LP
    activity rounded down to a multiple of the unit, and the remaining units go to the blocks
    with the largest remainders (ties: lower block number), so the totals stay exact.
    The blocks' MIPs then run independently, in ``workers`` processes when more than one.
    """
    link_rows, unit = link
    if not len(link_rows):
        return None
    t0 = time.perf_counter()
    deadline = time.time() + float(options.get("time_limit", 1e9))
    a = comp.matrix
    n_rows, n_cols = a.shape
    is_link = np.zeros(n_rows, dtype=bool)
    is_link[link_rows] = True
    integ = comp.integer_columns()
    general = integ & ~((lo >= 0) & (hi <= 1))
    col_block = _blocks_of(comp, link_rows, general, max(1, int(block_size)))
    rhs = np.asarray(comp.lp.row_lower_, dtype=float)
    targets = split_linked(a.tocsr(), link_rows, col_block, x, rhs, unit)
    if targets is None:
        return None
    order = np.argsort(col_block, kind="stable")
    bounds = np.flatnonzero(np.diff(col_block[order])) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [n_cols]])
    cost = np.asarray(comp.lp.col_cost_, dtype=float)
    row_lo = np.asarray(comp.lp.row_lower_, dtype=float)
    row_up = np.asarray(comp.lp.row_upper_, dtype=float)
    blocks: list[_Block] = []
    block_cols: list[np.ndarray] = []
    for s0, e0 in zip(starts.tolist(), ends.tolist(), strict=True):
        cols = np.sort(order[s0:e0])
        sub = a[:, cols]
        rows = np.unique(sub.indices)
        sub = sub[rows].tocsc()
        blk = int(col_block[cols[0]])
        rlo, rup = row_lo[rows].copy(), row_up[rows].copy()
        for k, r in enumerate(rows.tolist()):
            if is_link[r]:
                rlo[k] = rup[k] = targets[(r, blk)]
        blocks.append(
            (
                cost[cols],
                lo[cols],
                hi[cols],
                rlo,
                rup,
                sub.indptr.astype(np.int32),
                sub.indices.astype(np.int32),
                sub.data.astype(float),
                integ[cols],
            )
        )
        block_cols.append(cols)
    results = _run_blocks(blocks, options, deadline, workers)
    if len(results) < len(blocks) or not all(r[0] for r in results):
        return None
    out = x.copy()
    for cols, (_, values, _, _, _) in zip(block_cols, results, strict=True):
        out[cols] = values
    timed_out = sum(bool(r[2]) for r in results)
    worst_gap = max((float(r[3]) for r in results), default=0.0)
    bound = float(sum(float(r[4]) for r in results))
    obj = float(cost @ out) + float(comp.lp.offset_)
    head = (
        f"Time limit reached in {timed_out} of {len(starts)} independent blocks"
        if timed_out
        else f"Optimal in each of {len(starts)} independent blocks"
    )
    return SolveResult(
        "time_limit" if timed_out else "optimal",
        True,
        objective=obj,
        bound=bound + float(comp.lp.offset_),
        gap=worst_gap,
        is_mip=True,
        message=(
            head + " (company totals split over "
            "blocks by largest remainder; rounding neighbourhood of the LP optimum)"
        ),
        solver=highs_version(),
        seconds=time.perf_counter() - t0,
        n_cols=n_cols,
        n_rows=n_rows,
        n_nonzeros=int(a.nnz),
        n_integer=int(integ.sum()),
        options=dict(options),
        col_values=out,
    )


def solve_lp_by_blocks(
    comp: Compiled,
    options: dict[str, Any],
    link_rows: np.ndarray,
    decompose_above: int | None,
    workers: int = 1,
) -> SolveResult:
    """A quota model without integers (rounding off) above ``decompose_above`` columns: its LP
    by Dantzig–Wolfe over the blocks, exactly as the relaxation of a rounding MIP (:func:`_relax`),
    instead of one HiGHS LP of the whole model (50k reps: 257–389 s, past a 120-s limit).

    Past the deadline the best master point is the plan — status ``time_limit``, its bound the
    Lagrangian bound — when it meets every row; a point that does not (the linking rows not met
    yet: "not an LP solution") is no plan, and the result says the LP was not solved in time.
    """
    res = _relax(comp, options, (np.asarray(link_rows), 1.0), decompose_above, workers)
    if res.has_solution and res.status != "optimal" and res.col_values is not None:
        x = res.col_values
        ax = np.asarray(comp.matrix @ x).ravel()
        lo = np.asarray(comp.lp.row_lower_, dtype=float)
        hi = np.asarray(comp.lp.row_upper_, dtype=float)
        miss = np.maximum(lo - ax, ax - hi)  # −inf on a free side
        tol = 1e-7 * np.maximum(1.0, np.abs(ax))
        if bool((miss > tol).any()):
            res = SolveResult(
                "time_limit",
                False,
                message=(
                    f"time limit reached before the LP relaxation was solved ({res.seconds:.0f} s;"
                    f" {res.message}); raise solver.time_limit"
                ),
                solver=res.solver,
                seconds=res.seconds,
                n_cols=res.n_cols,
                n_rows=res.n_rows,
                n_nonzeros=res.n_nonzeros,
                options=res.options,
            )
    return res
