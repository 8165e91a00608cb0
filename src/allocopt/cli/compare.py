"""``allocopt compare``: compare two or more run folders (quotas, moved accounts, fairness,
inputs and settings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from allocopt.cli.options import _guard
from allocopt.cli.render import console


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--by",
    "level",
    type=click.Choice(["rep", "team", "region", "product", "company"]),
    default="rep",
    show_default=True,
    help="Level of the quota table (terminal, --json and --out).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write the quota comparison at the --by level as CSV "
    "(rep: rep_id, team_id, region_id, product, quota_<run>…, change, change_pct).",
)
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
@click.option("--top", default=20, show_default=True, help="Rows of the top-movers table.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@_guard
def compare(
    run_dirs: tuple[Path, ...], level: str, out: Path | None, force: bool, top: int, as_json: bool
) -> None:
    """Compare two or more run folders: quotas, moved accounts, fairness, inputs and settings.

    Changes are against the first run folder given.
    """
    from rich.text import Text

    from allocopt.compose import compare_runs, write_comparison
    from allocopt.results.compare import LEVELS

    if len(run_dirs) < 2:
        raise click.UsageError("give at least two run folders to compare")
    cmp = compare_runs(list(run_dirs))
    if out is not None:
        write_comparison(cmp.by(level), out, force=force, runs=run_dirs)
    if as_json:
        data = cmp.to_dict(level)
        if out is not None:
            data["out"] = str(out)
        console.print_json(json.dumps(data, default=str))
        return

    def cell(v: Any, money: bool = False, share: bool = False) -> Text:
        if v is None or (isinstance(v, float) and v != v):
            return Text("")
        if isinstance(v, bool) or not isinstance(v, int | float):
            return Text(str(v))
        if share:  # the gap, as the solve's status line shows it (0.866302 read as 86.6302%)
            return Text(f"{v:.4%}")
        return Text(f"{v:,.0f}" if money else f"{v:,.6g}")

    runs = cmp.runs
    t = Table(title="runs (changes against the first)")
    t.add_column("")
    for r in runs:
        t.add_column(Text(r), justify="right")
    for item, row in cmp.overview.iterrows():
        t.add_row(
            Text(str(item)),
            *(cell(row[r], money=item == "total_quota", share=item == "gap") for r in runs),
        )
    console.print(t)

    change = cmp.change_column
    pct = change.replace("change", "change_pct", 1)
    movers = cmp.top_movers(level, top)
    rows = [
        [
            *(Text(str(m[c])) for c in LEVELS[level]),
            *(cell(m[f"quota_{r}"], money=True) for r in runs),
            Text(f"{m[change]:+,.0f}"),
            Text("" if m[pct] != m[pct] else f"{m[pct]:+.2f}%"),
        ]
        for _, m in movers.iterrows()
    ]
    heads = [*LEVELS[level], *(f"quota {r}" for r in runs), "change", "%"]
    t = Table(title=f"top {len(movers)} movers by {level} ({change} = last run − first run)")
    for i, h in enumerate(heads):
        numeric = i >= len(LEVELS[level])
        width = max([len(x[i]) for x in rows], default=1) if numeric else None
        t.add_column(h, justify="right" if numeric else "left", min_width=width, overflow="fold")
    for x in rows:
        t.add_row(*x)
    console.print(t)

    if len(cmp.settings):
        t = Table(title="settings that differ (resolved scenario)")
        t.add_column("key")
        for r in runs:
            t.add_column(Text(r))
        for srow in cmp.settings.itertuples(index=False):
            t.add_row(*(Text(str(v)) for v in srow))
        console.print(t)
    else:
        console.print("settings: the resolved scenarios are the same")
    for r in runs:
        for c in cmp.changes[r]:
            console.print(Text(f"{r}: applied {c}"))
    if len(cmp.inputs):
        t = Table(title="inputs that differ (sha256)")
        for c in cmp.inputs.columns:
            t.add_column(Text(str(c)))
        for irow in cmp.inputs.itertuples(index=False):
            t.add_row(*(Text(str(v)) for v in irow))
        console.print(t)
    else:
        console.print("inputs: the same files (sha256) in every run")
    for title, df in (("fairness", cmp.fairness), ("objective terms", cmp.objective)):
        if not len(df):
            continue
        t = Table(title=title)
        t.add_column("")
        for r in runs:
            t.add_column(Text(r), justify="right")
        for name, row in df.iterrows():
            t.add_row(Text(str(name)), *(cell(row[r]) for r in runs))
        console.print(t)
    acc = cmp.accounts
    if len(acc):
        t = Table(title=f"{len(acc):,} key accounts with a different owner")
        for c in acc.columns:
            t.add_column(Text(str(c)), justify="right" if c == "revenue" else "left")
        for _, row in acc.head(top).iterrows():
            t.add_row(*(cell(row[c], money=c == "revenue") for c in acc.columns))
        console.print(t)
        if len(acc) > top:
            console.print(f"… and {len(acc) - top:,} more accounts")
    else:
        console.print("key accounts: the same owner in every run")
    if out is not None:
        console.print(Text(f"wrote {out}"))
