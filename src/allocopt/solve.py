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

    @property
    def lp_seconds(self) -> float | None:
        """HiGHS time of the LP relaxation, when the MIP was solved from it (else None)."""
        return None if self.relaxed is None else self.relaxed.seconds

    @property
    def lp_gap(self) -> float | None:
        """(objective − LP bound) / |objective|: the gap against the only bound valid for the
        whole integer model when the plan comes from a rounding neighbourhood or from blocks."""
        if self.objective is None or self.lp_bound is None:
            return None
        return abs(self.objective - self.lp_bound) / max(abs(self.objective), 1e-9)

    @property
    def lp_message(self) -> str | None:
        """How the LP relaxation was solved (whole, or by decomposition), when there was one."""
        return None if self.relaxed is None else self.relaxed.message

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
            "lp_gap",
            "lp_seconds",
            "lp_message",
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


def highs_lp(
    cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    a: sp.csc_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    integer: np.ndarray | None = None,
    *,
    maximize: bool = False,
) -> Any:
    """min (or max) cost·x  s.t.  row_lower ≤ A x ≤ row_upper,  col_lower ≤ x ≤ col_upper, as a
    HighsLp (column-wise A; ±inf bounds become HiGHS's infinity; ``integer`` marks integers)."""
    n_rows, n_cols = a.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.where(np.isfinite(col_lower), col_lower, -INF)
    lp.col_upper_ = np.where(np.isfinite(col_upper), col_upper, INF)
    lp.row_lower_ = np.where(np.isfinite(row_lower), row_lower, -INF)
    lp.row_upper_ = np.where(np.isfinite(row_upper), row_upper, INF)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, n_rows
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    if integer is not None and integer.any():
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        lp.integrality_ = [kinds[int(f)] for f in integer]
    return lp


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
    lp = highs_lp(cost, lb, ub, a, lo, up, integ)
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
    block_size: int | None = None,
    workers: int = 1,
    decompose_above: int | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[SolveResult, Compiled | None]:
    """Solve ``model`` with HiGHS.

    With ``neighbourhood`` a MIP with general integers is solved in two steps: its LP
    relaxation, then the MIP with every general integer bounded to the floor and ceiling of its LP
    value (each quota rounds down or up); if that restricted MIP is infeasible, the full MIP.
    With ``link = (row block, unit)`` and more than ``block_size`` general integers, the
    restricted MIP is split into independent blocks of at most that many (default: above
    :data:`BLOCKS_ABOVE`, one connected component per block)
    (the rows of ``row block`` — company totals — split across blocks by largest remainder in
    multiples of ``unit``), solved in ``workers`` processes when more than one.
    The LP relaxation (values and duals, for explanations) is kept in ``relaxed`` whichever MIP
    gives the plan. With ``link`` and more than ``decompose_above`` columns (default
    :data:`~allocopt.solve_decompose.DECOMPOSE_ABOVE`) the LP relaxation itself is solved by
    Dantzig–Wolfe over the same blocks (:func:`~allocopt.solve_decompose.solve_lp_decomposed`).
    Values, duals and objectives are in the model's units (currency).
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
        # default: split above BLOCKS_ABOVE, one component per block (packs of 20,000 integers
        # measured several times slower than single components; benchmarks/README.md)
        above, size = (BLOCKS_ABOVE, 1) if block_size is None else (block_size, block_size)
        res = _solve_neighbourhood(
            comp, options, link, progress, above, size, workers, decompose_above
        )
    else:  # ``start``: (integer columns, values), a partial MIP start HiGHS completes
        res = run_highs(comp, options, progress=progress, start=start)
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
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> SolveResult:
    """Pass a compiled model to a fresh HiGHS instance and solve it (results as HiGHS sees them:
    scaled; :func:`solve` unscales). ``start`` = (columns, values): a partial MIP start that
    HiGHS completes (the other columns re-solved as an LP) into its first incumbent."""
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
            if start is not None:
                h.setSolution(len(start[0]), start[0].astype(np.int32), start[1].astype(float))
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
    blocks_above: int = BLOCKS_ABOVE,
    block_size: int = 1,
    workers: int = 1,
    decompose_above: int | None = None,
) -> SolveResult:
    """LP relaxation → rounding-neighbourhood MIP (blocks) → full MIP, within one deadline.

    ``options["time_limit"]`` bounds all of it: every step gets what is left of the deadline,
    less a reserve of a tenth of the LP relaxation's time for :func:`_assemble`, which runs when
    the deadline passes before any integer plan exists.
    """
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
    deadline = t0 + float(options.get("time_limit", 1e9))
    lp.integrality_ = []
    relaxed = _relax(comp, options, link, decompose_above)
    lp.integrality_ = integ
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
    reserve = 0.1 * relaxed.seconds

    def left() -> float:
        return deadline - reserve - time.perf_counter()

    lo0 = np.array(lp.col_lower_, dtype=float)
    hi0 = np.array(lp.col_upper_, dtype=float)
    x = relaxed.col_values
    lo = lo0.copy()
    hi = hi0.copy()
    lo[general] = np.maximum(lo0[general], np.floor(x[general] + 1e-7))
    hi[general] = np.minimum(hi0[general], np.ceil(x[general] - 1e-7))
    searched = 0.0
    status = "time_limit"
    if link is not None and int(general.sum()) > blocks_above and left() > 0:
        tb = time.perf_counter()
        blocks = _solve_blocks(
            comp, x, lo, hi, link, {**options, "time_limit": left()}, block_size, workers
        )
        if blocks is not None:
            blocks.seconds += relaxed.seconds
            blocks.lp_bound = relaxed.bound
            blocks.relaxed = relaxed
            if left() <= 0:
                return blocks
            # the blocks fix each block's share of the totals; the rounded LP optimum does not
            # and can be better (50k reps: by 1.4%): keep the better of the two plans
            ta = time.perf_counter()
            rounded = _assemble(comp, relaxed, general, link, max(1.0, left()))
            blocks.seconds += time.perf_counter() - ta
            if not rounded.has_solution or (rounded.objective or 0.0) >= (blocks.objective or 0.0):
                return blocks
            by = ((blocks.objective or 0.0) - (rounded.objective or 0.0)) / max(
                abs(blocks.objective or 0.0), 1e-9
            )
            rounded.status = blocks.status
            rounded.seconds = blocks.seconds
            rounded.lp_bound = relaxed.bound
            rounded.relaxed = relaxed
            rounded.message = (
                blocks.message.split(" (")[0] + " (company totals split over blocks); "
                + rounded.message.split(": ", 1)[-1]
                + f" is {by:.2%} better and is the plan; gap against the LP bound"
            )
            return rounded
        searched += time.perf_counter() - tb  # the blocks' time counts though they failed
    if left() > 0:
        # start from the LP optimum rounded (company totals by largest remainder): HiGHS
        # completes it into an incumbent that is often within the gap already (5k reps)
        is_int = np.array([t != highspy.HighsVarType.kContinuous for t in integ], dtype=bool)
        z, _ = _round_linked(comp, x, general, link)
        cols = np.flatnonzero(is_int)
        start = (cols, np.clip(np.round(z[cols]), lo[cols], hi[cols]))
        lp.col_lower_, lp.col_upper_ = lo, hi
        res = run_highs(comp, {**options, "time_limit": left()}, progress=progress, start=start)
        lp.col_lower_, lp.col_upper_ = lo0, hi0
        searched += res.seconds
        status = res.status
        if res.has_solution:
            res.seconds += relaxed.seconds
            res.message += " (rounding neighbourhood of the LP optimum)"
            res.lp_bound = relaxed.bound  # bounds the full integer model as well
            res.relaxed = relaxed
            return res
    if status != "time_limit" and left() > 0:
        full = run_highs(comp, {**options, "time_limit": left()}, progress=progress)
        full.seconds += relaxed.seconds + searched
        # the plan comes from the full integer model; the explanation still from its LP relaxation
        full.lp_bound = relaxed.bound
        full.relaxed = relaxed
        if full.has_solution or full.status != "time_limit":
            return full
        searched = full.seconds - relaxed.seconds
    out = _assemble(comp, relaxed, general, link, max(1.0, deadline - time.perf_counter()))
    out.seconds += relaxed.seconds + searched
    out.lp_bound = relaxed.bound
    out.relaxed = relaxed
    return out


def _relax(
    comp: Compiled,
    options: dict[str, Any],
    link: tuple[str, float] | None,
    decompose_above: int | None,
) -> SolveResult:
    """The LP relaxation (integrality already dropped): by Dantzig–Wolfe over the blocks when
    there is a link block and more than ``decompose_above`` columns, else (or when the
    decomposition gives up) as one HiGHS LP in what is left of the time limit."""
    from allocopt.solve_decompose import DECOMPOSE_ABOVE, solve_lp_decomposed

    above = DECOMPOSE_ABOVE if decompose_above is None else decompose_above
    rows = comp.model.rows
    if link is None or link[0] not in rows or comp.lp.num_col_ <= above:
        return run_highs(comp, options)
    t0 = time.perf_counter()
    rb = rows[link[0]]
    res = solve_lp_decomposed(comp, np.arange(rb.start, rb.start + len(rb)), options)
    if res is not None:
        return res
    left = float(options.get("time_limit", 1e9)) - (time.perf_counter() - t0)
    whole = run_highs(comp, {**options, "time_limit": max(1.0, left)})
    whole.seconds = time.perf_counter() - t0  # the decomposition's attempt counts
    return whole


def _round_linked(
    comp: Compiled, x: np.ndarray, general: np.ndarray, link: tuple[str, float] | None
) -> tuple[np.ndarray, int]:
    """General integers of ``x`` rounded; those tied to a link row by largest remainder.

    A general integer j is tied to link row r through its twin: an equality row
    a_k·x_k + a_j·x_j = 0 of two columns (the rounding row quota = u·quota_units) whose
    continuous column k is in r. When all integers of a row weigh the same w = −a_rk·a_j/a_k
    and r's right-hand side is a multiple of w, their floors are raised by one in order of
    largest remainder (ties: lower column) until the row holds exactly. Every other integer
    is rounded to nearest. Returns the rounded values and the number of link rows restored.
    """
    z = x.copy()
    z[general] = np.round(x[general])
    if link is None or link[0] not in comp.model.rows:
        return z, 0
    a = comp.matrix.tocsr()
    lo = np.asarray(comp.lp.row_lower_, dtype=float)
    up = np.asarray(comp.lp.row_upper_, dtype=float)
    nnz = np.diff(a.indptr)
    twin_of = np.full(a.shape[1], -1, dtype=np.int64)  # continuous column → its integer twin
    weight = np.zeros(a.shape[1])
    pairs = np.flatnonzero((nnz == 2) & (lo == up) & (lo == 0.0))
    c0, c1 = a.indices[a.indptr[pairs]], a.indices[a.indptr[pairs] + 1]
    v0, v1 = a.data[a.indptr[pairs]], a.data[a.indptr[pairs] + 1]
    for ci, cj, vi, vj in ((c0, c1, v0, v1), (c1, c0, v1, v0)):
        sel = general[cj] & ~general[ci]
        twin_of[ci[sel]] = cj[sel]
        weight[ci[sel]] = -vj[sel] / vi[sel]
    restored = 0
    rb = comp.model.rows[link[0]]
    for r in range(rb.start, rb.start + len(rb)):
        cols = a.indices[a.indptr[r] : a.indptr[r + 1]]
        vals = a.data[a.indptr[r] : a.indptr[r + 1]]
        ints = twin_of[cols]
        if len(cols) == 0 or (ints < 0).any() or lo[r] != up[r]:
            continue
        w = vals * weight[cols]
        if not np.allclose(w, w[0], rtol=1e-9, atol=0.0):
            continue
        total = lo[r] / w[0]
        if abs(total - round(total)) > 1e-6:
            continue
        low = np.floor(x[ints] + 1e-7)
        need = round(total - low.sum())
        if need < 0 or need > len(ints):
            continue
        rem = x[ints] - low
        order = np.lexsort((ints, -rem))
        low[order[:need]] += 1
        z[ints] = low
        restored += 1
    return z, restored


def _assemble(
    comp: Compiled,
    relaxed: SolveResult,
    general: np.ndarray,
    link: tuple[str, float] | None,
    time_limit: float,
) -> SolveResult:
    """A plan when the deadline passed before any integer one: the LP optimum rounded.

    The general integers are rounded by :func:`_round_linked` (company totals exact), every
    other integer column is rounded to nearest and fixed, and the continuous columns are
    re-solved as an LP against all rows. The result carries status ``time_limit`` and the LP
    relaxation as its bound; when that LP has no solution the rounded assembly breaks a row of
    the model and no plan is returned (the message says so).
    """
    lp = comp.lp
    assert relaxed.col_values is not None
    integ = list(lp.integrality_)
    is_int = np.array([t != highspy.HighsVarType.kContinuous for t in integ], dtype=bool)
    z, restored = _round_linked(comp, relaxed.col_values, general, link)
    z[is_int & ~general] = np.round(relaxed.col_values[is_int & ~general])
    lo0 = np.array(lp.col_lower_, dtype=float)
    hi0 = np.array(lp.col_upper_, dtype=float)
    lo, hi = lo0.copy(), hi0.copy()
    lo[is_int] = hi[is_int] = np.clip(z[is_int], lo0[is_int], hi0[is_int])
    lp.integrality_ = []
    lp.col_lower_, lp.col_upper_ = lo, hi
    try:
        res = run_highs(comp, {**relaxed.options, "time_limit": time_limit})
    finally:
        lp.integrality_ = integ
        lp.col_lower_, lp.col_upper_ = lo0, hi0
    res.is_mip = True
    res.n_integer = int(is_int.sum())
    res.row_duals = res.col_duals = None
    what = (
        f"the LP optimum with its {int(is_int.sum())} integers rounded "
        f"({restored} linked totals restored by largest remainder)"
    )
    if not res.has_solution:
        res.status = "time_limit"
        res.message = (
            "time limit reached before an integer plan was found, and " + what + " breaks a "
            f"row of the model ({res.message}); raise solver.time_limit"
        )
        return res
    res.status = "time_limit"
    res.bound = relaxed.bound
    obj = float(res.objective or 0.0)
    res.gap = abs(obj - float(relaxed.bound or 0.0)) / max(abs(obj), 1e-9)
    res.message = "time limit reached before an integer plan was found: " + what
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
    h = _highs({**options, "time_limit": left})
    h.passModel(lp)
    h.run()
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
    blocks: list[_Block], options: dict[str, Any], deadline: float, workers: int
) -> list[tuple[Any, ...]]:
    """Each block's result, in block order; with ``workers`` > 1 in that many processes.

    A block's result depends only on its data and the options (fixed threads and seed), so the
    assembled plan is the same whatever the number of workers.
    """
    from allocopt.solve_decompose import BLOCK_MAP

    mapper = BLOCK_MAP.get()  # a Dask cluster (allocopt solve --scheduler)
    if mapper is not None and len(blocks) >= 2:
        per = -(-len(blocks) // 64)  # 64 tasks at most
        chunks = [blocks[i : i + per] for i in range(0, len(blocks), per)]
        parts = mapper(_solve_chunk, chunks, [options] * len(chunks), [deadline] * len(chunks))
        return [r for part in parts for r in part]
    if workers <= 1 or len(blocks) < 2:
        return _solve_chunk(blocks, options, deadline)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    n = min(workers, len(blocks))
    per = -(-len(blocks) // (4 * n))  # a few chunks per worker: balance without much pickling
    chunks = [blocks[i : i + per] for i in range(0, len(blocks), per)]
    ctx = mp.get_context("spawn")  # HiGHS's thread pool does not survive a fork
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        parts = list(
            pool.map(_solve_chunk, chunks, [options] * len(chunks), [deadline] * len(chunks))
        )
    return [r for part in parts for r in part]


def _solve_blocks(
    comp: Compiled,
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    link: tuple[str, float],
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
    lm = comp.model
    name, unit = link
    if name not in lm.rows:
        return None
    lb = lm.rows[name]
    link_rows = np.arange(lb.start, lb.start + len(lb))
    t0 = time.perf_counter()
    deadline = time.time() + float(options.get("time_limit", 1e9))
    a = comp.matrix
    n_rows, n_cols = a.shape
    is_link = np.zeros(n_rows, dtype=bool)
    is_link[link_rows] = True
    integ = np.array([t != highspy.HighsVarType.kContinuous for t in comp.lp.integrality_])
    general = integ & ~((lo >= 0) & (hi <= 1))
    col_block = _blocks_of(comp, link_rows, general, max(1, int(block_size)))
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
