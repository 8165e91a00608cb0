"""HiGHS adapter: compile a Pyomo model to matrices, solve with highspy, normalise the result.

Public entry point: :func:`solve`. The Pyomo model is compiled by Pyomo's
``LinearStandardFormCompiler`` (much faster than the persistent solver interfaces) and passed to
HiGHS directly. Primal values are loaded back into the Pyomo variables; row duals (LP only) go
into ``model.dual`` when the model has that Suffix. No Pyomo or HiGHS exception escapes: a
failure becomes a :class:`SolveResult` with status ``error``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

INF = highspy.kHighsInf


@dataclass
class Compiled:
    """A model in matrix form, with the maps back to Pyomo components."""

    lp: Any  # highspy.HighsLp
    matrix: Any  # scipy.sparse CSC matrix, rows × columns (for activities)
    columns: list[Any]  # VarData per column
    rows: list[Any]  # ConstraintData per row (a ranged constraint is one row)
    offset: float
    is_mip: bool


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
    options: dict[str, Any] = field(default_factory=dict)
    col_values: np.ndarray | None = None
    row_duals: np.ndarray | None = None

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
            "options",
        )
        return {k: getattr(self, k) for k in keys}


def highs_version() -> str:
    v = (highspy.HIGHS_VERSION_MAJOR, highspy.HIGHS_VERSION_MINOR, highspy.HIGHS_VERSION_PATCH)
    return "HiGHS " + ".".join(str(x) for x in v)


_BANNER_SHOWN = False


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
    return h


def compile_model(model: pyo.ConcreteModel) -> Compiled:
    """Compile a linear Pyomo model into a HighsLp (one row per constraint, ranges kept)."""
    info = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    a = info.A.tocsr()
    n_rows_raw, n_cols = a.shape
    cons = [re.constraint for re in info.rows]
    kinds = np.array([re.bound_type for re in info.rows], dtype=np.int64)
    rhs = np.asarray(info.rhs, dtype=float)
    # merge the two halves of a ranged constraint into one row
    keep: list[int] = []
    lower = np.full(n_rows_raw, -INF)
    upper = np.full(n_rows_raw, INF)
    first: dict[int, int] = {}
    for i, (c, k) in enumerate(zip(cons, kinds.tolist(), strict=True)):
        j = first.get(id(c))
        if j is None:
            first[id(c)] = i
            keep.append(i)
            j = i
        if k == 0:
            lower[j] = upper[j] = rhs[i]
        elif k == 1:
            upper[j] = rhs[i]
        else:
            lower[j] = rhs[i]
    keep_arr = np.asarray(keep, dtype=np.int64)
    a = a[keep_arr].tocsc()
    cols = list(info.columns)
    lb = np.array([-INF if v.lb is None else float(v.lb) for v in cols], dtype=float)
    ub = np.array([INF if v.ub is None else float(v.ub) for v in cols], dtype=float)
    integ = np.array([v.is_integer() for v in cols], dtype=bool)
    c = np.asarray(info.c.todense()).ravel() if info.c.shape[0] else np.zeros(n_cols)
    obj = info.objectives[0] if info.objectives else None
    sense = obj.sense if obj is not None else pyo.minimize

    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = len(keep_arr)
    lp.col_cost_ = c
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = lower[keep_arr]
    lp.row_upper_ = upper[keep_arr]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = len(keep_arr)
    lp.offset_ = float(info.c_offset[0]) if len(info.c_offset) else 0.0
    lp.sense_ = highspy.ObjSense.kMaximize if sense == pyo.maximize else highspy.ObjSense.kMinimize
    if integ.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
            for f in integ.tolist()
        ]
    return Compiled(lp, a, cols, [cons[i] for i in keep], lp.offset_, bool(integ.any()))


def _highs(options: dict[str, Any]) -> highspy.Highs:
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
    model: pyo.ConcreteModel,
    options: dict[str, Any],
    *,
    write_model: Path | None = None,
    load: bool = True,
) -> tuple[SolveResult, Compiled | None]:
    """Solve ``model`` with HiGHS; load values (and LP duals) into it when ``load``."""
    t0 = time.perf_counter()
    try:
        comp = compile_model(model)
    except Exception as exc:  # any modelling failure is reported, not raised
        return SolveResult("error", False, message=f"could not compile the model: {exc}"), None
    t1 = time.perf_counter()
    res = run_highs(comp, options, write_model=write_model)
    res.compile_seconds = t1 - t0
    if load and res.has_solution and res.col_values is not None:
        load_solution(model, comp, res)
    return res, comp


def run_highs(
    comp: Compiled, options: dict[str, Any], *, write_model: Path | None = None
) -> SolveResult:
    """Pass a compiled model to a fresh HiGHS instance and solve it."""
    lp = comp.lp
    base = SolveResult(
        "error",
        False,
        is_mip=comp.is_mip,
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
        if write_model is not None:
            h.writeModel(str(write_model))
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
            if comp.is_mip:
                base.bound = float(info.mip_dual_bound)
                gap = float(info.mip_gap)
                base.gap = gap if math.isfinite(gap) else None
            else:
                base.bound = base.objective
                base.gap = 0.0
                if sol.dual_valid:
                    base.row_duals = np.asarray(sol.row_dual, dtype=float)
    except Exception as exc:  # HiGHS trouble must never reach the user as a traceback
        base.status = "error"
        base.has_solution = False
        base.message = f"HiGHS failed: {exc}"
    return base


def load_solution(model: pyo.ConcreteModel, comp: Compiled, res: SolveResult) -> None:
    """Copy primal values (integers rounded) into the Pyomo variables; LP duals into model.dual."""
    assert res.col_values is not None
    for v, x in zip(comp.columns, res.col_values.tolist(), strict=True):
        v.set_value(round(x) if v.is_integer() else x, skip_validation=True)
    dual = getattr(model, "dual", None)
    if isinstance(dual, pyo.Suffix) and res.row_duals is not None:
        for c, y in zip(comp.rows, res.row_duals.tolist(), strict=True):
            dual[c] = y
