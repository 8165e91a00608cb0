"""Turn a validated :class:`Dataset` into frozen, indexed model data (numpy arrays, sorted IDs).

Public entry point: :func:`prepare`. Everything the model rules need is precomputed here, once,
vectorised: rep availability per month (employment × ramp), per-period availability and
capacity, per-rep phasing profiles, the org hierarchy, and the sparse key-account pair set.
Rows are sorted by ID, so the model never depends on the order of input rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocopt.calendar import month_starts, period_of_month
from allocopt.data.attainability import sales_distribution
from allocopt.data.checks import Dataset
from allocopt.data.performance import shrunk_factors
from allocopt.errors import InputError, Problem
from allocopt.scenario.schema import Scenario


@dataclass(frozen=True)
class Pairs:
    """Eligible (key account, rep) pairs, sorted by (account, rep).

    ``acc`` and ``rep`` index :attr:`ModelData.ka_ids` and :attr:`ModelData.rep_ids`;
    ``cost`` is pair cost plus move cost (for non-incumbent pairs); ``locked`` marks locked pairs.
    """

    acc: np.ndarray
    rep: np.ndarray
    pair_cost: np.ndarray
    move_cost: np.ndarray
    workload: np.ndarray
    incumbent: np.ndarray  # bool: rep is the account's incumbent
    locked: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.acc)


@dataclass(frozen=True)
class PublishedPlan:
    """The tables of a published run folder a re-plan starts from, read by the caller (the
    pipeline opens the folder: :func:`allocopt.outputs.runfolder.published_plan`)."""

    folder: Path  # the published run folder (recorded in the re-plan's ReplanData)
    annual: pd.DataFrame  # annual.csv: rep_id, product, quota
    quotas: pd.DataFrame  # quotas.csv: rep_id, product, period, quota
    assignments: pd.DataFrame  # assignments.csv: account_id, owner_rep


@dataclass(frozen=True)
class ReplanData:
    """A published plan to re-plan from: booked periods are frozen at its period quotas."""

    run_dir: Path
    as_of: int  # index of the last frozen period
    published: np.ndarray  # (R, P) published annual quota (0 for reps not in it)
    in_published: np.ndarray  # (R,) the rep is in the published plan
    published_period: np.ndarray  # (R, P, T) published period quotas
    phase_rest: np.ndarray  # (R, P, T) phasing profile over the remaining periods (0 before)
    actuals: np.ndarray  # (R, P, T) booked amounts (0 where none)

    @property
    def frozen(self) -> np.ndarray:
        """(R, P, T) published period quotas of the booked periods, 0 after ``as_of``."""
        out = self.published_period.copy()
        out[:, :, self.as_of + 1 :] = 0.0
        return out

    @property
    def frozen_sum(self) -> np.ndarray:
        return self.published_period[:, :, : self.as_of + 1].sum(axis=2)


@dataclass(frozen=True)
class ModelData:
    """Indexed, immutable model inputs. Arrays are indexed in sorted-ID order."""

    scenario: Scenario
    products: tuple[str, ...]
    periods: tuple[str, ...]
    rep_ids: tuple[str, ...]
    team_of: np.ndarray  # (R,) team ID per rep (object)
    region_of: np.ndarray  # (R,) region ID per rep ("" if none)
    role_of: np.ndarray  # (R,) role per rep
    fte: np.ndarray  # (R,)
    capacity: np.ndarray  # (R,) annual capacity after FTE, ramp and proration
    period_capacity: np.ndarray  # (R, T) capacity per period after FTE, ramp and proration
    active: np.ndarray  # (R,) share of the year employed (0..1), no ramp
    avail: np.ndarray  # (R, T) ramped availability per period (0..1 of a full period)
    history: np.ndarray  # (R,) last year's basis (actual or quota), NaN if none
    potential: np.ndarray  # (R, P) territory potential (key accounts excluded)
    season: np.ndarray  # (P, T) company seasonality
    phase: np.ndarray  # (R, P, T) per-rep phasing profile (sums to 1 over T; 0 row if never active)
    sell_share: np.ndarray  # (R, P) Σ_t season[p,t]·avail[r,t]: share of the year the rep sells
    target: np.ndarray  # (P,) company target × (1 + over-assignment)
    ka_ids: tuple[str, ...]  # key accounts, sorted
    ka_revenue: np.ndarray  # (A, P)
    ka_incumbent: np.ndarray  # (A,) rep index or -1
    pairs: Pairs
    max_accounts: np.ndarray  # (R,) NaN = no limit
    max_workload: np.ndarray  # (R,) NaN = no limit
    units: pd.DataFrame  # unit_id, parent_id, name, level (sorted by unit_id)
    rep_units: pd.DataFrame  # (rep index, unit_id) for every ancestor unit of every rep
    replan: ReplanData | None = None
    performance: np.ndarray | None = None  # (R,) shrunk performance factors (weight > 0 only)
    sales_median: np.ndarray | None = None  # (R,) attainability: median sales (NaN = none)
    sales_sigma: np.ndarray | None = None  # (R,) attainability: log-σ of sales

    @property
    def n_reps(self) -> int:
        return len(self.rep_ids)

    def rep_index(self) -> dict[str, int]:
        return {r: i for i, r in enumerate(self.rep_ids)}


def _days(dates: tuple[dt.date, ...]) -> np.ndarray:
    """Dates as day numbers since the epoch (int64)."""
    return np.array(dates, dtype="datetime64[D]").astype(np.int64)


def monthly_availability(
    start: pd.Series, end: pd.Series, fy0: pd.Timestamp, ramp: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Employment share and ramped availability per fiscal month, shape (R, 12) each.

    Employment share of month m = days employed / days in month (end date inclusive).
    Ramp: in the k-th fiscal month after the fiscal month containing the start date (k = 0 for
    that month) the rep has ``ramp[k]`` of full capacity, and 1 from ``len(ramp)`` months on.
    Reps without a start date are fully ramped.
    """
    bounds = _days(month_starts(fy0.date()))
    ms, me = bounds[None, :-1], bounds[None, 1:]
    big = np.int64(10**9)
    s = start.to_numpy().astype("datetime64[D]")
    e = end.to_numpy().astype("datetime64[D]")
    s_i = np.where(np.isnat(s), -big, s.astype(np.int64))[:, None]
    e_i = np.where(np.isnat(e), big, e.astype(np.int64) + 1)[:, None]  # exclusive
    overlap = np.clip(np.minimum(me, e_i) - np.maximum(ms, s_i), 0, None)
    employed = overlap / (me - ms)
    factor = np.ones_like(employed)
    if ramp:
        # fiscal month of the start date: the k-th fiscal month after it has ramp[k]
        back = 12 * (len(ramp) // 12 + 2)
        g = _days(month_starts(fy0.date(), -back))
        s_day = np.where(np.isnat(s), np.iinfo(np.int64).min, s.astype(np.int64))
        pos = np.searchsorted(g, s_day, side="right") - 1 - back  # fiscal month index, <0 before
        pos = np.where((np.isnat(s)) | (pos < -back), -(10**6), pos)[:, None]
        k = np.arange(12)[None, :] - pos
        rp = np.asarray(ramp, dtype=float)
        factor = np.where((k >= 0) & (k < len(rp)), rp[np.clip(k, 0, len(rp) - 1)], 1.0)
    return employed, employed * factor


def _period_groups(granularity: str) -> np.ndarray:
    """Month → period index (12,)."""
    return np.array(period_of_month(granularity))


def _per_period(monthly: np.ndarray, groups: np.ndarray, n_periods: int) -> np.ndarray:
    out = np.zeros((monthly.shape[0], n_periods))
    for t in range(n_periods):
        out[:, t] = monthly[:, groups == t].mean(axis=1)
    return out


def _hierarchy(units: pd.DataFrame, reps_team: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    parent = dict(zip(units["unit_id"], units["parent_id"], strict=True))
    level = dict(zip(units["unit_id"], units["level"], strict=True))
    chains: dict[str, list[str]] = {}
    for u in parent:
        chain, v = [], u
        while v:
            chain.append(v)
            v = parent.get(v, "")
        chains[u] = chain
    region = np.array(
        [next((u for u in chains[t] if level[u] == "region"), "") for t in reps_team], dtype=object
    )
    rows = [(i, u) for i, t in enumerate(reps_team) for u in chains[t]]
    rep_units = pd.DataFrame(rows, columns=["rep", "unit_id"])
    return region, rep_units


def prepare(ds: Dataset, published: PublishedPlan | None = None) -> ModelData:
    """Freeze and index the validated dataset for the model; a re-plan (``replan:``) needs the
    ``published`` plan's tables."""
    sc = ds.scenario
    products = tuple(sc.products)
    periods = sc.periods
    fy0 = pd.Timestamp(sc.plan.fiscal_year_start)
    reps = ds["reps"].sort_values("rep_id", kind="stable").reset_index(drop=True)
    rep_ids = tuple(reps["rep_id"])
    ridx = {r: i for i, r in enumerate(rep_ids)}
    n_r, n_p, n_t = len(rep_ids), len(products), len(periods)

    employed, ramped = monthly_availability(
        reps["start_date"],
        reps["end_date"],
        fy0,
        tuple(sc.rules.capacity.ramp) if sc.rules.capacity.enabled else (),
    )
    groups = _period_groups(sc.plan.granularity)
    avail = _per_period(ramped, groups, n_t)
    active = employed.mean(axis=1)
    fte = reps["fte"].to_numpy(dtype=float)
    cap_full = reps["capacity"].to_numpy(dtype=float) * fte
    period_len = np.array([(groups == t).sum() / 12 for t in range(n_t)])
    period_capacity = cap_full[:, None] * avail * period_len[None, :]
    capacity = period_capacity.sum(axis=1)

    basis = "ly_actual" if sc.rules.growth.basis == "actual" else "ly_quota"
    history = reps[basis].to_numpy(dtype=float)
    history = np.where(history > 0, history, np.nan)

    pot = np.zeros((n_r, n_p))
    pdf = ds["potential"]
    pi = pdf["rep_id"].map(ridx).to_numpy()
    pj = pdf["product"].map({p: j for j, p in enumerate(products)}).to_numpy()
    np.add.at(pot, (pi, pj), pdf["potential"].to_numpy(dtype=float))

    season = np.zeros((n_p, n_t))
    sdf = ds["seasonality"]
    season[
        sdf["product"].map({p: j for j, p in enumerate(products)}).to_numpy(),
        sdf["period"].map({p: t for t, p in enumerate(periods)}).to_numpy(),
    ] = sdf["weight"].to_numpy(dtype=float)
    raw_phase = season[None, :, :] * avail[:, None, :]
    norm = raw_phase.sum(axis=2, keepdims=True)
    phase = np.divide(raw_phase, norm, out=np.zeros_like(raw_phase), where=norm > 0)

    target = np.array([sc.targets.by_product[p] for p in products]) * (
        1 + sc.targets.over_assignment
    )

    replan_owners: dict[str, str] = {}
    replan = None
    if sc.replan is not None:
        if published is None:
            raise InputError(
                Problem("scenario", "", "replan.published", "the published plan was not given")
            )
        replan, replan_owners = _replan(ds, published, rep_ids, products, periods, phase)
    ka_ids, ka_rev, ka_inc, pairs = _key_accounts(ds, ridx, products, reps, replan_owners)
    teams = reps["team_id"].to_numpy(dtype=object)
    units = ds["org_units"].drop(columns="_row").sort_values("unit_id").reset_index(drop=True)
    region, rep_units = _hierarchy(units, teams)
    sales_median = sales_sigma = None
    if sc.rules.attainability.enabled:
        hist = ds.tables.get("attainment_history")
        sales_median, sales_sigma = sales_distribution(
            sc.rules.attainability, reps, active, history=hist
        )
    return ModelData(
        scenario=sc,
        products=products,
        periods=periods,
        rep_ids=rep_ids,
        team_of=teams,
        region_of=region,
        role_of=np.where(reps["role"] == "", "rep", reps["role"]).astype(object),
        fte=fte,
        capacity=capacity,
        period_capacity=period_capacity,
        active=active,
        avail=avail,
        history=history,
        potential=pot,
        season=season,
        phase=phase,
        sell_share=norm[:, :, 0],
        target=target,
        ka_ids=ka_ids,
        ka_revenue=ka_rev,
        ka_incumbent=ka_inc,
        pairs=pairs,
        max_accounts=_limit(reps, "max_accounts", sc.rules.key_accounts.max_accounts),
        max_workload=_limit(reps, "max_workload", sc.rules.key_accounts.max_workload),
        units=units,
        rep_units=rep_units,
        replan=replan,
        performance=(
            shrunk_factors(
                sc,
                np.asarray(rep_ids, dtype=object),
                history,
                ds["performance"] if ds.has("performance") else None,
            )
            if sc.objective.reference.performance > 0
            else None
        ),
        sales_median=sales_median,
        sales_sigma=sales_sigma,
    )


def _limit(reps: pd.DataFrame, col: str, default: float | None) -> np.ndarray:
    own = reps[col].to_numpy(dtype=float)
    return np.where(np.isnan(own), np.nan if default is None else float(default), own)


def _key_accounts(
    ds: Dataset,
    ridx: dict[str, int],
    products: tuple[str, ...],
    reps: pd.DataFrame,
    owners: dict[str, str] | None = None,
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, Pairs]:
    sc = ds.scenario
    rule = sc.rules.key_accounts
    acc = ds["accounts"]
    key = acc.loc[
        acc["key"].eq(True).to_numpy(dtype=bool),
        ["account_id", "product", "revenue", "incumbent_rep"],
    ]
    ka_ids = tuple(sorted(set(key["account_id"])))
    aidx = {a: i for i, a in enumerate(ka_ids)}
    rev = np.zeros((len(ka_ids), len(products)))
    key_acc = _codes(key["account_id"], ka_ids)
    np.add.at(
        rev,
        (key_acc, _codes(key["product"], products)),
        key["revenue"].to_numpy(dtype=float),
    )
    # the incumbent on each account's first row (its rows agree: checked), a re-plan's owner first
    _, first = np.unique(key_acc, return_index=True)
    inc = _codes(key["incumbent_rep"].iloc[first], tuple(ridx))
    for a, r in (owners or {}).items():
        if a in aidx and r in ridx:
            inc[aidx[a]] = ridx[r]

    if ds.has("candidates"):
        c = ds["candidates"]
        pa = _codes(c["account_id"], ka_ids)
        pr = _codes(c["rep_id"], tuple(ridx))
        cost = np.nan_to_num(c["cost"].to_numpy(dtype=float), nan=0.0)
        work = np.nan_to_num(c["workload"].to_numpy(dtype=float), nan=1.0)
    else:  # default: every rep of the incumbent's team
        team_members = pd.DataFrame({"team_id": reps["team_id"], "rep": np.arange(len(reps))})
        inc_team = pd.DataFrame({"acc": np.arange(len(ka_ids)), "inc": inc})
        inc_team = inc_team[inc_team["inc"] >= 0]
        inc_team["team_id"] = reps["team_id"].to_numpy()[inc_team["inc"].to_numpy()]
        m = inc_team.merge(team_members, on="team_id", sort=False)
        pa = m["acc"].to_numpy(dtype=np.int64)
        pr = m["rep"].to_numpy(dtype=np.int64)
        cost = np.zeros(len(pa))
        work = np.ones(len(pa))
    forb = {
        (aidx[p.account], ridx[p.rep])
        for p in rule.forbidden
        if p.account in aidx and p.rep in ridx
    }
    lock = {
        (aidx[p.account], ridx[p.rep]) for p in rule.locked if p.account in aidx and p.rep in ridx
    }
    keep = ~_pair_in(pa, pr, forb, len(ridx))
    order = np.lexsort((pr[keep], pa[keep]))
    pa, pr, cost, work = pa[keep][order], pr[keep][order], cost[keep][order], work[keep][order]
    is_inc = inc[pa] == pr
    has_inc = inc[pa] >= 0
    move = np.where(has_inc & ~is_inc, rule.move_cost * rev.sum(axis=1)[pa], 0.0)
    locked = _pair_in(pa, pr, lock, len(ridx))
    return ka_ids, rev, inc, Pairs(pa, pr, cost, move, work, is_inc, locked)


def _codes(values: pd.Series, ids: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``ids`` (all known: the data checks ran), hashing in one pass
    over object arrays (``Series.map(dict)`` goes through pandas' arrow strings)."""
    index = pd.Index(np.array(ids, dtype=object), dtype=object)
    return index.get_indexer(values.to_numpy(dtype=object)).astype(np.int64)


def _pair_in(
    pa: np.ndarray, pr: np.ndarray, pairs: set[tuple[int, int]], n_reps: int
) -> np.ndarray:
    """Whether each (account, rep) index pair is in ``pairs``: one ``isin`` over a*n_reps + r."""
    if not pairs:
        return np.zeros(len(pa), dtype=bool)
    want = np.array([a * n_reps + r for a, r in sorted(pairs)], dtype=np.int64)
    return np.isin(pa.astype(np.int64) * n_reps + pr.astype(np.int64), want)


def _replan(
    ds: Dataset,
    pub: PublishedPlan,
    rep_ids: tuple[str, ...],
    products: tuple[str, ...],
    periods: tuple[str, ...],
    phase: np.ndarray,
) -> tuple[ReplanData, dict[str, str]]:
    """Freeze the published plan's periods up to ``as_of``."""
    rp = ds.scenario.replan
    assert rp is not None
    run_dir = pub.folder
    label = "scenario"

    def fail(msg: str, field_: str = "replan.published") -> InputError:
        return InputError(Problem(label, "", field_, msg))

    annual, quotas, asg = pub.annual, pub.quotas, pub.assignments
    tidx = {t: k for k, t in enumerate(periods)}
    bad = sorted(set(quotas["period"]) - set(tidx))
    if bad:
        raise fail(
            f"the published plan has periods {', '.join(bad)} but this plan has "
            f"{', '.join(periods)}; re-plan with the same granularity"
        )
    if rp.as_of is not None:
        if rp.as_of not in tidx:
            raise fail(
                f"unknown period {rp.as_of!r}; use one of {', '.join(periods)}", "replan.as_of"
            )
        as_of = tidx[rp.as_of]
    elif ds.has("actuals") and len(ds["actuals"]):
        as_of = max(tidx[t] for t in ds["actuals"]["period"])
    else:
        raise fail("give replan.as_of (the last booked period) or an actuals table", "replan.as_of")
    ridx = {r: i for i, r in enumerate(rep_ids)}
    pidx = {p: j for j, p in enumerate(products)}
    n_r, n_p, n_t = len(rep_ids), len(products), len(periods)
    published = np.zeros((n_r, n_p))
    a_ok = annual["rep_id"].isin(ridx) & annual["product"].isin(pidx)
    published[
        annual.loc[a_ok, "rep_id"].map(ridx).to_numpy(dtype=np.int64),
        annual.loc[a_ok, "product"].map(pidx).to_numpy(dtype=np.int64),
    ] = annual.loc[a_ok, "quota"].to_numpy(dtype=float)
    in_pub = np.isin(np.asarray(rep_ids, dtype=object), annual["rep_id"].unique())
    pub_period = np.zeros((n_r, n_p, n_t))
    q_ok = quotas["rep_id"].isin(ridx) & quotas["product"].isin(pidx)
    q = quotas[q_ok]
    pub_period[
        q["rep_id"].map(ridx).to_numpy(dtype=np.int64),
        q["product"].map(pidx).to_numpy(dtype=np.int64),
        q["period"].map(tidx).to_numpy(dtype=np.int64),
    ] = q["quota"].to_numpy(dtype=float)
    rest = phase.copy()
    rest[:, :, : as_of + 1] = 0.0
    norm = rest.sum(axis=2, keepdims=True)
    phase_rest = np.divide(rest, norm, out=np.zeros_like(rest), where=norm > 0)
    actuals = np.zeros((n_r, n_p, n_t))
    if ds.has("actuals"):
        act = ds["actuals"]
        ok = act["rep_id"].isin(ridx) & act["product"].isin(pidx) & act["period"].isin(tidx)
        np.add.at(
            actuals,
            (
                act.loc[ok, "rep_id"].map(ridx).to_numpy(dtype=np.int64),
                act.loc[ok, "product"].map(pidx).to_numpy(dtype=np.int64),
                act.loc[ok, "period"].map(tidx).to_numpy(dtype=np.int64),
            ),
            act.loc[ok, "amount"].to_numpy(dtype=float),
        )
    owners = {a: r for a, r in zip(asg["account_id"], asg["owner_rep"], strict=True) if r}
    data = ReplanData(run_dir, as_of, published, in_pub, pub_period, phase_rest, actuals)
    return data, owners
