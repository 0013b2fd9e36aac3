"""The engine's revenue sums (compliance.selectors): the TTM scan with its
inner months, and the span sums of the outlook, agree with each other and
with a hand sum, on SQLite and PostgreSQL; a missing rate is never zero."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from compliance import revenue_sums as selectors
from compliance.rules import Window
from tests.factories import (
    ExchangeRateFactory,
    LocationFactory,
    PartnerFactory,
    RevenueRecordFactory,
)

D = datetime.date
pytestmark = pytest.mark.django_db

TTM = Window(D(2025, 11, 20), D(2026, 11, 19))
PACE = Window(D(2026, 8, 1), D(2026, 10, 31))


@pytest.fixture
def books():
    partner = PartnerFactory()
    usd, eur, gap = (LocationFactory(partner=partner) for _ in range(3))
    for location, day, amount, currency in [
        (usd, D(2025, 11, 19), "999.00", "USD"),  # the day before the window
        (usd, D(2025, 11, 20), "10.00", "USD"),  # its first day
        (usd, D(2026, 7, 31), "20.00", "USD"),  # the day before the pace months
        (usd, D(2026, 8, 1), "30.00", "USD"),
        (usd, D(2026, 10, 31), "40.50", "USD"),
        (usd, D(2026, 11, 1), "-5.25", "USD"),  # a credit after the pace months
        (usd, D(2026, 11, 20), "1000.00", "USD"),  # after the window
        (eur, D(2026, 9, 15), "100.00", "EUR"),
        (eur, D(2026, 1, 15), "200.00", "EUR"),
        (gap, D(2026, 9, 1), "50.00", "GBP"),  # no rate for GBP 2026-09
        (gap, D(2026, 2, 1), "60.00", "USD"),
    ]:
        RevenueRecordFactory(
            location=location, revenue_date=day, amount=Decimal(amount), currency_id=currency
        )
    ExchangeRateFactory(currency_id="EUR", month=D(2026, 9, 1), usd_per_unit=Decimal("1.1"))
    ExchangeRateFactory(currency_id="EUR", month=D(2026, 1, 1), usd_per_unit=Decimal("1.05"))
    return usd, eur, gap


def test_ttm_and_its_inner_months_from_one_scan(books, django_assert_max_num_queries):
    usd, eur, gap = books
    with django_assert_max_num_queries(2):  # the sums, and the names of the missing rates
        totals = selectors.revenue_totals(TTM, inner=PACE)
    assert totals.usd[usd.pk] == Decimal("95.25")
    assert totals.usd[eur.pk] == Decimal("320.00")  # 110.00 + 210.00
    assert totals.missing == {gap.pk: {("GBP", D(2026, 9, 1))}}
    assert totals.inner is not None
    assert totals.inner.usd[usd.pk] == Decimal("70.50")
    assert totals.inner.usd[eur.pk] == Decimal("110.00")
    assert totals.inner.missing == {gap.pk: {("GBP", D(2026, 9, 1))}}
    alone = selectors.revenue_totals(PACE)  # the same months on their own
    for pk in (usd.pk, eur.pk):
        assert alone.usd[pk] == totals.inner.usd[pk]
    assert alone.missing == totals.inner.missing


def test_inner_months_that_miss_no_rate_are_known(books):
    _usd, eur, gap = books
    totals = selectors.revenue_totals(TTM, inner=Window(D(2026, 1, 1), D(2026, 2, 28)))
    assert totals.inner is not None
    assert totals.inner.usd[eur.pk] == Decimal("210.00")
    assert totals.inner.usd[gap.pk] == Decimal("60.00")
    assert totals.inner.missing == {}  # the GBP gap is in September
    assert totals.missing == {gap.pk: {("GBP", D(2026, 9, 1))}}


@pytest.mark.parametrize(
    "inner",
    [
        Window(D(2026, 8, 2), D(2026, 10, 31)),  # not from a 1st
        Window(D(2026, 8, 1), D(2026, 10, 30)),  # not to a month's end
        Window(D(2025, 11, 1), D(2026, 1, 31)),  # starts before the window
    ],
)
def test_inner_must_be_whole_months_inside(inner):
    with pytest.raises(ValueError, match="whole months"):
        selectors.revenue_totals(TTM, inner=inner)


def test_spans_agree_with_the_window_sums(books):
    usd, eur, gap = books
    spans = {
        "roll": (Window(TTM.start, D(2026, 7, 31)), {usd.pk, eur.pk, gap.pk}),
        "ahead": (Window(D(2026, 11, 20), D(2027, 1, 31)), {usd.pk}),
        "pace": (PACE, {usd.pk, eur.pk, gap.pk}),
        "empty": (Window(D(2027, 1, 2), D(2027, 1, 1)), {usd.pk}),
    }
    sums = selectors.revenue_totals_for_spans(spans)
    for key, (window, pks) in spans.items():
        if window.start > window.end:
            assert sums[key].usd == {} and sums[key].missing == {}
            continue
        direct = selectors.revenue_totals(window)
        for pk in pks:
            assert sums[key].usd.get(pk, Decimal(0)) == direct.usd.get(pk, Decimal(0)), (key, pk)
            assert sums[key].missing.get(pk) == direct.missing.get(pk), (key, pk)
    assert sums["ahead"].usd[usd.pk] == Decimal("1000.00")
    assert sums["roll"].usd[usd.pk] == Decimal("30.00")
    assert sums["pace"].error_for([gap.pk]) == "no exchange rate for GBP 2026-09"
    assert sums["roll"].error_for([usd.pk, eur.pk]) is None
