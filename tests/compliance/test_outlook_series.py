"""The TTM as it will stand on each day until the deadline (the chart of the
deadline outlook, PRODUCT 4.9): pure rules, no database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.rules import MissingRate, usd_by_day
from compliance.rules.outlook import (
    SHORT,
    deadline_outlook,
    outlook_windows,
    series_sample,
    series_window,
    ttm_on,
    ttm_series,
)

D = Decimal
AS_OF, DEADLINE = date(2025, 11, 20), date(2026, 2, 1)
# PRODUCT 4.9: TTM 1,250.00 on 2025-11-20; 700.00 of it rolls off before
# the deadline window opens on 2025-02-01; pace Aug-Oct 184.00 / 92 days.
EXAMPLE = {
    date(2024, 6, 1): D("400.00"),  # before today's TTM window
    date(2025, 1, 15): D("700.00"),
    date(2025, 3, 10): D("366.00"),
    date(2025, 8, 5): D("100.00"),
    date(2025, 9, 5): D("50.00"),
    date(2025, 10, 5): D("34.00"),
}


def by_day(points):
    return {p.day: p for p in points}


def test_the_specification_example_ends_at_secured_and_projected():
    points = ttm_series(EXAMPLE, as_of=AS_OF, deadline=DEADLINE, pace_usd=D(2))
    assert [p.day for p in points] == [AS_OF + timedelta(days=n) for n in range(74)]
    first, last = points[0], points[-1]
    assert (first.day, first.booked_usd, first.projected_usd) == (AS_OF, D("1250"), D("1250"))
    assert (last.day, last.booked_usd, last.projected_usd) == (DEADLINE, D("550"), D("696"))
    # the 700.00 of 2025-01-15 counts up to 2026-01-15 and is gone the day after
    days = by_day(points)
    assert days[date(2026, 1, 15)].booked_usd == D("1250.00")
    assert days[date(2026, 1, 16)].booked_usd == D("550.00")
    assert days[date(2026, 1, 16)].projected_usd == D("550.00") + 2 * 57
    # the same as the outlook of the engine's sums
    windows = outlook_windows(AS_OF, DEADLINE)
    outlook = deadline_outlook(
        windows=windows,
        threshold_usd=D(1000),
        secured_usd=D("550.00"),
        rolling_off_usd=D("700.00"),
        pace_total_usd=D("184.00"),
    )
    assert outlook.outlook == SHORT
    series = ttm_series(EXAMPLE, as_of=AS_OF, deadline=DEADLINE, pace_usd=outlook.pace_usd)
    assert series[-1].projected_usd == outlook.projected_usd
    assert series[-1].booked_usd == outlook.secured_usd


def test_revenue_dated_after_today_steps_up_on_the_day_after_its_date():
    revenue = {date(2025, 6, 1): D("100"), date(2025, 12, 10): D("250"), date(2026, 2, 1): D("9")}
    days = by_day(ttm_series(revenue, as_of=AS_OF, deadline=DEADLINE, pace_usd=D(0)))
    assert days[date(2025, 12, 10)].booked_usd == D("100")
    assert days[date(2025, 12, 11)].booked_usd == D("350")
    # dated on the deadline itself: outside its window
    assert days[DEADLINE].booked_usd == D("350")


def test_credits_step_the_booked_line_down_where_they_land():
    revenue = {date(2025, 6, 1): D("500"), date(2025, 12, 1): D("-120.50")}
    days = by_day(ttm_series(revenue, as_of=AS_OF, deadline=DEADLINE, pace_usd=D("1.5")))
    assert days[date(2025, 12, 1)].booked_usd == D("500")
    assert days[date(2025, 12, 2)].booked_usd == D("379.50")
    assert days[date(2025, 12, 2)].projected_usd == D("379.50") + D("1.5") * 12


def test_29_february_rolls_off_on_the_first_of_march():
    # 2024-02-29 is in the window of 2025-02-28 (from 2024-02-28) and not in
    # that of 2025-03-01 (from 2024-03-01).
    revenue = {date(2024, 2, 29): D("10"), date(2024, 6, 1): D("1")}
    days = by_day(
        ttm_series(revenue, as_of=date(2025, 2, 1), deadline=date(2025, 3, 5), pace_usd=D(0))
    )
    assert days[date(2025, 2, 28)].booked_usd == D("11")
    assert days[date(2025, 3, 1)].booked_usd == D("1")


def test_a_leap_year_deadline_window():
    # On 2028-02-29 the window starts 2027-02-28 (as on 2028-02-28); on
    # 2028-03-01 it starts 2027-03-01.
    revenue = {date(2027, 2, 28): D("10"), date(2027, 3, 1): D("5")}
    days = by_day(
        ttm_series(revenue, as_of=date(2028, 2, 1), deadline=date(2028, 3, 2), pace_usd=D(0))
    )
    assert days[date(2028, 2, 28)].booked_usd == D("15")
    assert days[date(2028, 2, 29)].booked_usd == D("15")
    assert days[date(2028, 3, 1)].booked_usd == D("5")
    assert days[date(2028, 3, 2)].booked_usd == D("0")
    assert len(days) == 31  # 2028-02-01 .. 2028-03-02, 29 February included


@pytest.mark.parametrize("deadline", [AS_OF, AS_OF - timedelta(days=1)])
def test_no_series_for_a_deadline_today_or_passed(deadline):
    assert ttm_series(EXAMPLE, as_of=AS_OF, deadline=deadline, pace_usd=D(2)) == []


def test_the_series_needs_todays_ttm_window_up_to_the_day_before_the_deadline():
    window = series_window(AS_OF, DEADLINE)
    assert (window.start, window.end) == (date(2024, 11, 20), date(2026, 1, 31))


def test_the_weekly_sample_keeps_the_first_and_the_last_day():
    points = ttm_series(EXAMPLE, as_of=AS_OF, deadline=DEADLINE, pace_usd=D(2))
    sample = series_sample(points)
    assert [p.day for p in sample][:3] == [AS_OF, date(2025, 11, 27), date(2025, 12, 4)]
    assert sample[-1] is points[-1]
    assert len(sample) == 12  # days 0, 7, ..., 70 and the deadline (day 73)
    assert series_sample(points[:8]) == [points[0], points[7]]
    assert series_sample([]) == []


def test_usd_by_day_converts_with_the_months_rate():
    rates = {("EUR", date(2024, 3, 1)): D("1.0811")}
    lines = [
        (D("1000.00"), "EUR", date(2024, 3, 31)),
        (D("5.00"), "USD", date(2024, 3, 31)),
        (D("7.00"), "USD", date(2024, 4, 2)),
    ]
    assert usd_by_day(lines, rates) == {date(2024, 3, 31): D("1086.10"), date(2024, 4, 2): D(7)}


def test_usd_by_day_without_a_rate_is_an_error_never_zero():
    lines = [
        (D("10"), "GBP", date(2024, 5, 3)),
        (D("10"), "EUR", date(2024, 4, 9)),
        (D("10"), "EUR", date(2024, 4, 10)),
        (D("10"), "USD", date(2024, 1, 1)),
    ]
    with pytest.raises(MissingRate) as error:
        usd_by_day(lines, {})
    assert (error.value.currency, error.value.month) == ("EUR", date(2024, 4, 1))
    assert str(error.value) == "no exchange rate for EUR 2024-04; also for GBP 2024-05"


def test_the_staff_wording_says_the_pace_not_your_pace():
    windows = outlook_windows(AS_OF, DEADLINE)
    outlook = deadline_outlook(
        windows=windows,
        threshold_usd=D(1000),
        secured_usd=D("550.00"),
        rolling_off_usd=D("700.00"),
        pace_total_usd=D("184.00"),
    )
    assert outlook.explanation("en") == (
        "USD 550.00 already counts for 2026-02-01; USD 450.00 still needed in 73 days. "
        "At your pace of the last three months (USD 2.00 a day) you would reach USD 696.00."
    )
    assert outlook.explanation("en", staff=True) == (
        "USD 550.00 already counts for 2026-02-01; USD 450.00 still needed in 73 days. "
        "At the pace of the last three months (USD 2.00 a day) it would reach USD 696.00."
    )
    assert outlook.explanation("de", staff=True) == (
        "550,00 USD zählen bereits für den 01.02.2026; 450,00 USD fehlen noch, in 73 Tagen. "
        "Im Tempo der letzten drei Monate (2,00 USD am Tag) würden 696,00 USD erreicht."
    )


amounts = st.decimals(min_value=-500, max_value=5000, places=2, allow_nan=False)


# Each example walks up to 400 days: no per-example deadline on a busy machine.
@settings(deadline=None)
@given(
    lines=st.lists(st.tuples(st.integers(min_value=0, max_value=800), amounts), max_size=25),
    as_of=st.dates(min_value=date(2023, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=1, max_value=400),
    pace=st.decimals(min_value=0, max_value=100, places=4, allow_nan=False),
)
def test_booked_is_the_ttm_of_each_day_and_the_projection_adds_the_pace(lines, as_of, days, pace):
    deadline = as_of + timedelta(days=days)
    start = series_window(as_of, deadline).start
    dated = [(start + timedelta(days=n), amount) for n, amount in lines]
    revenue: dict[date, Decimal] = {}
    for day, amount in dated:
        revenue[day] = revenue.get(day, D(0)) + amount
    points = ttm_series(revenue, as_of=as_of, deadline=deadline, pace_usd=pace)
    assert len(points) == days + 1
    for offset, point in enumerate(points):
        assert point.booked_usd == ttm_on(point.day, dated)
        assert point.projected_usd == point.booked_usd + pace * offset
    # the deadline: booked is what the deadline window holds (secured)
    windows = outlook_windows(as_of, deadline)
    assert points[-1].booked_usd == sum((a for d, a in dated if d in windows.secured), D(0))
