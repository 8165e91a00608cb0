"""Imports run only downward (docs/architecture.md).

Every module under ``src/allocopt`` is parsed with :mod:`ast` (nothing is imported) and mapped to
its layer; every ``import`` — at module level, inside a function or under ``TYPE_CHECKING`` — of a
module in a higher layer is an upward arrow and fails the test, listed as
``file:line  module → module``. A module may import from its own layer or any lower one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

#: The layers, lowest first. A key is the first name under ``allocopt`` (``allocopt.data.prepare``
#: → ``data``); ``""`` is the package itself (``allocopt/__init__.py``: the version).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("", "errors", "calendar"),
    ("scenario",),
    ("data",),
    ("model",),
    ("solve",),
    ("diagnose",),
    ("results",),
    ("outputs",),
    ("pipeline", "compose", "examples"),  # compose: open a run folder, hand its tables to
    # results; examples: generated inputs, written through outputs (init)
    ("sweep", "serve"),
    ("cli", "__main__"),
)
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}

#: Upward arrows that exist today and are being removed on other branches of session 3. Each entry
#: is (importing module, imported module); the test ignores these, and a second test fails once
#: an entry no longer exists, so the list can only shrink. The lead empties it at merge.
KNOWN_UPWARD: frozenset[tuple[str, str]] = frozenset(
    {
        # empty since session 3 (#10): an upward arrow found later is fixed, not listed here
    }
)


@dataclass(frozen=True)
class Arrow:
    """One import: ``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: str  # relative to the source root's parent: src/allocopt/...
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}  {self.source} → {self.target}"


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(src: Path = SRC) -> dict[str, Path]:
    """Module name → file, for every ``.py`` file of the allocopt package under ``src``."""
    return {_module_name(p, src): p for p in sorted((src / "allocopt").rglob("*.py"))}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "allocopt":
        return None
    return LAYER_OF.get(parts[1] if len(parts) > 1 else "")


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name ``from ... import`` refers to (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _arrows(modules: dict[str, Path], src: Path = SRC) -> list[Arrow]:
    """Every import of an allocopt module by an allocopt module (function-local ones included)."""
    out: list[Arrow] = []
    for source, path in modules.items():
        shown = str(path.relative_to(src.parent))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(source, path, node)
                # ``from allocopt import cli`` imports the module allocopt.cli; ``from allocopt
                # import __version__`` imports from the package itself
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            for target in targets:
                if target == "allocopt" or target.startswith("allocopt."):
                    out.append(Arrow(source, target, shown, node.lineno))
    return sorted(set(out), key=lambda a: (a.path, a.line, a.target))


def _upward(arrows: list[Arrow]) -> list[Arrow]:
    up = []
    for a in arrows:
        src, dst = _layer(a.source), _layer(a.target)
        if src is not None and dst is not None and dst > src:
            up.append(a)
    return up


def test_every_module_has_a_layer() -> None:
    unmapped = sorted(m for m in _modules() if _layer(m) is None)
    assert not unmapped, (
        "modules without a layer (add their top-level name to LAYERS in this file and to "
        "docs/architecture.md): " + ", ".join(unmapped)
    )


def test_imports_only_run_downward() -> None:
    bad = [a for a in _upward(_arrows(_modules())) if (a.source, a.target) not in KNOWN_UPWARD]
    assert not bad, "imports of a higher layer (see docs/architecture.md):\n" + "\n".join(
        str(a) for a in bad
    )


def test_known_upward_arrows_still_exist() -> None:
    """The exception list only shrinks: an entry whose import is gone must be deleted."""
    now = {(a.source, a.target) for a in _upward(_arrows(_modules()))}
    gone = sorted(KNOWN_UPWARD - now)
    assert not gone, "remove from KNOWN_UPWARD (no longer imported): " + ", ".join(
        f"{s} → {t}" for s, t in gone
    )


def test_the_check_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    """The parser itself: a function-local upward import and a relative one are both found."""
    pkg = tmp_path / "allocopt"
    (pkg / "results").mkdir(parents=True)
    (pkg / "outputs").mkdir()
    for f in ("__init__.py", "results/__init__.py", "outputs/__init__.py", "outputs/report.py"):
        (pkg / f).write_text("")
    (pkg / "results" / "x.py").write_text(
        "from __future__ import annotations\n"
        "from ..outputs import report\n"
        "def f() -> None:\n"
        "    import allocopt.pipeline\n"
        "    from allocopt.data import prepare\n"
    )
    found = [(a.target, a.line) for a in _upward(_arrows(_modules(tmp_path), tmp_path))]
    assert found == [("allocopt.outputs.report", 2), ("allocopt.pipeline", 4)]
