"""Load a scenario file into the typed schema, with every problem located.

Public entry point: :func:`load_scenario`. Schema errors from pydantic are rewritten for people:
file:line:column, the dotted key path, what is wrong, and what to do ("did you mean ...?" for
unknown keys, an explanation for the YAML 1.1 traps such as ``012`` or ``on``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from allocopt.errors import InputError, Problem
from allocopt.scenario.overrides import Resolved, SourceMap, read_tree, resolve
from allocopt.scenario.schema import Scenario
from allocopt.scenario.strict_yaml import LoadedYaml, dotted, locate


@dataclass
class LoadedScenario:
    """A validated scenario and where it came from.

    ``raw`` is the resolved tree (after ``extends``, overrides and ``--set``) that was
    validated; ``yaml`` the main file as read; ``changes`` every applied override/``--set``
    value as ``key: old -> new (source)``, in application order; ``files`` the main file and
    its base files; ``sources`` the file and line each key of ``raw`` was written at.
    """

    scenario: Scenario
    path: Path
    raw: dict[str, Any]
    yaml: LoadedYaml
    changes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    sources: SourceMap | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def file(self) -> str:
        return self.yaml.file

    def locate(self, key_path: tuple[str | int, ...]) -> str:
        """Line/column of a key in the main file, or "line L, column C in base.yaml" (another
        file) or "from --set"."""
        if self.sources is None:
            return locate(self.yaml, key_path)
        return self.sources.locate(key_path)


def load_scenario(
    path: Path,
    scenarios: Sequence[str] = (),
    sets: Sequence[str] = (),
    *,
    read: Resolved | None = None,
) -> LoadedScenario:
    """Read a scenario file (with its ``extends`` bases), apply the named scenarios/overrides
    and ``--set`` values (see :mod:`allocopt.scenario.overrides`), and validate the result;
    raise :class:`InputError` listing every problem. ``read``: the file as read before
    (:func:`~allocopt.scenario.overrides.read_tree`), to skip reading it again."""
    try:
        res = resolve(path, scenarios, sets, read=read)
    except InputError as exc:
        raise InputError([*exc.problems, *_file_problems(path)]) from None
    scenario = validate_tree(res.tree, res.sources)
    return LoadedScenario(
        scenario, path, res.tree, res.main, res.changes, files=res.files, sources=res.sources
    )


def _file_problems(path: Path) -> list[Problem]:
    """Schema problems of the file and its bases alone (reported with override problems)."""
    try:
        res = read_tree(path)
    except InputError:
        return []
    try:
        validate_tree(res.tree, res.sources)
    except InputError as exc:
        return exc.problems
    return []


def validate_tree(data: dict[str, Any], sources: SourceMap | LoadedYaml) -> Scenario:
    """Validate a (possibly merged) tree against the schema, locating each error in the file
    (and at the line) where its key was written."""
    smap = sources if isinstance(sources, SourceMap) else SourceMap.from_yaml(sources)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError(_problems(exc, data, smap)) from None


def _at(smap: SourceMap, path: tuple[str | int, ...]) -> tuple[str, str]:
    o = smap.find(path)
    return o.file, o.where


_TAG = re.compile(
    r"^(str|int|float|bool|none|date|TableRef|function-[a-z]+\[.*\]|list\[.*\]|"
    r"tuple\[.*\]|dict\[.*\]|constrained-str|literal\[.*\])$"
)


def _clean(loc: tuple[Any, ...], data: Any) -> tuple[tuple[str | int, ...], bool]:
    """Drop pydantic's union/type tags from an error location; say whether one was dropped."""
    out: list[str | int] = []
    tagged = False
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and node.get("op") == part:
            pass  # the tag of a discriminated union (operations[i]: scale, set, ...)
        elif isinstance(part, str) and _TAG.match(part):
            tagged = True
        else:
            out.append(part)
            node = None
    return tuple(out), tagged


def _problems(exc: ValidationError, data: dict[str, Any], smap: SourceMap) -> list[Problem]:
    seen: set[tuple[str | int, ...]] = set()
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        path, tagged = _clean(tuple(err["loc"]), data)
        if tagged:
            if path in seen:
                continue
            seen.add(path)
            msg = _union_message(path)
            out.append(Problem(*_at(smap, path), dotted(path), msg, _val(err)))
            continue
        kind = err["type"]
        if kind == "located":  # a cross-field check that knows where each problem is
            for sub, msg in err["ctx"]["located"]:
                out.append(Problem(*_at(smap, sub), dotted(sub), msg))
        elif kind == "extra_forbidden":
            parent, key = path[:-1], str(path[-1])
            names = _fields_at(Scenario, parent, data)
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(names)}"
            out.append(Problem(*_at(smap, path), dotted(path), f"unknown key; {hint}"))
        elif kind == "missing":
            out.append(
                Problem(*_at(smap, path[:-1]), dotted(path), "required key is missing; add it")
            )
        else:
            msg = _explain(err)
            out.append(Problem(*_at(smap, path), dotted(path), msg, _val(err)))
    return out


def _val(err: Any) -> str:
    v = err.get("input")
    if isinstance(v, dict | list) or v is None:
        return ""
    return str(v)


def _union_message(path: tuple[str | int, ...]) -> str:
    if len(path) == 2 and path[0] == "data":
        return "must be a path (text) or a mapping {path: ..., sheet: ...}"
    if path[:1] == ("operations",) and path[-1:] == ("value",):
        return "must be a number, text, a date (YYYY-MM-DD), true/false or null (blank)"
    return "has the wrong type"


_TRAPS = (
    (
        re.compile(r"^[+-]?0\d+(\.\d*)?$"),
        "has a leading zero (YAML 1.1 would read {v} as octal); "
        "write the number without the leading zero",
    ),
    (
        re.compile(r"^\d+(:[0-5]?\d)+(\.\d*)?$"),
        "looks like a base-60 number or a time (YAML 1.1 would "
        "read it as a number); write a plain number",
    ),
    (re.compile(r"^0[xo][0-9a-fA-F]+$"), "is a hex/octal literal; write a plain decimal number"),
    (
        re.compile(r"^(yes|no|on|off|y|n)$", re.I),
        "is not a boolean here (only true/false are); write true or false",
    ),
)


def _explain(err: Any) -> str:
    msg = str(err["msg"])
    msg = msg.replace("Value error, ", "").replace("Assertion failed, ", "")
    v = err.get("input")
    if isinstance(v, str):
        for pattern, text in _TRAPS:
            if pattern.match(v.strip()):
                return f"{msg}: {v!r} " + text.format(v=v)
    if err["type"] in ("float_type", "int_type") and isinstance(v, str):
        return f"{msg}; write a plain number" + (" without quotes" if _numeric(v) else "")
    if err["type"] == "string_pattern_mismatch":
        wanted = str((err.get("ctx") or {}).get("pattern", ""))
        return _PATTERNS.get(wanted, f"{msg}; correct the value")
    if err["type"] == "date_type" and isinstance(v, str):
        return f"{msg}; write it as YYYY-MM-DD, without quotes"
    if err["type"] == "too_short":
        return f"{msg}; list at least one"
    if err["type"] == "literal_error":
        return msg.replace("Input should be", "must be")
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_message(err)
    return msg


def _tag_message(err: Any) -> str:
    """An operation without ``op:`` or with an unknown one."""
    ctx = err.get("ctx") or {}
    known = re.findall(r"'([^']+)'", str(ctx.get("expected_tags", ""))) or _op_tags()
    listed = ", ".join(known)
    if err["type"] == "union_tag_not_found":
        return f"an operation needs op: one of {listed}; add it"
    tag = str(ctx.get("tag", ""))
    close = difflib.get_close_matches(tag, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"the operations are: {listed}"
    return f"unknown operation {tag!r}; {hint}"


_PATTERNS = {
    r"^[A-Za-z0-9_.-]+$": "may only contain letters, digits, '_', '.' and '-'; "
    "rename it (e.g. my-plan)",
    r"^[^\s,]([^,]*[^\s,])?$": "an ID must not contain commas or start or end with spaces; "
    "correct it",
}


def _numeric(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True


def _fields_at(model: type[BaseModel], path: tuple[str | int, ...], data: Any = None) -> list[str]:
    """Field names of the schema model reached by ``path`` (empty when not a model); ``data``
    (the validated tree) picks the member of a discriminated union by its ``op``."""
    cur: Any = model
    node = data
    for part in path:
        node = _child(node, part)
        if isinstance(part, int):
            cur = _inner(cur)
        elif isinstance(cur, type) and issubclass(cur, BaseModel) and part in cur.model_fields:
            cur = _model_of(cur.model_fields[part].annotation)
        else:
            return []
        if isinstance(node, dict) and "op" in node:
            cur = _member(cur, node["op"])
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return list(cur.model_fields)
    return []


def _op_tags() -> list[str]:
    """The ``op`` names of the operations, in schema order."""
    tp = _inner(Scenario.model_fields["operations"].annotation)
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return [
        str(tag)
        for a in get_args(tp)
        if isinstance(a, type) and issubclass(a, BaseModel) and "op" in a.model_fields
        for tag in get_args(a.model_fields["op"].annotation)
    ]


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _member(tp: Any, tag: Any) -> Any:
    """The member of a (possibly annotated) union of models whose ``op`` literal is ``tag``."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    for a in get_args(tp):
        is_op = isinstance(a, type) and issubclass(a, BaseModel) and "op" in a.model_fields
        if is_op and tag in get_args(a.model_fields["op"].annotation):
            return a
    return tp


def _inner(tp: Any) -> Any:
    args = get_args(tp)
    return _model_of(args[0]) if args else tp


def _model_of(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = get_origin(tp)
    if origin in (list, tuple):
        return tp
    for a in get_args(tp):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return tp
