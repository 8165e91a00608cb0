"""What each monitor page shows, as plain dicts for the templates (no HTML here).

Public functions: :func:`scope_view` (company, region or team page), :func:`rep_view`,
:func:`compare_view` and :func:`expected_payout` (the incentives hook). All numbers come from
:func:`allocopt.compose.track` (attainment, pacing, forecasts, at risk) and
:func:`allocopt.compose.explain_rep` (the rep's decomposition); this module only selects,
sums per period for the charts, and labels.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from allocopt.compose import explain_rep
from allocopt.results.track import ALL, TrackResult
from allocopt.serve import charts
from allocopt.serve.monitor import Plan, Snapshot

__all__ = ["NotFound", "compare_view", "expected_payout", "rep_view", "scope_view"]

LEVELS = ("company", "region", "team")
CHILD = {"company": "region", "region": "team", "team": "rep"}
METRIC_KEYS = (
    "annual_quota",
    "quota_to_date",
    "actual_to_date",
    "attainment",
    "pacing",
    "forecast_run_rate",
    "forecast_run_rate_attainment",
    "forecast_seasonal",
    "forecast_attainment",
    "gap",
    "at_risk",
)


RISK_ROWS = 250  # at-risk rows listed on a page (all of them are in track's at_risk.csv)


class NotFound(LookupError):
    """No such unit or rep in the run (the page answers 404)."""


def href(kind: str, ident: str) -> str:
    """The page of a unit or rep (IDs go in the query string, never in a file path)."""
    return "/" if kind == "company" else f"/{kind}?{urlencode({'id': ident})}"


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _metrics(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {k: _num(row.get(k)) for k in METRIC_KEYS if k != "at_risk"}
    out["at_risk"] = bool(row.get("at_risk", False))
    return out


def expected_payout(plan: Plan, snap: Snapshot) -> dict[str, float] | None:
    """Expected payout per rep when the run has ``incentives:`` set: the monitor computes it
    with :func:`allocopt.pipeline.payout_run` on each new actuals file; None otherwise."""
    if not plan.incentives:
        return None
    return snap.payout


def _names(plan: Plan, kind: str, ident: str) -> str:
    names = plan.rep_names if kind == "rep" else plan.unit_names
    return names.get(ident, "")


def _unit_row(res: TrackResult, level: str, unit: str) -> pd.Series | None:
    u = res.units
    sel = u[(u["level"] == level) & (u["unit_id"] == unit) & (u["product"] == ALL)]
    return sel.iloc[0] if len(sel) else None


def _company_id(res: TrackResult) -> str:
    u = res.units
    return str(u.loc[u["level"] == "company", "unit_id"].iloc[0])


def _reps_in(plan: Plan, level: str, unit: str) -> list[str]:
    q = plan.quotas
    if level != "company":
        q = q[q["region_id" if level == "region" else "team_id"] == unit]
    sel = q
    return sorted(set(sel["rep_id"]))


def _bars(plan: Plan, snap: Snapshot, reps: list[str]) -> list[charts.Bar]:
    res = snap.result
    assert res is not None
    q = plan.quotas[plan.quotas["rep_id"].isin(reps)]
    qp = q.groupby("period")["quota"].sum()
    ap = pd.Series(dtype=float)
    if snap.actual_by_period is not None:
        a = snap.actual_by_period
        ap = a[a["rep_id"].isin(reps)].groupby("period")["amount"].sum()
    return [
        charts.Bar(
            p.label,
            float(qp.get(p.label, 0.0)),
            float(ap.get(p.label, 0.0)) if p.elapsed > 0 else None,
            p.elapsed,
        )
        for p in res.periods
    ]


def _rep_rows(plan: Plan, res: TrackResult, reps: list[str], payout: dict[str, float] | None):
    r = res.reps
    rows = r[(r["product"] == ALL) & r["rep_id"].isin(reps)]
    diff = dict(zip(plan.reps.get("rep_id", []), plan.reps.get("difficulty", []), strict=True))
    out = []
    for rec in rows.to_dict("records"):
        rep = str(rec["rep_id"])
        m = _metrics(pd.Series(rec))
        out.append(
            {
                "id": rep,
                "name": plan.rep_names.get(rep, ""),
                "href": href("rep", rep),
                "team_id": str(rec["team_id"]),
                "difficulty": _num(diff.get(rep)),
                "payout": None if payout is None else payout.get(rep),
                **m,
            }
        )
    return out


def _risk_rows(plan: Plan, res: TrackResult, reps: list[str]) -> list[dict[str, Any]]:
    risk = res.at_risk[res.at_risk["rep_id"].isin(reps)]
    return [
        {
            "id": str(r["rep_id"]),
            "name": plan.rep_names.get(str(r["rep_id"]), ""),
            "href": href("rep", str(r["rep_id"])),
            "team_id": str(r["team_id"]),
            "team_href": href("team", str(r["team_id"])),
            "products": str(r["at_risk_products"]).replace(";", ", "),
            **_metrics(pd.Series(r)),
        }
        for r in risk.to_dict("records")
    ]


def _crumbs(plan: Plan, res: TrackResult, level: str, unit: str) -> list[dict[str, str]]:
    q = plan.quotas
    company = _company_id(res)
    out = [{"label": plan.unit_names.get(company, company), "href": "/"}]
    region = team = ""
    if level == "region":
        region = unit
    elif level in ("team", "rep"):
        sel = q[q["team_id" if level == "team" else "rep_id"] == unit]
        if len(sel):
            region, team = str(sel["region_id"].iloc[0]), str(sel["team_id"].iloc[0])
    if region:
        out.append({"label": _label(plan, "region", region), "href": href("region", region)})
    if team:
        out.append({"label": _label(plan, "team", team), "href": href("team", team)})
    return out


def _label(plan: Plan, kind: str, ident: str) -> str:
    name = _names(plan, kind, ident)
    return f"{ident} · {name}" if name and name != ident else ident


def scope_view(plan: Plan, snap: Snapshot, level: str, unit: str | None) -> dict[str, Any]:
    """The company, a region or a team: headline metrics, children, charts and the at-risk list."""
    res = snap.result
    if res is None:
        return {"ready": False}
    if level == "company":
        unit = _company_id(res)
    row = _unit_row(res, level, unit or "")
    if row is None or unit is None:
        raise NotFound(f"no {level} {unit!r} in this run")
    reps = _reps_in(plan, level, unit)
    payout = expected_payout(plan, snap)
    child = CHILD[level]
    if child == "rep":
        children = _rep_rows(plan, res, reps, payout)
    else:
        col = "region_id" if child == "region" else "team_id"
        ids = sorted(set(plan.quotas.loc[plan.quotas["rep_id"].isin(reps), col]) - {""})
        at_risk_reps: dict[str, int] = (
            {str(k): int(v) for k, v in res.at_risk.groupby(col)["rep_id"].size().items()}
            if col in res.at_risk
            else {}
        )
        n_reps = plan.quotas.groupby(col)["rep_id"].nunique()
        children = []
        for ident in ids:
            r = _unit_row(res, child, ident)
            if r is None:
                continue
            children.append(
                {
                    "id": ident,
                    "name": _names(plan, child, ident),
                    "href": href(child, ident),
                    "reps": int(n_reps.get(ident, 0)),
                    "reps_at_risk": int(at_risk_reps.get(ident, 0)),
                    **_metrics(r),
                }
            )
    by_product = []
    u = res.units
    for p in plan.products:
        sel = u[(u["level"] == level) & (u["unit_id"] == unit) & (u["product"] == p)]
        if len(sel):
            by_product.append({"product": p, **_metrics(sel.iloc[0])})
    risk = _risk_rows(plan, res, reps)
    rep_rows = children if child == "rep" else _rep_rows(plan, res, reps, None)
    att = [r["attainment"] for r in rep_rows if r["attainment"] is not None]
    points = [
        charts.Point(
            r["id"],
            f"{r['id']} {r['name']}".strip(),
            r["difficulty"],
            r["attainment"],
            r["at_risk"],
            r["href"],
        )
        for r in rep_rows
        if r["difficulty"] is not None and r["attainment"] is not None
    ]
    return {
        "ready": True,
        "level": level,
        "unit_id": unit,
        "name": _names(plan, level, unit),
        "crumbs": _crumbs(plan, res, level, unit)[:-1] if level != "company" else [],
        "metrics": _metrics(row),
        "reps": len(reps),
        "reps_at_risk": int(res.at_risk["rep_id"].isin(reps).sum()),
        "child": child,
        "children": children,
        "by_product": by_product,
        "risk": risk[:RISK_ROWS],
        "risk_more": max(len(risk) - RISK_ROWS, 0),
        "payout": payout is not None,
        "charts": {
            "histogram": charts.histogram(att, res.threshold),
            "pacing": charts.pacing(_bars(plan, snap, reps)),
            "scatter": charts.scatter(points, res.threshold),
        },
    }


def rep_view(plan: Plan, snap: Snapshot, rep_id: str) -> dict[str, Any]:
    """One rep: metrics per product, pacing, the explain decomposition and the key accounts."""
    res = snap.result
    if res is None:
        return {"ready": False}
    r = res.reps
    mine = r[r["rep_id"] == rep_id]
    if not len(mine):
        raise NotFound(f"no rep {rep_id!r} in this run")
    total = mine[mine["product"] == ALL].iloc[0]
    x = explain_rep(plan.run_dir, rep_id)
    payout = expected_payout(plan, snap)
    names = plan.rep_names
    accounts = [
        {
            "account_id": str(a["account_id"]),
            "name": plan.account_names.get(str(a["account_id"]), ""),
            "revenue": _num(a.get("revenue")),
            "owner": str(a.get("owner_rep") or ""),
            "incumbent": str(a.get("incumbent_rep") or ""),
            "why": str(a.get("why", "")),
            "owned": str(a.get("owner_rep") or "") == rep_id,
        }
        for a in x.accounts
    ]
    return {
        "ready": True,
        "rep_id": rep_id,
        "name": names.get(rep_id, ""),
        "team_id": str(total["team_id"]),
        "crumbs": _crumbs(plan, res, "rep", rep_id),
        "metrics": _metrics(total),
        "by_product": [
            {"product": str(rec["product"]), **_metrics(pd.Series(rec))}
            for rec in mine[mine["product"] != ALL].to_dict("records")
        ],
        "pacing": charts.pacing(_bars(plan, snap, [rep_id])),
        "explain": {
            "quota": x.quota,
            "parts": [{"label": k, "amount": v} for k, v in x.parts],
            "difficulty": x.difficulty,
        },
        "accounts": accounts,
        "payout": None if payout is None else payout.get(rep_id),
    }


def compare_view(plan_a: Plan, plan_b: Plan, snap: Snapshot, by: str) -> dict[str, Any]:
    """Plans A and B side by side at one level: annual quota and attainment to date, deltas."""
    a, b = snap.result, snap.result_b
    if a is None:
        return {"ready": False}

    def frame(res: TrackResult | None, plan: Plan) -> pd.DataFrame:
        cols = ["id", "annual_quota", "quota_to_date", "attainment"]
        if res is None:  # B cannot be tracked against these actuals: quotas only
            q = plan.quotas
            key = {"rep": "rep_id", "team": "team_id", "region": "region_id"}.get(by)
            if key is None:
                df = pd.DataFrame({"id": ["company"], "annual_quota": [q["quota"].sum()]})
            else:
                df = q.groupby(key)["quota"].sum().rename("annual_quota").reset_index()
                df = df.rename(columns={key: "id"})
            return df.assign(quota_to_date=float("nan"), attainment=float("nan"))[cols]
        if by == "rep":
            df = res.reps[res.reps["product"] == ALL].rename(columns={"rep_id": "id"})
        else:
            u = res.units
            df = u[(u["level"] == by) & (u["product"] == ALL)].rename(columns={"unit_id": "id"})
            if by == "company":
                df = df.assign(id="company")
        return df[cols]

    fa = frame(a, plan_a).set_index("id")
    fb = frame(b, plan_b).set_index("id")
    ids = sorted(set(fa.index) | set(fb.index))
    rows = []
    for ident in ids:
        qa = _num(fa["annual_quota"].get(ident))
        qb = _num(fb["annual_quota"].get(ident))
        ta = _num(fa["attainment"].get(ident))
        tb = _num(fb["attainment"].get(ident))
        delta = None if qa is None or qb is None else qb - qa
        rows.append(
            {
                "id": ident,
                "name": _names(plan_a, by, ident) or _names(plan_b, by, ident),
                "href": href(by, ident) if by != "company" else "/",
                "quota_a": qa,
                "quota_b": qb,
                "delta": delta,
                "delta_pct": None if delta is None or not qa else delta / qa,
                "att_a": ta,
                "att_b": tb,
                "att_delta": None if ta is None or tb is None else tb - ta,
            }
        )
    rows.sort(key=lambda r: (-abs(r["delta"] or 0.0), r["id"]))
    changed = sum(1 for r in rows if r["delta"] is None or abs(r["delta"]) > 0.005)
    total_a = sum(r["quota_a"] or 0.0 for r in rows)
    total_b = sum(r["quota_b"] or 0.0 for r in rows)
    return {
        "ready": True,
        "by": by,
        "rows": rows,
        "changed": changed,
        "total_a": total_a,
        "total_b": total_b,
    }
