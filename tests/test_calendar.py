"""The plan calendar (allocopt.calendar): periods, labels, months ↔ periods, elapsed share."""

from __future__ import annotations

import datetime as dt

import pytest

from allocopt import calendar as cal
from allocopt.errors import InputError


def test_quarters_of_a_july_year_have_iso_dates_and_a_fiscal_name() -> None:
    ps = cal.fiscal_periods(dt.date(2026, 7, 1), "quarter")
    assert [p.label for p in ps] == ["Q1", "Q2", "Q3", "Q4"]
    assert [(p.start, p.end) for p in ps] == [
        (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
        (dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
        (dt.date(2027, 1, 1), dt.date(2027, 3, 31)),
        (dt.date(2027, 4, 1), dt.date(2027, 6, 30)),
    ]
    assert ps[0].fiscal_label == "FY2027-Q1"
    assert sum(p.days for p in ps) == 365


def test_months_and_quarters_map_both_ways() -> None:
    assert cal.period_labels("month")[0] == "M01" and cal.period_labels("month")[-1] == "M12"
    assert cal.period_of_month("quarter") == (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3)
    assert cal.months_of_period("quarter")[2] == (6, 7, 8)
    assert cal.months_of_period("month") == tuple((m,) for m in range(12))
    with pytest.raises(InputError):
        cal.period_labels("week")


def test_elapsed_share_closed_quarter_is_a_quarter_and_current_period_is_prorated() -> None:
    ps = cal.fiscal_periods(dt.date(2027, 1, 1), "quarter")
    assert cal.elapsed_share(ps, dt.date(2027, 3, 31)) == 0.25
    assert cal.elapsed_share(ps, dt.date(2026, 12, 31)) == 0.0
    assert cal.elapsed_share(ps, dt.date(2028, 5, 1)) == 1.0
    # 2027-04-01..04-30 is 30 of Q2's 91 days
    assert ps[1].elapsed(dt.date(2027, 4, 30)) == pytest.approx(30 / 91)
    assert cal.elapsed_share(ps, dt.date(2027, 4, 30)) == pytest.approx(0.25 + 0.25 * 30 / 91)


def test_month_starts_cross_years_and_go_back() -> None:
    starts = cal.month_starts(dt.date(2026, 11, 15), -2)
    assert starts[0] == dt.date(2026, 9, 15)
    assert starts[2] == dt.date(2026, 11, 15)
    assert starts[-1] == dt.date(2027, 11, 15)
    assert cal.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
