"""After HiGHS reports infeasibility: :func:`compute_iis` (an irreducible infeasible subsystem of
the LP relaxation, elastic filter then reduced), :func:`explain_iis` (its rows mapped back to rule,
rep, unit, product and period, with the scenario settings to relax), :func:`check_iis` and
:func:`rounding_conflict`; :func:`diagnose_infeasible` runs them in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from allocopt.data.prepare import ModelData
from allocopt.diagnose.findings import Finding, _m
from allocopt.diagnose.phrases import _DEFINITIONAL, _INTERNAL_COLS, _RELAX, _WHAT, _phrase
from allocopt.model.linear import LinearModel
from allocopt.solve import Compiled, highs_lp, is_optimal, lp_relaxation, run_lp


@dataclass
class Iis:
    """An irreducible infeasible subsystem: row and column indices with the bounds that matter."""

    rows: np.ndarray
    row_sides: list[str]  # lower | upper | both
    cols: np.ndarray
    col_sides: list[str]


_SIDE = {2: "lower", 3: "upper", 4: "both"}


def compute_iis(comp: Compiled) -> Iis | None:
    """HiGHS IIS of the LP relaxation (elastic filter, then reduced to irreducible)."""
    try:
        with lp_relaxation(comp.lp) as lp:
            status, iis = run_lp(lp, {"iis_strategy": 6}).getIis()
    except Exception:  # no IIS is a degraded explanation, never a crash
        return None
    if status != highspy.HighsStatus.kOk or not iis.valid_:
        return None
    rows = np.asarray(list(iis.row_index_), dtype=np.int64)
    cols = np.asarray(list(iis.col_index_), dtype=np.int64)
    if not len(rows) and not len(cols):
        return None
    rs = [_SIDE.get(int(k), "free") for k in iis.row_bound_]
    cs = [_SIDE.get(int(k), "free") for k in iis.col_bound_]
    return Iis(rows, rs, cols, cs)


def explain_iis(lm: LinearModel, iis: Iis, md: ModelData) -> list[Finding]:
    """Map IIS rows back to rules, reps, units and products, grouped by team for reading."""
    lo_all, up_all = lm.row_bounds()
    team = dict(zip(md.rep_ids, md.team_of.tolist(), strict=True))
    groups: dict[tuple[str, str], list[tuple[str, float, float, str]]] = {}
    rows = [
        (i, side, *lm.row_name(i)) for i, side in zip(iis.rows.tolist(), iis.row_sides, strict=True)
    ]
    business = [r for r in rows if r[2] not in _DEFINITIONAL]
    for i, side, comp, label in business or rows:  # definitional rows fold into their rules
        parts = label.split(",")
        rep = parts[-1] if comp == "lock" else parts[0]  # a lock row is (account, rep)
        scope = f"team {team[rep]}" if rep in team else "company"
        groups.setdefault((scope, comp), []).append((label, lo_all[i], up_all[i], side))
    out: list[Finding] = []
    for (scope, comp), items in sorted(groups.items()):
        relax = list(_RELAX.get(comp, []))
        if len(items) <= 3:
            for label, lo, up, _ in items:
                out.append(
                    Finding(
                        comp,
                        scope,
                        _phrase(comp, label, lo, up, md),
                        relax,
                        {"lower": float(lo), "upper": float(up)},
                    )
                )
            continue
        names = ", ".join(lbl.split(",")[0] for lbl, *_ in items[:6])
        names += " …" if len(items) > 6 else ""
        if comp in ("lock", "one_owner"):
            accs = [lbl.split(",") for lbl, *_ in items]
            listed = ", ".join(
                f"{a[0]} → {a[-1]}" if comp == "lock" else a[0] for a in accs[:6]
            ) + (" …" if len(items) > 6 else "")
            what = (
                "are locked to reps"
                if comp == "lock"
                else "each need one owner among their eligible reps"
            )
            out.append(Finding(comp, scope, f"{len(items)} key accounts ({listed}) {what}", relax))
            continue
        if comp in ("fairness_low", "fairness_high", "spread_low", "spread_high"):
            b = md.scenario.rules.fairness.band or 0.0
            lvl = md.scenario.rules.fairness.level
            rel = f"at least {1 - b:.0%}" if comp == "fairness_low" else f"at most {1 + b:.0%}"
            out.append(
                Finding(
                    comp,
                    scope,
                    f"{len(items)} reps ({names}) must each keep a "
                    f"difficulty {rel} of their {lvl}'s level",
                    relax,
                )
            )
            continue
        side = items[0][3]
        vals = [lo if side in ("lower", "both") else up for _, lo, up, _ in items]
        total = float(np.sum([v for v in vals if np.isfinite(v)]))
        names = ", ".join(lbl.split(",")[0] for lbl, *_ in items[:6]) + (
            " …" if len(items) > 6 else ""
        )
        what = _WHAT.get(comp, comp)
        rel = "at least" if side == "lower" else "at most" if side == "upper" else "exactly"
        out.append(
            Finding(
                comp,
                scope,
                f"{what} of {len(items)} reps ({names}): {rel} {_m(total)} in total",
                relax,
                {"total": total},
            )
        )
    bounded = [
        (lm.col_name(j), s)
        for j, s in zip(iis.cols.tolist(), iis.col_sides, strict=True)
        if s != "free" and lm.col_name(j)[0] not in _INTERNAL_COLS
    ]
    if bounded:
        names = ", ".join(f"{c}[{lbl}] ({s} bound)" for (c, lbl), s in bounded[:6])
        out.append(Finding("bounds", "variables", f"variable bounds involved: {names}"))
    return out


def rounding_conflict(comp: Compiled, md: ModelData) -> list[Finding]:
    """When the MIP is infeasible but its LP relaxation is not, the conflict is the rounding."""
    if not comp.is_mip:
        return []
    with lp_relaxation(comp.lp) as lp:
        feasible = is_optimal(run_lp(lp))
    if not feasible:
        return []
    sc = md.scenario
    unit = sc.rules.rounding.unit
    tight = []
    if sc.rules.fairness.enabled and sc.rules.fairness.band is not None:
        tight.append(f"the fairness band ±{sc.rules.fairness.band:.0%} (rules.fairness.band)")
    if sc.rules.phasing.enabled and sc.rules.phasing.mode == "band":
        tight.append(f"the phasing band ±{sc.rules.phasing.band:.0%} (rules.phasing.band)")
    if sc.targets.units:
        tight.append("the unit targets (targets.units)")
    return [
        Finding(
            "rounding",
            "company",
            f"every rule can hold with unrounded quotas, but not with quotas in whole multiples of "
            f"{_m(unit)}" + (f" under {', '.join(tight)}" if tight else ""),
            [
                "rules.rounding.unit",
                *(["rules.fairness.band"] if sc.rules.fairness.enabled else []),
            ],
            {"unit": float(unit)},
        )
    ]


def check_iis(comp: Compiled, iis: Iis) -> tuple[bool, list[bool]]:
    """(the subsystem is infeasible, for each member: dropping it makes it feasible)."""
    bounded = [int(j) for j, side in zip(iis.cols, iis.col_sides, strict=True) if side != "free"]
    members = [("row", int(i)) for i in iis.rows] + [("col", j) for j in bounded]

    def feasible(drop: tuple[str, int] | None) -> bool:
        lp = comp.lp
        a = comp.matrix.tocsr()
        rows = [int(i) for i in iis.rows if drop != ("row", int(i))]
        sub = a[rows] if rows else a[:0]
        lo = np.where(np.isfinite(np.asarray(lp.col_lower_)), np.asarray(lp.col_lower_), -np.inf)
        up = np.where(np.isfinite(np.asarray(lp.col_upper_)), np.asarray(lp.col_upper_), np.inf)
        keep_cols = {j for j in bounded if drop != ("col", j)}
        lo = np.array([lo[j] if j in keep_cols else -np.inf for j in range(len(lo))])
        up = np.array([up[j] if j in keep_cols else np.inf for j in range(len(up))])
        rlo = np.asarray(lp.row_lower_)[rows]
        rup = np.asarray(lp.row_upper_)[rows]
        sub_lp = highs_lp(np.zeros(sub.shape[1]), lo, up, sub.tocsc(), rlo, rup)
        return is_optimal(run_lp(sub_lp))

    return (not feasible(None)), [feasible(m) for m in members]


def diagnose_infeasible(comp: Compiled, md: ModelData) -> tuple[list[Finding], dict[str, Any]]:
    """Why HiGHS found ``comp`` infeasible: the findings (its IIS in business words, else the
    rounding conflict) and the JSON detail for ``infeasible.json`` (the IIS rows and columns by
    component, index and side; empty without an IIS)."""
    iis = compute_iis(comp)
    findings = explain_iis(comp.model, iis, md) if iis is not None else []
    if not findings:
        findings = rounding_conflict(comp, md)
    extra: dict[str, Any] = {}
    if iis is not None:
        lm = comp.model
        extra["iis"] = {
            "rows": [
                {"component": c, "index": i, "side": side}
                for (c, i), side in zip(
                    (lm.row_name(int(r)) for r in iis.rows), iis.row_sides, strict=True
                )
            ],
            "columns": [
                {"component": c, "index": i, "side": side}
                for (c, i), side in zip(
                    (lm.col_name(int(j)) for j in iis.cols), iis.col_sides, strict=True
                )
            ],
        }
    return findings, extra
