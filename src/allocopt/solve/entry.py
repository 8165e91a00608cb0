"""The solve stage's entry point: :func:`solve` a :class:`~allocopt.model.linear.LinearModel`.

``solver.name`` picks the path: ``highs`` (the default) compiles the model once
(:func:`~allocopt.solve.highs.compile_model`), solves it directly or through the rounding
neighbourhood and blocks (:mod:`allocopt.solve.blocks`) and unscales it back to currency; any
other name solves it through Pyomo (:mod:`allocopt.solve.pyomo`). :func:`quota_objective`
re-solves a plan's quota model for its objective alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.model.build import build_quotas
from allocopt.model.linear import LinearModel
from allocopt.model.sets import quota_sets
from allocopt.solve.blocks import BLOCKS_ABOVE, Link, _solve_neighbourhood, solve_lp_by_blocks
from allocopt.solve.highs import (
    Basis,
    Compiled,
    Progress,
    SolveResult,
    _unscale,
    _write,
    compile_model,
    highs_options,
    run_highs,
)
from allocopt.solve.pyomo import DIRECT


def solve(
    model: LinearModel,
    options: dict[str, Any],
    *,
    solver: str = DIRECT,
    write_model: Path | None = None,
    neighbourhood: bool = False,
    link_unit: float | None = None,
    progress: Progress | None = None,
    block_size: int | None = None,
    workers: int = 1,
    decompose_above: int | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    components: bool = False,
    lp_basis: Basis | None = None,
) -> tuple[SolveResult, Compiled | None]:
    """Solve ``model`` with HiGHS directly (``solver`` ``highs``) or with any solver through Pyomo.

    ``write_model`` gets the model as solved: ``*.lp`` written by Pyomo (symbolic names), any
    other suffix (``.mps``) by HiGHS. Through Pyomo the full model is solved, its LP relaxation
    first when ``neighbourhood`` (no blocks); see :func:`~allocopt.solve.pyomo.solve_pyomo`.
    The rest describes the direct path.

    With ``neighbourhood`` a MIP with general integers is solved in two steps: its LP
    relaxation, then the MIP with every general integer bounded to the floor and ceiling of its LP
    value (each quota rounds down or up); if that restricted MIP is infeasible, the full MIP.
    With ``link_unit`` and more than ``block_size`` general integers (default: above
    :data:`BLOCKS_ABOVE`, one connected component per block) the model is split into independent
    blocks without its linking rows (:meth:`~allocopt.model.linear.LinearModel.linking_rows` —
    company totals): the plan is the LP optimum rounded (totals exact in multiples of
    ``link_unit``), its bound the Lagrangian bound of the blocks' full MIPs at the LP prices
    (``bound_method``; :mod:`allocopt.solve.lagrange`), the blocks solved in ``workers``
    processes when more than one.
    The LP relaxation (values and duals, for explanations) is kept in ``relaxed`` whichever MIP
    gives the plan. With linking rows and more than ``decompose_above`` columns (default
    :data:`~allocopt.solve.decompose.DECOMPOSE_ABOVE`) the LP relaxation itself is solved by
    Dantzig–Wolfe over the same blocks (:func:`~allocopt.solve.decompose.solve_lp_decomposed`).
    ``start`` (integer columns, values) is a partial MIP start for a direct solve.
    ``lp_basis`` (with ``neighbourhood``): the LP relaxation starts from this basis when it has
    the same shape, or records its optimal basis there when empty (:class:`~allocopt.solve.highs.
    Basis`; ``relaxed.warm_start`` says whether it was used) — the sweep's ``--warm-start``.
    With ``components`` (the key-account alignment: no linking rows) a MIP is solved by its
    connected components, packed into blocks of at most ``block_size`` columns, when it has more
    columns than that (default: above :data:`~allocopt.solve.alignment.ALIGNMENT_BLOCKS_ABOVE`),
    in ``workers`` processes — exact, the blocks share no row
    (:func:`~allocopt.solve.alignment.solve_components`); a time limit without a plan falls back
    to ``start`` when it is a full feasible plan.
    Values, duals and objectives are in the model's units (currency).
    ``write_model`` gets the model in those units too.
    """
    if write_model is not None and write_model.suffix.lower() == ".lp":
        from allocopt.solve.pyomo import write_lp

        write_lp(model, write_model)
        write_model = None
    if solver != DIRECT:
        from allocopt.solve.pyomo import solve_pyomo

        if write_model is not None:  # .mps: written by HiGHS, as on the direct path
            try:
                _write(compile_model(model), write_model)
            except Exception as exc:  # a model file is a by-product: report, never crash
                msg = f"could not write the model: {exc}"
                return SolveResult("error", False, message=msg), None
        return solve_pyomo(model, solver, options, relax_first=neighbourhood)
    t0 = time.perf_counter()
    try:
        comp = compile_model(model)
    except Exception as exc:  # any modelling failure is reported, not raised
        return SolveResult("error", False, message=f"could not compile the model: {exc}"), None
    t1 = time.perf_counter()
    if write_model is not None:
        try:
            _write(comp, write_model)
        except Exception as exc:  # a model file is a by-product: report, never crash
            return SolveResult("error", False, message=f"could not write the model: {exc}"), comp
    link: Link | None = None
    rows = model.linking_rows()
    if link_unit is not None and len(rows):
        money = all(b.money for b in model.rows.values() if b.linking)
        link = (rows, float(link_unit) / comp.money_scale if money else float(link_unit))
    if components and comp.is_mip:
        from allocopt.solve.alignment import solve_components

        res = solve_components(
            comp, options, start=start, block_size=block_size, workers=workers, progress=progress
        )
    elif neighbourhood and comp.is_mip:
        # default: split above BLOCKS_ABOVE, one component per block (packs of 20,000 integers
        # measured several times slower than single components; benchmarks/README.md)
        above, size = (BLOCKS_ABOVE, 1) if block_size is None else (block_size, block_size)
        res = _solve_neighbourhood(
            comp, options, link, progress, above, size, workers, decompose_above, lp_basis
        )
    elif neighbourhood and len(rows) and _decomposes(comp, decompose_above):
        # no integers (rounding off): the LP itself by Dantzig–Wolfe, as a MIP's relaxation is
        res = solve_lp_by_blocks(comp, options, rows, decompose_above, workers)
    else:
        res = run_highs(comp, options, progress=progress, start=start)
    res.compile_seconds = t1 - t0
    res.money_scale = comp.money_scale
    return _unscale(res, comp), comp


def _decomposes(comp: Compiled, decompose_above: int | None) -> bool:
    """More columns than ``decompose_above`` (default :data:`DECOMPOSE_ABOVE`; 0 = always)."""
    from allocopt.solve.decompose import DECOMPOSE_ABOVE

    above = DECOMPOSE_ABOVE if decompose_above is None else decompose_above
    return bool(comp.lp.num_col_ > above)


def quota_objective(md: ModelData, owner: np.ndarray, workers: int = 1) -> float | None:
    """Objective of the quota model of ``md`` with key-account owners ``owner`` (index into the
    reps per key account, −1 none), solved as built under the scenario's solver settings (its
    decomposed LP's pricing in ``workers`` processes); None
    when it has no solution. With rounding off in ``md``'s scenario it is the LP that explain
    re-solves (:func:`allocopt.pipeline.relaxed_objective` composes it for a run folder), by
    Dantzig–Wolfe above ``solver.decompose_above`` columns as the solve does. Raises
    :class:`~allocopt.errors.SolverError` when the solver stopped (time limit, error) without
    its optimum — that is not "infeasible", and an LP point short of the optimum is no answer."""
    from allocopt.errors import SolverError

    sc = md.scenario
    built = build_quotas(quota_sets(md, owner))
    opts = highs_options(sc.solver.time_limit, sc.solver.mip_gap, sc.solver.threads, sc.solver.seed)
    res, _ = solve(
        built.model,
        opts,
        neighbourhood=not sc.rules.rounding.enabled,  # an LP: decomposed like the solve's
        decompose_above=sc.solver.decompose_above,
        workers=workers,  # the pricing packs' processes: the same result, to the bit
    )
    stopped = res.status in ("time_limit", "error") and not (res.is_mip and res.has_solution)
    if stopped:
        raise SolverError(
            f"the LP re-solve stopped without its optimum ({res.message or res.status}; "
            f"solver.time_limit {sc.solver.time_limit:g} s)"
        )
    return res.objective if res.has_solution else None
