"""Load every data table of a scenario and check them against each other.

Public entry point: :func:`load_data`. All problems of all tables are collected into one
:class:`~allocopt.errors.InputError` (exit 2), each with file, row, column and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocopt.data.tables import ROW, SPECS, TableSource, read_table
from allocopt.errors import InputError, Problem
from allocopt.scenario.schema import Scenario, TableRef

SEASONALITY_TOL = 1e-6

Locate = Callable[[tuple[str | int, ...]], str]


@dataclass
class Dataset:
    """The validated input tables of one scenario (typed frames, ``_row`` kept for messages)."""

    scenario: Scenario
    base_dir: Path
    tables: dict[str, pd.DataFrame]
    sources: dict[str, TableSource]
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def has(self, name: str) -> bool:
        return name in self.tables


def table_source(ref: str | TableRef, base_dir: Path) -> TableSource:
    """Resolve a scenario table reference relative to the scenario's folder."""
    if isinstance(ref, TableRef):
        return TableSource(
            base_dir / ref.path, ref.sheet, ref.path + (f"[{ref.sheet}]" if ref.sheet else "")
        )
    return TableSource(base_dir / ref, None, ref)


def load_data(
    scenario: Scenario,
    base_dir: Path,
    scenario_file: str = "scenario",
    locate: Locate | None = None,
) -> Dataset:
    """Read all tables, run every check, and return the dataset or raise one InputError."""
    loc: Locate = locate or (lambda _p: "")
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, TableSource] = {}
    for name, spec in SPECS.items():
        ref = getattr(scenario.data, name)
        if ref is None:
            continue
        src = table_source(ref, base_dir)
        sources[name] = src
        res = read_table(spec, src)
        problems.extend(res.problems)
        if res.frame is not None:
            tables[name] = res.frame
    ds = Dataset(scenario, base_dir, tables, sources)
    problems.extend(_cross_checks(ds, scenario_file, loc))
    if problems:
        raise InputError(problems)
    return ds


def _label(ds: Dataset, name: str) -> str:
    return ds.sources[name].label


def _bad_refs(
    ds: Dataset, table: str, column: str, allowed: set[str], what: str, *, skip_blank: bool = False
) -> list[Problem]:
    if table not in ds.tables:
        return []
    df = ds.tables[table]
    vals = df[column].astype(str)
    mask = ~vals.isin(allowed)
    if skip_blank:
        mask &= vals != ""
    out = []
    for row, v in zip(df.loc[mask, ROW], vals[mask], strict=True):
        out.append(
            Problem(
                _label(ds, table),
                f"row {row}",
                column,
                f"unknown {what}; {_hint(what, v, allowed)}",
                v,
            )
        )
    return out


def _hint(what: str, value: str, allowed: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(value, sorted(allowed), n=1, cutoff=0.7)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"add it to the {what} data or correct the ID"


def _cross_checks(ds: Dataset, scen_file: str, loc: Locate) -> list[Problem]:
    sc = ds.scenario
    t = ds.tables
    out: list[Problem] = []
    products = set(sc.products)
    periods = set(sc.periods)
    units: set[str] = set(t["org_units"]["unit_id"]) if "org_units" in t else set()
    reps: set[str] = set(t["reps"]["rep_id"]) if "reps" in t else set()
    if "org_units" in t:
        out.extend(_tree_checks(ds))
    if "reps" in t and units:
        out.extend(_bad_refs(ds, "reps", "team_id", units, "org unit"))
        out.extend(_rep_date_checks(ds))
    for name in ("potential", "accounts", "seasonality", "actuals"):
        if name in t:
            out.extend(
                _bad_refs(ds, name, "product", products, "product (not in the scenario's products)")
            )
    if reps:
        for name, col in (("potential", "rep_id"), ("candidates", "rep_id"), ("actuals", "rep_id")):
            out.extend(_bad_refs(ds, name, col, reps, "rep"))
        out.extend(_bad_refs(ds, "accounts", "incumbent_rep", reps, "rep", skip_blank=True))
    for name in ("seasonality", "actuals"):
        out.extend(
            _bad_refs(
                ds,
                name,
                "period",
                periods,
                f"period (this is a {sc.plan.granularity} plan: {', '.join(sc.periods)})",
            )
        )
    if "seasonality" in t:
        out.extend(_seasonality_checks(ds))
    key_accounts: set[str] = set()
    if "accounts" in t:
        probs, key_accounts = _account_checks(ds)
        out.extend(probs)
    if "candidates" in t and "accounts" in t:
        out.extend(_bad_refs(ds, "candidates", "account_id", key_accounts, "key account"))
    out.extend(_scenario_refs(ds, scen_file, loc, units, reps, key_accounts))
    return out


def _tree_checks(ds: Dataset) -> list[Problem]:
    df = ds.tables["org_units"]
    label = _label(ds, "org_units")
    out: list[Problem] = []
    ids = set(df["unit_id"])
    roots = df[df["parent_id"] == ""]
    if len(roots) != 1:
        rows = ", ".join(str(r) for r in roots[ROW]) or "none"
        out.append(
            Problem(
                label,
                "",
                "parent_id",
                "the tree needs exactly one root (a unit with a blank parent_id); "
                f"found {len(roots)} "
                f"(rows {rows})",
            )
        )
    for row, uid, pid in zip(df[ROW], df["unit_id"], df["parent_id"], strict=True):
        if pid and pid not in ids:
            out.append(
                Problem(
                    label,
                    f"row {row}",
                    "parent_id",
                    f"unknown parent unit; {_hint('org unit', pid, ids)}",
                    pid,
                )
            )
        elif pid and pid == uid:
            out.append(
                Problem(label, f"row {row}", "parent_id", "a unit cannot be its own parent", pid)
            )
    parent = dict(zip(df["unit_id"], df["parent_id"], strict=True))
    row_of = dict(zip(df["unit_id"], df[ROW], strict=True))
    reported: set[str] = set()
    for start in sorted(parent):
        seen: list[str] = []
        u = start
        while u and u in parent and u not in seen:
            seen.append(u)
            u = parent[u]
        if u and u in seen:
            cycle = seen[seen.index(u) :]
            key = min(cycle)
            if key not in reported and len(cycle) > 1:
                reported.add(key)
                out.append(
                    Problem(
                        label,
                        f"row {row_of[key]}",
                        "parent_id",
                        "the org tree has a cycle: "
                        + " → ".join([*cycle, u])
                        + "; fix a parent_id",
                    )
                )
    return out


def _rep_date_checks(ds: Dataset) -> list[Problem]:
    df = ds.tables["reps"]
    label = _label(ds, "reps")
    fy0 = pd.Timestamp(ds.scenario.plan.fiscal_year_start)
    fy1 = fy0 + pd.DateOffset(years=1)
    out = []
    s, e = df["start_date"], df["end_date"]
    for row, a, b in zip(df[ROW], s, e, strict=True):
        if pd.notna(a) and pd.notna(b) and b < a:
            out.append(
                Problem(
                    label,
                    f"row {row}",
                    "end_date",
                    f"end date {b.date()} is before start date {a.date()}; correct one of them",
                )
            )
        elif pd.notna(b) and b < fy0:
            out.append(
                Problem(
                    label,
                    f"row {row}",
                    "end_date",
                    f"the rep leaves ({b.date()}) before the plan year starts ({fy0.date()}); "
                    "remove the rep",
                )
            )
        elif pd.notna(a) and a >= fy1:
            out.append(
                Problem(
                    label,
                    f"row {row}",
                    "start_date",
                    f"the rep starts ({a.date()}) after the plan year ends; remove the rep",
                )
            )
    return out


def _seasonality_checks(ds: Dataset) -> list[Problem]:
    df = ds.tables["seasonality"]
    label = _label(ds, "seasonality")
    sc = ds.scenario
    out = []
    for prod in sc.products:
        sub = df[df["product"] == prod]
        if sub.empty:
            out.append(
                Problem(
                    label,
                    "",
                    "product",
                    f"no seasonality rows for product {prod!r}; "
                    f"add one row per period ({', '.join(sc.periods)})",
                )
            )
            continue
        missing = [p for p in sc.periods if p not in set(sub["period"])]
        if missing:
            out.append(
                Problem(
                    label,
                    f"row {int(sub[ROW].min())}",
                    "period",
                    f"product {prod!r} has no weight for {', '.join(missing)}",
                )
            )
        total = float(sub["weight"].sum())
        if not missing and abs(total - 1.0) > SEASONALITY_TOL:
            out.append(
                Problem(
                    label,
                    f"row {int(sub[ROW].min())}",
                    "weight",
                    f"weights of product {prod!r} sum to {total:.6f}, not 1 (tolerance "
                    f"{SEASONALITY_TOL:g}); rescale them",
                )
            )
    return out


def _account_checks(ds: Dataset) -> tuple[list[Problem], set[str]]:
    df = ds.tables["accounts"]
    label = _label(ds, "accounts")
    out: list[Problem] = []
    g = df.groupby("account_id", sort=True)
    nkey = g["key"].agg(lambda s: len(set(s.dropna())))
    ninc = g["incumbent_rep"].nunique()
    for acc in nkey[nkey > 1].index:
        row = int(df.loc[df["account_id"] == acc, ROW].iloc[1])
        out.append(
            Problem(
                label,
                f"row {row}",
                "key",
                f"account {acc!r} is key on some rows and not on others; make its rows agree",
                str(acc),
            )
        )
    for acc in ninc[ninc > 1].index:
        row = int(df.loc[df["account_id"] == acc, ROW].iloc[1])
        out.append(
            Problem(
                label,
                f"row {row}",
                "incumbent_rep",
                f"account {acc!r} has different incumbents on different rows; make them agree",
                str(acc),
            )
        )
    key_mask = df["key"].eq(True)
    key_accounts = set(df.loc[key_mask, "account_id"])
    if "candidates" not in ds.tables:
        for row, acc in zip(
            df.loc[key_mask & (df["incumbent_rep"] == ""), ROW],
            df.loc[key_mask & (df["incumbent_rep"] == ""), "account_id"],
            strict=True,
        ):
            out.append(
                Problem(
                    label,
                    f"row {row}",
                    "incumbent_rep",
                    f"key account {acc!r} has no incumbent and there is no candidates table, so no "
                    "rep is eligible; give an incumbent or add candidate pairs",
                    acc,
                )
            )
    else:
        have = set(ds.tables["candidates"]["account_id"])
        for acc in sorted(key_accounts - have):
            row = int(df.loc[df["account_id"] == acc, ROW].iloc[0])
            out.append(
                Problem(
                    label,
                    f"row {row}",
                    "account_id",
                    f"key account {acc!r} has no row in the candidates table, "
                    "so no rep is eligible; "
                    "add candidate pairs for it",
                    acc,
                )
            )
    return out, key_accounts


def _scenario_refs(
    ds: Dataset, scen_file: str, loc: Locate, units: set[str], reps: set[str], keys: set[str]
) -> list[Problem]:
    sc = ds.scenario
    out: list[Problem] = []

    def add(path: tuple[str | int, ...], msg: str, value: str = "") -> None:
        field_path = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(
            ".[", "["
        )
        out.append(Problem(scen_file, loc(path), field_path, msg, value))

    if units:
        for i, u in enumerate(sc.targets.units):
            if u.unit not in units:
                add(
                    ("targets", "units", i, "unit"),
                    f"unknown org unit; {_hint('org unit', u.unit, units)}",
                    u.unit,
                )
    ka = sc.rules.key_accounts
    cand: set[tuple[str, str]] | None = None
    if "candidates" in ds.tables:
        c = ds.tables["candidates"]
        cand = set(zip(c["account_id"], c["rep_id"], strict=True))
    for kind in ("locked", "forbidden"):
        for i, pair in enumerate(getattr(ka, kind)):
            if keys and pair.account not in keys:
                add(
                    ("rules", "key_accounts", kind, i, "account"),
                    f"not a key account; {_hint('key account', pair.account, keys)}",
                    pair.account,
                )
            if reps and pair.rep not in reps:
                add(
                    ("rules", "key_accounts", kind, i, "rep"),
                    f"unknown rep; {_hint('rep', pair.rep, reps)}",
                    pair.rep,
                )
            elif kind == "locked" and cand is not None and (pair.account, pair.rep) not in cand:
                add(
                    ("rules", "key_accounts", kind, i),
                    f"pair ({pair.account}, {pair.rep}) is not in the candidates table; "
                    "add it there first",
                )
    locked_acc = [p.account for p in ka.locked]
    for i, acc in enumerate(locked_acc):
        if acc in locked_acc[:i]:
            add(
                ("rules", "key_accounts", "locked", i, "account"),
                "account is locked to two reps; keep one lock",
                acc,
            )
    forb = {(p.account, p.rep) for p in ka.forbidden}
    for i, p in enumerate(ka.locked):
        if (p.account, p.rep) in forb:
            add(
                ("rules", "key_accounts", "locked", i),
                "pair is both locked and forbidden; remove one",
            )
    return out


def table_counts(ds: Dataset) -> dict[str, int]:
    """Rows per table."""
    return {k: len(v) for k, v in sorted(ds.tables.items())}


def _nan_to_zero(a: pd.Series) -> np.ndarray:
    return np.nan_to_num(a.to_numpy(dtype=float), nan=0.0)
