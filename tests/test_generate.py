"""Tests for the synthetic plan generator (`allocopt.examples.generate`)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from scipy.optimize import linprog

from allocopt.examples.generate import generate_plan

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("org_units", "reps", "potential", "accounts", "candidates", "seasonality", "actuals")


def _read(scenario: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(scenario.parent / "data" / f"{table}.csv", dtype=str, keep_default_na=False)


def _num(col: pd.Series) -> pd.Series:
    return pd.to_numeric(col.replace("", np.nan))


def _files(directory: Path) -> dict[str, bytes]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return {str(p.relative_to(directory)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def default_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_plan(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def tables(default_plan: Path) -> dict[str, pd.DataFrame]:
    return {t: _read(default_plan, t) for t in TABLES}


@pytest.fixture(scope="module")
def config(default_plan: Path) -> dict:
    return yaml.safe_load(default_plan.read_text(encoding="utf-8"))


# ---- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path, default_plan: Path) -> None:
    again = generate_plan(tmp_path / "again")
    assert again.name == "scenario.yaml"
    first, second = _files(default_plan.parent), _files(again.parent)
    assert sorted(first) == ["data/" + t + ".csv" for t in sorted(TABLES)] + ["scenario.yaml"]
    assert first == second


def test_same_seed_identical_for_monthly_and_custom_sizes(tmp_path: Path) -> None:
    args = dict(regions=4, teams_per_region=2, reps_per_team=6, granularity="month", seed=3)
    a = generate_plan(tmp_path / "a", **args)  # type: ignore[arg-type]
    b = generate_plan(tmp_path / "b", **args)  # type: ignore[arg-type]
    assert _files(a.parent) == _files(b.parent)


def test_different_seed_gives_different_data(tmp_path: Path, default_plan: Path) -> None:
    other = generate_plan(tmp_path / "other", seed=8)
    first, second = _files(default_plan.parent), _files(other.parent)
    for table in ("reps", "potential", "accounts", "candidates", "actuals"):
        assert first[f"data/{table}.csv"] != second[f"data/{table}.csv"], table


# ---- sizes ---------------------------------------------------------------------------------------


def test_default_sizes(tables: dict[str, pd.DataFrame], config: dict) -> None:
    org = tables["org_units"]
    assert org.level.value_counts().to_dict() == {"company": 1, "region": 3, "team": 10}
    assert len(tables["reps"]) == 100
    assert len(tables["potential"]) == 100 * 3
    accounts = tables["accounts"]
    assert accounts.account_id.nunique() == 300
    assert accounts[accounts.key == "true"].account_id.nunique() == 60
    assert len(tables["seasonality"]) == 3 * 4
    assert config["products"] == ["HW", "SW", "SVC"]


@pytest.mark.parametrize(
    ("kwargs", "n_teams", "n_reps", "n_accounts", "n_key"),
    [
        (dict(regions=2, teams_per_region=3, reps_per_team=7), 6, 42, 126, 25),
        (dict(regions=4, teams=9, reps=123, accounts_per_rep=2.5, key_share=0.1), 9, 123, 308, 31),
        (dict(regions=3, teams=5, reps_per_team=20, key_accounts_per_rep=2.0), 5, 100, 1000, 200),
    ],
)
def test_requested_sizes(
    tmp_path: Path, kwargs: dict, n_teams: int, n_reps: int, n_accounts: int, n_key: int
) -> None:
    scenario = generate_plan(tmp_path, **kwargs)
    org = _read(scenario, "org_units")
    assert (org.level == "region").sum() == kwargs["regions"]
    assert (org.level == "team").sum() == n_teams
    reps = _read(scenario, "reps")
    assert len(reps) == n_reps
    assert reps.team_id.nunique() == n_teams  # every team has reps
    assert len(_read(scenario, "potential")) == n_reps * 3
    accounts = _read(scenario, "accounts")
    assert accounts.account_id.nunique() == n_accounts
    assert accounts[accounts.key == "true"].account_id.nunique() == n_key
    candidates = _read(scenario, "candidates")
    assert candidates.account_id.nunique() == n_key
    assert candidates.groupby("account_id").size().max() <= 5


def test_candidates_per_key_and_small_teams(tmp_path: Path) -> None:
    scenario = generate_plan(tmp_path, regions=2, teams=4, reps=12, candidates_per_key=10)
    reps = _read(scenario, "reps").set_index("rep_id")
    cands = _read(scenario, "candidates")
    team_size = reps.team_id.value_counts()
    per_key = cands.groupby("account_id").agg(n=("rep_id", "size"), rep=("rep_id", "first"))
    per_key["team"] = reps.team_id.reindex(per_key.rep).to_numpy()
    # the whole team (fewer than 10 reps) is eligible
    assert (per_key.n == team_size.reindex(per_key.team).to_numpy()).all()


def test_month_granularity(tmp_path: Path) -> None:
    scenario = generate_plan(tmp_path, granularity="month")
    config = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    assert config["plan"]["granularity"] == "month"
    seas = _read(scenario, "seasonality")
    assert seas.groupby("product").period.apply(list).map(tuple).unique().tolist() == [
        tuple(f"M{m:02d}" for m in range(1, 13))
    ]
    assert set(_read(scenario, "actuals").period) == {"M01", "M02", "M03"}


def test_without_actuals(tmp_path: Path) -> None:
    scenario = generate_plan(tmp_path, with_actuals=False)
    config = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    assert "actuals" not in config["data"]
    assert not (tmp_path / "data" / "actuals.csv").exists()


# ---- referential integrity ---------------------------------------------------------------------


def test_org_tree(tables: dict[str, pd.DataFrame]) -> None:
    org = tables["org_units"]
    assert org.unit_id.is_unique
    roots = org[org.parent_id == ""]
    assert roots.unit_id.tolist() == ["CO"]
    assert roots.level.tolist() == ["company"]
    parent_level = org.set_index("unit_id").level
    regions = org[org.level == "region"]
    teams = org[org.level == "team"]
    assert regions.unit_id.tolist() == ["NORTH", "SOUTH", "WEST"]
    assert (regions.parent_id == "CO").all()
    assert (parent_level.reindex(teams.parent_id).to_numpy() == "region").all()
    assert teams.unit_id.tolist() == [f"T{i:02d}" for i in range(1, 11)]
    assert (org.name != "").all()
    assert teams.groupby("parent_id").size().isin([3, 4]).all()


def test_more_regions_get_generated_ids(tmp_path: Path) -> None:
    scenario = generate_plan(tmp_path, regions=5, teams_per_region=1, reps_per_team=3)
    org = _read(scenario, "org_units")
    assert org[org.level == "region"].unit_id.tolist() == ["NORTH", "SOUTH", "WEST", "R04", "R05"]


def test_references_are_consistent(tables: dict[str, pd.DataFrame], config: dict) -> None:
    org, reps = tables["org_units"], tables["reps"]
    accounts, cands = tables["accounts"], tables["candidates"]
    products = set(config["products"])
    teams = set(org[org.level == "team"].unit_id)
    assert reps.rep_id.is_unique
    assert set(reps.team_id) <= teams
    rep_ids = set(reps.rep_id)
    for table in ("potential", "actuals"):
        assert set(tables[table].rep_id) <= rep_ids
        assert set(tables[table]["product"]) <= products
    assert not tables["potential"].duplicated(["rep_id", "product"]).any()
    assert not tables["actuals"].duplicated(["rep_id", "product", "period"]).any()
    assert not accounts.duplicated(["account_id", "product"]).any()
    assert set(accounts["product"]) <= products
    assert set(accounts.incumbent_rep) - {""} <= rep_ids
    # key flag and incumbent agree across an account's rows; key accounts always have an owner
    per_account = accounts.groupby("account_id").agg(
        key=("key", "nunique"), inc=("incumbent_rep", "nunique")
    )
    assert (per_account.key == 1).all() and (per_account.inc == 1).all()
    key = accounts[accounts.key == "true"].drop_duplicates("account_id").set_index("account_id")
    assert (key.incumbent_rep != "").all()
    # candidates: only key accounts, existing reps, incumbent included, all of one team
    assert set(cands.account_id) == set(key.index)
    assert set(cands.rep_id) <= rep_ids
    assert not cands.duplicated(["account_id", "rep_id"]).any()
    team_of = reps.set_index("rep_id").team_id
    cands = cands.assign(team=team_of.reindex(cands.rep_id).to_numpy())
    assert (cands.groupby("account_id").team.nunique() == 1).all()
    inc = cands.account_id.map(key.incumbent_rep)
    is_inc = cands.rep_id == inc
    assert is_inc.groupby(cands.account_id).sum().eq(1).all()
    assert (cands.groupby("account_id").size() == 5).all()
    cost, load = _num(cands.cost), _num(cands.workload)
    assert (cost[is_inc] == 0).all() and (cost[~is_inc] > 0).all()
    assert load.between(1, 3).all()


def test_rows_sorted_by_id(tables: dict[str, pd.DataFrame], config: dict) -> None:
    order = {p: i for i, p in enumerate(config["products"])}
    assert tables["reps"].rep_id.is_monotonic_increasing
    for table, keys in (
        ("potential", ["rep_id"]),
        ("accounts", ["account_id"]),
        ("candidates", ["account_id", "rep_id"]),
        ("actuals", ["rep_id", "period"]),
    ):
        frame = tables[table]
        if "product" in frame:
            frame = frame.assign(p=frame["product"].map(order))
            keys = [keys[0], "p", *keys[1:]]
        assert frame.equals(frame.sort_values(keys, kind="stable")), table


# ---- values ------------------------------------------------------------------------------------


def test_ids_keep_leading_zeros(tables: dict[str, pd.DataFrame], default_plan: Path) -> None:
    reps, accounts = tables["reps"], tables["accounts"]
    assert reps.rep_id.iloc[0] == "R0001"
    assert reps.rep_id.str.fullmatch(r"R\d{4}").all()
    assert accounts.account_id.iloc[0] == "A00001"
    assert accounts.account_id.str.fullmatch(r"A\d{5}").all()
    text = (default_plan.parent / "data" / "reps.csv").read_text(encoding="utf-8")
    assert "\r" not in text and text.splitlines()[1].startswith("R0001,T01,")


def test_seasonality_sums_to_exactly_one(tables: dict[str, pd.DataFrame]) -> None:
    seas = tables["seasonality"]
    for product, rows in seas.groupby("product"):
        assert rows.period.tolist() == ["Q1", "Q2", "Q3", "Q4"], product
        assert sum(Decimal(w) for w in rows.weight) == Decimal(1), product
        assert all(len(w.split(".")[-1]) <= 4 for w in rows.weight)
        assert (_num(rows.weight) > 0.1).all()


def test_revenue_is_80_20(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    def top20(accounts: pd.DataFrame) -> float:
        total = _num(accounts.revenue).groupby(accounts.account_id).sum()
        total = total.sort_values(ascending=False)
        return float(total.iloc[: round(0.2 * len(total))].sum() / total.sum())

    assert 0.70 <= top20(tables["accounts"]) <= 0.90
    bigger = _read(generate_plan(tmp_path, teams=20, reps=1000, seed=11), "accounts")
    assert 0.75 <= top20(bigger) <= 0.85
    # the key accounts are the largest ones
    accounts = tables["accounts"]
    total = _num(accounts.revenue).groupby(accounts.account_id).sum()
    key = accounts.groupby("account_id").key.first() == "true"
    assert total[key].min() >= total[~key].max()
    sizes = accounts.groupby("account_id").size()
    assert (sizes <= 2).mean() >= 0.8


def test_reps_are_realistic(tables: dict[str, pd.DataFrame], config: dict) -> None:
    reps = tables["reps"]
    assert set(reps.role) == {"rep", "senior"}
    assert 0.08 <= (reps.role == "senior").mean() <= 0.22
    fte = _num(reps.fte)
    assert set(fte) <= {0.5, 0.8, 1.0} and (fte == 1.0).mean() >= 0.75
    fy_start = config["plan"]["fiscal_year_start"]
    assert fy_start == dt.date(2027, 1, 1)
    fy_end = dt.date(2027, 12, 31)
    new = reps.start_date != ""
    leavers = reps.end_date != ""
    assert new.sum() == 8 and leavers.sum() == 5 and not (new & leavers).any()
    for col in ("start_date", "end_date"):
        dates = reps.loc[reps[col] != "", col].map(dt.date.fromisoformat)
        assert dates.between(fy_start, fy_end).all()
    assert (reps.loc[new, ["ly_quota", "ly_actual"]] == "").all().all()
    ly_q, ly_a = _num(reps.ly_quota[~new]), _num(reps.ly_actual[~new])
    assert ly_q.notna().all() and ly_a.notna().all()
    assert (ly_a / ly_q).between(0.8, 1.15).all()
    assert (_num(reps.capacity) > 0).all()
    # history correlates with the territory
    potential = tables["potential"]
    pot = _num(potential.potential).groupby(potential.rep_id).sum().reindex(reps.rep_id[~new])
    assert np.corrcoef(pot.to_numpy(), ly_a.to_numpy())[0, 1] > 0.5


def test_targets_and_capacity(tables: dict[str, pd.DataFrame], config: dict) -> None:
    potential, accounts, reps = tables["potential"], tables["accounts"], tables["reps"]
    key = accounts[accounts.key == "true"]
    targets = config["targets"]["by_product"]
    assert config["targets"]["over_assignment"] == 0.05
    for product, target in targets.items():
        assert isinstance(target, int) and target % 1000 == 0
        base = _num(potential[potential["product"] == product].potential).sum()
        base += _num(key[key["product"] == product].revenue).sum()
        assert 0.55 <= target / base <= 0.65, product
    capacity = (_num(reps.capacity) * _num(reps.fte)).sum()
    assert 1.2 <= capacity / (sum(targets.values()) * 1.05) <= 1.6


def test_actuals_cover_first_quarter(tables: dict[str, pd.DataFrame]) -> None:
    actuals, reps = tables["actuals"], tables["reps"]
    assert set(actuals.period) == {"Q1"}
    amount = _num(actuals.amount)
    assert amount.notna().all() and (amount > 0).all()
    # all reps employed from the start of the year book something in Q1
    veterans = set(reps.rep_id[reps.start_date == ""])
    assert veterans <= set(actuals.rep_id)


def test_scenario_yaml_follows_the_contract(default_plan: Path, config: dict) -> None:
    assert list(config) == [
        "name",
        "description",
        "plan",
        "data",
        "products",
        "targets",
        "rules",
        "objective",
        "solver",
        "output",
    ]
    assert config["name"] == "example"
    assert config["plan"] == {
        "fiscal_year_start": dt.date(2027, 1, 1),
        "granularity": "quarter",
        "currency": "EUR",
    }
    assert config["data"] == {t: f"data/{t}.csv" for t in TABLES}
    for path in config["data"].values():
        assert (default_plan.parent / path).is_file()
    rules = config["rules"]
    assert rules["capacity"] == {"enabled": True, "ramp": [0.25, 0.5, 0.75]}
    assert rules["potential"] == {"enabled": True, "max_share": 0.9, "min_share": 0.0}
    assert rules["growth"] == {"enabled": True, "min": -0.15, "max": 0.40, "basis": "actual"}
    assert rules["floors"] == {"enabled": True, "by_role": {"rep": 100000, "senior": 200000}}
    assert rules["key_accounts"] == {
        "enabled": True,
        "max_accounts": 8,
        "max_workload": 12,
        "move_cost": 0.05,
        "locked": [],
        "forbidden": [],
    }
    assert rules["fairness"] == {"enabled": True, "level": "team", "band": 0.35}
    assert rules["phasing"] == {"enabled": True, "mode": "exact", "band": 0.10}
    assert rules["rounding"] == {"enabled": True, "unit": 1000}
    assert config["objective"] == {
        "reference": {"potential": 0.6, "history": 0.4},
        "weights": {"deviation": 1.0, "fairness": 0.0, "disruption": 1.0, "tiebreak": 1.0e-4},
    }
    assert config["solver"] == {"time_limit": 120, "mip_gap": 0.01, "threads": 1, "seed": 0}
    assert config["output"] == {"directory": "runs"}


def test_odd_product_names_are_quoted(tmp_path: Path) -> None:
    scenario = generate_plan(tmp_path, products=("NO", "1", "on"), name="x-2027.v1")
    config = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    assert config["products"] == ["NO", "1", "on"]
    assert list(config["targets"]["by_product"]) == ["NO", "1", "on"]
    assert config["name"] == "x-2027.v1"


def test_key_account_books_respect_limits(tables: dict[str, pd.DataFrame]) -> None:
    """The current (incumbent) assignment satisfies the key-account limits."""
    reps, accounts, cands = tables["reps"], tables["accounts"], tables["candidates"]
    key = accounts[accounts.key == "true"].drop_duplicates("account_id")
    inc = cands.merge(key[["account_id", "incumbent_rep"]], on="account_id")
    inc = inc[inc.rep_id == inc.incumbent_rep]
    count = inc.groupby("rep_id").size().reindex(reps.rep_id, fill_value=0)
    load = _num(inc.workload).groupby(inc.rep_id).sum().reindex(reps.rep_id, fill_value=0)
    max_acc = _num(reps.max_accounts).fillna(8).to_numpy()
    max_load = _num(reps.max_workload).fillna(12).to_numpy()
    assert (count.to_numpy() <= max_acc).all() and (load.to_numpy() <= max_load).all()
    new = reps.set_index("rep_id").start_date != ""
    assert count[new.to_numpy()].sum() == 0  # new hires hold no key accounts yet


def test_plan_is_feasible_under_a_proxy_model(
    tables: dict[str, pd.DataFrame], config: dict
) -> None:
    """LP proxy of the rules (potential share, ramped capacity, floors, growth, team fairness).

    Not the real model: fairness is read as "quota / (potential + key revenue) within +-band of
    a per-team ratio"; rounding, phasing and key-account moves are ignored.
    """
    reps, potential, accounts = tables["reps"], tables["potential"], tables["accounts"]
    products = config["products"]
    n, n_prod = len(reps), len(products)
    rep_ix = {r: i for i, r in enumerate(reps.rep_id)}
    prod_ix = {p: j for j, p in enumerate(products)}
    scale = 1e6
    base = np.zeros((n, n_prod))
    np.add.at(
        base,
        (potential.rep_id.map(rep_ix), potential["product"].map(prod_ix)),
        _num(potential.potential) / scale,
    )
    key = accounts[accounts.key == "true"]
    np.add.at(
        base,
        (key.incumbent_rep.map(rep_ix), key["product"].map(prod_ix)),
        _num(key.revenue) / scale,
    )
    fy_start, fy_end = pd.Timestamp("2027-01-01"), pd.Timestamp("2028-01-01")
    start = pd.to_datetime(reps.start_date.replace("", None))
    end = pd.to_datetime(reps.end_date.replace("", None)) + pd.Timedelta(days=1)
    avail = ((end.fillna(fy_end) - start.fillna(fy_start)).dt.days / 365).to_numpy()
    avail = np.where(start.notna(), avail - 1.5 / 12, avail)  # ramp 0.25/0.5/0.75
    cap = (_num(reps.capacity) * _num(reps.fte)).to_numpy() * avail / scale
    floor = reps.role.map(config["rules"]["floors"]["by_role"]).to_numpy(float) / scale
    ly = _num(reps.ly_actual).to_numpy() / scale
    target = np.array([config["targets"]["by_product"][p] for p in products]) * 1.05 / scale
    teams = sorted(set(reps.team_id))
    team_ix = reps.team_id.map({t: i for i, t in enumerate(teams)}).to_numpy()
    n_t, band = len(teams), config["rules"]["fairness"]["band"]

    per_rep = sp.kron(sp.identity(n), np.ones((1, n_prod)), format="csr")  # rep totals
    rep_sum = sp.hstack([per_rep, sp.csr_matrix((n, n_t))], format="csr")
    ref = sp.csr_matrix((base.sum(axis=1), (np.arange(n), team_ix)), shape=(n, n_t))
    hist = ~np.isnan(ly)
    a_ub = sp.vstack(
        [
            rep_sum,
            -rep_sum,
            rep_sum[hist],
            -rep_sum[hist],
            sp.hstack([per_rep, -(1 + band) * ref]),  # quota <= (1 + band) * team ratio * ref
            sp.hstack([-per_rep, (1 - band) * ref]),  # quota >= (1 - band) * team ratio * ref
        ]
    )
    b_ub = np.concatenate([cap, -floor, 1.4 * ly[hist], -0.85 * ly[hist], np.zeros(2 * n)])
    a_eq = sp.hstack([sp.kron(np.ones((1, n)), sp.identity(n_prod)), sp.csr_matrix((n_prod, n_t))])
    bounds = [(0.0, 0.9 * b) for b in base.ravel()] + [(0.0, None)] * n_t
    result = linprog(
        np.zeros(n * n_prod + n_t),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=target,
        bounds=bounds,
        method="highs",
    )
    assert result.status == 0, result.message
    # and with slack: 10% less capacity is still enough
    b_ub[:n] *= 0.9
    result = linprog(
        np.zeros(n * n_prod + n_t),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=target,
        bounds=bounds,
        method="highs",
    )
    assert result.status == 0, result.message


# ---- arguments, CLI ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(regions=0),
        dict(products=()),
        dict(products=("HW", "HW")),
        dict(granularity="week"),
        dict(key_share=1.5),
        dict(name="bad name"),
        dict(new_hire_share=0.7, leaver_share=0.5),
        dict(teams=2, regions=3),
        dict(fiscal_year_start="2027-13-01"),
    ],
)
def test_invalid_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        generate_plan(tmp_path, **kwargs)


def test_benchmark_cli(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "generate.py"),
            "--reps",
            "400",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert re.search(r"400 reps, 20 teams, 3 regions", run.stdout)
    config = yaml.safe_load((out / "scenario.yaml").read_text(encoding="utf-8"))
    assert config["name"] == "bench-400"
    reps = _read(out / "scenario.yaml", "reps")
    assert len(reps) == 400
    accounts = _read(out / "scenario.yaml", "accounts")
    assert accounts[accounts.key == "true"].account_id.nunique() == 800
    assert _read(out / "scenario.yaml", "candidates").groupby("account_id").size().max() == 5


def test_example_scenario_is_current(tmp_path: Path) -> None:
    """`scenarios/example` is exactly what `generate_plan` writes with the defaults."""
    example = ROOT / "scenarios" / "example"
    if not (example / "scenario.yaml").exists():
        pytest.skip("scenarios/example not generated")
    fresh = _files(generate_plan(tmp_path).parent)
    for name, content in fresh.items():
        assert (example / name).read_bytes() == content, name
