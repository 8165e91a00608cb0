"""Independent verification of a run folder against the formulation (``models/allocation.md``).

Public entry point: :func:`verify_run`. Everything is re-derived from the run's output CSVs and
the input tables with pandas/numpy only — availability, ramp and proration, capacity, effective
base, phasing profiles, history, fairness groups and the reference split are recomputed here from
the formulation text, never taken from the model code (``allocopt.model``,
``allocopt.data.prepare``, ``allocopt.results.extract``, ``allocopt.solve`` are deliberately not
imported). The scenario is
the one recorded in the manifest (``resolved_scenario``); the tables are located from the run
folder (:class:`~allocopt.outputs.runfolder.RunFolder`: relative to it first, then at their
recorded absolute path) and checked against the hashes in the manifest, so the check works from
any working folder. The run's own files are checked against the hashes its manifest records
(``integrity``): any edit, also a coherent one across files or of the resolved settings, fails.

Tolerances: a row passes when it is within ``tol · max(1, |bound|)`` of its bound, plus half a cent
for every money value read from a CSV that enters the row (the run files store money rounded to
cents). With rounding on, quotas must be whole multiples of the unit, company totals are
``round(T_p / u) · u``, and period quotas (rounded by largest remainder after the solve) may differ
from their unrounded value by less than one unit each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocopt.data.checks import load_data
from allocopt.errors import InputError, Problem
from allocopt.outputs.runfolder import LocatedInput, RunFolder
from allocopt.scenario.schema import Scenario

__all__ = ["Verification", "verify_run"]

CENT = 0.005  # largest error of one money value written rounded to cents
COLUMNS = ["rule", "where", "detail", "amount"]

#: run files and the columns the verifier reads from each
RUN_FILES: dict[str, tuple[str, ...]] = {
    "quotas.csv": ("rep_id", "product", "period", "quota"),
    "annual.csv": ("rep_id", "product", "quota", "base", "eff_base", "reference"),
    "reps.csv": ("rep_id", "capacity", "eff_base", "quota"),
    "rollups.csv": ("unit_id", "product", "period", "quota"),
    "assignments.csv": ("account_id", "incumbent_rep", "owner_rep", "moved", "revenue"),
}
NUMERIC = {"quota", "base", "eff_base", "reference", "capacity", "revenue"}


@dataclass
class Verification:
    """Result of :func:`verify_run`: every violation found and how many rows each rule checked."""

    violations: pd.DataFrame
    checked: dict[str, int] = field(default_factory=dict)
    integrity: list[str] = field(default_factory=list)  # run files edited since the solve
    notes: list[str] = field(default_factory=list)  # e.g. a manifest without recorded hashes

    @property
    def ok(self) -> bool:
        """True when no rule is violated and no file of the run was edited."""
        return self.violations.empty and not self.integrity

    @property
    def n_checks(self) -> int:
        """Total number of rows checked over all rules."""
        return sum(self.checked.values())


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


# --- reading the run folder --------------------------------------------------------------------


def _missing(path: Path, message: str, field_: str = "", where: str = "") -> InputError:
    return InputError(
        Problem(str(path), where, field_, message),
        header=f"the run folder {path.parent} cannot be verified",
    )


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    manifest = RunFolder.open(run_dir, f"the run folder {run_dir} cannot be verified").manifest
    path = run_dir / "manifest.json"
    try:
        scen_path = manifest["inputs"]["scenario"]["path"]
    except (KeyError, TypeError):
        scen_path = None
    if not isinstance(scen_path, str) or not scen_path:
        raise _missing(
            path,
            "is missing; the manifest does not record the scenario file",
            "inputs.scenario.path",
        )
    return manifest


def _read_csv(run_dir: Path, name: str) -> pd.DataFrame:
    path = run_dir / name
    if not path.is_file():
        raise _missing(path, "file is missing; the run folder is incomplete")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except pd.errors.EmptyDataError:
        raise _missing(path, "file is empty; the run folder is incomplete") from None
    except (OSError, ValueError) as exc:
        raise _missing(path, f"cannot be read: {exc}") from None
    cols = RUN_FILES[name]
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise InputError(
            [Problem(str(path), "row 1", c, "required column is missing") for c in absent],
            header=f"the run folder {run_dir} cannot be verified",
        )
    for c in cols:
        if c in NUMERIC:
            num = pd.to_numeric(df[c].where(df[c] != "", None), errors="coerce")
            bad = np.flatnonzero(num.isna().to_numpy() & (df[c] != "").to_numpy())
            if bad.size:
                i = int(bad[0])
                raise _missing(path, "must be a number", c, f"row {i + 2}")
            df[c] = num.astype(float)
    return df


def _scenario(manifest: dict[str, Any], run_dir: Path) -> Scenario:
    try:
        return Scenario.model_validate_json(json.dumps(manifest["resolved_scenario"]))
    except ValueError as exc:
        raise _missing(
            run_dir / "manifest.json", f"is not a valid scenario: {exc}", "resolved_scenario"
        ) from None


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


def _published(sc: Scenario, base_dir: Path, run_dir: Path, pl: _Plan) -> _Published | None:
    if sc.replan is None:
        return None
    pub_dir = (base_dir / sc.replan.published).resolve()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    as_of = pl.periods.index(str(summary["replan"]["as_of"]))
    ann = pd.read_csv(pub_dir / "annual.csv", dtype={"rep_id": str, "product": str})
    per = pd.read_csv(pub_dir / "quotas.csv", dtype={"rep_id": str, "product": str, "period": str})
    asg = pd.read_csv(pub_dir / "assignments.csv", dtype=str, keep_default_na=False)
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
    if sc.plan.granularity == "quarter":
        return [[3 * q, 3 * q + 1, 3 * q + 2] for q in range(4)]
    return [[m] for m in range(12)]


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
        target = np.array([round(t / u) * u for t in target])
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


# --- the checks --------------------------------------------------------------------------------


@dataclass
class _Run:
    annual: np.ndarray  # (R, P) from annual.csv (0 where missing)
    period: np.ndarray  # (R, P, T) from quotas.csv (0 where missing)
    owner: dict[str, str]  # key account → owner from assignments.csv (first row)
    tables: dict[str, pd.DataFrame]


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


def _check_totals(pl: _Plan, run: _Run, log: _Log) -> None:
    n_r, n_p, n_t = run.period.shape
    sc = pl.sc
    rounding = sc.rules.rounding.enabled
    unit = sc.rules.rounding.unit
    log.bound(
        "nonnegative", _rp_where(pl), run.annual, 0.0, "ge", what="annual quota", against="zero"
    )
    log.bound(
        "nonnegative", _rpt_where(pl), run.period, 0.0, "ge", what="period quota", against="zero"
    )
    log.bound(
        "period_sum",
        _rp_where(pl),
        run.period.sum(axis=2),
        run.annual,
        "eq",
        what="sum of the period quotas",
        against="the annual quota",
        cents=n_t + 1,
    )
    log.bound(
        "target",
        _where(product=pl.products),
        run.annual.sum(axis=0),
        pl.target,
        "eq",
        what="sum of the reps' quotas",
        against="the rounded company target" if rounding else "the company target × (1 + cushion)",
        cents=n_r,
    )
    for k, ut in enumerate(sc.targets.units):
        reps = pl.members.get(ut.unit, np.zeros(0, dtype=np.int64))
        cols = np.array(
            [pl.products.index(ut.product)] if ut.product else range(n_p), dtype=np.int64
        )
        total = float(run.annual[np.ix_(reps, cols)].sum())
        where = _where(unit=[f"{ut.unit}" + (f", product {ut.product}" if ut.product else "")])
        cents = max(1, len(reps) * len(cols))
        note = lambda _i, k=k: f"targets.units[{k}]"  # noqa: E731
        if ut.value is not None:
            log.bound(
                "unit_target",
                where,
                [total],
                ut.value,
                "eq",
                what="unit quota",
                against="the unit's target",
                cents=cents,
                note=note,
            )
        if ut.min is not None:
            log.bound(
                "unit_target",
                where,
                [total],
                ut.min,
                "ge",
                what="unit quota",
                against="the unit's min",
                cents=cents,
                note=note,
            )
        if ut.max is not None:
            log.bound(
                "unit_target",
                where,
                [total],
                ut.max,
                "le",
                what="unit quota",
                against="the unit's max",
                cents=cents,
                note=note,
            )
    if rounding:
        for name, arr, where in (
            ("annual quota", run.annual, _rp_where(pl)),
            ("period quota", run.period, _rpt_where(pl)),
        ):
            flat = arr.ravel()
            nearest = np.round(flat / unit) * unit
            log.bound(
                "rounding",
                where,
                flat,
                nearest,
                "eq",
                what=name,
                against=f"the nearest multiple of {unit:g}",
            )


def _check_rollups(pl: _Plan, run: _Run, log: _Log) -> None:
    df = run.tables["rollups.csv"]
    units = sorted(pl.members)
    n_u, n_p, n_t = len(units), len(pl.products), len(pl.periods)
    sizes = np.array([len(pl.members[u]) for u in units], dtype=np.int64)
    expect = np.zeros((n_u, n_p, n_t + 1))
    for k, u in enumerate(units):
        idx = pl.members[u]
        expect[k, :, :n_t] = run.period[idx].sum(axis=0)
        expect[k, :, n_t] = run.annual[idx].sum(axis=0)
    cols = [*pl.periods, "FY"]
    ui = _index(df["unit_id"], units)
    pj = _index(df["product"], pl.products)
    tk = _index(df["period"], cols)
    known = (ui >= 0) & (pj >= 0) & (tk >= 0)
    for i in np.flatnonzero(~known):
        log.add(
            "rollup",
            f"rollups.csv row {i + 2}",
            _unknown(df, int(i), ("unit_id", "product", "period")),
            1,
        )
    count = np.zeros(expect.shape, dtype=np.int64)
    np.add.at(count, (ui[known], pj[known], tk[known]), 1)
    need = (sizes > 0)[:, None, None] & np.ones(expect.shape, dtype=bool)
    for a, b, c in zip(*np.nonzero((count > 1) | (need & (count == 0))), strict=True):
        n = int(count[a, b, c])
        log.add(
            "rollup",
            f"unit {units[a]}, product {pl.products[b]}, period {cols[c]}",
            "missing from rollups.csv" if n == 0 else f"appears {n} times in rollups.csv",
            abs(n - 1),
        )
    ka = np.flatnonzero(known)
    a, b, c = ui[ka], pj[ka], tk[ka]
    val = df["quota"].to_numpy(dtype=float)[ka]
    # periods: sums of the CSV period values; FY: annual.csv values, each within (T+1) cents
    cents = 1 + np.where(c == n_t, sizes[a] * (n_t + 1), 0)
    log.bound(
        "rollup",
        _where(
            unit=np.asarray(units, dtype=object)[a],
            product=np.asarray(pl.products, dtype=object)[b],
            period=np.asarray(cols, dtype=object)[c],
        ),
        val,
        expect[a, b, c],
        "eq",
        what="roll-up",
        against="the sum over the unit's reps",
        cents=cents,
    )
    log.count("rollup", int((need & (count == 0)).sum()))


def _effective_base(pl: _Plan, run: _Run) -> tuple[np.ndarray, np.ndarray]:
    base = pl.potential.copy()
    ridx = {r: i for i, r in enumerate(pl.rep_ids)}
    owned = [(a, ridx[o]) for a, o in run.owner.items() if o in ridx and a in pl.key_revenue.index]
    if owned:
        rev = pl.key_revenue.loc[[a for a, _ in owned]].to_numpy(dtype=float)
        np.add.at(base, np.array([i for _, i in owned], dtype=np.int64), rev)
    return base, base * pl.sel


def _check_rep_rules(pl: _Plan, run: _Run, eb: np.ndarray, log: _Log) -> None:
    sc = pl.sc
    rules = sc.rules
    n_p = len(pl.products)
    q = run.annual
    total = q.sum(axis=1)
    reps = _where(rep=pl.rep_ids)
    if rules.capacity.enabled:
        log.bound(
            "capacity",
            reps,
            total,
            pl.cap,
            "le",
            what="annual quota",
            against="ramped, prorated capacity",
            cents=n_p,
        )
    if rules.potential.enabled:
        pr = rules.potential
        log.bound(
            "potential_max",
            _rp_where(pl),
            q,
            pr.max_share * eb,
            "le",
            what="quota",
            against=f"{pr.max_share:g} × effective base =",
            cents=1,
        )
        if pr.min_share > 0:
            log.bound(
                "potential_min",
                _rp_where(pl),
                q,
                pr.min_share * eb,
                "ge",
                what="quota",
                against=f"{pr.min_share:g} × effective base =",
                cents=1,
            )
    if rules.growth.enabled:
        g = rules.growth
        has = np.flatnonzero(np.isfinite(pl.history))
        h = pl.history[has] * pl.active[has]
        w = _where(rep=pl.rep_ids[has])
        log.bound(
            "growth_min",
            w,
            total[has],
            (1 + g.min) * h,
            "ge",
            what="annual quota",
            against=f"(1 {g.min:+g}) × prorated history =",
            cents=n_p,
        )
        log.bound(
            "growth_max",
            w,
            total[has],
            (1 + g.max) * h,
            "le",
            what="annual quota",
            against=f"(1 {g.max:+g}) × prorated history =",
            cents=n_p,
        )
    if rules.floors.enabled and rules.floors.by_role:
        role = pl.reps["role"].where(pl.reps["role"] != "", "rep").to_numpy(dtype=object)
        has = np.flatnonzero([r in rules.floors.by_role for r in role])
        floor = np.array([rules.floors.by_role[role[i]] for i in has], dtype=float)
        fte = pl.reps["fte"].to_numpy(dtype=float)[has]
        log.bound(
            "floor",
            _where(rep=pl.rep_ids[has]),
            total[has],
            floor * fte * pl.active[has],
            "ge",
            what="annual quota",
            against="role floor × FTE × share of year =",
            cents=n_p,
        )
    if rules.fairness.enabled and rules.fairness.band is not None:
        _check_fairness(pl, total, eb.sum(axis=1), log)


def _groups(pl: _Plan) -> np.ndarray:
    level = pl.sc.rules.fairness.level
    teams = pl.reps["team_id"].to_numpy(dtype=object)
    if level == "team":
        return teams
    if level == "region":
        return np.where(pl.region == "", teams, pl.region)
    return np.full(len(teams), "company", dtype=object)


def _check_fairness(pl: _Plan, total: np.ndarray, b_r: np.ndarray, log: _Log) -> None:
    band = pl.sc.rules.fairness.band
    assert band is not None
    n_p = len(pl.products)
    frame = pd.DataFrame({"g": _groups(pl), "q": total, "b": b_r})
    frame = frame[frame["b"] > 0]
    agg = frame.groupby("g").agg(q=("q", "sum"), b=("b", "sum"), n=("q", "size"))
    level = frame["g"].map(agg["q"] / agg["b"]).to_numpy(dtype=float)
    share = frame["b"].to_numpy() / frame["g"].map(agg["b"]).to_numpy(dtype=float)
    size = frame["g"].map(agg["n"]).to_numpy(dtype=float)
    idx = frame.index.to_numpy()
    q, b = frame["q"].to_numpy(), frame["b"].to_numpy()
    groups = frame["g"].to_numpy(dtype=object)
    # the level comes from CSV quotas too: its cent error scales with the rep's share of the group
    cents = n_p + (1 + band) * share * size * n_p
    w = _where(rep=pl.rep_ids[idx], group=groups)

    def note(i: int) -> str:
        return (
            f"difficulty {q[i] / b[i]:.6f} vs group level {level[i]:.6f}; effective base {_m(b[i])}"
        )

    log.bound(
        "fairness_low",
        w,
        q,
        (1 - band) * level * b,
        "ge",
        what="annual quota",
        against=f"(1 − {band:g}) × group level × effective base =",
        cents=cents,
        scale=b,
        note=note,
    )
    log.bound(
        "fairness_high",
        w,
        q,
        (1 + band) * level * b,
        "le",
        what="annual quota",
        against=f"(1 + {band:g}) × group level × effective base =",
        cents=cents,
        scale=b,
        note=note,
    )


def _check_phasing(pl: _Plan, run: _Run, log: _Log) -> None:
    sc = pl.sc
    n_r, n_p, n_t = run.period.shape
    rounding = sc.rules.rounding.enabled
    unit = sc.rules.rounding.unit if rounding else 0.0
    raw = pl.avail[:, None, :] * pl.season[None, :, :]  # (R, P, T)
    norm = raw.sum(axis=2, keepdims=True)
    phi = np.divide(raw, norm, out=np.zeros_like(raw), where=norm > 0)
    ideal = phi * run.annual[:, :, None]
    if pl.replan is not None:  # booked periods frozen; the rest re-phased over what remains
        k = pl.replan.as_of
        frozen = pl.replan.period.copy()
        frozen[:, :, k + 1 :] = 0.0
        rest = phi.copy()
        rest[:, :, : k + 1] = 0.0
        rnorm = rest.sum(axis=2, keepdims=True)
        rest = np.divide(rest, rnorm, out=np.zeros_like(rest), where=rnorm > 0)
        remaining = np.maximum(run.annual - frozen.sum(axis=2), 0.0)
        ideal = frozen + rest * remaining[:, :, None]
    # with rounding, a period quota may sit anywhere strictly within one unit of its value
    extra = 0.999999 * unit if rounding else 0.0
    ph = sc.rules.phasing
    w = _rpt_where(pl)
    if ph.enabled and ph.mode == "exact":
        log.bound(
            "phasing",
            w,
            run.period,
            ideal,
            "eq",
            what="period quota",
            against="phasing profile × annual quota =",
            cents=2,
            extra=extra,
        )
    elif ph.enabled:
        log.bound(
            "phasing_low",
            w,
            run.period,
            (1 - ph.band) * ideal,
            "ge",
            what="period quota",
            against=f"(1 − {ph.band:g}) × phasing profile × annual quota =",
            cents=2,
            extra=extra,
        )
        log.bound(
            "phasing_high",
            w,
            run.period,
            (1 + ph.band) * ideal,
            "le",
            what="period quota",
            against=f"(1 + {ph.band:g}) × phasing profile × annual quota =",
            cents=2,
            extra=extra,
        )
        if sc.rules.capacity.enabled:
            log.bound(
                "period_capacity",
                _where(rep=np.repeat(pl.rep_ids, n_t), period=np.tile(pl.periods, n_r)),
                run.period.sum(axis=1),
                pl.cap_t,
                "le",
                what="period quota",
                against="period capacity",
                cents=n_p,
                extra=extra * n_p,
            )


def _check_stability(pl: _Plan, run: _Run, log: _Log) -> None:
    """Re-plan: annual quota ≥ its frozen part; each rep within the stability budget."""
    if pl.replan is None or pl.sc.replan is None:
        return
    k = pl.replan.as_of
    frozen = pl.replan.period[:, :, : k + 1].sum(axis=2)
    log.bound(
        "frozen",
        _rp_where(pl),
        run.annual,
        frozen,
        "ge",
        what="annual quota",
        against="booked (frozen) period quotas",
        cents=k + 2,
    )
    cfg = pl.sc.replan
    if cfg.max_change is None and cfg.max_change_amount is None:
        return
    idx = np.flatnonzero(pl.replan.present)
    pub = pl.replan.annual.sum(axis=1)[idx]
    lim = np.full(len(idx), np.inf)
    if cfg.max_change is not None:
        lim = np.minimum(lim, cfg.max_change * pub)
    if cfg.max_change_amount is not None:
        lim = np.minimum(lim, cfg.max_change_amount)
    tot = run.annual.sum(axis=1)[idx]
    w = _where(rep=pl.rep_ids[idx])
    n_p = len(pl.products)
    log.bound(
        "stability",
        w,
        tot,
        pub + lim,
        "le",
        what="annual quota",
        against="published quota + stability budget",
        cents=2 * n_p,
    )
    log.bound(
        "stability",
        w,
        tot,
        pub - lim,
        "ge",
        what="annual quota",
        against="published quota − stability budget",
        cents=2 * n_p,
    )


def _check_attainability(pl: _Plan, run: _Run, log: _Log) -> None:
    """Rule attainability: each rep with last year's actual within the quantiles of its sales."""
    from statistics import NormalDist

    rule = pl.sc.rules.attainability
    if not rule.enabled:
        return
    reps = pl.reps
    act = reps["ly_actual"].to_numpy(dtype=float)
    lyq = reps["ly_quota"].to_numpy(dtype=float)
    has = np.isfinite(act) & (act > 0)
    if rule.spread is not None:
        sigma = np.full(len(reps), max(rule.spread, rule.min_spread))
    else:
        ok = has & np.isfinite(lyq) & (lyq > 0)
        team = reps["team_id"].astype(str).to_numpy()
        logs: dict[str, list[float]] = {t: [] for t in team}
        for i in np.flatnonzero(ok):
            logs[team[i]].append(float(np.log(act[i] / lyq[i])))
        every = [x for v in logs.values() for x in v]
        company = float(np.std(every, ddof=1)) if len(every) >= 2 else rule.default_spread
        sigma = np.array(
            [float(np.std(logs[t], ddof=1)) if len(logs[t]) >= 2 else company for t in team]
        )
        if pl.attainment_history is not None:  # the rep's own years, shrunk toward the team
            own: dict[str, list[float]] = {}
            for i in np.flatnonzero(ok):
                own.setdefault(str(pl.rep_ids[i]), []).append(float(np.log(act[i] / lyq[i])))
            for r, q, a in zip(
                pl.attainment_history["rep_id"].astype(str),
                pl.attainment_history["quota"].astype(float),
                pl.attainment_history["actual"].astype(float),
                strict=True,
            ):
                if q > 0 and a > 0:
                    own.setdefault(r, []).append(float(np.log(a / q)))
            k = rule.history_weight
            for j, rid in enumerate(pl.rep_ids):
                xs = own.get(str(rid), [])
                if len(xs) >= 2:
                    nu = len(xs) - 1
                    s2 = float(np.var(xs, ddof=1))
                    sigma[j] = float(np.sqrt((nu * s2 + k * sigma[j] ** 2) / (nu + k)))
        sigma = np.maximum(sigma, rule.min_spread)
    median = np.nan_to_num(act) * pl.active * (1 + rule.growth)
    idx = np.flatnonzero(has)
    total = run.annual.sum(axis=1)[idx]
    w = _where(rep=pl.rep_ids[idx])
    n_p = len(pl.products)
    z = NormalDist().inv_cdf(1 - rule.p)
    log.bound(
        "attainability",
        w,
        total,
        median[idx] * np.exp(sigma[idx] * z),
        "le",
        what="annual quota",
        against=f"the sales quantile reached with probability {rule.p:g}",
        cents=n_p,
    )
    if rule.max_p is not None:
        z_hi = NormalDist().inv_cdf(1 - rule.max_p)
        log.bound(
            "attainability",
            w,
            total,
            median[idx] * np.exp(sigma[idx] * z_hi),
            "ge",
            what="annual quota",
            against=f"the sales quantile reached with probability {rule.max_p:g}",
            cents=n_p,
        )


def _check_key_accounts(pl: _Plan, run: _Run, eb_full: np.ndarray, log: _Log) -> None:
    sc = pl.sc
    rule = sc.rules.key_accounts
    df = run.tables["assignments.csv"]
    keys = set(pl.key_ids)
    rep_set = set(pl.rep_ids.tolist())
    # structure: one row per key account, incumbents as in the accounts table, moved flag
    log.count("one_owner", len(pl.key_ids))
    counts = df.groupby("account_id").size()
    for a in pl.key_ids:
        n = int(counts.get(a, 0))
        if n != 1:
            owners = sorted(set(df.loc[df["account_id"] == a, "owner_rep"]))
            log.add(
                "one_owner",
                f"account {a}",
                "missing from assignments.csv"
                if n == 0
                else f"has {n} rows in assignments.csv (owners {', '.join(owners)})",
                abs(n - 1),
            )
    for a in sorted(set(df["account_id"]) - keys):
        log.add("one_owner", f"account {a}", "in assignments.csv but not a key account", 1)
    log.count("incumbent", len(df))
    log.count("moved", len(df))
    for row in df.itertuples(index=False):
        a, inc, own = str(row.account_id), str(row.incumbent_rep), str(row.owner_rep)
        if a in keys and inc != pl.key_incumbent.get(a, ""):
            log.add(
                "incumbent",
                f"account {a}",
                f"incumbent {inc or '(none)'} in assignments.csv, but "
                f"{pl.key_incumbent.get(a) or '(none)'} in the accounts table",
                1,
            )
        moved = str(row.moved).strip().lower() in ("true", "1", "yes")
        inc = pl.key_incumbent.get(a, inc)  # the accounts table decides who the incumbent is
        want = bool(inc) and bool(own) and inc != own
        if moved != want:
            log.add(
                "moved",
                f"account {a}",
                f"moved is {moved} but the owner is {own or '(none)'} and the incumbent "
                f"{inc or '(none)'}",
                1,
            )

    if not rule.enabled:
        log.count("alignment", len(pl.key_ids))
        for a in pl.key_ids:
            own, inc = run.owner.get(a, ""), pl.key_incumbent.get(a, "")
            if a in run.owner and own != inc:
                log.add(
                    "alignment",
                    f"account {a}",
                    f"key_accounts is off, so the account stays with its incumbent "
                    f"{inc or '(none)'}, but the owner is {own or '(none)'}",
                    1,
                )
        return

    # eligibility: candidates table, or the incumbent's team; forbidden pairs removed
    team = dict(zip(pl.reps["rep_id"], pl.reps["team_id"], strict=True))
    ds_cand = pl.candidates
    forbidden = {(p.account, p.rep) for p in rule.forbidden}
    load = {r: 0.0 for r in pl.rep_ids}
    n_acc = {r: 0 for r in pl.rep_ids}
    log.count("eligible", len(pl.key_ids))
    for a in pl.key_ids:
        own = run.owner.get(a, "")
        if a in run.owner and not own:
            log.add("one_owner", f"account {a}", "has no owner in assignments.csv", 1)
        if not own:
            continue
        if ds_cand is not None:
            ok = (a, own) in ds_cand
            why = "not a pair of the candidates table"
            work = ds_cand.get((a, own), 1.0)
        else:
            inc = pl.key_incumbent.get(a, "")
            ok = own in rep_set and bool(inc) and team.get(own) == team.get(inc)
            why = f"not in the team of the incumbent {inc or '(none)'}"
            work = 1.0
        if (a, own) in forbidden:
            ok, why = False, "a forbidden pair"
        if not ok:
            log.add("eligible", f"account {a}", f"owner {own} is {why}", 1)
        if own in load:
            load[own] += work
            n_acc[own] += 1
    log.count("lock", len(rule.locked))
    for p in rule.locked:
        if p.account in keys and run.owner.get(p.account, "") != p.rep:
            now = run.owner.get(p.account) or "(none)"
            log.add(
                "lock", f"account {p.account}", f"locked to rep {p.rep}, but the owner is {now}", 1
            )
    lim_n = _limit(pl.reps["max_accounts"], rule.max_accounts)
    lim_w = _limit(pl.reps["max_workload"], rule.max_workload)
    have_n = np.array([n_acc[r] for r in pl.rep_ids], dtype=float)
    have_w = np.array([load[r] for r in pl.rep_ids], dtype=float)
    for name, have, lim, what in (
        ("max_accounts", have_n, lim_n, "key accounts"),
        ("max_workload", have_w, lim_w, "key-account workload"),
    ):
        sel = np.flatnonzero(np.isfinite(lim))
        log.bound(
            name,
            _where(rep=pl.rep_ids[sel]),
            have[sel],
            lim[sel],
            "le",
            what=what,
            against="the limit",
            cents=0,
        )
    pr = sc.rules.potential
    if pr.enabled and pr.min_share > 0 and sc.rules.capacity.enabled:
        log.bound(
            "ka_capacity",
            _where(rep=pl.rep_ids),
            pr.min_share * eb_full.sum(axis=1),
            pl.cap,
            "le",
            what=f"{pr.min_share:g} × effective base (with key accounts)",
            against="capacity",
            cents=0,
        )


def _limit(col: pd.Series, default: float | None) -> np.ndarray:
    own = col.to_numpy(dtype=float)
    return np.where(np.isnan(own), np.nan if default is None else float(default), own)


def _check_report(pl: _Plan, run: _Run, base: np.ndarray, eb: np.ndarray, log: _Log) -> None:
    """Derived columns the run reports: base, effective base, reference, capacity, totals."""
    df = run.tables["annual.csv"]
    r = _index(df["rep_id"], pl.rep_ids)
    p = _index(df["product"], pl.products)
    ok = np.flatnonzero((r >= 0) & (p >= 0))
    r, p = r[ok], p[ok]
    ref = _reference(pl, eb)
    if pl.replan is not None:  # re-plan: the reference is the published plan
        ref = np.where(pl.replan.present[:, None], pl.replan.annual, ref)
    w = _where(rep=pl.rep_ids[r], product=np.asarray(pl.products, dtype=object)[p])
    for col, mine in (("base", base), ("eff_base", eb), ("reference", ref)):
        log.bound(
            "report",
            w,
            df[col].to_numpy(dtype=float)[ok],
            mine[r, p],
            "eq",
            what=f"annual.csv {col}",
            against="the re-derived value",
        )
    reps = run.tables["reps.csv"]
    ri = _index(reps["rep_id"], pl.rep_ids)
    ok = np.flatnonzero(ri >= 0)
    ri = ri[ok]
    w = _where(rep=pl.rep_ids[ri])
    n_p = len(pl.products)
    for col, mine, cents in (
        ("capacity", pl.cap, 1),
        ("eff_base", eb.sum(axis=1), 1),
        ("quota", run.annual.sum(axis=1), 1 + n_p),
    ):
        log.bound(
            "report",
            w,
            reps[col].to_numpy(dtype=float)[ok],
            mine[ri],
            "eq",
            what=f"reps.csv {col}",
            against="the re-derived value",
            cents=cents,
        )
    asg = run.tables["assignments.csv"]
    ai = asg["account_id"].isin(pl.key_ids).to_numpy()
    rev = pl.key_revenue.sum(axis=1)
    log.bound(
        "report",
        _where(account=asg["account_id"].to_numpy(dtype=object)[ai]),
        asg["revenue"].to_numpy(dtype=float)[ai],
        asg["account_id"][ai].map(rev).to_numpy(dtype=float),
        "eq",
        what="assignments.csv revenue",
        against="the accounts table's revenue",
    )


def _reference(pl: _Plan, eb: np.ndarray) -> np.ndarray:
    """The blended reference split of the objective section, rep by rep."""
    n_p = eb.shape[1]
    ref_pot = np.zeros_like(eb)
    for j in range(n_p):
        col = eb[:, j].sum()
        if col > 0:
            ref_pot[:, j] = pl.target[j] * eb[:, j] / col
    ref_hist = ref_pot.copy()
    hist = np.flatnonzero(np.isfinite(pl.history))
    b_r = eb.sum(axis=1)
    for j in range(n_p):
        mass = ref_pot[hist, j].sum()
        weight = np.array(
            [
                pl.history[i] * pl.active[i] * (eb[i, j] / b_r[i] if b_r[i] > 0 else 1.0 / n_p)
                for i in hist
            ]
        )
        if weight.size and weight.sum() > 0:
            ref_hist[hist, j] = mass * weight / weight.sum()
    ref = pl.sc.objective.reference
    blend = (ref.potential * ref_pot + ref.history * ref_hist) / (ref.potential + ref.history)
    if pl.performance is None:
        return blend
    # performance driver: the blend tilted by each rep's factor, renormalised per product
    perf = np.zeros_like(blend)
    for j in range(n_p):
        tilt = blend[:, j] * pl.performance
        if tilt.sum() > 0:
            perf[:, j] = tilt / tilt.sum() * blend[:, j].sum()
    w = ref.potential + ref.history + ref.performance
    return (ref.potential * ref_pot + ref.history * ref_hist + ref.performance * perf) / w


def _check_inputs(located: list[LocatedInput], log: _Log) -> None:
    for loc in located:
        if loc.expected is None:
            continue
        log.count("inputs", 1)
        if loc.status == "changed":
            what = "table" if loc.name != "published" else "published plan"
            log.add(
                "inputs",
                f"{what} {loc.name} ({loc.label})",
                f"the file changed since the solve ({loc.path}: sha256 {str(loc.actual)[:12]}… "
                f"now, {loc.expected[:12]}… in the manifest); the checks compare with the "
                "current file",
                1,
            )


def verify_run(run_dir: Path, *, tol: float = 1e-6) -> Verification:
    """Re-derive and check every enabled rule of the formulation on a run folder.

    Raises :class:`~allocopt.errors.InputError` (exit 2) when the run folder, one of its files or
    columns, or an input table is missing.
    """
    run_dir = Path(run_dir)
    manifest = _read_manifest(run_dir)
    rf = RunFolder(run_dir, manifest, f"the run folder {run_dir} cannot be verified")
    tables = {name: _read_csv(run_dir, name) for name in RUN_FILES}
    _scenario(manifest, run_dir)
    # inputs located relative to the run folder (then their absolute path), checked by sha256;
    # a changed input is a violation (checked against the current file), a missing one exit 2
    sc, located = rf.data_scenario(strict=False)
    base_dir = run_dir
    log = _Log(tol)
    _check_inputs(located, log)
    pl = _plan(sc, base_dir)
    pl.replan = _published(sc, base_dir, run_dir, pl)
    if pl.replan is not None:  # published owners act as incumbents
        pl.key_incumbent.update(
            {a: o for a, o in pl.replan.owners.items() if a in pl.key_incumbent}
        )
    annual = _complete_annual(pl, tables["annual.csv"], log)
    period = _complete_period(pl, tables["quotas.csv"], log)
    asg = tables["assignments.csv"]
    owner: dict[str, str] = {}
    for a, o in zip(asg["account_id"], asg["owner_rep"], strict=True):
        owner.setdefault(str(a), str(o))
    run = _Run(annual, period, owner, tables)
    base, eb = _effective_base(pl, run)
    _check_totals(pl, run, log)
    _check_rollups(pl, run, log)
    _check_rep_rules(pl, run, eb, log)
    _check_phasing(pl, run, log)
    _check_stability(pl, run, log)
    _check_attainability(pl, run, log)
    _check_key_accounts(pl, run, eb, log)
    _check_report(pl, run, base, eb, log)
    integrity = rf.integrity()
    if rf.sealed:
        log.count("integrity", len((manifest.get("integrity") or {}).get("files") or {}) + 1)
    return Verification(log.frame(), dict(sorted(log.checked.items())), integrity, rf.notes())
