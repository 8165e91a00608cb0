"""Command-line interface: parses, calls the pipeline, prints. No logic lives here."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from allocopt import __version__
from allocopt.errors import AllocoptError

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _guard(fn: F) -> F:
    """Turn every allocopt error into its message and exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="allocopt")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """allocopt — split sales targets across regions, teams, reps, products and periods."""


def _progress(quiet: bool) -> Callable[[str], None]:
    if quiet:
        return lambda _s: None
    return lambda stage: err.print(f"[dim]· {stage}[/]", markup=True)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_guard
def validate(scenario: Path, as_json: bool) -> None:
    """Check a scenario and its data (no solve); exit 2 with every problem listed."""
    from allocopt.pipeline import validate as run_validate

    v = run_validate(scenario)
    if as_json:
        console.print_json(json.dumps({"valid": True, **v.summary, "warnings": v.warnings}))
        return
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
@click.option("--force", is_flag=True, help="Replace the run folder if it exists.")
@click.option(
    "--write-model", type=click.Path(path_type=Path), help="Write the solved model as MPS."
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@_guard
def solve(
    scenario: Path,
    out: Path | None,
    force: bool,
    write_model: Path | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Solve a scenario and write a new run folder."""
    from allocopt.pipeline import run

    res = run(
        scenario,
        out=out,
        force=force,
        write_model=write_model,
        progress=_progress(quiet or as_json),
    )
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "run_dir": str(res.run_dir),
                    "status": res.status,
                    "gap": res.gap,
                    "timings": res.timings,
                    "summary": res.results.summary,
                },
                default=str,
            )
        )
        return
    s = res.results.summary
    gap = f", gap {res.gap:.4%}" if res.gap else ""
    console.print(f"[green]{res.status}[/]{gap} → {res.run_dir}", markup=True)
    t = Table(title="company totals")
    for c in ("product", "target with cushion", "quota"):
        t.add_column(c, justify="right" if c != "product" else "left")
    for p, d in s["totals"].items():
        t.add_row(p, f"{d['target']:,.0f}", f"{d['quota']:,.0f}")
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

    from allocopt.results.verify import verify_run

    res = verify_run(run_dir, tol=tol)
    n_rules = sum(1 for n in res.checked.values() if n)
    if res.ok:
        console.print(
            f"[green]verified[/]: {res.n_checks:,} checks over {n_rules} rules, no violations",
            markup=True,
        )
        return
    v = res.violations
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
@click.option("--force", is_flag=True, help="Write into an existing, non-empty folder.")
@_guard
def init(directory: Path, force: bool) -> None:
    """Write an example project (scenario + data) that validates and solves."""
    from allocopt.errors import OutputError
    from allocopt.generate import generate_plan

    if directory.exists() and any(directory.iterdir()) and not force:
        raise OutputError(
            f"{directory} exists and is not empty; choose another folder or add --force"
        )
    path = generate_plan(directory, reps_per_team=6, name="my-plan")
    console.print(f"wrote {path}; next: allocopt validate {path} && allocopt solve {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
