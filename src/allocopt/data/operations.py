"""Data operations: what-if changes to the data tables written in the scenario, not in the CSVs.

Public entry point: :func:`apply_operations`. It runs the scenario's ``operations`` in order on
the typed tables, after they are read and before the cross-table checks (so a changed table is
validated like base data), and returns the new tables, one log line per applied change, and the
problems found, each located at the operation in the scenario file.

Operations (see ``docs/data.md``, section "Data operations"):

* ``scale`` — multiply a numeric column on the rows that match ``where``;
* ``set`` — set a column to a value on the rows that match ``where``;
* ``remove_reps`` — attrition: the reps leave reps/potential/candidates/actuals; their potential
  is re-covered by their team (or dropped); their accounts lose the incumbent;
* ``add_reps`` — new hires with start dates and potential (new, or taken from named reps);
* ``move_rep`` — a rep changes team, with their potential, accounts and actuals.

An operation with a problem is not applied; the following ones still run (on the tables as they
are), so every problem is reported at once. Rows an operation adds have ``_row`` 0.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allocopt.data.tables import MAX_ABS, MAX_ABS_TEXT, ROW, SPECS, Col
from allocopt.errors import Problem
from allocopt.scenario.schema import (
    AddRepsOp,
    MoveRepOp,
    RemoveRepsOp,
    ScaleOp,
    Scenario,
    SetOp,
    Where,
)
from allocopt.scenario.strict_yaml import dotted

__all__ = ["apply_operations"]

Locate = Callable[[tuple[str | int, ...]], str]
Tables = dict[str, pd.DataFrame]
KeyPath = tuple[str | int, ...]

TOL = 1e-9
_BOOL_TEXT = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
# which filters each table supports, and the column a rep filter reads
_FILTERS: dict[str, tuple[str, ...]] = {
    "reps": ("region", "team", "rep"),
    "potential": ("region", "team", "rep", "product"),
    "accounts": ("region", "team", "rep", "product", "account"),
    "candidates": ("region", "team", "rep", "account"),
}
_REP_COL = {"reps": "rep_id", "potential": "rep_id", "accounts": "incumbent_rep"}
_FILTER_ORDER = ("region", "team", "product", "rep", "account")
_TOO_LARGE_RULE = f"must be at most {MAX_ABS_TEXT} in absolute value"


def apply_operations(
    tables: Tables, scenario: Scenario, locate: Locate, file: str = "scenario"
) -> tuple[Tables, list[str], list[Problem]]:
    """Apply ``scenario.operations`` in order; return (tables, changes, problems).

    ``tables`` is not modified; the returned dict holds new frames for the changed tables.
    ``locate`` gives "line L, column C" of a key path of the scenario tree; ``file`` is the
    scenario file as shown in messages.
    """
    ctx = _Ctx(dict(tables), scenario, locate, file)
    for i, op in enumerate(scenario.operations):
        ctx.begin(i)
        before, logged = dict(ctx.tables), len(ctx.changes)
        if isinstance(op, ScaleOp | SetOp):
            _edit(ctx, op)
        elif isinstance(op, RemoveRepsOp):
            _remove_reps(ctx, op)
        elif isinstance(op, AddRepsOp):
            _add_reps(ctx, op)
        elif isinstance(op, MoveRepOp):
            _move_rep(ctx, op)
        if not ctx.failed and not _finite_results(ctx, before):
            ctx.tables, ctx.changes = before, ctx.changes[:logged]  # not applied
    return ctx.tables, ctx.changes, ctx.problems


# ---- shared state and helpers -------------------------------------------------------------------


@dataclass
class _Ctx:
    tables: Tables
    scenario: Scenario
    locate: Locate
    file: str
    problems: list[Problem] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)  # rep → operation that removed it
    index: int = 0
    failed: bool = False

    def begin(self, i: int) -> None:
        self.index, self.failed = i, False

    @property
    def tag(self) -> str:
        return f"operations[{self.index}]"

    def error(self, sub: KeyPath, message: str, value: Any = "") -> None:
        path: KeyPath = ("operations", self.index, *sub)
        shown = "" if value is None else str(value)
        self.problems.append(Problem(self.file, self.locate(path), dotted(path), message, shown))
        self.failed = True

    def log(self, text: str) -> None:
        self.changes.append(f"{self.tag} {text}")

    def reps(self) -> pd.DataFrame:
        return self.tables["reps"]

    def unknown_rep(self, sub: KeyPath, rep: str) -> None:
        if rep in self.removed:
            k = self.removed[rep]
            self.error(sub, f"rep {rep!r} was removed by operations[{k}]; remove it here", rep)
        else:
            known = self.reps()["rep_id"]
            self.error(sub, f"unknown rep; {_suggest(rep, known, 'check the rep ID')}", rep)

    def unknown_unit(self, sub: KeyPath, unit: str, what: str = "team") -> None:
        units = self.tables["org_units"]["unit_id"]
        msg = f"unknown {what}; {_suggest(unit, units, 'use a unit_id of the org_units table')}"
        self.error(sub, msg, unit)


def _finite_results(ctx: _Ctx, before: Tables) -> bool:
    """Whether every number the operation wrote is finite (a problem is recorded if not)."""
    for name, df in ctx.tables.items():
        if df is before.get(name):
            continue
        for c in SPECS[name].cols:
            if c.kind not in ("number", "int") or c.name not in df:
                continue
            arr = df[c.name].to_numpy(dtype=float)
            wrong = np.flatnonzero(np.isinf(arr))
            if len(wrong):
                k = int(wrong[0])
                ctx.error(
                    (),
                    f"the operation would make {name}.{c.name} {arr[k]:g} on "
                    f"{_where_row(df, k, int(df[ROW].iloc[k]))}, which must be a finite number; "
                    "check the amounts in the tables and the operation",
                )
                return False
    return True


def _suggest(value: str, known: Any, fallback: str) -> str:
    names = sorted({str(v) for v in known if str(v)})
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else fallback


def _money(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.6g}"


def _amounts(by_product: pd.Series, products: Sequence[str]) -> str:
    """ "HW 1,200, SW 300" in the scenario's product order (products with no amount left out)."""
    have = by_product.to_dict()
    return ", ".join(f"{p} {_money(float(have[p]))}" for p in products if p in have) or "none"


def _regions(units: pd.DataFrame) -> dict[str, str]:
    """Region of every unit: itself or its nearest ancestor of level ``region`` ("" if none)."""
    parent = dict(zip(units["unit_id"], units["parent_id"], strict=True))
    level = dict(zip(units["unit_id"], units["level"], strict=True))
    out: dict[str, str] = {}
    for u in parent:
        v, seen = u, set()
        while v and v not in seen and level.get(v) != "region":
            seen.add(v)
            v = parent.get(v, "")
        out[u] = v if v and level.get(v) == "region" else ""
    return out


def _append_rows(df: pd.DataFrame, rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
    """``df`` with ``rows`` appended (missing cells blank, ``_row`` 0), dtypes kept."""
    if not rows:
        return df
    spec = SPECS[table]
    blank = {c.name: _blank(c) for c in spec.cols}
    new = pd.DataFrame([{ROW: 0, **blank, **r} for r in rows], columns=list(df.columns))
    for c in spec.cols:
        if c.kind == "date":
            new[c.name] = pd.to_datetime(new[c.name])
    new = new.astype(df.dtypes.to_dict())
    return pd.concat([df, new], ignore_index=True)


def _blank(c: Col) -> Any:
    if c.kind in ("number", "int"):
        return np.nan
    if c.kind == "date":
        return pd.NaT
    return ""


# ---- scale and set ------------------------------------------------------------------------------


def _edit(ctx: _Ctx, op: ScaleOp | SetOp) -> None:
    table = op.table
    if table not in ctx.tables:
        ctx.error(("table",), f"the scenario has no {table} table; add it under data:", table)
        return
    spec = SPECS[table]
    names = [c.name for c in spec.cols]
    if op.column not in names:
        hint = _suggest(op.column, names, f"the columns of {table} are: {', '.join(names)}")
        ctx.error(("column",), f"unknown column of {table}; {hint}", op.column)
        return
    col = spec.col(op.column)
    df = ctx.tables[table]
    if isinstance(op, ScaleOp):
        _scalable(ctx, table, col)
        value: Any = None
    else:
        value = _set_value(ctx, table, col, op.value)
    mask = _match(ctx, table, df, op.where)
    if ctx.failed or mask is None:
        return
    out = df.copy()
    if isinstance(op, ScaleOp):
        values = out[col.name].to_numpy(dtype=float).copy()
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            values[mask] *= op.factor
        pos = np.flatnonzero(mask)
        bad = _check_values(col, pd.Series(values[pos], index=pos))
        if bad is not None:
            row = int(df[ROW].iloc[bad[0]])
            ctx.error(
                ("factor",),
                f"{table}.{col.name} would be {bad[1]:g} on {_where_row(df, bad[0], row)}, "
                f"which {bad[2]}; "
                "use a smaller factor or a narrower filter",
                f"{op.factor:g}",
            )
            return
        out[col.name] = values
        what = f"scale {table}.{col.name} ×{op.factor:g}"
    else:
        out.loc[mask, col.name] = value
        out[col.name] = out[col.name].astype(df[col.name].dtype)
        what = f"set {table}.{col.name} = {_show(op.value)}"
    ctx.tables[table] = out
    n = int(mask.sum())
    ctx.log(f"{what} on {n:,} row{'s' if n != 1 else ''} ({_describe(op.where)})")


def _where_row(df: pd.DataFrame, index: Any, row: int) -> str:
    """ "row 7" of the table, or the rep/key of a row an earlier operation added (row 0)."""
    if row > 0:
        return f"row {row}"
    key = next((k for k in ("rep_id", "account_id") if k in df.columns), None)
    return f"the row added for {df[key].iloc[int(index)]}" if key else "a row added by an operation"


def _scalable(ctx: _Ctx, table: str, col: Col) -> None:
    if col.kind == "int":
        ctx.error(("column",), f"{col.name} holds whole numbers; use op: set", col.name)
    elif col.kind != "number":
        numeric = [c.name for c in SPECS[table].cols if c.kind == "number"]
        msg = f"{col.name} is not a numeric column; the numeric columns of {table} are: "
        ctx.error(("column",), msg + ", ".join(numeric), col.name)


def _check_values(col: Col, values: pd.Series) -> tuple[Any, float, str] | None:
    """First value (index, value, rule) that breaks the column's checks, or None.

    Besides the column's own checks, every number must be finite and at most ``MAX_ABS``.
    """
    vals = values.dropna()
    arr = vals.to_numpy(dtype=float)
    wrong = ~np.isfinite(arr) | (np.abs(np.where(np.isfinite(arr), arr, 0.0)) > MAX_ABS)
    if wrong.any():
        k = int(np.flatnonzero(wrong)[0])
        why = "must be a finite number" if not np.isfinite(arr[k]) else _TOO_LARGE_RULE
        return vals.index[k], float(arr[k]), why
    for chk in col.checks:
        res = chk(vals).check_output
        if isinstance(res, pd.Series) and not bool(res.all()):
            idx = res.index[~res.to_numpy(dtype=bool)][0]
            return idx, float(vals.loc[idx]), str(chk.error)
    return None


def _set_value(ctx: _Ctx, table: str, col: Col, value: Any) -> Any:
    """The value as the column stores it (a problem is recorded when it does not fit)."""
    key = SPECS[table].key
    if col.name in key:
        ctx.error(
            ("column",),
            f"{col.name} is part of the key of {table} ({', '.join(key)}) and cannot be set"
            + ("; use move_rep, remove_reps or add_reps" if col.name == "rep_id" else ""),
            col.name,
        )
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        if col.filled:
            ctx.error(("value",), f"{table}.{col.name} may not be blank; give a value")
            return None
        return _blank(col)
    kind = col.kind
    if kind in ("number", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            ctx.error(("value",), f"{table}.{col.name} is a number; write a number", value)
            return None
        if kind == "int" and float(value) % 1:
            ctx.error(("value",), f"{table}.{col.name} is a whole number", value)
            return None
        bad = _check_values(col, pd.Series([float(value)]))
        if bad is not None:
            fix = "; write a smaller value" if bad[2] == _TOO_LARGE_RULE else ""
            ctx.error(("value",), f"{table}.{col.name} {bad[2]}{fix}", value)
            return None
        return float(value)
    if kind == "date":
        if isinstance(value, str):
            try:  # only YYYY-MM-DD (fromisoformat also takes 20270405 and 2027-W14)
                iso = re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip())
                value = dt.date.fromisoformat(value.strip()) if iso else None
            except ValueError:
                value = None
        if not isinstance(value, dt.date):
            ctx.error(("value",), f"{table}.{col.name} is a date; write YYYY-MM-DD", value)
            return None
        return pd.Timestamp(value)
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in _BOOL_TEXT:
            return _BOOL_TEXT[value.strip().lower()]
        if not isinstance(value, bool):
            ctx.error(("value",), f"{table}.{col.name} is true or false", value)
            return None
        return value
    if not isinstance(value, str):
        ctx.error(("value",), f"{table}.{col.name} is text; quote the value ('{value}')", value)
        return None
    return value.strip()


def _show(value: Any) -> str:
    if value is None:
        return "<blank>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _describe(where: Where) -> str:
    parts = [
        f"{name} {', '.join(vals)}"
        for name in _FILTER_ORDER
        if (vals := getattr(where, name)) is not None
    ]
    return "; ".join(parts) or "all rows"


def _row_attrs(ctx: _Ctx, table: str, df: pd.DataFrame, name: str) -> pd.Series:
    """The value each row of ``table`` has for filter ``name`` (text, "" when unknown)."""
    if name == "product":
        return df["product"]
    if name == "account":
        return df["account_id"]
    rep = df[_REP_COL.get(table, "rep_id")]
    if name == "rep":
        return rep
    reps = ctx.reps().drop_duplicates("rep_id")
    by_rep = pd.Series(
        reps["team_id"].to_numpy(dtype=object), index=reps["rep_id"].to_numpy(dtype=object)
    )
    if name == "region":
        by_rep = by_rep.map(_regions(ctx.tables["org_units"]))
    return rep.map(by_rep).fillna("").astype(object)


def _match(ctx: _Ctx, table: str, df: pd.DataFrame, where: Where) -> np.ndarray | None:
    """Rows matching every filter of ``where``; None (with problems) when a filter is wrong."""
    mask = np.ones(len(df), dtype=bool)
    ok = True
    for name in _FILTER_ORDER:
        values: list[str] | None = getattr(where, name)
        if values is None:
            continue
        if name not in _FILTERS[table]:
            allowed = ", ".join(_FILTERS[table])
            ctx.error(
                ("where", name),
                f"{table} has no {name}; the filters of {table} are: {allowed}",
                name,
            )
            ok = False
            continue
        attr = _row_attrs(ctx, table, df, name)
        present = set(pd.unique(attr.to_numpy(dtype=object)))
        known = _known(ctx, name)
        for j, v in enumerate(values):
            sub = ("where", name, j)
            if v not in known:
                if name == "rep":
                    ctx.unknown_rep(sub, v)
                else:
                    fallback = f"the {name}s are: {', '.join(sorted(known)[:12])}" if known else ""
                    ctx.error(sub, f"unknown {name}; {_suggest(v, known, fallback)}", v)
                ok = False
            elif v not in present:
                ctx.error(sub, f"matches no row of {table}; check the filter", v)
                ok = False
        mask &= attr.isin(values).to_numpy()
    if ok and not mask.any():
        ctx.error(("where",), f"the filters together match no row of {table}; check the filter")
        ok = False
    return mask if ok else None


def _known(ctx: _Ctx, name: str) -> set[str]:
    t = ctx.tables
    if name == "product":
        return set(ctx.scenario.products)
    if name == "rep":
        return set(ctx.reps()["rep_id"])
    if name == "account":
        return set(t["accounts"]["account_id"]) if "accounts" in t else set()
    units = t["org_units"]
    if name == "region":
        return set(units.loc[units["level"] == "region", "unit_id"])
    return set(units["unit_id"])


# ---- remove_reps --------------------------------------------------------------------------------


def _remove_reps(ctx: _Ctx, op: RemoveRepsOp) -> None:
    reps = ctx.reps()
    ids = set(reps["rep_id"])
    seen: dict[str, int] = {}
    for j, r in enumerate(op.reps):
        if r in seen:
            ctx.error(("reps", j), f"rep {r!r} is listed twice (also reps[{seen[r]}]); keep one", r)
        elif r not in ids:
            ctx.unknown_rep(("reps", j), r)
        seen.setdefault(r, j)
    if ctx.failed:
        return
    gone = list(dict.fromkeys(op.reps))
    leaving = reps["rep_id"].isin(gone).to_numpy()
    team_of = dict(zip(reps.loc[leaving, "rep_id"], reps.loc[leaving, "team_id"], strict=True))
    stay = reps.loc[~leaving, ["rep_id", "team_id"]]
    stay = stay[stay["team_id"].isin(set(team_of.values()))]  # the leavers' teams only
    staying_teams = set(stay["team_id"])
    t = ctx.tables
    pot = t["potential"]
    p_gone = pot["rep_id"].isin(gone).to_numpy()
    lost = pot.loc[p_gone & (pot["potential"].to_numpy(dtype=float) > 0)]
    if op.cover == "team":
        for team in sorted({team_of[r] for r in lost["rep_id"]} - staying_teams):
            who = ", ".join(sorted(r for r in gone if team_of[r] == team))
            ctx.error(
                ("cover",),
                f"team {team} has no rep left to take over the potential of {who}; "
                "use cover: none, keep a rep, or add reps to the team first",
                team,
            )
    acc = t.get("accounts")
    orphan: dict[str, str] = {}  # key account → its incumbent who leaves
    if acc is not None:
        hit = acc["incumbent_rep"].isin(gone) & acc["key"].eq(True)
        sub = acc.loc[hit, ["account_id", "incumbent_rep"]].drop_duplicates("account_id")
        orphan = dict(zip(sub["account_id"], sub["incumbent_rep"], strict=True))
        cand = t.get("candidates")
        others: set[str] = set()
        if cand is not None:
            keep = cand["account_id"].isin(list(orphan)) & ~cand["rep_id"].isin(gone)
            others = set(cand.loc[keep, "account_id"])
        for a, r in orphan.items():
            if team_of[r] not in staying_teams and a not in others:
                ctx.error(
                    ("reps", seen[r]),
                    f"key account {a!r} of {r} has no rep left to take it over (no one is left in "
                    f"team {team_of[r]}"
                    + (" and it has no other candidates)" if cand is not None else ")")
                    + "; keep a rep of the team or add candidate pairs",
                    r,
                )
    if ctx.failed:
        return

    # potential: re-covered by the team, in proportion to the remaining reps' own potential
    new_pot = pot.loc[~p_gone].copy()
    cover_lines: list[str] = []
    if op.cover == "team" and len(lost):
        new_pot, cover_lines = _recover(new_pot, lost, team_of, stay, ctx.scenario.products)
    t["potential"] = new_pot.reset_index(drop=True)
    for name in ("candidates", "actuals"):
        if name in t:
            t[name] = t[name].loc[~t[name]["rep_id"].isin(gone)].reset_index(drop=True)
    t["reps"] = reps.loc[~leaving].reset_index(drop=True)
    for r in gone:
        ctx.removed[r] = ctx.index
    lost_total = lost.groupby("product")["potential"].sum()
    lost_text = _amounts(lost_total, ctx.scenario.products)
    how = "re-covered by their teams" if op.cover == "team" else "dropped (cover: none)"
    ctx.log(
        f"remove_reps {', '.join(gone)}: {len(gone)} rep{'s' if len(gone) != 1 else ''} removed "
        f"from reps, potential, candidates and actuals; their potential ({lost_text}) {how}"
    )
    for line in cover_lines:
        ctx.log(f"remove_reps: {line}")
    if acc is not None:
        _orphan_accounts(ctx, acc, gone, orphan, team_of, stay)


def _recover(
    pot: pd.DataFrame,
    lost: pd.DataFrame,
    team_of: dict[str, str],
    stay: pd.DataFrame,
    products: Sequence[str],
) -> tuple[pd.DataFrame, list[str]]:
    """Spread the leavers' potential over the remaining reps of their team, per product, in
    proportion to each remaining rep's own potential (equally when they have none)."""
    one = stay.drop_duplicates("rep_id")
    stay_team = pd.Series(one["team_id"].to_numpy(), index=one["rep_id"].to_numpy())
    lt = lost.assign(team_id=lost["rep_id"].map(team_of))
    need = lt.groupby(["team_id", "product"], sort=True)["potential"].sum()
    pt = pot.assign(team_id=pot["rep_id"].map(stay_team))
    have = pt.groupby(["team_id", "product"], sort=True)["potential"].sum()
    have = have.reindex(need.index, fill_value=0.0)
    prop = have > 0
    # proportional: own × (1 + need / have) on the rows of the (team, product) groups concerned
    factor = (1.0 + need[prop] / have[prop]).rename("_f")
    keys = pd.MultiIndex.from_arrays([pt["team_id"], pt["product"]])
    f = factor.reindex(keys).to_numpy(dtype=float)
    f = np.where(np.isnan(f), 1.0, f)
    out = pot.copy()
    own = out["potential"].to_numpy(dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # need / have overflows for tiny have
        new = own * f
        odd = ~np.isfinite(new) & np.isfinite(own)
        if odd.any():  # the same amount without the overflow: own + need × (own / have)
            n = need.reindex(keys).to_numpy(dtype=float)[odd]
            h = have.reindex(keys).to_numpy(dtype=float)[odd]
            new[odd] = own[odd] + n * (own[odd] / h)
    out["potential"] = new
    # equal spread where the remaining reps have no potential of that product
    even = need[~prop]
    if len(even):
        members = stay.groupby("team_id", sort=True)["rep_id"].apply(list)
        add_rows: list[dict[str, Any]] = []
        teams, prods = even.index.get_level_values(0), even.index.get_level_values(1)
        for team, product, amount in zip(teams, prods, even.to_numpy(), strict=True):
            rs = sorted(members.get(team, []))
            share = float(amount) / len(rs)
            for r in rs:
                add_rows.append({"rep_id": r, "product": product, "add": share})
        add = pd.DataFrame(add_rows)
        pair = ["rep_id", "product"]
        m = out.merge(add, on=pair, how="left")
        m["potential"] = m["potential"] + m["add"].fillna(0.0)
        out = m.drop(columns="add")
        missing = add.merge(out[pair], on=pair, how="left", indicator=True)
        missing = missing[missing["_merge"] == "left_only"]
        out = _append_rows(
            out,
            [
                {"rep_id": r, "product": p, "potential": a}
                for r, p, a in zip(
                    missing["rep_id"], missing["product"], missing["add"], strict=True
                )
            ],
            "potential",
        )
    n_stay = stay.groupby("team_id")["rep_id"].size()
    lines = []
    for key, grp in need.groupby(level=0, sort=True):
        team = str(key)
        amounts = _amounts(grp.droplevel(0), products)
        mode = "in proportion to their own potential"
        if not bool(prop.loc[grp.index].all()):
            mode += " (equally where they have none)"
        lines.append(
            f"team {team}: {amounts} spread over its {int(n_stay.get(team, 0))} remaining reps "
            f"{mode}"
        )
    return out, lines


def _orphan_accounts(
    ctx: _Ctx,
    acc: pd.DataFrame,
    gone: Sequence[str],
    orphan: dict[str, str],
    team_of: dict[str, str],
    stay: pd.DataFrame,
) -> None:
    """Accounts whose incumbent left: with a candidates table the incumbent is blanked and the
    former team's remaining reps become candidates; without one, a key account goes to the
    remaining rep of the team with the most potential; non-key accounts lose the incumbent."""
    t = ctx.tables
    out = acc.copy()
    left = out["incumbent_rep"].isin(gone).to_numpy()
    members = stay.groupby("team_id", sort=True)["rep_id"].apply(sorted)
    if "candidates" in t:
        out.loc[left, "incumbent_rep"] = ""
        cand = t["candidates"]
        mine = cand[cand["account_id"].isin(list(orphan))]
        have = set(zip(mine["account_id"], mine["rep_id"], strict=True))
        rows: list[dict[str, Any]] = []
        for a, r in sorted(orphan.items()):
            reps = [s for s in members.get(team_of[r], []) if (a, s) not in have]
            rows += [{"account_id": a, "rep_id": s} for s in reps]
            team = team_of[r]
            ctx.log(
                f"remove_reps: key account {a}: incumbent {r} left; incumbent blanked, "
                f"{len(reps)} rep{'s' if len(reps) != 1 else ''} of team {team} added as "
                "candidates"
            )
        t["candidates"] = _append_rows(cand, rows, "candidates")
    else:
        pot = t["potential"]
        total = pot.groupby("rep_id")["potential"].sum()
        new_inc: dict[str, str] = {}
        for a, r in sorted(orphan.items()):
            rs = members[team_of[r]]
            best = min(rs, key=lambda s: (-float(total.get(s, 0.0)), s))
            new_inc[a] = best
            ctx.log(
                f"remove_reps: key account {a}: incumbent {r} left; reassigned to {best}, "
                f"the remaining rep of team {team_of[r]} with the most potential"
            )
        new = out["account_id"].map(new_inc).to_numpy()
        moved = left & pd.notna(new)
        out["incumbent_rep"] = np.where(moved, new, out["incumbent_rep"].to_numpy())
        out.loc[left & ~moved, "incumbent_rep"] = ""
    out["incumbent_rep"] = out["incumbent_rep"].astype(object)
    n_plain = int((left & ~out["account_id"].isin(list(orphan)).to_numpy()).sum())
    if n_plain:
        ctx.log(f"remove_reps: {n_plain} non-key account rows lost their incumbent (blanked)")
    t["accounts"] = out


# ---- add_reps -----------------------------------------------------------------------------------


def _add_reps(ctx: _Ctx, op: AddRepsOp) -> None:
    reps = ctx.reps()
    ids = set(reps["rep_id"])
    units = set(ctx.tables["org_units"]["unit_id"])
    products = list(ctx.scenario.products)
    fy0 = ctx.scenario.plan.fiscal_year_start
    fy1 = (pd.Timestamp(fy0) + pd.DateOffset(years=1)).date()
    seen: dict[str, int] = {}
    for j, nr in enumerate(op.reps):
        sub: KeyPath = ("reps", j)
        if nr.rep_id in ids:
            ctx.error(
                (*sub, "rep_id"),
                "the rep exists already; choose a new rep_id (or remove the rep first)",
                nr.rep_id,
            )
        elif nr.rep_id in seen:
            ctx.error(
                (*sub, "rep_id"), f"added twice (also reps[{seen[nr.rep_id]}]); keep one", nr.rep_id
            )
        seen.setdefault(nr.rep_id, j)
        if nr.team_id not in units:
            ctx.unknown_unit((*sub, "team_id"), nr.team_id)
        if nr.start_date is not None and nr.start_date >= fy1:
            ctx.error(
                (*sub, "start_date"),
                f"the rep starts after the plan year ends ({fy1 - dt.timedelta(days=1)})",
                nr.start_date.isoformat(),
            )
        if nr.end_date is not None:
            if nr.start_date is not None and nr.end_date < nr.start_date:
                ctx.error((*sub, "end_date"), "is before start_date", nr.end_date.isoformat())
            elif nr.end_date < fy0:
                ctx.error(
                    (*sub, "end_date"),
                    f"the rep leaves before the plan year starts ({fy0})",
                    nr.end_date.isoformat(),
                )
        for p in nr.potential:
            if p not in products:
                hint = _suggest(p, products, f"the products are {', '.join(products)}")
                ctx.error((*sub, "potential", p), f"unknown product; {hint}", p)
        for k, r in enumerate(nr.take_from):
            if r not in ids:
                ctx.unknown_rep((*sub, "take_from", k), r)
            elif r in nr.take_from[:k]:
                ctx.error((*sub, "take_from", k), "listed twice; keep one", r)
    if ctx.failed:
        return
    t = ctx.tables
    pot = t["potential"]
    new_pot: list[dict[str, Any]] = []
    for j, nr in enumerate(op.reps):
        sources: list[str] = []
        if nr.take_from:
            giving = pot["rep_id"].isin(nr.take_from).to_numpy()
            values = pot["potential"].to_numpy(dtype=float).copy()
            prod = pot["product"].to_numpy()
            for p, amount in nr.potential.items():
                sel = giving & (prod == p)
                avail = float(values[sel].sum())
                if amount > avail * (1 + TOL) + TOL:
                    ctx.error(
                        ("reps", j, "potential", p),
                        f"the reps in take_from ({', '.join(nr.take_from)}) have {_money(avail)} "
                        f"of {p} potential; they cannot give {_money(amount)} — lower it or take "
                        "from more reps",
                        f"{amount:g}",
                    )
                    continue
                if amount > 0 and avail > 0:
                    values[sel] *= max(0.0, 1.0 - amount / avail)
                    sources.append(p)
            if ctx.failed:
                return
            pot = pot.copy()
            pot["potential"] = values
        for p in products:  # in product order, only the products given
            if p in nr.potential:
                new_pot.append({"rep_id": nr.rep_id, "product": p, "potential": nr.potential[p]})
        amounts = ", ".join(f"{p} {_money(v)}" for p, v in nr.potential.items()) or "none"
        origin = f" taken from {', '.join(nr.take_from)}" if nr.take_from else ""
        start = nr.start_date.isoformat() if nr.start_date else "before the plan year"
        ctx.log(
            f"add_reps {nr.rep_id}: team {nr.team_id}, start {start}, fte {nr.fte:g}, "
            f"capacity {_money(nr.capacity)}; potential {amounts}{origin}"
        )
    rows = [
        {
            "rep_id": nr.rep_id,
            "team_id": nr.team_id,
            "name": nr.name,
            "role": nr.role,
            "fte": nr.fte,
            "start_date": pd.Timestamp(nr.start_date) if nr.start_date else pd.NaT,
            "end_date": pd.Timestamp(nr.end_date) if nr.end_date else pd.NaT,
            "capacity": nr.capacity,
            "ly_quota": np.nan if nr.ly_quota is None else nr.ly_quota,
            "ly_actual": np.nan if nr.ly_actual is None else nr.ly_actual,
            "max_accounts": np.nan if nr.max_accounts is None else float(nr.max_accounts),
            "max_workload": np.nan if nr.max_workload is None else nr.max_workload,
        }
        for nr in op.reps
    ]
    t["reps"] = _append_rows(reps, rows, "reps")
    t["potential"] = _append_rows(pot, new_pot, "potential")
    for nr in op.reps:
        ctx.removed.pop(nr.rep_id, None)


# ---- move_rep -----------------------------------------------------------------------------------


def _move_rep(ctx: _Ctx, op: MoveRepOp) -> None:
    reps = ctx.reps()
    hit = (reps["rep_id"] == op.rep).to_numpy()
    if not hit.any():
        ctx.unknown_rep(("rep",), op.rep)
    if op.team not in set(ctx.tables["org_units"]["unit_id"]):
        ctx.unknown_unit(("team",), op.team)
    if ctx.failed:
        return
    old = str(reps.loc[hit, "team_id"].iloc[0])
    if old == op.team:
        ctx.error(
            ("team",), f"rep {op.rep} is in team {op.team} already; remove the operation", op.team
        )
        return
    out = reps.copy()
    out.loc[hit, "team_id"] = op.team
    ctx.tables["reps"] = out
    ctx.log(f"move_rep {op.rep}: team {old} -> {op.team} (with its potential and accounts)")
