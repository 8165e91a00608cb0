"""The solve stage: a :class:`~allocopt.model.linear.LinearModel` solved with HiGHS (or Pyomo).

Public entry point: :func:`solve` (``entry.py``). ``highs.py`` is the one LinearModel → HiGHS
assembly (:func:`compile_model`, :func:`highs_lp`, options, :func:`run_highs`, scaling);
``blocks.py`` the rounding neighbourhood and block solving; ``pyomo.py`` the Pyomo back end.
"""

from __future__ import annotations

from allocopt.solve.blocks import BLOCKS_ABOVE
from allocopt.solve.entry import quota_objective, solve
from allocopt.solve.highs import (
    INF,
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

__all__ = [
    "BLOCKS_ABOVE",
    "INF",
    "Compiled",
    "Progress",
    "SolveResult",
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
