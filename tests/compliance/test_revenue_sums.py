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


def test_the_scan_sums_each_locations_revenue_before_its_cut(books):
    """``cuts``: the rolling off of the deadline outlook from the TTM scan
    itself (PRODUCT 4.9), each location's lines in the window dated before
    its own day, converted as the TTM; a location without lines there has
    nothing before its cut."""
    usd, eur, gap = books
    empty = LocationFactory(partner=usd.partner)
    cuts = {usd.pk: D(2026, 8, 1), eur.pk: D(2026, 2, 1), empty.pk: D(2026, 3, 1)}
    totals = selectors.revenue_totals(TTM, inner=PACE, cuts=cuts)
    assert totals.cuts == cuts
    assert totals.before.get(usd.pk) == Decimal("30.00")  # 10.00 + 20.00, not the day before
    assert totals.before.get(eur.pk) == Decimal("210.00")  # 200.00 x 1.05
    assert totals.before.get(empty.pk, Decimal(0)) == Decimal(0)
    assert gap.pk not in totals.before
    # the TTM and the pace months are those of the scan without cuts
    plain = selectors.revenue_totals(TTM, inner=PACE)
    assert totals.usd == plain.usd and totals.missing == plain.missing
    assert totals.inner is not None and plain.inner is not None
    assert totals.inner.usd == plain.inner.usd
    # each against a hand sum over the window's part before the cut
    for pk, cut in cuts.items():
        alone = selectors.revenue_totals(Window(TTM.start, cut - datetime.timedelta(days=1)))
        assert totals.before.get(pk, Decimal(0)) == alone.usd.get(pk, Decimal(0))


def test_a_cut_the_scan_cannot_take_is_left_to_the_span_query(books):
    """A cut inside a month (a support plan's renewal) splits SQLite's month
    sums: it is not taken there (``.cuts`` says which were); PostgreSQL takes
    every cut, unless the locations' pks are too sparse for one array."""
    from django.db import connection

    usd, eur, _gap = books
    cuts = {usd.pk: D(2026, 8, 1), eur.pk: D(2026, 1, 20)}
    totals = selectors.revenue_totals(TTM, cuts=cuts)
    if connection.vendor == "postgresql":
        assert totals.cuts == cuts
        assert totals.before[eur.pk] == Decimal("210.00")
        sparse = {usd.pk: D(2026, 8, 1), usd.pk + 10_000_000: D(2026, 8, 1)}
        assert selectors._cut_array(sparse) is None
        far = selectors.revenue_totals(TTM, cuts=sparse)
        assert far.cuts == {} and far.before == {}
    else:
        assert totals.cuts == {usd.pk: D(2026, 8, 1)}
        assert eur.pk not in totals.before
    assert totals.before[usd.pk] == Decimal("30.00")


def test_the_cut_array_puts_each_cut_at_its_pk():
    assert selectors._cut_array({}) is None
    assert selectors._cut_array({7: D(2026, 2, 1), 9: D(2026, 3, 1)}) == (
        "[7:9]={2026-02-01,-infinity,2026-03-01}"
    )
