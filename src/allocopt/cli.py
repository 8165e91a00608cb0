"""Command-line interface: parses, calls the pipeline, prints. No logic lives here."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from allocopt import __version__
from allocopt.errors import AllocoptError

F = TypeVar("F", bound=Callable[..., Any])


def _fit_widths(t: Table, out: Console) -> bool:
    """Give every column of ``t`` a fixed width so the table fits ``out``; False if it cannot.

    Right-aligned (numeric) columns get the width of their longest cell (and of their header's
    longest word), so a number is never cut; text columns share what is left and fold.
    """
    cols = t.columns
    numeric = [c.justify == "right" for c in cols]
    cell_w = [max((out.measure(x).maximum for x in c.cells), default=0) for c in cols]
    heads = [str(c.header) if not isinstance(c.header, Text) else c.header.plain for c in cols]
    word_w = [max((len(w) for w in h.split()), default=0) for h in heads]
    natural = [max(cw, len(h)) for cw, h in zip(cell_w, heads, strict=True)]
    extra = t._extra_width + sum(t._get_padding_width(i) for i in range(len(cols)))
    fixed = sum(max(cw, ww) for cw, ww, n in zip(cell_w, word_w, numeric, strict=True) if n)
    text = [i for i, n in enumerate(numeric) if not n]
    room = out.width - extra - fixed
    if room < sum(min(natural[i], 8) for i in text):
        return False
    widths = {i: natural[i] for i in text}
    while sum(widths.values()) > room:  # shave the widest text column, one character a time
        widest = max(widths, key=lambda i: (widths[i], -i))
        widths[widest] -= 1
    for i, c in enumerate(cols):
        c.width = max(cell_w[i], word_w[i]) if numeric[i] else max(widths[i], 1)
        c.overflow = "fold"
        c.header = Text(heads[i], overflow="fold", justify=c.justify)
    return True


def _fit_table(t: Table, out: Console) -> Table:
    """Make a table fit without ever cutting a number: fixed column widths that fit the terminal;
    if they do not, a compact style (no vertical rules, no padding); if that still does not fit,
    the rightmost columns are left out with a note saying which."""
    if not _fit_widths(t, out):
        t.box = box.SIMPLE_HEAD
        t.show_edge = False
        t.padding = (0, 0)
        dropped: list[str] = []
        while not _fit_widths(t, out) and len(t.columns) > 2:
            col = t.columns.pop()
            dropped.insert(0, col.header.plain if isinstance(col.header, Text) else str(col.header))
        if dropped:
            note = f"not shown at this width: {', '.join(dropped)} (widen the terminal)"
            t.caption = (f"{t.caption}; " if t.caption else "") + note
    return t


class _Console(Console):
    """A console whose tables never cut a number (every table printed goes through _fit_table)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        fitted = [_fit_table(o, self) if isinstance(o, Table) else o for o in objects]
        super().print(*fitted, **kwargs)


console = _Console(highlight=False, soft_wrap=True)
err = _Console(stderr=True, highlight=False, soft_wrap=True)


def _guard(fn: F) -> F:
    """Turn every allocopt error into its message and exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            with _on_signals():
                return fn(*args, **kwargs)
        except KeyboardInterrupt:
            from allocopt.errors import Interrupted
            from allocopt.outputs.runfolder import abort_all

            abort_all()
            exc_i = Interrupted(signal.SIGINT)
            err.print(f"error: {exc_i.render()}", markup=False, highlight=False)
            sys.exit(exc_i.exit_code)
        except AllocoptError as exc:
            if debug:
                traceback.print_exc()
            err.print(f"[bold red]error:[/] {escape(exc.render())}", markup=True, highlight=False)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception as exc:
            if debug:
                traceback.print_exc()
            err.print(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for details; "
                "please report it)",
                markup=False,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _on_signals() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM: remove the output being written, say so, exit 130 / 143.

    The handler exits at once (``os._exit``) rather than raising, because an exception raised
    while HiGHS runs a callback is swallowed by the solver. Renaming a finished run folder into
    place holds these signals (:mod:`allocopt.outputs.runfolder`), so it is never cut halfway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from allocopt.errors import Interrupted
    from allocopt.outputs.runfolder import abort_all

    def handler(signum: int, _frame: Any) -> None:
        abort_all()
        exc = Interrupted(signum)
        try:
            sys.stdout.flush()
            sys.stderr.write(f"error: {exc.render()}\n")
            sys.stderr.flush()
        finally:
            os._exit(exc.exit_code)

    sigs = [signal.SIGINT, signal.SIGTERM]
    before = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in before.items():
            signal.signal(s, h)


def _scenario_options(fn: F) -> F:
    """--scenario and --set, shared by validate and solve."""
    fn = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set one key (dotted, e.g. rules.growth.max=0.25); wins over everything; repeatable.",
    )(fn)
    return click.option(
        "--scenario",
        "scenario_names",
        multiple=True,
        metavar="NAMES",
        help="Scenario or override names of the file, comma-separated, applied in order.",
    )(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="allocopt")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """allocopt — split sales targets across regions, teams, reps, products and periods."""


class _Progress:
    """A live status line on stderr: the current stage, and the MIP gap while HiGHS works."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.status: Any = None
        self.started = time.perf_counter()

    def __enter__(self) -> _Progress:
        if not self.quiet:
            self.status = err.status("starting", spinner="dots")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def __call__(self, msg: str) -> None:
        if self.status is not None:
            self.status.update(
                f"{escape(msg)} [dim]({time.perf_counter() - self.started:.0f} s)[/]"
            )


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@_scenario_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def validate(
    scenario: Path, scenario_names: tuple[str, ...], sets: tuple[str, ...], as_json: bool
) -> None:
    """Check a scenario and its data (no solve); exit 2 with every problem listed."""
    from allocopt.pipeline import validate as run_validate

    v = run_validate(scenario, scenarios=scenario_names, sets=sets)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "valid": True,
                    **v.summary,
                    "warnings": v.warnings,
                    "changes": v.loaded.changes,
                    "data_changes": v.dataset.changes,
                },
                default=str,
            )
        )
        return
    for change in [*v.loaded.changes, *v.dataset.changes]:
        console.print(f"applied: {escape(change)}", markup=True)
    s = v.summary
    console.print(
        f"[green]valid[/]: {escape(str(scenario))} — scenario {s['scenario']!r}", markup=True
    )
    t = Table(title="rows per table")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in s["rows"].items():
        t.add_row(escape(name), f"{n:,}")
    console.print(t)
    t = Table(title="targets per product")
    for c in (
        "product",
        "target",
        "with cushion",
        "potential",
        "key-account rev.",
        "effective base",
    ):
        t.add_column(c, justify="right" if c != "product" else "left")
    _no_cut(t, [f"{v:,.0f}" for d in s["products"].values() for v in d.values()])
    for p, d in s["products"].items():
        t.add_row(
            escape(p),
            *(
                f"{d[k]:,.0f}"
                for k in (
                    "target",
                    "target_with_cushion",
                    "potential",
                    "key_account_revenue",
                    "effective_base",
                )
            ),
        )
    console.print(t)
    cover = s["capacity_cover"]
    console.print(
        f"reps {s['reps']:,}; key accounts {s['key_accounts']:,} "
        f"({s['eligible_pairs']:,} eligible pairs); "
        f"total target with cushion {s['total_target_with_cushion']:,.0f} vs ramped capacity "
        f"{s['total_ramped_capacity']:,.0f}" + (f" (cover {cover:.2f}×)" if cover else "")
    )
    for w in v.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", markup=True)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), help="Run folder (default: output dir/name-time)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace --out if it is a run folder allocopt wrote (never an input or another folder).",
)
@click.option(
    "--diagnosis-out",
    type=click.Path(path_type=Path),
    help="Where an infeasible plan's diagnosis goes (default: --out; beside it when --force "
    "would replace a plan, which is kept).",
)
@click.option(
    "--write-model",
    type=click.Path(path_type=Path),
    help="Write the solved model: .mps (HiGHS) or .lp (Pyomo, readable names).",
)
@click.option("--no-report", is_flag=True, help="Skip the HTML report in the run folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@_scenario_options
@_guard
def solve(
    scenario: Path,
    scenario_names: tuple[str, ...],
    sets: tuple[str, ...],
    out: Path | None,
    force: bool,
    write_model: Path | None,
    quiet: bool,
    as_json: bool,
    no_report: bool,
    diagnosis_out: Path | None = None,
) -> None:
    """Solve a scenario and write a new run folder."""
    from allocopt.pipeline import run

    with _Progress(quiet or as_json or not err.is_terminal) as progress:
        res = run(
            scenario,
            out=out,
            force=force,
            write_model=write_model,
            progress=progress,
            scenarios=scenario_names,
            sets=sets,
            report=not no_report,
            diagnosis_out=diagnosis_out,
        )
    changes = list(res.manifest.get("changes") or [])
    data_changes = list(res.manifest.get("data_changes") or [])
    if not (quiet or as_json):
        for change in [*changes, *data_changes]:
            err.print(f"applied: {change}", markup=False)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "run_dir": str(res.run_dir),
                    "status": res.status,
                    "gap": res.gap,
                    "timings": res.timings,
                    "summary": res.results.summary,
                    "changes": changes,
                    "data_changes": data_changes,
                },
                default=str,
            )
        )
        return
    s = res.results.summary
    gap = f", gap {res.gap:.4%}" if res.gap else ""
    console.print(f"[green]{res.status}[/]{gap} → {res.run_dir}", markup=True)
    t = Table(title="company totals")
    rounded = any(d.get("target_rounded", d["target"]) != d["target"] for d in s["totals"].values())
    cols = ["product", "target with cushion"] + (["rounded to the unit"] if rounded else [])
    for c in [*cols, "quota"]:
        t.add_column(c, justify="right" if c != "product" else "left")
    for p, d in s["totals"].items():
        extra = [f"{d['target_rounded']:,.0f}"] if rounded else []
        t.add_row(escape(p), f"{d['target']:,.0f}", *extra, f"{d['quota']:,.0f}")
    console.print(t)
    f = s.get("fairness") or {}
    if f:
        console.print(
            f"difficulty {f['difficulty_min']:.3f}–{f['difficulty_max']:.3f}, "
            f"Gini {f['difficulty_gini']:.3f}, "
            f"max spread in a group {f['max_group_spread']:.3f}; key accounts moved "
            f"{s['key_accounts']['moved']}/{s['key_accounts']['count']}"
        )
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {w}", markup=True)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--tol",
    type=float,
    default=1e-6,
    show_default=True,
    help="Relative tolerance (of max(1, |bound|)).",
)
@_guard
def verify(run_dir: Path, tol: float) -> None:
    """Re-check a run folder against every enabled rule, independently of the solver (exit 1 on
    any violation)."""
    from rich.text import Text

    from allocopt.pipeline import verify_run

    res = verify_run(run_dir, tol=tol)
    n_rules = sum(1 for n in res.checked.values() if n)
    for note in res.notes:
        err.print(f"note: {note}", markup=False)
    if res.ok:
        console.print(
            f"[green]verified[/]: {res.n_checks:,} checks over {n_rules} rules, no violations",
            markup=True,
        )
        return
    if res.integrity:
        t = Table(title=f"{len(res.integrity):,} files of {run_dir} edited since the solve")
        t.add_column("file: what changed")
        for line in res.integrity:
            t.add_row(Text(line))
        console.print(t)
    v = res.violations
    if v.empty:
        console.print("no rule violations in the files as they are now")
        sys.exit(1)
    t = Table(
        title=f"{len(v):,} violations in {run_dir} ({res.n_checks:,} checks over {n_rules} rules)"
    )
    for c in ("rule", "where", "detail", "amount"):
        t.add_column(c, justify="right" if c == "amount" else "left")
    limit = 200
    for row in v.head(limit).itertuples(index=False):
        t.add_row(*(Text(str(x)) for x in (row.rule, row.where, row.detail)), f"{row.amount:,.6g}")
    console.print(t)
    if len(v) > limit:
        console.print(f"… and {len(v) - limit:,} more violations")
    counts = v.groupby("rule").size()
    console.print("violations per rule: " + ", ".join(f"{r} {n:,}" for r, n in counts.items()))
    sys.exit(1)


@main.command()
def schema() -> None:
    """Print the scenario file's JSON Schema (for editor completion)."""
    from allocopt.scenario.schema import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Write into an existing, non-empty folder (never over a file with other content).",
)
@_guard
def init(directory: Path, force: bool) -> None:
    """Write an example project (scenario + data) that validates and solves."""
    from allocopt.errors import OutputError
    from allocopt.generate import generate_plan

    if directory.exists() and any(directory.iterdir()) and not force:
        raise OutputError(
            f"{directory} exists and is not empty; choose another folder or add --force"
        )
    from allocopt.outputs.runfolder import add_files

    with tempfile.TemporaryDirectory() as fresh:
        generate_plan(Path(fresh), reps_per_team=6, name="my-plan")
        add_files(Path(fresh), directory)  # --force adds files, never changes one of yours
    path = directory / "scenario.yaml"
    console.print(f"wrote {path}; next: allocopt validate {path} && allocopt solve {path}")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    required=True,
    help="Actuals table: rep_id, product, period, amount (CSV, Excel or Parquet).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day the actuals cover (default: end of the last period with actuals).",
)
@click.option(
    "--threshold",
    type=float,
    default=0.9,
    show_default=True,
    help="At risk when the seasonality-adjusted forecast attainment is below this.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default: RUN_DIR-track-AS_OF beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def track(
    run_dir: Path,
    actuals: Path,
    as_of: Any,
    threshold: float,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Attainment, pacing, forecasts and at-risk reps of a run against actuals to date."""
    from allocopt.track import track as run_track
    from allocopt.track import write_track

    res = run_track(run_dir, actuals, as_of=as_of.date() if as_of else None, at_risk=threshold)
    folder = write_track(res, out, force=force)
    if as_json:
        console.print_json(json.dumps({"out": str(folder), **res.summary}, default=str))
        return
    s = res.summary

    def pct(v: Any) -> str:
        return "–" if v is None else f"{v:.1%}"

    cur = s["current_period"]
    console.print(
        f"as of {s['as_of']}: {s['elapsed_share']:.1%} of the year elapsed "
        f"(closed {', '.join(s['closed_periods']) or 'none'}"
        + (f"; {cur['period']} {cur['elapsed']:.0%} elapsed" if cur else "")
        + f") → {escape(str(folder))}"
    )
    t = Table(title="attainment to date")
    for c in (
        "unit",
        "quota to date",
        "actual to date",
        "attainment",
        "pacing",
        "forecast (seasonal)",
        "forecast att.",
    ):
        t.add_column(c, justify="left" if c == "unit" else "right")
    for name, m in [("company", s["company"]), *s["by_region"].items()]:
        t.add_row(
            escape(name),
            f"{m['quota_to_date']:,.0f}",
            f"{m['actual_to_date']:,.0f}",
            pct(m["attainment"]),
            f"{m['pacing']:,.0f}",
            "–" if m["forecast_seasonal"] is None else f"{m['forecast_seasonal']:,.0f}",
            pct(m["forecast_attainment"]),
        )
    console.print(t)
    risk = res.at_risk
    limit = 30
    t = Table(
        title=f"{len(risk):,} at-risk reps (forecast attainment < {res.threshold:.0%}, "
        "largest gap first)"
    )
    for c in ("rep", "team", "attainment", "annual quota", "forecast", "gap", "products"):
        t.add_column(c, justify="left" if c in ("rep", "team", "products") else "right")
    for r in risk.head(limit).to_dict("records"):
        t.add_row(
            escape(str(r["rep_id"])),
            escape(str(r["team_id"])),
            pct(r["attainment"]),
            f"{r['annual_quota']:,.0f}",
            f"{r['forecast_seasonal']:,.0f}",
            f"{r['gap']:,.0f}",
            escape(str(r["at_risk_products"]).replace(";", ", ")),
        )
    if len(risk):
        console.print(t)
        if len(risk) > limit:
            console.print(f"… and {len(risk) - limit:,} more in at_risk.csv")
    else:
        console.print("[green]no rep at risk[/]", markup=True)
    d = s["distribution"]
    if d["count"]:
        console.print(
            f"attainment over {d['count']:,} reps: mean {pct(d['mean'])}, median "
            f"{pct(d['median'])}, p10 {pct(d['p10'])}, p90 {pct(d['p90'])}, "
            f"{pct(d['share_at_or_above_100'])} at or above 100%"
        )
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", markup=True)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--track",
    "track_dir",
    type=click.Path(path_type=Path),
    help="A folder written by `allocopt track`: adds the attainment section.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="HTML file (default: RUN_DIR-report.html beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option(
    "--evaluate",
    "evaluate_dir",
    type=click.Path(path_type=Path),
    help="A folder written by `allocopt evaluate`: adds the year-end evaluation section.",
)
@_guard
def report(
    run_dir: Path,
    track_dir: Path | None,
    out: Path | None,
    force: bool,
    evaluate_dir: Path | None = None,
) -> None:
    """Write a self-contained HTML report (charts embedded; loads nothing from the network)."""
    from allocopt.outputs.report import write_report

    path = write_report(run_dir, out, track_dir=track_dir, force=force, evaluate_dir=evaluate_dir)
    console.print(f"wrote {escape(str(path))}")


@main.command()
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

    from allocopt.results.compare import LEVELS, compare_runs, write_csv

    if len(run_dirs) < 2:
        raise click.UsageError("give at least two run folders to compare")
    cmp = compare_runs(list(run_dirs))
    if out is not None:
        write_csv(cmp.by(level), out, force=force, runs=run_dirs)
    if as_json:
        data = cmp.to_dict(level)
        if out is not None:
            data["out"] = str(out)
        console.print_json(json.dumps(data, default=str))
        return

    def cell(v: Any, money: bool = False) -> Text:
        if v is None or (isinstance(v, float) and v != v):
            return Text("")
        if isinstance(v, bool) or not isinstance(v, int | float):
            return Text(str(v))
        return Text(f"{v:,.0f}" if money else f"{v:,.6g}")

    runs = cmp.runs
    t = Table(title="runs (changes against the first)")
    t.add_column("")
    for r in runs:
        t.add_column(Text(r), justify="right")
    for item, row in cmp.overview.iterrows():
        t.add_row(Text(str(item)), *(cell(row[r], money=item == "total_quota") for r in runs))
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


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--rep", "rep_id", help="Explain one rep's quota.")
@click.option("--no-resolve", is_flag=True, help="Skip the re-solves (price of fairness).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@_guard
def explain(run_dir: Path, rep_id: str | None, no_resolve: bool, as_json: bool) -> None:
    """Why this number: what binds, shadow prices, price of fairness; or one rep's quota."""
    from allocopt.results.explain import explain_plan, explain_rep

    if rep_id:
        x = explain_rep(run_dir, rep_id)
        if as_json:
            console.print_json(json.dumps(x.as_dict(), default=str))
            return
        shown, quota = x.displayed_parts(0)  # the shown parts add up to the shown quota
        t = Table(title=f"rep {x.rep_id} (team {x.team_id}): quota {quota:,.0f}")
        t.add_column("part")
        t.add_column("amount", justify="right")
        for label, amount in shown:
            t.add_row(escape(label), f"{amount:+,.0f}")
        t.add_row("[bold]quota[/]", f"[bold]{quota:,.0f}[/]")
        console.print(t)
        d = x.difficulty
        if d["difficulty"] is not None:
            band = f", band ±{d['band']:.0%}" if d["band"] is not None else ""
            console.print(
                f"difficulty {d['difficulty']:.3f} vs {escape(str(d['group']))} level "
                f"{d['group_level']:.3f} ({d['vs_group']:+.1%}{band})"
            )
        for a in x.accounts:
            console.print(
                f"key account {escape(str(a['account_id']))} "
                f"(revenue {a['revenue']:,.0f}): {escape(a['why'])}"
            )
        return
    e = explain_plan(run_dir, resolve=not no_resolve)
    if as_json:
        console.print_json(json.dumps(e.as_dict(), default=str))
        return
    t = Table(title="binding rules (quota stage, LP)")
    t.add_column("rule")
    t.add_column("rows at a bound", justify="right")
    for rule, n in e.binding_counts.items():
        t.add_row(escape(rule), f"{n:,}")
    console.print(t)
    t = Table(title="company targets: marginal cost (objective units)")
    for c in ("product", "target", "row dual", "per unit (ref. scaled)", "cost of +1%"):
        t.add_column(c, justify="left" if c == "product" else "right")
    for p in e.target_prices:
        t.add_row(
            escape(str(p["product"])),
            f"{p['target']:,.0f}",
            f"{p['dual']:.4g}",
            f"{p['per_unit']:.4g}",
            f"{p['cost_of_plus_1pct']:,.0f}",
        )
    console.print(t)
    if any("resolved_plus_1pct" in p for p in e.target_prices):
        t = Table(title="+1% target: the derivative against the re-solved LP")
        for c in ("product", "derivative × 1%", "derivative valid up to", "re-solved +1%"):
            t.add_column(c, justify="left" if c == "product" else "right", no_wrap=True)
        for p in e.target_prices:
            rs = p.get("resolved_plus_1pct")
            vu = p.get("valid_up_to_pct")
            t.add_row(
                escape(str(p["product"])),
                f"{p['cost_of_plus_1pct']:,.0f}",
                "" if vu is None else (f"≥ +{vu:.0f}%" if vu >= 1 else f"+{vu:.3f}%"),
                "infeasible" if rs is None else f"{rs:,.0f}",
            )
        console.print(t)
    for p in e.target_prices:
        if p.get("note"):
            console.print(escape(f"{p['product']}: {p['note']}"))
    if e.capacity_prices:
        t = Table(title="capacity that binds: saving per extra unit of capacity")
        t.add_column("rep")
        t.add_column("capacity", justify="right")
        t.add_column("saving / unit", justify="right")
        for cp in e.capacity_prices:
            t.add_row(
                escape(str(cp["rep_id"])), f"{cp['capacity']:,.0f}", f"{cp['saving_per_unit']:.4g}"
            )
        console.print(t)
    pf = e.price_of_fairness
    if pf.get("price_of_fairness") is not None:
        console.print(
            f"price of fairness (LP objective with − without the rule): "
            f"{pf['price_of_fairness']:,.0f}"
        )
        if pf.get("saving_band_plus_5pts") is not None:
            saving = pf["saving_band_plus_5pts"]
            console.print(f"loosening the band by 5 points saves {saving:,.0f}")
    elif pf.get("note"):
        console.print(pf["note"])
    att = e.attainability
    if att and att.get("expected_share_at_quota") is not None:
        band = f"{att['p']:.0%}" + (f"–{att['max_p']:.0%}" if att.get("max_p") else "+")
        console.print(
            f"attainability: {att['expected_share_at_quota']:.1%} of the {att['reps_bounded']:,} "
            f"bounded reps expected at quota (each {att['min_chance']:.0%}–"
            f"{att['max_chance']:.0%}; rule band {band})"
        )
    inc = e.incentives
    if inc:
        line = (
            f"expected variable pay {inc['expected_payout']:,.0f} (p10 {inc['payout_p10']:,.0f}, "
            f"p90 {inc['payout_p90']:,.0f}); "
            f"{inc['expected_share_at_or_above_quota']:.0%} of reps expected at or above quota"
        )
        if inc["budget"] is not None:
            line += f"; P(payout > budget {inc['budget']:,.0f}) = {inc['p_over_budget']:.0%}"
        console.print(line)


@main.command(name="export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    required=True,
    help="csv, xlsx, varicent, salesforce or xactly (mappings: docs/exports.md).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="New folder for the files."
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option(
    "--id-map",
    type=click.Path(path_type=Path),
    help="Table rep_id,external_id: the owner ID of every rep in the SPM formats.",
)
@_guard
def export_cmd(run_dir: Path, fmt: str, out: Path, force: bool, id_map: Path | None) -> None:
    """Export a run's quotas in a format that compensation / SPM systems import."""
    from allocopt.outputs.export import export_run

    paths = export_run(run_dir, fmt, out, force=force, id_map=id_map)
    for path in paths:
        console.print(f"[green]wrote[/] {escape(str(path))}", markup=True)


def _no_cut(t: Table, cells: list[str]) -> None:
    """Numbers in a table are never cut: each right-aligned column is at least as wide as the
    longest number (headers wrap instead)."""
    width = max((len(c) for c in cells), default=0)
    for col in t.columns:
        if col.justify == "right":
            col.min_width = max(col.min_width or 0, width)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--scenarios",
    "sweep_names",
    multiple=True,
    metavar="NAMES",
    help="Named what-ifs of the file (comma-separated): one item each.",
)
@click.option(
    "--grid",
    "grid",
    multiple=True,
    metavar="KEY=V1,V2",
    help="Values of one key (read like --set); repeatable: cartesian product.",
)
@click.option("--draws", type=int, help="Monte Carlo draws from the scenario's uncertainty:.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draws.")
@click.option(
    "--plan",
    "plan",
    type=click.Path(path_type=Path),
    help="Stress this published run folder's quotas (with --draws; no solve).",
)
@click.option("--workers", type=int, help="Local Dask workers (default: the number of cores).")
@click.option(
    "--scheduler", metavar="ADDRESS", help="Use an existing Dask scheduler, e.g. tcp://host:8786."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Sweep folder (default: output dir/name-sweep-time).",
)
@click.option("--force", is_flag=True, help="Replace the sweep folder if it exists.")
@click.option("--resume", is_flag=True, help="Finish an interrupted sweep (same --out).")
@click.option("--keep-runs", is_flag=True, help="Also write every item as a run folder in runs/.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@_scenario_options
@_guard
def sweep(
    scenario: Path,
    scenario_names: tuple[str, ...],
    sets: tuple[str, ...],
    sweep_names: tuple[str, ...],
    grid: tuple[str, ...],
    draws: int | None,
    seed: int,
    plan: Path | None,
    workers: int | None,
    scheduler: str | None,
    out: Path | None,
    force: bool,
    resume: bool,
    keep_runs: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Solve many variants of a scenario on Dask: what-ifs, a grid or Monte Carlo draws."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from allocopt.sweep.define import define
    from allocopt.sweep.runner import run_sweep

    defn = define(
        scenario,
        scenarios=sweep_names,
        grid=grid,
        draws=draws,
        seed=seed,
        plan=plan,
        base_scenarios=scenario_names,
        base_sets=sets,
    )
    show = not (quiet or as_json)
    bar = Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not show,
        transient=False,
    )
    with bar:
        task = bar.add_task("items", total=len(defn.items), failed=0)

        def progress(done: int, total: int, failed: int) -> None:
            bar.update(task, completed=done, total=total, failed=failed)

        res = run_sweep(
            defn,
            out=out,
            force=force,
            resume=resume,
            keep_runs=keep_runs,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        )
    if as_json:
        console.print_json(
            json.dumps(
                {"folder": str(res.folder), "reused": res.reused, **res.summary}, default=str
            )
        )
        return
    s = res.summary
    console.print(
        f"[green]{res.kind} sweep[/]: {res.items} items, {res.ok} solved, {res.infeasible} "
        f"infeasible, {res.failed} failed"
        + (f" ({res.reused} reused)" if res.reused else "")
        + f" → {escape(str(res.folder))}",
        markup=True,
    )
    if res.kind == "plan":
        att = s["company_attainment"]
        console.print(
            f"company quota {s['company_quota']:,.0f}: chance to reach it "
            f"{s['company_p_reach']:.1%}; attainment p10 {att['p10']:.3f}, p50 {att['p50']:.3f}, "
            f"p90 {att['p90']:.3f}; a rep reaches quota with probability "
            f"{s['reps_p_reach_mean']:.1%} on average"
        )
    elif "company_quota" in s:
        cq = s["company_quota"]
        console.print(
            f"company total quota p10 {cq['p10']:,.0f}, p50 {cq['p50']:,.0f}, p90 {cq['p90']:,.0f}"
        )
    for reason, n in s.get("reasons", {}).items():
        err.print(f"[yellow]{n}× not solved:[/] {escape(reason)}", markup=True)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("run_b", required=False, type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    required=True,
    help="Actuals table, or a folder of extracts (the newest is used); watched for changes.",
)
@click.option("--port", default=8000, show_default=True, help="TCP port (0: any free port).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback needs --token.",
)
@click.option(
    "--token",
    envvar="ALLOCOPT_TOKEN",
    help="Require this token on every request (Authorization: Bearer T, or ?token=T once). "
    "Also read from ALLOCOPT_TOKEN.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day the actuals cover (default: end of the last period with actuals).",
)
@click.option(
    "--threshold",
    type=float,
    default=0.9,
    show_default=True,
    help="At risk when the seasonality-adjusted forecast attainment is below this.",
)
@_guard
def serve(
    run_dir: Path,
    run_b: Path | None,
    actuals: Path,
    port: int,
    host: str,
    token: str | None,
    as_of: Any,
    threshold: float,
) -> None:
    """Live monitoring in the browser: attainment, pacing, forecasts, at-risk reps, drill-down
    to each rep's "why this number"; RUN_B adds a side-by-side comparison. Read-only."""
    from allocopt.serve import serve as run_server

    def ready(url: str) -> None:
        console.print(Text(f"serving {run_dir} at {url} (Ctrl-C to stop)"))
        if token:
            console.print(Text("every request needs the token: open the page once with ?token=…"))
        sys.stdout.flush()

    run_server(
        run_dir,
        actuals,
        run_b=run_b,
        host=host,
        port=port,
        token=token,
        as_of=as_of.date() if as_of else None,
        threshold=threshold,
        ready=ready,
        warn=lambda message: err.print(
            Text(f"warning: the actuals cannot be read yet (serving anyway): {message}")
        ),
    )


if __name__ == "__main__":  # pragma: no cover
    main()


@main.command(name="payout")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    help="Actuals to date (rep_id, product, period, amount); default: sales = quota × 1.",
)
@click.option("--draws", type=int, default=2000, show_default=True, help="Monte Carlo draws.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the draws.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default: RUN_DIR-payout beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def payout_cmd(
    run_dir: Path,
    actuals: Path | None,
    draws: int,
    seed: int,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Expected variable pay of a run under its incentive plans (docs/incentives.md)."""
    from allocopt.results.payout import payout, write_payout

    res = payout(run_dir, actuals, draws=draws, seed=seed)
    folder = write_payout(res, out, force=force)
    s = res.summary
    if as_json:
        console.print_json(json.dumps({"out": str(folder), **s}, default=str))
        return
    cur = s["currency"]

    def pct(v: Any) -> str:
        return "–" if v is None else f"{v:.1%}"

    src = (
        f"actuals to {s['actuals']['as_of']} ({s['elapsed_share']:.0%} of the year)"
        if s["actuals"]
        else "no actuals: expected sales = quota"
    )
    console.print(
        f"payout of {escape(str(run_dir))}: {src}; {s['draws']:,} draws, seed {s['seed']}, "
        f"spread {s['spread_remaining']:.3f} → {escape(str(folder))}"
    )
    t = Table(title=f"expected variable pay ({escape(cur)})")
    u = res.units
    rows = [
        (
            escape(f"{rec['unit_id']} ({rec['level']})"),
            f"{int(rec['reps']):,}",
            f"{rec['quota']:,.0f}",
            f"{rec['expected_revenue']:,.0f}",
            f"{rec['expected_payout']:,.0f}",
            pct(rec["cost_of_sales"]),
            pct(rec["share_at_or_above_quota"]),
        )
        for rec in u[u["level"] != "team"].to_dict("records")
    ]
    heads = ("unit", "reps", "quota", "exp. revenue", "exp. payout", "cost %", "≥ quota")
    for i, h in enumerate(heads):
        width = None if i == 0 else max([len(r[i]) for r in rows], default=1)
        t.add_column(h, justify="left" if i == 0 else "right", min_width=width, overflow="fold")
    for r in rows:
        t.add_row(*r)
    console.print(t)
    line = (
        f"company payout p10 {s['payout_p10']:,.0f} · p50 {s['payout_p50']:,.0f} · "
        f"p90 {s['payout_p90']:,.0f}"
    )
    if s["budget"] is not None:
        line += f"; budget {s['budget']:,.0f}: P(payout > budget) = {pct(s['p_over_budget'])}"
    console.print(line)
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", markup=True)


@main.command(name="evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--actuals",
    "actuals",
    type=click.Path(path_type=Path),
    required=True,
    help="A year of actuals: rep_id, product, period, amount (CSV, Excel or Parquet).",
)
@click.option(
    "--low", type=float, default=0.9, show_default=True, help="Low attainment is below this."
)
@click.option(
    "--high-quantile",
    type=float,
    default=0.75,
    show_default=True,
    help="High difficulty is at or above this quantile of the reps' difficulty.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Output folder (default: RUN_DIR-evaluate beside the run).",
)
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def evaluate_cmd(
    run_dir: Path,
    actuals: Path,
    low: float,
    high_quantile: float,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Year-end evaluation: attainment, quota accuracy, who was set up to fail; performance.csv."""
    from allocopt.outputs.report import write_evaluation_report
    from allocopt.results.evaluate import evaluate, write_evaluation

    res = evaluate(run_dir, actuals, low=low, high_quantile=high_quantile)

    def finish(folder: Path) -> None:
        write_evaluation_report(folder, folder / "report.html")

    folder = write_evaluation(res, out, force=force, finish=finish)
    s = res.summary
    if as_json:
        console.print_json(json.dumps({"out": str(folder), **s}, default=str))
        return

    def pct(v: Any) -> str:
        return "–" if v is None else f"{v:.1%}"

    c = s["company"]
    console.print(
        f"evaluation of {escape(str(run_dir))} against actuals to {s['as_of']} "
        f"→ {escape(str(folder))}"
    )
    console.print(
        f"company attainment {pct(c['attainment'])}; reps: median {pct(c.get('median'))}, "
        f"p10 {pct(c.get('p10'))}, p90 {pct(c.get('p90'))}, "
        f"{pct(c.get('share_at_or_above_100'))} at or above quota; quota accuracy (RMSE around "
        f"100%) {pct(c.get('rmse_vs_100'))}"
    )
    d = s["difficulty_vs_attainment"]
    rho = "–" if d["spearman"] is None else f"{d['spearman']:+.2f}"
    console.print(f"did difficulty predict attainment? Spearman ρ = {rho}: {d['reading']}")
    t = Table(title="reps by outcome")
    t.add_column("category")
    t.add_column("reps", justify="right")
    for k, v in s["categories"].items():
        t.add_row(k.replace("_", " "), f"{v:,}")
    console.print(t)
    if s["set_up_to_fail"]:
        console.print("set up to fail: " + escape(", ".join(s["set_up_to_fail"])))
    pay = s["payout"]
    if pay:
        line = f"variable pay {pay['payout']:,.0f}"
        if pay["budget"] is not None:
            line += f" vs budget {pay['budget']:,.0f} ({pay['vs_budget']:+,.0f})"
        console.print(line + ("" if pay["exact"] else " (expected: the year is not complete)"))
    console.print(
        f"performance.csv: {s['performance']['rows']:,} factors for next year's reference "
        f"({s['performance']['min']}–{s['performance']['max']})"
    )
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", markup=True)
