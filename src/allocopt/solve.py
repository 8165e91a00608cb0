"""HiGHS adapter: assemble a linear model, solve it with highspy, normalise the result.

Public entry point: :func:`solve`. The :class:`~allocopt.model.linear.LinearModel` is assembled
into one sparse matrix and passed to HiGHS directly, money in units of the model's money scale M:

    x' = x / s_c,   a'_rc = a_rc · s_c / s_r,   bounds' = bounds / s,   c'_c = c_c · s_c / M

with s = M for money columns and rows and 1 for counts, so a plan with money × k (M × k) gives
HiGHS the same numbers, and integer coefficients such as the rounding unit are O(1). Results are
unscaled on the way out — x = s_c·x', row duals y = M·y'/s_r, reduced costs d = M·d'/s_c,
objective = M·obj' — so primal values, duals and objectives are in currency as the model states.
Primal values and (for LPs) row duals come back as arrays in the model's column and row order.
No HiGHS exception escapes: a failure becomes a :class:`SolveResult` with status ``error``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from allocopt.model.linear import LinearModel

INF = highspy.kHighsInf


@dataclass
class Compiled:
    """A model in matrix form, with the map back to its named components.

    ``lp`` and ``matrix`` are what HiGHS sees (money in units of the money scale);
    :meth:`activity` gives row activities in the model's units (currency) for values in currency.
    """

    lp: Any  # highspy.HighsLp
    matrix: Any  # scipy.sparse CSC matrix, rows × columns, scaled like lp
    model: LinearModel
    is_mip: bool
    col_scale: np.ndarray | None = None  # x = col_scale · x'   (None: no scaling)
    row_scale: np.ndarray | None = None  # activity = row_scale · activity'

    @property
    def money_scale(self) -> float:
        return float(self.model.money_scale) if self.col_scale is not None else 1.0

    def activity(self, x: np.ndarray) -> np.ndarray:
        """Row activities A·x for column values ``x`` in the model's units."""
        if self.col_scale is None or self.row_scale is None:
            return np.asarray(self.matrix @ x)
        return np.asarray(self.matrix @ (x / self.col_scale)) * self.row_scale


@dataclass
class SolveResult:
    """Normalised solver outcome."""

    status: str  # optimal | time_limit | infeasible | unbounded | error | other
    has_solution: bool
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    is_mip: bool = False
    message: str = ""
    solver: str = ""
    seconds: float = 0.0
    compile_seconds: float = 0.0
    n_cols: int = 0
    n_rows: int = 0
    n_nonzeros: int = 0
    n_integer: int = 0
    lp_bound: float | None = None  # LP relaxation objective, when solved by neighbourhood
    relaxed: SolveResult | None = None  # the LP relaxation itself (values and duals)
    money_scale: float = 1.0  # the currency amount that was 1 for HiGHS
    options: dict[str, Any] = field(default_factory=dict)
    col_values: np.ndarray | None = None
    row_duals: np.ndarray | None = None
    col_duals: np.ndarray | None = None  # reduced costs (LP only)

    def summary(self) -> dict[str, Any]:
        keys = (
            "status",
            "has_solution",
            "objective",
            "bound",
            "gap",
            "is_mip",
            "message",
            "solver",
            "seconds",
            "compile_seconds",
            "n_cols",
            "n_rows",
            "n_nonzeros",
            "n_integer",
            "lp_bound",
            "money_scale",
            "options",
        )
        return {k: getattr(self, k) for k in keys}


def highs_version() -> str:
    v = (highspy.HIGHS_VERSION_MAJOR, highspy.HIGHS_VERSION_MINOR, highspy.HIGHS_VERSION_PATCH)
    return "HiGHS " + ".".join(str(x) for x in v)


_BANNER_SHOWN = False
_THREADS = [1]  # HiGHS fixes its global scheduler's size when the first instance runs

BLOCKS_ABOVE = 20_000
"""Rounding MIPs with more general integers than this are solved block by block."""


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance (its one-time start-up banner is kept off stdout)."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", _THREADS[0])
    return h


def compile_model(lm: LinearModel, *, scaled: bool = True) -> Compiled:
    """Assemble a :class:`LinearModel` into a HighsLp (vectorised; no per-nonzero Python).

    With ``scaled`` (and a money scale other than 1) money is in units of the money scale.
    """
    a = lm.matrix()
    lb, ub, integ = lm.bounds()
    lo, up = lm.row_bounds()
    cost = lm.cost()
    cs = rs = None
    m = float(lm.money_scale)
    if scaled and m != 1.0:
        cs, rs = lm.col_scale(), lm.row_scale()
        col_of = np.repeat(np.arange(lm.n_cols), np.diff(a.indptr))
        a = a.copy()
        a.data = a.data * (cs[col_of] / rs[a.indices])
        lb, ub = lb / cs, ub / cs
        lo, up = lo / rs, up / rs
        cost = cost * (cs / m)
    lp = highspy.HighsLp()
    lp.num_col_ = lm.n_cols
    lp.num_row_ = lm.n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = np.where(np.isfinite(lb), lb, -INF)
    lp.col_upper_ = np.where(np.isfinite(ub), ub, INF)
    lp.row_lower_ = np.where(np.isfinite(lo), lo, -INF)
    lp.row_upper_ = np.where(np.isfinite(up), up, INF)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.a_matrix_.num_col_ = lm.n_cols
    lp.a_matrix_.num_row_ = lm.n_rows
    lp.sense_ = highspy.ObjSense.kMinimize
    if integ.any():
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        lp.integrality_ = [kinds[int(f)] for f in integ]
    return Compiled(lp, a, lm, bool(integ.any()), cs, rs)


def _unscale(res: SolveResult, comp: Compiled) -> SolveResult:
    """Put a result of the scaled model back into the model's units (currency); see the top."""
    if res.relaxed is not None:
        _unscale(res.relaxed, comp)
    cs, rs = comp.col_scale, comp.row_scale
    if cs is None or rs is None:
        return res
    m = comp.money_scale
    if res.col_values is not None:
        res.col_values = res.col_values * cs
    if res.row_duals is not None:
        res.row_duals = res.row_duals * (m / rs)
    if res.col_duals is not None:
        res.col_duals = res.col_duals * (m / cs)
    for name in ("objective", "bound", "lp_bound"):
        v = getattr(res, name)
        if v is not None:
            setattr(res, name, v * m)
    return res


def _write(comp: Compiled, path: Path) -> None:
    """Write the model, in the model's units (currency), to ``path`` (format by suffix)."""
    plain = compile_model(comp.model, scaled=False)
    _name(plain, plain.lp)
    h = new_highs()
    h.passModel(plain.lp)
    h.writeModel(str(path))


def _name(comp: Compiled, lp: Any) -> None:
    """Attach column and row names (only for writing the model to a file)."""
    lm = comp.model
    cols: list[str] = []
    for b in lm.vars.values():
        cols.extend(f"{b.name}[{b.index.label(i)}]" for i in range(len(b)))
    rows: list[str] = []
    for r in lm.rows.values():
        rows.extend(f"{r.name}[{r.index.label(i)}]" for i in range(len(r)))
    lp.col_names_ = [c.replace(" ", "_") for c in cols]
    lp.row_names_ = [c.replace(" ", "_") for c in rows]


def _highs(options: dict[str, Any]) -> highspy.Highs:
    threads = int(options.get("threads", _THREADS[0]))
    if threads != _THREADS[0]:
        highspy.Highs.resetGlobalScheduler(True)
        _THREADS[0] = threads
    h = new_highs()
    for k, v in options.items():
        h.setOptionValue(k, v)
    return h


def highs_options(time_limit: float, mip_gap: float, threads: int, seed: int) -> dict[str, Any]:
    """HiGHS options from the scenario's solver settings."""
    return {
        "time_limit": float(time_limit),
        "mip_rel_gap": float(mip_gap),
        "threads": int(threads),
        "random_seed": int(seed),
    }


_STATUS = {
    "kOptimal": "optimal",
    "kTimeLimit": "time_limit",
    "kInfeasible": "infeasible",
    "kUnbounded": "unbounded",
    "kUnboundedOrInfeasible": "infeasible_or_unbounded",
    "kIterationLimit": "iteration_limit",
    "kSolutionLimit": "solution_limit",
    "kInterrupt": "interrupted",
    "kObjectiveBound": "objective_bound",
    "kObjectiveTarget": "objective_target",
}


def solve(
    model: LinearModel,
    options: dict[str, Any],
    *,
    write_model: Path | None = None,
    neighbourhood: bool = False,
    link: tuple[str, float] | None = None,
    progress: Progress | None = None,
) -> tuple[SolveResult, Compiled | None]:
    """Solve ``model`` with HiGHS.

    With ``neighbourhood`` a MIP with general integers is solved in two steps: its LP
    relaxation, then the MIP with every general integer bounded to the floor and ceiling of its LP
    value (each quota rounds down or up); if that restricted MIP is infeasible, the full MIP.
    With ``link = (row block, unit)`` and more than :data:`BLOCKS_ABOVE` general integers, the
    restricted MIP is split into its independent blocks (the rows of ``row block`` — company
    totals — split across blocks by largest remainder in multiples of ``unit``).
    The LP relaxation (values and duals, for explanations) is kept in ``relaxed`` whichever MIP
    gives the plan. Values, duals and objectives are in the model's units (currency).
    ``write_model`` gets the model in those units too.
    """
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
    if link is not None and link[0] in model.rows and model.rows[link[0]].money:
        link = (link[0], float(link[1]) / comp.money_scale)
    if neighbourhood and comp.is_mip:
        res = _solve_neighbourhood(comp, options, link, progress)
    else:
        res = run_highs(comp, options, progress=progress)
    res.compile_seconds = t1 - t0
    res.money_scale = comp.money_scale
    return _unscale(res, comp), comp


Progress = Callable[[str], None]


def _watch(h: highspy.Highs, progress: Progress | None, label: str) -> None:
    """Report the MIP's best solution, bound and gap as they improve."""
    if progress is None:
        return

    def callback(kind: Any, _msg: str, out: Any, _inp: Any, _user: Any) -> None:
        gap = out.mip_gap
        if math.isfinite(gap):
            progress(f"{label}: gap {gap:.2%} after {out.running_time:.0f} s")
        else:
            progress(f"{label}: searching ({out.running_time:.0f} s)")

    h.setCallback(callback, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipLogging)


def run_highs(
    comp: Compiled,
    options: dict[str, Any],
    *,
    progress: Progress | None = None,
) -> SolveResult:
    """Pass a compiled model to a fresh HiGHS instance and solve it (results as HiGHS sees them:
    scaled; :func:`solve` unscales)."""
    lp = comp.lp
    base = SolveResult(
        "error",
        False,
        is_mip=comp.is_mip and bool(len(lp.integrality_)),
        solver=highs_version(),
        n_cols=lp.num_col_,
        n_rows=lp.num_row_,
        n_nonzeros=len(lp.a_matrix_.value_),
        n_integer=int(sum(1 for t in lp.integrality_ if t != highspy.HighsVarType.kContinuous)),
        options=dict(options),
    )
    try:
        h = _highs(options)
        h.passModel(lp)
        if len(lp.integrality_):
            _watch(h, progress, f"solving {comp.model.name}")
        t = time.perf_counter()
        h.run()
        base.seconds = time.perf_counter() - t
        status = h.modelStatusToString(h.getModelStatus())
        ms = str(h.getModelStatus()).split(".")[-1]
        info = h.getInfo()
        base.status = _STATUS.get(ms, "other")
        base.message = status
        has = info.primal_solution_status == 2  # kSolutionStatusFeasible
        base.has_solution = bool(has)
        if has:
            sol = h.getSolution()
            base.col_values = np.asarray(sol.col_value, dtype=float)
            base.objective = float(info.objective_function_value)
            if comp.is_mip and len(lp.integrality_):
                base.bound = float(info.mip_dual_bound)
                gap = float(info.mip_gap)
                base.gap = gap if math.isfinite(gap) else None
            else:
                base.bound = base.objective
                base.gap = 0.0
                if sol.dual_valid:
                    base.row_duals = np.asarray(sol.row_dual, dtype=float)
                    base.col_duals = np.asarray(sol.col_dual, dtype=float)
    except Exception as exc:  # HiGHS trouble must never reach the user as a traceback
        base.status = "error"
        base.has_solution = False
        base.message = f"HiGHS failed: {exc}"
    return base


def _solve_neighbourhood(
    comp: Compiled,
    options: dict[str, Any],
    link: tuple[str, float] | None = None,
    progress: Progress | None = None,
) -> SolveResult:
    lp = comp.lp
    integ = list(lp.integrality_)
    general = np.array(
        [
            t != highspy.HighsVarType.kContinuous and not (lo >= 0 and hi <= 1)
            for t, lo, hi in zip(integ, lp.col_lower_, lp.col_upper_, strict=True)
        ],
        dtype=bool,
    )
    t0 = time.perf_counter()
    lp.integrality_ = []
    relaxed = run_highs(comp, options)
    lp.integrality_ = integ
    if not relaxed.has_solution or relaxed.col_values is None or not general.any():
        res = run_highs(comp, options, progress=progress)
        res.seconds += relaxed.seconds
        if relaxed.has_solution:
            res.lp_bound = relaxed.objective
            res.relaxed = relaxed
        return res
    lo0 = np.array(lp.col_lower_, dtype=float)
    hi0 = np.array(lp.col_upper_, dtype=float)
    x = relaxed.col_values
    lo = lo0.copy()
    hi = hi0.copy()
    lo[general] = np.maximum(lo0[general], np.floor(x[general] + 1e-7))
    hi[general] = np.minimum(hi0[general], np.ceil(x[general] - 1e-7))
    spent = time.perf_counter() - t0
    left = max(1.0, float(options.get("time_limit", 1e9)) - spent)
    if link is not None and int(general.sum()) > BLOCKS_ABOVE:
        blocks = _solve_blocks(comp, x, lo, hi, link, {**options, "time_limit": left})
        if blocks is not None:
            blocks.seconds += relaxed.seconds
            blocks.lp_bound = relaxed.objective
            blocks.relaxed = relaxed
            return blocks
    lp.col_lower_, lp.col_upper_ = lo, hi
    res = run_highs(comp, {**options, "time_limit": left}, progress=progress)
    lp.col_lower_, lp.col_upper_ = lo0, hi0
    if res.has_solution:
        res.seconds += relaxed.seconds
        res.message += " (rounding neighbourhood of the LP optimum)"
        res.lp_bound = relaxed.objective  # bounds the full integer model as well
        res.relaxed = relaxed
        return res
    full = run_highs(comp, options, progress=progress)
    full.seconds += relaxed.seconds + res.seconds
    # the plan comes from the full integer model; the explanation still from its LP relaxation
    full.lp_bound = relaxed.objective
    full.relaxed = relaxed
    return full


def _solve_blocks(
    comp: Compiled,
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    link: tuple[str, float],
    options: dict[str, Any],
) -> SolveResult | None:
    """Solve the restricted rounding MIP as independent blocks; None if a block fails.

    Blocks are the connected components of the rows other than the link block (the company
    totals). Each link row's right-hand side is split over the blocks: every block gets its LP
    activity rounded down to a multiple of the unit, and the remaining units go to the blocks
    with the largest remainders (ties: lower block number), so the totals stay exact.
    """
    from scipy.sparse.csgraph import connected_components

    lm = comp.model
    name, unit = link
    if name not in lm.rows:
        return None
    lb = lm.rows[name]
    link_rows = np.arange(lb.start, lb.start + len(lb))
    t0 = time.perf_counter()
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
    col_block = labels[:n_cols]
    # split each link row's right-hand side over blocks
    ar = a.tocsr()
    rhs = np.asarray(comp.lp.row_lower_, dtype=float)
    targets: dict[tuple[int, int], float] = {}
    for r in link_rows.tolist():
        cols = ar.indices[ar.indptr[r] : ar.indptr[r + 1]]
        vals = ar.data[ar.indptr[r] : ar.indptr[r + 1]]
        blk = col_block[cols]
        ids, inv = np.unique(blk, return_inverse=True)
        act = np.bincount(inv, weights=vals * x[cols], minlength=len(ids)) / unit
        low = np.floor(act + 1e-7)
        need = round(rhs[r] / unit - low.sum())
        rem = act - low
        order = np.lexsort((ids, -rem))
        if need < 0 or need > len(ids):
            return None
        low[order[:need]] += 1
        for b, v in zip(ids.tolist(), (low * unit).tolist(), strict=True):
            targets[(r, b)] = v
    order = np.argsort(col_block, kind="stable")
    bounds = np.flatnonzero(np.diff(col_block[order])) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [n_cols]])
    cost = np.asarray(comp.lp.col_cost_, dtype=float)
    integ = np.array([t != highspy.HighsVarType.kContinuous for t in comp.lp.integrality_])
    row_lo = np.asarray(comp.lp.row_lower_, dtype=float)
    row_up = np.asarray(comp.lp.row_upper_, dtype=float)
    out = x.copy()
    worst_gap = 0.0
    bound = 0.0
    kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
    deadline = t0 + float(options.get("time_limit", 1e9))
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
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(cols), len(rows)
        lp.col_cost_ = cost[cols]
        lp.col_lower_, lp.col_upper_ = lo[cols], hi[cols]
        lp.row_lower_, lp.row_upper_ = rlo, rup
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = sub.indptr.astype(np.int32)
        lp.a_matrix_.index_ = sub.indices.astype(np.int32)
        lp.a_matrix_.value_ = sub.data.astype(float)
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = len(cols), len(rows)
        if integ[cols].any():
            lp.integrality_ = [kinds[int(f)] for f in integ[cols]]
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        h = _highs({**options, "time_limit": left})
        h.passModel(lp)
        h.run()
        info = h.getInfo()
        if info.primal_solution_status != 2:
            return None
        out[cols] = np.asarray(h.getSolution().col_value, dtype=float)
        if integ[cols].any():
            worst_gap = max(worst_gap, float(info.mip_gap) if math.isfinite(info.mip_gap) else 0.0)
            bound += float(info.mip_dual_bound)
        else:
            bound += float(info.objective_function_value)
    obj = float(cost @ out) + float(comp.lp.offset_)
    return SolveResult(
        "optimal",
        True,
        objective=obj,
        bound=bound + float(comp.lp.offset_),
        gap=worst_gap,
        is_mip=True,
        message=(
            f"Optimal in each of {len(starts)} independent blocks (company totals split over "
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
