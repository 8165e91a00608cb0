"""Why a plan cannot be made: plain-language pre-checks, and the solver's IIS in business terms.

Public entry points: :func:`prechecks` (:mod:`.prechecks`; before any solve: each finding is a
*proof* that the rules cannot all hold, with its numbers) and :func:`compute_iis` /
:func:`explain_iis` (:mod:`.iis`; after HiGHS reports infeasibility: an irreducible infeasible
subsystem of the LP relaxation, computed by HiGHS with the elastic strategy and reduced, mapped
row by row back to rule, rep, unit, product and period, with the scenario settings to relax;
the words in :mod:`.phrases`); :func:`diagnose_infeasible` (both, with the JSON detail) and
:func:`reach_warnings` (targets out of reach under a rule, for the summary).
"""

from allocopt.diagnose.findings import Finding
from allocopt.diagnose.iis import (
    Iis,
    check_iis,
    compute_iis,
    diagnose_infeasible,
    explain_iis,
    rounding_conflict,
)
from allocopt.diagnose.prechecks import prechecks, reach_warnings

__all__ = [
    "Finding",
    "Iis",
    "check_iis",
    "compute_iis",
    "diagnose_infeasible",
    "explain_iis",
    "prechecks",
    "reach_warnings",
    "rounding_conflict",
]
