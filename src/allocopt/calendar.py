"""The plan calendar: fiscal months, periods, their labels and order, elapsed time.

Public entry point: :func:`fiscal_periods` (the plan's periods with their dates), with the
helpers the stages share: :func:`period_labels`, :func:`months_per_period`,
:func:`period_of_month`, :func:`months_of_period`, :func:`month_starts`, :func:`add_months`,
:func:`fiscal_year` and :func:`elapsed_share`.

Definitions (``fy0`` = ``plan.fiscal_year_start``, a day ≤ 28, so month arithmetic never clips):

* fiscal month ``m`` (0..11) runs from ``fy0 + m months`` to the day before ``fy0 + (m+1) months``;
* a period is 3 fiscal months (``quarter``: ``Q1..Q4``) or 1 (``month``: ``M01..M12``); period
  ``t`` holds the months ``m`` with ``m // months_per_period = t``;
* the fiscal year is named after the calendar year it ends in (start 2026-07-01 → FY2027);
* at a date ``as_of`` (inclusive) a period has elapsed ``f = 1`` once its last day ≤ as-of,
  ``f = (days from its start to as-of, as-of included) ÷ days in the period`` while it is
  current, and 0 before it starts; the **elapsed share of the year** is
  ``e = Σ_t f_t · months_t / 12`` (a closed Q1 is exactly 0.25).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allocopt.errors import InputError, Problem

__all__ = [
    "GRANULARITIES",
    "MONTHS",
    "FiscalPeriod",
    "add_months",
    "elapsed_share",
    "fiscal_periods",
    "fiscal_year",
    "month_starts",
    "months_of_period",
    "months_per_period",
    "period_labels",
    "period_of_month",
]

MONTHS = 12
GRANULARITIES = ("quarter", "month")


def months_per_period(granularity: str) -> int:
    """Fiscal months in one period: 3 for ``quarter``, 1 for ``month``."""
    if granularity == "quarter":
        return 3
    if granularity == "month":
        return 1
    raise InputError(
        Problem("", "", "plan.granularity", "must be 'quarter' or 'month'", value=str(granularity))
    )


def period_labels(granularity: str) -> tuple[str, ...]:
    """The period labels in plan order: ``Q1..Q4`` or ``M01..M12``."""
    if months_per_period(granularity) == 3:
        return ("Q1", "Q2", "Q3", "Q4")
    return tuple(f"M{m:02d}" for m in range(1, MONTHS + 1))


def period_of_month(granularity: str) -> tuple[int, ...]:
    """Fiscal month (0..11) → period index, as a 12-tuple."""
    step = months_per_period(granularity)
    return tuple(m // step for m in range(MONTHS))


def months_of_period(granularity: str) -> tuple[tuple[int, ...], ...]:
    """Period index → its fiscal months (0..11), in order."""
    step = months_per_period(granularity)
    return tuple(tuple(range(t * step, (t + 1) * step)) for t in range(MONTHS // step))


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` moved by ``months`` calendar months (the day clipped to the month's last day)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (nxt - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last))


def month_starts(fy0: dt.date, first: int = 0, last: int = MONTHS) -> tuple[dt.date, ...]:
    """First days of fiscal months ``first..last`` inclusive (``last = 12`` is the next year's
    start, so the default gives the 13 bounds of the 12 months; ``first`` may be negative)."""
    return tuple(add_months(fy0, m) for m in range(first, last + 1))


def fiscal_year(fy0: dt.date) -> int:
    """The fiscal year's name: the calendar year of its last day."""
    return (add_months(fy0, MONTHS) - dt.timedelta(days=1)).year


@dataclass(frozen=True)
class FiscalPeriod:
    """One plan period: label (``Q1``), position, first and last day (inclusive), months."""

    label: str
    index: int
    start: dt.date
    end: dt.date
    months: int
    fiscal_label: str  # ``FY2027-Q1``

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def elapsed(self, as_of: dt.date) -> float:
        """Fraction of the period elapsed at ``as_of`` (inclusive): 0..1."""
        if self.end <= as_of:
            return 1.0
        if self.start <= as_of:
            return ((as_of - self.start).days + 1) / ((self.end - self.start).days + 1)
        return 0.0


def fiscal_periods(fy0: dt.date, granularity: str) -> tuple[FiscalPeriod, ...]:
    """The plan's periods in order, with ISO dates, from ``fiscal_year_start`` and granularity."""
    step = months_per_period(granularity)
    fy = fiscal_year(fy0)
    out = []
    for t, label in enumerate(period_labels(granularity)):
        first = add_months(fy0, t * step)
        last = add_months(fy0, (t + 1) * step) - dt.timedelta(days=1)
        out.append(FiscalPeriod(label, t, first, last, step, f"FY{fy}-{label}"))
    return tuple(out)


def elapsed_share(periods: tuple[FiscalPeriod, ...] | list[FiscalPeriod], as_of: dt.date) -> float:
    """Share of the fiscal year elapsed at ``as_of``: ``Σ_t f_t · months_t / 12``."""
    return sum(p.elapsed(as_of) * p.months / MONTHS for p in periods)
