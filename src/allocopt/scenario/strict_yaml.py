"""Safe, strict YAML reader for scenario files.

The file is composed into a node tree by a :class:`yaml.SafeLoader` subclass and the values are
built here, so every mapping value and sequence item keeps its line and column. Plain scalars
follow the YAML 1.2 core schema, not YAML 1.1, and anything ambiguous stays a string, so that no
value is silently changed:

* booleans: only ``true``/``True``/``TRUE``/``false``/``False``/``FALSE``
  (``yes``, ``no``, ``on``, ``off``, ``y``, ``n`` stay strings);
* null: ``~``, ``null``, ``Null``, ``NULL`` and the empty value;
* integers: ``12``, ``-3``, ``+7`` and, as an extension, ``1_000_000`` (underscores between
  digits); a leading zero (``012``), octal ``0o14``, hex ``0x1F`` and base 60 ``1:20`` stay
  strings, so an ID keeps its digits and a numeric field rejects it;
* floats: ``1.5``, ``.5``, ``1e6``, ``1.0e-6`` and ``.inf``/``-.inf``/``.nan`` (the schema
  rejects non-finite values); a leading zero (``01.5``) keeps it a string;
* dates: ``YYYY-MM-DD`` becomes :class:`datetime.date`; date-times stay strings;
* quoted scalars (and ``!!str``) are always strings.

Rejected, with every problem collected and located: missing or unreadable file, text that is
not UTF-8, YAML syntax errors, an empty file, a top level that is not a mapping, keys that are
not strings, duplicate keys, merge keys (``<<``), recursive aliases, invalid dates and tags other
than ``!!str``/``!!map``/``!!seq``. Anchors and aliases are allowed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from allocopt.errors import InputError, Problem

__all__ = ["LoadedYaml", "dotted", "load_yaml", "locate"]

KeyPath = tuple[str | int, ...]

_PLAIN_TAG = "tag:allocopt:plain"  # untagged plain scalar, resolved by _plain_scalar
_YAML_TAG = "tag:yaml.org,2002:"
_STR_TAG = _YAML_TAG + "str"
_SEQ_TAG = _YAML_TAG + "seq"
_MAP_TAG = _YAML_TAG + "map"
_MAX_NODES = 1_000_000  # guards against alias bombs ("billion laughs")
_MAX_DEPTH = 100  # levels of nesting; a scenario needs about 8
_TOO_DEEP = (
    f"the file is nested too deeply (more than {_MAX_DEPTH} levels of lists or mappings "
    "here); check the brackets and the indentation"
)

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DIGITS = r"(?:0|[1-9](?:_?[0-9])*)"  # no leading zero; single underscores between digits
_INT_RE = re.compile(rf"[-+]?{_DIGITS}")
_FLOAT_RE = re.compile(rf"[-+]?(?:{_DIGITS}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_INF_RE = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN_RE = re.compile(r"\.(?:nan|NaN|NAN)")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed scenario file: plain data plus the 1-based (line, column) of every value."""

    data: dict[str, Any]
    file: str
    locations: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)


def dotted(path: tuple[Any, ...]) -> str:
    """Render a key path as ``targets.units[2].min`` (odd keys as ``['a.b']``)."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and part and not any(c in part for c in ".[]'"):
            out += f".{part}" if out else part
        else:
            out += f"[{str(part)!r}]"
    return out


def locate(loaded: LoadedYaml, path: tuple[Any, ...]) -> str:
    """Return "line L, column C" of the longest prefix of ``path`` with a location, or ""."""
    for n in range(len(path), -1, -1):
        pos = loaded.locations.get(tuple(path[:n]))
        if pos is not None:
            return f"line {pos[0]}, column {pos[1]}"
    return ""


def load_yaml(path: Path) -> LoadedYaml:
    """Read a scenario YAML file strictly; raise :class:`InputError` listing every problem."""
    file = str(path)
    text = _read_text(path, file)
    try:
        loader = _StrictLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except _TooDeep as exc:
        where = f"line {exc.mark.line + 1}, column {exc.mark.column + 1}"
        raise InputError(Problem(file, where, "", _TOO_DEEP)) from None
    except RecursionError:  # pragma: no cover - _MAX_DEPTH stops composing long before
        raise InputError(Problem(file, "", "", _TOO_DEEP)) from None
    except yaml.MarkedYAMLError as exc:
        raise InputError(_syntax_problem(file, exc)) from None
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        msg = f"character U+{char:04X} is not allowed in YAML; remove it"
        raise InputError(Problem(file, f"line {line}, column {col}", "", msg)) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every yaml error above is marked
        raise InputError(Problem(file, "", "", f"cannot parse YAML: {exc}")) from None
    if root is None or (
        isinstance(root, ScalarNode) and root.tag == _PLAIN_TAG and root.value == ""
    ):
        raise InputError(Problem(file, "", "", "the scenario file is empty"))
    if not isinstance(root, MappingNode):
        what = "a list" if isinstance(root, SequenceNode) else "a single value"
        msg = f"the top level must be a mapping of keys (name:, plan:, data:, ...), not {what}"
        raise InputError(Problem(file, _where(root), "", msg))
    builder = _Builder(file)
    try:
        data = builder.build(root, ())
    except RecursionError:  # pragma: no cover - the builder stops at _MAX_DEPTH
        raise InputError(Problem(file, "", "", _TOO_DEEP)) from None
    if builder.problems:
        raise InputError(builder.problems)
    assert isinstance(data, dict)
    return LoadedYaml(data=data, file=file, locations=builder.locations)


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__(_TOO_DEEP)
        self.mark = mark


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that leaves untagged plain scalars for :func:`_plain_scalar` to resolve,
    and stops at ``_MAX_DEPTH`` levels of nesting (where it is, not a RecursionError)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN_TAG if implicit[0] else _STR_TAG
        return _SEQ_TAG if kind is SequenceNode else _MAP_TAG


def _read_text(path: Path, file: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            Problem(file, "", "", f"scenario file not found: {file}; check the path")
        ) from None
    except IsADirectoryError:
        raise InputError(
            Problem(file, "", "", f"{file} is a directory, not a scenario file; check the path")
        ) from None
    except OSError as exc:
        msg = f"cannot read scenario file {file}: {exc.strerror or exc}"
        raise InputError(Problem(file, "", "", msg)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        msg = (
            f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02X} at byte offset "
            f"{exc.start} cannot be decoded; save the file as UTF-8"
        )
        raise InputError(Problem(file, f"line {line}", "", msg)) from None


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    msg = exc.problem or "invalid YAML"
    if exc.context and msg.startswith("but "):
        msg = f"{exc.context}, {msg}"
    elif exc.context:
        ctx = exc.context
        if exc.context_mark and exc.context_mark is not mark:
            ctx += f" at line {exc.context_mark.line + 1}"
        msg = f"{msg} ({ctx})"
    if "'\\t'" in msg:
        msg += "; indent with spaces, not tabs"
    return Problem(file, where, "", f"YAML syntax error: {msg}")


def _line_col(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    col = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, col


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


class _Builder:
    """Builds plain Python values from the node tree, recording locations and problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.locations: dict[KeyPath, tuple[int, int]] = {}
        self._active: set[int] = set()  # ids of collections being built (recursion check)
        self._count = 0

    def _problem(self, node: Node, path: KeyPath, message: str, value: str = "") -> None:
        self.problems.append(Problem(self.file, _where(node), dotted(path), message, value))

    def build(self, node: Node, path: KeyPath) -> Any:
        self.locations[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if len(path) >= _MAX_DEPTH and not isinstance(node, ScalarNode):
            self._problem(node, path, _TOO_DEEP)  # an alias can nest deeper than the text
            return None
        self._count += 1
        if self._count > _MAX_NODES:
            if self._count == _MAX_NODES + 1:
                msg = "the file expands to too many values (aliases nested too deeply)"
                self._problem(node, path, msg)
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        expected = _SEQ_TAG if isinstance(node, SequenceNode) else _MAP_TAG
        if node.tag != expected:
            self._bad_tag(node, path)
            return None
        if id(node) in self._active:
            self._problem(node, path, "an alias refers to its own anchor; remove the recursion")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _bad_tag(self, node: Node, path: KeyPath) -> None:
        msg = (
            f"tag {_show_tag(node.tag)} is not allowed; scenario files use plain values "
            "(quote a value to make it text)"
        )
        self._problem(node, path, msg)

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        if node.tag == _STR_TAG:
            return node.value
        if node.tag != _PLAIN_TAG:
            self._bad_tag(node, path)
            return None
        try:
            return _plain_scalar(node.value)
        except ValueError:
            msg = "not a valid date; write YYYY-MM-DD, or quote it if it is text"
            self._problem(node, path, msg, node.value)
            return node.value

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            kpath = (*path, key)
            if key in first_line:
                msg = (
                    f"duplicate key {key!r} (first defined at line {first_line[key]}); "
                    "remove one of them"
                )
                self._problem(key_node, kpath, msg)
                continue
            first_line[key] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, kpath)
        return out

    def _key(self, node: Node, path: KeyPath) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _PLAIN_TAG and node.value == "<<":
            msg = (
                "merge keys ('<<') are not supported; write the keys out, "
                "or use extends:/overrides instead"
            )
            self._problem(node, path, msg)
            return None
        if not isinstance(node, ScalarNode):
            self._problem(node, path, "keys must be text, not a list or mapping")
            return None
        if node.tag == _STR_TAG:
            return str(node.value)
        if node.tag != _PLAIN_TAG:
            self._bad_tag(node, path)
            return None
        try:
            key = _plain_scalar(node.value)
        except ValueError:
            key = None
        if isinstance(key, str):
            return key
        msg = f"keys must be text; quote the key ('{node.value}': ...) if it is meant as text"
        self._problem(node, path, msg, node.value)
        return None


def _plain_scalar(text: str) -> Any:
    """Resolve an untagged plain scalar (YAML 1.2 core schema, ambiguous forms stay text).

    Raises ValueError for a ``YYYY-MM-DD`` that is not a real date.
    """
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    if _INF_RE.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN_RE.fullmatch(text):
        return float("nan")
    m = _DATE_RE.fullmatch(text)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    return text
