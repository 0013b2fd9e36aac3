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

A **daily-rated usage** reconciliation file (``Tier2MpnId, ..., UsageDate, ...,
BillingPreTaxTotal, BillingCurrency, ...``) is recognised and refused: the
Azure usage it lists is billed in the invoice reconciliation file, and
importing both would count it twice.

One line becomes one :class:`~partners.models.RevenueRecord`: the amount is
the pre-tax ``Subtotal`` (credits are negative; more than six decimal places
are rounded half-even to six), the date is the date part of
``ChargeStartDate`` (``2024-03-01T00:00:00``, ``3/1/2024 12:00:00 AM``,
``2024-03-01``...; at most the last day of next month, as every revenue date:
``partners.dates``), the location is the one whose ``location_id`` is
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
:func:`records` (``csv.reader``, with a fast split for lines without quotes);
lines are checked and resolved in chunks and only the good lines of the
current chunk are held. Where they go is a :class:`Sink` over an engine of
the one revenue upsert (``partners.revenue``, docs/decisions/0008): on
PostgreSQL one ``COPY`` into its staging table *while* the file is read (the
database ingests a chunk while Python reads the next), then one set-based
statement that updates the changed records (with history) and inserts the
new ones (docs/decisions/0004-revenue-import-on-postgresql.md); elsewhere a
list handed to its portable engine.
"""

from __future__ import annotations

import csv
import datetime
import gc
import hashlib
import io
import itertools
import logging
import operator
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import IO, Any, Protocol

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.bulk import in_chunks
from ingestion.imports import (
    COMMA,
    SEMICOLON,
    Dialect,
    FileRejected,
    ImportContext,
    ImportReport,
    RowError,
    _shown,
    daily_rated_usage_error,
)
from partners.dates import REVENUE
from partners.models import MONEY_DIGITS, MONEY_PLACES, Location, RevenueSource
from partners.revenue import RevenueRows, RevenueStaging, RevenueUpsert, StagedLine, staged_text

logger = logging.getLogger(__name__)

#: Lines checked, resolved and handed to the sink at a time.
CHUNK_LINES = 20_000
#: Progress is saved this many times while a file is read (on PostgreSQL
#: each one pauses the COPY for a moment).
PROGRESS_STEPS = 20
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
    if usage := daily_rated_usage_error(lowered):
        raise FileRejected([usage])
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


#: A good line, ready for the sink: the staging form of the one revenue
#: upsert (``partners.revenue.StagedLine``: line, location pk, revenue date as
#: ``YYYY-MM-DD``, amount as text (already rounded to six places), currency,
#: reference, customer). Text rather than date and Decimal objects: a million
#: of them go straight into a ``COPY`` stream.
Line = StagedLine
#: What the scanner hands on per chunk: the good lines and the bytes read so far.
Chunk = tuple[list[Line], int]


class Sink(Protocol):
    #: True when the sink cannot take queries while it loads (a ``COPY`` is
    #: open): the scanner then reads all locations before it starts.
    preload_locations: bool

    def load(
        self,
        chunks: Iterator[Chunk],
        progress: Callable[[int], None] | None,
        every: int | None = None,
    ) -> None:
        """Take every chunk; call ``progress`` with the bytes read (about
        every ``every`` bytes)."""

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


def records(
    text: IO[str], delimiter: str, *, first_line: int = 1
) -> Iterator[tuple[int, int, list[str]]]:
    """What ``csv.reader(text, delimiter=delimiter)`` reads, as (line of the
    record, lines read so far, cells), counting from ``first_line``.

    A line without quotes (nor NUL, nor beyond the csv field limit) is split
    here, four times faster than the csv module; a line with quotes, whose
    values may span lines, goes to the csv module, which reads on from it.
    """
    limit = csv.field_size_limit()
    physical = first_line - 1
    for line in text:
        start = physical + 1
        if '"' in line or "\x00" in line or len(line) > limit:
            reader = csv.reader(itertools.chain((line,), text), delimiter=delimiter)
            cells = next(reader)
            physical += reader.line_num
        else:
            cells = line.rstrip("\r\n").split(delimiter)
            if cells == [""]:
                cells = []  # (an empty line)
            physical += 1
        yield start, physical, cells


#: Distinct cell values remembered by the value caches of a scan (dates and
#: amounts repeat heavily; the cap keeps a file of all-different values small).
CACHE_MAX = 100_000
_CACHE_MISS = object()


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
        #: revenue dates after ``latest`` are refused (``partners.dates.REVENUE``)
        self.today = timezone.localdate()
        self.latest = REVENUE.latest_allowed(self.today)
        self.locations: dict[str, int | None] = {}
        self.locations_complete = False
        self.unknown: dict[str, UnknownReseller] = {}
        #: (location id, currency) -> total; location id -> rows
        self.sums: dict[tuple[str, str], Decimal] = {}
        self.counts: dict[str, int] = {}
        self.errors: list[RowError] = []
        self._date_cache: dict[str, datetime.date | None] = {}
        #: raw ChargeStartDate -> (date, "YYYY-MM-DD") or None (not a date)
        self._days: dict[str, tuple[datetime.date, str] | None] = {}
        #: raw Subtotal -> (amount, its text) or None (not an amount)
        self._amounts: dict[str, tuple[Decimal, str] | None] = {}
        #: stripped identity date -> the value that goes into the identity
        self._identity_dates: dict[str, str] = {}

    def run(self, stream: IO[bytes]) -> None:
        if self.sink.preload_locations:
            # One query instead of one per chunk: the sink's COPY stays open
            # while the chunks are read. (A location id is at most 20 digits,
            # so even 100,000 locations take a few MB.)
            self.locations.update(Location.objects.values_list("location_id", "pk"))
            self.locations_complete = True
        progress = self._progress if self.progress and self.total_bytes else None
        every = max(self.total_bytes // PROGRESS_STEPS, 1) if self.total_bytes else None
        # The cyclic garbage collector would walk the live rows of the chunk
        # again and again (a third of the reading time); reading creates no
        # cycles.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.sink.load(self._read(stream), progress, every)
        finally:
            if collecting:
                gc.enable()
        self._finish()

    def _read(self, stream: IO[bytes]) -> Iterator[Chunk]:
        counting = _CountingReader(stream)
        text = io.TextIOWrapper(
            io.BufferedReader(counting, buffer_size=1 << 20), encoding="utf-8-sig", newline=""
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
            size = self.chunk_lines or CHUNK_LINES
            chunk: list[tuple[int, list[str]]] = []
            for start, read, cells in records(text, dialect.delimiter, first_line=2):
                line_num = read
                if cells and any(cells):
                    chunk.append((start, cells))
                    if len(chunk) >= size:
                        yield self._chunk(chunk, columns, dialect), counting.count
                        chunk = []
            if chunk:
                yield self._chunk(chunk, columns, dialect), counting.count
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
        yield [], counting.count

    def _progress(self, done: int) -> None:
        if self.progress and self.total_bytes:
            self.progress(min(done / self.total_bytes, 1.0))

    def _resolve(self, chunk: list[tuple[int, list[str]]], index: int) -> None:
        """Look up the resellers of ``chunk`` that are not known yet."""
        if self.locations_complete:
            return
        wanted = sorted(
            {
                mpn
                for _, cells in chunk
                if len(cells) > index and _MPN.fullmatch(mpn := cells[index].strip())
            }
            - self.locations.keys()
        )
        for ids in in_chunks(wanted):
            found = dict(
                Location.objects.filter(location_id__in=ids).values_list("location_id", "pk")
            )
            for mpn in ids:
                self.locations[mpn] = found.get(mpn)

    def _chunk(
        self, chunk: list[tuple[int, list[str]]], columns: Columns, dialect: Dialect
    ) -> list[Line]:
        """The good lines of ``chunk``; errors and unknown resellers are recorded.

        The loop is the hot path of a million-line file: plain cells are
        checked inline against caches of the values seen before (dates and
        amounts repeat), anything unusual (spaces, short or long rows, bad
        values, unknown resellers) goes through :meth:`_parse`, which applies
        the same rules and also names the errors.
        """
        positions, width = columns.positions, columns.width
        i_mpn, i_start = positions["ResellerMpnId"], positions["ChargeStartDate"]
        i_amount, i_currency = positions["Subtotal"], positions["Currency"]
        i_invoice, i_order = positions["InvoiceNumber"], positions["OrderId"]
        i_customer = positions["CustomerName"]
        self._resolve(chunk, i_mpn)
        # Absent identity columns read an empty cell appended to the row.
        identity = [positions.get(name, width) for name in columns.layout.identity]
        padded = width in identity
        get_identity = operator.itemgetter(*identity)
        dates = [n for n, name in enumerate(columns.layout.identity) if name in _DATE_COLUMNS]
        locations, currencies, latest = self.locations, self.currencies, self.latest
        days, amounts, identity_dates = self._days, self._amounts, self._identity_dates
        sums, counts = self.sums, self.counts
        strip, sha256, miss = str.strip, hashlib.sha256, _CACHE_MISS
        collect = not self.errors
        good: list[Line] = []
        append = good.append
        for line, cells in chunk:
            if len(cells) != width:
                self._slow(line, cells, columns, dialect, append)
                continue
            mpn = cells[i_mpn]
            pk = locations.get(mpn)
            day = days.get(cells[i_start], miss)
            if day is miss:
                day = self._day(cells[i_start], dialect)
            amount = amounts.get(cells[i_amount], miss)
            if amount is miss:
                amount = self._amount(cells[i_amount], dialect)
            currency = cells[i_currency]
            invoice = cells[i_invoice].strip()
            order = cells[i_order].strip()
            customer = cells[i_customer]
            if (
                pk is None
                or day is None
                or day[0] > latest
                or amount is None
                or currency not in currencies
                or not invoice
                or len(invoice) > INVOICE_MAX
                or len(order) > ORDER_MAX
                or "\x00" in invoice
                or "\x00" in order
                or "\x00" in customer
            ):
                self._slow(line, cells, columns, dialect, append)
                continue
            if padded:
                cells.append("")
            parts = list(map(strip, get_identity(cells)))
            for n in dates:
                if value := parts[n]:
                    normal = identity_dates.get(value)
                    if normal is None:
                        normal = self._identity_date(value, dialect)
                    parts[n] = normal
            digest = sha256("\x1f".join(parts).lower().encode()).hexdigest()[:16]
            key = (mpn, currency)
            sums[key] = sums.get(key, 0) + amount[0]
            counts[mpn] = counts.get(mpn, 0) + 1
            if collect:
                append(
                    (
                        line,
                        pk,
                        day[1],
                        amount[1],
                        currency,
                        f"{invoice}/{order}/{digest}",
                        customer[:CUSTOMER_MAX].strip(),
                    )
                )
        self.report.rows += len(chunk)
        return good if not self.errors else []

    def _day(self, raw: str, dialect: Dialect) -> tuple[datetime.date, str] | None:
        value = raw.strip()
        day = parse_charge_date(value, german=dialect.german_dates) if value else None
        result = (day, day.isoformat()) if day is not None else None
        if len(self._days) >= CACHE_MAX:
            self._days.clear()
        self._days[raw] = result
        return result

    def _amount(self, raw: str, dialect: Dialect) -> tuple[Decimal, str] | None:
        value = raw.strip()
        amount = parse_amount(value, decimal_comma=dialect.decimal_comma) if value else None
        result = (amount, str(amount)) if amount is not None else None
        if len(self._amounts) >= CACHE_MAX:
            self._amounts.clear()
        self._amounts[raw] = result
        return result

    def _identity_date(self, value: str, dialect: Dialect) -> str:
        day = self._date(value, dialect)
        normal = day.isoformat() if day else value
        if len(self._identity_dates) >= CACHE_MAX:
            self._identity_dates.clear()
        self._identity_dates[value] = normal
        return normal

    def _slow(
        self,
        line: int,
        cells: list[str],
        columns: Columns,
        dialect: Dialect,
        append: Callable[[Line], None],
    ) -> None:
        """One unusual line: checked by :meth:`_parse`, then accepted, counted
        for its unknown reseller, or left with its errors recorded."""
        parsed = self._parse(line, cells, columns, dialect)
        if parsed is None:
            return
        mpn, line, revenue_date, amount, currency, reference, customer = parsed
        pk = self.locations.get(mpn) if mpn else None
        if pk is None:
            unknown = self.unknown.get(mpn)
            if unknown is None:
                unknown = self.unknown[mpn] = UnknownReseller(mpn)
            unknown.add(line, customer, currency, amount)
            return
        key = (mpn, currency)
        self.sums[key] = self.sums.get(key, 0) + amount
        self.counts[mpn] = self.counts.get(mpn, 0) + 1
        if not self.errors:
            append((line, pk, revenue_date.isoformat(), str(amount), currency, reference, customer))

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
        elif problem := REVENUE.problem(revenue_date, today=self.today):
            errors.append(RowError(line, "ChargeStartDate", problem))
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


class _EngineSink:
    """Plans or writes the staged lines with an engine of the one revenue
    upsert (``partners.revenue``); repeated lines are numbered there."""

    def _engine(self) -> RevenueRows | RevenueStaging:
        raise NotImplementedError

    def plan(self, report: ImportReport) -> None:
        _fill(report, self._engine().plan(source=RevenueSource.IMPORT))

    def write(self, report: ImportReport, *, user: AbstractBaseUser | None, reason: str) -> None:
        result = self._engine().write(
            source=RevenueSource.IMPORT,
            user=user,
            reason=reason,
            # An import running at the same time stored some lines first:
            # theirs stand (the same lines), ours are unchanged.
            keep_concurrent=True,
            # A lost import (a crash in the second after the commit) is
            # imported again: it is idempotent. No need to wait for the disk.
            synchronous_commit=False,
        )
        _fill(report, result)


def _fill(report: ImportReport, result: RevenueUpsert) -> None:
    report.created, report.updated, report.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )


class ListSink(_EngineSink):
    """The portable path: keeps the lines and hands them to the portable
    engine (``partners.revenue.RevenueRows``: chunked lookups, bulk_create,
    history)."""

    preload_locations = False

    def __init__(self) -> None:
        self.lines: list[Line] = []

    def load(
        self,
        chunks: Iterator[Chunk],
        progress: Callable[[int], None] | None,
        every: int | None = None,
    ) -> None:
        for lines, done in chunks:
            if lines:
                self.add(lines)
            if progress is not None:
                progress(done)

    def add(self, lines: list[Line]) -> None:
        self.lines.extend(lines)

    def _engine(self) -> RevenueRows:
        engine = RevenueRows(number_repeats=True)
        engine.add_staged(self.lines)
        return engine

    def close(self) -> None:
        self.lines = []


class _CopySource:
    """A file for ``copy_expert`` whose ``read()`` pulls the next chunk from
    the scanner: the database ingests one chunk while Python reads the next.

    ``read()`` answers end-of-file to pause the ``COPY`` (every ``every``
    bytes of the file, so that progress can be saved between two COPYs) and
    when the chunks are exhausted or the scanner raised (kept in ``error``:
    the ``COPY`` ends normally and the caller re-raises).
    """

    def __init__(self, chunks: Iterator[Chunk], every: int | None) -> None:
        self._chunks = chunks
        self._every = every
        self._pause = False
        self._reported = 0
        self.done = 0
        self.exhausted = False
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> str:
        while not self._pause:
            try:
                lines, self.done = next(self._chunks)
            except StopIteration:
                self.exhausted = True
                return ""
            except Exception as exc:  # re-raised by PostgresSink.load
                self.error, self.exhausted = exc, True
                return ""
            if self._every and self.done - self._reported >= self._every:
                self._reported, self._pause = self.done, True
            if lines:
                return staged_text(lines)
        self._pause = False
        return ""


class PostgresSink(_EngineSink):
    """``COPY`` into the staging table of the one revenue upsert while the
    file is read, then its set-based merge (``partners.revenue.RevenueStaging``;
    docs/decisions/0004-revenue-import-on-postgresql.md).

    The staging table lives for the session (not the transaction), so that
    the reading phase can run outside the import transaction and report its
    progress; :meth:`close` drops it.
    """

    preload_locations = True

    def __init__(self) -> None:
        self.staging = RevenueStaging(number_repeats=True)

    def load(
        self,
        chunks: Iterator[Chunk],
        progress: Callable[[int], None] | None,
        every: int | None = None,
    ) -> None:
        """One ``COPY`` fed by the scanner (paused every ``every`` bytes to
        call ``progress``: no query can run while a ``COPY`` is open)."""
        source = _CopySource(chunks, every if progress is not None else None)
        while True:
            self.staging.load(source)
            if source.error is not None:
                raise source.error
            if progress is not None:
                progress(source.done)
            if source.exhausted:
                break

    def add(self, lines: list[Line]) -> None:
        self.staging.add_staged(lines)

    def _engine(self) -> RevenueStaging:
        return self.staging

    def close(self) -> None:
        self.staging.close()


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
            try:
                with transaction.atomic():
                    sink.write(report, user=user, reason=reason)
            except IntegrityError as exc:
                # Someone stored the same records between our checks and our writes.
                report.created = report.updated = report.unchanged = 0
                report.errors = [
                    RowError(0, "", f"the database refused the import, nothing was written ({exc})")
                ]
                return report
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
