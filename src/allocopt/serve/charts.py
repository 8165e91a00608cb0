"""Inline SVG charts for the monitor pages, drawn server-side (no JavaScript, no network).

Public functions: :func:`histogram`, :func:`pacing`, :func:`scatter`. Each returns a ``Markup``
string of one ``<svg>``; every text (IDs, names, labels) is escaped, and styling is by class
names from the packaged style sheet (no inline ``style=`` attributes, so a strict
Content-Security-Policy holds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from allocopt.outputs.numbers import short_money

__all__ = ["Bar", "Point", "histogram", "pacing", "scatter"]

W, H = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def _f(x: float) -> str:
    return f"{x:.1f}"


def _svg(body: list[str], label: str, w: int = W, h: int = H) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _nice_step(span: float, ticks: int = 5) -> float:
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def histogram(values: Sequence[float], threshold: float) -> Markup:
    """Reps by attainment to date, in 10-point bins from <50% to ≥150%; the at-risk threshold and
    100% are marked."""
    edges = [0.5 + 0.1 * i for i in range(11)]  # 50% … 150%
    labels = ["<50%"] + [f"{round(e * 100)}%" for e in edges[:-1]] + ["≥150%"]
    counts = [0] * (len(edges) + 1)
    for v in values:
        if not math.isfinite(v):
            continue
        i = sum(1 for e in edges if v >= e - 1e-12)
        counts[i] += 1
    n = len(counts)
    top = max(max(counts), 1)
    step = _nice_step(top, 4)
    ymax = step * math.ceil(top / step)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    bw = pw / n
    body: list[str] = []
    k = 0.0
    while k <= ymax + 1e-9:
        y = TOP + ph - ph * k / ymax
        body.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{_f(y)}" y2="{_f(y)}"/>')
        body.append(
            f'<text class="tick" x="{LEFT - 8}" y="{_f(y + 4)}" text-anchor="end">{k:g}</text>'
        )
        k += step
    for i, c in enumerate(counts):
        lo = -math.inf if i == 0 else edges[i - 1]
        cls = "bar-bad" if lo < threshold - 1e-12 else "bar-ok" if lo >= 1 - 1e-12 else "bar-mid"
        h = ph * c / ymax
        x = LEFT + i * bw
        body.append(
            f'<rect class="{cls}" x="{_f(x + 3)}" y="{_f(TOP + ph - h)}" width="{_f(bw - 6)}" '
            f'height="{_f(h)}"><title>{escape(labels[i])}: {c} reps</title></rect>'
        )
        if c:
            body.append(
                f'<text class="value" x="{_f(x + bw / 2)}" y="{_f(TOP + ph - h - 4)}" '
                f'text-anchor="middle">{c}</text>'
            )
        body.append(
            f'<text class="tick" x="{_f(x + bw / 2)}" y="{H - BOTTOM + 16}" '
            f'text-anchor="middle">{escape(labels[i])}</text>'
        )
    body.append(
        f'<text class="axis" x="{LEFT + pw / 2}" y="{H - 6}" text-anchor="middle">'
        "attainment to date (reps per 10-point bin)</text>"
    )
    return _svg(body, "distribution of rep attainment to date")


@dataclass(frozen=True)
class Bar:
    """One period of the pacing chart."""

    label: str
    quota: float
    actual: float | None  # None for periods that have not started
    elapsed: float  # 0..1


def pacing(bars: Sequence[Bar]) -> Markup:
    """Phased quota against actual per period (grouped bars); the prorated quota to date of the
    current period is a tick on its quota bar."""
    top = max([b.quota for b in bars] + [b.actual or 0.0 for b in bars] + [1.0])
    step = _nice_step(top, 4)
    ymax = step * math.ceil(top / step)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM - 14
    gw = pw / max(len(bars), 1)
    bw = min(gw * 0.34, 56)
    body: list[str] = []
    k = 0.0
    while k <= ymax + 1e-9:
        y = TOP + ph - ph * k / ymax
        body.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{_f(y)}" y2="{_f(y)}"/>')
        body.append(
            f'<text class="tick" x="{LEFT - 8}" y="{_f(y + 4)}" text-anchor="end">'
            f"{short_money(k)}</text>"
        )
        k += step
    for i, b in enumerate(bars):
        cx = LEFT + gw * (i + 0.5)
        hq = ph * b.quota / ymax
        body.append(
            f'<rect class="bar-quota" x="{_f(cx - bw - 2)}" y="{_f(TOP + ph - hq)}" '
            f'width="{_f(bw)}" height="{_f(hq)}"><title>{escape(b.label)} phased quota '
            f"{b.quota:,.0f}</title></rect>"
        )
        if 0 < b.elapsed < 1:
            y = TOP + ph - ph * b.quota * b.elapsed / ymax
            body.append(
                f'<line class="todate" x1="{_f(cx - bw - 6)}" x2="{_f(cx + 2)}" '
                f'y1="{_f(y)}" y2="{_f(y)}"><title>quota to date {b.quota * b.elapsed:,.0f}'
                "</title></line>"
            )
        if b.actual is not None:
            ha = ph * b.actual / ymax
            reached = b.actual >= b.quota * b.elapsed - 1e-9
            cls = "bar-actual" if reached else "bar-actual-behind"
            body.append(
                f'<rect class="{cls}" x="{_f(cx + 2)}" y="{_f(TOP + ph - ha)}" '
                f'width="{_f(bw)}" height="{_f(ha)}"><title>{escape(b.label)} actual '
                f"{b.actual:,.0f}</title></rect>"
            )
            if b.quota * b.elapsed > 0:
                att = b.actual / (b.quota * b.elapsed)
                body.append(
                    f'<text class="value" x="{_f(cx + 2 + bw / 2)}" y="{_f(TOP + ph - ha - 4)}" '
                    f'text-anchor="middle">{att:.0%}</text>'
                )
        state = "closed" if b.elapsed >= 1 else "current" if b.elapsed > 0 else "future"
        body.append(
            f'<text class="tick" x="{_f(cx)}" y="{H - BOTTOM + 2}" text-anchor="middle">'
            f"{escape(b.label)}</text>"
            f'<text class="tick muted" x="{_f(cx)}" y="{H - BOTTOM + 16}" text-anchor="middle">'
            f"{state}</text>"
        )
    ly = H - 10
    body.append(
        f'<rect class="bar-quota" x="{LEFT}" y="{ly - 9}" width="10" height="10"/>'
        f'<text class="axis" x="{LEFT + 14}" y="{ly}">phased quota</text>'
        f'<rect class="bar-actual" x="{LEFT + 110}" y="{ly - 9}" width="10" height="10"/>'
        f'<text class="axis" x="{LEFT + 124}" y="{ly}">actual (on pace)</text>'
        f'<rect class="bar-actual-behind" x="{LEFT + 240}" y="{ly - 9}" width="10" height="10"/>'
        f'<text class="axis" x="{LEFT + 254}" y="{ly}">actual (behind)</text>'
    )
    return _svg(body, "phased quota and actual by period")


@dataclass(frozen=True)
class Point:
    """One rep of the difficulty-vs-attainment chart."""

    rep_id: str
    label: str
    difficulty: float
    attainment: float
    at_risk: bool
    href: str


def scatter(points: Sequence[Point], threshold: float) -> Markup:
    """Difficulty (quota ÷ effective base) against attainment to date, one dot per rep (a link to
    its page); 100% and the at-risk threshold are marked."""
    W, H = 1100, 330  # a wide chart: it spans the page
    pts = [p for p in points if math.isfinite(p.difficulty) and math.isfinite(p.attainment)]
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    if not pts:
        return _svg(
            [
                f'<text class="axis" x="{W / 2}" y="{H / 2}" text-anchor="middle">'
                "no rep has both a difficulty and an attainment yet</text>"
            ],
            "difficulty against attainment",
            W,
            H,
        )
    x0 = min(p.difficulty for p in pts)
    x1 = max(p.difficulty for p in pts)
    y0 = min([p.attainment for p in pts] + [threshold, 1.0])
    y1 = max([p.attainment for p in pts] + [1.0])
    xpad = (x1 - x0) * 0.06 or 0.05
    ypad = (y1 - y0) * 0.06 or 0.05
    x0, x1, y0, y1 = x0 - xpad, x1 + xpad, y0 - ypad, y1 + ypad

    def sx(v: float) -> float:
        return LEFT + pw * (v - x0) / (x1 - x0)

    def sy(v: float) -> float:
        return TOP + ph - ph * (v - y0) / (y1 - y0)

    body: list[str] = []
    ys = _nice_step(y1 - y0, 5)
    k = math.ceil(y0 / ys) * ys
    while k <= y1 + 1e-9:
        body.append(
            f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{_f(sy(k))}" y2="{_f(sy(k))}"/>'
            f'<text class="tick" x="{LEFT - 8}" y="{_f(sy(k) + 4)}" text-anchor="end">'
            f"{k:.0%}</text>"
        )
        k += ys
    xs = _nice_step(x1 - x0, 6)
    k = math.ceil(x0 / xs) * xs
    while k <= x1 + 1e-9:
        body.append(
            f'<text class="tick" x="{_f(sx(k))}" y="{H - BOTTOM + 16}" text-anchor="middle">'
            f"{k:.2f}</text>"
        )
        k += xs
    for level, cls in ((1.0, "ref-ok"), (threshold, "ref-bad")):
        body.append(
            f'<line class="{cls}" x1="{LEFT}" x2="{W - RIGHT}" y1="{_f(sy(level))}" '
            f'y2="{_f(sy(level))}"/>'
        )
    for p in pts:
        cls = "dot-bad" if p.at_risk else "dot"
        body.append(
            f'<a href="{escape(p.href)}"><circle class="{cls}" cx="{_f(sx(p.difficulty))}" '
            f'cy="{_f(sy(p.attainment))}" r="4.5"><title>{escape(p.label)}: difficulty '
            f"{p.difficulty:.3f}, attainment {p.attainment:.1%}</title></circle></a>"
        )
    body.append(
        f'<text class="axis" x="{LEFT + pw / 2}" y="{H - 6}" text-anchor="middle">'
        "difficulty (quota ÷ effective base) → harder</text>"
        f'<text class="axis" x="14" y="{TOP + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + ph / 2})">attainment to date</text>'
    )
    return _svg(body, "difficulty against attainment, one dot per rep", W, H)
