"""Composable scenarios: ``extends:`` chains, named ``overrides``, ``scenarios`` and ``--set``.

Public entry point: :func:`resolve`, which reads a scenario file with its base files, applies
the chosen overrides and ``--set`` values, and returns the resolved tree (not yet validated
against the schema), a :class:`SourceMap` that says in which file and at which line every key
was written, and the list of applied changes.

Precedence, highest first: ``--set`` > overrides in the order listed > the file > its base(s).

* ``extends: base.yaml`` (relative to the file; chains allowed, a cycle is an error): the file's
  tree is deep-merged over its base's — mappings merge key by key, lists and single values
  replace; ``overrides`` and ``scenarios`` merge name by name (a file's override replaces the
  base's override of the same name as a whole). Data paths stay relative to the file that wrote
  them: a base's ``data.*`` paths are rewritten relative to the extending file's folder.
* ``overrides: {name: partial tree}``: keys may be dotted (``rules.growth.max: 0.2`` is the
  same as the nested form). Dots split keys only where the schema has named fields; below a
  free-form mapping (``targets.by_product``, ``rules.floors.by_role``) the rest is one key, so
  ``targets.by_product.A.B`` sets product ``A.B``. Lists are replaced whole (no ``[i]`` paths).
* ``operations`` (data operations, a list) is the one exception to "lists replace": the
  operations of an override or ``--set`` are appended to those already in the tree (the file's,
  then each override's in order), never in conflict; each appended item is logged as its own
  change and keeps its own line for error messages. Through ``extends`` the list replaces.
* ``scenarios: {name: [override or scenario names]}``, expanded in order.
* ``--set key=value``: the value is read with the scenario file's strict YAML rules (only
  ``true``/``false`` are booleans, so ``on``/``yes`` stay text; ``012`` stays text; an empty
  value is null; ``[a, b]`` and ``{k: v}`` are allowed). Data paths given with ``--set`` are
  relative to the scenario file, like every path in it.

Errors (all collected, located at the file, line and column where the key is written): two
overrides of one scenario (or one override twice) setting the same key, a key that is not in the
schema (with the closest valid key), ``extends``/``overrides``/``scenarios`` set by an override,
an unknown scenario or override name (with a suggestion), a ``--set`` without ``=``, a missing
base file and an ``extends`` cycle.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel

from allocopt.errors import InputError, Problem
from allocopt.scenario.schema import Scenario
from allocopt.scenario.strict_yaml import LoadedYaml, dotted, load_yaml

__all__ = [
    "UNSET",
    "Origin",
    "Resolved",
    "SourceMap",
    "parse_set",
    "parse_value",
    "read_tree",
    "resolve",
    "set_keys",
    "valid_keys",
]

log = logging.getLogger(__name__)

KeyPath = tuple[str | int, ...]
Target = tuple[str, ...]

SET_FILE = "--set"
SCENARIO_OPTION = "--scenario"
_NOT_SETTABLE = frozenset({"extends", "overrides", "scenarios"})
_NAMED = ("overrides", "scenarios")  # merged name by name through extends
_APPEND: frozenset[Target] = frozenset({("operations",)})  # overrides/--set append to these


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()


# ---- where every key was written ----------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a value was written: file as shown, "line L, column C" (or ""), the file's folder."""

    file: str
    where: str
    base_dir: Path


@dataclass
class SourceMap:
    """Key path → :class:`Origin` of the resolved tree; lookups fall back to the longest prefix."""

    main: Origin
    entries: dict[KeyPath, Origin] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, loaded: LoadedYaml, base_dir: Path | None = None) -> SourceMap:
        folder = base_dir if base_dir is not None else Path(loaded.file).parent
        main = Origin(loaded.file, "", folder)
        entries = {
            p: Origin(loaded.file, f"line {line}, column {col}", folder)
            for p, (line, col) in loaded.locations.items()
        }
        return cls(main, entries)

    def find(self, path: Sequence[Any]) -> Origin:
        """Origin of ``path`` or of its longest written prefix (the main file as a fallback)."""
        p = tuple(path)
        for n in range(len(p), -1, -1):
            o = self.entries.get(p[:n])
            if o is not None:
                return o
        return self.main

    def locate(self, path: Sequence[Any]) -> str:
        """``where`` text for messages about the main file ("line 3, column 5 in base.yaml")."""
        o = self.find(path)
        if o.file == self.main.file:
            return o.where
        if not o.where:
            return f"from {o.file}"
        return f"{o.where} in {o.file}"

    def replace(self, path: KeyPath, origin: Origin) -> None:
        """Record that ``path`` (and everything below it) now comes from ``origin``."""
        n = len(path)
        for p in [p for p in self.entries if len(p) > n and p[:n] == path]:
            del self.entries[p]
        self.entries[path] = origin


# ---- reading one file with its bases ------------------------------------------------------------


@dataclass
class Resolved:
    """The result of :func:`resolve`: tree, origins, applied changes and files read."""

    tree: dict[str, Any]
    sources: SourceMap
    main: LoadedYaml
    changes: list[str]
    files: list[Path]


def _rebase(value: Any, src: Path, dst: Path) -> Any:
    """A data table reference written in folder ``src``, rewritten relative to ``dst``."""
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return {**value, "path": _rebase(value["path"], src, dst)}
    if not isinstance(value, str) or not value or PurePath(value).is_absolute():
        return value
    a, b = src.resolve(), dst.resolve()
    if a == b:
        return value
    try:
        return Path(os.path.relpath(a / value, b)).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return (a / value).as_posix()


@dataclass
class _File:
    tree: dict[str, Any]
    sources: SourceMap
    loaded: LoadedYaml
    files: list[Path]


def _read_chain(
    path: Path, chain: list[Path], problems: list[Problem], shown: str | None = None
) -> _File | None:
    loaded = load_yaml(path)
    if shown is not None and shown != loaded.file:
        loaded = dataclasses.replace(loaded, file=shown)
    here = path.parent
    sources = SourceMap.from_yaml(loaded, here)
    tree = loaded.data
    files = [path]
    ext = tree.get("extends")
    if ext is None:
        return _File(tree, sources, loaded, files)
    where = sources.find(("extends",)).where
    if not isinstance(ext, str) or not ext.strip():
        msg = "must be the path of a base scenario file (relative to this file)"
        problems.append(Problem(loaded.file, where, "extends", msg, str(ext)))
        return None
    base_path = Path(os.path.normpath(here / ext))  # shown in messages: no "a/../"
    key = (here / ext).resolve()
    if key in chain:
        names = [*(p.name for p in chain[chain.index(key) :]), key.name]
        msg = f"extends cycle: {' → '.join(names)}; remove one of the extends"
        problems.append(Problem(loaded.file, where, "extends", msg, ext))
        return None
    if not (here / ext).is_file():
        what = "is a folder" if (here / ext).is_dir() else "not found"
        msg = f"base scenario file {what}: {base_path}; check the path (relative to this file)"
        problems.append(Problem(loaded.file, where, "extends", msg, ext))
        return None
    base = _read_chain(here / ext, [*chain, key], problems, str(base_path))
    if base is None:
        return None
    btree = copy.deepcopy(base.tree)
    if isinstance(btree.get("data"), dict):
        btree["data"] = {k: _rebase(v, (here / ext).parent, here) for k, v in btree["data"].items()}
    merged, replaced = _merge(btree, tree)
    entries = {
        p: o
        for p, o in base.sources.entries.items()
        if not any(p[:n] in replaced for n in range(1, len(p)))
    }
    entries.update(sources.entries)
    return _File(merged, SourceMap(sources.main, entries), loaded, [*files, *base.files])


def _merge(base: dict[str, Any], top: dict[str, Any]) -> tuple[dict[str, Any], set[KeyPath]]:
    """Deep-merge ``top`` over ``base``; also return the paths that ``top`` replaced whole."""
    replaced: set[KeyPath] = set()

    def rec(b: dict[str, Any], t: dict[str, Any], path: KeyPath) -> dict[str, Any]:
        out = dict(b)
        for k, v in t.items():
            p = (*path, k)
            whole = len(path) == 1 and path[0] in _NAMED
            if isinstance(v, dict) and isinstance(out.get(k), dict) and not whole:
                out[k] = rec(out[k], v, p)
            else:
                out[k] = copy.deepcopy(v)
                replaced.add(p)
        return out

    return rec(base, top, ()), replaced


# ---- the schema as a tree of settable keys ------------------------------------------------------


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _kind(tp: Any) -> tuple[str, Any]:
    """("model", model) | ("dict", value type) | ("leaf", type) for a field annotation."""
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "model", tp
    if get_origin(tp) is dict:
        return "dict", get_args(tp)[1]
    return "leaf", tp


def valid_keys(tree: dict[str, Any] | None = None) -> list[str]:
    """Every key an override or ``--set`` may set, dotted; free-form mappings list the keys
    present in ``tree`` (e.g. ``targets.by_product.HW``)."""
    out: list[str] = []

    def rec(model: type[BaseModel], path: Target, sub: Any) -> None:
        for name, f in model.model_fields.items():
            if not path and name in _NOT_SETTABLE:
                continue
            p = (*path, name)
            out.append(dotted(p))
            kind, tp = _kind(f.annotation)
            s = sub.get(name) if isinstance(sub, dict) else None
            if kind == "model":
                rec(tp, p, s)
            elif kind == "dict" and isinstance(s, dict):
                out.extend(dotted((*p, str(k))) for k in s)

    rec(Scenario, (), tree or {})
    return out


class _KeyError(Exception):
    def __init__(self, message: str, unknown: tuple[Target, list[str], list[str]] | None = None):
        super().__init__(message)
        self.unknown = unknown  # (schema position, key segments from there, field names)


def _step(
    path: Target, kind: str, tp: Any, key: str, tree: dict[str, Any]
) -> tuple[Target, str, Any]:
    """Follow a (possibly dotted) key from a schema position; raise _KeyError with a hint."""
    segs = key.split(".")
    i = 0
    while i < len(segs):
        if kind == "model":
            seg = segs[i]
            if not path and seg in _NOT_SETTABLE:
                raise _KeyError(f"{seg} cannot be set by an override or --set; edit the file")
            fields = tp.model_fields
            if seg not in fields:
                names = list(fields)
                raise _KeyError(_unknown(path, segs[i:], names, tree), (path, segs[i:], names))
            path = (*path, seg)
            kind, tp = _kind(fields[seg].annotation)
            i += 1
        elif kind == "dict":
            path = (*path, ".".join(segs[i:]))
            kind, tp = _kind(tp)
            i = len(segs)
        else:
            here = dotted(path)
            raise _KeyError(
                f"{here} is a single value or a list, it has no key {'.'.join(segs[i:])!r}; "
                f"set {here} as a whole"
            )
    return path, kind, tp


def _first_keys(value: Any) -> list[str]:
    """The keys down to the first leaf of a nested mapping: {a: {b: 1}} → [a, b]."""
    out: list[str] = []
    while isinstance(value, dict) and value:
        k = next(iter(value))
        out += str(k).split(".")
        value = value[k]
    return out


def _unknown(path: Target, rest: list[str], names: list[str], tree: dict[str, Any]) -> str:
    full = ".".join([dotted(path), *rest]) if path else ".".join(rest)
    close = difflib.get_close_matches(full, valid_keys(tree), n=1, cutoff=0.6)
    if not close:
        close = [
            dotted((*path, c)) for c in difflib.get_close_matches(rest[0], names, n=1, cutoff=0.6)
        ]
    if close:
        return f"unknown key {full}; did you mean {close[0]}?"
    shown = [n for n in names if path or n not in _NOT_SETTABLE]
    where = f"under {dotted(path)}" if path else "at the top level"
    return f"unknown key {full}; the keys {where} are: {', '.join(shown)}"


@dataclass(frozen=True)
class _Leaf:
    target: Target  # key path in the scenario tree
    value: Any
    source: KeyPath  # where it is written, as a path of the file tree (() for --set)
    label: str  # "override east_down" or "--set"


def _walk(
    value: Any,
    target: Target,
    kind: str,
    tp: Any,
    source: KeyPath,
    label: str,
    tree: dict[str, Any],
    on_error: Any,
) -> list[_Leaf]:
    """Split a (partial) tree into leaves, following the schema; report bad keys."""
    if kind in ("model", "dict") and isinstance(value, dict) and not value:
        return []  # an empty mapping merges nothing
    if kind == "model" and isinstance(value, dict):
        out: list[_Leaf] = []
        for k, v in value.items():
            try:
                t, kk, tt = _step(target, kind, tp, str(k), tree)
            except _KeyError as exc:
                msg = str(exc)
                if exc.unknown is not None and isinstance(v, dict) and v:
                    pos, rest, names = exc.unknown  # suggest from the full nested key
                    msg = _unknown(pos, [*rest, *_first_keys(v)], names, tree)
                on_error((*source, k), ".".join([*target, str(k)]), msg)
                continue
            out += _walk(v, t, kk, tt, (*source, k), label, tree, on_error)
        return out
    if kind == "dict" and isinstance(value, dict):
        vk, vt = _kind(tp)
        out = []
        for k, v in value.items():
            out += _walk(v, (*target, str(k)), vk, vt, (*source, k), label, tree, on_error)
        return out
    return [_Leaf(target, value, source, label)]


# ---- --set values -------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """Read a ``--set`` value with the scenario file's strict YAML rules (see the loader).

    Raises :class:`InputError` for YAML syntax errors or disallowed tags.
    """
    from allocopt.scenario import strict_yaml as _ld  # the strict loader's own scalar rules

    try:
        ldr = _ld._StrictLoader(text)
        try:
            node = ldr.get_single_node()
        finally:
            ldr.dispose()
    except yaml.YAMLError as exc:
        msg = f"the value is not valid YAML: {exc}".replace("\n", " ")
        raise InputError(Problem(SET_FILE, "", "", msg, text)) from None
    if node is None:
        return None
    builder = _ld._Builder(SET_FILE)
    value = builder.build(node, ())
    if builder.problems:
        raise InputError([Problem(SET_FILE, "", "", p.message, text) for p in builder.problems])
    return value


def parse_set(item: str) -> tuple[str, Any]:
    """Split ``key=value`` and read the value; raise :class:`InputError` without ``=``."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        msg = "write --set KEY=VALUE, e.g. --set rules.growth.max=0.25"
        raise InputError(Problem(SET_FILE, "", "", msg, item))
    return key, parse_value(text.strip())


# ---- applying overrides -------------------------------------------------------------------------


def _split_names(names: Iterable[str]) -> list[str]:
    return [n.strip() for item in names for n in item.split(",") if n.strip()]


def _fmt(v: Any) -> str:
    if v is UNSET:
        return "<unset>"
    if isinstance(v, dt.date):
        return v.isoformat()
    plain = isinstance(v, str) and re.fullmatch(r"[A-Za-z_./][\w./-]*", v)
    if plain and v not in ("true", "false", "True", "False", "null", "Null", "NULL"):
        return str(v)
    return json.dumps(v, default=str, ensure_ascii=False)


def _get(tree: dict[str, Any], path: Target) -> Any:
    cur: Any = tree
    for k in path:
        if not isinstance(cur, dict) or k not in cur:
            return UNSET
        cur = cur[k]
    return cur


def _put(tree: dict[str, Any], path: Target, value: Any) -> None:
    cur = tree
    for k in path[:-1]:
        nxt = cur.get(k)
        if not isinstance(nxt, dict):
            nxt = cur[k] = {}
        cur = nxt
    cur[path[-1]] = value


def _related(a: Target, b: Target) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


@dataclass
class _Defs:
    overrides: dict[str, list[_Leaf]]
    scenarios: dict[str, list[str]]


def _definitions(tree: dict[str, Any], sources: SourceMap, problems: list[Problem]) -> _Defs:
    """Split every defined override into leaves and check every scenario's names."""

    def err(path: KeyPath, field_: str, msg: str, value: str = "") -> None:
        o = sources.find(path)
        problems.append(Problem(o.file, o.where, field_, msg, value))

    ovr = tree.get("overrides")
    overrides: dict[str, list[_Leaf]] = {}
    if isinstance(ovr, dict):
        for name, body in ovr.items():
            if not isinstance(body, dict):
                overrides[name] = []  # the schema reports the wrong type
                continue
            label = f"override {name}"

            def on_error(path: KeyPath, _key: str, msg: str, _n: str = name) -> None:
                err(("overrides", _n, *path), dotted(("overrides", _n, *path)), msg)

            leaves = _walk(body, (), "model", Scenario, (), label, tree, on_error)
            leaves = [
                _Leaf(lf.target, lf.value, ("overrides", name, *lf.source), lf.label)
                for lf in leaves
            ]
            _check_unique(leaves, sources, problems, same=True)
            overrides[name] = leaves
    scn = tree.get("scenarios")
    scenarios: dict[str, list[str]] = {}
    if isinstance(scn, dict):
        for name, items in scn.items():
            if name in overrides:
                err(
                    ("scenarios", name),
                    f"scenarios.{name}",
                    f"{name!r} is both an override and a scenario; rename one of them",
                )
            if isinstance(items, list):
                scenarios[name] = [str(i) for i in items if isinstance(i, str)]
    known = [*overrides, *scenarios]
    for name, items in scenarios.items():
        for i, item in enumerate(items):
            if item not in overrides and item not in scenarios:
                err(
                    ("scenarios", name, i),
                    f"scenarios.{name}[{i}]",
                    _unknown_name(item, known),
                    item,
                )
    return _Defs(overrides, scenarios)


def _unknown_name(name: str, known: list[str]) -> str:
    if not known:
        return "unknown scenario or override; the file defines none (see overrides:/scenarios:)"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(set(known)))}"
    return f"unknown scenario or override; {hint}"


def _expand(
    names: Sequence[str], defs: _Defs, stack: tuple[str, ...] = ()
) -> tuple[list[str], list[tuple[str, str]]]:
    """Override names of ``names`` in order (scenarios expanded, repeats dropped), and the
    problems: (name, "") for an unknown name, (name, message) for a scenario cycle."""
    out: list[str] = []
    bad: list[tuple[str, str]] = []
    for n in names:
        if n in defs.scenarios and n not in defs.overrides:
            if n in stack:
                cycle = " → ".join([*stack, n])
                bad.append((n, f"scenario {n!r} includes itself ({cycle}); remove the loop"))
                continue
            sub, sub_bad = _expand(defs.scenarios[n], defs, (*stack, n))
            out += [s for s in sub if s not in out]
            bad += [b for b in sub_bad if b[1]]  # unknown names are reported where written
        elif n in defs.overrides:
            if n not in out:
                out.append(n)
        else:
            bad.append((n, ""))
    return out, bad


def _check_unique(
    leaves: list[_Leaf], sources: SourceMap, problems: list[Problem], *, same: bool = False
) -> None:
    """Report keys set twice: two overrides of one scenario, one override twice, --set twice."""
    seen: list[_Leaf] = []
    for lf in leaves:
        if lf.target in _APPEND and isinstance(lf.value, list):
            continue  # appended, never in conflict
        for prev in seen:
            if not _related(prev.target, lf.target):
                continue
            key = dotted(min(prev.target, lf.target, key=len))
            if lf.label == SET_FILE:
                problems.append(Problem(SET_FILE, "", key, "given twice with --set; give it once"))
                break
            o, po = sources.find(lf.source), sources.find(prev.source)
            if same or prev.label == lf.label:
                msg = f"{key} is set twice in {lf.label}; keep one"
            else:
                at = f" ({po.where})" if po.where else ""
                if po.file != o.file:
                    at = f" ({po.where} in {po.file})"
                msg = (
                    f"{prev.label}{at} and {lf.label} both set {key}; two overrides of one "
                    "scenario may not set the same key — remove it from one of them"
                )
            problems.append(Problem(o.file, o.where, key, msg))
            break
        seen.append(lf)


def read_tree(path: Path) -> Resolved:
    """Read ``path`` merged over its ``extends`` bases, with no override applied."""
    problems: list[Problem] = []
    f = _read_chain(path, [path.resolve()], problems)
    if f is None:
        raise InputError(problems)
    return Resolved(f.tree, f.sources, f.loaded, [], f.files)


def _fresh(read: Resolved) -> Resolved:
    """``read`` with its own origins (``resolve`` changes them) sharing the tree, which
    ``resolve`` only reads before its deep copy, and the read file (never changed)."""
    sources = SourceMap(read.sources.main, dict(read.sources.entries))
    return Resolved(read.tree, sources, read.main, list(read.changes), list(read.files))


def resolve(
    path: Path,
    scenarios: Sequence[str] = (),
    sets: Sequence[str] = (),
    *,
    read: Resolved | None = None,
) -> Resolved:
    """Read ``path`` (with its bases), apply scenarios/overrides and ``--set``; not validated.

    ``read`` is ``read_tree(path)`` done before (a sweep resolves many items of one file); it is
    not changed: its origins are copied, and its tree is read until the deep copy below that the
    changes are made on. Raises :class:`InputError` with every problem found.
    """
    f = _fresh(read) if read is not None else read_tree(path)
    problems: list[Problem] = []
    tree, sources = f.tree, f.sources
    main_dir = path.parent
    defs = _definitions(tree, sources, problems)

    # every defined scenario must be free of loops and conflicts (so `validate` finds them)
    for name in defs.scenarios:
        names, bad = _expand([name], defs)
        for _n, msg in bad:
            o = sources.find(("scenarios", name))
            problems.append(Problem(o.file, o.where, f"scenarios.{name}", msg))
        _check_unique([lf for n in names for lf in defs.overrides[n]], sources, problems)

    requested = _split_names(scenarios)
    chosen, bad = _expand(requested, defs)
    known = [*defs.overrides, *defs.scenarios]
    for n, msg in bad:
        if not msg:
            problems.append(Problem(SCENARIO_OPTION, "", n, _unknown_name(n, known)))
    leaves = [lf for n in chosen for lf in defs.overrides[n]]
    reported = {(p.file, p.field) for p in problems}
    extra: list[Problem] = []
    _check_unique(leaves, sources, extra)
    problems += [p for p in extra if (p.file, p.field) not in reported]

    set_origin = Origin(SET_FILE, "", main_dir)
    set_leaves: list[_Leaf] = []
    for item in sets:
        try:
            key, value = parse_set(item)
        except InputError as exc:
            problems.extend(exc.problems)
            continue

        def on_error(_p: KeyPath, k: str, msg: str, _item: str = item) -> None:
            problems.append(Problem(SET_FILE, "", k, msg, _item))

        set_leaves += _walk({key: value}, (), "model", Scenario, (), SET_FILE, tree, on_error)
    _check_unique(set_leaves, sources, problems)
    if problems:
        raise InputError(problems)

    tree = copy.deepcopy(tree)
    changes: list[str] = []
    for lf in [*leaves, *set_leaves]:
        origin = set_origin if lf.label == SET_FILE else sources.find(lf.source)
        value = copy.deepcopy(lf.value)
        if lf.target in _APPEND and isinstance(value, list):
            changes += _append(tree, sources, lf, value, origin)
            continue
        if len(lf.target) == 2 and lf.target[0] == "data":
            value = _rebase(value, origin.base_dir, main_dir)
        old = _get(tree, lf.target)
        _put(tree, lf.target, value)
        sources.replace(lf.target, origin)
        change = f"{dotted(lf.target)}: {_fmt(old)} -> {_fmt(value)} ({lf.label})"
        changes.append(change)
        log.info("applied %s", change)
    return Resolved(tree, sources, f.main, changes, f.files)


def set_keys(
    tree: dict[str, Any], changes: Mapping[str, Any], label: str = SET_FILE
) -> dict[str, Any]:
    """A copy of a (resolved) scenario tree with dotted ``changes`` set, following the schema
    exactly as ``--set`` does (``targets.by_product.A.B`` sets product ``A.B``); InputError
    (exit 2) for a key that is not in the schema. Lists are replaced whole."""
    problems: list[Problem] = []

    def on_error(_p: KeyPath, k: str, msg: str) -> None:
        problems.append(Problem(label, "", k, msg))

    leaves: list[_Leaf] = []
    for key, value in changes.items():
        leaves += _walk({key: value}, (), "model", Scenario, (), label, tree, on_error)
    if problems:
        raise InputError(problems)
    out = copy.deepcopy(tree)
    for lf in leaves:
        _put(out, lf.target, copy.deepcopy(lf.value))
    return out


def _append(
    tree: dict[str, Any], sources: SourceMap, lf: _Leaf, items: list[Any], origin: Origin
) -> list[str]:
    """Append the items of an override or ``--set`` to a list key (``operations``); each item
    keeps the place where it was written. Returns one change per item."""
    old = _get(tree, lf.target)
    have = list(old) if isinstance(old, list) else []
    start = len(have)
    _put(tree, lf.target, [*have, *items])
    if lf.target not in sources.entries:
        sources.entries[lf.target] = origin
    n = len(lf.source)
    moved: dict[KeyPath, Origin] = {}
    for p, o in sources.entries.items() if lf.label != SET_FILE else ():
        j = p[n] if len(p) > n and p[:n] == lf.source else None
        if isinstance(j, int):
            moved[(*lf.target, start + j, *p[n + 1 :])] = o
    for j in range(len(items)):
        sources.replace((*lf.target, start + j), origin)
    sources.entries.update(moved)
    out = []
    for j, item in enumerate(items):
        change = f"{dotted((*lf.target, start + j))}: <unset> -> {_fmt(item)} ({lf.label})"
        log.info("applied %s", change)
        out.append(change)
    return out
