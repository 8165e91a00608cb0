"""I/O at scale: the Arrow CSV writer gives pandas' bytes; the report's charts and tables
aggregate a 100k-rep plan into a bounded number of bars, rows and points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocopt.outputs.report import GRID, MAX_BARS, MAX_ROWS, _grid_points, _largest_and_other
from allocopt.outputs.runfolder import _csv_bytes, write_csv


def _pandas(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-4, 9.99e-5, 1e10, 9999999999.999998, 1e16]
    v = np.concatenate([rng.uniform(-1e6, 1e6, n).round(2), 10 ** rng.uniform(-8, 20, n)])
    v = np.concatenate([v, special])
    m = len(v)
    text = ["a", "b,c", 'q"x', "", "x\ny", " pad ", "Ärger", '"', ","]
    return pd.DataFrame(
        {
            "f": v,
            "i": rng.integers(-(10**12), 10**12, m),
            "b": rng.random(m) < 0.5,
            "s": rng.choice(np.array(text, dtype=object), m),
            "o": pd.Series(rng.choice(np.array(["a", None, np.nan, "z"], dtype=object), m)),
            'odd, "name"': rng.uniform(0, 1, m).round(6),
        }
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_arrow_csv_bytes_are_pandas_bytes(seed: int) -> None:
    df = _mixed(5000, seed)
    assert _csv_bytes(df) == _pandas(df)
    as_str = df.assign(s=df["s"].astype("string"))
    assert _csv_bytes(as_str) == _pandas(as_str)
    assert _csv_bytes(df.iloc[:0]) == _pandas(df.iloc[:0])
    assert _csv_bytes(df.iloc[::-1]) == _pandas(df.iloc[::-1])  # a non-range index


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"a": ["x", "", "y"]}),  # one column: a lone blank is written as ""
        pd.DataFrame({"a": ["x\ry", "z"], "b": [1.0, 2.0]}),  # a carriage return: all quoted
        pd.DataFrame({"a": [1, None], "b": [True, None]}, dtype=object),  # mixed objects
        pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": [1.0, 2.0]}),
        pd.DataFrame({"a": pd.to_datetime(["2027-01-01", None]), "b": [1.0, 2.0]}),
    ],
)
def test_write_csv_leaves_what_arrow_cannot_match_to_pandas(tmp_path: Path, df: pd.DataFrame):
    path = tmp_path / "t.csv"
    write_csv(df, path)
    if "\r" not in str(df.iloc[0, 0]):
        assert path.read_bytes() == _pandas(df)
    else:
        assert path.read_bytes().startswith(b'"a","b"\n"x\ry",1.0\n')


def test_largest_and_other_keeps_the_totals() -> None:
    rng = np.random.default_rng(3)
    piv = pd.DataFrame(
        rng.uniform(0, 100, (300, 3)), index=[f"R{i:03d}" for i in range(300)], columns=list("ABC")
    )
    small = piv.head(MAX_BARS)
    assert _largest_and_other(small, MAX_BARS, "regions") is small
    out = _largest_and_other(piv, MAX_BARS, "regions")
    assert len(out) == MAX_BARS and out.index[-1] == f"other ({300 - MAX_BARS + 1} regions)"
    np.testing.assert_allclose(out.sum(axis=0), piv.sum(axis=0))
    top = piv.sum(axis=1).sort_values(ascending=False).index[: MAX_BARS - 1]
    assert list(out.index[:-1]) == sorted(top)  # the largest, in their order
    assert len(_largest_and_other(piv, MAX_ROWS, "regions")) == MAX_ROWS


def test_grid_points_bin_every_finite_rep() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(1, 0.2, 100_000), rng.normal(100, 30, 100_000)
    x[:10] = np.nan
    mx, my, n = _grid_points(x, y, pd.Series(x), pd.Series(y))
    assert n.sum() == 100_000 - 10 and len(n) <= GRID * GRID
    assert np.isclose((mx * n).sum(), np.nansum(x)) and np.isclose((my * n).sum(), y[10:].sum())


def evaluated_run(tmp_path: Path) -> tuple[Path, Path]:
    """A solved 4-rep plan (one team) and its evaluation against year-end actuals: (run folder,
    evaluation folder), for the report's evaluation section."""
    from allocopt.compose import evaluate_run, write_evaluation
    from allocopt.pipeline import run
    from tests.test_evaluate import history_plan
    from tests.test_payout import _actuals

    res = run(history_plan(tmp_path / "plan"), out=tmp_path / "run")
    acts = _actuals(tmp_path / "fy.csv", {"A": 210, "B": 70, "C": 100, "D": 120})
    return res.run_dir, write_evaluation(evaluate_run(res.run_dir, acts), tmp_path / "eval")


def test_evaluation_report_bins_its_scatter_beyond_max_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocopt.outputs import report

    run_dir, folder = evaluated_run(tmp_path)
    plain = report.render_report(run_dir, evaluate_dir=folder)
    monkeypatch.setattr(report, "MAX_POINTS", 2)
    binned = report.render_report(run_dir, evaluate_dir=folder)
    assert "The scatter bins the 4 reps" in binned and "scatter bins" not in plain


def test_binding_row_names_are_the_model_s_row_names(tmp_path: Path) -> None:
    from allocopt.model.build import build_quotas
    from allocopt.model.sets import quota_sets
    from allocopt.pipeline import rebuild, run
    from allocopt.results.extract import _row_names
    from allocopt.solve.highs import compile_model

    root = Path(__file__).resolve().parents[1] / "scenarios" / "example"
    res = run(root / "scenario.yaml", out=tmp_path / "run", report=False)
    md, owner = rebuild(res.run_dir)
    comp = compile_model(build_quotas(quota_sets(md, owner)).model)
    rows = np.arange(comp.model.n_rows)[::-1]  # any order
    component, label = _row_names(comp, rows)
    assert list(zip(component, label, strict=True)) == [comp.model.row_name(int(i)) for i in rows]
    assert any("," in lab for lab in label)  # multi-column indices are covered


def test_rep_date_rules_flag_each_row_once_with_its_first_rule(tmp_path: Path) -> None:
    from allocopt.errors import InputError
    from allocopt.pipeline import validate
    from tests.plans import BASE_TABLES, write_plan

    base = BASE_TABLES["reps"][0]
    dates = {  # rep: (start, end) against the plan year 2027
        "A": ("2027-03-01", "2027-02-01"),  # ends before it starts (and before nothing else)
        "B": ("2026-06-01", "2026-12-31"),  # leaves before the year starts
        "C": ("2028-01-01", ""),  # starts after the year ends
        "D": ("2027-05-01", "2026-01-01"),  # both of the first two rules: the first is told
        "E": ("", ""),
        "F": ("2027-02-01", "2027-11-30"),
    }
    reps = [{**base, "rep_id": r, "start_date": a, "end_date": b} for r, (a, b) in dates.items()]
    with pytest.raises(InputError) as err:
        validate(write_plan(tmp_path, tables={"reps": reps}))
    got = [(p.where, p.field, p.message.split(";")[0].split(" (")[0]) for p in err.value.problems]
    dated = [g for g in got if g[1] in ("start_date", "end_date")]
    assert dated == [
        ("row 2", "end_date", "end date 2027-02-01 is before start date 2027-03-01"),
        ("row 3", "end_date", "the rep leaves"),
        ("row 4", "start_date", "the rep starts"),
        ("row 5", "end_date", "end date 2026-01-01 is before start date 2027-05-01"),
    ]
