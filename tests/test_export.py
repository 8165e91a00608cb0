"""Hand-over exports: every format read back equals the plan; injection rule; xlsx types; CLI."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from allocopt.cli import main
from allocopt.errors import InputError, OutputError
from allocopt.outputs.export import (
    DANGEROUS_PREFIXES,
    FORMATS,
    csv_bytes,
    export_run,
    format_number,
    neutralise,
    plan_periods,
)
from allocopt.pipeline import run
from allocopt.scenario.schema import Scenario
from tests.plans import BASE_TABLES, write_plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example" / "scenario.yaml"

# format → (file, owner column, product column, value column, period column, fiscal labels?)
SPM = {
    "varicent": ("varicent_quotas.csv", "Territory ID", "Quota Component", "Value", "Period"),
    "salesforce": (
        "ForecastingQuota.csv",
        "QuotaOwnerId",
        "ProductFamily",
        "QuotaAmount",
        "PeriodId",
    ),
    "xactly": ("xactly_quotas.csv", "Position Name", "Description", "Value", "Period Name"),
}
COLUMNS = {
    "csv": [
        "rep_id",
        "rep_name",
        "team_id",
        "region_id",
        "product",
        "period",
        "period_start",
        "period_end",
        "quota",
        "currency",
        "plan_id",
    ],
    "varicent": ["Quota Component", "Territory ID", "Value", "Period"],
    "salesforce": [
        "QuotaOwnerId",
        "PeriodId",
        "ProductFamily",
        "QuotaAmount",
        "QuotaQuantity",
        "ForecastingTypeId",
        "CurrencyIsoCode",
        "StartDate",
    ],
    "xactly": ["Name", "Period Name", "Value", "Unit Type", "Position Name", "Description"],
}
CSV_FILES = {"csv": "quotas.csv", **{k: v[0] for k, v in SPM.items()}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example, solved once for this module."""
    return run(EXAMPLE, out=tmp_path_factory.mktemp("example") / "run").run_dir


def _text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])


def _quotas(run_dir: Path) -> pd.DataFrame:
    q = _text(run_dir / "quotas.csv")
    q["quota"] = q["quota"].astype(float)
    return q


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def _sums(df: pd.DataFrame, keys: list[str], value: str) -> dict[tuple[str, ...], float]:
    v = df[value].astype(float)
    return {tuple(k): float(s) for k, s in v.groupby([df[c] for c in keys]).sum().items()}


# --- the helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize("first", DANGEROUS_PREFIXES)
def test_neutralise_prefixes_every_formula_trigger(first: str) -> None:
    assert neutralise(first + "SUM(A1)") == "'" + first + "SUM(A1)"


@pytest.mark.parametrize("text", ["R0001", "00123", "", "a=b", "'quoted", " =x", "Jürgen"])
def test_neutralise_leaves_other_text(text: str) -> None:
    assert neutralise(text) == text


def test_csv_writer_neutralises_text_not_numbers() -> None:
    frame = pd.DataFrame(
        {
            "id": ["=SUM(A1)", "+1", "-R7", "@x", "\tT", "\rC", "\nL", "00123", None],
            "value": [-5000.0, 1.5, 0.1, 2e6, -0.0, 7.0, 1e20, 3.0, float("nan")],
            "flag": [True, False, True, False, True, False, True, False, True],
        }
    )
    data = csv_bytes(frame)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" not in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["id", "value", "flag"]
    ids = [r[0] for r in rows[1:]]
    assert ids == ["'=SUM(A1)", "'+1", "'-R7", "'@x", "'\tT", "'\rC", "'\nL", "00123", ""]
    values = [r[1] for r in rows[1:]]
    assert values == ["-5000", "1.5", "0.1", "2000000", "0", "7", "1e+20", "3", ""]
    assert [float(v) for v in values[:-1]] == frame["value"].tolist()[:-1]
    assert rows[1][2] == "true" and rows[2][2] == "false"


def test_format_number_is_exact() -> None:
    for x in (0.1, 1 / 3, 123456789.125, -5000.0, 1e-7, 2.0**60):
        assert float(format_number(x)) == x
    assert format_number(172000.0) == "172000"
    assert format_number(-0.0) == "0"


def _scenario(start: str, granularity: str) -> Scenario:
    data = {
        "name": "t",
        "plan": {"fiscal_year_start": start, "granularity": granularity},
        "data": {
            k: f"{k}.csv" for k in ("org_units", "reps", "potential", "accounts", "seasonality")
        },
        "products": ["P"],
        "targets": {"by_product": {"P": 1.0}},
    }
    return Scenario.model_validate_json(json.dumps(data))


def test_plan_periods_quarters_and_months() -> None:
    q = plan_periods(_scenario("2026-07-01", "quarter"))
    assert [(p.fiscal_label, p.start.isoformat(), p.end.isoformat()) for p in q] == [
        ("FY2027-Q1", "2026-07-01", "2026-09-30"),
        ("FY2027-Q2", "2026-10-01", "2026-12-31"),
        ("FY2027-Q3", "2027-01-01", "2027-03-31"),
        ("FY2027-Q4", "2027-04-01", "2027-06-30"),
    ]
    m = plan_periods(_scenario("2028-01-01", "month"))
    assert len(m) == 12
    assert (m[1].label, m[1].fiscal_label, m[1].end.isoformat()) == (
        "M02",
        "FY2028-M02",
        "2028-02-29",
    )
    assert m[-1].end.isoformat() == "2028-12-31"


# --- every format equals the plan ---------------------------------------------------------------


def test_registry_has_the_formats() -> None:
    assert set(FORMATS) >= {"csv", "xlsx", "varicent", "salesforce", "xactly"}
    assert {n for n, f in FORMATS.items() if f.spm} == set(SPM)


def test_csv_equals_plan(run_dir: Path, tmp_path: Path) -> None:
    paths = export_run(run_dir, "csv", tmp_path / "out")
    assert paths == [tmp_path / "out" / "quotas.csv"]
    raw = paths[0].read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
    out = _text(paths[0])
    q = _quotas(run_dir)
    assert list(out.columns) == COLUMNS["csv"]
    assert len(out) == len(q)
    keys = ["rep_id", "product", "period"]
    assert _sums(out, keys, "quota") == _sums(q, keys, "quota")
    merged = out.merge(q, on=keys, suffixes=("", "_plan"))
    assert (merged["team_id"] == merged["team_id_plan"]).all()
    assert (merged["region_id"] == merged["region_id_plan"]).all()
    assert set(out["currency"]) == {"EUR"}
    assert set(out["plan_id"]) == {f"example:{run_dir.name}"}
    first = out.iloc[0]
    assert (first["rep_id"], first["rep_name"], first["product"], first["period"]) == (
        "R0001",
        "Stefan Peters",
        "HW",
        "Q1",
    )
    q4 = out[out["period"] == "Q4"].iloc[0]
    assert (q4["period_start"], q4["period_end"]) == ("2027-10-01", "2027-12-31")
    # deterministic order: rep, product in plan order, period
    order = list(
        zip(
            out["rep_id"],
            out["product"].map({"HW": 0, "SW": 1, "SVC": 2}),
            out["period"],
            strict=True,
        )
    )
    assert order == sorted(order)


@pytest.mark.parametrize("fmt", sorted(SPM))
def test_spm_formats_equal_plan(run_dir: Path, tmp_path: Path, fmt: str) -> None:
    name, owner, product, value, period = SPM[fmt]
    (path,) = export_run(run_dir, fmt, tmp_path / fmt)
    assert path.name == name
    out = _text(path)
    assert list(out.columns) == COLUMNS[fmt]
    q = _quotas(run_dir)
    q["fiscal"] = "FY2027-" + q["period"]
    assert _sums(out, [owner, product, period], value) == _sums(
        q, ["rep_id", "product", "fiscal"], "quota"
    )
    assert set(out[period]) == {f"FY2027-Q{k}" for k in range(1, 5)}
    if fmt == "salesforce":
        assert set(out["QuotaQuantity"]) == {""} and set(out["ForecastingTypeId"]) == {""}
        assert set(out["CurrencyIsoCode"]) == {"EUR"}
        assert set(out["StartDate"]) == {"2027-01-01", "2027-04-01", "2027-07-01", "2027-10-01"}
    if fmt == "xactly":
        assert set(out["Unit Type"]) == {"EUR"}
        assert set(out["Name"]) == {"HW Quota", "SW Quota", "SVC Quota"}


def test_same_run_same_bytes(run_dir: Path, tmp_path: Path) -> None:
    for fmt in ("csv", "xlsx"):
        (a,) = export_run(run_dir, fmt, tmp_path / f"{fmt}1")
        (b,) = export_run(run_dir, fmt, tmp_path / f"{fmt}2")
        assert a.read_bytes() == b.read_bytes(), fmt


def test_xlsx_round_trip(run_dir: Path, tmp_path: Path) -> None:
    (path,) = export_run(run_dir, "xlsx", tmp_path / "x")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Reps", "Teams", "Regions", "Company", "Key accounts"]
    q = _quotas(run_dir)
    ws = wb["Reps"]
    header = [c.value for c in ws[1]]
    assert header == [
        "rep_id",
        "rep_name",
        "team_id",
        "region_id",
        "product",
        "period",
        "period_start",
        "period_end",
        "quota",
        "annual_quota",
        "currency",
    ]
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == len(q)
    got: dict[tuple[str, str, str], float] = {}
    for r in rows:
        for j in (0, 2, 3, 4, 5):
            assert r[j].data_type == "s" and isinstance(r[j].value, str)
            assert r[j].number_format == "@"
        assert isinstance(r[8].value, int | float) and r[8].data_type == "n"
        assert r[8].number_format == "#,##0"
        got[(r[0].value, r[4].value, r[5].value)] = float(r[8].value)
    assert got == _sums(q, ["rep_id", "product", "period"], "quota")
    assert rows[0][1].value == "Stefan Peters"
    assert rows[0][6].is_date and rows[0][6].value.date().isoformat() == "2027-01-01"
    a = _text(run_dir / "annual.csv")
    annual = {
        (r, p): float(v) for r, p, v in zip(a["rep_id"], a["product"], a["quota"], strict=True)
    }
    for r in rows[:24]:
        assert r[9].value == annual[(r[0].value, r[4].value)]
    rollups = _text(run_dir / "rollups.csv")
    for sheet, level in (("Teams", "team"), ("Regions", "region"), ("Company", "company")):
        ws = wb[sheet]
        part = rollups[rollups["level"] == level]
        assert ws.max_row == len(part) + 1
        values = [(r[0].value, r[2].value, r[3].value, r[4].value) for r in ws.iter_rows(min_row=2)]
        assert values == list(
            zip(
                part["unit_id"],
                part["product"],
                part["period"],
                part["quota"].astype(float),
                strict=True,
            )
        )
    assign = _text(run_dir / "assignments.csv")
    ka = wb["Key accounts"]
    assert ka.max_row == len(assign) + 1
    second = [c.value for c in ka[2]]
    assert second[0] == assign["account_id"].iloc[0]
    assert isinstance(second[3], bool)
    for ws in wb:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        assert ws.column_dimensions["A"].width > 8
        assert all(c.font.b for c in ws[1])


# --- the injection rule end to end ---------------------------------------------------------------


def _tiny_injection_plan(root: Path) -> Path:
    """A plan whose IDs, names and product start with formula triggers (validation takes them)."""
    t = copy.deepcopy(BASE_TABLES)
    ren = {"A": "=SUM(A1)", "B": "@B"}
    for r in t["reps"]:
        r["rep_id"] = ren[r["rep_id"]]
        r["team_id"] = "-T1"
        r["name"] = "+cmd|' /C calc'!A0"
    for r in t["potential"]:
        r["rep_id"], r["product"] = ren[r["rep_id"]], "=P"
    for r in t["accounts"]:
        r["incumbent_rep"], r["product"] = ren[r["incumbent_rep"]], "=P"
    for r in t["seasonality"]:
        r["product"] = "=P"
    t["org_units"][1]["unit_id"] = "+NORTH"
    t["org_units"][2].update(unit_id="-T1", parent_id="+NORTH")
    path = write_plan(root, tables=t, extra={"products": ["=P"]})
    path.write_text(path.read_text().replace("    P: 500", "    '=P': 500"), encoding="utf-8")
    return path


def test_injection_through_a_solved_plan(tmp_path: Path) -> None:
    res = run(_tiny_injection_plan(tmp_path / "plan"), out=tmp_path / "run")
    for fmt, name in CSV_FILES.items():
        (path,) = export_run(res.run_dir, fmt, tmp_path / fmt)
        assert path.name == name
        rows = _rows(path)
        for row in rows:
            for cell in row:
                assert not cell.startswith(DANGEROUS_PREFIXES), (fmt, cell)
        flat = {c for r in rows for c in r}
        assert "'=SUM(A1)" in flat and "'@B" in flat and "'=P" in flat, fmt
    csv_rows = _rows(tmp_path / "csv" / "quotas.csv")
    assert csv_rows[1][:5] == ["'=SUM(A1)", "'+cmd|' /C calc'!A0", "'-T1", "'+NORTH", "'=P"]
    assert csv_rows[1][8] == "75"


def _crafted_run(src: Path, dst: Path) -> dict[str, str]:
    """Copy a run; give some reps/teams/products IDs that start with formula triggers, make one
    quota negative; return the rep ID renaming."""
    shutil.copytree(src, dst)
    ren = {
        "R0001": "=SUM(A1)",
        "R0002": "+R2",
        "R0003": "-R3",
        "R0004": "@R4",
        "R0005": "\tR5",
        "R0006": "\rR6",
        "R0007": "\nR7",
        "R0008": "00123",
    }
    prod = {"HW": "=HW", "SW": "@SW", "SVC": "-SVC"}
    for name in ("quotas.csv", "annual.csv"):
        df = _text(dst / name)
        df["rep_id"] = df["rep_id"].replace(ren)
        df["product"] = df["product"].replace(prod)
        df["team_id"] = df["team_id"].replace({"T01": "+T01"})
        if name == "quotas.csv":
            df.loc[0, "quota"] = "-5000.0"
        df.to_csv(dst / name, index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)
    return ren


def test_injection_on_an_edited_run_folder(run_dir: Path, tmp_path: Path) -> None:
    crafted = tmp_path / "crafted"
    ren = _crafted_run(run_dir, crafted)
    q = _quotas(crafted)
    for fmt in CSV_FILES:
        (path,) = export_run(crafted, fmt, tmp_path / fmt)
        rows = _rows(path)
        header, body = rows[0], rows[1:]
        assert len(body) == len(q)
        value_col = header.index({"csv": "quota", **{k: v[3] for k, v in SPM.items()}}[fmt])
        for row in body:
            for j, cell in enumerate(row):
                if j != value_col:
                    assert not cell.startswith(DANGEROUS_PREFIXES), (fmt, cell)
        values = [float(r[value_col]) for r in body]
        assert sorted(values) == sorted(q["quota"].tolist()), fmt  # numbers untouched
        assert "-5000" in [r[value_col] for r in body], fmt  # negative stays a number
        flat = {c for r in body for c in r}
        for new in ren.values():
            assert neutralise(new) in flat, (fmt, new)
        assert "00123" in flat
    # read back through the neutralisation, the plan is intact
    out = _text(tmp_path / "csv" / "quotas.csv")
    back = out["rep_id"].map(lambda s: s[1:] if s.startswith("'") else s)
    assert _sums(out.assign(rep_id=back), ["rep_id", "period"], "quota") == _sums(
        q, ["rep_id", "period"], "quota"
    )
    # the workbook keeps the exact text, as text cells with Excel's quote prefix
    (xlsx,) = export_run(crafted, "xlsx", tmp_path / "xlsx")
    ws = openpyxl.load_workbook(xlsx)["Reps"]
    # (the file holds CR as Excel's escape _x000D_, which openpyxl leaves escaped on reading)
    cells = {unescape(c.value): c for c in ws["A"][1:]}
    for new in ren.values():
        c = cells[new]
        assert c.data_type == "s" and unescape(c.value) == new
        assert c.quotePrefix is new.startswith(DANGEROUS_PREFIXES)
    products = {c.value for c in ws["E"][1:]}
    assert products == {"=HW", "@SW", "-SVC"}
    assert any(c.value == -5000 and c.data_type == "n" for c in ws["I"][1:])


# --- the ID map ---------------------------------------------------------------------------------


def _id_map(run_dir: Path, path: Path, drop: int = 0, dup: bool = False) -> dict[str, str]:
    reps = sorted(set(_text(run_dir / "quotas.csv")["rep_id"]))[drop:]
    mapping = {r: f"005{k:015d}" for k, r in enumerate(reps)}
    if dup:
        mapping[reps[1]] = mapping[reps[0]]
    lines = ["rep_id,external_id", *(f"{r},{e}" for r, e in mapping.items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return mapping


@pytest.mark.parametrize("fmt", sorted(SPM))
def test_id_map_replaces_owner(run_dir: Path, tmp_path: Path, fmt: str) -> None:
    mapping = _id_map(run_dir, tmp_path / "map.csv")
    (path,) = export_run(run_dir, fmt, tmp_path / "o", id_map=tmp_path / "map.csv")
    _, owner, product, value, period = SPM[fmt]
    out = _text(path)
    assert set(out[owner]) == set(mapping.values())
    q = _quotas(run_dir)
    q["owner"] = q["rep_id"].map(mapping)
    q["fiscal"] = "FY2027-" + q["period"]
    assert _sums(out, [owner, product, period], value) == _sums(
        q, ["owner", "product", "fiscal"], "quota"
    )


def test_id_map_problems(run_dir: Path, tmp_path: Path) -> None:
    _id_map(run_dir, tmp_path / "short.csv", drop=1)
    with pytest.raises(InputError, match="does not cover"):
        export_run(run_dir, "salesforce", tmp_path / "a", id_map=tmp_path / "short.csv")
    _id_map(run_dir, tmp_path / "dup.csv", dup=True)
    with pytest.raises(InputError) as exc:
        export_run(run_dir, "salesforce", tmp_path / "b", id_map=tmp_path / "dup.csv")
    assert "more than one rep" in exc.value.render()
    with pytest.raises(InputError) as exc:
        export_run(run_dir, "salesforce", tmp_path / "c", id_map=tmp_path / "missing.csv")
    assert "missing.csv" in exc.value.render()
    with pytest.raises(InputError, match="options"):
        export_run(run_dir, "csv", tmp_path / "d", id_map=tmp_path / "short.csv")
    assert not any((tmp_path / n).exists() for n in "abcd")


# --- bad input, existing output -----------------------------------------------------------------


def test_missing_or_incomplete_run_folder(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        export_run(tmp_path / "nope", "csv", tmp_path / "o")
    assert "nope" in exc.value.render()
    for missing, fmt in (
        ("manifest.json", "csv"),
        ("quotas.csv", "varicent"),
        ("rollups.csv", "xlsx"),
        ("annual.csv", "xlsx"),
        ("assignments.csv", "xlsx"),
    ):
        broken = tmp_path / f"broken-{missing}"
        shutil.copytree(run_dir, broken)
        (broken / missing).unlink()
        with pytest.raises(InputError) as exc:
            export_run(broken, fmt, tmp_path / f"o-{missing}")
        assert exc.value.exit_code == 2
        assert str(broken / missing) in exc.value.render()
        assert not (tmp_path / f"o-{missing}").exists()
    bad = tmp_path / "bad-period"
    shutil.copytree(run_dir, bad)
    text = (bad / "quotas.csv").read_text().replace(",Q3,", ",Q7,", 1)
    (bad / "quotas.csv").write_text(text)
    with pytest.raises(InputError, match="cannot export"):
        export_run(bad, "csv", tmp_path / "o-bad")
    with pytest.raises(InputError, match="bad export format"):
        export_run(run_dir, "pdf", tmp_path / "o-pdf")


def test_existing_output_needs_force(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "quotas.xlsx").write_text("an earlier export")
    with pytest.raises(OutputError) as exc:
        export_run(run_dir, "csv", out)
    assert exc.value.exit_code == 3
    assert (out / "quotas.xlsx").read_text() == "an earlier export"
    assert export_run(run_dir, "csv", out, force=True) == [out / "quotas.csv"]
    assert sorted(p.name for p in out.iterdir()) == ["quotas.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    with pytest.raises(OutputError):
        export_run(run_dir, "csv", run_dir, force=True)
    with pytest.raises(OutputError):
        export_run(run_dir, "csv", run_dir.parent, force=True)
    assert (run_dir / "quotas.csv").is_file()


# --- the command line ---------------------------------------------------------------------------


def test_cli_export(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["export", str(run_dir), "--format", "varicent", "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "varicent_quotas.csv" in res.stdout
    assert (out / "varicent_quotas.csv").is_file()
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 3
    assert "--force" in res.output
    res = CliRunner().invoke(main, [*args, "--force"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        main, ["export", str(tmp_path / "none"), "--format", "csv", "--out", str(tmp_path / "o2")]
    )
    assert res.exit_code == 2
    assert "none" in res.output
    res = CliRunner().invoke(
        main, ["export", str(run_dir), "--format", "pdf", "--out", str(tmp_path / "o3")]
    )
    assert res.exit_code == 2
    assert "xlsx" in res.output
    _id_map(run_dir, tmp_path / "map.csv")
    res = CliRunner().invoke(
        main,
        [
            "export",
            str(run_dir),
            "--format",
            "salesforce",
            "--out",
            str(tmp_path / "o4"),
            "--id-map",
            str(tmp_path / "map.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "005000000000000000" in (tmp_path / "o4" / "ForecastingQuota.csv").read_text()


# --- LibreOffice opens the workbook -------------------------------------------------------------


def test_libreoffice_converts_the_workbook(run_dir: Path, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        pytest.skip("LibreOffice is not installed (Debian package libreoffice-calc)")
    (xlsx,) = export_run(run_dir, "xlsx", tmp_path / "x")
    conv = tmp_path / "conv"
    profile = (tmp_path / "lo-profile").as_uri()
    for target in ("csv", "pdf"):
        proc = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={profile}",
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                str(conv),
                str(xlsx),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert (conv / f"quotas.{target}").is_file(), proc.stdout + proc.stderr
    text = (conv / "quotas.csv").read_text(encoding="utf-8", errors="replace")
    assert text.startswith("rep_id,rep_name,team_id")
    assert "R0001" in text and "Stefan Peters" in text
    assert (conv / "quotas.pdf").read_bytes().startswith(b"%PDF")


def test_other_levels_get_their_own_sheets(run_dir: Path, tmp_path: Path) -> None:
    crafted = tmp_path / "levels"
    shutil.copytree(run_dir, crafted)
    r = _text(crafted / "rollups.csv")
    extra = r[r["level"] == "company"].assign(level="Reps", unit_id="X")
    extra2 = extra.assign(level="area/[east]", unit_id="00123")
    pd.concat([r, extra, extra2]).to_csv(crafted / "rollups.csv", index=False)
    (path,) = export_run(crafted, "xlsx", tmp_path / "x")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        "Reps",
        "Teams",
        "Regions",
        "Company",
        "Reps 2",
        "area__east_",
        "Key accounts",
    ]
    assert wb["area__east_"]["A2"].value == "00123"


# --- the streamed workbook: every cell as the run's CSVs say, same bytes as cell at a time ------


def _crafted_cells(src: Path, dst: Path) -> None:
    """A copy of the run whose cells exercise the writer: formula triggers, spaces at either
    end, XML and Excel escapes, a control character, an empty text cell, -0, a fraction, a
    blank number; the only quote-prefixed cell is the Reps sheet's very last one (XlsxWriter
    gives its format an index at close, after the Teams sheet's fraction format)."""
    shutil.copytree(src, dst)
    ren = {"R0002": " padded ", "R0003": "a&b<c>\"d'", "R0004": "_x0041_ \x01ctl", "R0005": "é"}
    for name in ("quotas.csv", "annual.csv"):
        df = _text(dst / name)
        df["rep_id"] = df["rep_id"].replace(ren)
        if name == "quotas.csv":
            df.loc[1, "quota"] = "-0.0"
            df.loc[3, "team_id"] = ""
            last = (df["rep_id"] == df["rep_id"].max()) & (df["product"] == "SVC")
            df.loc[last & (df["period"] == df["period"].max()), "team_id"] = "+T99"
        df.to_csv(dst / name, index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)
    r = _text(dst / "rollups.csv")  # a fraction: a format first used after the Reps sheet
    r.loc[r.index[r["level"] == "team"][0], "quota"] = "1234.5"
    r.to_csv(dst / "rollups.csv", index=False, lineterminator="\n")
    a = _text(dst / "assignments.csv")
    a.loc[0, "revenue"] = ""
    a.to_csv(dst / "assignments.csv", index=False, lineterminator="\n")


def _expected_workbook(run_dir: Path) -> dict[str, list[list[tuple[object, ...]]]]:
    """Every sheet's cells (value, type, number format, quote prefix) read from the run's CSVs,
    its scenario and input reps table alone: the workbook's specification."""
    import datetime as dt

    import yaml

    from allocopt.calendar import fiscal_periods

    manifest = json.loads((run_dir / "manifest.json").read_text())
    sc = yaml.safe_load(Path(manifest["inputs"]["scenario"]["abs_path"]).read_text())
    reps = _text(Path(manifest["inputs"]["reps"]["abs_path"]))
    names = dict(zip(reps["rep_id"], reps["name"], strict=True))
    fy0 = sc["plan"]["fiscal_year_start"]
    periods = {p.label: p for p in fiscal_periods(fy0, sc["plan"]["granularity"])}
    products = list(sc["products"])

    def text(s: str) -> tuple[object, ...]:
        return (
            (None, "n", "@", False) if s == "" else (s, "s", "@", s.startswith(DANGEROUS_PREFIXES))
        )

    def numbers(col: pd.Series) -> list[tuple[object, ...]]:
        v = pd.to_numeric(col.where(col != "", None), errors="coerce").astype(float)
        fin = v[v.notna()]
        nf = "#,##0" if (fin == fin.round()).all() else "#,##0.00"
        return [(None, "n", "General", False) if pd.isna(x) else (x, "n", nf, False) for x in v]

    def header(cols: list[str]) -> list[tuple[object, ...]]:
        return [(c, "s", "@", False) for c in cols]

    def day(d: dt.date) -> tuple[object, ...]:
        return (dt.datetime(d.year, d.month, d.day), "d", "yyyy-mm-dd", False)

    q = _text(run_dir / "quotas.csv")
    q = q.assign(_p=q["product"].map(products.index), _t=q["period"].map(list(periods).index))
    q = q.sort_values(["rep_id", "_p", "_t"], kind="mergesort")
    a = _text(run_dir / "annual.csv")
    annual = dict(zip(zip(a["rep_id"], a["product"], strict=True), a["quota"], strict=True))
    q["annual"] = [annual[k] for k in zip(q["rep_id"], q["product"], strict=True)]
    quota, ann = numbers(q["quota"]), numbers(q["annual"])
    rows = [
        [
            text(r.rep_id),
            text(names.get(r.rep_id, "")),
            text(r.team_id),
            text(r.region_id),
            text(r.product),
            text(r.period),
            day(periods[r.period].start),
            day(periods[r.period].end),
            quota[i],
            ann[i],
            text(sc["plan"]["currency"]),
        ]
        for i, r in enumerate(q.itertuples())
    ]
    cols = ["rep_id", "rep_name", "team_id", "region_id", "product", "period"]
    cols += ["period_start", "period_end", "quota", "annual_quota", "currency"]
    out = {"Reps": [header(cols), *rows]}
    r = _text(run_dir / "rollups.csv")
    for level, sheet in (("team", "Teams"), ("region", "Regions"), ("company", "Company")):
        part = r[r["level"] == level]
        values = numbers(part["quota"])
        out[sheet] = [header(["unit_id", "level", "product", "period", "quota"])] + [
            [*(text(x) for x in t[:4]), v]
            for t, v in zip(part.itertuples(index=False), values, strict=True)
        ]
    k = _text(run_dir / "assignments.csv")
    by_col = []
    for c in k.columns:
        if c.endswith(("_id", "_rep")):
            by_col.append([text(x) for x in k[c]])
        elif k[c].isin(["True", "False"]).all():
            by_col.append([(x == "True", "b", "General", False) for x in k[c]])
        else:
            by_col.append(numbers(k[c]))
    out["Key accounts"] = [header(list(k.columns)), *map(list, zip(*by_col, strict=True))]
    return out


def _cells(path: Path) -> dict[str, list[list[tuple[object, ...]]]]:
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb:
        rows = []
        for row in ws.iter_rows():
            cells = []
            for c in row:
                v = unescape(c.value) if isinstance(c.value, str) else c.value
                if isinstance(v, int) and not isinstance(v, bool):
                    v = float(v)
                cells.append((v, c.data_type, c.number_format, bool(c.quotePrefix)))
            rows.append(cells)
        out[ws.title] = rows
        assert ws.freeze_panes == "A2"
        assert all(c.font.b for c in ws[1])
    return out


@pytest.mark.parametrize("crafted", [False, True], ids=["example", "crafted"])
def test_xlsx_cells_equal_the_run_csvs(run_dir: Path, tmp_path: Path, crafted: bool) -> None:
    """The streamed workbook holds, sheet by sheet and cell by cell, what the CSVs say; the
    cell-at-a-time XlsxWriter path writes the same bytes (styles, widths, panes, filters)."""
    from allocopt.outputs import export as ex

    src = run_dir
    if crafted:
        src = tmp_path / "crafted"
        _crafted_cells(run_dir, src)
    (path,) = export_run(src, "xlsx", tmp_path / "x")
    got, want = _cells(path), _expected_workbook(src)
    assert list(got) == list(want)
    for sheet, rows in want.items():
        assert len(got[sheet]) == len(rows), sheet
        for i, (g, w) in enumerate(zip(got[sheet], rows, strict=True)):
            assert g == w, (sheet, i + 1)
    if crafted:
        reps = got["Reps"]
        assert reps[-1][2] == ("+T99", "s", "@", True)  # first quote prefix: the last row
        assert {"#,##0.00"} == {r[4][2] for r in got["Teams"][1:]}
        assert any(str(r[0][0]).startswith(" padded") for r in reps[1:])
    manifest = ex._read_manifest(src)
    data = ex.ExportData(src, manifest, ex._scenario(manifest, src))
    assert path.read_bytes() == ex._workbook(data, per_cell=True)


def test_xlsx_over_the_row_limit_is_refused_before_writing(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet over Excel's row limit (here lowered to the example's size) is refused with a
    pointer to csv, and no folder is left behind."""
    from allocopt.outputs import export as ex

    rows = len(_text(run_dir / "quotas.csv"))
    monkeypatch.setattr(ex, "EXCEL_MAX_ROWS", rows)  # the Reps sheet needs rows + 1
    with pytest.raises(OutputError, match=r"more than Excel's.*--format csv"):
        export_run(run_dir, "xlsx", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    monkeypatch.setattr(ex, "EXCEL_MAX_ROWS", rows + 1)
    (path,) = export_run(run_dir, "xlsx", tmp_path / "x")
    assert openpyxl.load_workbook(path, read_only=True)["Reps"].max_row == rows + 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b,c", 'q"t', "x\ry", "l\nf", "=1", "", 'é, "z"\r\n']),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_csv_bytes_read_back_cell_for_cell(rows: list[tuple[str, float]]) -> None:
    """Quoting decided once per distinct value still quotes every cell that needs it: Python's
    csv reader gets each text back neutralised and each number exact, whatever repeats."""
    frame = pd.DataFrame({"t": [r[0] for r in rows], "v": [r[1] for r in rows]})
    back = list(csv.reader(io.StringIO(csv_bytes(frame).decode("utf-8"), newline="")))
    assert back[0] == ["t", "v"]
    assert [r[0] for r in back[1:]] == [neutralise(t) for t, _v in rows]
    assert [float(r[1]) for r in back[1:]] == [v for _t, v in rows]
