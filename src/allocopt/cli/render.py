"""Terminal rendering shared by the commands: the stdout/stderr consoles whose tables never cut a
number, and the live progress line."""

from __future__ import annotations

import time
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text


def pct(v: Any, digits: int = 1) -> str:
    """A share as a percentage with ``digits`` decimals; "–" for a missing value (None, an empty
    CSV cell or NaN)."""
    if v is None or v == "":
        return "–"
    x = float(v)
    return "–" if x != x else f"{x:.{digits}%}"


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


def _no_cut(t: Table, cells: list[str]) -> None:
    """Numbers in a table are never cut: each right-aligned column is at least as wide as the
    longest number (headers wrap instead)."""
    width = max((len(c) for c in cells), default=0)
    for col in t.columns:
        if col.justify == "right":
            col.min_width = max(col.min_width or 0, width)
