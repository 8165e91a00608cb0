"""Hand-over exports: a run's per-rep quotas in the files compensation / SPM systems import.

Public entry point: :func:`export_run`. Formats live in the :data:`FORMATS` registry; a new format
is one function ``(ExportData) -> {file name: bytes}`` decorated with :func:`register`.

Every CSV goes through :func:`csv_bytes`: UTF-8 without BOM, LF line ends, rows in a fixed order,
and every text cell neutralised against CSV/formula injection by :func:`neutralise` (OWASP: a
text cell starting with ``= + - @``, tab, CR or LF gets a leading ``'``; numbers are never
touched). The files are written into a hidden temporary folder renamed into place at the end
(:func:`allocopt.outputs.runfolder.write_run`), so an export appears complete or not at all and
never replaces an existing folder without ``force``. The mappings are documented in
``docs/exports.md``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from allocopt.calendar import fiscal_periods
from allocopt.errors import InputError, OutputError, Problem
from allocopt.outputs.runfolder import Content, RunFolder, write_run
from allocopt.scenario.schema import Scenario

Kind = Literal["text", "number", "date", "bool"]

#: First characters that make a spreadsheet treat a text cell as a formula (OWASP CSV injection).
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")

QUOTA_COLUMNS = ("rep_id", "team_id", "region_id", "product", "period", "quota")
EXCEL_MAX_ROWS = 1_048_576


# --- the injection rule and the one CSV writer ---------------------------------------------------


def neutralise(text: str) -> str:
    """A text cell made safe to open in a spreadsheet: ``'`` in front of a formula trigger."""
    return "'" + text if text.startswith(DANGEROUS_PREFIXES) else text


def format_number(x: float | int) -> str:
    """Shortest exact text of a number: whole numbers without ``.0``, others round-trip exact."""
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {v!r}")
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def text_column(col: pd.Series) -> pd.Series:
    """A column of text cells: blanks for missing values, then :func:`neutralise` on each."""
    text = col.astype(object).where(col.notna(), "")
    codes, uniques = pd.factorize(text)  # IDs repeat: neutralise each distinct value once
    safe = np.array([neutralise(str(u)) for u in uniques] + [""], dtype=object)
    return pd.Series(safe[codes], index=col.index, dtype=object)


def number_column(col: pd.Series) -> pd.Series:
    """A column of numbers as exact text (see :func:`format_number`); blank for missing."""
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    out = np.full(len(v), "", dtype=object)
    fin = np.isfinite(v)
    whole = fin & (np.abs(v) < 2**53)
    whole[whole] = v[whole] == np.round(v[whole])
    out[whole] = v[whole].astype(np.int64).astype(str)
    rest = np.flatnonzero(fin & ~whole)
    out[rest] = [repr(float(x)) for x in v[rest]]
    return pd.Series(out, index=col.index, dtype=object)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The one CSV writer of every export: UTF-8 (no BOM), LF, rows in the frame's order.

    Numeric columns (not booleans) are numbers, written exact and never neutralised, even when
    negative; every other cell, the header included, is text and goes through
    :func:`neutralise`.
    """
    cells: list[pd.Series] = []
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        if pd.api.types.is_bool_dtype(col):
            cells.append(_quoted(text_column(col.map({True: "true", False: "false"}))))
        elif pd.api.types.is_numeric_dtype(col):
            cells.append(number_column(col))  # digits, sign, point, exponent: never quoted
        else:
            cells.append(_quoted(text_column(col)))
    header = ",".join(_quoted(pd.Series([neutralise(str(c)) for c in frame.columns], dtype=object)))
    if not cells or not len(frame):
        return (header + "\n").encode("utf-8")
    # the cells and their separators as one grid (cell, ",", cell, …, cell, "\n"), joined once
    grid = np.empty((len(frame), 2 * len(cells)), dtype=object)
    for j, c in enumerate(cells):
        grid[:, 2 * j] = c.to_numpy(dtype=object)
    grid[:, 1::2] = ","
    grid[:, -1] = "\n"
    return (header + "\n" + "".join(grid.ravel().tolist())).encode("utf-8")


def _quoted(col: pd.Series) -> pd.Series:
    """RFC 4180 quoting: a cell with a comma, quote, CR or LF is quoted, its quotes doubled.

    (Python's csv writer with LF line ends leaves a lone CR unquoted, which splits the row.)
    Each distinct value is tested once: IDs and labels repeat over the rows.
    """
    text = col.astype(object)
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    u = pd.Series(uniques, dtype=object)
    need = u.str.contains(r'[,"\r\n]', regex=True).fillna(False).to_numpy(dtype=bool)
    if not need.any():
        return text
    u[need] = '"' + u[need].str.replace('"', '""', regex=False) + '"'
    return pd.Series(u.to_numpy(dtype=object)[codes], index=col.index, dtype=object)


# --- periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One plan period: its label (``Q1``), fiscal label (``FY2027-Q1``) and first/last day."""

    label: str
    fiscal_label: str
    start: dt.date
    end: dt.date


def plan_periods(sc: Scenario) -> list[Period]:
    """The plan's periods with ISO dates (:func:`allocopt.calendar.fiscal_periods`).

    The fiscal year is named after the calendar year it ends in (start 2026-07-01 → FY2027).
    """
    return [
        Period(p.label, p.fiscal_label, p.start, p.end)
        for p in fiscal_periods(sc.plan.fiscal_year_start, sc.plan.granularity)
    ]


# --- reading the run folder -------------------------------------------------------------------


def _bad(path: Path, message: str, field_: str = "", where: str = "") -> InputError:
    return InputError(
        Problem(str(path), where, field_, message),
        header=f"cannot export the run folder {path.parent}",
    )


def _read_run_csv(
    run_dir: Path, name: str, columns: Sequence[str], numeric: Sequence[str] = ()
) -> pd.DataFrame:
    """A run-folder CSV (:meth:`RunFolder.table`: all cells as text), the ``numeric`` columns
    parsed (finite numbers)."""
    path = run_dir / name
    df = _run_folder(run_dir, {}).table(name)
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise InputError(
            [Problem(str(path), "row 1", c, "required column is missing") for c in absent],
            header=f"cannot export the run folder {run_dir}",
        )
    for c in numeric:
        num = pd.to_numeric(df[c].where(df[c] != "", None), errors="coerce").astype(float)
        bad = np.flatnonzero(~np.isfinite(num.to_numpy()))
        if bad.size:
            i = int(bad[0])
            raise _bad(path, "must be a finite number", c, f"row {i + 2}")
        df[c] = num
    return df


def _run_folder(run_dir: Path, manifest: dict[str, Any]) -> RunFolder:
    return RunFolder(run_dir, manifest, f"cannot export the run folder {run_dir}")


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    return RunFolder.open(run_dir, f"cannot export the run folder {run_dir}").manifest


def _scenario(manifest: dict[str, Any], run_dir: Path) -> Scenario:
    sc: Scenario = _run_folder(run_dir, manifest).scenario()
    return sc


def _rep_names(run_dir: Path, manifest: dict[str, Any], sc: Scenario) -> dict[str, str]:
    """rep_id → name from the run's input reps table, when it is found unchanged (located from
    the run folder, checked by sha256) and has a name column."""
    from allocopt.data.tables import SPECS, TableSource, read_table

    loc = _run_folder(run_dir, manifest).locate("reps")
    if loc.path is None or loc.status == "changed":
        return {}
    ref = sc.data.reps
    sheet = getattr(ref, "sheet", None)
    res = read_table(SPECS["reps"], TableSource(loc.path, sheet))
    df = res.frame
    if df is None or "name" not in df.columns:
        return {}
    names = df["name"].fillna("").astype(str)
    return {str(r): n for r, n in zip(df["rep_id"], names, strict=True) if n}


def _read_id_map(path: Path) -> dict[str, str]:
    from allocopt.data.tables import Col, TableSource, TableSpec, read_table

    spec = TableSpec("id_map", (Col("rep_id", "id"), Col("external_id", "id")), key=("rep_id",))
    res = read_table(spec, TableSource(path, None, str(path)))
    problems = list(res.problems)
    df = res.frame
    if df is not None:
        dup = df["external_id"].duplicated(keep=False) & (df["external_id"] != "")
        for row, ext in zip(df.loc[dup, "_row"], df.loc[dup, "external_id"], strict=True):
            problems.append(
                Problem(
                    str(path),
                    f"row {row}",
                    "external_id",
                    "is given to more than one rep; their quotas would merge",
                    str(ext),
                )
            )
    if problems or df is None:
        raise InputError(problems, header=f"the ID map {path} cannot be used")
    return dict(zip(df["rep_id"].astype(str), df["external_id"].astype(str), strict=True))


# --- the data every format draws from ----------------------------------------------------------


@dataclass
class ExportData:
    """A run folder read for export: the plan's context and its tables, read on demand."""

    run_dir: Path
    manifest: dict[str, Any]
    scenario: Scenario
    id_map: dict[str, str] | None = None
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def currency(self) -> str:
        return self.scenario.plan.currency

    @cached_property
    def plan_id(self) -> str:
        """``<scenario name>:<run folder name>``."""
        return f"{self.scenario.name}:{self.run_dir.resolve().name}"

    @cached_property
    def periods(self) -> dict[str, Period]:
        return {p.label: p for p in plan_periods(self.scenario)}

    @cached_property
    def rep_names(self) -> dict[str, str]:
        return _rep_names(self.run_dir, self.manifest, self.scenario)

    def table(self, name: str, columns: Sequence[str], numeric: Sequence[str] = ()) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = _read_run_csv(self.run_dir, name, columns, numeric)
        return self._cache[name]

    @cached_property
    def quotas(self) -> pd.DataFrame:
        """quotas.csv in export order: rep_id, product (plan order), period (plan order)."""
        path = self.run_dir / "quotas.csv"
        df = self.table("quotas.csv", QUOTA_COLUMNS, ("quota",)).copy()
        unknown = ~df["period"].isin(list(self.periods))
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise _bad(
                path,
                f"is not a period of the plan ({', '.join(self.periods)})",
                "period",
                f"row {i + 2}",
            )
        dup = df.duplicated(["rep_id", "product", "period"])
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise _bad(path, "repeats a rep × product × period", "", f"row {i + 2}")
        prod_rank = {p: k for k, p in enumerate(self.scenario.products)}
        per_rank = {p: k for k, p in enumerate(self.periods)}
        n = len(prod_rank)
        extra = sorted(set(df["product"]) - set(prod_rank))
        prod_rank.update({p: n + k for k, p in enumerate(extra)})
        df["_p"] = _mapped(df["product"], prod_rank, -1, "int64")
        df["_t"] = _mapped(df["period"], per_rank, -1, "int64")
        df = df.sort_values(["rep_id", "_p", "_t"], kind="mergesort").drop(columns=["_p", "_t"])
        return df.reset_index(drop=True)

    def check_id_map(self) -> None:
        if self.id_map is None:
            return
        missing = sorted(set(self.quotas["rep_id"]) - set(self.id_map))
        if missing:
            shown = ", ".join(missing[:20]) + (
                f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            )
            raise InputError(
                Problem(
                    "--id-map",
                    "",
                    "rep_id",
                    f"has no external_id for {len(missing)} rep(s) of the plan: {shown}",
                ),
                header="the ID map does not cover the plan",
            )

    @cached_property
    def long(self) -> pd.DataFrame:
        """quotas.csv in export order with each period's fiscal label and ISO first/last day,
        the rep's name and its owner ID (mapped through the ID map, if any)."""
        q = self.quotas.copy()
        per = self.periods
        text = q["period"].dtype
        q["fiscal_period"] = _mapped(
            q["period"], {k: p.fiscal_label for k, p in per.items()}, None, text
        )
        q["start"] = _mapped(q["period"], {k: p.start for k, p in per.items()}, None, object)
        q["end"] = _mapped(q["period"], {k: p.end for k, p in per.items()}, None, object)
        q["period_start"] = _mapped(
            q["period"], {k: p.start.isoformat() for k, p in per.items()}, None, text
        )
        q["period_end"] = _mapped(
            q["period"], {k: p.end.isoformat() for k, p in per.items()}, None, text
        )
        q["rep_name"] = _mapped(q["rep_id"], self.rep_names, "", text)
        ids = self.id_map
        q["owner"] = q["rep_id"] if ids is None else _mapped(q["rep_id"], ids, None, text)
        return q


def _mapped(col: pd.Series, mapping: dict[Any, Any], default: Any, dtype: Any) -> pd.Series:
    """``col.map(mapping)`` (``default`` for a value not in it), looked up once per distinct
    value: the columns repeat a few periods and reps over every row."""
    codes, uniques = pd.factorize(col)
    values = [mapping.get(u, default) for u in uniques] + [default]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out[codes], index=col.index, dtype=dtype)


# --- the registry ------------------------------------------------------------------------------

Files = dict[str, bytes]
Writer = Callable[[ExportData], Files]


@dataclass(frozen=True)
class Format:
    """An export format: the function writing its files, a one-line description, and whether
    it is an SPM import (its owner IDs can be replaced through ``--id-map``)."""

    name: str
    writer: Writer
    description: str
    spm: bool = False


FORMATS: dict[str, Format] = {}

EXPORT_FILES = frozenset(
    {
        "quotas.csv",
        "quotas.xlsx",
        "varicent_quotas.csv",
        "ForecastingQuota.csv",
        "xactly_quotas.csv",
    }
)
"""Every file name a format writes: ``--force`` replaces only a folder holding nothing else."""


def register(name: str, description: str, *, spm: bool = False) -> Callable[[Writer], Writer]:
    """Add a format to :data:`FORMATS` (decorator)."""

    def deco(fn: Writer) -> Writer:
        FORMATS[name] = Format(name, fn, description, spm)
        return fn

    return deco


# --- the formats -------------------------------------------------------------------------------


@register("csv", "generic long CSV: rep × product × period with dates, currency and plan ID")
def _generic_csv(d: ExportData) -> Files:
    q = d.long
    out = pd.DataFrame(
        {
            "rep_id": q["rep_id"],
            "rep_name": q["rep_name"],
            "team_id": q["team_id"],
            "region_id": q["region_id"],
            "product": q["product"],
            "period": q["period"],
            "period_start": q["period_start"],
            "period_end": q["period_end"],
            "quota": q["quota"],
            "currency": d.currency,
            "plan_id": d.plan_id,
        }
    )
    return {"quotas.csv": csv_bytes(out)}


@register(
    "varicent", "Varicent quota file (Quota Component, Territory ID, Value, Period)", spm=True
)
def _varicent(d: ExportData) -> Files:
    q = d.long
    out = pd.DataFrame(
        {
            "Quota Component": q["product"],
            "Territory ID": q["owner"],
            "Value": q["quota"],
            "Period": q["fiscal_period"],
        }
    )
    return {"varicent_quotas.csv": csv_bytes(out)}


@register("salesforce", "Salesforce ForecastingQuota import CSV", spm=True)
def _salesforce(d: ExportData) -> Files:
    q = d.long
    out = pd.DataFrame(
        {
            "QuotaOwnerId": q["owner"],
            "PeriodId": q["fiscal_period"],
            "ProductFamily": q["product"],
            "QuotaAmount": q["quota"],
            "QuotaQuantity": None,
            "ForecastingTypeId": None,
            "CurrencyIsoCode": d.currency,
            "StartDate": q["period_start"],
        }
    )
    return {"ForecastingQuota.csv": csv_bytes(out)}


@register("xactly", "Xactly quota records (Name, Period Name, Value, Unit Type, ...)", spm=True)
def _xactly(d: ExportData) -> Files:
    q = d.long
    out = pd.DataFrame(
        {
            "Name": q["product"] + " Quota",
            "Period Name": q["fiscal_period"],
            "Value": q["quota"],
            "Unit Type": d.currency,
            "Position Name": q["owner"],
            "Description": q["product"],
        }
    )
    return {"xactly_quotas.csv": csv_bytes(out)}


@register("xlsx", "typed Excel workbook: Reps, Teams, Regions, Company, Key accounts")
def _xlsx(d: ExportData) -> Files:
    return {"quotas.xlsx": _workbook(d)}


# --- the Excel workbook ------------------------------------------------------------------------

# reproducible files: document dates fixed at the zip epoch, as in reproducible builds
_FIXED_TIME = dt.datetime(1980, 1, 1)
_LEVEL_SHEETS = {"team": "Teams", "region": "Regions", "company": "Company"}


@dataclass(frozen=True)
class _Sheet:
    title: str
    columns: list[tuple[str, Kind]]
    data: pd.DataFrame  # one column per entry of ``columns``, same order


def _reps_sheet(d: ExportData) -> _Sheet:
    q = d.long
    a = d.table("annual.csv", ("rep_id", "product", "quota"), ("quota",))
    annual = pd.Series(
        a["quota"].to_numpy(), index=pd.MultiIndex.from_arrays([a["rep_id"], a["product"]])
    )
    if not annual.index.is_unique:
        raise _bad(d.run_dir / "annual.csv", "repeats a rep × product")
    key = pd.MultiIndex.from_arrays([q["rep_id"], q["product"]])
    missing = ~key.isin(annual.index)
    if missing.any():
        r, p = key[int(np.flatnonzero(missing)[0])]
        raise _bad(
            d.run_dir / "annual.csv",
            f"has no row for rep {r!r} × product {p!r} of quotas.csv; the run folder is incomplete",
        )
    data = pd.DataFrame(
        {
            "rep_id": q["rep_id"],
            "rep_name": q["rep_name"],
            "team_id": q["team_id"],
            "region_id": q["region_id"],
            "product": q["product"],
            "period": q["period"],
            "period_start": q["start"],
            "period_end": q["end"],
            "quota": q["quota"],
            "annual_quota": annual.reindex(key).to_numpy(),
            "currency": d.currency,
        }
    )
    text: Kind = "text"
    kinds: list[Kind] = [text] * 6 + ["date", "date", "number", "number", "text"]
    return _Sheet("Reps", list(zip(map(str, data.columns), kinds, strict=True)), data)


def _level_sheets(d: ExportData) -> list[_Sheet]:
    cols = ("unit_id", "level", "product", "period", "quota")
    r = d.table("rollups.csv", cols, ("quota",))[list(cols)]
    kinds: list[Kind] = ["text", "text", "text", "text", "number"]
    levels = list(_LEVEL_SHEETS) + sorted(set(r["level"]) - set(_LEVEL_SHEETS))
    sheets = []
    used = {"reps", "key accounts", *(t.lower() for t in _LEVEL_SHEETS.values())}
    for lv in levels:
        title = _LEVEL_SHEETS.get(lv)
        if title is None:  # another level: a sheet named after it, unique (case-blind, as Excel)
            title = base = _sheet_title(lv)
            k = 2
            while title.lower() in used:
                title = f"{base[: 31 - len(str(k)) - 1]} {k}"
                k += 1
            used.add(title.lower())
        part = r[r["level"] == lv].reset_index(drop=True)
        sheets.append(_Sheet(title, list(zip(cols, kinds, strict=True)), part))
    return sheets


def _sheet_title(name: str) -> str:
    return (re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "level")[:31]


def _accounts_sheet(d: ExportData) -> _Sheet:
    a = d.table("assignments.csv", ("account_id", "incumbent_rep", "owner_rep"))
    kinds: list[Kind] = []
    data = pd.DataFrame(index=a.index)
    for c in a.columns:
        col = a[c]
        if c in ("account_id", "incumbent_rep", "owner_rep") or c.endswith("_id"):
            kinds.append("text")
            data[c] = col
        elif col.str.lower().isin(["true", "false"]).all() and len(col):
            kinds.append("bool")
            data[c] = col.str.lower() == "true"
        else:
            num = pd.to_numeric(col.where(col != "", None), errors="coerce")
            if (num.notna() | (col == "")).all():
                kinds.append("number")
                data[c] = num
            else:
                kinds.append("text")
                data[c] = col
    return _Sheet("Key accounts", list(zip(a.columns, kinds, strict=True)), data)


def _workbook(d: ExportData, *, per_cell: bool = False) -> bytes:
    """The workbook, written with XlsxWriter: typed cells, no formula ever made from text.

    The data rows go through :func:`_stream_sheet`: each column's cells built once per distinct
    value and joined as whole rows, 7× less CPU than a call per cell at monthly 20k.
    ``per_cell`` (or an XlsxWriter without the constant_memory row stream) writes every cell
    through XlsxWriter's public calls instead. Both give the same bytes.
    """
    import xlsxwriter

    sheets = [_reps_sheet(d), *_level_sheets(d), _accounts_sheet(d)]
    for sh in sheets:
        if len(sh.data) + 1 > EXCEL_MAX_ROWS:
            raise OutputError(
                f"sheet {sh.title!r} would need {len(sh.data) + 1:,} rows, more than Excel's "
                f"{EXCEL_MAX_ROWS:,}; export --format csv instead"
            )
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "constant_memory": True,  # rows streamed to temporary files: any plan size
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    # reproducible files: fixed document dates (XlsxWriter already fixes the zip entry times)
    wb.set_properties({"title": d.plan_id, "author": "allocopt", "created": _FIXED_TIME})
    fmt = {
        "header": wb.add_format({"bold": True, "num_format": "@"}),
        "text": wb.add_format({"num_format": "@"}),
        "quoted": wb.add_format({"num_format": "@", "quote_prefix": True}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "#,##0": wb.add_format({"num_format": "#,##0"}),
        "#,##0.00": wb.add_format({"num_format": "#,##0.00"}),
        "bool": wb.add_format({}),
    }
    last_rows: list[Callable[[], None]] = []
    for sh in sheets:
        ws = wb.add_worksheet(sh.title)
        n, m = len(sh.data), len(sh.columns)
        for j, (c, k) in enumerate(sh.columns):
            ws.set_column(j, j, _width(c, sh.data[c], k))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, n, max(0, m - 1))
        cols = None if per_cell or not _streamable(ws, fmt) else _stream_columns(ws, sh, fmt)
        if cols is None:
            _write_cells(ws, sh, fmt)
        else:
            last_rows.append(_stream_sheet(ws, cols))
    for write_last_row in last_rows:
        write_last_row()
    wb.close()
    return buf.getvalue()


def _write_cells(ws: Any, sh: _Sheet, fmt: dict[str, Any]) -> None:
    """A sheet written a cell at a time through XlsxWriter's public calls."""
    for j, (c, _k) in enumerate(sh.columns):
        ws.write_string(0, j, c, fmt["header"])
    writers = [_cell_writer(ws, k, fmt, _number_format(sh.data[c], k)) for c, k in sh.columns]
    columns = [sh.data[c].tolist() for c, _k in sh.columns]
    for i, row in enumerate(zip(*columns, strict=True), start=1):
        for j, (put, value) in enumerate(zip(writers, row, strict=True)):
            put(i, j, value)


# --- the streamed sheet: XlsxWriter's own cell XML, built per distinct value -------------------
#
# In constant_memory mode XlsxWriter writes each finished row as XML (``<row r="2"><c r="A2"
# s="2" t="inlineStr"><is><t>R1</t></is></c>…</row>``) to a temporary file that becomes the
# sheet's <sheetData>. _stream_sheet appends the same XML to that file itself: a column's cell
# is ``<c r="`` + column letter + row number + a part that depends only on the cell's value
# (escaped text, number, format index), so each part is made once per distinct value and the
# rows are joined as numpy object arrays. Formats get their index in the order XlsxWriter gives
# them (first use, row by row; a sheet's last row is written at close), so the file is the one
# the cell-at-a-time path writes, byte for byte (tests/test_export.py).

_RE_CONTROL_1 = re.compile("(_x[0-9a-fA-F]{4}_)")
_RE_CONTROL_2 = re.compile(r"([\x00-\x08\x0b-\x1f])")
_RE_EDGE_SPACE = re.compile(r"^\s|\s$")
_XLS_STRMAX = 32767  # characters (UTF-16 units) in a cell
_CHUNK_ROWS = 32768


@dataclass
class _Column:
    """One column of a streamed sheet: per row the index of its value's part,
    per distinct value its format (None: no ``s``) and the XML after it ("": no cell)."""

    letter: str
    codes: np.ndarray
    formats: list[Any]
    bodies: list[str]
    parts: np.ndarray | None = None  # object array, once the formats have their index

    def make_parts(self) -> None:
        """The parts with the formats' indices; None for a format without one yet (its value
        first appears in the sheet's last row, written at close)."""
        self.parts = np.array(
            [
                "" if not b else b if f is None else _with_index(f, b)
                for f, b in zip(self.formats, self.bodies, strict=True)
            ],
            dtype=object,
        )


def _with_index(f: Any, body: str) -> str | None:
    return None if f.xf_index is None else f'" s="{f.xf_index}"' + body[1:]


def _streamable(ws: Any, fmt: dict[str, Any]) -> bool:
    """Whether this XlsxWriter streams rows the way _stream_sheet appends to (3.x)."""
    need = ("fh", "row_data_fh", "previous_row", "table", "_check_dimensions", "_convert_date_time")
    return (
        bool(getattr(ws, "constant_memory", False))
        and all(hasattr(ws, a) for a in need)
        and ws.fh is ws.row_data_fh
        and ws.previous_row == 0
        and not ws.table
        and all(hasattr(f, "_get_xf_index") for f in fmt.values())
    )


def _text_body(ws: Any, s: str) -> str:
    """XlsxWriter's inline string cell after its ``s`` attribute (``_write_cell``)."""
    if len(s) > _XLS_STRMAX // 2 and len(s.encode("utf-16-le", "surrogatepass")) > 2 * _XLS_STRMAX:
        units = np.cumsum([2 if ord(ch) > 0xFFFF else 1 for ch in s])
        s = s[: int(np.searchsorted(units, _XLS_STRMAX, side="right"))]  # as XlsxWriter cuts
    s = _RE_CONTROL_1.sub(r"_x005F\1", s)
    s = _RE_CONTROL_2.sub(lambda mt: f"_x{ord(mt.group(1)):04X}_", s)
    s = s.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    if s.startswith("<r>") and s.endswith("</r>"):  # XlsxWriter's rich-string case, kept
        return f'" t="inlineStr"><is>{s}</is></c>'
    space = ' xml:space="preserve"' if _RE_EDGE_SPACE.search(s) else ""
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'" t="inlineStr"><is><t{space}>{s}</t></is></c>'


def _stream_column(ws: Any, j: int, kind: Kind, col: pd.Series, fmt: dict[str, Any]) -> _Column:
    """A column's codes and its distinct values' cells, as _cell_writer writes them."""
    from xlsxwriter.utility import xl_col_to_name

    formats: list[Any] = []
    bodies: list[str] = []
    if kind == "number":
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        if np.isinf(v).any():
            raise _NotStreamable  # XlsxWriter refuses it; the cell-at-a-time path says how
        codes, uniq = pd.factorize(v.view(np.int64))  # by bits: -0.0 stays "-0"
        f = fmt[_number_format(col, kind)]
        for x in uniq.view(np.float64):
            formats.append(f)
            bodies.append("" if math.isnan(x) else f'"><v>{float(x):.16G}</v></c>')
    else:
        codes, uniq = pd.factorize(col.to_numpy(dtype=object))
        if kind == "text":
            for u in uniq:
                s = str(u)
                if s == "":
                    formats.append(fmt["text"])
                    bodies.append('"/>')
                else:
                    formats.append(
                        fmt["quoted"] if s.startswith(DANGEROUS_PREFIXES) else fmt["text"]
                    )
                    bodies.append(_text_body(ws, s))
        elif kind == "date":
            for u in uniq:
                if not isinstance(u, dt.date):
                    raise _NotStreamable
                formats.append(fmt["date"])
                bodies.append(f'"><v>{ws._convert_date_time(u):.16G}</v></c>')
        else:
            for u in uniq:
                formats.append(None)
                bodies.append(f'" t="b"><v>{1 if u else 0}</v></c>')
    # the missing values (code -1): a formatted blank in a text column, else no cell
    codes = np.where(codes < 0, len(bodies), codes).astype(np.intp)
    formats.append(fmt["text"] if kind == "text" else None)
    bodies.append('"/>' if kind == "text" else "")
    return _Column(xl_col_to_name(j), codes, formats, bodies)


class _NotStreamable(Exception):
    """A value the streamed path does not write (the cell-at-a-time path handles it)."""


def _stream_columns(ws: Any, sh: _Sheet, fmt: dict[str, Any]) -> list[_Column] | None:
    """The sheet's columns, header first as row 0 (None: write it a cell at a time)."""
    try:
        cols = [_stream_column(ws, j, k, sh.data[c], fmt) for j, (c, k) in enumerate(sh.columns)]
    except _NotStreamable:
        return None
    for j, (c, _k) in enumerate(sh.columns):  # the header: one more (first) row of each column
        body = _text_body(ws, c)
        col = cols[j]
        col.codes = np.concatenate([[len(col.bodies)], col.codes])
        col.formats.append(fmt["header"])
        col.bodies.append(body)
    return cols


def _stream_sheet(ws: Any, cols: list[_Column]) -> Callable[[], None]:
    """Append a sheet's rows (all but its last) to XlsxWriter's row stream; return the function
    writing the last one, to be called once every sheet is written (as XlsxWriter does)."""
    n = len(cols[0].codes) if cols else 0
    has_cell = np.zeros(n, dtype=bool)
    for c in cols:
        has_cell |= np.array([b != "" for b in c.bodies])[c.codes]
    rows = np.flatnonzero(has_cell)
    last = int(rows[-1]) if rows.size else -1
    # formats take their index at their first use, row by row, left to right
    uses: list[tuple[int, int, Any]] = []
    for j, c in enumerate(cols):
        first = np.full(len(c.bodies), n, dtype=np.intp)
        np.minimum.at(first, c.codes, np.arange(n))
        for u, (f, b) in enumerate(zip(c.formats, c.bodies, strict=True)):
            if f is not None and b and first[u] < last:
                uses.append((int(first[u]), j, f))
    for _i, _j, f in sorted(uses, key=lambda t: (t[0], t[1])):
        f._get_xf_index()
    for c in cols:
        c.make_parts()
    for lo in range(0, max(last, 0), _CHUNK_ROWS):
        ws.fh.write(_rows_xml(cols, lo, min(last, lo + _CHUNK_ROWS)))

    def write_last_row() -> None:
        if last < 0:
            return
        for c in cols:  # formats first used in the last row: their index now
            f, b = c.formats[c.codes[last]], c.bodies[c.codes[last]]
            if f is not None and b:
                f._get_xf_index()
            c.make_parts()
        ws.fh.write(_rows_xml(cols, last, last + 1))
        # the sheet's <dimension>: from its first to its last cell, as its cells would set it
        used = [j for j, c in enumerate(cols) if any(c.bodies[u] for u in np.unique(c.codes))]
        ws._check_dimensions(int(rows[0]), used[0])
        ws._check_dimensions(last, used[-1])
        ws.previous_row = last

    return write_last_row


def _rows_xml(cols: list[_Column], lo: int, hi: int) -> str:
    """Rows lo..hi-1 (0-based sheet rows) as XlsxWriter writes them; rows without a cell are
    left out. The pieces are laid out as a grid, one row per sheet row (``<row r="``, number,
    ``">``, then per column ``<c r="A``, number, part, then ``</row>``), and joined once."""
    k, m = hi - lo, len(cols)
    num = np.arange(lo + 1, hi + 1).astype(str).astype(object)
    grid = np.empty((k, 3 * m + 4), dtype=object)
    grid[:, 0], grid[:, 1], grid[:, 2], grid[:, -1] = '<row r="', num, '">', "</row>"
    any_cell = np.zeros(k, dtype=bool)
    for j, c in enumerate(cols):
        assert c.parts is not None
        codes = c.codes[lo:hi]
        empty = c.parts[codes] == ""
        at = 3 + 3 * j
        grid[:, at], grid[:, at + 1], grid[:, at + 2] = '<c r="' + c.letter, num, c.parts[codes]
        grid[empty, at : at + 3] = ""
        any_cell |= ~empty
    grid[~any_cell] = ""
    return "".join(grid.ravel().tolist())


def _cell_writer(ws: Any, kind: Kind, fmt: dict[str, Any], num: str) -> Callable[..., None]:
    """A function (row, col, value) writing one typed cell of ``kind``; blanks stay blank."""

    def blank(v: Any) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT

    if kind == "text":
        text, quoted = fmt["text"], fmt["quoted"]

        def put_text(i: int, j: int, v: Any) -> None:
            if blank(v) or v == "":
                ws.write_blank(i, j, None, text)
                return
            v = str(v)
            # a text cell is never a formula; quote_prefix also keeps Excel from making one
            # when the analyst edits the cell
            ws.write_string(i, j, v, quoted if v.startswith(DANGEROUS_PREFIXES) else text)

        return put_text
    if kind == "number":
        f = fmt[num]

        def put_number(i: int, j: int, v: Any) -> None:
            if not blank(v):
                ws.write_number(i, j, float(v), f)

        return put_number
    if kind == "date":
        f = fmt["date"]

        def put_date(i: int, j: int, v: Any) -> None:
            if not blank(v):
                ws.write_datetime(i, j, v, f)

        return put_date

    def put_bool(i: int, j: int, v: Any) -> None:
        if not blank(v):
            ws.write_boolean(i, j, bool(v))

    return put_bool


def _number_format(col: pd.Series, kind: Kind) -> str:
    if kind != "number":
        return ""
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return "#,##0" if bool(np.all(v == np.round(v))) else "#,##0.00"


def _width(name: str, col: pd.Series, kind: Kind) -> float:
    if kind == "date":
        longest = 10
    elif kind == "number":
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        big = float(np.abs(v).max()) if v.size else 0.0
        longest = len(f"{big:,.2f}") + 1
    elif kind == "bool":
        longest = 5
    else:
        longest = int(col.astype(str).str.len().max()) if len(col) else 0
    return float(min(60, max(len(name) + 3, longest + 2)))  # + room for the filter button


# --- the entry point ---------------------------------------------------------------------------


def export_run(
    run_dir: Path,
    fmt: str,
    out: Path,
    *,
    force: bool = False,
    id_map: Path | None = None,
) -> list[Path]:
    """Export a run folder as ``fmt`` into the new folder ``out``; return the files written.

    ``id_map`` (a table with rep_id, external_id) replaces the owner ID in the SPM formats
    (varicent, salesforce, xactly); every rep of the plan must be mapped. Raises InputError for
    an unknown format, a missing or incomplete run folder or a bad ID map, OutputError when
    ``out`` exists (without ``force``) or cannot be written.
    """
    spec = FORMATS.get(fmt)
    if spec is None:
        raise InputError(
            Problem(
                "--format",
                "",
                "",
                f"unknown export format {fmt!r}; choose one of {', '.join(sorted(FORMATS))}",
            ),
            header="bad export format",
        )
    if id_map is not None and not spec.spm:
        spm = ", ".join(sorted(n for n, f in FORMATS.items() if f.spm))
        raise InputError(
            Problem("--id-map", "", "", f"applies only to the SPM formats ({spm}), not {fmt}"),
            header="bad export options",
        )
    manifest = _read_manifest(run_dir)
    sc = _scenario(manifest, run_dir)
    run_abs, out_abs = run_dir.resolve(), out.resolve()
    if out_abs == run_abs or out_abs in run_abs.parents or run_abs in out_abs.parents:
        raise OutputError(
            f"{out} is, contains or lies inside the run folder {run_dir}, which is never "
            "changed; export into another folder"
        )
    if out.exists() and not force:
        raise OutputError(
            f"{out} exists already; choose another --out or add --force to replace it"
        )
    mapping = _read_id_map(id_map) if id_map is not None else None
    data = ExportData(run_dir, manifest, sc, mapping)
    data.check_id_map()
    files = spec.writer(data)
    contents: dict[str, Content] = dict(files)
    protect = [id_map] if id_map is not None else []
    write_run(
        out,
        contents,
        force=force,
        kinds=(),
        names=EXPORT_FILES,
        protect=protect,
        what="export folder",
    )
    return [out / name for name in files]
