"""The CSV imports (PRODUCT section 7): ``ingestion.imports.import_file`` and
the ``import_data`` command."""

import datetime
import hashlib
import io
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from bench.load import database_url
from ingestion import imports
from ingestion.imports import ImportReport, import_file, parse_date, parse_decimal
from ingestion.management.commands.import_data import Command
from ingestion.models import ImportRun
from partners import revenue
from partners.models import (
    BillingModel,
    Contact,
    ExchangeRate,
    Location,
    Partner,
    RevenueRecord,
    RevenueSource,
    SupportContract,
)
from tests.concurrency import race
from tests.factories import ContactFactory, LocationFactory, StaffUserFactory, UserFactory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "imports"
# The order in which the kinds depend on each other.
KINDS = ["partners", "locations", "contacts", "support-contracts", "fx-rates", "revenue"]
ROWS = {
    "partners": 3,
    "locations": 4,
    "contacts": 4,
    "support-contracts": 3,
    "fx-rates": 4,
    "revenue": 5,
}
MODELS = [Partner, Location, Contact, SupportContract, ExchangeRate, RevenueRecord]

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return StaffUserFactory(email="anna.manager@distributor.example")


@pytest.fixture
def partner_user():
    return UserFactory(email="partner.user@partner.example")


def run(kind: str, name: str, **kwargs) -> ImportReport:
    return import_file(kind=kind, source=FIXTURES / name, **kwargs)


def import_all(suffix: str = "", **kwargs) -> dict[str, ImportReport]:
    reports = {}
    for kind in KINDS:
        report = run(kind, f"{kind}{suffix}.csv", **kwargs)
        assert report.ok, [str(error) for error in report.errors]
        reports[kind] = report
    return reports


def snapshot() -> dict[str, tuple[int, int]]:
    """Rows and history rows of every imported model."""
    state = {model.__name__: (model.objects.count(), model.history.count()) for model in MODELS}
    state["designation links"] = (
        Partner.designations.through.objects.count(),
        Partner.history.model.designations.model.objects.count(),
    )
    return state


def designations_in(history_entry) -> set[str]:
    """The designations a partner history row recorded."""
    links = Partner.history.model.designations.model.objects.filter(history=history_entry)
    return {link.designation.code for link in links}


def assert_errors(report: ImportReport, expected: list[tuple[int, str, str]]) -> None:
    """``expected``: (row, column, a fragment of the message), in file order."""
    actual = [(error.row, error.column, error.message) for error in report.errors]
    assert len(actual) == len(expected), "\n".join(map(str, report.errors))
    for (row, column, message), (want_row, want_column, fragment) in zip(
        actual, expected, strict=True
    ):
        assert (row, column) == (want_row, want_column), (row, column, message)
        assert fragment in message, (row, column, message)


def write_csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_fixture_records(manager) -> None:
    """What partners.csv ... revenue.csv (and their German twins) contain."""
    contoso = Partner.objects.get(partner_id="1000001")
    assert contoso.name == "Contoso Cloud GmbH"
    assert contoso.country == "DE"
    assert contoso.billing_model == BillingModel.DIRECT_BILL
    assert contoso.onboarded_on == datetime.date(2019, 3, 15)
    assert contoso.account_manager == manager
    assert contoso.agreement_signed_on == datetime.date(2023, 6, 1)
    assert {d.code for d in contoso.designations.all()} == {"modern-work", "security"}

    fabrikam = Partner.objects.get(partner_id="1000002")
    assert (fabrikam.country, fabrikam.account_manager, fabrikam.agreement_signed_on) == (
        "CH",
        None,
        None,
    )
    assert not fabrikam.designations.exists()

    northwind = Partner.objects.get(partner_id="1000003")
    assert northwind.name == "Northwind Systeme, Wien"
    assert northwind.billing_model == BillingModel.INDIRECT_RESELLER  # empty -> the default
    assert northwind.country == "AT"
    assert northwind.account_manager == manager  # the email matches in any case
    assert [d.code for d in northwind.designations.all()] == ["data-ai-azure"]

    assert {
        loc.location_id: (loc.partner.partner_id, loc.country, loc.onboarded_on)
        for loc in Location.objects.select_related("partner")
    } == {
        "2000011": ("1000001", "DE", datetime.date(2019, 3, 15)),
        "2000012": ("1000001", "AT", datetime.date(2020, 1, 10)),
        "2000021": ("1000002", "CH", datetime.date(2021, 11, 2)),
        "2000031": ("1000003", "AT", datetime.date(2022, 5, 20)),
    }

    assert {
        c.email: (c.partner.partner_id, c.name, c.language, c.receives_notices)
        for c in Contact.objects.select_related("partner")
    } == {
        "jana.schmidt@contoso.example": ("1000001", "Jana Schmidt", "de", True),
        "tom.baker@contoso.example": ("1000001", "Tom Baker", "en", False),
        "lukas.mueller@fabrikam.example": ("1000002", "Müller, Lukas", "de", True),
        "eva.novak@northwind.example": ("1000003", "Eva Novak", "en", False),
    }

    assert {
        s.contract_number: (
            s.partner.partner_id,
            s.plan_type,
            s.start_date,
            s.end_date,
            s.is_paid,
            s.paid_on,
            s.amount,
            s.currency_id,
        )
        for s in SupportContract.objects.select_related("partner")
    } == {
        "ASFP-2024-001": (
            "1000001",
            "asfp",
            datetime.date(2024, 9, 1),
            datetime.date(2025, 8, 31),
            True,
            datetime.date(2024, 8, 20),
            Decimal("6000"),
            "USD",
        ),
        "PSFP-2023-7": (
            "1000001",
            "psfp",
            datetime.date(2023, 9, 1),
            datetime.date(2024, 8, 31),
            True,
            None,
            None,
            None,
        ),
        "OTH-1": (
            "1000003",
            "other",
            datetime.date(2024, 1, 1),
            datetime.date(2024, 12, 31),
            False,
            None,
            Decimal("1500.5"),
            "EUR",
        ),
    }

    assert {(r.currency_id, r.month): r.usd_per_unit for r in ExchangeRate.objects.all()} == {
        ("EUR", datetime.date(2024, 1, 1)): Decimal("1.0905"),
        ("EUR", datetime.date(2024, 2, 1)): Decimal("1.0795"),
        ("CHF", datetime.date(2024, 3, 1)): Decimal("1.112"),
        ("USD", datetime.date(2024, 3, 1)): Decimal("1"),
    }

    assert {
        r.reference: (r.location.location_id, r.revenue_date, r.amount, r.currency_id, r.customer)
        for r in RevenueRecord.objects.select_related("location")
    } == {
        "INV-2024-0001": (
            "2000011",
            datetime.date(2024, 1, 15),
            Decimal("1234.56"),
            "EUR",
            "Adatum, Berlin",
        ),
        "CRN-2024-0001": ("2000011", datetime.date(2024, 2, 15), Decimal("-200"), "EUR", "Adatum"),
        "INV-2024-0002": ("2000012", datetime.date(2024, 2, 20), Decimal("980"), "USD", ""),
        "INV-2024-0003": (
            "2000021",
            datetime.date(2024, 3, 31),
            Decimal("1000"),
            "CHF",
            "Tailspin Toys",
        ),
        "INV-2024-0004": (
            "2000031",
            datetime.date(2024, 3, 31),
            Decimal("1000000.50"),
            "USD",
            "Wingtip",
        ),
    }
    assert set(RevenueRecord.objects.values_list("source", flat=True)) == {RevenueSource.IMPORT}


# --- Good files -------------------------------------------------------------------


def test_every_kind_imports_from_a_comma_separated_file(manager):
    reports = import_all()

    for kind, report in reports.items():
        assert (report.rows, report.created, report.updated, report.unchanged) == (
            ROWS[kind],
            ROWS[kind],
            0,
            0,
        ), kind
        assert report.dialect == "comma-separated, decimal point"
        assert report.written
    assert_fixture_records(manager)


def test_every_kind_imports_from_a_german_excel_file(manager):
    """Semicolons, decimal commas, DD.MM.YYYY, a BOM, CRLF line ends, other
    column orders and an extra column: the same records as the comma files."""
    reports = import_all("-de")

    for kind, report in reports.items():
        assert (report.rows, report.created) == (ROWS[kind], ROWS[kind]), kind
        assert report.dialect == "semicolon-separated, decimal comma"
    assert reports["partners"].ignored_columns == ["bemerkung"]
    assert_fixture_records(manager)

    # ... so the comma files, read afterwards, change nothing.
    for kind, report in import_all().items():
        assert (report.created, report.updated, report.unchanged) == (0, 0, ROWS[kind]), kind


def test_a_second_import_of_the_same_files_changes_nothing(manager):
    import_all()
    before = snapshot()

    reports = import_all()

    for kind, report in reports.items():
        assert (report.created, report.updated, report.unchanged) == (0, 0, ROWS[kind]), kind
        assert not report.written
    assert snapshot() == before  # not even a history row


def test_an_uploaded_file_object_imports_like_a_path(manager):
    upload = SimpleUploadedFile("partners.csv", (FIXTURES / "partners.csv").read_bytes())

    report = import_file(kind="partners", source=upload)

    assert (report.source_name, report.created) == ("partners.csv", 3)
    assert import_file(kind="partners", source=(FIXTURES / "partners.csv").read_bytes()).ok


def test_credits_with_negative_amounts_are_imported(manager, tmp_path):
    import_all()
    path = write_csv(
        tmp_path,
        "location_id,date,amount,currency,reference,customer\n"
        "2000011,2024-04-01,-1234.567891,EUR,CRN-9,Adatum\n"
        "2000011,2024-04-02,0,EUR,CRN-10,\n",
    )

    report = import_file(kind="revenue", source=path)

    assert report.created == 2
    assert RevenueRecord.objects.get(reference="CRN-9").amount == Decimal("-1234.567891")


def test_history_records_the_import_and_its_user(manager):
    import_all(user=manager)

    contoso = Partner.objects.get(partner_id="1000001")
    (entry,) = contoso.history.all()
    assert (entry.history_type, entry.history_user, entry.history_change_reason) == (
        "+",
        manager,
        "import partners partners.csv",
    )
    assert designations_in(entry) == {"modern-work", "security"}
    for model in MODELS:
        if model is RevenueRecord:
            # New revenue lines (100,000 a file) get no history row; changes do.
            assert not model.history.exists()
            continue
        assert model.history.count() == model.objects.count(), model
        assert set(model.history.values_list("history_user", flat=True)) == {manager.pk}


# --- Updates -----------------------------------------------------------------------


def test_changed_values_update_the_stored_records(manager, tmp_path):
    import_all()
    path = write_csv(
        tmp_path,
        "location_id,date,amount,currency,reference,customer\n"
        '2000011,2024-01-15,1300.00,EUR,INV-2024-0001,"Adatum, Berlin"\n'
        "2000011,2024-02-15,-200.00,EUR,CRN-2024-0001,Adatum\n"
        "2000012,2024-05-01,50,USD,INV-2024-0099,\n",
    )

    report = import_file(kind="revenue", source=path)

    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    record = RevenueRecord.objects.get(reference="INV-2024-0001")
    assert record.amount == Decimal("1300")
    (change,) = record.history.all()
    assert change.history_type == "~"
    assert change.amount == Decimal("1300")
    assert RevenueRecord.objects.count() == 6


def test_changed_partners_update_fields_and_designations(manager, tmp_path):
    import_all()
    contoso = Partner.objects.get(partner_id="1000001")
    fabrikam = Partner.objects.get(partner_id="1000002")
    path = write_csv(
        tmp_path,
        "partner_id,name,country,billing_model,onboarded_on,account_manager_email,"
        "agreement_signed_on,designations\n"
        "1000001,Contoso Cloud GmbH,DE,,2019-03-15,,2023-06-01,SECURITY|business-applications\n"
        "1000002,Fabrikam Schweiz AG,CH,indirect_reseller,2021-11-02,,,\n",
    )

    report = import_file(kind="partners", source=path)

    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    contoso.refresh_from_db()
    fabrikam.refresh_from_db()
    assert contoso.billing_model == BillingModel.DIRECT_BILL  # empty keeps the stored value
    assert contoso.account_manager is None
    assert {d.code for d in contoso.designations.all()} == {"security", "business-applications"}
    assert fabrikam.name == "Fabrikam Schweiz AG"
    latest = contoso.history.order_by("-history_id").first()
    assert latest.history_type == "~"
    assert designations_in(latest) == {"security", "business-applications"}
    assert contoso.updated_at > contoso.created_at

    again = import_file(kind="partners", source=path)
    assert (again.updated, again.unchanged) == (0, 2)


def test_contacts_match_their_email_in_any_case(manager, tmp_path):
    import_all()
    path = write_csv(
        tmp_path,
        "partner_id,name,email,language,receives_notices\n"
        "1000001,Jana Schmidt-Weber,Jana.Schmidt@Contoso.example,de,yes\n",
    )

    report = import_file(kind="contacts", source=path)

    assert (report.created, report.updated) == (0, 1)
    jana = Contact.objects.get(
        partner__partner_id="1000001", email__iexact="jana.schmidt@contoso.example"
    )
    assert (jana.name, jana.email) == ("Jana Schmidt-Weber", "Jana.Schmidt@Contoso.example")


def test_contacts_stored_twice_in_different_case_are_an_error(manager):
    run("partners", "partners.csv")
    contoso = Partner.objects.get(partner_id="1000001")
    ContactFactory(partner=contoso, email="jana.schmidt@contoso.example")
    ContactFactory(partner=contoso, email="Jana.Schmidt@contoso.example")

    report = run("contacts", "contacts.csv")

    assert_errors(report, [(2, "email", "matches several stored records; fix them first")])


def test_a_support_contract_that_was_paid_later_is_updated(manager, tmp_path):
    import_all()
    path = write_csv(
        tmp_path,
        "partner_id,plan_type,contract_number,start_date,end_date,paid,amount,currency\n"
        "1000003,other,OTH-1,2024-01-01,2024-12-31,2024-02-01,1500.50,EUR\n",
    )

    report = import_file(kind="support-contracts", source=path)

    assert report.updated == 1
    contract = SupportContract.objects.get(contract_number="OTH-1")
    assert (contract.is_paid, contract.paid_on) == (True, datetime.date(2024, 2, 1))


# --- Dry run ------------------------------------------------------------------------


def test_a_dry_run_reports_what_would_change_and_writes_nothing(manager, tmp_path):
    before = snapshot()
    report = run("partners", "partners.csv", dry_run=True)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert not report.written
    assert snapshot() == before

    import_all()
    before = snapshot()
    path = write_csv(
        tmp_path,
        "currency,month,usd_per_unit\nEUR,2024-01,1.1\nEUR,2024-02,1.0795\nGBP,2024-01,1.27\n",
    )
    report = import_file(kind="fx-rates", source=path, dry_run=True)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert snapshot() == before
    assert ExchangeRate.objects.get(currency_id="EUR", month="2024-01-01").usd_per_unit == Decimal(
        "1.0905"
    )


def test_a_dry_run_of_a_bad_file_lists_the_errors(manager):
    report = run("partners", "partners-bad.csv", dry_run=True)

    assert not report.ok
    assert report.bad_rows == 5


# --- Bad files: every error, nothing written ------------------------------------------


def test_bad_partners_are_all_reported_and_nothing_is_written(manager, partner_user):
    before = snapshot()

    report = run("partners", "partners-bad.csv")

    assert_errors(
        report,
        [
            (3, "partner_id", "'12AB' is not a Microsoft partner id (digits only"),
            (4, "name", "is required"),
            (4, "country", "'Germany' is not a two-letter country code"),
            (4, "billing_model", "'direct' is not one of direct_bill, indirect_reseller"),
            (4, "onboarded_on", "'2020-13-01' is not a valid date (use YYYY-MM-DD)"),
            (5, "account_manager_email", "no user has the email nobody@distributor.example"),
            (6, "agreement_signed_on", "'01/02/2020' is not a valid date"),
            (6, "designations", "unknown designation 'Cloud Magic'"),
            (
                6,
                "account_manager_email",
                "partner.user@partner.example is not an active staff user",
            ),
            (7, "partner_id", "duplicate of row 2 (same partner_id)"),
        ],
    )
    assert snapshot() == before


def test_bad_locations_are_all_reported_and_nothing_is_written(manager):
    run("partners", "partners.csv")
    LocationFactory(location_id="2000021", partner=Partner.objects.get(partner_id="1000002"))
    before = snapshot()

    report = run("locations", "locations-bad.csv")

    assert_errors(
        report,
        [
            (3, "partner_id", "location 2000021 already belongs to partner 1000002"),
            (4, "partner_id", "unknown partner 9999999"),
            (5, "location_id", "duplicate of row 2 (same location_id)"),
            (6, "location_id", "'x' is not a Microsoft partner id"),
            (6, "country", "'D' is not a two-letter country code"),
            (6, "onboarded_on", "is required"),
        ],
    )
    assert snapshot() == before


def test_bad_contacts_are_all_reported_and_nothing_is_written(manager):
    run("partners", "partners.csv")
    before = snapshot()

    report = run("contacts", "contacts-bad.csv")

    assert_errors(
        report,
        [
            (3, "email", "duplicate of row 2 (same partner_id and email)"),
            (4, "email", "'not-an-email' is not an email address"),
            (4, "language", "'fr' is not one of en, de"),
            (4, "receives_notices", "'vielleicht' is not yes or no"),
            (5, "partner_id", "unknown partner 9999999"),
            (6, "name", "is required"),
            (6, "language", "is required (en, de)"),
        ],
    )
    assert snapshot() == before


def test_bad_revenue_lines_are_all_reported_and_nothing_is_written(manager):
    run("partners", "partners.csv")
    run("locations", "locations.csv")
    before = snapshot()

    report = run("revenue", "revenue-bad.csv")

    assert_errors(
        report,
        [
            (3, "date", "'2024-02-30' is not a valid date (use YYYY-MM-DD or DD.MM.YYYY)"),
            (3, "amount", "'12,3x' is not a number (e.g. 1234,56 or 1.234,56)"),
            (3, "currency", "'EURO' is not a three-letter currency code"),
            (4, "location_id", "unknown location 9999999"),
            (5, "amount", "'1.5' is not a number"),
            (5, "currency", "unknown currency XXX"),
            (5, "reference", "duplicate of row 2 (same location_id and reference)"),
            (6, "amount", "'100,1234567' has more than 6 decimal places"),
            (6, "reference", "is required"),
        ],
    )
    assert snapshot() == before


def test_bad_support_contracts_are_all_reported_and_nothing_is_written(manager):
    run("partners", "partners.csv")
    before = snapshot()

    report = run("support-contracts", "support-contracts-bad.csv")

    assert_errors(
        report,
        [
            (2, "end_date", "the end date 2024-08-31 is before the start date 2024-09-01"),
            (2, "paid", "'maybe' is neither a date (paid on) nor yes or no"),
            (2, "currency", "is required"),
            (3, "plan_type", "'gold' is not one of asfp, psfp, unified, other"),
            (4, "contract_number", "duplicate of row 3 (same partner_id and contract_number)"),
            (5, "partner_id", "unknown partner 9999999"),
        ],
    )
    assert snapshot() == before


def test_bad_exchange_rates_are_all_reported_and_nothing_is_written():
    before = snapshot()

    report = run("fx-rates", "fx-rates-bad.csv")

    assert_errors(
        report,
        [
            (3, "month", "'2024-13' is not a month (use YYYY-MM)"),
            (4, "month", "'March 2024' is not a month"),
            (5, "usd_per_unit", "must be greater than 0"),
            (6, "usd_per_unit", "must be greater than 0"),
            (7, "usd_per_unit", "USD is 1 USD per unit"),
            (8, "currency", "unknown currency XXX"),
            (9, "month", "duplicate of row 2 (same currency and month)"),
            (10, "usd_per_unit", "'abc' is not a number (e.g. 1234.56)"),
        ],
    )
    assert snapshot() == before


def test_one_bad_line_at_the_end_of_a_long_file_rejects_all_of_it(manager, tmp_path):
    import_all()
    before = snapshot()
    lines = ["location_id,date,amount,currency,reference,customer"]
    lines += [f"2000011,2024-05-01,10,EUR,BULK-{n},Adatum" for n in range(500)]
    lines.append("2000011,2024-05-01,10,EUR,,Adatum")
    path = write_csv(tmp_path, "\n".join(lines) + "\n")

    report = import_file(kind="revenue", source=path)

    assert_errors(report, [(502, "reference", "is required")])
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert snapshot() == before


def test_numbers_that_do_not_fit_the_database_columns_are_errors(manager):
    import_all()
    revenue = (
        b"location_id,date,amount,currency,reference,customer\n"
        b"2000011,2024-01-01,123456789012345678901234567890,EUR,BIG-1,\n"
        b"2000011,2024-01-01,100000000000000,EUR,BIG-2,\n"
        b"2000011,2024-01-01,99999999999999.999999,EUR,BIG-3,\n"
    )
    rates = b"currency,month,usd_per_unit\nJPY,2024-01,0.123456789\nJPY,2024-02,0.12345678\n"

    assert_errors(
        import_file(kind="revenue", source=revenue),
        [(2, "amount", "is too large"), (3, "amount", "is too large")],
    )
    assert_errors(
        import_file(kind="fx-rates", source=rates),
        [(2, "usd_per_unit", "'0.123456789' has more than 8 decimal places")],
    )


def test_missing_columns_are_named(tmp_path):
    path = write_csv(tmp_path, "location_id,date,amount,reference\n2000011,2024-01-01,1,X\n")

    report = import_file(kind="revenue", source=path)

    assert_errors(report, [(1, "", "missing columns: currency, customer")])


def test_unknown_columns_are_ignored_and_the_order_does_not_matter(manager, tmp_path):
    path = write_csv(
        tmp_path,
        " Month ; Comment ; USD_per_unit ; Currency \n 2024-01 ; from the ECB ; 1,09 ; eur \n",
    )

    report = import_file(kind="fx-rates", source=path)

    assert report.ok, report.errors
    assert report.ignored_columns == ["comment"]
    assert ExchangeRate.objects.get(currency_id="EUR", month="2024-01-01").usd_per_unit == Decimal(
        "1.09"
    )


def test_a_file_that_is_not_utf8_is_a_clean_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "partner_id,name,email,language,receives_notices\n"
        "1000001,Jana,jana@example.com,de,yes\n"
        "1000001,Jürgen Müller,j@example.com,de,yes\n".encode("latin-1")
    )

    report = import_file(kind="contacts", source=path)

    assert_errors(report, [(3, "", "the file is not UTF-8 text")])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty or has no header row"),
        ("\n\npartner_id,name\n", "the file is empty or has no header row"),
    ],
)
def test_an_empty_file_is_rejected(tmp_path, text, message):
    report = import_file(kind="partners", source=write_csv(tmp_path, text))

    assert_errors(report, [(1, "", message)])


def test_a_header_without_rows_imports_nothing():
    report = import_file(kind="fx-rates", source=b"currency,month,usd_per_unit\r\n\r\n")

    assert report.ok
    assert (report.rows, report.created) == (0, 0)


def test_a_row_with_more_values_than_the_header_is_an_error(manager):
    import_all()
    data = b"currency,month,usd_per_unit\nEUR,2024-01,1,0905\n"

    report = import_file(kind="fx-rates", source=data)

    assert_errors(report, [(2, "", "this row has 4 values but the header has 3 columns")])


def test_a_repeated_column_is_an_error():
    report = import_file(kind="fx-rates", source=b"currency,month,usd_per_unit,month\n")

    assert_errors(report, [(1, "", "repeated columns: month")])


def test_quoted_values_may_span_lines_and_rows_keep_their_line_numbers(manager):
    run("partners", "partners.csv")
    data = (
        b"partner_id,name,email,language,receives_notices\n"
        b'1000001,"Jana\nSchmidt",jana@example.com,de,yes\n'
        b"\n"
        b"1000001,Tom,tom@example.com,xx,yes\n"
    )

    report = import_file(kind="contacts", source=data)

    assert_errors(report, [(5, "language", "'xx' is not one of en, de")])


def test_a_database_error_while_writing_rolls_everything_back(manager, monkeypatch):
    run("partners", "partners.csv")
    run("locations", "locations.csv")
    before = snapshot()

    def fail(*args, **kwargs):
        # A real unique violation: on PostgreSQL it aborts the transaction,
        # and cleaning up after it must not hide the error.
        for _ in range(2):
            RevenueRecord.objects.create(
                location=Location.objects.first(),
                revenue_date=datetime.date(2024, 1, 1),
                amount=1,
                currency_id="EUR",
                reference="X",
            )

    # The writes of the one revenue upsert: portable, and the PostgreSQL merge.
    monkeypatch.setattr(revenue.RevenueRows, "write", fail)
    monkeypatch.setattr(revenue.RevenueStaging, "write", fail)

    report = run("revenue", "revenue.csv")

    assert_errors(report, [(0, "", "the database refused the import, nothing was written")])
    assert str(report.errors[0]).startswith("file: ")
    assert snapshot() == before


# --- Values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("1234.56", False, Decimal("1234.56")),
        ("1,234.56", False, Decimal("1234.56")),
        ("-200", False, Decimal("-200")),
        ("+5.5", False, Decimal("5.5")),
        ("1.234,56", True, Decimal("1234.56")),
        ("1234,56", True, Decimal("1234.56")),
        ("-1.000.000,5", True, Decimal("-1000000.5")),
        ("1.500", True, Decimal("1500")),
        ("1.5", True, None),
        ("1,5", False, None),
        ("1e5", False, None),
        ("NaN", False, None),
        ("12 000", True, None),
        ("", False, None),
    ],
)
def test_parse_decimal(text, decimal_comma, expected):
    assert parse_decimal(text, decimal_comma=decimal_comma) == expected


@pytest.mark.parametrize(
    ("text", "german", "expected"),
    [
        ("2024-02-29", False, datetime.date(2024, 2, 29)),
        ("2023-02-29", False, None),
        ("29.02.2024", False, None),
        ("29.02.2024", True, datetime.date(2024, 2, 29)),
        ("1.3.2024", True, datetime.date(2024, 3, 1)),
        ("2024-02-29", True, datetime.date(2024, 2, 29)),
        ("02/29/2024", True, None),
    ],
)
def test_parse_date(text, german, expected):
    assert parse_date(text, german=german) == expected


# --- The command ------------------------------------------------------------------------


def test_the_command_prints_a_report(manager):
    out = io.StringIO()

    call_command("import_data", "partners", str(FIXTURES / "partners.csv"), stdout=out)

    assert Partner.objects.count() == 3
    text = out.getvalue()
    assert "Imported partners from partners.csv." in text
    assert re.search(r"^  rows: +3 \(comma-separated, decimal point\)$", text, re.MULTILINE)
    assert re.search(r"^  created: +3$", text, re.MULTILINE)
    assert re.search(r"^  unchanged: +0$", text, re.MULTILINE)


def test_the_command_dry_run_writes_nothing(manager):
    out = io.StringIO()

    call_command(
        "import_data", "partners", str(FIXTURES / "partners-de.csv"), "--dry-run", stdout=out
    )

    assert Partner.objects.count() == 0
    text = out.getvalue()
    assert "Dry run of partners from partners-de.csv: nothing was written." in text
    assert re.search(r"^  would create: +3$", text, re.MULTILINE)
    assert re.search(r"^  ignored columns: +bemerkung$", text, re.MULTILINE)


def test_the_command_lists_every_error_on_stderr_and_fails(manager, partner_user):
    err = io.StringIO()

    with pytest.raises(CommandError, match=r"10 errors in 5 rows; nothing was written") as exc:
        call_command("import_data", "partners", str(FIXTURES / "partners-bad.csv"), stderr=err)

    assert exc.value.returncode == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == (
        "row 3, column partner_id: '12AB' is not a Microsoft partner id (digits only, at most 20)"
    )
    assert Partner.objects.count() == 0


def test_the_command_rejects_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_bytes("currency,month,usd_per_unit\nEUR,2024-01,1.09 €\n".encode("cp1252"))
    err = io.StringIO()

    with pytest.raises(CommandError, match="1 error in 1 row"):
        call_command("import_data", "fx-rates", str(path), stderr=err)

    assert "row 2: the file is not UTF-8 text" in err.getvalue()


def test_the_command_rejects_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_data", "revenue", str(tmp_path / "nope.csv"))


def test_the_command_rejects_an_unknown_kind():
    with pytest.raises(CommandError, match="invalid choice: 'customers'"):
        call_command("import_data", "customers", str(FIXTURES / "partners.csv"))


def test_the_partner_center_format_refuses_a_simple_file():
    # (the format itself: tests/partners/test_partner_center.py)
    with pytest.raises(CommandError, match="1 error in 1 row"):
        call_command(
            "import_data", "revenue", str(FIXTURES / "revenue.csv"), "--format", "partner-center"
        )
    with pytest.raises(CommandError, match="partner-center format is for revenue only"):
        call_command(
            "import_data", "partners", str(FIXTURES / "partners.csv"), "--format=partner-center"
        )


def test_the_help_documents_every_kind_and_its_columns():
    text = Command().create_parser("manage.py", "import_data").format_help()

    for kind, spec in imports.KINDS.items():
        assert f"  {kind}\n      {','.join(spec.columns)}\n" in text
    assert "--dry-run" in text
    assert "--format {simple,partner-center}" in text
    assert "DD.MM.YYYY" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["revenue", "does-not-exist.csv"], "No such file: does-not-exist.csv"),
        (["fx-rates", "LATIN1"], "row 2: the file is not UTF-8 text"),
    ],
)
@pytest.mark.django_db(transaction=True)  # the process records the run in the test database
def test_the_command_exits_with_status_1(tmp_path, arguments, message):
    """A real process: the exit status is what scripts and cron see."""
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("currency,month,usd_per_unit\nEUR,2024-01,1.09 €\n".encode("cp1252"))
    arguments = [str(latin1) if a == "LATIN1" else a for a in arguments]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
    }

    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "import_data", *arguments],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if str(latin1) in arguments:
        run = ImportRun.objects.get()
        assert (run.status, run.kind, run.file_name, run.error_count) == (
            "rejected",
            "fx-rates",
            "latin1.csv",
            1,
        )
        assert f"Recorded as import run {run.pk}." in result.stderr
    else:
        assert not ImportRun.objects.exists()  # a missing file is no import


# --- Import runs of the command ------------------------------------------------------------


def test_the_command_records_an_import_run(manager, tmp_path):
    import_all()
    path = write_csv(
        tmp_path,
        "location_id,date,amount,currency,reference,customer\n"
        "2000011,2024-05-01,10,EUR,NEW-1,Adatum\n"
        '2000011,2024-01-15,1234.56,EUR,INV-2024-0001,"Adatum, Berlin"\n',
        name="may.csv",
    )
    out = io.StringIO()

    call_command("import_data", "revenue", str(path), "--user", manager.username, stdout=out)

    run = ImportRun.objects.get()
    assert (run.kind, run.file_format, run.file_name, run.status) == (
        "revenue",
        "simple",
        "may.csv",
        "succeeded",
    )
    assert run.created_by == manager and run.stored_name == ""
    data = path.read_bytes()
    assert (run.size, run.lines) == (len(data), 3)
    assert run.sha256 == hashlib.sha256(data).hexdigest()
    assert (run.counts["result"]["created"], run.counts["result"]["unchanged"]) == (1, 1)
    assert (run.error_count, run.errors, run.progress) == (0, [], 1.0)
    assert run.started_at <= run.finished_at
    assert f"Recorded as import run {run.pk}." in out.getvalue()

    # A Partner Center file, by email and without a user; a dry run is not recorded.
    pc = PROJECT_ROOT / "tests" / "fixtures" / "partner_center" / "new-commerce.csv"
    for mpn in ("4711001", "4711002", "4711003"):
        LocationFactory(location_id=mpn)
    call_command("import_data", "revenue", str(pc), "--format=partner-center", "--dry-run",
                 stdout=io.StringIO())  # fmt: skip
    assert ImportRun.objects.count() == 1
    call_command("import_data", "revenue", str(pc), "--format=partner-center",
                 "--user", manager.email.upper(), stdout=io.StringIO())  # fmt: skip
    call_command("import_data", "fx-rates", str(FIXTURES / "fx-rates.csv"), stdout=io.StringIO())
    pc_run, fx_run = ImportRun.objects.order_by("-pk")[1], ImportRun.objects.order_by("-pk")[0]
    assert (pc_run.file_format, pc_run.created_by, pc_run.counts["result"]["created"]) == (
        "partner-center",
        manager,
        9,
    )
    assert pc_run.counts["result"]["layout"] == "new-commerce"
    assert (fx_run.created_by, fx_run.status, fx_run.counts["result"]["unchanged"]) == (
        None,
        "succeeded",
        4,
    )


def test_the_command_records_a_rejected_file_with_its_errors(manager):
    with pytest.raises(CommandError, match=r"nothing was written\. Recorded as import run \d+"):
        call_command("import_data", "partners", str(FIXTURES / "partners-bad.csv"),
                     stderr=io.StringIO())  # fmt: skip

    run = ImportRun.objects.get()
    assert (run.status, run.error_count, len(run.errors)) == ("rejected", 10, 10)
    assert run.errors[0] == [
        3,
        "partner_id",
        "'12AB' is not a Microsoft partner id (digits only, at most 20)",
    ]
    assert Partner.objects.count() == 0


def test_the_command_records_a_failure(manager, monkeypatch):
    def fail(**kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(imports.runs, "import_file", fail)  # (what the command calls)
    with pytest.raises(CommandError, match="disk on fire"):
        call_command("import_data", "partners", str(FIXTURES / "partners.csv"))
    run = ImportRun.objects.get()
    assert (run.status, run.message) == ("failed", "OSError: disk on fire")
    assert run.finished_at is not None and len(run.sha256) == 64


@pytest.mark.parametrize("name", ["nobody", "partner.user@partner.example"])
def test_the_command_user_must_be_active_staff(manager, partner_user, name):
    with pytest.raises(CommandError, match="No active staff user"):
        call_command("import_data", "partners", str(FIXTURES / "partners.csv"), "--user", name)
    assert not ImportRun.objects.exists() and not Partner.objects.exists()


# --- Simple revenue files on PostgreSQL: COPY into staging and one merge ---------------------


def _revenue_state() -> list[tuple]:
    return sorted(
        RevenueRecord.objects.values_list(
            "location__location_id", "reference", "revenue_date", "amount", "currency_id",
            "customer", "source",
        )
    )  # fmt: skip


def _history_state() -> list[tuple]:
    return sorted(
        RevenueRecord.history.values_list(
            "reference", "amount", "customer", "history_type", "history_user",
            "history_change_reason",
        )
    )  # fmt: skip


def test_simple_revenue_set_based_and_portable_paths_agree(
    require_postgres, manager, tmp_path, monkeypatch
):
    import_all()
    changes = write_csv(
        tmp_path,
        "location_id,date,amount,currency,reference,customer\n"
        '2000011,2024-01-15,1300.00,EUR,INV-2024-0001,"Adatum, Berlin"\n'
        "2000011,2024-02-15,-200.00,EUR,CRN-2024-0001,Adatum\n"
        "2000012,2024-05-01,50.123456,USD,INV-2024-0099,\n"
        '2000012,2024-05-02,7,USD,"TAB\tBACK\\SLASH","line\nbreak"\n',
    )
    results = {}
    for set_based in (True, False):
        RevenueRecord.objects.all().delete()
        RevenueRecord.history.all().delete()  # (the deletes are history too)
        monkeypatch.setattr(imports.RevenueSpec, "set_based", set_based)
        first = import_file(kind="revenue", source=FIXTURES / "revenue.csv", user=manager)
        dry = import_file(kind="revenue", source=changes, dry_run=True)
        report = import_file(kind="revenue", source=changes, user=manager)
        again = import_file(kind="revenue", source=changes, user=manager)
        counts = [(r.created, r.updated, r.unchanged) for r in (first, dry, report, again)]
        results[set_based] = (counts, _revenue_state(), _history_state())

    assert results[True] == results[False]
    counts, state, history = results[True]
    assert counts == [(5, 0, 0), (2, 1, 1), (2, 1, 1), (0, 0, 4)]
    assert ("2000012", "TAB\tBACK\\SLASH") in {(r[0], r[1]) for r in state}
    assert [h[:4] for h in history] == [("INV-2024-0001", Decimal("1300"), "Adatum, Berlin", "~")]


# --- Size -------------------------------------------------------------------------------


def test_a_large_revenue_file_imports_with_a_bounded_number_of_queries(
    manager, tmp_path, django_assert_max_num_queries
):
    import_all()
    partner = Partner.objects.get(partner_id="1000001")
    location_ids = [str(3_000_000 + n) for n in range(40)]
    for location_id in location_ids:
        LocationFactory(location_id=location_id, partner=partner)
    lines = ["location_id;date;amount;currency;reference;customer"]
    lines += [
        f"{location_ids[n % 40]};{1 + n % 28:02d}.{1 + n % 12:02d}.2024;"
        f"{n % 5000 - 500},{n % 100:02d};EUR;INV-{n:06d};Customer {n % 300}"
        for n in range(20_000)
    ]
    path = write_csv(tmp_path, "\r\n".join(lines) + "\r\n")

    # SQLite takes 124 rows per INSERT, PostgreSQL 1,000: about 210 and 35 queries.
    with django_assert_max_num_queries(250):
        report = import_file(kind="revenue", source=path)

    assert report.ok, report.errors[:5]
    assert report.created == 20_000
    assert RevenueRecord.objects.filter(location__partner=partner).count() == 20_003
    assert RevenueRecord.objects.get(reference="INV-000501").amount == Decimal("1.01")

    with django_assert_max_num_queries(60):
        again = import_file(kind="revenue", source=path)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 20_000)


def test_nul_characters_in_revenue_text_are_errors(manager):
    """PostgreSQL cannot store them (the COPY would fail): a clean error."""
    import_all()
    data = (
        b"location_id,date,amount,currency,reference,customer\n"
        b"2000011,2024-06-01,10,EUR,NUL-1,Ada\x00tum\n"
        b"2000011,2024-06-01,10,EUR,NUL\x00-2,Adatum\n"
    )
    before = snapshot()

    report = import_file(kind="revenue", source=data)

    assert_errors(
        report,
        [(2, "customer", "contains a NUL character"), (3, "reference", "contains a NUL character")],
    )
    assert snapshot() == before


@pytest.mark.django_db
def test_an_onboarding_date_in_the_future_is_refused():
    """As on the web form: a location (or partner) cannot be onboarded after
    today - a typo such as 9999-12-31 never reaches the evaluation
    (the boundaries on every door: tests/partners/test_dates.py)."""
    from django.utils import timezone

    partner = LocationFactory().partner
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    data = (
        "location_id,partner_id,country,onboarded_on\n"
        f"7100001,{partner.partner_id},DE,9999-12-31\n"
        f"7100002,{partner.partner_id},DE,{tomorrow.isoformat()}\n"
    ).encode()
    report = import_file(kind="locations", source=data)
    assert not report.ok
    found = [(e.row, e.column, e.message) for e in report.errors]
    today = timezone.localdate().isoformat()
    assert found == [
        (
            2,
            "onboarded_on",
            f"onboarding date 9999-12-31 is in the future (latest allowed {today})",
        ),
        (
            3,
            "onboarded_on",
            f"onboarding date {tomorrow.isoformat()} is in the future (latest allowed {today})",
        ),
    ]
    assert not Location.objects.filter(location_id__in=["7100001", "7100002"]).exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: row locks")
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_lines_at_once_both_succeed(reference_data, manager):
    """Two staff import overlapping revenue at the same moment: the second
    waits for the first and finds its lines stored (unchanged), instead of
    failing on the unique key."""
    run("partners", "partners.csv")
    run("locations", "locations.csv")
    data = (FIXTURES / "revenue.csv").read_bytes()
    reports = race(2, lambda: import_file(kind="revenue", source=data))
    assert all(r.ok for r in reports), [[str(e) for e in r.errors] for r in reports]
    assert sum(r.created for r in reports) == RevenueRecord.objects.count()
    assert sum(r.created + r.unchanged for r in reports) == 2 * reports[0].rows
