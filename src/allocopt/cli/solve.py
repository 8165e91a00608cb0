"""``allocopt solve``: Solve a scenario and write a new run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from allocopt.cli.options import _guard, _scenario_options
from allocopt.cli.render import _Progress, console, err

if TYPE_CHECKING:
    from allocopt.pipeline import RunOutcome


@click.command()
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
@click.option(
    "--quiet",
    is_flag=True,
    help="Print only warnings and errors (no progress, no summary; --json for the run folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Solve the blocks of the rounding MIP and of the key-account alignment, and price the "
    "LP's Dantzig–Wolfe packs, on this Dask "
    "scheduler (tcp://host:port; start it with `dask scheduler` and `dask worker ADDRESS`, "
    "docs/sweep.md); the plan is the same bytes as without it.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Local processes for those blocks and packs (the same as --set solver.workers=N; "
    "default: the cores available, at most 8; used only when a model is split into blocks: "
    "solver.block_size, alignment_block_size, decompose_above); the plan is the same bytes "
    "whatever N.",
)
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
    scheduler: str | None = None,
    workers: int | None = None,
) -> None:
    """Solve a scenario and write a new run folder."""
    from contextlib import ExitStack

    from allocopt.pipeline import run

    _check_cluster(workers, scheduler)  # before anything is read or started (exit 2)
    if workers is not None:  # the last --set wins: --workers over the file and other --set
        sets = (*sets, f"solver.workers={workers}")

    with ExitStack() as stack, _Progress(quiet or as_json or not err.is_terminal) as progress:
        if scheduler is not None:  # the sweep's connection to a cluster, shared
            from allocopt.solve.decompose import dask_blocks
            from allocopt.sweep.runner import _client

            client, _, _ = _client(None, scheduler)
            stack.callback(client.close)
            stack.enter_context(dask_blocks(client))
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
    if not quiet:
        _print_outcome(res)
    elif res.status == "time_limit":  # exit 0, but the status line that says so is not printed
        err.print(
            f"[yellow]warning:[/] {_status_line(res.status, res.gap, res.manifest)} → "
            f"{escape(str(res.run_dir))}",
            markup=True,
        )
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {w}", markup=True)


def _check_cluster(workers: int | None, scheduler: str | None) -> None:
    """``--scheduler`` must be an address Dask can parse, and not given with ``--workers`` (the
    cluster's own workers run the blocks): an InputError (exit 2) naming the option."""
    from allocopt.sweep.define import check_cluster

    check_cluster(
        workers,
        scheduler,
        local="sets the local processes",
        runs="the blocks",
        header="allocopt solve: bad options",
    )


def _print_outcome(res: RunOutcome) -> None:
    """The status line, the company totals and the fairness line (not with --quiet)."""
    s = res.results.summary
    console.print(f"{_status_line(res.status, res.gap, res.manifest)} → {res.run_dir}", markup=True)
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


def _status_line(status: str, gap: float | None, manifest: dict[str, Any]) -> str:
    """``optimal, gap 0.31%``; when the plan came from blocks (or the rounded LP optimum) the line
    says which bound valid for the whole model its gap is against: the Lagrangian integer bound
    of the blocks (``bound_method`` ``lagrangian``; status ``feasible`` when above mip_gap)
    or the LP relaxation's bound — rather than calling a block-wise optimum simply optimal."""
    quotas = (manifest.get("stages") or {}).get("quotas") or {}
    against_lp = bool(quotas.get("gap_against_lp")) and quotas.get("gap") == gap
    lagrangian = quotas.get("bound_method") == "lagrangian" and quotas.get("gap") == gap
    word = "optimal in each block" if against_lp and status == "optimal" else status
    # a plan stamped time_limit is feasible (its rows hold; verify re-checks) but not proven
    # within solver.mip_gap: say what stopped it and what to do
    stopped = (
        "; solver.time_limit reached before a proof within solver.mip_gap — a feasible "
        "plan (allocopt verify re-checks it); raise the limit for a smaller gap"
        if status == "time_limit"
        else ""
    )
    if not gap:
        return f"[green]{word}[/]{stopped}"
    basis = (
        " against the LP relaxation's bound (see the manifest)"
        if against_lp
        else " against the Lagrangian integer bound of the blocks (see the manifest)"
        if lagrangian
        else ""
    )
    if against_lp and status == "time_limit":
        basis += ", which leaves out the cost of rounding the quotas to the unit"
    return f"[green]{word}[/], gap {gap:.4%}{basis}{stopped}"
