"""Read the data tables (CSV, Excel sheet, Parquet) as typed DataFrames with located problems.

Every cell is first read as text (IDs stay text: ``00123`` and ``NA`` survive), then parsed per
column kind; column-level rules (ranges, required values, unique keys) are declared as pandera
checks and evaluated vectorised (:func:`_rule_problems`; pandera itself only for a check kind the
evaluator does not know). Each frame keeps a ``_row`` column: the row number as a spreadsheet
shows it (header = row 1).

A CSV file takes the fastest reader that gives exactly the cells of the others: pyarrow's
multithreaded parser (every column typed as text, cells kept in Arrow until parsed: stripping,
blank tests and plain decimal numbers stay vectorised), else pandas' C parser, else Python's
``csv`` module, which locates every malformed line; a reader declines (returns None) whenever
the next one could see the file differently.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from allocopt.errors import Problem
from allocopt.scenario.schema import MAX_AMOUNT

Kind = Literal["id", "text", "number", "int", "date", "bool"]
ROW = "_row"

# Largest magnitude of a number in a table or an operation's result. Money keeps cent precision
# in float64 up to 2**53 cents ≈ 9.0e13, and sums of many rows stay far from overflow; larger
# values (1e300) are typos or wrong units. See docs/data.md, "Limits on numbers, dates and files".
MAX_ABS = MAX_AMOUNT  # one maximum for the tables and the scenario's amounts (1e13)
MAX_ABS_TEXT = "1e13 (10,000,000,000,000)"
TOO_LARGE = (
    f"is too large: numbers must be at most {MAX_ABS_TEXT} in absolute value; "
    "correct the value, or give all amounts in thousands"
)
_SHOW_CHARS = 80  # a bad cell is echoed up to this many characters
_CLIPPED = re.compile(r"… \([0-9,]+ characters\)")


def clip(text: str, limit: int = _SHOW_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying its length: ``abc… (50,000 characters)``."""
    if len(text) <= limit or _CLIPPED.fullmatch(text, limit):  # short, or cut already
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


@dataclass(frozen=True)
class Col:
    """One column of a table: its kind, whether it must exist and be filled, and its checks."""

    name: str
    kind: Kind
    required: bool = True  # the column must be present
    filled: bool = True  # every row needs a value (when the column is present)
    checks: tuple[pa.Check, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A table: its columns and its unique key."""

    name: str
    cols: tuple[Col, ...]
    key: tuple[str, ...] = ()
    optional: bool = False

    def col(self, name: str) -> Col:
        return next(c for c in self.cols if c.name == name)


_GE0 = (pa.Check.ge(0, error="must be ≥ 0"),)
_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_NON_FINITE = {"inf", "infinity", "nan", "1.#inf", "1.#qnan"}
_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_TRUE = [k for k, v in _BOOL.items() if v]
_FALSE = [k for k, v in _BOOL.items() if not v]

SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in (
        TableSpec(
            "org_units",
            (
                Col("unit_id", "id"),
                Col("parent_id", "id", filled=False, hint="blank only for the root unit"),
                Col("name", "text", required=False, filled=False),
                Col("level", "text"),
            ),
            key=("unit_id",),
        ),
        TableSpec(
            "reps",
            (
                Col("rep_id", "id"),
                Col("team_id", "id"),
                Col("name", "text", required=False, filled=False),
                Col("role", "text", required=False, filled=False),
                Col(
                    "fte",
                    "number",
                    checks=(pa.Check.in_range(0, 1, include_min=False, error="must be in (0, 1]"),),
                ),
                Col("start_date", "date", required=False, filled=False),
                Col("end_date", "date", required=False, filled=False),
                Col("capacity", "number", checks=_GE0),
                Col("ly_quota", "number", required=False, filled=False, checks=_GE0),
                Col("ly_actual", "number", required=False, filled=False, checks=_GE0),
                Col("max_accounts", "int", required=False, filled=False, checks=_GE0),
                Col("max_workload", "number", required=False, filled=False, checks=_GE0),
            ),
            key=("rep_id",),
        ),
        TableSpec(
            "potential",
            (Col("rep_id", "id"), Col("product", "id"), Col("potential", "number", checks=_GE0)),
            key=("rep_id", "product"),
        ),
        TableSpec(
            "accounts",
            (
                Col("account_id", "id"),
                Col("product", "id"),
                Col("name", "text", required=False, filled=False),
                Col("revenue", "number", checks=_GE0),
                Col("key", "bool"),
                Col("incumbent_rep", "id", required=False, filled=False),
            ),
            key=("account_id", "product"),
        ),
        TableSpec(
            "candidates",
            (
                Col("account_id", "id"),
                Col("rep_id", "id"),
                Col("cost", "number", required=False, filled=False),
                Col("workload", "number", required=False, filled=False, checks=_GE0),
            ),
            key=("account_id", "rep_id"),
            optional=True,
        ),
        TableSpec(
            "seasonality",
            (Col("product", "id"), Col("period", "id"), Col("weight", "number", checks=_GE0)),
            key=("product", "period"),
        ),
        TableSpec(
            "actuals",
            (
                Col("rep_id", "id"),
                Col("product", "id"),
                Col("period", "id"),
                Col("amount", "number"),
            ),
            key=("rep_id", "product", "period"),
            optional=True,
        ),
        TableSpec(
            "performance",
            (
                Col("rep_id", "id"),
                Col(
                    "factor",
                    "number",
                    checks=(pa.Check.gt(0, error="must be > 0"),),
                ),
                Col("reason", "text", required=False, filled=False),
                Col("n_periods", "number", required=False, filled=False, checks=_GE0),
            ),
            key=("rep_id",),
            optional=True,
        ),
        TableSpec(
            "attainment_history",
            (
                Col("rep_id", "id"),
                Col("year", "id"),
                Col("quota", "number", checks=_GE0),
                Col("actual", "number", checks=_GE0),
            ),
            key=("rep_id", "year"),
            optional=True,
        ),
        TableSpec(
            "incentive_reps",
            (
                Col("rep_id", "id"),
                Col("target_incentive", "number", required=False, filled=False, checks=_GE0),
                Col("commission_rate", "number", required=False, filled=False, checks=_GE0),
            ),
            key=("rep_id",),
            optional=True,
        ),
    )
}


@dataclass
class TableSource:
    """Where a table comes from: a file (and sheet), shown in messages as ``label``."""

    path: Path
    sheet: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            self.label = str(self.path) + (f"[{self.sheet}]" if self.sheet else "")


@dataclass
class ReadResult:
    frame: pd.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    complete: bool = True  # False when rows were dropped (the frame must not serve as a lookup)


def read_table(spec: TableSpec, source: TableSource) -> ReadResult:
    """Read and type one table; problems are collected, never raised."""
    raw = _read_raw(source)
    if isinstance(raw, Problem):
        return ReadResult(None, [raw])
    header, rows, problems = raw
    res = _typed(spec, source, header, rows, problems)
    formulas = {(p.where, p.field) for p in problems if _FORMULA in p.message}
    if formulas:  # a formula cell without a value reads as blank: say only what it is
        names = {c.name for c in spec.cols}
        res.problems = [
            p
            for p in res.problems
            if not ((p.where, p.field) in formulas and p.message.startswith("is blank"))
            and not (_FORMULA in p.message and p.where != "row 1" and p.field not in names)
        ]
    return res


# --- raw reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """Cells read column by column (fast path): one text array per header column."""

    lines: np.ndarray  # spreadsheet row number of each record
    cols: list[Any]  # object arrays of str, or (the pyarrow reader) Arrow string arrays
    bare: bool = False  # True: no cell starts or ends with whitespace (nothing to strip)
    arrow: bool = False  # True: ``cols`` are pyarrow ChunkedArrays of (unstripped) text


_Raw = tuple[list[str], "list[tuple[int, list[str]]] | _Columns", list[Problem]]


def _read_raw(src: TableSource) -> _Raw | Problem:
    p = src.path
    if not p.exists():
        return Problem(
            src.label, "", "", "file not found; check the path in the scenario's data section"
        )
    if p.is_dir():
        return Problem(src.label, "", "", "is a folder, not a table file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            return _read_excel(src)
        if suffix == ".parquet":
            return _read_parquet(src)
        return _read_csv(src)
    except Exception as exc:  # a broken file of any kind must become a located problem
        return Problem(src.label, "", "", f"cannot be read: {exc}")


def _read_csv(src: TableSource) -> _Raw | Problem:
    data = src.path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return Problem(
            src.label, "line 1", "", "the file is empty; it needs a header row and data rows"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return Problem(
            src.label,
            f"line {line}",
            "",
            f"is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8 CSV",
        )
    wrong = _delimiter_problem(src, text)
    if wrong is not None:
        return wrong
    fast = _read_csv_arrow(data, text)
    if fast is None:
        fast = _read_csv_fast(text)
    if fast is not None:
        return fast
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader)
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue  # blank line
            rows.append((reader.line_num, fields))
    except csv.Error as exc:
        return Problem(
            src.label,
            f"line {reader.line_num}",
            "",
            f'is not valid CSV: {exc}; check the quotes (") on or before this line',
        )
    return header, rows, problems


def _delimiter_problem(src: TableSource, text: str) -> Problem | None:
    """A header line split by ';' or tabs rather than commas (Excel's regional CSV)."""
    header = text[: text.find("\n")] if "\n" in text else text
    commas = header.count(",")
    for sep, name, shown in ((";", "semicolon", "';'"), ("\t", "tab", "tabs")):
        n = header.count(sep)
        if n > commas:
            have = f"{n} {shown}" if sep == ";" else f"{n} tab{'s' if n != 1 else ''}"
            others = f"only {commas} ','" if commas else "no ','"
            return Problem(
                src.label,
                "line 1",
                "",
                f"the file looks {name}-delimited (its header line has {have} and {others}); "
                "allocopt reads comma-separated CSV: save it as CSV (comma delimited) — in "
                f"Excel: Save As, CSV UTF-8 (Comma delimited) — or replace the {name}s by commas "
                "(and decimal commas by points)",
            )
    return None


def _read_csv_arrow(data: bytes, text: str) -> _Raw | None:
    """pyarrow's CSV parser, every column as text; None when the other readers must decide.

    Same condition as :func:`_read_csv_fast` (one record per physical line, so row numbers are
    exact) and, besides, every record has exactly the header's number of fields (pandas pads a
    short record; pyarrow refuses it, and then pandas reads the file). On every other input the
    two parsers give the same cells (quotes, doubled quotes, text after a closing quote, CRLF,
    blank lines: tests/test_table_read.py).
    """
    import pyarrow as pa_
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    end = text.find("\n")
    first = text if end < 0 else text[:end]
    try:
        width = len(next(csv.reader([first])))
    except (csv.Error, StopIteration):
        return None
    body = text[:-1] if text.endswith("\n") else text
    n_lines = body.count("\n") + 1
    try:
        table = pacsv.read_csv(
            pa_.py_buffer(data),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{j}": pa_.string() for j in range(width)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa_.ArrowException, ValueError):
        return None
    if table.num_rows != n_lines or table.num_columns != width or width == 0:
        return None
    header = [str(table.column(j)[0].as_py()) for j in range(width)]
    data_cols = [table.column(j).slice(1) for j in range(width)]
    lines = np.arange(2, n_lines + 1, dtype=np.int64)
    if n_lines > 1:
        blank = pc.equal(data_cols[0], "")
        for col in data_cols[1:]:
            blank = pc.and_(blank, pc.equal(col, ""))
        if pc.any(blank).as_py():
            keep = pc.invert(blank)
            data_cols = [col.filter(keep) for col in data_cols]
            lines = lines[~blank.to_numpy(zero_copy_only=False)]
    return header, _Columns(lines, data_cols, arrow=True), []


def _read_csv_fast(text: str) -> _Raw | None:
    """pandas' C parser, all cells as text; None when the slow path must locate something.

    Used only when every physical line is one record (no quoted line breaks) and no row has
    more fields than the header, so row numbers are exact.
    """
    body = text[:-1] if text.endswith("\n") else text
    n_lines = body.count("\n") + 1
    try:
        df = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=object,  # Python str cells: no arrow round trip (pandas 3 reads str as arrow)
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError):
        return None
    if len(df) != n_lines or df.shape[1] == 0:
        return None
    cells = df.fillna("").to_numpy(dtype=object)
    header = [str(h) for h in cells[0]]
    data = cells[1:]
    lines = np.arange(2, len(cells) + 1, dtype=np.int64)
    blank = (data == "").all(axis=1) if data.size else np.zeros(len(data), dtype=bool)
    if blank.any():
        data, lines = data[~blank], lines[~blank]
    cols = [data[:, j] for j in range(data.shape[1])]
    return header, _Columns(lines, cols, bare=_no_cell_whitespace(text)), []


# whitespace str.strip removes, other than the space and the line feed
_OTHER_SPACE = re.compile(
    "[\t\r\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


def _no_cell_whitespace(text: str) -> bool:
    """Whether no cell of a one-record-per-line CSV text can start or end with whitespace:
    the only whitespace is spaces inside cells (never next to a comma, quote or line end) and
    the line feeds between records. Substring tests over the text, far cheaper than a strip per
    cell; False only costs the strip."""
    if text[:1] == " " or text.rstrip("\n")[-1:] == " ":
        return False
    if any(pair in text for pair in (", ", " ,", "\n ", " \n", '" ', ' "')):
        return False
    if text.isascii():  # one fast pass; then single-character finds, no regex scan
        return not any(ch in text for ch in "\t\r\x0b\x0c\x1c\x1d\x1e\x1f")
    return _OTHER_SPACE.search(text) is None


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))
    if hasattr(v, "isoformat"):
        return str(v.isoformat())[:10]
    return str(v)


def _read_excel(src: TableSource) -> _Raw | Problem:
    import openpyxl

    wb = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    try:
        if src.sheet is None:
            ws = wb.worksheets[0]
        elif src.sheet in wb.sheetnames:
            ws = wb[src.sheet]
        else:
            return Problem(
                src.label,
                "",
                "sheet",
                f"no sheet {src.sheet!r}; the workbook's sheets are: {', '.join(wb.sheetnames)}; "
                "correct the sheet name",
                value=src.sheet,
            )
        it = ws.iter_rows(values_only=True)
        first = next(it, None)
        if first is None:
            return Problem(src.label, "row 1", "", "the sheet is empty; it needs a header row")
        header = [_cell_text(v) for v in first]
        while header and header[-1] == "":
            header.pop()
        rows: list[tuple[int, list[str]]] = []
        has_blank = "" in header
        for i, values in enumerate(it, start=2):
            cells = [_cell_text(v) for v in values]
            while len(cells) > len(header) and cells[-1] == "":
                cells.pop()
            if all(not c.strip() for c in cells):
                has_blank = True  # a whole row of formulas without values looks blank too
                continue
            has_blank = has_blank or len(cells) < len(header) or "" in cells
            rows.append((i, cells))
        sheet_xml = getattr(ws, "_worksheet_path", None)
        problems: list[Problem] = []
        if has_blank and isinstance(sheet_xml, str):  # only then can a formula hide
            problems = _formula_problems(src, sheet_xml, header)
        return header, rows, problems
    finally:
        wb.close()


_FORMULA = "is a formula without a value"
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _formula_problems(src: TableSource, sheet_xml: str, header: list[str]) -> list[Problem]:
    """Formula cells with no cached value (openpyxl reads them as blank), located.

    A workbook written by a program (openpyxl, pandas) stores formulas without computing
    them; only a spreadsheet application saves their values. A formula whose cached value is
    the empty string (``t="str"`` with an empty ``<v>``) is a real blank and is not reported.
    """
    import zipfile
    from xml.etree.ElementTree import iterparse

    out: list[Problem] = []
    row, col = 0, 0
    with zipfile.ZipFile(src.path) as z:
        data = z.read(sheet_xml)
    if not _FORMULA_TAG.search(data):  # no formula at all: nothing to parse
        return out
    with io.BytesIO(data) as f:
        for event, el in iterparse(f, events=("start", "end")):
            tag = el.tag.rsplit("}", 1)[-1]
            if event == "start":
                if tag == "row":
                    r = el.get("r")
                    row, col = (int(r) if r else row + 1), 0
                continue
            if tag == "c":
                ref = el.get("r")
                col = _column_number(ref) if ref else col + 1
                formula = next((ch for ch in el if ch.tag.rsplit("}", 1)[-1] == "f"), None)
                if formula is not None and el.get("t") not in ("str", "inlineStr", "s", "e"):
                    value = next((ch for ch in el if ch.tag.rsplit("}", 1)[-1] == "v"), None)
                    if value is None or not (value.text or "").strip():
                        name = header[col - 1] if col <= len(header) else ""
                        if row == 1 or name:
                            cell = ref or f"{_column_letters(col)}{row}"
                            out.append(
                                Problem(
                                    src.label,
                                    f"row {row}",
                                    name.strip(),
                                    f"cell {cell} {_FORMULA}: open and save the file in Excel "
                                    "(or LibreOffice), or paste the values",
                                    value=clip("=" + (formula.text or "")),
                                )
                            )
                el.clear()
            elif tag == "row":
                el.clear()
    return out


def _column_number(ref: str) -> int:
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + ord(ch.upper()) - 64
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _read_parquet(src: TableSource) -> _Raw | Problem:
    df = pd.read_parquet(src.path)
    header = [str(c) for c in df.columns]
    rows = [
        (i + 2, [_cell_text(None if _isna(v) else v) for v in rec])
        for i, rec in enumerate(df.itertuples(index=False, name=None))
    ]
    return header, rows, []


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# --- typing ------------------------------------------------------------------------------------


def _typed(
    spec: TableSpec,
    src: TableSource,
    header: list[str],
    rows: list[tuple[int, list[str]]] | _Columns,
    problems: list[Problem],
) -> ReadResult:
    label = src.label
    clean = [h.strip() for h in header]
    known = {c.name for c in spec.cols}
    seen: dict[str, int] = {}
    for i, h in enumerate(clean):
        if h in seen:
            problems.append(
                Problem(
                    label,
                    "row 1",
                    h,
                    f"column appears twice (columns {seen[h] + 1} and {i + 1}); keep one",
                )
            )
        else:
            seen[h] = i
    for c in spec.cols:
        if c.required and c.name not in seen:
            hint = _suggest(c.name, [h for h in clean if h not in known])
            problems.append(Problem(label, "row 1", c.name, f"required column is missing{hint}"))
    if not len(rows.lines if isinstance(rows, _Columns) else rows):
        problems.append(Problem(label, "row 2", "", "has a header but no data rows; add rows"))
    width = len(header)
    good_rows: list[tuple[int, list[str]]] = []
    complete = True
    for line, fields in [] if isinstance(rows, _Columns) else rows:
        if len(fields) > width:
            complete = False
            problems.append(
                Problem(
                    label,
                    f"row {line}",
                    "",
                    f"has {len(fields)} fields but the header has {width}; "
                    "remove the extra field or quote a value that contains a comma",
                )
            )
            continue
        good_rows.append((line, fields + [""] * (width - len(fields))))
    if isinstance(rows, _Columns):
        lines, columns = rows.lines, rows.cols
    else:
        lines = np.array([ln for ln, _ in good_rows], dtype=np.int64)
        columns = [np.array([f[j] for _, f in good_rows], dtype=object) for j in range(width)]
    if any(p.field in known and "column" in p.message for p in problems) or not len(lines):
        return ReadResult(None, problems)

    idx = {h: seen[h] for h in seen}
    data: dict[str, Any] = {ROW: lines}
    present = [c for c in spec.cols if c.name in idx]
    for c in present:
        cells = columns[idx[c.name]]
        if isinstance(rows, _Columns) and rows.arrow:
            import pyarrow.compute as pc

            arr = pc.utf8_trim(cells, characters=_WHITESPACE)  # exactly str.strip()
            parsed = _parse_arrow(c, arr, data[ROW], label, problems)
            if parsed is not None:
                data[c.name] = parsed
                continue
            cells = _arrow_text(arr)
            text = pd.Series(cells, dtype=object)
        else:
            bare = isinstance(rows, _Columns) and rows.bare
            text = pd.Series(cells if bare else _stripped(cells), dtype=object)
        data[c.name] = _parse(c, text, data[ROW], label, problems)
    frame = pd.DataFrame(data)
    for c in spec.cols:
        if c.name not in frame:
            frame[c.name] = _missing_column(c, len(frame))
    problems.extend(_rule_problems(spec, present, frame, label))
    return ReadResult(frame, problems, complete)


# every character str.strip() removes (Python's whitespace), for pyarrow's utf8_trim
_WHITESPACE = "".join(chr(i) for i in range(0x110000) if chr(i).isspace())
# a plain decimal: both pandas' parser and pyarrow's give the correctly rounded double when it
# has at most 15 characters (an integer mantissa below 2**53 over an exact power of ten)
_PLAIN_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
_PLAIN_MAX_CHARS = 15


def _arrow_text(arr: Any) -> np.ndarray:
    """An Arrow string array as an object array of Python str (what the other readers give),
    one str object per distinct value (a product or team ID repeated over a million rows is
    one object, as pandas' C parser shares them)."""
    import pyarrow as pa_
    import pyarrow.compute as pc

    if isinstance(arr, pa_.ChunkedArray):
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(arr)
    values = np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    out: np.ndarray = values[enc.indices.to_numpy(zero_copy_only=False)]
    return out


def _parse_arrow(
    c: Col, arr: Any, rows: np.ndarray, label: str, problems: list[Problem]
) -> Any | None:
    """:func:`_parse` on a stripped Arrow text column, vectorised in Arrow; None when the column
    needs the general parser (dates; numbers that are not all plain decimals; non-ASCII bools).

    Gives the same values and problems (same messages, same order) as :func:`_parse`.
    """
    import pyarrow as pa_
    import pyarrow.compute as pc

    if c.kind == "date":
        return None
    blank_a = pc.equal(arr, "")
    blank = np.asarray(blank_a.to_numpy(zero_copy_only=False), dtype=bool)
    if c.kind in ("id", "text"):
        out = pd.Series(_arrow_text(arr), dtype=object)
        if c.filled:
            for i in np.flatnonzero(blank):
                msg = f"is blank; fill in {'an ID' if c.kind == 'id' else 'a value'}{_hint(c)}"
                problems.append(Problem(label, f"row {rows[i]}", c.name, msg))
        return out
    if c.kind == "bool":
        if not pc.all(pc.string_is_ascii(arr)).as_py():
            return None
        low = pc.ascii_lower(arr)
        yes = np.asarray(pc.is_in(low, value_set=pa_.array(_TRUE)).to_numpy(), dtype=bool)
        no = np.asarray(pc.is_in(low, value_set=pa_.array(_FALSE)).to_numpy(), dtype=bool)
        values = np.full(len(blank), np.nan, dtype=object)
        values[yes] = True
        values[no] = False
        bad = ~blank & ~yes & ~no
        told = np.zeros(len(bad), dtype=bool)
        text = lambda i: str(arr[i].as_py())  # noqa: E731
        _cell_problems(c, "true or false", bad, told, blank, text, rows, label, problems)
        return pd.Series(values, dtype=object)
    # number / int: only when every filled cell is a plain decimal of at most 15 characters
    filled = pc.invert(blank_a)
    if len(arr) and pc.any(filled).as_py():
        cells = arr.filter(filled)
        if (
            pc.max(pc.utf8_length(cells)).as_py() > _PLAIN_MAX_CHARS
            or not pc.all(pc.match_substring_regex(cells, _PLAIN_DECIMAL)).as_py()
        ):
            return None
    try:
        parsed_a = pc.cast(pc.if_else(blank_a, pa_.scalar(None, pa_.string()), arr), pa_.float64())
    except (pa_.ArrowException, ValueError):
        return None
    parsed = np.asarray(parsed_a.to_numpy(zero_copy_only=False), dtype=float)
    if (np.signbit(parsed) & (parsed == 0)).any():
        return None  # pandas reads an integer "-0" as 0.0, a decimal "-0.0" as -0.0
    return _number_values(c, parsed, blank, lambda i: str(arr[i].as_py()), rows, label, problems)


def _stripped(cells: np.ndarray) -> np.ndarray:
    """Each cell without surrounding whitespace, as an object array of str (one pass; a cell
    with nothing to strip is kept as it is)."""
    out = np.empty(len(cells), dtype=object)
    try:
        out[:] = [v.strip() for v in cells]
    except AttributeError:  # a non-text cell
        out[:] = [str(v).strip() for v in cells]
    return out


def _missing_column(c: Col, n: int) -> pd.Series:
    if c.kind in ("number", "int"):
        return pd.Series(np.full(n, np.nan))
    if c.kind == "date":
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[s]")
    return pd.Series([""] * n, dtype=object)


def _parse(c: Col, text: pd.Series, rows: np.ndarray, label: str, problems: list[Problem]) -> Any:
    blank = text == ""
    parsed: pd.Series
    bad: pd.Series
    what: str
    told = np.zeros(len(text), dtype=bool)  # bad cells already reported with their own message
    if c.kind in ("id", "text"):
        if c.filled:
            for i in np.flatnonzero(blank.to_numpy()):
                msg = f"is blank; fill in {'an ID' if c.kind == 'id' else 'a value'}{_hint(c)}"
                problems.append(Problem(label, f"row {rows[i]}", c.name, msg))
        return text.astype(object)
    if c.kind in ("number", "int"):
        parsed = pd.to_numeric(text.where(~blank, None), errors="coerce").astype(float)
        return _number_values(
            c,
            parsed.to_numpy(),
            blank.to_numpy(),
            lambda i: str(text.iloc[i]),
            rows,
            label,
            problems,
        )
    if c.kind == "date":
        parsed = pd.to_datetime(text.where(~blank, None), format="%Y-%m-%d", errors="coerce")
        bad = ~blank & parsed.isna()
        what = "a date written YYYY-MM-DD"
        # strptime takes 2027-4-5 too; only the zero-padded ISO form is a date here
        iso = text.str.fullmatch(_ISO_DATE).fillna(False).astype(bool)
        told = (~blank & ~bad & ~iso).to_numpy()
        for i in np.flatnonzero(told):
            fix = parsed.iloc[i].date().isoformat()
            msg = f"must be a date written YYYY-MM-DD, with a two-digit month and day: {fix}"
            problems.append(Problem(label, f"row {rows[i]}", c.name, msg, value=str(text.iloc[i])))
        parsed = parsed.where(~told, pd.NaT)
    else:  # bool
        low = text.str.lower()
        parsed = low.map(_BOOL)
        bad = ~blank & parsed.isna()
        what = "true or false"
    _cell_problems(
        c,
        what,
        bad.to_numpy(),
        told,
        blank.to_numpy(),
        lambda i: str(text.iloc[i]),
        rows,
        label,
        problems,
    )
    if c.kind == "bool":
        return parsed.astype(object)
    return parsed


def _number_values(
    c: Col,
    parsed: np.ndarray,
    blank: np.ndarray,
    cell: Any,
    rows: np.ndarray,
    label: str,
    problems: list[Problem],
) -> pd.Series:
    """A number column from its parsed values (NaN where blank or unreadable): problems for
    cells too large, unreadable or (``int``) fractional, then for blanks; bad cells become NaN."""
    finite = np.isfinite(parsed)
    bad = ~blank & ~finite
    what = "a number" if c.kind == "number" else "a whole number"
    if c.kind == "int":
        frac = ~blank & finite & (parsed % 1 != 0)
        bad = bad | frac
    told = finite & (np.abs(np.where(finite, parsed, 0.0)) > MAX_ABS)
    for i in np.flatnonzero(told):
        problems.append(Problem(label, f"row {rows[i]}", c.name, TOO_LARGE, value=clip(cell(i))))
    bad = bad | told
    _cell_problems(c, what, bad, told, blank, cell, rows, label, problems)
    return pd.Series(np.where(bad, np.nan, parsed))


def _cell_problems(
    c: Col,
    what: str,
    bad: np.ndarray,
    told: np.ndarray,
    blank: np.ndarray,
    cell: Any,
    rows: np.ndarray,
    label: str,
    problems: list[Problem],
) -> None:
    """Problems for unreadable cells (not ``told`` already), then for blanks of a filled column;
    ``cell(i)`` is the text of row ``i``."""
    for i in np.flatnonzero(bad & ~told):
        text = cell(i)
        msg = f"must be {what}"
        if text.lower().lstrip("+-") in _NON_FINITE:
            msg += "; infinite and not-a-number values are not allowed, write a finite amount"
        problems.append(Problem(label, f"row {rows[i]}", c.name, msg, value=clip(text)))
    if c.filled:
        for i in np.flatnonzero(blank):
            problems.append(
                Problem(label, f"row {rows[i]}", c.name, f"is blank; fill in {what}{_hint(c)}")
            )


def _hint(c: Col) -> str:
    return f" ({c.hint})" if c.hint else ""


def _rule_problems(
    spec: TableSpec, present: list[Col], frame: pd.DataFrame, label: str
) -> list[Problem]:
    """Range checks and unique keys: the columns' pandera checks, evaluated vectorised.

    The same problems, in the same order, as validating the pandera schema (lazily, duplicates
    reported in full): per column and check, the failing rows in order (blanks pass), then one
    problem per repeated key. pandera itself runs only for a check kind :func:`_failing` does not
    know; its first validation imports its data-synthesis strategies (hypothesis, 1.2 s) and it
    takes seconds more on millions of rows.
    """
    out: list[Problem] = []
    generic: list[Col] = []
    for c in present:
        if not c.checks:
            continue
        values = frame[c.name]
        masks = [_failing(chk, values) for chk in c.checks]
        if any(m is None for m in masks):
            generic.append(c)
            continue
        for chk, mask in zip(c.checks, masks, strict=True):
            assert mask is not None
            for i in np.flatnonzero(mask):
                row = int(frame[ROW].iloc[i])
                out.append(
                    Problem(label, f"row {row}", c.name, str(chk.error), value=_fmt(values.iloc[i]))
                )
    if generic:  # pandera's order: schema columns in order
        out = _pandera_problems(spec, generic, frame, label, unique=False) + out
        out.sort(key=lambda p: [c.name for c in present].index(p.field))
    key = list(spec.key)
    if key and all(k in frame for k in key):
        dup = frame.duplicated(subset=key, keep=False).to_numpy()
        out.extend(_duplicate_problems(spec, frame, np.flatnonzero(dup).tolist(), label))
    return out


_COMPARE = {
    "greater_than_or_equal_to": lambda v, s: v >= s["min_value"],
    "greater_than": lambda v, s: v > s["min_value"],
    "less_than_or_equal_to": lambda v, s: v <= s["max_value"],
    "less_than": lambda v, s: v < s["max_value"],
    "in_range": lambda v, s: (
        (v >= s["min_value"] if s["include_min"] else v > s["min_value"])
        & (v <= s["max_value"] if s["include_max"] else v < s["max_value"])
    ),
}


def _failing(chk: pa.Check, values: pd.Series) -> np.ndarray | None:
    """Rows of a number column that break a built-in pandera comparison check (blanks pass),
    or None for a check of another kind."""
    test = _COMPARE.get(str(chk.name))
    if test is None or not chk.ignore_na or values.dtype.kind != "f":
        return None
    v = values.to_numpy()
    with np.errstate(invalid="ignore"):
        ok = test(v, chk.statistics)
    return np.asarray(~ok & ~np.isnan(v), dtype=bool)


def _pandera_problems(
    spec: TableSpec, present: list[Col], frame: pd.DataFrame, label: str, unique: bool = True
) -> list[Problem]:
    """Range checks and unique keys, via pandera (failure cases mapped back to rows)."""
    columns: dict[str, pa.Column] = {}
    for c in present:
        if c.checks:
            columns[c.name] = pa.Column(checks=list(c.checks), nullable=True, required=False)
    has_key = unique and spec.key and all(k in frame for k in spec.key)
    schema = pa.DataFrameSchema(
        columns, unique=list(spec.key) if has_key else None, report_duplicates="all"
    )
    out: list[Problem] = []
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        dup_rows: set[int] = set()
        for rec in fc.itertuples(index=False):
            index = getattr(rec, "index", None)
            if index is None or _isna(index):
                continue
            row = int(frame[ROW].iloc[int(index)])
            check = str(rec.check)
            if check.startswith("multiple_fields_uniqueness") or check == "field_uniqueness":
                dup_rows.add(int(index))
                continue
            col = str(rec.column)
            value = frame[col].iloc[int(index)] if col in frame else rec.failure_case
            out.append(Problem(label, f"row {row}", col, check, value=_fmt(value)))
        out.extend(_duplicate_problems(spec, frame, sorted(dup_rows), label))
    return out


def _duplicate_problems(
    spec: TableSpec, frame: pd.DataFrame, idx: list[int], label: str
) -> list[Problem]:
    out: list[Problem] = []
    if not idx:
        return out
    sub = frame.iloc[idx]
    key = list(spec.key)
    for _, grp in sub.groupby(key, sort=True):
        rows = sorted(int(r) for r in grp[ROW])
        val = ", ".join(str(grp[k].iloc[0]) for k in key)
        for r in rows[1:]:
            out.append(
                Problem(
                    label,
                    f"row {r}",
                    "+".join(key),
                    f"duplicate {'/'.join(key)} (first at row {rows[0]}); keep one row",
                    value=val,
                )
            )
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _suggest(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean to rename column {close[0]!r}?" if close else ""
