"""Why is my number X? Plan-level and per-rep explanations of a run.

Public entry points: :func:`explain_plan` and :func:`explain_rep`.

* Per rep, the quota is decomposed exactly:
  ``quota = potential part + history part + Σ rule adjustments + rounding``. The reference split's
  two parts come from annual.csv; the LP adjustment (LP quota − reference) is attributed to the
  rep's own binding rules (capacity, potential, growth, floor, fairness …) in proportion to their
  shadow prices, or, when none of its own rules binds, to the linking rules that redistribute the
  target (company and unit targets); rounding is the rounded quota − the LP quota.
* For the plan: which rules bind and how often, shadow prices in objective units (currency of
  weighted deviation) — the marginal cost of +1% company target per product, of one more unit of
  a rep's capacity — and the price of fairness and of a tighter/looser band, by re-solving the LP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allocopt.errors import InputError, Problem, SolverError
from allocopt.model.rules import RULES, components
from allocopt.results.payout import PayoutResult
from allocopt.results.run import RunTables
from allocopt.solve.rounding import round_to_sum

OWN = {c: r.name for c, (r, comp) in components().items() if comp.explain == "own"}
"""Rows that adjust their own rep's quota → the rule the adjustment is attributed to."""
LINK = {c: r.name for c, (r, comp) in components().items() if comp.explain == "link"}
"""Rows that redistribute quota across reps (targets, a fairness group's total) → their rule."""
WORDS = {
    **{r.name: r.explain_word for r in RULES if r.explain_word is not None},
    "reference": "no rule moved it: it sits at its reference share",
}
"""What an adjustment attributed to a rule means, in words (declared by each rule)."""


def _rows(df: pd.DataFrame) -> Iterator[Any]:
    """Rows as named tuples (typed loosely: CSV columns are read as text or numbers)."""
    return iter(df.itertuples(index=False))


@dataclass
class RepExplanation:
    """The exact decomposition of one rep's quota, with its accounts and difficulty."""

    rep_id: str
    team_id: str
    quota: float
    parts: list[tuple[str, float]]  # (label, amount), summing exactly to quota
    by_product: pd.DataFrame
    accounts: list[dict[str, Any]]
    difficulty: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "team_id": self.team_id,
            "quota": self.quota,
            "parts": [{"label": k, "amount": v} for k, v in self.parts],
            "by_product": self.by_product.to_dict(orient="records"),
            "key_accounts": self.accounts,
            "difficulty": self.difficulty,
        }

    def displayed_parts(self, decimals: int = 0) -> tuple[list[tuple[str, float]], float]:
        """The parts and the quota rounded for display so that the shown parts add up exactly
        to the shown quota (largest remainder at ``decimals`` places; see :func:`round_to_sum`)."""
        shown = round_to_sum([v for _, v in self.parts], self.quota, decimals)
        total = round(self.quota, decimals)
        return [(k, v) for (k, _), v in zip(self.parts, shown, strict=True)], total


def _weights(manifest: dict[str, Any]) -> tuple[float, float]:
    ref = manifest["resolved_scenario"]["objective"]["reference"]
    a, b = float(ref["potential"]), float(ref["history"])
    c = float(ref.get("performance", 0.0) or 0.0)  # the performance driver's weight
    return a / (a + b + c), b / (a + b + c)


def _decompose(
    annual: pd.DataFrame, binding: pd.DataFrame, alpha: float, beta: float
) -> pd.DataFrame:
    """Per rep × product: potential part, history part, rule adjustments, rounding (exact)."""
    q = binding[binding["stage"] == "quotas"].copy()
    q["rep"] = q["index"].astype(str).str.split(",").str[0]
    q["prod"] = q["index"].astype(str).str.split(",").str[1]
    q["pressure"] = q["dual"].abs().fillna(0.0)
    rows = []
    for rec in _rows(annual):
        rep, prod = str(rec.rep_id), str(rec.product)
        pot = alpha * float(rec.ref_potential)
        hist = float(rec.reference) - pot
        lp = float(rec.quota_lp) if "quota_lp" in annual.columns else float(rec.quota)
        adj = lp - float(rec.reference)
        rounding = float(rec.quota) - lp
        own = q[
            (q["rep"] == rep)
            & q["component"].isin(list(OWN))
            & (q["prod"].isna() | (q["prod"] == prod))
        ]
        shares: dict[str, float] = {}
        if abs(adj) > 0.005:
            if len(own):
                w = own.groupby(own["component"].map(OWN))["pressure"].sum()
                if w.sum() <= 0:
                    w = own.groupby(own["component"].map(OWN)).size().astype(float)
                shares = {str(k): adj * float(v) / float(w.sum()) for k, v in w.items()}
            else:
                shares = {"target": adj}
        rows.append(
            {
                "rep_id": rep,
                "product": prod,
                "potential_part": pot,
                "history_part": hist,
                **{f"adj_{k}": v for k, v in shares.items()},
                "rounding": rounding,
                "quota": float(rec.quota),
            }
        )
    out = pd.DataFrame(rows).fillna(0.0)
    return out


def explain_rep(run: RunTables, rep_id: str) -> RepExplanation:
    """Decompose one rep's quota; list its key accounts and its difficulty against its group.

    ``run`` holds the manifest and ``annual.csv``, ``binding.csv``, ``reps.csv``,
    ``assignments.csv`` (read with empty cells as NaN; :func:`allocopt.compose.explain_rep`)."""
    manifest = run.manifest
    annual = run.table("annual.csv")
    if rep_id not in set(annual["rep_id"]):
        close = sorted(set(annual["rep_id"]), key=lambda r: (len(r) != len(rep_id), r))[:3]
        raise InputError(
            Problem(
                run.where("annual.csv"),
                "",
                "rep_id",
                f"no rep {rep_id!r} in this run (e.g. {', '.join(close)})",
            )
        )
    binding = run.table("binding.csv")
    reps = run.table("reps.csv")
    assignments = run.table("assignments.csv")
    alpha, beta = _weights(manifest)
    mine = annual[annual["rep_id"] == rep_id]
    dec = _decompose(mine, binding, alpha, beta)
    perf_part = 0.0
    if "ref_performance" in mine.columns:  # the performance driver (weight > 0)
        gamma = 1.0 - alpha - beta
        dec["performance_part"] = gamma * mine["ref_performance"].to_numpy(dtype=float)
        dec["history_part"] -= dec["performance_part"]
        perf_part = float(dec["performance_part"].sum())
    adj_cols = sorted(c for c in dec.columns if c.startswith("adj_"))
    total = float(dec["quota"].sum())
    if manifest.get("replan_of"):  # a re-plan stays close to the published plan
        parts = [
            (
                "published plan (the re-plan's reference)",
                float(dec["potential_part"].sum() + dec["history_part"].sum()),
            )
        ]
    else:
        parts = [
            ("reference: potential part", float(dec["potential_part"].sum())),
            ("reference: history part", float(dec["history_part"].sum())),
        ]
        if "ref_performance" in mine.columns:
            parts.append(("reference: performance part", perf_part))

    parts += [
        (f"{c[4:]}: {WORDS.get(c[4:], c[4:])}", float(dec[c].sum()))
        for c in adj_cols
        if abs(float(dec[c].sum())) > 0.005
    ]
    if abs(float(dec["rounding"].sum())) > 0.005:
        parts.append(("rounding to the unit", float(dec["rounding"].sum())))
    # make the parts sum to the quota to the cent despite float noise
    resid = total - sum(v for _, v in parts)
    label, val = parts[0]
    parts[0] = (label, val + resid)
    r = reps[reps["rep_id"] == rep_id].iloc[0]
    accounts = []
    align = binding[binding["stage"] == "alignment"]
    full_books = set(align[align["component"].isin(["max_accounts", "max_workload"])]["index"])
    mine_acc = assignments[
        (assignments["owner_rep"] == rep_id) | (assignments["incumbent_rep"] == rep_id)
    ]
    for a in _rows(mine_acc):
        moved = str(a.moved).lower() == "true"
        if not moved:
            why = "kept: stays with its incumbent (no limit forced a move)"
            if pd.isna(a.incumbent_rep) or a.incumbent_rep == "":
                why = "assigned: no incumbent; cheapest eligible rep"
        elif a.owner_rep == rep_id:
            why = f"moved in from {a.incumbent_rep}" + (
                f": {a.incumbent_rep}'s key-account book is full"
                if a.incumbent_rep in full_books
                else ": the cheapest feasible move"
            )
        else:
            why = f"moved out to {a.owner_rep}" + (
                ": this rep's key-account book is full" if rep_id in full_books else ""
            )
        accounts.append(
            {
                "account_id": a.account_id,
                "revenue": float(a.revenue),
                "owner_rep": a.owner_rep,
                "incumbent_rep": a.incumbent_rep,
                "why": why,
            }
        )
    band = manifest["resolved_scenario"]["rules"]["fairness"]
    diff = {
        "difficulty": _num(r.get("difficulty")),
        "group": r.get("group", ""),
        "group_level": _num(r.get("group_level")),
        "vs_group": _num(r.get("vs_group")),
        "band": band.get("band") if band.get("enabled") else None,
    }
    by_product = dec.round(2)
    return RepExplanation(rep_id, str(r["team_id"]), total, parts, by_product, accounts, diff)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


@dataclass
class PlanExplanation:
    """Binding rules, shadow prices and the price of fairness."""

    binding_counts: dict[str, int]
    target_prices: list[dict[str, Any]]
    capacity_prices: list[dict[str, Any]]
    rule_prices: list[dict[str, Any]]
    fairness: dict[str, Any]
    price_of_fairness: dict[str, Any] = field(default_factory=dict)
    incentives: dict[str, Any] = field(default_factory=dict)  # expected payout (when set)
    attainability: dict[str, Any] = field(default_factory=dict)  # rule attainability (when on)
    plan: dict[str, Any] = field(default_factory=dict)  # the plan's status and gap (manifest)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "binding_counts": self.binding_counts,
            "target_prices": self.target_prices,
            "capacity_prices": self.capacity_prices,
            "rule_prices": self.rule_prices,
            "fairness": self.fairness,
            "price_of_fairness": self.price_of_fairness,
            "incentives": self.incentives,
            "attainability": self.attainability,
        }


Relaxed = Callable[[dict[str, Any]], "float | None"]
"""The run's quota LP (rounding relaxed) re-solved with dotted scenario changes: its objective,
or None when infeasible (:func:`allocopt.pipeline.relaxed_objective` bound to the run); raises
SolverError when a re-solve stops without its optimum (the time limit): "not measured"."""


def explain_plan(
    run: RunTables, *, relaxed: Relaxed | None = None, payout: PayoutResult | None = None
) -> PlanExplanation:
    """Plan-level view of ``run`` (manifest, ``binding.csv``, ``summary.json``); with
    ``relaxed`` the price of fairness and the +1% target steps are measured by re-solving the LP;
    ``payout``: the plan's expected payout (:func:`allocopt.results.payout.payout_of`, composed
    by :func:`allocopt.compose.plan_payout`) when the run has incentives."""
    manifest = run.manifest
    binding = run.table("binding.csv")
    summary = run.document("summary.json")
    sc = manifest["resolved_scenario"]
    q = binding[binding["stage"] == "quotas"]
    sizes = q.groupby("rule").size().sort_values(ascending=False)
    counts = {str(k): int(v) for k, v in zip(sizes.index, sizes.to_numpy(), strict=True)}
    tgt = []
    cushion = float(sc["targets"]["over_assignment"])
    sens = summary.get("target_sensitivity", {})
    for prod, val in sc["targets"]["by_product"].items():
        t = float(val) * (1 + cushion)
        d = sens.get(prod, {})
        tgt.append(
            {
                "product": prod,
                "target": t,
                "dual": d.get("dual", float("nan")),
                "per_unit": d.get("per_unit", float("nan")),
                "cost_of_plus_1pct": d.get("plus_1pct", float("nan")),
            }
        )
    cap = q[q["component"] == "capacity"].copy()
    cap["gain"] = -cap["dual"].astype(float)
    cap = cap.sort_values("gain", ascending=False, kind="stable").head(10)
    capacity = [
        {"rep_id": r.index, "capacity": float(r.upper), "saving_per_unit": float(r.gain)}
        for r in _rows(cap)
    ]
    rules = (
        q.assign(absdual=q["dual"].abs())
        .groupby("rule")
        .agg(rows=("component", "size"), total_abs_dual=("absdual", "sum"))
        .reset_index()
        .sort_values("total_abs_dual", ascending=False)
    )
    rule_prices = [
        {
            "rule": r.rule,
            "binding_rows": int(r.rows),
            "sum_abs_shadow_price": float(r.total_abs_dual),
        }
        for r in _rows(rules)
    ]
    out = PlanExplanation(counts, tgt, capacity, rule_prices, summary.get("fairness", {}))
    if sc.get("incentives") and payout is not None:
        out.incentives = expected_payout(payout)
    out.attainability = dict(summary.get("attainability") or {})
    quotas = (manifest.get("stages") or {}).get("quotas") or {}
    out.plan = {
        "status": manifest.get("status"),
        "gap": manifest.get("gap"),
        "bound_method": quotas.get("bound_method"),
        "gap_against_lp": bool(quotas.get("gap_against_lp")),
        # explain's prices come from the LP relaxation: exact when it was solved to optimality
        "lp_optimal": str(quotas.get("lp_message") or "Optimal").startswith("Optimal"),
    }
    if relaxed is not None:
        stopped: SolverError | None = None
        try:
            out.price_of_fairness = price_of_fairness(run, relaxed)
        except SolverError as exc:  # a re-solve out of time is not measured, never "infeasible"
            out.price_of_fairness = {"note": _not_measured("price of fairness", exc)}
            stopped = exc  # the base LP itself: no +1% step can be measured against it
        base = out.price_of_fairness.get("objective_lp")
        for row in tgt:
            try:
                if stopped is not None:
                    raise stopped
                row.update(target_step(run, str(row["product"]), base, relaxed))
            except SolverError as exc:
                row["note"] = _not_measured("+1% target re-solve", exc)
    return out


def _not_measured(what: str, exc: SolverError) -> str:
    return (
        f"{what} not measured: {exc.message}; the run's own numbers above stand "
        "(explain --no-resolve skips the re-solves)"
    )


def target_step(
    run: RunTables, product: str, base: float | None, relaxed: Relaxed
) -> dict[str, Any]:
    """The +1% target cost re-solved, and how far the derivative holds, for one product.

    f(s) = LP objective with the product's target × (1 + s) (the reference split scales with
    it). f is convex and piecewise linear in s, so the derivative f'(0) = ``per_unit`` · T holds
    exactly on [0, s*] iff f(s*) = f(0) + s*·f'(0). ``resolved_plus_1pct`` = f(1%) − f(0); when it
    differs from the derivative's 1% · f'(0), a breakpoint (a rep leaving its near band, a rule
    starting to bind) lies in (0, 1%] and ``valid_up_to_pct`` is found by bisection on that
    test (8 re-solves: the largest s checked where f is still linear, 1/256 % resolution).
    """
    sc = run.manifest["resolved_scenario"]
    summary = run.document("summary.json")
    per_unit = summary.get("target_sensitivity", {}).get(product, {}).get("per_unit")
    val = float(sc["targets"]["by_product"][product])
    t = val * (1 + float(sc["targets"]["over_assignment"]))
    if base is None or per_unit is None or not np.isfinite(per_unit):
        return {}
    slope = float(per_unit) * t  # objective per unit of relative change s

    def f(step: float) -> float | None:
        return relaxed({f"targets.by_product.{product}": val * (1 + step)})

    def linear(step: float, value: float | None) -> bool:
        if value is None:
            return False
        tol = 1e-6 * max(1.0, abs(base), abs(value)) + 1e-9 * abs(slope)
        return abs(value - base - step * slope) <= tol

    up = f(0.01)
    out: dict[str, Any] = {"resolved_plus_1pct": None if up is None else up - base}
    if linear(0.01, up):
        out["valid_up_to_pct"] = 1.0  # at least the whole +1% step
        return out
    lo_s, hi_s = 0.0, 0.01
    for _ in range(8):
        mid = (lo_s + hi_s) / 2
        if linear(mid, f(mid)):
            lo_s = mid
        else:
            hi_s = mid
    out["valid_up_to_pct"] = lo_s * 100
    out["note"] = (
        f"the derivative holds for target changes up to +{lo_s:.3%} (a breakpoint lies below "
        f"+{hi_s:.3%}); re-solved +1% costs {out['resolved_plus_1pct']:,.4g}"
        if up is not None
        else "the plan is infeasible at +1% target"
    )
    return out


def price_of_fairness(run: RunTables, relaxed: Relaxed) -> dict[str, Any]:
    """LP objective with the fairness rule as in the run, without it, and the band ±5 points."""
    sc = run.manifest["resolved_scenario"]
    fair = sc["rules"]["fairness"]
    base = relaxed({})
    out: dict[str, Any] = {"objective_lp": base}
    if not fair.get("enabled"):
        out["note"] = "the fairness rule is off in this run"
        return out
    without = relaxed({"rules.fairness.enabled": False, "objective.weights.fairness": 0.0})
    out["objective_without_fairness"] = without
    out["price_of_fairness"] = None if base is None or without is None else base - without
    band = fair.get("band")
    if band is not None:
        loose = relaxed({"rules.fairness.band": float(band) + 0.05})
        out["objective_band_plus_5pts"] = loose
        out["saving_band_plus_5pts"] = None if base is None or loose is None else base - loose
        if band >= 0.05:
            tight = relaxed({"rules.fairness.band": float(band) - 0.05})
            out["objective_band_minus_5pts"] = tight
            out["cost_band_minus_5pts"] = None if base is None or tight is None else tight - base
    return out


def expected_payout(payout: PayoutResult) -> dict[str, Any]:
    """What explain shows of a plan's expected variable pay (results/payout.py)."""
    s = payout.summary
    keys = [
        "expected_payout",
        "payout_p10",
        "payout_p50",
        "payout_p90",
        "cost_of_sales",
        "budget",
        "p_over_budget",
        "expected_share_at_or_above_quota",
        "by_role",
    ]
    return {k: s[k] for k in keys}
