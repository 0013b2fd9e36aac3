"""Revenue's currency is a checked ISO 4217 code, and the one revenue upsert
checks locations and currencies set-based before it writes
(docs/decisions/0011-import-without-per-row-triggers.md)."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from ingestion import partner_center
from ingestion.imports import import_file
from partners.currencies import ISO_CODES
from partners.models import Currency, Location, RevenueRecord, RevenueSource
from partners.revenue import (
    RevenueLine,
    RevenueReferenceMissing,
    revenue_currency_codes,
    revenue_lines_upsert,
)
from tests.factories import LocationFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "partner_center"
RESELLERS = ("4711001", "4711002", "4711003")

pytestmark = pytest.mark.django_db


@pytest.fixture
def locations():
    return {mpn: LocationFactory(location_id=mpn) for mpn in RESELLERS}


@pytest.fixture(params=["database", "portable"])
def sink(request, monkeypatch):
    """The database's sink (PostgreSQL: COPY and merge) and the portable one."""
    if request.param == "portable":
        monkeypatch.setattr(partner_center.service, "make_sink", partner_center.ListSink)
    return request.param


def _line(location: Location, currency: str = "EUR", reference: str = "R-1") -> RevenueLine:
    return RevenueLine(
        location.pk, datetime.date(2024, 3, 1), Decimal("10.00"), currency, reference
    )


def _remove_while_reading(monkeypatch, remove) -> None:
    """Run ``remove`` after the file was read and staged, before the merge."""
    finish = partner_center.Scanner._finish

    def finish_then_remove(self):
        finish(self)
        remove()

    monkeypatch.setattr(partner_center.Scanner, "_finish", finish_then_remove)


def test_the_database_refuses_a_currency_that_is_not_an_iso_code(locations):
    Currency.objects.create(code="XBT", name="Not ISO")
    for code in ("XBT", "ABC"):
        with pytest.raises(IntegrityError), transaction.atomic():
            RevenueRecord.objects.create(
                location=locations["4711001"],
                revenue_date=datetime.date(2024, 3, 1),
                amount=1,
                currency_id=code,
                reference=f"X-{code}",
            )
    assert not RevenueRecord.objects.exists()


def test_revenue_may_be_in_the_iso_codes_of_the_currency_table():
    Currency.objects.create(code="XBT", name="Not ISO")
    Currency.objects.filter(code="ZWG").delete()
    codes = revenue_currency_codes()
    assert "EUR" in codes and "XBT" not in codes and "ZWG" not in codes
    assert codes == ISO_CODES - {"ZWG"}


def test_a_code_outside_iso_is_an_unknown_currency_in_a_file(locations, sink, tmp_path):
    Currency.objects.create(code="XBT", name="Not ISO")
    text = (FIXTURES / "new-commerce.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "reconciliation.csv"
    path.write_text(text.replace(",CHF,", ",XBT,"), encoding="utf-8")

    report = import_file(kind="revenue", source=path, file_format="partner-center")

    assert report.errors
    assert {(e.column, e.message) for e in report.errors} == {
        ("Currency", "unknown currency 'XBT'")
    }
    assert not RevenueRecord.objects.exists()


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_location_removed_while_the_file_is_read_names_its_rows(
    locations, sink, monkeypatch, dry_run
):
    _remove_while_reading(
        monkeypatch, lambda: Location.objects.filter(location_id="4711003").delete()
    )

    report = import_file(
        kind="revenue",
        source=FIXTURES / "new-commerce.csv",
        file_format="partner-center",
        dry_run=dry_run,
    )

    assert report.errors
    assert {(e.column, e.message) for e in report.errors} == {
        (
            "ResellerMpnId",
            "reseller 4711003 is no longer a location in the portal "
            "(removed while the file was imported)",
        )
    }
    assert [e.row for e in report.errors] == sorted(e.row for e in report.errors)
    assert all(e.row > 1 for e in report.errors)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert not RevenueRecord.objects.exists()


def test_a_currency_removed_while_the_file_is_read_names_its_rows(locations, sink, monkeypatch):
    _remove_while_reading(monkeypatch, lambda: Currency.objects.filter(code="CHF").delete())

    report = import_file(
        kind="revenue", source=FIXTURES / "new-commerce.csv", file_format="partner-center"
    )

    assert report.errors
    assert {(e.column, e.message) for e in report.errors} == {
        ("Currency", "unknown currency CHF (removed while the file was imported)")
    }
    assert not RevenueRecord.objects.exists()


@pytest.mark.parametrize("portable", [False, True])
def test_the_upsert_names_the_lines_of_missing_locations_and_currencies(locations, portable):
    location = locations["4711001"]
    gone = LocationFactory(location_id="4711999")
    lines = [
        _line(location, reference="R-1"),
        _line(gone, reference="R-2"),
        _line(location, currency="CHF", reference="R-3"),
    ]
    gone_pk = gone.pk
    gone.delete()
    Currency.objects.filter(code="CHF").delete()

    with pytest.raises(RevenueReferenceMissing) as raised, transaction.atomic():
        revenue_lines_upsert(
            lines=lines, source=RevenueSource.API, user=None, reason="test", portable=portable
        )

    assert raised.value.problems == [(2, "location", str(gone_pk)), (3, "currency", "CHF")]
    assert isinstance(raised.value, IntegrityError)  # the doors' generic answer still holds
    assert not RevenueRecord.objects.exists()


# --- the location key, checked by the database once per statement ------------------


def test_the_database_refuses_revenue_of_a_location_that_is_not_stored(locations):
    location = locations["4711001"]
    missing = Location.objects.order_by("-pk").first().pk + 1000
    with pytest.raises(IntegrityError), transaction.atomic():
        RevenueRecord.objects.create(
            location_id=missing,
            revenue_date=datetime.date(2024, 3, 1),
            amount=1,
            currency_id="EUR",
            reference="X-1",
        )
    record = RevenueRecord.objects.create(
        location=location,
        revenue_date=datetime.date(2024, 3, 1),
        amount=1,
        currency_id="EUR",
        reference="X-2",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        RevenueRecord.objects.filter(pk=record.pk).update(location_id=missing)
    assert RevenueRecord.objects.get().location == location


def test_the_database_refuses_to_delete_a_location_with_revenue(require_postgres, locations):
    """Below Django's PROTECT: plain SQL, as a foreign key would refuse it
    (PostgreSQL's triggers refuse the statement; SQLite keeps its foreign
    key, which refuses at the commit)."""
    from django.db import connection

    location, other = locations["4711001"], locations["4711002"]
    RevenueRecord.objects.create(
        location=location,
        revenue_date=datetime.date(2024, 3, 1),
        amount=1,
        currency_id="EUR",
        reference="X-1",
    )
    table = Location._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN (%s, %s)", [location.pk, other.pk])  # noqa: S608
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id + 100000 WHERE id = %s", [location.pk])  # noqa: S608
    assert Location.objects.filter(pk__in=[location.pk, other.pk]).count() == 2
    Location.objects.filter(pk=other.pk).update(name="renamed")  # no revenue: free to change
    Location.objects.filter(pk=other.pk).delete()
    assert not Location.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize("portable", [False, True])
def test_the_database_refuses_a_merge_whose_location_went_missing(locations, portable, monkeypatch):
    """Even if the upsert's own check were skipped, the statement is refused
    and nothing is written."""
    from partners import revenue

    monkeypatch.setattr(revenue.RevenueStaging, "check_references", lambda *a, **k: None)
    monkeypatch.setattr(revenue.RevenueRows, "check_references", lambda *a, **k: None)
    gone = LocationFactory(location_id="4711999")
    lines = [_line(locations["4711001"], reference="R-1"), _line(gone, reference="R-2")]
    gone.delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        revenue_lines_upsert(
            lines=lines, source=RevenueSource.API, user=None, reason="test", portable=portable
        )
    assert not RevenueRecord.objects.exists()
