"""``allocopt sweep``: Solve many variants of a scenario on Dask: what-ifs, a grid or Monte Carlo
draws.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from allocopt.cli.options import INTERRUPT_NOTES, _guard, _scenario_options
from allocopt.cli.render import console, err, pct
from allocopt.errors import InputError, OutputError, Problem

SHOWN_REASONS = 5  # why items were not solved, most frequent first; all in infeasible.csv


@click.command()
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
@click.option("--seed", type=int, help="Seed of the draws (with --draws; default 0).")
@click.option(
    "--plan",
    "plan",
    type=click.Path(path_type=Path),
    help="Stress this published run folder's quotas (with --draws; no solve).",
)
@click.option(
    "--workers",
    type=int,
    help="Local Dask workers (default: the number of cores); 1 = in this process, no cluster.",
)
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
@click.option(
    "--warm-start",
    is_flag=True,
    help="The base's LP basis starts every item's LP: same optimum within the solver's "
    "tolerances, not byte-identical to allocopt solve.",
)
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
    seed: int | None,
    plan: Path | None,
    workers: int | None,
    scheduler: str | None,
    out: Path | None,
    force: bool,
    resume: bool,
    keep_runs: bool,
    warm_start: bool,
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

    from allocopt.sweep.define import check_cluster, define
    from allocopt.sweep.runner import run_sweep, sweep_dir, work_dir

    given_out = out is not None

    check_cluster(workers, scheduler)
    if seed is not None and draws is None:
        raise InputError(
            Problem(
                "--seed",
                "",
                "",
                "only Monte Carlo draws are seeded: --scenarios and --grid items are fixed "
                "and draw nothing; add --draws N or leave --seed out",
                str(seed),
            ),
            header="the sweep definition has problems",
        )
    if plan is not None and (keep_runs or resume):
        flag = "--keep-runs" if keep_runs else "--resume"
        raise InputError(
            Problem(
                flag,
                "",
                "",
                "a plan stress (--plan) solves nothing and takes a second or two: there are no "
                "item runs to keep or resume; leave it out",
            ),
            header="the sweep definition has problems",
        )
    defn = define(
        scenario,
        scenarios=sweep_names,
        grid=grid,
        draws=draws,
        seed=0 if seed is None else seed,
        plan=plan,
        base_scenarios=scenario_names,
        base_sets=sets,
    )
    show = not (quiet or as_json)
    bar = Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} infeasible/failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not show,
        transient=False,
    )
    task = bar.add_task("items", total=len(defn.items), failed=0)

    def progress(done: int, total: int, failed: int) -> None:
        # the bar appears with the first report: a sweep refused before it starts (folder
        # exists, bad plan, ...) prints only its error
        if show and not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total, failed=failed)

    if resume and out is not None and _is_sweep(out) and not force:
        raise OutputError(
            f"{out} is written already: the sweep finished, nothing to resume; "
            "add --force (without --resume) to run it again"
        )
    if out is None and not resume:
        out = sweep_dir(defn, None)  # the default folder, named now: Ctrl-C can point at it
    if out is not None and defn.kind != "plan":
        again = "--resume" if given_out else f"--out {out} --resume"
        INTERRUPT_NOTES[:] = [
            f"the finished items are kept in {work_dir(out)}: run the same command with "
            f"{again} to finish the sweep without solving them again"
        ]
    try:
        res = run_sweep(
            defn,
            out=out,
            force=force,
            resume=resume,
            keep_runs=keep_runs,
            warm_start=warm_start,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        )
    finally:
        INTERRUPT_NOTES.clear()
        if bar.live.is_started:
            bar.stop()
    if as_json:
        console.print_json(
            json.dumps(
                {"folder": str(res.folder), "reused": res.reused, **res.summary}, default=str
            )
        )
        return
    s = res.summary
    if res.kind == "plan":
        console.print(
            f"[green]plan stress[/]: {res.items} draws of sales outcomes for the plan's quotas "
            f"(nothing solved) → {escape(str(res.folder))}",
            markup=True,
        )
    else:
        console.print(
            f"[green]{res.kind} sweep[/]: {res.items} item{'s' if res.items != 1 else ''}, "
            f"{res.ok} solved, {res.infeasible} "
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
        if s.get("payout") and (res.folder / "payout_units.csv").is_file():
            import pandas as pd

            from allocopt.cli.payout import print_units

            units = pd.read_csv(res.folder / "payout_units.csv", keep_default_na=False)
            print_units(units.replace("", float("nan")), s["payout"])
    elif "company_quota" in s:
        cq = s["company_quota"]
        console.print(
            f"company total quota p10 {cq['p10']:,.0f}, p50 {cq['p50']:,.0f}, p90 {cq['p90']:,.0f}"
        )
    if res.kind == "grid" and (res.folder / "sweep.csv").is_file():
        _print_payout_curve(res.folder)
    reasons = list(s.get("reasons", {}).items())
    for reason, n in reasons[:SHOWN_REASONS]:
        err.print(
            f"[yellow]{n} of {res.items} items not solved:[/] {escape(reason)}",
            markup=True,
            highlight=False,
        )
    if len(reasons) > SHOWN_REASONS:
        rest = sum(n for _, n in reasons[SHOWN_REASONS:])
        err.print(
            f"[yellow]{rest} more items not solved[/] for {len(reasons) - SHOWN_REASONS} other "
            f"reasons: see {escape(str(res.folder / 'infeasible.csv'))}",
            markup=True,
            highlight=False,
        )


def _is_sweep(folder: Path) -> bool:
    """A finished sweep folder (its manifest says kind sweep)."""
    try:
        return json.loads((folder / "manifest.json").read_text()).get("kind") == "sweep"
    except (OSError, ValueError, AttributeError):
        return False


def _print_payout_curve(folder: Path) -> None:
    """The payout_* columns of a grid sweep (incentives set), one line per item."""
    import pandas as pd

    d = pd.read_csv(folder / "sweep.csv", keep_default_na=False)
    if "payout_expected" not in d:
        return
    params = [c for c in d.columns[1 : list(d.columns).index("status")]]
    t = Table(title="expected variable pay per item (docs/sweep.md)")
    heads = [*params, "exp. payout", "p10", "p90", "cost %", "≥ quota", "P(> budget)"]
    rows = []
    for r in d.to_dict("records"):
        if r["payout_expected"] == "":
            continue

        rows.append(
            (
                *(escape(str(r[c])) for c in params),
                f"{float(r['payout_expected']):,.0f}",
                f"{float(r['payout_p10']):,.0f}",
                f"{float(r['payout_p90']):,.0f}",
                pct(r["payout_cost_of_sales"], 2),
                pct(r["payout_share_at_quota"]),
                pct(r["payout_p_over_budget"]),
            )
        )
    for i, h in enumerate(heads):
        width = max([len(x[i]) for x in rows], default=1)
        t.add_column(h, justify="right", min_width=width, overflow="fold")
    for x in rows:
        t.add_row(*x)
    console.print(t)
