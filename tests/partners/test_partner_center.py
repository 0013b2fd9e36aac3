"""Partner Center reconciliation imports (PRODUCT section 7):
``import_data revenue --format partner-center`` and ``partners.partner_center``."""

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partners import partner_center
from partners.imports import ImportReport, import_file
from partners.models import RevenueRecord, RevenueSource
from tests.factories import LocationFactory, StaffUserFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "partner_center"
RESELLERS = ("4711001", "4711002", "4711003")

pytestmark = pytest.mark.django_db


@pytest.fixture
def locations():
    return {mpn: LocationFactory(location_id=mpn) for mpn in RESELLERS}


def run(name: str, **kwargs) -> ImportReport:
    return import_file(
        kind="revenue", source=FIXTURES / name, file_format="partner-center", **kwargs
    )


def stored() -> list[tuple]:
    return sorted(
        RevenueRecord.objects.values_list(
            "location__location_id",
            "revenue_date",
            "amount",
            "currency_id",
            "customer",
            "reference",
        )
    )


def read_rows(name: str) -> tuple[list[str], list[list[str]]]:
    with (FIXTURES / name).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path = tmp_path / "reconciliation.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


# --- parsing helpers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T00:00:00", datetime.date(2024, 3, 1)),
        ("2024-03-01T23:59:59Z", datetime.date(2024, 3, 1)),
        ("2024-03-01T00:00:00.0000000+00:00", datetime.date(2024, 3, 1)),
        ("2024-03-01", datetime.date(2024, 3, 1)),
        ("3/1/2024 12:00:00 AM", datetime.date(2024, 3, 1)),
        ("12/31/2024 11:59:59 PM", datetime.date(2024, 12, 31)),
        ("3/1/2024", datetime.date(2024, 3, 1)),
        ("31/3/2024", None),
        ("2024-02-30T00:00:00", None),
        ("2024-03-01Tnoon", None),
        ("yesterday", None),
    ],
)
def test_charge_dates(value, expected):
    assert partner_center.parse_charge_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("840.00", Decimal("840.00")),
        ("-146.322581", Decimal("-146.322581")),
        ("8.0645161290322", Decimal("8.064516")),  # rounded half-even to six places
        ("1,234.5", Decimal("1234.5")),
        ("1e3", None),
        ("NaN", None),
        ("12.3.4", None),
        ("99999999999999", Decimal("99999999999999")),
        ("100000000000000", None),  # beyond the 20,6 column
    ],
)
def test_amounts(value, expected):
    assert partner_center.parse_amount(value) == expected


# --- realistic files -----------------------------------------------------------------


def test_new_commerce_file_imports(locations):
    report = run("new-commerce.csv")

    assert report.ok, [str(e) for e in report.errors]
    assert (report.layout, report.rows, report.created, report.updated) == (
        "new-commerce",
        9,
        9,
        0,
    )
    assert "PartnerName" in report.ignored_columns  # unknown extra column
    assert report.totals == {
        "CHF": "1251.20",
        "EUR": "749.677419",
        "GBP": "221.60",
        "USD": "1933.00",
    }
    assert report.by_location["4711002"] == {
        "rows": 3,
        "totals": {"CHF": "1251.20", "GBP": "221.60"},
    }
    records = RevenueRecord.objects.filter(source=RevenueSource.IMPORT)
    assert records.count() == 9
    credit = records.get(amount__lt=0, currency_id="EUR")
    # pre-tax Subtotal, dated by ChargeStartDate ("3/5/2024 12:00:00 AM")
    assert (credit.amount, credit.revenue_date, credit.customer) == (
        Decimal("-146.322581"),
        datetime.date(2024, 3, 5),
        "Adatum Corporation",
    )
    assert credit.location == locations["4711001"]
    assert credit.reference.startswith("G012345678/8f1c2a3b4c5e/")
    # the file repeats one line: both are kept, the second numbered
    repeated = sorted(
        records.filter(reference__startswith="G012345680/3d4e5f6a7b8c/").values_list(
            "reference", flat=True
        )
    )
    assert len(repeated) == 2
    assert repeated[1] == repeated[0] + "#2"


def test_legacy_file_imports(locations):
    report = run("legacy.csv")

    assert report.ok, [str(e) for e in report.errors]
    assert (report.layout, report.created) == ("legacy", 4)
    cancel = RevenueRecord.objects.get(amount=Decimal("-54.84"))
    assert cancel.revenue_date == datetime.date(2024, 1, 15)
    assert cancel.location == locations["4711001"]


def test_legacy_tier2_column_is_the_reseller(locations, tmp_path):
    header, rows = read_rows("legacy.csv")
    header = ["Tier2MpnId" if name == "ResellerMpnId" else name for name in header]
    report = import_file(
        kind="revenue", source=write(tmp_path, header, rows), file_format="partner-center"
    )
    assert report.ok and report.created == 4


def test_reimport_changes_nothing_and_corrections_update(locations, tmp_path):
    assert run("new-commerce.csv").created == 9
    before = stored()
    history = RevenueRecord.history.count()

    again = run("new-commerce.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 9)
    assert stored() == before
    assert RevenueRecord.history.count() == history

    # A later export corrects one amount: that record is updated, with history.
    header, rows = read_rows("new-commerce.csv")
    rows[0][header.index("Subtotal")] = "845.00"
    report = import_file(
        kind="revenue", source=write(tmp_path, header, rows), file_format="partner-center"
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 8)
    assert RevenueRecord.objects.filter(amount=Decimal("845")).count() == 1
    assert RevenueRecord.history.count() == history + 1
    assert RevenueRecord.history.latest("history_date").history_type == "~"


def test_reference_is_stable_across_date_formats_and_column_order(locations, tmp_path):
    run("new-commerce.csv")
    before = stored()
    header, rows = read_rows("new-commerce.csv")
    start = header.index("ChargeStartDate")
    for row in rows:  # the same dates, written the US way
        day = partner_center.parse_charge_date(row[start])
        row[start] = f"{day.month}/{day.day}/{day.year} 12:00:00 AM"
    order = list(reversed(range(len(header))))
    report = import_file(
        kind="revenue",
        source=write(tmp_path, [header[i] for i in order], [[r[i] for i in order] for r in rows]),
        file_format="partner-center",
    )
    assert (report.created, report.updated, report.unchanged) == (0, 0, 9)
    assert stored() == before


def test_dry_run_writes_nothing(locations):
    report = run("new-commerce.csv", dry_run=True)
    assert (report.ok, report.created) == (True, 9)
    assert not RevenueRecord.objects.exists()


# --- broken files --------------------------------------------------------------------


def test_broken_file_reports_every_error_and_writes_nothing(locations):
    report = run("new-commerce-bad.csv")

    got = [(e.row, e.column) for e in report.errors]
    assert got == [
        (2, "Subtotal"),
        (3, "ChargeStartDate"),
        (4, "Currency"),
        (5, "ResellerMpnId"),
        (6, "ResellerMpnId"),
        (6, "InvoiceNumber"),
    ], [str(e) for e in report.errors]
    messages = [e.message for e in report.errors]
    assert "'84O.00' is not a number" in messages[0]
    assert "'31/3/2024' is not a date" in messages[1]
    assert "unknown currency 'XYZ'" in messages[2]
    assert "reseller 9999999 is not a location" in messages[3]
    assert "Tailspin Toys AG" in messages[3] and "1,280.00 CHF" in messages[3]
    assert "is not a Microsoft partner id" in messages[4]
    assert not RevenueRecord.objects.exists()


def test_missing_columns_are_named(locations):
    report = run("new-commerce-missing-columns.csv")
    assert len(report.errors) == 1
    assert report.errors[0].row == 1
    assert "ResellerMpnId, Subtotal" in report.errors[0].message


def test_simple_revenue_file_is_refused_with_a_hint(locations):
    report = import_file(
        kind="revenue",
        source=b"location_id,date,amount,currency,reference,customer\n4711001,2024-01-01,1,EUR,a,\n",
        file_format="partner-center",
    )
    assert "simple revenue format" in report.errors[0].message


def test_unknown_resellers_reject_the_file(locations):
    report = run("new-commerce-unknown.csv")

    assert [(e.row, e.column) for e in report.errors] == [
        (3, "ResellerMpnId"),
        (5, "ResellerMpnId"),
    ]
    assert report.unknown_resellers[0]["mpn_id"] == ""
    unknown = report.unknown_resellers[1]
    assert unknown["mpn_id"] == "5550001"
    assert unknown["rows"] == 2
    assert unknown["customers"] == ["Adatum Corporation", "Müller & Söhne GmbH"]
    assert unknown["totals"] == {"EUR": str(Decimal("-146.322581") + Decimal("56.000000"))}
    assert not RevenueRecord.objects.exists()


def test_skip_unknown_imports_the_rest_and_lists_them(locations):
    report = run("new-commerce-unknown.csv", skip_unknown=True)

    assert report.ok
    assert (report.created, report.skipped) == (1, 3)
    assert [u["mpn_id"] for u in report.unknown_resellers] == ["", "5550001"]
    assert RevenueRecord.objects.get().location == locations["4711001"]


# --- the command ---------------------------------------------------------------------


def test_command_imports_and_reports(locations):
    out = io.StringIO()
    call_command(
        "import_data",
        "revenue",
        str(FIXTURES / "new-commerce.csv"),
        "--format",
        "partner-center",
        stdout=out,
    )
    text = out.getvalue()
    assert "Partner Center new-commerce" in text
    assert "created:" in text and "9" in text
    assert RevenueRecord.objects.count() == 9


def test_command_rejects_with_every_error(locations):
    err = io.StringIO()
    with pytest.raises(CommandError, match="6 errors in 5 rows"):
        call_command(
            "import_data",
            "revenue",
            str(FIXTURES / "new-commerce-bad.csv"),
            "--format",
            "partner-center",
            stderr=err,
        )
    assert "row 2, column Subtotal" in err.getvalue()


def test_command_skip_unknown(locations):
    out = io.StringIO()
    call_command(
        "import_data",
        "revenue",
        str(FIXTURES / "new-commerce-unknown.csv"),
        "--format",
        "partner-center",
        "--skip-unknown",
        "--dry-run",
        stdout=out,
    )
    assert "skipped reseller 5550001: 2 rows" in out.getvalue()
    assert not RevenueRecord.objects.exists()


def test_skip_unknown_is_for_partner_center_only(locations):
    with pytest.raises(CommandError, match="partner-center files only"):
        call_command(
            "import_data",
            "revenue",
            str(FIXTURES / "new-commerce.csv"),
            "--skip-unknown",
        )


# --- streaming -----------------------------------------------------------------------


def test_file_is_read_in_chunks(locations, monkeypatch):
    """With a chunk of 2 lines the sink receives the good lines piece by
    piece, and the result is the same."""
    monkeypatch.setattr(partner_center, "CHUNK_LINES", 2)
    sizes = []
    original = partner_center.ListSink.add
    monkeypatch.setattr(
        partner_center.ListSink,
        "add",
        lambda self, lines: (sizes.append(len(lines)), original(self, lines))[1],
    )
    monkeypatch.setattr(partner_center, "make_sink", partner_center.ListSink)
    report = run("new-commerce.csv")
    assert report.created == 9
    assert max(sizes) <= 2 and sum(sizes) == 9


def test_progress_is_reported(locations):
    seen = []
    run("new-commerce.csv", progress=seen.append)
    assert seen and seen[-1] == 1.0


# --- PostgreSQL: COPY into staging and one set-based merge ---------------------------


def test_postgres_copy_path(require_postgres, locations, tmp_path):
    assert isinstance(partner_center.make_sink(), partner_center.PostgresSink)
    user = StaffUserFactory()
    report = run("new-commerce.csv", user=user)
    assert report.created == 9
    header, rows = read_rows("new-commerce.csv")
    rows[1][header.index("CustomerName")] = "Adatum Corp."
    report = import_file(
        kind="revenue",
        source=write(tmp_path, header, rows),
        file_format="partner-center",
        user=user,
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 8)
    change = RevenueRecord.history.get(history_type="~")
    assert (change.customer, change.history_user) == ("Adatum Corp.", user)
    with connection.cursor() as cursor:  # the staging table is gone
        cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.{partner_center.STAGING}"])
        assert cursor.fetchone()[0] is None


def test_postgres_and_portable_path_agree(require_postgres, locations, monkeypatch):
    run("new-commerce.csv")
    via_copy = stored()
    RevenueRecord.objects.all().delete()
    monkeypatch.setattr(partner_center, "make_sink", partner_center.ListSink)
    run("new-commerce.csv")
    assert stored() == via_copy


# --- garbage in: a clean report or a correct import, never an exception --------------

HEADER_NAMES = [
    "ResellerMpnId",
    "CustomerName",
    "InvoiceNumber",
    "OrderId",
    "SubscriptionId",
    "ChargeType",
    "ChargeStartDate",
    "ChargeEndDate",
    "Subtotal",
    "Currency",
    "SkuId",
    "Tier2MpnId",
    "OfferId",
    "location_id",
    "x",
    "",
]
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["4711001", "9999", "", "EUR", "usd", "1.5", "-2", "3/1/2024", "1e5"]),
    st.sampled_from(["2024-03-01T00:00:00", "12/31/2024 12:00:00 AM", "INV-1", '"', "\n"]),
)


def _csv(header: list[str], rows: list[list[str]], delimiter: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows([header, *rows])
    return buffer.getvalue().encode("utf-8")


@st.composite
def random_csv(draw) -> bytes:
    header = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=0, max_size=12))
    width = draw(st.integers(min_value=0, max_value=14))
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=width), max_size=6))
    return _csv(header, rows, draw(st.sampled_from([",", ";"])))


def _check_outcome(data: bytes, before: int) -> None:
    report = import_file(
        kind="revenue", source=data, file_format="partner-center", skip_unknown=True
    )
    assert isinstance(report, ImportReport)
    if report.errors:
        assert RevenueRecord.objects.count() == before
        for error in report.errors:
            assert isinstance(error.row, int) and error.message
    else:
        assert RevenueRecord.objects.count() == before + report.created


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300), random_csv()))
def test_garbage_never_raises(data):
    with transaction.atomic():
        LocationFactory(location_id="4711001")
        _check_outcome(data, RevenueRecord.objects.count())
        transaction.set_rollback(True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "ResellerMpnId": st.sampled_from(["4711001", "4711002", "", "12x"]),
                "Subtotal": st.one_of(
                    st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False).map(
                        str
                    ),
                    st.text(max_size=5),
                ),
                "ChargeStartDate": st.one_of(
                    st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)).map(
                        lambda d: d.isoformat() + "T00:00:00"
                    ),
                    st.text(max_size=8),
                ),
                "Currency": st.sampled_from(["EUR", "USD", "CHF", "XXX", ""]),
                "InvoiceNumber": st.sampled_from(["G1", "G2", "", "G" * 70]),
                "OrderId": st.sampled_from(["o1", "o2", ""]),
                "SubscriptionId": st.sampled_from(["s1", "s2"]),
                "ChargeType": st.sampled_from(["new", "cycleCharge"]),
                "CustomerName": st.one_of(st.text(max_size=10), st.just("nul\x00byte")),
            }
        ),
        max_size=8,
    )
)
def test_plausible_files_import_or_report(rows):
    """Nearly right files: either every good line is stored with the right
    values, or the report names the problems and nothing is written."""
    with transaction.atomic():
        LocationFactory(location_id="4711001")
        _check_plausible(rows)
        transaction.set_rollback(True)


def _check_plausible(rows: list[dict[str, str]]) -> None:
    header = [*rows[0].keys(), "SkuId"] if rows else ["ResellerMpnId", "SkuId"]
    data = _csv(header, [[*row.values(), "0001"] for row in rows], ",")
    before = RevenueRecord.objects.count()
    report = import_file(
        kind="revenue", source=data, file_format="partner-center", skip_unknown=True
    )
    if report.errors:
        assert RevenueRecord.objects.count() == before
        return
    imported = [r for r in rows if r["ResellerMpnId"] == "4711001"]
    assert report.created + report.updated + report.unchanged == len(imported)
    total = sum((Decimal(r["Subtotal"]) for r in imported), Decimal(0))
    stored_total = sum(
        RevenueRecord.objects.filter(location__location_id="4711001").values_list(
            "amount", flat=True
        ),
        Decimal(0),
    )
    assert before == 0 and report.created == len(imported)
    assert stored_total == total
