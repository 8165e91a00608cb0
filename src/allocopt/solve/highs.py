"""HiGHS adapter: assemble a linear model, solve it with highspy, normalise the result.

The one LinearModel → HiGHS path (:func:`compile_model`, :func:`highs_lp`, :func:`run_highs`)
used by :func:`allocopt.solve.solve`, the block solver and the diagnose checks. The
:class:`~allocopt.model.linear.LinearModel` is assembled into one sparse matrix and passed to
HiGHS directly, money in units of the model's money scale M:

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    integer: np.ndarray | None = None  # the integer columns as compiled (None: read ``lp``)

    def integer_columns(self) -> np.ndarray:
        """Every column's integrality (bool): the flags it was compiled with when kept (reading
        ``lp.integrality_`` costs about a second per million columns), else ``lp``'s (none
        when it has none). Not for use inside :func:`lp_relaxation`, which drops ``lp``'s."""
        n = int(self.lp.num_col_)
        if self.integer is not None and len(self.integer) == n:
            return self.integer
        kinds = self.lp.integrality_
        flags = np.array([t != highspy.HighsVarType.kContinuous for t in kinds], dtype=bool)
        return flags if len(flags) == n else np.zeros(n, dtype=bool)

    @property
    def money_scale(self) -> float:
        return float(self.model.money_scale) if self.col_scale is not None else 1.0

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``lp``'s cost, column lower/upper and row lower/upper bounds as float arrays."""
        lp = self.lp

        def f(v: Any) -> np.ndarray:
            return np.asarray(v, dtype=float)

        return (
            f(lp.col_cost_),
            f(lp.col_lower_),
            f(lp.col_upper_),
            f(lp.row_lower_),
            f(lp.row_upper_),
        )

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
    gap_against_lp: bool = False  # gap measured against the LP relaxation's bound (assembled plan)
    bound_method: str | None = None  # what ``bound`` is: mip | restricted | lp | lagrangian
    lagrangian_bound: float | None = None  # LB_int of the block MIPs at the LP prices
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
    warm_start: bool = False  # an LP started from a given basis (:class:`Basis`)

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
            "gap_against_lp",
            "bound_method",
            "lagrangian_bound",
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


@dataclass
class Basis:
    """An LP start basis (HiGHS's column/row statuses) for :func:`run_highs`, or a request for one.

    Empty (``highs`` None): the LP it is passed to records its optimal basis here. Filled: an LP
    of the same shape (``n_cols`` × ``n_rows``) starts from it (``setBasis``); another shape
    starts cold. In-process only (not pickled): each process records its own.
    """

    highs: Any = None  # highspy.HighsBasis
    n_cols: int = 0
    n_rows: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_cols, self.n_rows)


def highs_version() -> str:
    v = (highspy.HIGHS_VERSION_MAJOR, highspy.HIGHS_VERSION_MINOR, highspy.HIGHS_VERSION_PATCH)
    return "HiGHS " + ".".join(str(x) for x in v)


_BANNER_SHOWN = False
_THREADS = [1]  # HiGHS fixes its global scheduler's size when the first instance runs


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
    return Compiled(lp, a, lm, bool(integ.any()), cs, rs, integ.astype(bool))


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
    for name in ("objective", "bound", "lp_bound", "lagrangian_bound"):
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


def run_lp(lp: Any, options: dict[str, Any] | None = None) -> highspy.Highs:
    """A fresh silent HiGHS instance with ``options`` (HiGHS names), ``lp`` passed and run.

    The one way a HighsLp is solved outside :func:`run_highs` (block MIPs, the pre-check bounds,
    the IIS and its check); the instance is returned for its status, info, solution or IIS.
    Exceptions are the caller's to catch.
    """
    h = _highs(options or {})
    h.passModel(lp)
    h.run()
    return h


def run_arrays(
    cost: np.ndarray,
    offset: float,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    start: np.ndarray,
    index: np.ndarray,
    value: np.ndarray,
    integer: np.ndarray,
    options: dict[str, Any] | None = None,
) -> highspy.Highs:
    """:func:`run_lp` of ``highs_lp(...)`` with objective offset ``offset`` (a minimisation, A
    column-wise: ``start``, ``index``, ``value``), its arrays passed to HiGHS directly: the same
    model without building a HighsLp and its integrality list (half a millisecond of a small
    block MIP's 13). A model without integers goes through :func:`highs_lp`."""
    if not integer.any():
        a = sp.csc_matrix((value, index, start), shape=(len(row_lower), len(cost)))
        lp = highs_lp(cost, col_lower, col_upper, a, row_lower, row_upper)
        lp.offset_ = float(offset)
        return run_lp(lp, options)
    h = _highs(options or {})
    h.passModel(
        len(cost),
        len(row_lower),
        len(value),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        float(offset),
        np.asarray(cost, dtype=float),
        np.where(np.isfinite(col_lower), col_lower, -INF),
        np.where(np.isfinite(col_upper), col_upper, INF),
        np.where(np.isfinite(row_lower), row_lower, -INF),
        np.where(np.isfinite(row_upper), row_upper, INF),
        np.asarray(start, dtype=np.int32),
        np.asarray(index, dtype=np.int32),
        np.asarray(value, dtype=float),
        np.where(integer, int(highspy.HighsVarType.kInteger), 0).astype(np.int32),
    )
    h.run()
    return h


def is_optimal(h: highspy.Highs) -> bool:
    """HiGHS reached an optimum (for a zero objective: the model is feasible)."""
    return bool(h.getModelStatus() == highspy.HighsModelStatus.kOptimal)


@contextmanager
def lp_relaxation(lp: Any) -> Iterator[Any]:
    """``lp`` with its integrality dropped for the ``with`` block (restored after)."""
    integ = list(lp.integrality_)
    lp.integrality_ = []
    try:
        yield lp
    finally:
        lp.integrality_ = integ


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
    basis: Basis | None = None,
) -> SolveResult:
    """Pass a compiled model to a fresh HiGHS instance and solve it (results as HiGHS sees them:
    scaled; :func:`solve` unscales). ``start`` = (columns, values): a partial MIP start that
    HiGHS completes (the other columns re-solved as an LP) into its first incumbent. ``basis``
    (an LP only): start from it when filled and of this shape (``warm_start``), record the
    optimal basis in it when empty (see :class:`Basis`)."""
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
        lp_basis = None if len(lp.integrality_) else basis
        shape = (lp.num_col_, lp.num_row_)
        if lp_basis is not None and lp_basis.highs is not None and lp_basis.shape == shape:
            base.warm_start = h.setBasis(lp_basis.highs) == highspy.HighsStatus.kOk
        t = time.perf_counter()
        h.run()
        base.seconds = time.perf_counter() - t
        if lp_basis is not None and lp_basis.highs is None and is_optimal(h):
            lp_basis.highs, lp_basis.n_cols, lp_basis.n_rows = (
                h.getBasis(),
                lp.num_col_,
                lp.num_row_,
            )
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
