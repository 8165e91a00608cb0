"""Load every data table of a scenario and check them against each other.

Public entry point: :func:`load_data`. All problems of all tables are collected into one
:class:`~allocopt.errors.InputError` (exit 2), each with file, row, column and what to do.
The scenario's data ``operations`` (:mod:`allocopt.data.operations`) are applied after the
tables are read and before the cross-table checks; ``Dataset.changes`` logs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocopt.data.incentives import incentive_checks
from allocopt.data.operations import apply_operations
from allocopt.data.performance import performance_checks
from allocopt.data.tables import ROW, SPECS, TableSource, clip, read_table
from allocopt.errors import InputError, Problem
from allocopt.scenario.schema import Scenario, TableRef

SEASONALITY_TOL = 1e-6
MAX_PER_COLUMN = 20  # problems listed per file and column; the rest are counted
MAX_SHOWN = 80  # characters of a cell echoed in a message

Locate = Callable[[tuple[str | int, ...]], str]


@dataclass
class Dataset:
    """The validated input tables of one scenario (typed frames, ``_row`` kept for messages)."""

    scenario: Scenario
    base_dir: Path
    tables: dict[str, pd.DataFrame]
    sources: dict[str, TableSource]
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # applied data operations, in order

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
    incomplete: set[str] = set()
    for name, spec in SPECS.items():
        ref = getattr(scenario.data, name)
        if ref is None:
            continue
        src = table_source(ref, base_dir)
        sources[name] = src
        path_label = ref.path if isinstance(ref, TableRef) else ref
        if not src.path.is_file():
            what = "is a folder, not a table file" if src.path.is_dir() else "file not found"
            problems.append(
                Problem(
                    scenario_file,
                    loc(("data", name)),
                    f"data.{name}",
                    f"{what}: {path_label}; check the path (it is relative to the scenario file)",
                )
            )
            continue
        res = read_table(spec, src)
        for p in res.problems:
            if p.field == "sheet" and not p.where:  # a missing sheet: point at the scenario
                p = Problem(
                    scenario_file,
                    loc(("data", name, "sheet")),
                    f"data.{name}.sheet",
                    f"{path_label}: {p.message}",
                    p.value,
                )
            problems.append(p)
        if res.frame is not None:
            tables[name] = res.frame
            if not res.complete:
                incomplete.add(name)
    changes: list[str] = []
    if scenario.operations and not incomplete and all(n in tables for n in sources):
        # data operations run on fully read tables, before the cross-table checks
        tables, changes, op_problems = apply_operations(tables, scenario, loc, scenario_file)
        problems.extend(op_problems)
    ds = Dataset(scenario, base_dir, tables, sources, changes=changes)
    problems.extend(_cross_checks(ds, scenario_file, loc, incomplete))
    if problems:
        raise _capped_error(problems)
    return ds


def _capped_error(problems: list[Problem]) -> InputError:
    """One InputError: at most ``MAX_PER_COLUMN`` problems per file and column (then a count),
    and no value or message echoing a huge cell whole."""
    unique = sorted(set(problems), key=_row_order)
    by_column: dict[tuple[str, str], list[Problem]] = {}
    for p in unique:
        by_column.setdefault((p.file, p.field), []).append(p)
    shown: list[Problem] = []
    for (file, column), group in by_column.items():
        if not column or len(group) <= MAX_PER_COLUMN:
            shown.extend(group)
            continue
        shown.extend(group[:MAX_PER_COLUMN])
        rest = group[MAX_PER_COLUMN:]
        first, last = rest[0].where, rest[-1].where
        span = f"{first} to {last.removeprefix('row ')}" if first != last else first
        shown.append(
            Problem(
                file,
                first,
                column,
                f"… and {len(rest):,} more problems in column {column} ({span}); "
                "fix the ones above and run allocopt validate again",
            )
        )
    shown = [_clipped(p) for p in shown]
    if len(shown) == len(unique):
        return InputError(shown)
    n = len(unique)
    return InputError(shown, header=f"{n:,} problems in the input")


def _row_order(p: Problem) -> tuple[str, str, int, str]:
    digits = "".join(ch if ch.isdigit() else " " for ch in p.where).split()
    return (p.file, p.field, int(digits[0]) if digits else 0, p.message)


_LONG_WORD = re.compile(rf"\S{{{MAX_SHOWN + 1},}}")


def _clipped(p: Problem) -> Problem:
    """``p`` with a huge value or huge words in the message cut (``abc… (N characters)``)."""
    message = p.message
    if len(message) > 4 * MAX_SHOWN:
        message = _LONG_WORD.sub(lambda m: clip(m.group(0)), message)
        if len(message) > 20 * MAX_SHOWN:
            message = clip(message, 20 * MAX_SHOWN)
    value = clip(p.value)
    if message is p.message and value is p.value:
        return p
    return Problem(p.file, p.where, p.field, message, value)


def _label(ds: Dataset, name: str) -> str:
    return ds.sources[name].label


def _bad_refs(
    ds: Dataset,
    table: str,
    column: str,
    allowed: set[str],
    what: str,
    *,
    fix: str = "",
) -> list[Problem]:
    if table not in ds.tables:
        return []
    df = ds.tables[table]
    # object dtype (not pandas' arrow str): its isin hashes the allowed set once
    vals = pd.Series(df[column].to_numpy(dtype=object), dtype=object)
    mask = (~vals.isin(allowed) & (vals != "")).to_numpy(dtype=bool)  # blanks are told on read
    out = []
    for row, cell in zip(df[ROW].to_numpy()[mask], vals.to_numpy()[mask], strict=True):
        v = str(cell)
        if v in allowed:
            continue
        out.append(
            Problem(
                _label(ds, table),
                f"row {row}",
                column,
                f"unknown {what}; {_hint(what, v, allowed, fix)}",
                v,
            )
        )
    return out


def _hint(what: str, value: str, allowed: set[str], fix: str = "") -> str:
    import difflib

    close = difflib.get_close_matches(value, sorted(allowed), n=1, cutoff=0.7)
    if close:
        return f"did you mean {close[0]!r}?"
    return fix or f"add it to the {what} data or correct the ID"


def _cross_checks(
    ds: Dataset, scen_file: str, loc: Locate, incomplete: set[str] | None = None
) -> list[Problem]:
    sc = ds.scenario
    t = ds.tables
    out: list[Problem] = []
    products = set(sc.products)
    periods = set(sc.periods)
    # a table with dropped rows is not used to look IDs up (its missing IDs would be reported)
    full = {name for name in t if name not in (incomplete or set())}
    units: set[str] = set(t["org_units"]["unit_id"]) if "org_units" in full else set()
    reps: set[str] = set(t["reps"]["rep_id"]) if "reps" in full else set()
    if "org_units" in t:
        out.extend(_tree_checks(ds))
    if "reps" in t and units:
        out.extend(_bad_refs(ds, "reps", "team_id", units, "org unit"))
        out.extend(_rep_date_checks(ds))
    for name in ("potential", "accounts", "seasonality", "actuals"):
        if name in t:
            out.extend(
                _bad_refs(
                    ds,
                    name,
                    "product",
                    products,
                    "product",
                    fix=f"the scenario's products are {', '.join(sc.products)}; "
                    "correct it or add it to products",
                )
            )
    if reps:
        for name, col in (("potential", "rep_id"), ("candidates", "rep_id"), ("actuals", "rep_id")):
            out.extend(_bad_refs(ds, name, col, reps, "rep"))
        out.extend(_bad_refs(ds, "accounts", "incumbent_rep", reps, "rep"))
    for name in ("seasonality", "actuals"):
        out.extend(
            _bad_refs(
                ds,
                name,
                "period",
                periods,
                "period",
                fix=f"this is a {sc.plan.granularity} plan: use {', '.join(sc.periods)}",
            )
        )
    if "seasonality" in t:
        out.extend(_seasonality_checks(ds))
    key_accounts: set[str] | None = None  # None: the accounts table could not be read
    if "accounts" in t:
        probs, key_accounts = _account_checks(ds)
        out.extend(probs)
    if "accounts" not in full:
        key_accounts = None
    if "candidates" in t and key_accounts is not None:
        out.extend(_candidate_accounts(ds, key_accounts))
    out.extend(_scenario_refs(ds, scen_file, loc, units, reps, key_accounts))
    out.extend(incentive_checks(ds, scen_file, loc))
    out.extend(performance_checks(ds, scen_file, loc))
    return out


def _tree_checks(ds: Dataset) -> list[Problem]:
    df = ds.tables["org_units"]
    label = _label(ds, "org_units")
    out: list[Problem] = []
    ids = set(df["unit_id"])
    roots = df[df["parent_id"] == ""]
    if len(roots) != 1:
        rows = f" (rows {', '.join(str(r) for r in roots[ROW])})" if len(roots) else ""
        at = int(roots[ROW].iloc[1]) if len(roots) > 1 else int(df[ROW].min())
        fix = (
            "give all but one of them a parent_id"
            if len(roots) > 1
            else "blank the parent_id of the top unit"
        )
        out.append(
            Problem(
                label,
                f"row {at}",
                "parent_id",
                "the tree needs exactly one root (a unit with a blank parent_id); "
                f"found {len(roots)}{rows}; {fix}",
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
    has_s, has_e = s.notna().to_numpy(), e.notna().to_numpy()
    flagged = (has_s & has_e & (e < s).to_numpy()) | (has_e & (e < fy0).to_numpy())
    flagged |= has_s & (s >= fy1).to_numpy()
    rows = df[ROW].to_numpy()
    for i in np.flatnonzero(flagged):  # the rows a date rule flags, each told its first rule
        row, a, b = rows[i], s.iloc[i], e.iloc[i]
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
                    f"product {prod!r} has no weight for {', '.join(missing)}; "
                    "add a row for each period",
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
    # one hash of the account IDs (sorted codes) serves both per-account counts
    codes, ids = pd.factorize(df["account_id"].to_numpy(dtype=object), sort=True)
    key = df["key"].to_numpy(dtype=object)
    keyf = np.where(key == True, 1.0, np.where(key == False, 0.0, np.nan))  # noqa: E712
    # blank/invalid key cells (NaN) are reported by the table reader
    nkey = pd.Series(keyf).groupby(codes, sort=True).nunique()
    inc_codes, _ = pd.factorize(df["incumbent_rep"].to_numpy(dtype=object))
    ninc = pd.Series(inc_codes).groupby(codes, sort=True).nunique()
    rows = df[ROW].to_numpy()

    def second_row(code: int) -> int:
        return int(rows[np.flatnonzero(codes == code)[1]])

    for code in nkey.index[nkey.to_numpy() > 1]:
        acc, row = ids[code], second_row(code)
        out.append(
            Problem(
                label,
                f"row {row}",
                "key",
                f"account {acc!r} is key on some rows and not on others; make its rows agree",
                str(acc),
            )
        )
    for code in ninc.index[ninc.to_numpy() > 1]:
        acc, row = ids[code], second_row(code)
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


def _candidate_accounts(ds: Dataset, keys: set[str]) -> list[Problem]:
    """Candidate pairs must name key accounts: unknown accounts and non-key ones told apart."""
    c = ds.tables["candidates"]
    accounts = set(ds.tables["accounts"]["account_id"])
    out = []
    bad = ~c["account_id"].isin(keys).to_numpy(dtype=bool)
    for row, acc in zip(c[ROW].to_numpy()[bad], c["account_id"].to_numpy()[bad], strict=True):
        if acc in accounts:
            msg = (
                f"account {acc!r} is not a key account (key is false in the accounts table); "
                "remove the row or mark the account key"
            )
        else:
            fix = "add it to the accounts table or correct the ID"
            msg = f"unknown account; {_hint('account', acc, accounts, fix)}"
        out.append(Problem(_label(ds, "candidates"), f"row {row}", "account_id", msg, acc))
    return out


def _scenario_refs(
    ds: Dataset,
    scen_file: str,
    loc: Locate,
    units: set[str],
    reps: set[str],
    keys: set[str] | None,
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
    has_cand = "candidates" in ds.tables
    asked = {p.account for p in ka.locked} | {p.account for p in ka.forbidden}
    elig = _eligible(ds, keys & asked) if keys is not None and asked else {}
    for kind in ("locked", "forbidden"):
        for i, pair in enumerate(getattr(ka, kind)):
            if keys is not None and pair.account not in keys:
                known = "accounts" in ds.tables and pair.account in set(
                    ds.tables["accounts"]["account_id"]
                )
                fix = (
                    f"its key flag is false in the accounts table; only key accounts can be {kind}"
                    if known
                    else _hint("key account", pair.account, keys)
                )
                add(
                    ("rules", "key_accounts", kind, i, "account"),
                    f"not a key account; {fix}",
                    pair.account,
                )
            if reps and pair.rep not in reps:
                add(
                    ("rules", "key_accounts", kind, i, "rep"),
                    f"unknown rep; {_hint('rep', pair.rep, reps)}",
                    pair.rep,
                )
            elif kind == "locked" and pair.rep not in elig.get(pair.account, {pair.rep}):
                add(
                    ("rules", "key_accounts", kind, i),
                    f"pair ({pair.account}, {pair.rep}) is not in the candidates table; "
                    "add it there first"
                    if has_cand
                    else f"rep {pair.rep!r} is not eligible for {pair.account!r}: without a "
                    "candidates table only reps of the incumbent's team are; lock one of them "
                    "or add a candidates table",
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
    last_forbidden = {p.account: i for i, p in enumerate(ka.forbidden)}
    for acc, i in sorted(last_forbidden.items()):
        eligible = elig.get(acc, set())
        if eligible and all((acc, r) in forb for r in eligible):
            add(
                ("rules", "key_accounts", "forbidden", i),
                f"every eligible rep of key account {acc!r} is forbidden "
                f"({', '.join(sorted(eligible))}), so it cannot be assigned; "
                "remove a forbidden pair or add candidates",
            )
    return out


def _eligible(ds: Dataset, keys: set[str]) -> dict[str, set[str]]:
    """Eligible reps of each of the key accounts ``keys`` (those a locked or forbidden pair
    names) before forbidden pairs ({} if a table is missing)."""
    t = ds.tables
    out: dict[str, set[str]] = {a: set() for a in keys}
    if "candidates" in t:
        c = t["candidates"]
        mine = c["account_id"].isin(keys).to_numpy(dtype=bool)
        for a, r in zip(
            c["account_id"].to_numpy()[mine], c["rep_id"].to_numpy()[mine], strict=True
        ):
            if a in out:
                out[a].add(r)
        return out
    if "reps" not in t or "accounts" not in t:
        return {}
    reps = t["reps"]
    team_of = dict(zip(reps["rep_id"], reps["team_id"], strict=True))
    members: dict[str, set[str]] = {}
    for r, team in team_of.items():
        members.setdefault(team, set()).add(r)
    acc = t["accounts"]
    mine = acc["account_id"].isin(keys).to_numpy(dtype=bool)
    for a, inc in zip(
        acc["account_id"].to_numpy()[mine], acc["incumbent_rep"].to_numpy()[mine], strict=True
    ):
        if a in out and inc in team_of:
            out[a] = members[team_of[inc]]
    return out


def table_counts(ds: Dataset) -> dict[str, int]:
    """Rows per table."""
    return {k: len(v) for k, v in sorted(ds.tables.items())}
