"""The one revenue upsert (``partners.revenue``): the API's bulk lines, the
simple revenue kind and Partner Center files all store revenue through it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection

from partners import revenue
from partners.models import RevenueRecord, RevenueSource
from tests.factories import LocationFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2024, 3, 1)


@pytest.fixture
def locations():
    return LocationFactory(), LocationFactory()


def line(location, reference: str, amount: str = "10", **changes) -> revenue.RevenueLine:
    values = {
        "location_id": location.pk,
        "revenue_date": DAY,
        "amount": Decimal(amount),
        "currency_id": "EUR",
        "reference": reference,
        "customer": "Contoso",
        **changes,
    }
    return revenue.RevenueLine(**values)


def upsert(lines, **kwargs) -> revenue.RevenueUpsert:
    kwargs.setdefault("source", RevenueSource.API)
    kwargs.setdefault("user", None)
    kwargs.setdefault("reason", "API")
    return revenue.revenue_lines_upsert(lines=lines, **kwargs)


def counts(result: revenue.RevenueUpsert) -> tuple[int, int, int]:
    return result.created, result.updated, result.unchanged


def history() -> list[tuple]:
    return sorted(
        RevenueRecord.history.values_list(
            "reference", "amount", "history_type", "history_user", "history_change_reason"
        )
    )


def records() -> list[tuple]:
    return sorted(
        RevenueRecord.objects.values_list(
            "location_id",
            "source",
            "reference",
            "revenue_date",
            "amount",
            "currency_id",
            "customer",
        )
    )


def scenario(one, two, *, portable: bool) -> tuple:
    """New, changed, unchanged and planned lines of two sources, with and
    without history rows for new records."""
    user = StaffUserFactory()
    results = [
        upsert(
            [line(one, "A"), line(two, "B")], user=user, history_of_created=True, portable=portable
        ),
        upsert([line(one, "A"), line(two, "B", "11")], user=user, portable=portable),
        upsert(
            [line(one, "A", customer="Fabrikam"), line(two, "C")], write=False, portable=portable
        ),
        upsert([line(one, "A", currency_id="USD"), line(two, "C")], user=user, portable=portable),
        upsert([line(one, "A", currency_id="USD")], portable=portable),
        upsert([line(one, "A")], source=RevenueSource.IMPORT, reason="import", portable=portable),
    ]
    summary = [(counts(r), sorted(r.location_pks)) for r in results]
    state = (summary, records(), [(*h[:3], h[4]) for h in history()])
    return state, {h[3] for h in history()} - {None} == {user.pk}


def test_new_changed_and_unchanged_lines(locations):
    one, two = locations
    (summary, stored, changes), by_user = scenario(one, two, portable=False)

    assert summary == [
        ((2, 0, 0), sorted([one.pk, two.pk])),
        ((0, 1, 1), [two.pk]),
        ((1, 1, 0), []),  # a plan: nothing written
        ((1, 1, 0), sorted([one.pk, two.pk])),
        ((0, 0, 1), []),
        ((1, 0, 0), [one.pk]),  # the same key of another source is another record
    ]
    assert len(stored) == 4
    assert changes == [
        ("A", Decimal("10"), "+", "API"),
        ("A", Decimal("10"), "~", "API"),  # the currency changed
        ("B", Decimal("10"), "+", "API"),
        ("B", Decimal("11"), "~", "API"),
    ]
    assert by_user


def test_the_two_engines_agree(require_postgres, locations):
    one, two = locations
    set_based = scenario(one, two, portable=False)
    RevenueRecord.objects.all().delete()
    RevenueRecord.history.all().delete()
    assert scenario(one, two, portable=True) == set_based


@pytest.mark.parametrize("engine", [revenue.RevenueRows, revenue.RevenueStaging])
def test_repeated_keys_are_numbered_in_line_order(locations, engine):
    if engine is revenue.RevenueStaging and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    one, _ = locations
    staged = engine(number_repeats=True)
    try:
        staged.add([line(one, "X", "1"), line(one, "Y", "2"), line(one, "X", "3")])
        staged.add([line(one, "X", "4")])
        assert counts(staged.plan(source=RevenueSource.IMPORT)) == (4, 0, 0)
        staged.write(source=RevenueSource.IMPORT, user=None, reason="import")
    finally:
        staged.close()
    assert sorted(RevenueRecord.objects.values_list("reference", "amount")) == [
        ("X", Decimal("1")),
        ("X#2", Decimal("3")),
        ("X#3", Decimal("4")),
        ("Y", Decimal("2")),
    ]
