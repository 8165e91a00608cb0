"""Deterministic synthetic sales plans of any size.

`generate_plan` writes a scenario YAML plus its data tables (see ``docs/data.md``) into a
directory. Everything is drawn from one ``numpy.random.default_rng(seed)`` in a fixed order, so
the same arguments give byte-identical files. All per-row work is vectorised with numpy:
20,000 reps (200,000 accounts) generate in a few seconds.

How the numbers hang together (so that the plan is feasible with slack under the default rules):

* every rep has a *territory* (white space, lognormal, larger for seniors, scaled by FTE) split
  over products by a region-specific product mix;
* accounts have a long-tailed revenue (lognormal, sigma 1.75, capped at 3 sigma: the top 20% of
  accounts carry about 80% of the revenue); the top ``key_share`` accounts are key accounts;
* ``potential`` = territory white space + revenue of the rep's non-key accounts (non-key
  accounts are part of the territory); key-account revenue comes on top for the incumbent;
* ``targets.by_product`` = about 0.56-0.64 x (potential + key revenue) per product;
* a rep's *plausible quota* is its proportional share of target x (1 + over_assignment);
  capacity (full FTE, fully ramped) is 1.2-1.6 x that share / FTE (leavers: enough for their
  shortened year), last year's actual is the share / (1 + growth) with growth in [-5%, +30%].
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml

__all__ = ["DEFAULT_PRODUCTS", "generate_plan"]

DEFAULT_PRODUCTS: tuple[str, ...] = ("HW", "SW", "SVC")

#: Scenario rules written into the YAML (the generated data is built to satisfy them).
OVER_ASSIGNMENT = 0.05
RAMP = (0.25, 0.5, 0.75)
FLOORS = {"rep": 100_000, "senior": 200_000}
MAX_ACCOUNTS = 8
MAX_WORKLOAD = 12
MOVE_COST = 0.05

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_PLAIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

_REGION_IDS = ("NORTH", "SOUTH", "WEST")
_TERRITORY_MEDIAN = 1_400_000.0  # white space of a median full-time rep (EUR)
_TERRITORY_SIGMA = 0.45
_SENIOR_TERRITORY = 1.5
_ACCOUNT_REVENUE_RATIO = 0.5  # total account revenue / total white space
_REVENUE_SIGMA = 1.75
_SENIOR_SHARE = 0.15
_BLANK_INCUMBENT_SHARE = 0.02
_KEY_CAP = 4  # key accounts per full-time incumbent (workload <= 3 each: 12)
_KEY_CAP_PART_TIME = 2
_PART_TIME_MAX_ACCOUNTS = 4
_PART_TIME_MAX_WORKLOAD = 6
_BASE_QUARTERS = np.array([0.22, 0.24, 0.23, 0.31])

_FIRST_NAMES = (
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Felix",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katrin",
    "Lukas",
    "Maria",
    "Niklas",
    "Olga",
    "Paul",
    "Quentin",
    "Rosa",
    "Stefan",
    "Tanja",
    "Ulrich",
    "Vera",
    "Walter",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Amir",
    "Birgit",
    "Chiara",
    "Dominik",
    "Emma",
    "Fabian",
    "Hannah",
    "Ivan",
    "Julia",
    "Karim",
    "Laura",
    "Marco",
    "Nina",
    "Oskar",
    "Petra",
    "Rafael",
    "Sofia",
    "Tobias",
    "Lea",
    "Mehmet",
    "Sara",
    "Jan",
    "Eva",
    "Tim",
)
_LAST_NAMES = (
    "Schmidt",
    "Müller",
    "Rossi",
    "Dubois",
    "Novak",
    "Jansen",
    "Berg",
    "Costa",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Keller",
    "Larsen",
    "Martin",
    "Nowak",
    "Olsen",
    "Peters",
    "Quinn",
    "Richter",
    "Silva",
    "Thomas",
    "Urban",
    "Vogel",
    "Wagner",
    "Yilmaz",
    "Zimmermann",
    "Bauer",
    "Conti",
    "Dijkstra",
    "Eriksson",
    "Ferrari",
    "Gruber",
    "Horvat",
    "Lange",
    "Moreau",
    "Nielsen",
    "Ortega",
    "Popescu",
    "Romano",
    "Santos",
    "Kowalski",
    "Lindqvist",
    "Meyer",
    "Weber",
    "Becker",
    "Hoffmann",
    "Schulz",
    "Koch",
    "Wolf",
)
_ACCOUNT_PREFIXES = (
    "Nordic",
    "Alpine",
    "Blue River",
    "Atlas",
    "Baltic",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lakeside",
    "Meridian",
    "Northstar",
    "Orion",
    "Pioneer",
    "Quartz",
    "Redwood",
    "Summit",
    "Tidewater",
    "Union",
    "Vanguard",
    "Westfield",
    "Apex",
    "Brightline",
    "Crescent",
    "Danube",
    "Elbe",
    "Fjord",
    "Helios",
    "Ionic",
    "Lumen",
    "Rhine",
    "Sierra",
    "Tatra",
    "Vistula",
    "Zenith",
)
_ACCOUNT_STEMS = (
    "Logistics",
    "Foods",
    "Engineering",
    "Pharma",
    "Retail",
    "Energy",
    "Textiles",
    "Automotive",
    "Chemicals",
    "Media",
    "Insurance",
    "Bank",
    "Telecom",
    "Healthcare",
    "Construction",
    "Metals",
    "Software",
    "Paper",
    "Plastics",
    "Agro",
    "Shipping",
    "Hotels",
    "Utilities",
    "Electronics",
    "Furniture",
    "Optics",
    "Aerospace",
    "Beverages",
    "Instruments",
    "Services",
)
_ACCOUNT_SUFFIXES = ("GmbH", "AG", "SA", "Ltd", "BV", "SpA", "Oy", "AB", "Group", "Holding")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True)
class _Org:
    region_ids: list[str]
    region_names: list[str]
    team_ids: list[str]
    team_names: list[str]
    team_region: IntArray  # region index per team
    team_size: IntArray
    team_start: IntArray  # index of the team's first rep (reps are contiguous per team)


def generate_plan(
    out_dir: Path,
    *,
    regions: int = 3,
    teams_per_region: int | None = None,
    teams: int | None = None,
    reps_per_team: int = 10,
    reps: int | None = None,
    products: tuple[str, ...] = DEFAULT_PRODUCTS,
    accounts_per_rep: float = 3.0,
    key_share: float = 0.2,
    key_accounts_per_rep: float | None = None,
    candidates_per_key: int = 5,
    granularity: str = "quarter",
    new_hire_share: float = 0.08,
    leaver_share: float = 0.05,
    seed: int = 7,
    name: str = "example",
    with_actuals: bool = True,
    fiscal_year_start: str = "2027-01-01",
    full_year_actuals: bool = False,
) -> Path:
    """Write a synthetic scenario (``scenario.yaml`` + ``data/*.csv``) and return the YAML path.

    Sizes: ``regions`` regions; ``teams`` teams in total (default ``teams_per_region`` x
    ``regions``, or 3-4 per region, i.e. 10 teams for 3 regions); ``reps`` reps in total (default
    ``teams`` x ``reps_per_team``, team sizes vary +-25%); ``accounts_per_rep`` x reps accounts, of
    which ``key_share`` are key. With ``key_accounts_per_rep`` the number of key accounts is
    ``key_accounts_per_rep`` x reps and the number of accounts grows (if needed) so that key
    accounts stay ``key_share`` of all accounts.

    The output is a pure function of the arguments (byte-identical files for the same arguments).
    """
    products = tuple(products)
    _check_args(
        regions=regions,
        teams_per_region=teams_per_region,
        teams=teams,
        reps_per_team=reps_per_team,
        reps=reps,
        products=products,
        accounts_per_rep=accounts_per_rep,
        key_share=key_share,
        key_accounts_per_rep=key_accounts_per_rep,
        candidates_per_key=candidates_per_key,
        granularity=granularity,
        new_hire_share=new_hire_share,
        leaver_share=leaver_share,
        name=name,
    )
    fy_start = np.datetime64(date.fromisoformat(fiscal_year_start).isoformat(), "D")
    n_teams = _team_count(regions, teams_per_region, teams)
    n_reps = reps if reps is not None else n_teams * reps_per_team
    if n_reps < n_teams:
        raise ValueError(f"reps ({n_reps}) must be at least the number of teams ({n_teams})")
    n_prod = len(products)
    rng = np.random.default_rng(seed)

    # ---- organisation ------------------------------------------------------------------------
    org = _make_org(rng, regions, n_teams, n_reps)
    rep_team = np.repeat(np.arange(n_teams, dtype=np.int64), org.team_size)
    rep_region = org.team_region[rep_team]

    # ---- reps: status, role, fte, dates ----------------------------------------------------------
    order = rng.permutation(n_reps)
    n_new = round(new_hire_share * n_reps)
    n_leave = round(leaver_share * n_reps)
    is_new = np.zeros(n_reps, dtype=bool)
    is_new[order[:n_new]] = True
    is_leaver = np.zeros(n_reps, dtype=bool)
    is_leaver[order[n_new : n_new + n_leave]] = True
    senior_p = min(1.0, _SENIOR_SHARE * n_reps / max(1, n_reps - n_new))
    is_senior = (rng.random(n_reps) < senior_p) & ~is_new
    fte_draw = rng.random(n_reps)
    fte = np.where(fte_draw < 0.05, 0.5, np.where(fte_draw < 0.12, 0.8, 1.0))
    fte = np.where(is_new, 1.0, np.where(is_senior, np.maximum(fte, 0.8), fte))
    start_month = rng.integers(1, 6, n_reps)  # months 2..6 of the fiscal year
    start_day = rng.integers(0, 28, n_reps)
    end_month = rng.integers(9, 12, n_reps)  # months 10..12
    end_day = rng.integers(0, 28, n_reps)
    first_name = rng.integers(0, len(_FIRST_NAMES), n_reps)
    last_name = rng.integers(0, len(_LAST_NAMES), n_reps)

    fy_month0 = fy_start.astype("datetime64[M]")
    day_offset = fy_start - fy_month0.astype("datetime64[D]")
    fy_end = (fy_month0 + 12).astype("datetime64[D]") + day_offset
    days_in_year = float((fy_end - fy_start).astype(np.int64))
    start_date = (fy_month0 + start_month).astype("datetime64[D]") + start_day
    end_date = (fy_month0 + end_month).astype("datetime64[D]") + end_day
    first_day = np.where(is_new, start_date, fy_start)
    last_day_excl = np.where(is_leaver, end_date + 1, fy_end)
    availability = (last_day_excl - first_day).astype(np.int64) / days_in_year
    ramp_loss = sum(1.0 - r for r in RAMP) / 12.0
    availability = np.where(is_new, np.maximum(availability - ramp_loss, 0.05), availability)

    # ---- territories and product mix ----------------------------------------------------------
    base_mix = _base_mix(products)
    region_mix = rng.dirichlet(base_mix * 30.0, size=regions)
    rep_mix = region_mix[rep_region] * np.exp(rng.normal(0.0, 0.3, (n_reps, n_prod)))
    rep_mix /= rep_mix.sum(axis=1, keepdims=True)
    territory = _TERRITORY_MEDIAN * np.exp(rng.normal(0.0, _TERRITORY_SIGMA, n_reps))
    territory = np.maximum(territory, 0.45 * _TERRITORY_MEDIAN)
    territory *= np.where(is_senior, _SENIOR_TERRITORY, 1.0) * fte
    white_space = territory[:, None] * rep_mix

    # ---- accounts -------------------------------------------------------------------------------
    n_acc, n_key = _account_counts(n_reps, accounts_per_rep, key_share, key_accounts_per_rep)
    revenue = rng.lognormal(0.0, _REVENUE_SIGMA, n_acc)
    revenue = np.minimum(revenue, math.exp(3.0 * _REVENUE_SIGMA))  # no single giant account
    if n_acc:
        revenue *= _ACCOUNT_REVENUE_RATIO * white_space.sum() / revenue.sum()
    by_revenue = np.argsort(-revenue, kind="stable")
    key_idx = np.sort(by_revenue[:n_key])
    is_key = np.zeros(n_acc, dtype=bool)
    is_key[key_idx] = True
    key_rank = np.empty(n_key, dtype=np.int64)  # 0 = largest key account
    key_rank[np.argsort(np.argsort(-revenue[key_idx], kind="stable"), kind="stable")] = np.arange(
        n_key
    )
    key_workload = np.where(
        key_rank * 3 < n_key, 3, np.where(key_rank * 3 < 2 * n_key, 2, 1)
    ).astype(np.int64)

    incumbent = np.full(n_acc, -1, dtype=np.int64)
    key_count = _key_incumbent_counts(rng, n_key, is_new, is_senior, fte)
    incumbent[key_idx] = rng.permutation(np.repeat(np.arange(n_reps, dtype=np.int64), key_count))
    nonkey_idx = np.flatnonzero(~is_key)
    if nonkey_idx.size:
        spread = np.resize(rng.permutation(n_reps), nonkey_idx.size)
        owners = rng.permutation(spread)
        owners[rng.random(nonkey_idx.size) < _BLANK_INCUMBENT_SHARE] = -1
        incumbent[nonkey_idx] = owners

    # products per account: mostly 1-2, large (key) accounts buy more
    n_bought = 1 + rng.choice(n_prod, size=n_acc, p=_bought_probs(n_prod))
    n_bought = np.minimum(n_bought + (is_key & (rng.random(n_acc) < 0.4)), n_prod)
    acc_mix = np.where(incumbent[:, None] >= 0, region_mix[rep_region[incumbent]], base_mix)
    gumbel = np.log(acc_mix) - np.log(-np.log(rng.random((n_acc, n_prod))))
    prod_rank = np.argsort(np.argsort(-gumbel, axis=1, kind="stable"), axis=1, kind="stable")
    bought = prod_rank < n_bought[:, None]
    split = rng.gamma(2.0, 1.0, (n_acc, n_prod)) * bought
    split /= split.sum(axis=1, keepdims=True)
    acc_row, prod_row = np.nonzero(bought)  # sorted by account, then product order
    row_revenue = np.round(revenue[acc_row] * split[acc_row, prod_row], 2)

    # ---- potential, key revenue, targets, plausible quotas -------------------------------------
    owned = incumbent[acc_row] >= 0
    cell = incumbent[acc_row] * n_prod + prod_row
    nonkey_rows = owned & ~is_key[acc_row]
    key_rows = is_key[acc_row]
    nonkey_rev = np.bincount(cell[nonkey_rows], row_revenue[nonkey_rows], n_reps * n_prod)
    key_rev = np.bincount(cell[key_rows], row_revenue[key_rows], n_reps * n_prod)
    potential = np.round(white_space + nonkey_rev.reshape(n_reps, n_prod), 2)
    key_rev_rp = key_rev.reshape(n_reps, n_prod)
    base = potential + key_rev_rp
    target_factor = rng.uniform(0.56, 0.64, n_prod)
    targets = {
        p: int(np.round(target_factor[j] * base[:, j].sum() / 1000.0)) * 1000
        for j, p in enumerate(products)
    }
    plausible = (1.0 + OVER_ASSIGNMENT) * target_factor * base  # rep x product
    share = plausible.sum(axis=1)

    # ---- capacity and history ------------------------------------------------------------------
    cap_factor = rng.uniform(1.2, 1.6, n_reps)
    # part-year reps: enough capacity for their shortened (ramped) year to carry their history
    # (leavers) or a fair share of their territory (new hires)
    cap_factor = np.where(is_leaver, np.maximum(cap_factor, 1.1 / availability), cap_factor)
    cap_factor = np.where(is_new, np.maximum(cap_factor, 0.8 / availability), cap_factor)
    capacity = np.round(cap_factor * share / fte / 1000.0) * 1000.0
    growth = np.exp(rng.normal(math.log(1.08), 0.06, n_reps))
    attainment = np.clip(rng.normal(0.97, 0.05, n_reps), 0.85, 1.10)
    ratio = np.clip(growth / attainment, 0.95, 1.30)
    ly_actual = np.where(is_new, np.nan, np.round(share / ratio, 2))
    ly_quota = np.where(is_new, np.nan, np.round(share / ratio / attainment / 1000.0) * 1000.0)

    # ---- seasonality ---------------------------------------------------------------------------
    periods, weights = _seasonality(rng, n_prod, granularity)

    # ---- candidates ------------------------------------------------------------------------------
    cand_acc, cand_rep, cand_cost, cand_load = _candidates(
        rng, key_idx, incumbent, revenue, key_workload, rep_team, org, candidates_per_key
    )

    # ---- per-rep key-account limits (part-timers; anyone whose current book is larger) --------
    key_load = np.bincount(incumbent[key_idx], key_workload, n_reps).astype(np.int64)
    part_time = fte < 1.0
    max_acc = np.where(part_time, np.maximum(_PART_TIME_MAX_ACCOUNTS, key_count), -1)
    max_acc = np.where(key_count > MAX_ACCOUNTS, key_count, max_acc)
    max_load = np.where(part_time, np.maximum(_PART_TIME_MAX_WORKLOAD, key_load), -1)
    max_load = np.where(key_load > MAX_WORKLOAD, key_load, max_load)

    # ---- actuals ---------------------------------------------------------------------------------
    noise = np.exp(rng.normal(-0.03, 0.20, (n_reps, n_prod, 3)))

    # ================================ tables ======================================================
    rep_ids = _ids("R", n_reps, 4)
    team_ids = np.array(org.team_ids)
    acc_ids = _ids("A", n_acc, 5)
    prod_arr = np.array(products)

    org_units = pd.DataFrame(
        {
            "unit_id": ["CO", *org.region_ids, *org.team_ids],
            "parent_id": ["", *(["CO"] * regions), *[org.region_ids[r] for r in org.team_region]],
            "name": ["Company", *org.region_names, *org.team_names],
            "level": ["company", *(["region"] * regions), *(["team"] * n_teams)],
        }
    )
    rep_names = np.char.add(
        np.char.add(np.array(_FIRST_NAMES)[first_name], " "), np.array(_LAST_NAMES)[last_name]
    )
    reps_df = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "team_id": team_ids[rep_team],
            "name": rep_names,
            "role": np.where(is_senior, "senior", "rep"),
            "fte": fte,
            "start_date": np.where(is_new, np.datetime_as_string(start_date, unit="D"), ""),
            "end_date": np.where(is_leaver, np.datetime_as_string(end_date, unit="D"), ""),
            "capacity": capacity,
            "ly_quota": ly_quota,
            "ly_actual": ly_actual,
            "max_accounts": pd.array(np.where(max_acc >= 0, max_acc, 0), dtype="Int64"),
            "max_workload": pd.array(np.where(max_load >= 0, max_load, 0), dtype="Int64"),
        }
    )
    reps_df.loc[max_acc < 0, "max_accounts"] = pd.NA
    reps_df.loc[max_load < 0, "max_workload"] = pd.NA

    potential_df = pd.DataFrame(
        {
            "rep_id": np.repeat(rep_ids, n_prod),
            "product": np.tile(prod_arr, n_reps),
            "potential": potential.ravel(),
        }
    )
    acc_names = np.char.add(
        np.char.add(
            np.array(_ACCOUNT_PREFIXES)[rng.integers(0, len(_ACCOUNT_PREFIXES), n_acc)], " "
        ),
        np.char.add(
            np.char.add(np.array(_ACCOUNT_STEMS)[rng.integers(0, len(_ACCOUNT_STEMS), n_acc)], " "),
            np.array(_ACCOUNT_SUFFIXES)[rng.integers(0, len(_ACCOUNT_SUFFIXES), n_acc)],
        ),
    )
    inc_rows = incumbent[acc_row]
    accounts_df = pd.DataFrame(
        {
            "account_id": acc_ids[acc_row],
            "product": prod_arr[prod_row],
            "name": acc_names[acc_row],
            "revenue": row_revenue,
            "key": np.where(is_key[acc_row], "true", "false"),
            "incumbent_rep": np.where(inc_rows >= 0, rep_ids[np.maximum(inc_rows, 0)], ""),
        }
    )
    candidates_df = pd.DataFrame(
        {
            "account_id": acc_ids[cand_acc],
            "rep_id": rep_ids[cand_rep],
            "cost": cand_cost,
            "workload": cand_load,
        }
    )
    seasonality_df = pd.DataFrame(
        {
            "product": np.repeat(prod_arr, len(periods)),
            "period": np.tile(np.array(periods), n_prod),
            "weight": weights.ravel(),
        }
    )

    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {
        "org_units": org_units,
        "reps": reps_df,
        "potential": potential_df,
        "accounts": accounts_df,
        "candidates": candidates_df,
        "seasonality": seasonality_df,
    }
    if with_actuals:
        tables["actuals"] = _actuals(
            rep_ids,
            prod_arr,
            periods,
            weights,
            plausible,
            noise,
            is_new,
            start_month,
            start_day,
            granularity,
        )
    for table, frame in tables.items():
        frame.to_csv(data_dir / f"{table}.csv", index=False, lineterminator="\n")
    if full_year_actuals:  # an extra file, not part of the scenario (allocopt evaluate)
        q1 = _actuals(
            rep_ids,
            prod_arr,
            periods,
            weights,
            plausible,
            noise,
            is_new,
            start_month,
            start_day,
            granularity,
        )
        year = _full_year_actuals(
            np.random.default_rng([seed, 1]),
            q1,
            rep_ids,
            prod_arr,
            periods,
            weights,
            plausible,
            (is_new, start_month, start_day),
            (is_leaver, end_month, end_day),
            granularity,
        )
        year.to_csv(data_dir / "actuals-full-year.csv", index=False, lineterminator="\n")

    description = (
        f"Synthetic FY{int(str(fy_start)[:4])} plan: {regions} regions, {n_teams} teams, "
        f"{n_reps} reps, {n_acc} accounts ({n_key} key), seed {seed}"
    )
    scenario = out_dir / "scenario.yaml"
    scenario.write_text(
        _scenario_yaml(
            name, description, str(fy_start), granularity, list(tables), products, targets
        ),
        encoding="utf-8",
        newline="\n",
    )
    return scenario


# ================================== helpers ===================================================


def _check_args(
    *,
    regions: int,
    teams_per_region: int | None,
    teams: int | None,
    reps_per_team: int,
    reps: int | None,
    products: tuple[str, ...],
    accounts_per_rep: float,
    key_share: float,
    key_accounts_per_rep: float | None,
    candidates_per_key: int,
    granularity: str,
    new_hire_share: float,
    leaver_share: float,
    name: str,
) -> None:
    if regions < 1:
        raise ValueError("regions must be >= 1")
    if teams_per_region is not None and teams_per_region < 1:
        raise ValueError("teams_per_region must be >= 1")
    if teams is not None and teams < regions:
        raise ValueError("teams must be >= regions")
    if reps_per_team < 1 or (reps is not None and reps < 1):
        raise ValueError("reps_per_team and reps must be >= 1")
    if not products or len(set(products)) != len(products) or not all(products):
        raise ValueError("products must be a non-empty tuple of distinct, non-blank names")
    if accounts_per_rep < 0:
        raise ValueError("accounts_per_rep must be >= 0")
    if not 0.0 <= key_share <= 1.0:
        raise ValueError("key_share must be in [0, 1]")
    if key_accounts_per_rep is not None and (key_accounts_per_rep < 0 or key_share <= 0):
        raise ValueError("key_accounts_per_rep needs key_accounts_per_rep >= 0 and key_share > 0")
    if candidates_per_key < 1:
        raise ValueError("candidates_per_key must be >= 1")
    if granularity not in ("quarter", "month"):
        raise ValueError("granularity must be 'quarter' or 'month'")
    if min(new_hire_share, leaver_share) < 0.0 or new_hire_share + leaver_share > 1.0:
        raise ValueError("new_hire_share and leaver_share must be >= 0 and sum to <= 1")
    if not _NAME_RE.match(name):
        raise ValueError(f"name {name!r} must match [A-Za-z0-9_.-]+")


def _team_count(regions: int, teams_per_region: int | None, teams: int | None) -> int:
    if teams is not None:
        return teams
    if teams_per_region is not None:
        return teams_per_region * regions
    return max(regions, (10 * regions + 2) // 3)  # 3-4 per region: 3 regions -> 10 teams


def _ids(prefix: str, n: int, width: int) -> StrArray:
    """``prefix`` + zero-padded 1..n (at least ``width`` digits)."""
    digits = max(width, len(str(n)))
    if n == 0:
        return np.array([], dtype=str)
    numbers = np.arange(1, n + 1).astype(str)
    return np.char.add(prefix, np.char.zfill(numbers, digits))


def _make_org(rng: np.random.Generator, regions: int, n_teams: int, n_reps: int) -> _Org:
    width = max(2, len(str(regions)))
    region_ids = [*_REGION_IDS[:regions]] + [
        f"R{i:0{width}d}" for i in range(len(_REGION_IDS) + 1, regions + 1)
    ]
    region_names = [
        rid.title() if rid in _REGION_IDS else f"Region {rid[1:]}" for rid in region_ids
    ]
    per_region = np.full(regions, n_teams // regions, dtype=np.int64)
    per_region[: n_teams % regions] += 1
    team_region = np.repeat(np.arange(regions, dtype=np.int64), per_region)
    team_ids = list(_ids("T", n_teams, 2))
    team_names: list[str] = []
    for r in range(regions):
        team_names.extend(f"{region_names[r]} Team {k}" for k in range(1, int(per_region[r]) + 1))

    # team sizes vary +-25% around the mean (exact total; every team has at least one rep)
    weights = rng.uniform(0.75, 1.25, n_teams)
    if n_reps < 4 * n_teams:
        weights = np.ones(n_teams)
    raw = 1.0 + weights / weights.sum() * (n_reps - n_teams)
    size = np.floor(raw).astype(np.int64)
    missing = n_reps - int(size.sum())
    size[np.argsort(-(raw - size), kind="stable")[:missing]] += 1
    start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
    return _Org(
        region_ids, region_names, [str(t) for t in team_ids], team_names, team_region, size, start
    )


def _base_mix(products: tuple[str, ...]) -> FloatArray:
    if products == DEFAULT_PRODUCTS:
        return np.array([0.45, 0.35, 0.20])
    mix = 1.0 / np.arange(1, len(products) + 1)
    return mix / mix.sum()


def _bought_probs(n_prod: int) -> FloatArray:
    probs = np.array([0.55, 0.35, 0.10, 0.05, 0.03] + [0.01] * max(0, n_prod - 5))[:n_prod]
    return probs / probs.sum()


def _account_counts(
    n_reps: int, accounts_per_rep: float, key_share: float, key_accounts_per_rep: float | None
) -> tuple[int, int]:
    n_acc = round(accounts_per_rep * n_reps)
    if key_accounts_per_rep is None:
        return n_acc, round(key_share * n_acc)
    n_key = round(key_accounts_per_rep * n_reps)
    return max(n_acc, math.ceil(n_key / key_share - 1e-9)), n_key


def _key_incumbent_counts(
    rng: np.random.Generator,
    n_key: int,
    is_new: BoolArray,
    is_senior: BoolArray,
    fte: FloatArray,
) -> IntArray:
    """Key accounts per rep: seniors hold more, new hires none, at most 4 (part-time 2) each."""
    n_reps = is_new.size
    weight = np.where(is_senior, 2.5, 1.0) * np.where(fte < 1.0, 0.5, 1.0) * ~is_new
    cap = np.where(fte < 1.0, _KEY_CAP_PART_TIME, _KEY_CAP) * ~is_new
    if weight.sum() == 0:  # everybody is new: anyone may hold key accounts
        weight = np.ones(n_reps)
        cap = np.full(n_reps, _KEY_CAP)
    eligible = weight > 0
    if cap.sum() < n_key:  # very many key accounts per rep: raise everybody's cap evenly
        cap = cap + eligible * math.ceil((n_key - cap.sum()) / eligible.sum())
    counts = rng.multinomial(n_key, weight / weight.sum()).astype(np.int64)
    excess = int(np.maximum(counts - cap, 0).sum())
    counts = np.minimum(counts, cap).astype(np.int64)
    spare_slots = np.repeat(np.arange(n_reps), cap - counts)
    counts += np.bincount(rng.choice(spare_slots, size=excess, replace=False), minlength=n_reps)
    return counts


def _candidates(
    rng: np.random.Generator,
    key_idx: IntArray,
    incumbent: IntArray,
    revenue: FloatArray,
    key_workload: IntArray,
    rep_team: IntArray,
    org: _Org,
    per_key: int,
) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Incumbent + (per_key - 1) distinct other reps of its team for every key account."""
    n_key = key_idx.size
    inc = incumbent[key_idx]
    team = rep_team[inc]
    others = org.team_size[team] - 1  # reps of the team other than the incumbent
    k = np.minimum(per_key - 1, others)
    chosen = np.full((n_key, per_key - 1), -1, dtype=np.int64)
    for j in range(per_key - 1):  # Floyd's sampling, vectorised over accounts
        upper = others - k + j
        draw = np.floor(rng.random(n_key) * (upper + 1)).astype(np.int64)
        dup = (chosen[:, :j] == draw[:, None]).any(axis=1)
        chosen[:, j] = np.where(j < k, np.where(dup, upper, draw), -1)
    inc_pos = inc - org.team_start[team]
    other_rep = org.team_start[team][:, None] + chosen + (chosen >= inc_pos[:, None])
    other_rep = np.where(chosen >= 0, other_rep, -1)
    reps_matrix = np.concatenate([inc[:, None], other_rep], axis=1)
    factor = rng.uniform(0.8, 1.25, reps_matrix.shape)
    cost_matrix = np.round(MOVE_COST * revenue[key_idx][:, None] * factor, 2)
    cost_matrix[:, 0] = 0.0
    acc_matrix = np.broadcast_to(key_idx[:, None], reps_matrix.shape)
    load_matrix = np.broadcast_to(key_workload[:, None], reps_matrix.shape)
    valid = reps_matrix >= 0
    acc, rep = acc_matrix[valid], reps_matrix[valid]
    cost, load = cost_matrix[valid], load_matrix[valid]
    sort = np.lexsort((rep, acc))
    return acc[sort], rep[sort], cost[sort], load[sort]


def _seasonality(
    rng: np.random.Generator, n_prod: int, granularity: str
) -> tuple[list[str], FloatArray]:
    quarters = rng.dirichlet(_BASE_QUARTERS * 300.0, size=n_prod)
    if granularity == "quarter":
        periods, raw = [f"Q{q}" for q in range(1, 5)], quarters
    else:
        months = rng.dirichlet(np.array([0.30, 0.32, 0.38]) * 200.0, size=(n_prod, 4))
        periods = [f"M{m:02d}" for m in range(1, 13)]
        raw = (quarters[:, :, None] * months).reshape(n_prod, 12)
    weights = np.round(raw, 4)
    weights[:, -1] = np.round(1.0 - weights[:, :-1].sum(axis=1), 4)
    return periods, weights


def _actuals(
    rep_ids: StrArray,
    prod_arr: StrArray,
    periods: list[str],
    weights: FloatArray,
    plausible: FloatArray,
    noise: FloatArray,
    is_new: BoolArray,
    start_month: IntArray,
    start_day: IntArray,
    granularity: str,
) -> pd.DataFrame:
    """Booked amounts for the first quarter (first three months) per rep x product."""
    # active share of each of the first three months (new hires ramp up)
    ramp = np.array([*RAMP, 1.0])
    month = np.arange(3)[None, :]
    since = month - start_month[:, None]
    first = (28.0 - start_day[:, None]) / 30.0 * RAMP[0]
    active = np.where(since < 0, 0.0, np.where(since == 0, first, ramp[np.clip(since, 0, 3)]))
    active = np.where(is_new[:, None], active, 1.0)  # rep x month
    if granularity == "quarter":
        active = active.mean(axis=1, keepdims=True)  # rep x Q1
    n_per = active.shape[1]
    amount = (
        plausible[:, :, None] * weights[None, :, :n_per] * active[:, None, :] * noise[:, :, :n_per]
    )
    started = np.broadcast_to(active[:, None, :] > 0, amount.shape)
    rep_i, prod_i, per_i = np.nonzero(started)
    return pd.DataFrame(
        {
            "rep_id": rep_ids[rep_i],
            "product": prod_arr[prod_i],
            "period": np.array(periods[:n_per])[per_i],
            "amount": np.round(amount[rep_i, prod_i, per_i], 2),
        }
    )


def _full_year_actuals(
    rng: np.random.Generator,
    q1: pd.DataFrame,
    rep_ids: StrArray,
    prod_arr: StrArray,
    periods: list[str],
    weights: FloatArray,
    plausible: FloatArray,
    joiners: tuple[BoolArray, IntArray, IntArray],
    leavers: tuple[BoolArray, IntArray, IntArray],
    granularity: str,
) -> pd.DataFrame:
    """A whole year of booked amounts: the first quarter exactly as :func:`_actuals`, the rest
    drawn from a separate stream (so the plan's own files do not change): plausible share ×
    seasonality × months worked (ramp, leavers stop at their end date) × a persistent rep
    ability (lognormal σ 0.12) × period noise (lognormal σ 0.08)."""
    is_new, start_month, start_day = joiners
    is_leaver, end_month, end_day = leavers
    n_reps, n_prod = plausible.shape
    ramp = np.array([*RAMP, 1.0])
    month = np.arange(12)[None, :]
    since = month - start_month[:, None]
    first = (28.0 - start_day[:, None]) / 30.0 * RAMP[0]
    active = np.where(since < 0, 0.0, np.where(since == 0, first, ramp[np.clip(since, 0, 3)]))
    active = np.where(is_new[:, None], active, 1.0)
    last = np.where(month == end_month[:, None], (end_day[:, None] + 1) / 30.0, 1.0)
    last = np.where(month > end_month[:, None], 0.0, last)
    active = active * np.where(is_leaver[:, None], last, 1.0)
    if granularity == "quarter":
        active = active.reshape(n_reps, 4, 3).mean(axis=2)
    ability = np.exp(rng.normal(0.0, 0.12, n_reps))
    noise = np.exp(rng.normal(-0.01, 0.08, (n_reps, n_prod, len(periods))))
    amount = (
        plausible[:, :, None]
        * weights[None, :, :]
        * active[:, None, :]
        * ability[:, None, None]
        * noise
    )
    n_q1 = 1 if granularity == "quarter" else 3
    sold = np.broadcast_to(active[:, None, :] > 0, amount.shape).copy()
    sold[:, :, :n_q1] = False
    rep_i, prod_i, per_i = np.nonzero(sold)
    rest = pd.DataFrame(
        {
            "rep_id": rep_ids[rep_i],
            "product": prod_arr[prod_i],
            "period": np.array(periods)[per_i],
            "amount": np.round(amount[rep_i, prod_i, per_i], 2),
        }
    )
    order = {p: i for i, p in enumerate(periods)}
    prod_order = {p: i for i, p in enumerate(prod_arr)}
    out = pd.concat([q1, rest], ignore_index=True)
    out = out.assign(
        _r=out["rep_id"], _p=out["product"].map(prod_order), _t=out["period"].map(order)
    )
    out = out.sort_values(["_r", "_p", "_t"], kind="stable").drop(columns=["_r", "_p", "_t"])
    return out.reset_index(drop=True)


def _yaml_str(value: str) -> str:
    """A YAML scalar that reads back as exactly this string (quoted when it could be misread)."""
    if _PLAIN_RE.match(value):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def _scenario_yaml(
    name: str,
    description: str,
    fiscal_year_start: str,
    granularity: str,
    tables: list[str],
    products: tuple[str, ...],
    targets: dict[str, int],
) -> str:
    data = "\n".join(f"  {t}: data/{t}.csv" for t in tables)
    prods = ", ".join(_yaml_str(p) for p in products)
    by_product = ", ".join(f"{_yaml_str(p)}: {v}" for p, v in targets.items())
    lines: list[Any] = [
        f"name: {_yaml_str(name)}",
        f"description: {_yaml_str(description)}",
        "plan:",
        f"  fiscal_year_start: {fiscal_year_start}",
        f"  granularity: {granularity}",
        "  currency: EUR",
        "data:",
        data,
        f"products: [{prods}]",
        "targets:",
        f"  by_product: {{{by_product}}}",
        f"  over_assignment: {OVER_ASSIGNMENT}",
        "rules:",
        "  capacity:     {enabled: true, ramp: [" + ", ".join(str(r) for r in RAMP) + "]}",
        "  potential:    {enabled: true, max_share: 0.9, min_share: 0.0}",
        "  growth:       {enabled: true, min: -0.15, max: 0.40, basis: actual}",
        "  floors:       {enabled: true, by_role: "
        f"{{rep: {FLOORS['rep']}, senior: {FLOORS['senior']}}}}}",
        f"  key_accounts: {{enabled: true, max_accounts: {MAX_ACCOUNTS}, "
        f"max_workload: {MAX_WORKLOAD}, move_cost: {MOVE_COST},",
        "                 locked: [], forbidden: []}",
        "  fairness:     {enabled: true, level: team, band: 0.35}",
        "  phasing:      {enabled: true, mode: exact, band: 0.10}",
        "  rounding:     {enabled: true, unit: 1000}",
        "objective:",
        "  reference: {potential: 0.6, history: 0.4}",
        "  weights: {deviation: 1.0, fairness: 0.0, disruption: 1.0, tiebreak: 1.0e-4}",
        "solver: {time_limit: 120, mip_gap: 0.01, threads: 1, seed: 0}",
        "output: {directory: runs}",
    ]
    return "\n".join(lines) + "\n"
