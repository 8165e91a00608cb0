"""Per-rep performance factors for the reference split (models/allocation.md, objective).

Public entry points: :func:`performance_checks` (located problems of the ``performance`` table
and the setting that uses it) and :func:`shrunk_factors` (the factors the reference uses).

Credibility weighting: a rep with n periods of evidence gets z = n / (n + k) (k =
``objective.performance_factor.credibility``) and factor' = clip(1 + z · (factor − 1), min, max).
n is the table's ``n_periods`` (blank = a full year of the plan's periods). Reps without history
(new hires: no last-year basis) and reps not in the table get 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocopt.data.tables import ROW
from allocopt.errors import Problem

if TYPE_CHECKING:
    from allocopt.data.checks import Dataset
    from allocopt.scenario.schema import Scenario

__all__ = ["performance_checks", "shrunk_factors"]

Locate = Callable[[tuple[str | int, ...]], str]


def performance_checks(ds: Dataset, scen_file: str, loc: Locate) -> list[Problem]:
    """Unknown reps in the performance table; a performance weight without the table."""
    sc = ds.scenario
    out: list[Problem] = []
    if sc.objective.reference.performance > 0 and sc.data.performance is None:
        out.append(
            Problem(
                scen_file,
                loc(("objective", "reference", "performance")),
                "objective.reference.performance",
                "a performance weight needs per-rep factors: add data.performance (rep_id, "
                "factor, reason, n_periods — e.g. the performance.csv of `allocopt evaluate`) "
                "or set the weight to 0",
            )
        )
    if "performance" not in ds.tables or "reps" not in ds.tables:
        return out
    reps = set(ds.tables["reps"]["rep_id"])
    df = ds.tables["performance"]
    label = ds.sources["performance"].label
    for row, rep in zip(df[ROW], df["rep_id"], strict=True):
        if rep not in reps:
            close = difflib.get_close_matches(str(rep), sorted(reps), n=1, cutoff=0.7)
            hint = f"did you mean {close[0]!r}?" if close else "remove the row or correct the ID"
            out.append(Problem(label, f"row {int(row)}", "rep_id", f"unknown rep; {hint}", rep))
    return out


def shrunk_factors(
    sc: Scenario, rep_ids: np.ndarray, history: np.ndarray, table: pd.DataFrame | None
) -> np.ndarray:
    """factor' per rep (sorted-ID order), 1 where there is no evidence (see the module doc)."""
    out = np.ones(len(rep_ids))
    if table is None or not len(table):
        return out
    cfg = sc.objective.performance_factor
    pos = pd.Series(np.arange(len(rep_ids)), index=pd.Index(rep_ids, dtype=object))
    known = table["rep_id"].isin(pos.index).to_numpy()
    t = table[known]
    idx = pos.loc[t["rep_id"]].to_numpy(dtype=np.int64)
    f = t["factor"].to_numpy(dtype=float)
    n = t["n_periods"].to_numpy(dtype=float)
    n = np.where(np.isnan(n), float(len(sc.periods)), n)
    k = cfg.credibility
    z = np.divide(n, n + k, out=np.ones_like(n), where=(n + k) > 0)
    shrunk = np.clip(1.0 + z * (f - 1.0), cfg.min, cfg.max)
    out[idx] = shrunk
    return np.where(np.isfinite(history), out, 1.0)
