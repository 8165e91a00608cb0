"""What a sweep runs: named what-ifs, a grid, Monte Carlo draws or a plan stress → items.

Public entry point: :func:`define`. It reads and validates the base scenario once, checks every
item's scenario (unknown names, unknown keys, bad values — exit 2, located, before anything
runs) and the ``uncertainty:`` section for draws, and returns a :class:`Definition` with the
items in a fixed order and a hash that identifies the sweep (definition + input file contents)
for ``--resume``.

* ``--scenarios a,b`` — one item per name (a name may be a scenario or an override);
* ``--grid key=v1,v2`` (repeatable) — the cartesian product, first key slowest; values are read
  like ``--set`` values; combined with ``--scenarios``: every name × every grid point;
* ``--draws N --seed S`` — items 0..N-1, draw i from ``default_rng([S, i])``;
* ``--plan RUN_DIR`` with ``--draws`` — the published plan's quotas are kept (no solve).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocopt.errors import InputError, Problem
from allocopt.outputs.runfolder import sha256_file
from allocopt.pipeline import Validated, validate
from allocopt.scenario.load import load_scenario
from allocopt.scenario.overrides import SET_FILE, read_tree

__all__ = [
    "Definition",
    "Item",
    "check_cluster",
    "check_plan",
    "define",
    "parse_grid",
    "scheduler_problem",
]

GRID = "--grid"


@dataclass(frozen=True)
class Item:
    """One unit of work: its id, what it changes, and the parameters shown in sweep.csv."""

    index: int
    scenarios: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    draw: int | None = None
    params: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"item-{self.index:04d}"


@dataclass
class Definition:
    """A checked sweep: the base, the items and what identifies them."""

    path: Path
    kind: str  # "scenarios" | "grid" | "draws" | "plan"
    base: Validated
    items: list[Item]
    grid: list[tuple[str, list[str]]] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    draws: int | None = None
    seed: int = 0
    plan: Path | None = None
    base_scenarios: tuple[str, ...] = ()
    base_sets: tuple[str, ...] = ()
    inputs: dict[str, str] = field(default_factory=dict)  # label → sha256

    def spec(self) -> dict[str, Any]:
        """The JSON-able definition (recorded in the manifest; hashed for --resume)."""
        return {
            "kind": self.kind,
            "scenario": str(self.path),
            "base_scenarios": list(self.base_scenarios),
            "base_sets": list(self.base_sets),
            "scenarios": self.scenarios,
            "grid": [{"key": k, "values": v} for k, v in self.grid],
            "draws": self.draws,
            "seed": self.seed if self.draws is not None else None,
            "plan": str(self.plan) if self.plan is not None else None,
            "items": len(self.items),
        }

    @property
    def hash(self) -> str:
        """sha256 of the definition and the contents of every input file."""
        blob = json.dumps({"spec": self.spec(), "inputs": self.inputs}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def _split_values(text: str) -> list[str]:
    """Split ``v1,v2,[a, b]`` at top-level commas (not inside brackets, braces or quotes)."""
    out, cur, depth, quote = [], [], 0, ""
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_grid(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``key=v1,v2`` options → [(key, [v1, v2])]; raise InputError for a malformed option."""
    out: list[tuple[str, list[str]]] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        values = _split_values(text) if sep else []
        if not sep or not key or not text.strip() or any(v == "" for v in values):
            msg = "write --grid KEY=V1,V2,..., e.g. --grid rules.fairness.band=0.2,0.3,0.4"
            problems.append(Problem(GRID, "", key, msg, item))
            continue
        if key in seen:
            problems.append(Problem(GRID, "", key, "given twice with --grid; give it once", item))
            continue
        if len(set(values)) != len(values):
            problems.append(Problem(GRID, "", key, "a value is listed twice; list it once", item))
            continue
        seen.add(key)
        out.append((key, values))
    if problems:
        raise InputError(problems, header="the sweep definition has problems")
    return out


def _missing_tables(loaded: Any, grid_keys: set[str]) -> list[Problem]:
    """An item's data files that do not exist (a grid or what-if pointing ``data.*`` at another
    file): found here, before anything runs, not as a failed item after the rest are solved."""
    from allocopt.data.checks import table_source
    from allocopt.data.tables import SPECS

    out: list[Problem] = []
    for name in SPECS:
        ref = getattr(loaded.scenario.data, name)
        if ref is None:
            continue
        src = table_source(ref, loaded.base_dir)
        if not src.path.is_file():
            key = f"data.{name}"
            what = "is a folder, not a table file" if src.path.is_dir() else "file not found"
            out.append(
                Problem(
                    GRID if key in grid_keys else "--scenarios",
                    "",
                    key,
                    f"{what}: {src.path}; check the path (it is relative to the scenario file)",
                )
            )
    return out


def _unique(problems: list[Problem]) -> list[Problem]:
    """Each problem once: a bad key (or scenario name) is found in every item that has it, once
    per grid point, with the item's ``key=value`` as the value — say it once."""
    out: list[Problem] = []
    seen: set[tuple[str, ...]] = set()
    for p in problems:
        value = "" if p.value.startswith(f"{p.field}=") else p.value
        key = (p.file, p.where, p.field, p.message, value)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


PLAN_FILES = ("annual.csv", "assignments.csv")


def check_plan(plan: Path, base: Validated) -> None:
    """``--plan``: a run folder of ``allocopt solve`` with the files the stress reads, whose reps
    and products the scenario has — checked before anything runs (exit 2, nothing written)."""
    from allocopt.outputs.runfolder import RunFolder

    header = "cannot stress the plan"
    rf = RunFolder.open(plan, header)
    for name in PLAN_FILES:
        if not (plan / name).is_file():
            raise InputError(
                Problem(
                    str(plan / name),
                    "",
                    "",
                    "file is missing; give a run folder written by `allocopt solve`",
                ),
                header=header,
            )
    annual = rf.frame("annual.csv")
    md = base.md
    problems: list[Problem] = []
    unknown = sorted(set(annual["rep_id"].astype(str)) - set(md.rep_ids))
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        problems.append(
            Problem(
                str(plan / "annual.csv"),
                "",
                "rep_id",
                f"{len(unknown)} rep(s) of the plan are not in the scenario's data ({shown}); "
                "stress the plan with the scenario it was made from",
            )
        )
    bad_p = sorted(set(annual["product"].astype(str)) - set(md.products))
    if bad_p:
        problems.append(
            Problem(
                str(plan / "annual.csv"),
                "",
                "product",
                f"unknown products {', '.join(bad_p)}; stress the plan with the scenario it "
                "was made from",
            )
        )
    if problems:
        raise InputError(problems, header=header)


def scheduler_problem(scheduler: str) -> Problem | None:
    """``--scheduler ADDRESS`` (``allocopt sweep`` and ``allocopt solve``): None when Dask can
    parse it (a known scheme; host and port for tcp/tls), else the located problem (exit 2), so
    a malformed address is refused before any connection is tried."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, loc = parse_address(scheduler, strict=False)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        return Problem(
            "--scheduler",
            "",
            "",
            f"is not a Dask scheduler address ({exc}); write it as tcp://HOST:PORT, "
            "e.g. tcp://127.0.0.1:8786",
            scheduler,
        )
    return None


def check_cluster(
    workers: int | None,
    scheduler: str | None,
    *,
    local: str = "sizes the local cluster",
    runs: str = "the items",
    header: str = "the sweep definition has problems",
) -> None:
    """``--workers`` / ``--scheduler`` of ``allocopt sweep`` and ``allocopt solve``: one or the
    other, a positive count, an address Dask can parse (``tcp://host:port``) — checked before any
    cluster is started (exit 2). ``local`` says what ``--workers`` does and ``runs`` what the
    scheduler's workers run, in the message; ``header`` heads the error."""
    problems: list[Problem] = []
    if workers is not None and workers < 1:
        problems.append(Problem("--workers", "", "", "must be at least 1", str(workers)))
    if workers is not None and scheduler is not None:
        problems.append(
            Problem(
                "--workers",
                "",
                "",
                f"{local}; with --scheduler the scheduler's own workers run {runs} (start more "
                "with `dask worker ADDRESS`): give one of the two",
            )
        )
    if scheduler is not None:
        bad = scheduler_problem(scheduler)
        if bad is not None:
            problems.append(bad)
    if problems:
        raise InputError(problems, header=header)


def _hash_file(path: Path) -> str:
    return sha256_file(path)


def define(
    path: Path,
    *,
    scenarios: Sequence[str] = (),
    grid: Sequence[str] = (),
    draws: int | None = None,
    seed: int = 0,
    plan: Path | None = None,
    base_scenarios: Sequence[str] = (),
    base_sets: Sequence[str] = (),
) -> Definition:
    """Check the sweep and list its items (see the module docstring). Raises InputError."""
    names = [n.strip() for s in scenarios for n in s.split(",") if n.strip()]
    axes = parse_grid(grid)
    usage: list[Problem] = []
    if draws is not None and (names or axes):
        usage.append(
            Problem(
                "--draws",
                "",
                "",
                "a Monte Carlo sweep takes no --scenarios or --grid; "
                "put the what-if into the base with --scenario/--set instead",
            )
        )
    if plan is not None and draws is None:
        usage.append(Problem("--plan", "", "", "stressing a plan needs --draws N"))
    if draws is None and plan is None and not names and not axes:
        usage.append(Problem("sweep", "", "", "say what to sweep: --scenarios, --grid or --draws"))
    if draws is not None and draws < 1:
        usage.append(Problem("--draws", "", "", "must be at least 1", str(draws)))
    if seed < 0:
        usage.append(Problem("--seed", "", "", "must be 0 or more", str(seed)))
    if len(set(names)) != len(names):
        usage.append(Problem("--scenarios", "", "", "a name is listed twice; list it once"))
    if usage:
        raise InputError(usage, header="the sweep definition has problems")

    base = validate(path, scenarios=base_scenarios, sets=base_sets)
    items: list[Item] = []
    if draws is not None:
        if base.loaded.scenario.uncertainty is None:
            raise InputError(
                Problem(
                    base.loaded.file,
                    "",
                    "uncertainty",
                    "a Monte Carlo sweep needs an uncertainty: section with shocks "
                    "(docs/data.md, section Uncertainty); add one",
                ),
                header="the sweep definition has problems",
            )
        from allocopt.sweep.shocks import select

        unc = base.loaded.scenario.uncertainty
        select(base.md, unc, base.loaded.file, base.loaded.locate)  # located problems: exit 2
        items = [Item(i, draw=i, params=(("draw", str(i)),)) for i in range(draws)]
        kind = "plan" if plan is not None else "draws"
    else:
        kind = "grid" if axes else "scenarios"
        points = list(itertools.product(*[[(k, v) for v in vals] for k, vals in axes]))
        combos: list[tuple[str, ...]] = [(n,) for n in names] or [()]
        problems: list[Problem] = []
        k = 0
        for combo in combos:
            for point in points:
                sets = tuple(f"{key}={val}" for key, val in point)
                params: tuple[tuple[str, str], ...] = (("scenario", combo[0]),) if combo else ()
                params += tuple(point)
                items.append(Item(k, combo, sets, None, params))
                k += 1
        # every item's scenario must load (names, keys, values), checked here, before any work;
        # the file and its bases are parsed once (200 items: 1.3 s → see benchmarks/README.md)
        read = read_tree(path)
        grid_keys = {k for k, _ in axes}
        for it in items:
            try:
                loaded = load_scenario(
                    path, [*base_scenarios, *it.scenarios], [*base_sets, *it.sets], read=read
                )
                problems += _missing_tables(loaded, grid_keys)
            except InputError as exc:
                for p in exc.problems:
                    if p.file == SET_FILE:
                        p = Problem(GRID, "", p.field, p.message, p.value)
                    elif p.file == "--scenario":
                        p = Problem("--scenarios", "", p.field, p.message, p.value)
                    problems.append(p)
        if problems:
            raise InputError(_unique(problems), header="the sweep definition has problems")
    if plan is not None:
        check_plan(plan, base)
    inputs = {str(f): _hash_file(Path(f)) for f in base.loaded.files}
    for name, src in sorted(base.dataset.sources.items()):
        inputs[f"data.{name}"] = _hash_file(src.path)
    if plan is not None:
        for name in ("manifest.json", "annual.csv", "assignments.csv"):
            if (plan / name).is_file():
                inputs[f"plan/{name}"] = _hash_file(plan / name)
    return Definition(
        path=path,
        kind=kind,
        base=base,
        items=items,
        grid=axes,
        scenarios=names,
        draws=draws,
        seed=seed,
        plan=plan,
        base_scenarios=tuple(base_scenarios),
        base_sets=tuple(base_sets),
        inputs=inputs,
    )
