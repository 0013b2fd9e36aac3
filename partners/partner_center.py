"""Partner Center reconciliation files -> revenue records (PRODUCT section 7).

Two layouts are recognised from the header (names in any case, in any order,
unknown extra columns ignored):

- **new-commerce**: the new-commerce invoice reconciliation file (``PartnerId,
  CustomerId, CustomerName, ..., InvoiceNumber, MpnId, ResellerMpnId,
  OrderId, ..., ProductId, SkuId, AvailabilityId, ..., ChargeType, ...,
  Subtotal, TaxTotal, Total, Currency, ..., ChargeStartDate, ChargeEndDate,
  ...``); recognised by any of its own columns (``AvailabilityId``, ``SkuId``,
  ``EffectiveUnitPrice``, ``PCToBCExchangeRate``, ...);
- **legacy**: the license-based file (``ResellerMpnId`` or ``Tier2MpnId``,
  ``InvoiceNumber``, ``OrderId``, ``SubscriptionId``, ``ChargeStartDate``,
  ``Subtotal``, ``Currency``, ...).

One line becomes one :class:`~partners.models.RevenueRecord`: the amount is
the pre-tax ``Subtotal`` (credits are negative; more than six decimal places
are rounded half-even to six), the date is the date part of
``ChargeStartDate`` (``2024-03-01T00:00:00``, ``3/1/2024 12:00:00 AM``,
``2024-03-01``...), the location is the one whose ``location_id`` is
``ResellerMpnId``, the currency is ``Currency``, the customer is
``CustomerName`` (cut to 200 characters), the source is ``import``.

**Reference** (unique per location and source, so a re-import is a no-op)::

    <InvoiceNumber>/<OrderId>/<16 hex digits>[#<n>]

The hex digits are the start of the SHA-256 of the *line identity*: the
lower-cased values of :attr:`Layout.identity` (invoice, order, subscription,
product/SKU/availability or offer, charge type, charge period as ISO dates,
billing term, meter, reference and promotion ids, reseller, customer...),
joined by U+001F. Amount and quantity are not part of it, so a corrected
amount in a later export updates the record instead of adding one. Lines
sharing the whole identity are numbered in file order: the second gets
``#2``, the third ``#3``... (the first keeps no suffix, so appending a line
never renames an earlier one).

**Unknown resellers** (a ``ResellerMpnId`` that is no location, or empty: a
line the distributor sold without a reseller) are reported once per id with
their rows, customers and totals per currency; they reject the file unless
``skip_unknown`` is set, in which case they are skipped and listed.

The file is **streamed**: a text wrapper over the binary file feeds
``csv.reader``; lines are checked and resolved in chunks and only the good
lines of the current chunk are held. Where they go is a :class:`Sink`: on
PostgreSQL a ``COPY`` into a temporary staging table followed by one
set-based ``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE IS DISTINCT
FROM``; elsewhere a list handed to the generic bulk path of
``partners.imports``.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import IO, Any, Protocol

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from partners.imports import (
    COMMA,
    SEMICOLON,
    Dialect,
    FileRejected,
    ImportContext,
    ImportReport,
    RevenueSpec,
    Row,
    RowError,
    _chunks,
    _import_rows,
    _shown,
)
from partners.models import MONEY_DIGITS, MONEY_PLACES, Location, RevenueRecord, RevenueSource

logger = logging.getLogger(__name__)

#: Lines checked, resolved and handed to the sink at a time.
CHUNK_LINES = 20_000
#: Rows, customers and totals kept per unknown reseller for the report.
UNKNOWN_LINES_SHOWN = 5
UNKNOWN_CUSTOMERS_SHOWN = 10
CUSTOMER_MAX = 200
INVOICE_MAX = 60
ORDER_MAX = 80
_MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_MONEY_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)

Progress = Callable[[float], None]


# --- Layouts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    name: str
    label: str
    #: Columns that must be in the header (canonical spelling).
    required: tuple[str, ...]
    #: Columns whose values identify a line (absent columns count as empty).
    identity: tuple[str, ...]
    #: Other spellings of a column in this layout -> canonical name.
    aliases: dict[str, str] = field(default_factory=dict)
    #: Any of these columns in the header selects this layout.
    markers: frozenset[str] = frozenset()


NEW_COMMERCE = Layout(
    name="new-commerce",
    label="Partner Center new-commerce invoice reconciliation",
    required=(
        "ResellerMpnId",
        "CustomerName",
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "ChargeType",
        "ChargeStartDate",
        "Subtotal",
        "Currency",
    ),
    identity=(
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "LineItemId",
        "ResellerMpnId",
        "CustomerId",
        "ProductId",
        "SkuId",
        "AvailabilityId",
        "ChargeType",
        "ChargeStartDate",
        "ChargeEndDate",
        "TermAndBillingCycle",
        "BillingFrequency",
        "MeterDescription",
        "ReservationOrderId",
        "ReferenceId",
        "PriceAdjustmentDescription",
        "PromotionId",
        "CreditReasonCode",
    ),
    markers=frozenset(
        name.lower()
        for name in (
            "AvailabilityId",
            "SkuId",
            "EffectiveUnitPrice",
            "PriceAdjustmentDescription",
            "BillableQuantity",
            "PCToBCExchangeRate",
            "TermAndBillingCycle",
            "ProductQualifiers",
        )
    ),
)

LEGACY = Layout(
    name="legacy",
    label="Partner Center license-based (legacy) reconciliation",
    required=(
        "ResellerMpnId",
        "CustomerName",
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "ChargeStartDate",
        "Subtotal",
        "Currency",
    ),
    identity=(
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "LineItemId",
        "ResellerMpnId",
        "CustomerId",
        "SyndicationPartnerSubscriptionNumber",
        "OfferId",
        "DurableOfferId",
        "ChargeType",
        "ChargeStartDate",
        "ChargeEndDate",
    ),
    aliases={"tier2mpnid": "ResellerMpnId"},
    markers=frozenset({"offerid", "durableofferid", "syndicationpartnersubscriptionnumber"}),
)

LAYOUTS = (NEW_COMMERCE, LEGACY)
_DATE_COLUMNS = frozenset({"ChargeStartDate", "ChargeEndDate"})
_SIMPLE_REVENUE = frozenset({"location_id", "date", "amount", "currency", "reference"})


@dataclass(frozen=True)
class Columns:
    """Where the columns of a layout are in one file."""

    layout: Layout
    positions: dict[str, int]
    ignored: list[str]
    width: int


def detect_layout(header: list[str]) -> Columns:
    """Choose the layout from a header row; :class:`FileRejected` naming the
    missing columns when neither fits."""
    lowered = [name.strip().lstrip("\ufeff").lower() for name in header]
    present = set(lowered)
    if not any(lowered):
        raise FileRejected([RowError(1, "", "the file is empty or has no header row")])
    if present >= _SIMPLE_REVENUE:
        raise FileRejected(
            [
                RowError(
                    1,
                    "",
                    "this is the simple revenue format (location_id,date,amount,...), not a "
                    "Partner Center reconciliation file; import it with the simple format",
                )
            ]
        )
    layout = NEW_COMMERCE if present & NEW_COMMERCE.markers else LEGACY
    canonical = {name.lower(): name for name in (*layout.required, *layout.identity)}
    canonical.update({"customername": "CustomerName", "subtotal": "Subtotal"})
    positions: dict[str, int] = {}
    repeated: list[str] = []
    ignored: list[str] = []
    for index, name in enumerate(lowered):
        target = layout.aliases.get(name) or canonical.get(name)
        if target is None:
            if name:
                ignored.append(header[index].strip())
            continue
        if target in positions:
            repeated.append(header[index].strip())
            continue
        positions[target] = index
    errors = []
    missing = [name for name in layout.required if name not in positions]
    if missing:
        errors.append(
            RowError(1, "", f"missing columns for the {layout.label} file: {', '.join(missing)}")
        )
    if repeated:
        errors.append(RowError(1, "", f"repeated columns: {', '.join(repeated)}"))
    if errors:
        raise FileRejected(errors)
    return Columns(layout=layout, positions=positions, ignored=ignored, width=len(header))


# --- Cells -------------------------------------------------------------------------

_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATETIME = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)?"
)
_GERMAN_DATETIME = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?")
_POINT_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d*)?|[+-]?\.\d+")
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+)(?:,\d*)?|[+-]?,\d+")
_MPN = re.compile(r"[0-9]{1,20}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_charge_date(value: str, *, german: bool = False) -> datetime.date | None:
    """The date part of a Partner Center date or date-time, else None."""
    if match := _ISO_DATETIME.fullmatch(value):
        year, month, day = match.groups()
    elif match := _US_DATETIME.fullmatch(value):
        month, day, year = match.groups()
    elif german and (match := _GERMAN_DATETIME.fullmatch(value)):
        day, month, year = match.groups()
    else:
        return None
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_amount(value: str, *, decimal_comma: bool = False) -> Decimal | None:
    """A Partner Center amount rounded to six places, else None."""
    if decimal_comma:
        if not _COMMA_NUMBER.fullmatch(value):
            return None
        value = value.replace(".", "").replace(",", ".")
    else:
        if not _POINT_NUMBER.fullmatch(value):
            return None
        value = value.replace(",", "")
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
        return None
    if abs(number) >= _MONEY_LIMIT:
        return None
    if number.as_tuple().exponent < -MONEY_PLACES:  # type: ignore[operator]
        number = number.quantize(_MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    return number


# --- Results ---------------------------------------------------------------------------


@dataclass
class UnknownReseller:
    """A ``ResellerMpnId`` that is no location ("" for lines without one)."""

    mpn_id: str
    rows: int = 0
    lines: list[int] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    more_customers: bool = False
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, line: int, customer: str, currency: str | None, amount: Decimal | None) -> None:
        self.rows += 1
        if len(self.lines) < UNKNOWN_LINES_SHOWN:
            self.lines.append(line)
        if customer and customer not in self.customers:
            if len(self.customers) < UNKNOWN_CUSTOMERS_SHOWN:
                self.customers.append(customer)
            else:
                self.more_customers = True
        if currency and amount is not None:
            self.totals[currency] += amount

    def describe(self) -> str:
        who = (
            f"reseller {self.mpn_id} is not a location in the portal"
            if self.mpn_id
            else "no reseller (ResellerMpnId is empty)"
        )
        rows = ", ".join(map(str, self.lines))
        if self.rows > len(self.lines):
            rows += f" and {self.rows - len(self.lines)} more"
        customers = ", ".join(self.customers) + (", ..." if self.more_customers else "")
        totals = ", ".join(f"{amount:,.2f} {code}" for code, amount in sorted(self.totals.items()))
        return (
            f"{who}: {self.rows} "
            f"{'row' if self.rows == 1 else 'rows'} ({rows}); customers: {customers or '-'}; "
            f"totals: {totals or '-'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "mpn_id": self.mpn_id,
            "rows": self.rows,
            "lines": self.lines,
            "customers": self.customers,
            "more_customers": self.more_customers,
            "totals": {code: str(amount) for code, amount in sorted(self.totals.items())},
        }


#: A good line, ready for the sink: (line, location pk, revenue date, amount,
#: currency, reference, customer). A plain tuple: a million of them pass by.
Line = tuple[int, int, datetime.date, Decimal, str, str, str]


class Sink(Protocol):
    def add(self, lines: list[Line]) -> None: ...

    def plan(self, report: ImportReport) -> None:
        """Number repeated references and fill created/updated/unchanged."""

    def write(self, report: ImportReport, *, user: AbstractBaseUser | None, reason: str) -> None:
        """Write (in the caller's transaction); fills created/updated/unchanged."""

    def close(self) -> None: ...


# --- Reading -----------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read (for the progress bar)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        if not data:
            return 0
        if isinstance(data, str):
            raise TypeError("open the file in binary mode")
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


@dataclass
class Scanner:
    """Reads, checks and resolves a file chunk by chunk, feeding a sink."""

    report: ImportReport
    sink: Sink
    skip_unknown: bool = False
    progress: Progress | None = None
    total_bytes: int | None = None
    chunk_lines: int | None = None  # default CHUNK_LINES

    def __post_init__(self) -> None:
        self.currencies = ImportContext().currencies
        self.locations: dict[str, int | None] = {}
        self.unknown: dict[str, UnknownReseller] = {}
        #: (location id, currency) -> total; location id -> rows
        self.sums: dict[tuple[str, str], Decimal] = {}
        self.counts: dict[str, int] = {}
        self.errors: list[RowError] = []
        self._date_cache: dict[str, datetime.date | None] = {}

    def run(self, stream: IO[bytes]) -> None:
        counting = _CountingReader(stream)
        text = io.TextIOWrapper(
            io.BufferedReader(counting, buffer_size=1 << 16), encoding="utf-8-sig", newline=""
        )
        line_num = 0
        try:
            first = text.readline()
            if not first.strip():
                raise FileRejected([RowError(1, "", "the file is empty or has no header row")])
            dialect = SEMICOLON if first.count(";") > first.count(",") else COMMA
            self.report.dialect = dialect.label
            header = next(csv.reader([first], delimiter=dialect.delimiter), [])
            columns = detect_layout(header)
            self.report.layout = columns.layout.name
            self.report.ignored_columns = columns.ignored
            reader = csv.reader(text, delimiter=dialect.delimiter)
            chunk: list[tuple[int, list[str]]] = []
            start = 2
            for cells in reader:
                line_num = reader.line_num + 1
                if cells and any(cells):
                    chunk.append((start, cells))
                    if len(chunk) >= (self.chunk_lines or CHUNK_LINES):
                        self._chunk(chunk, columns, dialect)
                        chunk = []
                        self._progress(counting.count)
                start = line_num + 1
            if chunk:
                self._chunk(chunk, columns, dialect)
        except UnicodeDecodeError:
            raise FileRejected(
                [
                    RowError(
                        line_num + 1 if line_num else 1,
                        "",
                        "the file is not UTF-8 text (first bad byte on or near this line); "
                        'save it as "CSV UTF-8" and try again',
                    )
                ]
            ) from None
        except csv.Error as exc:
            raise FileRejected(
                [RowError(line_num + 1, "", f"this line cannot be read as CSV ({exc})")]
            ) from None
        self._progress(counting.count)
        self._finish()

    def _progress(self, done: int) -> None:
        if self.progress and self.total_bytes:
            self.progress(min(done / self.total_bytes, 1.0))

    def _chunk(
        self, chunk: list[tuple[int, list[str]]], columns: Columns, dialect: Dialect
    ) -> None:
        parsed = self._parse_chunk(chunk, columns, dialect)
        wanted = sorted({p[0] for p in parsed if p[0] not in self.locations})
        for ids in _chunks(wanted):
            found = dict(
                Location.objects.filter(location_id__in=ids).values_list("location_id", "pk")
            )
            for mpn in ids:
                self.locations[mpn] = found.get(mpn)
        locations, sums, counts = self.locations, self.sums, self.counts
        good: list[Line] = []
        for mpn, line, revenue_date, amount, currency, reference, customer in parsed:
            pk = locations.get(mpn) if mpn else None
            if pk is None:
                unknown = self.unknown.get(mpn)
                if unknown is None:
                    unknown = self.unknown[mpn] = UnknownReseller(mpn)
                unknown.add(line, customer, currency, amount)
                continue
            key = (mpn, currency)
            sums[key] = sums.get(key, 0) + amount
            counts[mpn] = counts.get(mpn, 0) + 1
            good.append((line, pk, revenue_date, amount, currency, reference, customer))
        self.report.rows += len(chunk)
        if good and not self.errors:
            self.sink.add(good)

    def _parse_chunk(
        self, chunk: list[tuple[int, list[str]]], columns: Columns, dialect: Dialect
    ) -> list[tuple]:
        """The values of the good lines of ``chunk``; errors are recorded.

        The loop is the hot path of a million-line file: plain cells are
        checked inline, anything unusual (spaces, short or long rows, bad
        values) goes through :meth:`_parse`, which also names the errors.
        """
        positions, width = columns.positions, columns.width
        i_mpn, i_start = positions["ResellerMpnId"], positions["ChargeStartDate"]
        i_amount, i_currency = positions["Subtotal"], positions["Currency"]
        i_invoice, i_order = positions["InvoiceNumber"], positions["OrderId"]
        i_customer = positions["CustomerName"]
        identity = [positions.get(name, -1) for name in columns.layout.identity]
        if any(index < 0 for index in identity):
            width += 1  # absent identity columns read an empty cell appended below
        dates = [n for n, name in enumerate(columns.layout.identity) if name in _DATE_COLUMNS]
        date_cache, parse_date_cached = self._date_cache, self._date
        currencies = self.currencies
        number = (_COMMA_NUMBER if dialect.decimal_comma else _POINT_NUMBER).fullmatch
        point = not dialect.decimal_comma
        sha256 = hashlib.sha256
        padded = width != columns.width
        result = []
        append = result.append
        for line, cells in chunk:
            if len(cells) != columns.width:
                item = self._parse(line, cells, columns, dialect)
                if item is not None:
                    append(item)
                continue
            if padded:
                cells.append("")
            mpn = cells[i_mpn]
            raw_amount = cells[i_amount]
            revenue_date = date_cache.get(cells[i_start])
            invoice, order = cells[i_invoice], cells[i_order]
            if (
                (mpn and not (mpn.isascii() and mpn.isdigit() and len(mpn) <= 20))
                or revenue_date is None
                or cells[i_currency] not in currencies
                or not invoice
                or len(invoice) > INVOICE_MAX
                or len(order) > ORDER_MAX
                or "\x00" in invoice
                or "\x00" in order
                or "\x00" in cells[i_customer]
                or not point
                or not number(raw_amount)
                or "," in raw_amount
            ):
                item = self._parse(line, cells, columns, dialect)
                if item is not None:
                    append(item)
                continue
            amount = Decimal(raw_amount)
            if (dot := raw_amount.find(".")) >= 0 and len(raw_amount) - dot > MONEY_PLACES + 1:
                amount = amount.quantize(_MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
            if abs(amount) >= _MONEY_LIMIT:
                item = self._parse(line, cells, columns, dialect)
                if item is not None:
                    append(item)
                continue
            parts = [cells[index].strip() for index in identity]
            for n in dates:
                if value := parts[n]:
                    day = date_cache.get(value) or parse_date_cached(value, dialect)
                    if day is not None:
                        parts[n] = day.isoformat()
            digest = sha256("\x1f".join(parts).lower().encode()).hexdigest()[:16]
            append(
                (
                    mpn,
                    line,
                    revenue_date,
                    amount,
                    cells[i_currency],
                    f"{invoice}/{order}/{digest}",
                    cells[i_customer][:CUSTOMER_MAX].strip(),
                )
            )
        return result

    def _parse(
        self, line: int, cells: list[str], columns: Columns, dialect: Dialect
    ) -> tuple | None:
        """The values of one line, or None after recording its errors."""
        width = columns.width
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        positions = columns.positions
        errors: list[RowError] = []
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            errors.append(
                RowError(
                    line,
                    "",
                    f"this row has {len(cells)} values but the header has {width} columns "
                    f"(a '{dialect.delimiter}' inside an unquoted value?)",
                )
            )

        mpn = cells[positions["ResellerMpnId"]].strip()
        if mpn and not _MPN.fullmatch(mpn):
            errors.append(
                RowError(
                    line,
                    "ResellerMpnId",
                    f"{_shown(mpn)} is not a Microsoft partner id (digits only, at most 20)",
                )
            )
        raw = cells[positions["ChargeStartDate"]].strip()
        revenue_date = self._date(raw, dialect)
        if revenue_date is None:
            errors.append(
                RowError(
                    line,
                    "ChargeStartDate",
                    f"{_shown(raw)} is not a date (e.g. 2024-03-01T00:00:00 or 3/1/2024)"
                    if raw
                    else "is required",
                )
            )
        raw = cells[positions["Subtotal"]].strip()
        amount = parse_amount(raw, decimal_comma=dialect.decimal_comma) if raw else None
        if amount is None:
            errors.append(
                RowError(
                    line,
                    "Subtotal",
                    (f"{_shown(raw)} is not a number (e.g. 1234.56)" if raw else "is required")
                    if not raw or not _looks_large(raw)
                    else f"{_shown(raw)} is too large",
                )
            )
        raw = cells[positions["Currency"]].strip()
        currency = raw.upper()
        if currency not in self.currencies:
            errors.append(
                RowError(
                    line,
                    "Currency",
                    "is required"
                    if not raw
                    else f"unknown currency {_shown(raw)}"
                    if _CURRENCY.fullmatch(currency)
                    else f"{_shown(raw)} is not a three-letter currency code (e.g. EUR)",
                )
            )
        invoice = cells[positions["InvoiceNumber"]].strip()
        if not invoice:
            errors.append(RowError(line, "InvoiceNumber", "is required"))
        elif len(invoice) > INVOICE_MAX:
            errors.append(
                RowError(line, "InvoiceNumber", f"is longer than {INVOICE_MAX} characters")
            )
        order = cells[positions["OrderId"]].strip()
        if len(order) > ORDER_MAX:
            errors.append(RowError(line, "OrderId", f"is longer than {ORDER_MAX} characters"))
        for name in ("InvoiceNumber", "OrderId", "CustomerName"):
            if "\x00" in cells[positions[name]]:
                errors.append(RowError(line, name, "contains a NUL character"))
        if errors:
            self.errors.extend(errors)
            return None

        identity = []
        for name in columns.layout.identity:
            index = positions.get(name)
            value = cells[index].strip() if index is not None else ""
            if name in _DATE_COLUMNS and value:
                day = self._date(value, dialect)
                value = day.isoformat() if day else value
            identity.append(value)
        digest = hashlib.sha256("\x1f".join(identity).lower().encode()).hexdigest()[:16]
        customer = cells[positions["CustomerName"]][:CUSTOMER_MAX].strip()
        return (
            mpn,
            line,
            revenue_date,
            amount,
            currency,
            f"{invoice}/{order}/{digest}",
            customer,
        )

    def _date(self, value: str, dialect: Dialect) -> datetime.date | None:
        try:
            return self._date_cache[value]
        except KeyError:
            pass
        result = parse_charge_date(value, german=dialect.german_dates) if value else None
        if len(self._date_cache) > 50_000:
            self._date_cache.clear()
        self._date_cache[value] = result
        return result

    def _finish(self) -> None:
        report = self.report
        unknown = [self.unknown[key] for key in sorted(self.unknown)]
        report.unknown_resellers = [u.as_dict() for u in unknown]
        report.skipped = sum(u.rows for u in unknown) if self.skip_unknown else 0
        by_location: dict[str, dict[str, Any]] = {
            mpn: {"rows": rows, "totals": {}} for mpn, rows in sorted(self.counts.items())
        }
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for (mpn, code), total in sorted(self.sums.items()):
            by_location[mpn]["totals"][code] = str(total)
            totals[code] += total
        report.by_location = by_location
        report.totals = {code: str(total) for code, total in sorted(totals.items())}
        errors = list(self.errors)
        if unknown and not self.skip_unknown:
            errors.extend(
                RowError(u.lines[0] if u.lines else 0, "ResellerMpnId", u.describe())
                for u in unknown
            )
            errors.sort(key=lambda error: error.row)
        report.errors = errors


def _looks_large(value: str) -> bool:
    return bool(_POINT_NUMBER.fullmatch(value) or _COMMA_NUMBER.fullmatch(value))


# --- Sinks -------------------------------------------------------------------------------


class ListSink:
    """The portable path: keeps the lines and hands them to the generic bulk
    import of ``partners.imports`` (chunked lookups, bulk_create, history)."""

    def __init__(self) -> None:
        self.lines: list[Line] = []

    def add(self, lines: list[Line]) -> None:
        self.lines.extend(lines)

    def _rows(self) -> list[Row]:
        seen: dict[tuple[int, str], int] = {}
        rows = []
        for line, location_pk, revenue_date, amount, currency, reference, customer in self.lines:
            key = (location_pk, reference)
            count = seen[key] = seen.get(key, 0) + 1
            row = Row(line, {}, COMMA)
            row.values.update(
                location_id=location_pk,
                reference=reference if count == 1 else f"{reference}#{count}",
                revenue_date=revenue_date,
                amount=amount,
                currency_id=currency,
                customer=customer,
            )
            rows.append(row)
        return rows

    def plan(self, report: ImportReport) -> None:
        self._run(report, write=False, user=None, reason="")

    def write(self, report: ImportReport, *, user: AbstractBaseUser | None, reason: str) -> None:
        self._run(report, write=True, user=user, reason=reason)

    def _run(self, report, *, write, user, reason) -> None:
        scratch = ImportReport(kind="revenue")
        _import_rows(_PreparedRevenueSpec(ImportContext()), self._rows(), scratch,
                     write=write, user=user, reason=reason)  # fmt: skip
        if scratch.errors:  # pragma: no cover - the scanner checked every value
            report.errors = scratch.errors
            return
        report.created, report.updated, report.unchanged = (
            scratch.created,
            scratch.updated,
            scratch.unchanged,
        )

    def close(self) -> None:
        self.lines = []


class _PreparedRevenueSpec(RevenueSpec):
    """Revenue rows whose values the scanner has already parsed and resolved."""

    def parse(self, row: Row) -> None:
        pass

    def resolve(self, rows) -> None:
        pass


STAGING = "pc_revenue_staging"
_FIELDS = ("revenue_date", "amount", "currency_id", "customer")


class PostgresSink:
    """``COPY`` into a temporary table, then one set-based merge.

    The staging table lives for the session (not the transaction), so that
    the reading phase can run outside the import transaction and report its
    progress; :meth:`close` drops it.
    """

    def __init__(self) -> None:
        self.rows = 0
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {STAGING} ("
                " line integer NOT NULL,"
                " location_id bigint NOT NULL,"
                " revenue_date date NOT NULL,"
                f" amount numeric({MONEY_DIGITS},{MONEY_PLACES}) NOT NULL,"
                " currency_id varchar(3) NOT NULL,"
                " reference varchar(200) NOT NULL,"
                " customer varchar(200) NOT NULL)"
            )

    def add(self, lines: list[Line]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(lines)
        buffer.seek(0)
        copy(
            f"COPY {STAGING} (line, location_id, revenue_date, amount, currency_id, reference,"
            " customer) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (reference, customer))",
            buffer,
        )
        self.rows += len(lines)

    def _number_repeats(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {STAGING} s SET reference = s.reference || '#' || d.n"  # noqa: S608
                " FROM (SELECT line, row_number() OVER"
                "  (PARTITION BY location_id, reference ORDER BY line) AS n"
                f"  FROM {STAGING} WHERE (location_id, reference) IN"
                f"  (SELECT location_id, reference FROM {STAGING}"
                "    GROUP BY location_id, reference HAVING count(*) > 1)) d"
                " WHERE s.line = d.line AND d.n > 1"
            )
            cursor.execute(f"ANALYZE {STAGING}")

    def plan(self, report: ImportReport) -> None:
        self._number_repeats()
        table = RevenueRecord._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE r.id IS NULL),"  # noqa: S608
                f" count(*) FILTER (WHERE r.id IS NOT NULL AND {_distinct('r', 's')})"
                f" FROM {STAGING} s LEFT JOIN {table} r ON r.location_id = s.location_id"
                " AND r.source = %s AND r.reference = s.reference",
                [RevenueSource.IMPORT],
            )
            created, updated = cursor.fetchone()
        report.created, report.updated = created, updated
        report.unchanged = self.rows - created - updated

    def write(self, report: ImportReport, *, user: AbstractBaseUser | None, reason: str) -> None:
        self._number_repeats()
        table = RevenueRecord._meta.db_table
        history = RevenueRecord.history.model._meta.db_table
        columns = "id, location_id, revenue_date, amount, currency_id, source, reference, customer, created_at"
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH merged AS ("  # noqa: S608
                f" INSERT INTO {table} AS r (location_id, revenue_date, amount, currency_id,"
                "  source, reference, customer, created_at)"
                "  SELECT location_id, revenue_date, amount, currency_id, %(source)s, reference,"
                f"  customer, %(now)s FROM {STAGING} ORDER BY location_id, reference"
                "  ON CONFLICT (location_id, source, reference) DO UPDATE SET"
                "  revenue_date = EXCLUDED.revenue_date, amount = EXCLUDED.amount,"
                "  currency_id = EXCLUDED.currency_id, customer = EXCLUDED.customer"
                f"  WHERE {_distinct('r', 'EXCLUDED')}"
                f"  RETURNING r.{columns.replace(', ', ', r.')}, (r.xmax = 0) AS inserted"
                "), history AS ("
                f" INSERT INTO {history} ({columns}, history_date, history_change_reason,"
                "  history_type, history_user_id)"
                f"  SELECT {columns}, %(now)s, %(reason)s, '~', %(user)s"
                "  FROM merged WHERE NOT inserted"
                ")"
                " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
                " FROM merged",
                {
                    "source": RevenueSource.IMPORT,
                    "now": timezone.now(),
                    "reason": reason,
                    "user": user.pk if user is not None else None,
                },
            )
            created, updated = cursor.fetchone()
        report.created, report.updated = created, updated
        report.unchanged = self.rows - created - updated

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")


def _distinct(stored: str, new: str) -> str:
    return (
        f"({', '.join(f'{stored}.{f}' for f in _FIELDS)}) IS DISTINCT FROM "
        f"({', '.join(f'{new}.{f}' for f in _FIELDS)})"
    )


def copy(sql: str, data: IO[str]) -> None:
    """``COPY ... FROM STDIN`` with psycopg2 or psycopg 3."""
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):
            raw.copy_expert(sql, data, size=1 << 18)
        else:  # pragma: no cover - psycopg 3
            with raw.copy(sql) as stream:
                while block := data.read(1 << 18):
                    stream.write(block)


def make_sink() -> Sink:
    return PostgresSink() if connection.vendor == "postgresql" else ListSink()


# --- The service -------------------------------------------------------------------------


def revenue_import(
    *,
    stream: IO[bytes],
    report: ImportReport,
    dry_run: bool,
    skip_unknown: bool = False,
    user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
    total_bytes: int | None = None,
) -> ImportReport:
    """Import a Partner Center file into ``report`` (see the module doc).

    Reading runs outside a transaction (so that progress can be saved), the
    write is one transaction; a rejected file writes nothing.
    """
    sink = make_sink()
    try:
        scanner = Scanner(
            report=report,
            sink=sink,
            skip_unknown=skip_unknown,
            progress=progress,
            total_bytes=total_bytes,
        )
        started = time.perf_counter()
        try:
            scanner.run(stream)
        except FileRejected as exc:
            report.errors = exc.errors
            return report
        read = time.perf_counter() - started
        if report.errors:
            return report
        if dry_run:
            sink.plan(report)
        else:
            reason = f"import revenue (Partner Center) {report.source_name}".strip()[:100]
            with transaction.atomic():
                sink.write(report, user=user, reason=reason)
                if report.errors:  # pragma: no cover - see ListSink._run
                    transaction.set_rollback(True)
        logger.info(
            "partner-center %s: %d rows, read and staged in %.1f s, %s in %.1f s",
            report.source_name,
            report.rows,
            read,
            "planned" if dry_run else "merged",
            time.perf_counter() - started - read,
        )
        return report
    finally:
        sink.close()
