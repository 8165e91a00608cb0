"""The solve stage: a :class:`~allocopt.model.linear.LinearModel` solved with HiGHS (or Pyomo).

Public entry point: :func:`solve` (``entry.py``: ``solver.name`` picks HiGHS directly or Pyomo;
:func:`check_solver` says up front whether that solver is here). ``highs.py`` is the one
LinearModel → HiGHS assembly and run (:func:`compile_model`, :func:`highs_lp`, options,
:func:`run_highs`, :func:`run_lp`, scaling), used by the block solver and the diagnose checks
too; ``blocks.py`` the rounding neighbourhood and block solving; ``alignment.py`` the
key-account alignment by its independent blocks; ``rounding.py`` every rounding
to a unit (largest remainder); ``pyomo.py`` the Pyomo back end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allocopt.solve.blocks import BLOCKS_ABOVE
from allocopt.solve.highs import (
    INF,
    Basis,
    Compiled,
    Progress,
    SolveResult,
    compile_model,
    highs_lp,
    highs_options,
    highs_version,
    is_optimal,
    lp_relaxation,
    new_highs,
    run_highs,
    run_lp,
)
from allocopt.solve.pyomo import check_solver

if TYPE_CHECKING:
    from allocopt.solve.entry import quota_objective, solve


def __getattr__(name: str) -> Any:
    """``solve`` and ``quota_objective`` on first use: the entry point imports the data layer
    (pandas, pandera), which a pricing or block worker process never needs (its start-up)."""
    if name in ("solve", "quota_objective"):
        from allocopt.solve import entry

        return getattr(entry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BLOCKS_ABOVE",
    "INF",
    "Basis",
    "Compiled",
    "Progress",
    "SolveResult",
    "check_solver",
    "compile_model",
    "highs_lp",
    "highs_options",
    "highs_version",
    "is_optimal",
    "lp_relaxation",
    "new_highs",
    "quota_objective",
    "run_highs",
    "run_lp",
    "solve",
]
