"""Partner Center reconciliation imports (PRODUCT section 7):
``import_data revenue --format partner-center`` and ``ingestion.partner_center``."""

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.imports import generate
from ingestion import partner_center
from ingestion.imports import ImportReport, import_file
from partners import revenue
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
    monkeypatch.setattr(partner_center.scanner, "CHUNK_LINES", 2)
    sizes = []
    original = partner_center.ListSink.add
    monkeypatch.setattr(
        partner_center.ListSink,
        "add",
        lambda self, lines: (sizes.append(len(lines)), original(self, lines))[1],
    )
    monkeypatch.setattr(partner_center.service, "make_sink", partner_center.ListSink)
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
        cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.{revenue.STAGING}"])
        assert cursor.fetchone()[0] is None


def test_postgres_and_portable_path_agree(require_postgres, locations, monkeypatch):
    run("new-commerce.csv")
    via_copy = stored()
    RevenueRecord.objects.all().delete()
    monkeypatch.setattr(partner_center.service, "make_sink", partner_center.ListSink)
    run("new-commerce.csv")
    assert stored() == via_copy


def _history() -> list[tuple]:
    return sorted(
        RevenueRecord.history.values_list(
            "reference", "amount", "customer", "history_type", "history_user",
            "history_change_reason",
        )
    )  # fmt: skip


@pytest.mark.parametrize("semicolon", [False, True])
def test_postgres_and_portable_path_agree_on_a_generated_file(
    require_postgres, locations, tmp_path, monkeypatch, semicolon
):
    """New, repeated, unknown, corrected and unchanged lines; special
    characters that the COPY stream escapes. Both paths, the same records,
    counts, history and report."""
    user = StaffUserFactory()
    path = _generated(tmp_path, semicolon=semicolon)
    header, rows = read_rows_from(path, ";" if semicolon else ",")
    subtotal = header.index("Subtotal")
    rows[30][subtotal] = "999" if not semicolon else "999,00"
    rows[31][header.index("CustomerName")] = "Renamed\tCustomer"
    corrected = tmp_path / "corrected.csv"
    with corrected.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";" if semicolon else ",").writerows([header, *rows])

    def go():
        def one(source, **kwargs):
            report = import_file(kind="revenue", source=source, file_format="partner-center",
                                 skip_unknown=True, user=user, **kwargs)  # fmt: skip
            assert report.ok, report.errors[:3]
            return (report.created, report.updated, report.unchanged, report.skipped,
                    report.totals, report.by_location, report.unknown_resellers)  # fmt: skip

        reports = [one(path), one(corrected, dry_run=True), one(corrected), one(corrected)]
        return reports, stored(), _history()

    via_copy = go()
    RevenueRecord.objects.all().delete()
    RevenueRecord.history.all().delete()
    monkeypatch.setattr(partner_center.service, "make_sink", partner_center.ListSink)
    assert go() == via_copy
    counts = [report[:4] for report in via_copy[0]]
    created = counts[0][0]
    assert counts[1:] == [(0, 2, created - 2, counts[0][3])] * 2 + [(0, 0, created, counts[0][3])]
    assert {"Renamed\tCustomer", 'Tab\there, "quoted", back\\slash', "two\nlines\r\nand more"} <= {
        row[4] for row in via_copy[1]
    }


def test_postgres_copy_pauses_for_progress(require_postgres, locations, tmp_path, monkeypatch):
    """Progress is saved between two COPYs (no query can run during one);
    the result is the same as one COPY."""
    path = _generated(tmp_path)
    run_path = lambda **kw: import_file(  # noqa: E731
        kind="revenue", source=path, file_format="partner-center", skip_unknown=True, **kw
    )
    monkeypatch.setattr(partner_center.scanner, "CHUNK_LINES", 20)
    copies = []
    original = revenue.copy_from  # (the staging table of the one revenue upsert)
    monkeypatch.setattr(
        revenue,
        "copy_from",
        lambda sql, data: (copies.append(sql), original(sql, data))[1],
    )
    seen = []
    report = run_path(progress=seen.append, dry_run=True)
    paused = len(copies)
    assert paused >= partner_center.PROGRESS_STEPS // 2
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == paused
    copies.clear()
    once = run_path(dry_run=True)
    assert len(copies) == 1
    assert (report.created, report.totals) == (once.created, once.totals)


def _generated(tmp_path: Path, rows: int = 400, *, semicolon: bool = False) -> Path:
    """A realistic file (the benchmark's generator) for the three resellers and
    an unknown one, with the awkward cases the fast path must hand over:
    repeated lines, special characters, long decimals, spaces, odd dates."""
    path = tmp_path / "generated.csv"
    generate(path, rows=rows, resellers=[*RESELLERS, "5550001"], seed=7)
    header, body = read_rows_from(path)
    col = {name: header.index(name) for name in header}
    for row in body[3:12]:
        row[col["ResellerMpnId"]] = "4711002"
    body[3][col["CustomerName"]] = 'Tab\there, "quoted", back\\slash'
    body[4][col["CustomerName"]] = "two\nlines\r\nand more"
    body[5][col["Subtotal"]] = "12.3456789"  # rounded half-even to six places
    body[6][col["InvoiceNumber"]] = " " + body[6][col["InvoiceNumber"]] + " "
    body[7][col["ChargeStartDate"]] = " 2024-02-29 "
    body[8][col["Currency"]] = "eur"
    body[9][col["ResellerMpnId"]] = " 4711001"
    body[10][col["Subtotal"]] = "1,234.5"
    body[11][col["ChargeEndDate"]] = "12/31/2024 11:59:59 PM"
    body += [list(body[20]), list(body[21]), list(body[20])]  # repeated lines
    if semicolon:
        for row in body:
            row[col["Subtotal"]] = row[col["Subtotal"]].replace(",", "").replace(".", ",")
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";" if semicolon else ",").writerows([header, *body])
    return path


def read_rows_from(path: Path, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))
    return rows[0], rows[1:]


class _SlowScanner(partner_center.Scanner):
    """Every line through the careful path: the reference for the fast one."""

    def _chunk(self, chunk, columns, dialect):
        self._resolve(chunk, columns.positions["ResellerMpnId"])
        good = []
        for line, cells in chunk:
            self._slow(line, cells, columns, dialect, good.append)
        self.report.rows += len(chunk)
        return good if not self.errors else []


def _scan(scanner_class, path: Path) -> tuple[list, ImportReport]:
    report = ImportReport(kind="revenue")
    sink = partner_center.ListSink()
    scanner = scanner_class(report=report, sink=sink, skip_unknown=True, chunk_lines=50)
    with path.open("rb") as stream:
        scanner.run(stream)
    return sink.lines, report


@pytest.mark.parametrize("semicolon", [False, True])
def test_fast_and_careful_paths_read_the_same(locations, tmp_path, semicolon):
    path = _generated(tmp_path, semicolon=semicolon)
    fast, fast_report = _scan(partner_center.Scanner, path)
    slow, slow_report = _scan(_SlowScanner, path)

    assert fast == slow
    assert fast_report == slow_report and fast_report.ok
    assert fast_report.unknown_resellers[0]["mpn_id"] == "5550001"
    amounts = {line[3] for line in fast}
    assert {"12.345679", "1234.5"} <= amounts
    assert len({line[5] for line in fast}) == len(fast) - 1  # the repeat of a repeat


def test_spaces_around_the_invoice_do_not_change_the_reference(locations, tmp_path):
    run("new-commerce.csv")
    before = stored()
    header, rows = read_rows("new-commerce.csv")
    for row in rows:
        row[header.index("InvoiceNumber")] = f" {row[header.index('InvoiceNumber')]} "
    report = import_file(
        kind="revenue", source=write(tmp_path, header, rows), file_format="partner-center"
    )
    assert (report.created, report.updated, report.unchanged) == (0, 0, 9)
    assert stored() == before


def test_semicolon_files_with_decimal_commas_import_the_same_records(locations, tmp_path):
    header, rows = read_rows("new-commerce.csv")
    amount = header.index("Subtotal")
    for row in rows:
        row[amount] = row[amount].replace(".", ",")
    path = tmp_path / "semikolon.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows([header, *rows])
    report = import_file(kind="revenue", source=path, file_format="partner-center")
    assert report.ok and report.created == 9
    via_semicolon = stored()
    RevenueRecord.objects.all().delete()
    run("new-commerce.csv")
    assert stored() == via_semicolon


def test_a_refused_write_is_a_clean_report(locations, monkeypatch):
    def fail(self, report, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(partner_center.PostgresSink, "write", fail)
    monkeypatch.setattr(partner_center.ListSink, "write", fail)
    report = run("new-commerce.csv")
    assert [(e.row, e.message[:40]) for e in report.errors] == [
        (0, "the database refused the import, nothing")
    ]
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert not RevenueRecord.objects.exists()


def test_a_bad_byte_late_in_the_file_rejects_it(locations, tmp_path, monkeypatch):
    """The error is raised while the COPY is open (PostgreSQL): it ends the
    COPY, the file is rejected, nothing is written."""
    monkeypatch.setattr(partner_center.scanner, "CHUNK_LINES", 5)
    path = _generated(tmp_path, rows=60)
    path.write_bytes(path.read_bytes() + b"x,M\xfcller\n")
    report = import_file(kind="revenue", source=path, file_format="partner-center")
    (error,) = report.errors
    assert error.message.startswith("the file is not UTF-8 text (first bad byte on or near")
    assert 2 < error.row <= 67  # (the decoder reads ahead)
    assert not RevenueRecord.objects.exists()


# --- reading lines: the fast split is what the csv module reads ---------------------

TEXT = st.text(
    alphabet=st.sampled_from(["a", "1", " ", ",", ";", '"', "\n", "\r", "\x00", "é", "\t"]),
    max_size=80,
)


def _csv_records(text: str, delimiter: str) -> list[tuple[int, int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    result, start = [], 1
    for cells in reader:
        result.append((start, reader.line_num, cells))
        start = reader.line_num + 1
    return result


@settings(max_examples=300, deadline=None)
@given(text=TEXT, delimiter=st.sampled_from([",", ";"]))
def test_records_are_what_the_csv_module_reads(text, delimiter):
    try:
        expected = _csv_records(text, delimiter)
    except csv.Error:
        with pytest.raises(csv.Error):
            list(partner_center.records(io.StringIO(text, newline=""), delimiter))
        return
    assert list(partner_center.records(io.StringIO(text, newline=""), delimiter)) == expected


def test_records_count_the_lines_of_quoted_values():
    text = 'a,b\n"multi\nline",x\r\n\nplain,"q"\n'
    assert list(partner_center.records(io.StringIO(text, newline=""), ",", first_line=2)) == [
        (2, 2, ["a", "b"]),
        (3, 4, ["multi\nline", "x"]),
        (5, 5, []),
        (6, 6, ["plain", "q"]),
    ]


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
