"""``allocopt explain``: Why this number: what binds, shadow prices, price of fairness; or one rep's
quota.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from allocopt.cli.options import _guard
from allocopt.cli.render import console


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--rep", "rep_id", help="Explain one rep's quota.")
@click.option("--no-resolve", is_flag=True, help="Skip the re-solves (price of fairness).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@_guard
def explain(run_dir: Path, rep_id: str | None, no_resolve: bool, as_json: bool) -> None:
    """Why this number: what binds, shadow prices, price of fairness; or one rep's quota."""
    from allocopt.compose import explain_plan, explain_rep

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
    _plan_line(e.plan)
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
                "not measured"
                if "resolved_plus_1pct" not in p  # its re-solve stopped at the time limit
                else "infeasible"
                if rs is None
                else f"{rs:,.0f}",
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
            f"{_whole(pf['price_of_fairness'])}"
        )
        if pf.get("saving_band_plus_5pts") is not None:
            saving = pf["saving_band_plus_5pts"]
            console.print(f"loosening the band by 5 points saves {_whole(saving)}")
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


def _plan_line(plan: dict[str, Any]) -> None:
    """A plan not proven optimal (stopped by the time limit, or above the gap) says so first:
    the prices below are the LP relaxation's whatever the plan's gap."""
    status = plan.get("status")
    if status in (None, "optimal"):
        return
    gap = plan.get("gap")
    against = (
        " against the LP relaxation's bound"
        if plan.get("gap_against_lp")
        else " against the Lagrangian integer bound of the blocks"
        if plan.get("bound_method") == "lagrangian"
        else ""
    )
    line = f"plan: {status}" + (f", gap {gap:.4%}{against}" if gap else "")
    if status == "time_limit":
        line += " (stopped by solver.time_limit; a feasible plan)"
    line += (
        "; the prices below are the LP relaxation's, the same whatever the plan's gap"
        if plan.get("lp_optimal", True)
        else "; the LP relaxation itself was cut short, so the prices below are approximate"
    )
    console.print(escape(line))


def _whole(x: float) -> str:
    """``x`` to the unit with thousands separators; a tiny negative (LP noise) is "0", not "-0"."""
    text = f"{x:,.0f}"
    return "0" if text == "-0" else text
