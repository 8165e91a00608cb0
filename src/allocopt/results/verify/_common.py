"""Shared pieces of the verifier: the violation log, the inputs re-derived from the tables and
the formulation (:class:`_Plan`), the run's quotas as arrays (:class:`_Run`). Private to
:mod:`allocopt.results.verify`; imports no model code."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.calendar import months_of_period
from allocopt.data.checks import load_data
from allocopt.errors import InputError, Problem
from allocopt.scenario.schema import Scenario

CENT = 0.005  # largest error of one money value written rounded to cents
COLUMNS = ["rule", "where", "detail", "amount"]


RUN_FILES: dict[str, tuple[str, ...]] = {
    "quotas.csv": ("rep_id", "product", "period", "quota"),
    "annual.csv": ("rep_id", "product", "quota", "base", "eff_base", "reference"),
    "reps.csv": ("rep_id", "capacity", "eff_base", "quota"),
    "rollups.csv": ("unit_id", "product", "period", "quota"),
    "assignments.csv": ("account_id", "incumbent_rep", "owner_rep", "moved", "revenue"),
}
NUMERIC = {"quota", "base", "eff_base", "reference", "capacity", "revenue"}


# --- collecting violations ---------------------------------------------------------------------

Where = Callable[[np.ndarray], list[str]]


def _where(**cols: Any) -> Where:
    """Row labels such as ``rep R0001, product HW`` for the given row positions (built lazily)."""
    arrays = {k: np.asarray(v, dtype=object) for k, v in cols.items()}

    def label(idx: np.ndarray) -> list[str]:
        return [", ".join(f"{k} {a[i]}" for k, a in arrays.items()) for i in idx]

    return label


def _m(x: float) -> str:
    return f"{x:,.2f}"


@dataclass
class _Log:
    tol: float
    rows: list[tuple[str, str, str, float]] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def count(self, rule: str, n: int) -> None:
        self.checked[rule] = self.checked.get(rule, 0) + int(n)

    def add(self, rule: str, where: str, detail: str, amount: float) -> None:
        self.rows.append((rule, where, detail, float(amount)))

    def slack(self, bound: Any, cents: Any = 1, extra: Any = 0.0) -> np.ndarray:
        b = np.asarray(bound, dtype=float)
        return self.tol * np.maximum(1.0, np.abs(b)) + CENT * np.asarray(cents, dtype=float) + extra

    def bound(
        self,
        rule: str,
        where: Where,
        value: Any,
        bound: Any,
        side: str,
        *,
        what: str,
        against: str,
        cents: Any = 1,
        extra: Any = 0.0,
        scale: Any = None,
        note: Callable[[int], str] | None = None,
    ) -> None:
        """Check ``value ≤ bound`` (side "le"), ``≥`` ("ge") or ``=`` ("eq") element-wise.

        ``amount`` is the money excess, or the excess divided by ``scale`` (a ratio) if given.
        """
        v, b = (
            x.ravel()
            for x in np.broadcast_arrays(
                np.asarray(value, dtype=float), np.asarray(bound, dtype=float)
            )
        )
        self.count(rule, v.size)
        if v.size == 0:
            return
        sl = np.broadcast_to(self.slack(b, np.ravel(cents), np.ravel(extra)), v.shape)
        if side == "le":
            excess = v - b
        elif side == "ge":
            excess = b - v
        else:
            excess = np.abs(v - b)
        bad = np.flatnonzero(~(excess <= sl))  # a blank (NaN) value fails too
        if bad.size == 0:
            return
        sc = None if scale is None else np.broadcast_to(np.ravel(scale), v.shape)
        word = {"le": "is above", "ge": "is below", "eq": "differs from"}[side]
        for i, w in zip(bad, where(bad), strict=True):
            amt = excess[i] if sc is None else excess[i] / sc[i]
            text = f"{what} {_m(v[i])} {word} {against} {_m(b[i])} by {_m(excess[i])}"
            if note is not None:
                text += f" ({note(int(i))})"
            self.add(rule, w, text, amt)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


def _missing(path: Path, message: str, field_: str = "", where: str = "") -> InputError:
    return InputError(
        Problem(str(path), where, field_, message),
        header=f"the run folder {path.parent} cannot be verified",
    )


def _typed(run_dir: Path, name: str, df: pd.DataFrame) -> pd.DataFrame:
    """A run CSV read as text (``run_dir/name``): required columns present, numbers parsed."""
    path = run_dir / name
    cols = RUN_FILES[name]
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise InputError(
            [Problem(str(path), "row 1", c, "required column is missing") for c in absent],
            header=f"the run folder {run_dir} cannot be verified",
        )
    df = df.copy()
    for c in cols:
        if c in NUMERIC:
            num = pd.to_numeric(df[c].where(df[c] != "", None), errors="coerce")
            bad = np.flatnonzero(num.isna().to_numpy() & (df[c] != "").to_numpy())
            if bad.size:
                i = int(bad[0])
                raise _missing(path, "must be a number", c, f"row {i + 2}")
            df[c] = num.astype(float)
    return df


# --- re-derived inputs -------------------------------------------------------------------------


@dataclass
class _Plan:
    """Inputs re-derived from the tables and the formulation, indexed in sorted-ID order."""

    sc: Scenario
    reps: pd.DataFrame  # sorted by rep_id
    rep_ids: np.ndarray
    products: list[str]
    periods: list[str]
    employed: np.ndarray  # (R, 12) share of each fiscal month employed
    avail: np.ndarray  # (R, T)
    active: np.ndarray  # (R,)
    cap_t: np.ndarray  # (R, T)
    cap: np.ndarray  # (R,)
    season: np.ndarray  # (P, T)
    sel: np.ndarray  # (R, P) s_{r,p}
    potential: np.ndarray  # (R, P)
    history: np.ndarray  # (R,) NaN = none
    units: pd.DataFrame
    members: dict[str, np.ndarray]  # unit → rep positions of all descendant reps
    region: np.ndarray  # (R,) nearest region ("" if none)
    key_ids: list[str]
    key_revenue: pd.DataFrame  # index account, columns products
    key_incumbent: dict[str, str]
    target: np.ndarray  # (P,) total the quotas add up to (rounded with rounding on)
    candidates: dict[tuple[str, str], float] | None  # eligible pair → workload (None: no table)
    replan: _Published | None = None
    performance: np.ndarray | None = None  # (R,) shrunk performance factors (weight > 0)
    attainment_history: pd.DataFrame | None = None  # earlier years: rep_id, year, quota, actual


@dataclass
class _Published:
    """A re-plan's published plan, read from its run folder (annual, period quotas, owners)."""

    as_of: int
    annual: np.ndarray  # (R, P)
    period: np.ndarray  # (R, P, T)
    present: np.ndarray  # (R,) rep in the published plan
    owners: dict[str, str]


@dataclass(frozen=True)
class PublishedTables:
    """A re-plan's published plan as read from its run folder (every cell as text)."""

    annual: pd.DataFrame  # annual.csv (rep_id, product as text)
    quotas: pd.DataFrame  # quotas.csv (rep_id, product, period as text)
    assignments: pd.DataFrame  # assignments.csv


def _published(
    sc: Scenario, summary: dict[str, Any], tables: PublishedTables | None, pl: _Plan
) -> _Published | None:
    if sc.replan is None or tables is None:
        return None
    as_of = pl.periods.index(str(summary["replan"]["as_of"]))
    ann, per, asg = tables.annual, tables.quotas, tables.assignments
    ri = {r: i for i, r in enumerate(pl.rep_ids)}
    pi = {p: j for j, p in enumerate(pl.products)}
    ti = {t: k for k, t in enumerate(pl.periods)}
    annual = np.zeros((len(ri), len(pi)))
    period = np.zeros((len(ri), len(pi), len(ti)))
    for r, p, v in zip(ann["rep_id"], ann["product"], ann["quota"], strict=True):
        if r in ri and p in pi:
            annual[ri[r], pi[p]] = float(v)
    for r, p, t, v in zip(per["rep_id"], per["product"], per["period"], per["quota"], strict=True):
        if r in ri and p in pi and t in ti:
            period[ri[r], pi[p], ti[t]] = float(v)
    present = np.array([r in set(ann["rep_id"]) for r in pl.rep_ids])
    owners = {a: o for a, o in zip(asg["account_id"], asg["owner_rep"], strict=True) if o in ri}
    return _Published(as_of, annual, period, present, owners)


def _period_months(sc: Scenario) -> list[list[int]]:
    """Period index → its fiscal months (the one calendar, :mod:`allocopt.calendar`)."""
    return [list(m) for m in months_of_period(sc.plan.granularity)]


def _availability(reps: pd.DataFrame, sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Employment share and employment × ramp per fiscal month, month by month.

    Months are the fiscal months m of the formulation: the start month is the fiscal month that
    contains the start date, and fiscal month m gets ``ramp[m - start month]``.
    """
    fy0 = pd.Timestamp(sc.plan.fiscal_year_start)
    ramp = list(sc.rules.capacity.ramp) if sc.rules.capacity.enabled else []
    start = pd.to_datetime(reps["start_date"])
    last_day = pd.to_datetime(reps["end_date"])
    n = len(reps)
    employed = np.zeros((n, 12))
    ramped = np.zeros((n, 12))
    has_start = start.notna().to_numpy()
    # fiscal month of the start date, counted from the plan year's first month (negative before);
    # starts earlier than the ramp can reach get a month far enough back to be fully ramped
    first_k = -len(ramp) - 1
    bounds = pd.DatetimeIndex([fy0 + pd.DateOffset(months=j) for j in range(first_k, 13)])
    pos = bounds.searchsorted(start.fillna(fy0).to_numpy().astype("datetime64[ns]"), side="right")
    start_m = np.where(pos == 0, first_k - 1, pos - 1 + first_k)
    for m in range(12):
        first = fy0 + pd.DateOffset(months=m)
        nxt = fy0 + pd.DateOffset(months=m + 1)
        days_in_month = (nxt - first).days
        lo = start.fillna(first).where(lambda s, f=first: s > f, first)
        hi = (last_day + pd.Timedelta(days=1)).fillna(nxt).where(lambda s, x=nxt: s < x, nxt)
        days = (hi - lo).dt.days.clip(lower=0).to_numpy(dtype=float)
        employed[:, m] = days / days_in_month
        factor = np.ones(n)
        for step, share in enumerate(ramp):
            factor[has_start & (m - start_m == step)] = share
        ramped[:, m] = employed[:, m] * factor
    return employed, ramped


def _org(units: pd.DataFrame, teams: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    parent = dict(zip(units["unit_id"], units["parent_id"], strict=True))
    level = dict(zip(units["unit_id"], units["level"], strict=True))
    members: dict[str, list[int]] = {u: [] for u in parent}
    region = np.full(len(teams), "", dtype=object)
    for i, team in enumerate(teams):
        u, seen = team, set()
        while u and u not in seen:
            seen.add(u)
            members.setdefault(u, []).append(i)
            if level.get(u) == "region" and region[i] == "":
                region[i] = u
            u = parent.get(u, "")
    return {u: np.asarray(v, dtype=np.int64) for u, v in members.items()}, region


def _plan(sc: Scenario, base_dir: Path) -> _Plan:
    ds = load_data(sc, base_dir)
    products = list(sc.products)
    periods = list(sc.periods)
    reps = ds["reps"].sort_values("rep_id").reset_index(drop=True)
    rep_ids = reps["rep_id"].to_numpy(dtype=object)
    employed, ramped = _availability(reps, sc)
    months = _period_months(sc)
    avail = np.column_stack([ramped[:, ms].mean(axis=1) for ms in months])
    active = employed.mean(axis=1)
    full = reps["capacity"].to_numpy(dtype=float) * reps["fte"].to_numpy(dtype=float)
    cap_t = np.column_stack([full * avail[:, t] * len(ms) / 12 for t, ms in enumerate(months)])

    seas = ds["seasonality"].pivot_table(
        index="product", columns="period", values="weight", aggfunc="sum"
    )
    season = seas.reindex(index=products, columns=periods).fillna(0.0).to_numpy(dtype=float)
    sel = avail @ season.T

    pot = ds["potential"].pivot_table(
        index="rep_id", columns="product", values="potential", aggfunc="sum"
    )
    potential = pot.reindex(index=rep_ids, columns=products).fillna(0.0).to_numpy(dtype=float)

    col = "ly_actual" if sc.rules.growth.basis == "actual" else "ly_quota"
    hist = reps[col].to_numpy(dtype=float)
    history = np.where(np.nan_to_num(hist, nan=0.0) > 0, hist, np.nan)

    units = ds["org_units"]
    members, region = _org(units, reps["team_id"].to_numpy(dtype=object))

    acc = ds["accounts"]
    # an account is key when any of its rows is key; all its rows then count
    key_ids = sorted(set(acc.loc[acc["key"].eq(True), "account_id"]))
    key = acc[acc["account_id"].isin(key_ids)]
    key_revenue = key.pivot_table(
        index="account_id", columns="product", values="revenue", aggfunc="sum"
    )
    key_revenue = key_revenue.reindex(index=key_ids, columns=products).fillna(0.0)
    key_incumbent: dict[str, str] = {}
    for a, inc in zip(key["account_id"], key["incumbent_rep"], strict=True):
        if inc or str(a) not in key_incumbent:
            key_incumbent[str(a)] = str(inc)

    target = np.array([sc.targets.by_product[p] for p in products], dtype=float)
    target = target * (1 + sc.targets.over_assignment)
    if sc.rules.rounding.enabled:
        u = sc.rules.rounding.unit
        # nearest unit, halves up (a half judged to 1e-9, so float noise never decides it)
        target = np.array(
            [math.floor(t / u + 0.5 + 1e-9 * max(1.0, abs(t / u))) * u for t in target]
        )
    candidates = None
    if ds.has("candidates"):
        c = ds["candidates"]
        work = np.nan_to_num(c["workload"].to_numpy(dtype=float), nan=1.0)
        candidates = {
            (str(a), str(r)): float(w)
            for a, r, w in zip(c["account_id"], c["rep_id"], work, strict=True)
        }
    pl = _Plan(
        sc,
        reps,
        rep_ids,
        products,
        periods,
        employed,
        avail,
        active,
        cap_t,
        cap_t.sum(axis=1),
        season,
        sel,
        potential,
        history,
        units,
        members,
        region,
        key_ids,
        key_revenue,
        key_incumbent,
        target,
        candidates,
    )
    pl.performance = _performance(sc, ds.tables.get("performance"), rep_ids, history)
    pl.attainment_history = ds.tables.get("attainment_history")
    return pl


def _performance(
    sc: Scenario, table: pd.DataFrame | None, rep_ids: np.ndarray, history: np.ndarray
) -> np.ndarray | None:
    """Credibility-weighted factors: clip(1 + n/(n+k)·(factor − 1), min, max), 1 without history
    or without a row; n = n_periods (blank = the plan's number of periods)."""
    if sc.objective.reference.performance <= 0:
        return None
    cfg = sc.objective.performance_factor
    out = np.ones(len(rep_ids))
    rows: dict[str, tuple[float, float]] = {}
    if table is not None:
        for r, f, n in zip(table["rep_id"], table["factor"], table["n_periods"], strict=True):
            rows[str(r)] = (float(f), float(n))
    for i, rep in enumerate(rep_ids):
        if str(rep) not in rows or not np.isfinite(history[i]):
            continue
        f, n = rows[str(rep)]
        n = float(len(sc.periods)) if np.isnan(n) else n
        z = n / (n + cfg.credibility) if n + cfg.credibility > 0 else 1.0
        out[i] = min(max(1.0 + z * (f - 1.0), cfg.min), cfg.max)
    return out


# --- the run's quotas --------------------------------------------------------------------------


@dataclass
class _Run:
    annual: np.ndarray  # (R, P) from annual.csv (0 where missing)
    period: np.ndarray  # (R, P, T) from quotas.csv (0 where missing)
    owner: dict[str, str]  # key account → owner from assignments.csv (first row)
    tables: dict[str, pd.DataFrame]
    base: np.ndarray  # (R, P) potential + owned key-account revenue
    eb: np.ndarray  # (R, P) effective base: base × selling share


def _index(values: pd.Series, ids: list[str] | np.ndarray) -> np.ndarray:
    pos = {v: i for i, v in enumerate(ids)}
    return values.map(pos).fillna(-1).to_numpy(dtype=np.int64)


def _unknown(df: pd.DataFrame, i: int, cols: tuple[str, ...]) -> str:
    return "unknown " + " or ".join(f"{c} {df[c].iat[i]!r}" for c in cols)


def _complete_annual(pl: _Plan, df: pd.DataFrame, log: _Log) -> np.ndarray:
    r = _index(df["rep_id"], pl.rep_ids)
    p = _index(df["product"], pl.products)
    known = (r >= 0) & (p >= 0)
    n_r, n_p = len(pl.rep_ids), len(pl.products)
    count = np.zeros((n_r, n_p), dtype=np.int64)
    np.add.at(count, (r[known], p[known]), 1)
    out = np.zeros((n_r, n_p))
    out[r[known], p[known]] = df["quota"].to_numpy(dtype=float)[known]
    for ri, pj in zip(*np.nonzero(np.isnan(out)), strict=True):
        log.add(
            "complete",
            f"rep {pl.rep_ids[ri]}, product {pl.products[pj]}",
            "quota is blank in annual.csv",
            1,
        )
    out = np.nan_to_num(out)
    log.count("complete", n_r * n_p)
    for i in np.flatnonzero(~known):
        log.add(
            "complete", f"annual.csv row {i + 2}", _unknown(df, int(i), ("rep_id", "product")), 1
        )
    for ri, pj in zip(*np.nonzero(count != 1), strict=True):
        n = int(count[ri, pj])
        log.add(
            "complete",
            f"rep {pl.rep_ids[ri]}, product {pl.products[pj]}",
            "missing from annual.csv" if n == 0 else f"appears {n} times in annual.csv",
            abs(n - 1),
        )
    return out


def _complete_period(pl: _Plan, df: pd.DataFrame, log: _Log) -> np.ndarray:
    r = _index(df["rep_id"], pl.rep_ids)
    p = _index(df["product"], pl.products)
    t = _index(df["period"], pl.periods)
    known = (r >= 0) & (p >= 0) & (t >= 0)
    shape = (len(pl.rep_ids), len(pl.products), len(pl.periods))
    count = np.zeros(shape, dtype=np.int64)
    np.add.at(count, (r[known], p[known], t[known]), 1)
    out = np.zeros(shape)
    out[r[known], p[known], t[known]] = df["quota"].to_numpy(dtype=float)[known]
    for ri, pj, tk in zip(*np.nonzero(np.isnan(out)), strict=True):
        log.add(
            "complete",
            f"rep {pl.rep_ids[ri]}, product {pl.products[pj]}, period {pl.periods[tk]}",
            "quota is blank in quotas.csv",
            1,
        )
    out = np.nan_to_num(out)
    log.count("complete", int(np.prod(shape)))
    for i in np.flatnonzero(~known):
        log.add(
            "complete",
            f"quotas.csv row {i + 2}",
            _unknown(df, int(i), ("rep_id", "product", "period")),
            1,
        )
    for ri, pj, tk in zip(*np.nonzero(count != 1), strict=True):
        n = int(count[ri, pj, tk])
        log.add(
            "complete",
            f"rep {pl.rep_ids[ri]}, product {pl.products[pj]}, period {pl.periods[tk]}",
            "missing from quotas.csv" if n == 0 else f"appears {n} times in quotas.csv",
            abs(n - 1),
        )
    return out


def _rp_where(pl: _Plan) -> Where:
    n_p = len(pl.products)
    return _where(rep=np.repeat(pl.rep_ids, n_p), product=np.tile(pl.products, len(pl.rep_ids)))


def _rpt_where(pl: _Plan) -> Where:
    n_p, n_t = len(pl.products), len(pl.periods)
    return _where(
        rep=np.repeat(pl.rep_ids, n_p * n_t),
        product=np.tile(np.repeat(pl.products, n_t), len(pl.rep_ids)),
        period=np.tile(pl.periods, len(pl.rep_ids) * n_p),
    )


def _effective_base(pl: _Plan, owner: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Base (potential + owned key-account revenue) and effective base (× selling share)."""
    base = pl.potential.copy()
    ridx = {r: i for i, r in enumerate(pl.rep_ids)}
    owned = [(a, ridx[o]) for a, o in owner.items() if o in ridx and a in pl.key_revenue.index]
    if owned:
        rev = pl.key_revenue.loc[[a for a, _ in owned]].to_numpy(dtype=float)
        np.add.at(base, np.array([i for _, i in owned], dtype=np.int64), rev)
    return base, base * pl.sel


def _limit(col: pd.Series, default: float | None) -> np.ndarray:
    own = col.to_numpy(dtype=float)
    return np.where(np.isnan(own), np.nan if default is None else float(default), own)
