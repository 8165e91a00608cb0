"""Pyomo back end: solve a :class:`LinearModel` with any solver Pyomo supports.

Public entry points: :func:`solve_pyomo`, :func:`check_solver` and :func:`write_lp`.
``solver.name: highs`` (the default) is the direct highspy path of :mod:`allocopt.solve`; any
other name is a Pyomo ``SolverFactory`` name (``cbc``, ``glpk``, ``appsi_highs`` — HiGHS through
Pyomo —, ``gurobi``, ``cplex``, ``scip``, ...). The model goes through
:meth:`LinearModel.to_pyomo` (same component names and indices) and comes back as the same
normalised :class:`~allocopt.solve.SolveResult`: primal values in the model's column order, and
for LPs row duals (``dual`` suffix) and reduced costs (``rc`` suffix) when the solver gives them.

Unlike the direct path, the full MIP is solved (no rounding neighbourhood, no blocks); a rounding
MIP first solves its LP relaxation with the same solver, kept as ``relaxed`` for explain's duals.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from allocopt.errors import InputError, OutputError, Problem
from allocopt.model.linear import LinearModel
from allocopt.solve.highs import Compiled, SolveResult, compile_model

DIRECT = "highs"
"""The solver name of the direct highspy path (not through Pyomo)."""

# scenario setting -> the solver's own option name
_OPTIONS: dict[str, dict[str, str]] = {
    "cbc": {
        "time_limit": "sec",
        "mip_gap": "ratioGap",
        "threads": "threads",
        "seed": "randomCbcSeed",
    },
    "glpk": {"time_limit": "tmlim", "mip_gap": "mipgap"},
    "appsi_highs": {
        "time_limit": "time_limit",
        "mip_gap": "mip_rel_gap",
        "threads": "threads",
        "seed": "random_seed",
    },
    "gurobi": {
        "time_limit": "TimeLimit",
        "mip_gap": "MIPGap",
        "threads": "Threads",
        "seed": "Seed",
    },
    "gurobi_direct": {
        "time_limit": "TimeLimit",
        "mip_gap": "MIPGap",
        "threads": "Threads",
        "seed": "Seed",
    },
    "cplex": {
        "time_limit": "timelimit",
        "mip_gap": "mip_tolerances_mipgap",
        "threads": "threads",
        "seed": "randomseed",
    },
    "scip": {"time_limit": "limits/time", "mip_gap": "limits/gap"},
}

_SETTING = {"mip_rel_gap": "mip_gap", "random_seed": "seed"}
"""HiGHS option names (as from ``highs_options``) -> scenario setting names."""

_INSTALL = {
    "cbc": "install coinor-cbc (Debian)",
    "glpk": "install glpk-utils (Debian)",
    "appsi_highs": "pip install highspy",
    "gurobi": "install Gurobi with a licence",
    "cplex": "install CPLEX with a licence",
    "scip": "install SCIP",
}


def available(name: str) -> bool:
    """Whether Pyomo can run solver ``name`` on this machine."""
    if name == DIRECT:
        return True
    import pyomo.environ as pyo

    try:
        s = pyo.SolverFactory(name)
        return bool(s is not None and s.available(exception_flag=False))
    except Exception:
        return False


def check_solver(name: str, file: str, where: str) -> None:
    """Raise :class:`InputError` (exit 2) when ``solver.name`` cannot be used here."""
    if available(name):
        return
    how = _INSTALL.get(name, "install it (any solver Pyomo's SolverFactory knows)")
    raise InputError(
        Problem(
            file,
            where,
            "solver.name",
            f"{name} is not available on this machine: {how} or choose {DIRECT}",
        )
    )


def native_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The scenario's solver settings under the solver's own option names (unknown: none)."""
    names = _OPTIONS.get(name, {})
    given = {_SETTING.get(k, k): v for k, v in options.items()}
    out: dict[str, Any] = {}
    for key, native in names.items():
        if key not in given:
            continue
        v = given[key]
        if name == "glpk" and key == "time_limit":
            v = max(1, int(v))
        out[native] = v
    return out


def write_lp(model: LinearModel, path: Path) -> None:
    """Write ``model`` as a CPLEX-LP file with symbolic (component[index]) names."""
    m = model.to_pyomo()
    try:
        m.write(str(path), io_options={"symbolic_solver_labels": True})
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from None


def _columns(model: LinearModel, m: Any) -> list[Any]:
    out: list[Any] = []
    for b in model.vars.values():
        var = m.component(b.name)
        keys = b.index.keys()
        out.extend(var[k] for k in keys)
    return out


def _rows(model: LinearModel, m: Any) -> list[Any]:
    out: list[Any] = []
    for r in model.rows.values():
        con = m.component(r.name)
        keys = r.index.keys()
        out.extend(con[k] for k in keys)
    return out


_TERM = {
    "optimal": "optimal",
    "locallyOptimal": "optimal",
    "globallyOptimal": "optimal",
    "maxTimeLimit": "time_limit",
    "infeasible": "infeasible",
    "unbounded": "unbounded",
    "infeasibleOrUnbounded": "infeasible_or_unbounded",
    "maxIterations": "iteration_limit",
    "userInterrupt": "interrupted",
    "error": "error",
    "solverFailure": "error",
    "internalSolverError": "error",
}


def _run(
    name: str, model: LinearModel, m: Any, cols: list[Any], options: dict[str, Any], mip: bool
) -> SolveResult:
    import pyomo.environ as pyo

    _, _, integ = model.bounds()
    res = SolveResult(
        "error",
        False,
        is_mip=mip,
        solver=f"{name} via Pyomo",
        n_cols=model.n_cols,
        n_rows=model.n_rows,
        n_nonzeros=int(model.matrix().nnz),
        n_integer=int(integ.sum()) if mip else 0,
        options=dict(options),
    )
    try:
        solver = pyo.SolverFactory(name)
        for k, v in native_options(name, options).items():
            solver.options[k] = v
        for suffix in ("dual", "rc"):
            m.del_component(suffix)
            if not mip:
                m.add_component(suffix, pyo.Suffix(direction=pyo.Suffix.IMPORT))
        t = time.perf_counter()
        out = solver.solve(m, load_solutions=False)
        res.seconds = time.perf_counter() - t
        tc = str(out.solver.termination_condition)
        res.status = _TERM.get(tc, "other")
        res.message = f"{name}: {tc}"
        if tc == "feasible":  # stopped by a limit other than time, with a solution
            res.status = "time_limit"
        if len(out.solution) > 0 and res.status not in ("infeasible", "unbounded", "error"):
            m.solutions.load_from(out)
            x = np.array([np.nan if v.value is None else float(v.value) for v in cols])
            if not np.isnan(x).any():
                res.has_solution = True
                res.col_values = x
                res.objective = float(model.cost() @ x)
                lb = out.problem[0].lower_bound if len(out.problem) else None
                if mip:
                    bound = float(lb) if lb is not None and np.isfinite(float(lb)) else None
                    res.bound = bound
                    if res.status == "optimal" and bound is None:
                        res.bound = res.objective
                    if res.bound is not None:
                        res.gap = abs(res.objective - res.bound) / max(abs(res.objective), 1e-10)
                else:
                    res.bound = res.objective
                    res.gap = 0.0
                    if m.component("dual") is not None and len(m.dual):
                        rows = _rows(model, m)
                        res.row_duals = np.array([float(m.dual.get(c, 0.0)) for c in rows])
                    if m.component("rc") is not None and len(m.rc):
                        res.col_duals = np.array([float(m.rc.get(v, 0.0)) for v in cols])
                    elif res.row_duals is not None:  # e.g. appsi: reduced costs = c − Aᵀy
                        res.col_duals = model.cost() - model.matrix().T @ res.row_duals
    except Exception as exc:  # solver trouble must never reach the user as a traceback
        res.status = "error"
        res.has_solution = False
        res.message = f"{name} via Pyomo failed: {exc}"
    return res


def solve_pyomo(
    model: LinearModel,
    name: str,
    options: dict[str, Any],
    *,
    relax_first: bool = False,
) -> tuple[SolveResult, Compiled | None]:
    """Solve ``model`` with Pyomo's solver ``name``; options as from ``highs_options``.

    With ``relax_first`` a MIP first solves its LP relaxation (kept as ``relaxed`` and
    ``lp_bound``). The :class:`Compiled` HiGHS form is returned too: extract reads row bounds
    from it and an infeasible model is diagnosed (IIS) by HiGHS.
    """
    t0 = time.perf_counter()
    try:
        comp = compile_model(model)
        m = model.to_pyomo()
        cols = _columns(model, m)
    except Exception as exc:
        return SolveResult("error", False, message=f"could not build the Pyomo model: {exc}"), None
    t1 = time.perf_counter()
    relaxed = None
    if comp.is_mip and relax_first:
        import pyomo.environ as pyo

        ints = [v for v in cols if v.is_integer()]
        for v in ints:
            v.domain = pyo.Reals
        relaxed = _run(name, model, m, cols, options, mip=False)
        for v in ints:
            v.domain = pyo.Integers
    spent = relaxed.seconds if relaxed is not None else 0.0
    left = max(1.0, float(options.get("time_limit", 1e9)) - spent)
    res = _run(name, model, m, cols, {**options, "time_limit": left}, mip=comp.is_mip)
    if relaxed is not None and relaxed.has_solution:
        res.relaxed = relaxed
        res.lp_bound = relaxed.objective
        res.seconds += relaxed.seconds
    res.compile_seconds = t1 - t0
    return res, comp
