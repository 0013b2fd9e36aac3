"""The deadline outlook's pure rules (PRODUCT 4.9): windows, sums, the
three outcomes, with the specification's example and the edge cases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.rules import Window, ttm_window
from compliance.rules.outlook import (
    MET,
    ON_TRACK,
    SHORT,
    deadline_outlook,
    outlook_windows,
    pace_window,
    ttm_on,
)

D = Decimal


THOUSAND = D(1000)


def outlook_of(lines, *, as_of, deadline, threshold=THOUSAND):
    """The outlook from dated USD lines, summed the way the engine sums."""
    windows = outlook_windows(as_of, deadline)
    assert windows is not None

    def total(window):
        return sum((a for day, a in lines if window and day in window), D(0))

    return deadline_outlook(
        windows=windows,
        threshold_usd=threshold,
        secured_usd=total(windows.secured),
        rolling_off_usd=total(windows.rolling_off),
        pace_total_usd=total(windows.pace),
    )


def test_the_specification_example():
    # D 2025-11-20, deadline 2026-02-01: W 2025-02-01 .. 2026-01-31; TTM 1,250
    # of which 700 is dated before W; pace Aug-Oct 184 / 92 days.
    lines = [
        (date(2025, 1, 15), D("700.00")),
        (date(2025, 3, 10), D("366.00")),
        (date(2025, 8, 5), D("100.00")),
        (date(2025, 9, 5), D("50.00")),
        (date(2025, 10, 5), D("34.00")),
    ]
    assert sum(a for day, a in lines if day in ttm_window(date(2025, 11, 20))) == D("1250.00")
    result = outlook_of(lines, as_of=date(2025, 11, 20), deadline=date(2026, 2, 1))
    windows = outlook_windows(date(2025, 11, 20), date(2026, 2, 1))
    assert windows.secured == Window(date(2025, 2, 1), date(2026, 1, 31))
    assert windows.rolling_off == Window(date(2024, 11, 20), date(2025, 1, 31))
    assert windows.pace == Window(date(2025, 8, 1), date(2025, 10, 31))
    assert windows.pace.days == 92
    assert result.days_to_deadline == 73
    assert (result.secured_usd, result.rolling_off_usd) == (D("550.00"), D("700.00"))
    assert (result.needed_usd, result.pace_usd) == (D("450.00"), D("2.00"))
    assert result.projected_usd == D("696.00")
    assert result.outlook == SHORT
    assert result.explanation() == (
        "USD 550.00 already counts for 2026-02-01; USD 450.00 still needed in 73 days. "
        "At your pace of the last three months (USD 2.00 a day) you would reach USD 696.00."
    )
    assert result.explanation("de").startswith(
        "550,00 USD zählen bereits für den 01.02.2026; 450,00 USD fehlen noch, in 73 Tagen."
    )


def test_met_on_track_and_short_at_the_boundaries():
    as_of, deadline = date(2025, 11, 20), date(2026, 2, 1)
    inside = date(2025, 6, 1)
    assert outlook_of([(inside, D("1000.00"))], as_of=as_of, deadline=deadline).outlook == MET
    # Projected exactly the threshold: on track (>=). 92 days of pace at
    # 920 / 92 = 10 a day, 73 days -> 730; secured 270 + 730 = 1000.
    lines = [(date(2025, 9, 1), D("920.00")), (inside, D("-650.00"))]
    result = outlook_of(lines, as_of=as_of, deadline=deadline)
    assert result.secured_usd == D("270.00") and result.projected_usd == D("1000.00")
    assert result.outlook == ON_TRACK
    lines[1] = (inside, D("-650.01"))
    assert outlook_of(lines, as_of=as_of, deadline=deadline).outlook == SHORT


def test_the_pace_is_not_rounded_before_it_is_multiplied():
    # 100 / 92 = 1.0869565...; x 73 = 79.347826...; rounding the pace to
    # cents first would give 1.09 x 73 = 79.57.
    lines = [(date(2025, 9, 1), D("100.00"))]
    result = outlook_of(lines, as_of=date(2025, 11, 20), deadline=date(2026, 2, 1))
    assert result.projected_usd.quantize(D("0.01")) == D("179.35")  # 100 secured + 79.35


def test_credits_inside_and_outside_the_window():
    as_of, deadline = date(2025, 11, 20), date(2026, 2, 1)
    lines = [
        (date(2025, 1, 10), D("900.00")),
        (date(2025, 1, 20), D("-100.00")),  # credit rolling off
        (date(2025, 5, 1), D("600.00")),
        (date(2025, 5, 2), D("-50.00")),  # credit that counts
    ]
    result = outlook_of(lines, as_of=as_of, deadline=deadline)
    assert (result.rolling_off_usd, result.secured_usd) == (D("800.00"), D("550.00"))


def test_revenue_dated_today_or_later_is_secured_inside_the_window_never_in_todays_ttm():
    as_of, deadline = date(2025, 11, 20), date(2026, 2, 1)
    lines = [(as_of, D("300.00")), (date(2026, 1, 31), D("200.00")), (deadline, D("999.00"))]
    result = outlook_of(lines, as_of=as_of, deadline=deadline)
    assert result.secured_usd == D("500.00")  # the deadline day itself is outside W
    assert sum(a for day, a in lines if day in ttm_window(as_of)) == 0


@pytest.mark.parametrize("deadline", [date(2025, 11, 20), date(2025, 11, 1), None])
def test_no_outlook_for_a_deadline_today_passed_or_missing(deadline):
    assert outlook_windows(date(2025, 11, 20), deadline) is None


def test_29_february_windows():
    windows = outlook_windows(date(2024, 2, 29), date(2025, 3, 1))
    assert windows.secured == Window(date(2024, 3, 1), date(2025, 2, 28))
    assert windows.rolling_off == Window(date(2023, 2, 28), date(2024, 2, 28))
    assert windows.pace == Window(date(2023, 11, 1), date(2024, 1, 31))
    leap = outlook_windows(date(2024, 3, 10), date(2025, 2, 28))
    assert leap.secured.start == date(2024, 2, 28)
    assert leap.rolling_off == Window(date(2023, 3, 10), date(2024, 2, 27))


def test_pace_window_across_the_year_end():
    assert pace_window(date(2026, 1, 15)) == Window(date(2025, 10, 1), date(2025, 12, 31))
    assert pace_window(date(2026, 3, 31)).days == 31 + 28 + 31  # Dec, Jan, Feb


def test_a_deadline_more_than_a_year_away_rolls_everything_off():
    windows = outlook_windows(date(2025, 1, 10), date(2026, 6, 1))
    assert windows.rolling_off == ttm_window(date(2025, 1, 10))


def test_ttm_on_a_future_day_from_booked_revenue():
    lines = [(date(2025, 1, 15), D("700")), (date(2025, 6, 1), D("550"))]
    assert ttm_on(date(2025, 11, 20), lines) == D("1250")
    assert ttm_on(date(2026, 1, 16), lines) == D("550")  # the January line rolled off


days = st.integers(min_value=0, max_value=900)
amounts = st.decimals(min_value=-5000, max_value=50000, places=2, allow_nan=False)


@given(
    st.lists(st.tuples(days, amounts), max_size=30),
    st.integers(min_value=1, max_value=365),
    st.integers(min_value=0, max_value=2000),
)
def test_secured_plus_rolling_off_is_todays_ttm_without_revenue_from_today_on(
    offsets, ahead, start
):
    as_of = date(2023, 1, 1) + timedelta(days=start)
    lines = [(as_of - timedelta(days=1 + offset), amount) for offset, amount in offsets]
    result = outlook_of(lines, as_of=as_of, deadline=as_of + timedelta(days=ahead))
    ttm = sum((a for day, a in lines if day in ttm_window(as_of)), D(0))
    assert result.secured_usd + result.rolling_off_usd == ttm


RANK = {SHORT: 0, ON_TRACK: 1, MET: 2}


@given(
    st.lists(st.tuples(days, amounts), max_size=20),
    st.integers(min_value=1, max_value=365),
    st.integers(min_value=0, max_value=364),
    st.decimals(min_value="0.01", max_value=50000, places=2),
)
def test_more_revenue_inside_the_window_never_worsens_the_outlook(offsets, ahead, where, extra):
    as_of = date(2025, 6, 15)
    deadline = as_of + timedelta(days=ahead)
    lines = [(as_of - timedelta(days=offset - 400), a) for offset, a in offsets]
    window = outlook_windows(as_of, deadline).secured
    added = window.start + timedelta(days=where % window.days)
    before = outlook_of(lines, as_of=as_of, deadline=deadline)
    after = outlook_of([*lines, (added, extra)], as_of=as_of, deadline=deadline)
    assert RANK[after.outlook] >= RANK[before.outlook]
    assert after.needed_usd <= before.needed_usd


@given(
    secured=st.decimals(min_value=-(10**9), max_value=10**9, places=6),
    pace_total=st.decimals(min_value=-(10**9), max_value=10**9, places=8),
    threshold=st.decimals(min_value=0, max_value=10**9, places=2),
    days_ahead=st.integers(min_value=1, max_value=400),
    as_of_offset=st.integers(min_value=0, max_value=3 * 366),
)
def test_the_outlook_is_decided_as_the_exact_projection_decides_it(
    secured, pace_total, threshold, days_ahead, as_of_offset
):
    """The engine decides ``projected >= threshold`` without dividing (the
    inequality times the pace window's length); the result is the one of
    the exact rational projection, and the projection it shows is that
    rational number to 80 digits."""
    from fractions import Fraction

    as_of = date(2024, 1, 1) + timedelta(days=as_of_offset)
    windows = outlook_windows(as_of, as_of + timedelta(days=days_ahead))
    assert windows is not None
    result = deadline_outlook(
        windows=windows,
        threshold_usd=threshold,
        secured_usd=secured,
        rolling_off_usd=D(0),
        pace_total_usd=pace_total,
    )
    exact = Fraction(secured) + Fraction(pace_total) * days_ahead / windows.pace.days
    if secured >= threshold:
        expected = MET
    elif exact >= Fraction(threshold):
        expected = ON_TRACK
    else:
        expected = SHORT
    assert result.outlook == expected
    assert result.needed_usd == max(D(0), threshold - secured)
    assert abs(Fraction(result.projected_usd) - exact) <= Fraction(1, 10**60)
    assert abs(result.pace_usd * windows.pace.days - pace_total) <= D("1e-60")
