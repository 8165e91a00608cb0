"""Deterministic synthetic sales plans of any size.

`generate_plan` writes a scenario YAML plus its data tables (see ``docs/data.md``) into a
directory. Everything is drawn from one ``numpy.random.default_rng(seed)`` in a fixed order, so
the same arguments give byte-identical files. All per-row work is vectorised with numpy:
20,000 reps (200,000 accounts) generate in a few seconds.

:func:`generate_plan` runs the steps in this order (the order of the draws, so it is part of the
output): organisation and reps (:mod:`.org`), territories and accounts (:mod:`.accounts`),
potential, targets, capacity and history (:mod:`.targets`), seasonality, key-account candidates,
actuals (:mod:`.actuals`), names (:mod:`.names`); then the tables and ``scenario.yaml``
(:mod:`.scenario_yaml`).

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

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from allocopt.examples.accounts import (
    _account_counts,
    _AccountRows,
    _Accounts,
    _candidates,
    _draw_account_products,
    _draw_accounts,
    _draw_territories,
    _key_limits,
)
from allocopt.examples.actuals import _actuals, _actuals_noise, _full_year_actuals, _seasonality
from allocopt.examples.common import DEFAULT_PRODUCTS, FloatArray, IntArray, StrArray, _ids
from allocopt.examples.names import _account_names, _rep_names
from allocopt.examples.org import _draw_reps, _make_org, _Org, _Reps, _team_count
from allocopt.examples.scenario_yaml import _scenario_yaml
from allocopt.examples.targets import (
    _attainment_history,
    _capacity_and_history,
    _History,
    _potential_and_targets,
)

__all__ = ["DEFAULT_PRODUCTS", "generate_plan"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


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
    attainment_history: bool = False,
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
    n_acc, n_key = _account_counts(n_reps, accounts_per_rep, key_share, key_accounts_per_rep)
    rng = np.random.default_rng(seed)

    # the steps, in the order of their draws from ``rng``
    org = _make_org(rng, regions, n_teams, n_reps)
    people = _draw_reps(rng, org, n_reps, new_hire_share, leaver_share, fy_start)
    terr = _draw_territories(rng, products, regions, people)
    acc = _draw_accounts(rng, n_acc, n_key, terr, people)
    rows = _draw_account_products(rng, acc, terr, people)
    tgt = _potential_and_targets(rng, products, terr, acc, rows)
    hist = _capacity_and_history(rng, tgt.plausible.sum(axis=1), people)
    periods, weights = _seasonality(rng, len(products), granularity)
    cands = _candidates(
        rng,
        acc.key_idx,
        acc.incumbent,
        acc.revenue,
        acc.key_workload,
        people.team,
        org,
        candidates_per_key,
    )
    noise = _actuals_noise(rng, n_reps, len(products))
    acc_names = _account_names(rng, n_acc)

    rep_ids = _ids("R", n_reps, 4)
    acc_ids = _ids("A", n_acc, 5)
    prod_arr = np.array(products)
    tables = {
        "org_units": _org_units_table(org),
        "reps": _reps_table(org, people, hist, *_key_limits(acc, people), rep_ids),
        "potential": _potential_table(tgt.potential, rep_ids, prod_arr),
        "accounts": _accounts_table(acc, rows, acc_names, acc_ids, rep_ids, prod_arr),
        "candidates": _candidates_table(*cands, acc_ids, rep_ids),
        "seasonality": _seasonality_table(periods, weights, prod_arr),
    }
    q1 = (people, rep_ids, prod_arr, periods, weights, tgt.plausible, noise, granularity)
    if with_actuals:
        tables["actuals"] = _actuals(*q1)

    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for table, frame in tables.items():
        frame.to_csv(data_dir / f"{table}.csv", index=False, lineterminator="\n")
    if full_year_actuals:  # an extra file, not part of the scenario (allocopt evaluate)
        year = _full_year_actuals(
            np.random.default_rng([seed, 1]),
            _actuals(*q1),
            people,
            rep_ids,
            prod_arr,
            periods,
            weights,
            tgt.plausible,
            granularity,
        )
        year.to_csv(data_dir / "actuals-full-year.csv", index=False, lineterminator="\n")
    if attainment_history:  # an extra file, not part of the scenario (attainable.yaml uses it)
        past = _attainment_history(
            np.random.default_rng([seed, 2]), rep_ids, hist, int(str(fy_start)[:4])
        )
        past.to_csv(data_dir / "attainment_history.csv", index=False, lineterminator="\n")

    description = (
        f"Synthetic FY{int(str(fy_start)[:4])} plan: {regions} regions, {n_teams} teams, "
        f"{n_reps} reps, {n_acc} accounts ({n_key} key), seed {seed}"
    )
    scenario = out_dir / "scenario.yaml"
    scenario.write_text(
        _scenario_yaml(
            name, description, str(fy_start), granularity, list(tables), products, tgt.targets
        ),
        encoding="utf-8",
        newline="\n",
    )
    return scenario


# ================================== tables ====================================================


def _org_units_table(org: _Org) -> pd.DataFrame:
    regions, n_teams = len(org.region_ids), len(org.team_ids)
    return pd.DataFrame(
        {
            "unit_id": ["CO", *org.region_ids, *org.team_ids],
            "parent_id": ["", *(["CO"] * regions), *[org.region_ids[r] for r in org.team_region]],
            "name": ["Company", *org.region_names, *org.team_names],
            "level": ["company", *(["region"] * regions), *(["team"] * n_teams)],
        }
    )


def _reps_table(
    org: _Org,
    people: _Reps,
    hist: _History,
    max_acc: IntArray,
    max_load: IntArray,
    rep_ids: StrArray,
) -> pd.DataFrame:
    team_ids = np.array(org.team_ids)
    reps_df = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "team_id": team_ids[people.team],
            "name": _rep_names(people.first_name, people.last_name),
            "role": np.where(people.is_senior, "senior", "rep"),
            "fte": people.fte,
            "start_date": np.where(
                people.is_new, np.datetime_as_string(people.start_date, unit="D"), ""
            ),
            "end_date": np.where(
                people.is_leaver, np.datetime_as_string(people.end_date, unit="D"), ""
            ),
            "capacity": hist.capacity,
            "ly_quota": hist.ly_quota,
            "ly_actual": hist.ly_actual,
            "max_accounts": pd.array(np.where(max_acc >= 0, max_acc, 0), dtype="Int64"),
            "max_workload": pd.array(np.where(max_load >= 0, max_load, 0), dtype="Int64"),
        }
    )
    reps_df.loc[max_acc < 0, "max_accounts"] = pd.NA
    reps_df.loc[max_load < 0, "max_workload"] = pd.NA
    return reps_df


def _potential_table(potential: FloatArray, rep_ids: StrArray, prod_arr: StrArray) -> pd.DataFrame:
    n_reps, n_prod = potential.shape
    return pd.DataFrame(
        {
            "rep_id": np.repeat(rep_ids, n_prod),
            "product": np.tile(prod_arr, n_reps),
            "potential": potential.ravel(),
        }
    )


def _accounts_table(
    acc: _Accounts,
    rows: _AccountRows,
    names: StrArray,
    acc_ids: StrArray,
    rep_ids: StrArray,
    prod_arr: StrArray,
) -> pd.DataFrame:
    inc_rows = acc.incumbent[rows.account]
    return pd.DataFrame(
        {
            "account_id": acc_ids[rows.account],
            "product": prod_arr[rows.product],
            "name": names[rows.account],
            "revenue": rows.revenue,
            "key": np.where(acc.is_key[rows.account], "true", "false"),
            "incumbent_rep": np.where(inc_rows >= 0, rep_ids[np.maximum(inc_rows, 0)], ""),
        }
    )


def _candidates_table(
    account: IntArray,
    rep: IntArray,
    cost: FloatArray,
    workload: IntArray,
    acc_ids: StrArray,
    rep_ids: StrArray,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": acc_ids[account],
            "rep_id": rep_ids[rep],
            "cost": cost,
            "workload": workload,
        }
    )


def _seasonality_table(periods: list[str], weights: FloatArray, prod_arr: StrArray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product": np.repeat(prod_arr, len(periods)),
            "period": np.tile(np.array(periods), prod_arr.size),
            "weight": weights.ravel(),
        }
    )


# ================================== arguments =================================================


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
