"""Incentive terms of each rep: the role's plan and the rep's own pay base (docs/incentives.md).

Public entry points: :func:`incentive_checks` (cross-checks of the ``incentives`` section and
the ``incentive_reps`` table against the reps, collected as located problems) and
:func:`rep_terms` (per rep, in sorted-ID order: the plan's role and its pay-base inputs).

A rep's role is the reps table's ``role`` (blank = ``rep``). A row of ``incentive_reps``
replaces the role's target incentive or commission rate for that rep (one of the two, filled);
the rate table (threshold, bands, cap) is always the role's.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocopt.data.tables import ROW
from allocopt.errors import Problem

if TYPE_CHECKING:
    from allocopt.data.checks import Dataset
    from allocopt.scenario.schema import Incentives

__all__ = ["RepTerms", "incentive_checks", "rep_terms", "roles_of", "terms_of"]

DEFAULT_ROLE = "rep"
Locate = Callable[[tuple[str | int, ...]], str]


def roles_of(reps: pd.DataFrame) -> np.ndarray:
    """Role per row of the reps table (blank = ``rep``)."""
    role = reps["role"].astype(str).to_numpy(dtype=object)
    return np.where(role == "", DEFAULT_ROLE, role).astype(object)


def incentive_checks(ds: Dataset, scen_file: str, loc: Locate) -> list[Problem]:
    """Problems of the incentives section and the incentive_reps table (none when unused)."""
    sc = ds.scenario
    inc = sc.incentives
    out: list[Problem] = []
    t = ds.tables
    if inc is None:
        if sc.data.incentive_reps is not None:
            out.append(
                Problem(
                    scen_file,
                    loc(("data", "incentive_reps")),
                    "data.incentive_reps",
                    "an incentive_reps table needs an incentives section (roles and their "
                    "rate tables); add it or remove the table",
                )
            )
        return out
    if "reps" not in t:
        return out
    reps = t["reps"]
    role_of = dict(zip(reps["rep_id"], roles_of(reps), strict=True))
    have = sorted(set(role_of.values()))
    for role in inc.roles:
        if role not in have:
            close = difflib.get_close_matches(role, have, n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"the reps' roles are {', '.join(have)}"
            )
            out.append(
                Problem(
                    scen_file,
                    loc(("incentives", "roles", role)),
                    f"incentives.roles.{role}",
                    f"unknown role: no rep has it; {hint}",
                    role,
                )
            )
    if "incentive_reps" not in t:
        return out
    df = t["incentive_reps"]
    label = ds.sources["incentive_reps"].label
    ti = df["target_incentive"].to_numpy(dtype=float)
    cr = df["commission_rate"].to_numpy(dtype=float)
    for row, rep, a, b in zip(df[ROW], df["rep_id"], ti, cr, strict=True):
        where = f"row {int(row)}"
        if rep not in role_of:
            close = difflib.get_close_matches(str(rep), sorted(role_of), n=1, cutoff=0.7)
            hint = (
                f"did you mean {close[0]!r}?" if close else "add it to the reps data or correct it"
            )
            out.append(Problem(label, where, "rep_id", f"unknown rep; {hint}", str(rep)))
            continue
        if np.isnan(a) == np.isnan(b):
            out.append(
                Problem(
                    label,
                    where,
                    "target_incentive+commission_rate",
                    "fill exactly one of target_incentive and commission_rate",
                    str(rep),
                )
            )
        role = role_of[rep]
        if role not in inc.roles:
            out.append(
                Problem(
                    label,
                    where,
                    "rep_id",
                    f"the rep's role {role!r} has no plan under incentives.roles (its rate "
                    f"table); add incentives.roles.{role}",
                    str(rep),
                )
            )
    return out


@dataclass(frozen=True)
class RepTerms:
    """Incentive inputs per rep (sorted-ID order); ``role`` "" when the rep has no plan."""

    rep_ids: np.ndarray
    role: np.ndarray  # (R,) role whose rate table applies ("" = no variable pay)
    target_incentive: np.ndarray  # (R,) NaN when the rep is paid by commission
    commission_rate: np.ndarray  # (R,) NaN when the rep has a target incentive


def rep_terms(ds: Dataset) -> RepTerms:
    """Each rep's plan role and pay inputs: the incentive_reps row, else the role's plan."""
    return terms_of(
        ds.scenario.incentives,
        ds["reps"],
        ds["incentive_reps"] if ds.has("incentive_reps") else None,
    )


def terms_of(
    inc: Incentives | None, reps: pd.DataFrame, overrides: pd.DataFrame | None
) -> RepTerms:
    """:func:`rep_terms` from the frames: reps (rep_id, role) and the incentive_reps table."""
    reps = reps.sort_values("rep_id", kind="stable").reset_index(drop=True)
    ids = reps["rep_id"].astype(str).to_numpy(dtype=object)
    roles = roles_of(reps)
    n = len(ids)
    role = np.full(n, "", dtype=object)
    ti = np.full(n, np.nan)
    cr = np.full(n, np.nan)
    if inc is None:
        return RepTerms(ids, role, ti, cr)
    for i, r in enumerate(roles):
        plan = inc.roles.get(str(r))
        if plan is None:
            continue
        role[i] = r
        ti[i] = np.nan if plan.target_incentive is None else plan.target_incentive
        cr[i] = np.nan if plan.commission_rate is None else plan.commission_rate
    if overrides is not None:
        pos = {r: i for i, r in enumerate(ids)}
        for rep, a, b in zip(
            overrides["rep_id"],
            overrides["target_incentive"].to_numpy(dtype=float),
            overrides["commission_rate"].to_numpy(dtype=float),
            strict=True,
        ):
            if rep in pos:
                ti[pos[rep]], cr[pos[rep]] = a, b
    return RepTerms(ids, role, ti, cr)
