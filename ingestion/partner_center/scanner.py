"""Reading a Partner Center file: :func:`records` splits the lines, the
:class:`Scanner` checks and resolves them chunk by chunk and feeds a
:class:`Sink`, recording errors and unknown resellers for the report."""

from __future__ import annotations

import csv
import datetime
import enum
import gc
import hashlib
import io
import itertools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, Final, Protocol

from django.contrib.auth.models import User
from django.utils import timezone

from core.bulk import in_chunks
from ingestion.files import Dialect, dialect_of, shown
from ingestion.report import FileRejected, ImportReport, RowError
from partners.dates import REVENUE
from partners.models import Location
from partners.revenue import StagedLine, revenue_currency_codes

from .layouts import (
    CURRENCY_PATTERN,
    DATE_COLUMNS,
    MPN_PATTERN,
    Columns,
    detect_layout,
    looks_like_amount,
    parse_amount,
    parse_charge_date,
)

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

Progress = Callable[[float], None]


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

    def write(self, report: ImportReport, *, user: User | None, reason: str) -> None:
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

    def readinto(self, buffer) -> int:
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


class _Missing(enum.Enum):
    """Not in a value cache (an enum member, so that ``is`` tells the type
    checker the cached value is there)."""

    MISS = enum.auto()


_CACHE_MISS: Final = _Missing.MISS


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
        self.currencies = revenue_currency_codes()
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
            dialect = dialect_of(first)
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
                if len(cells) > index and MPN_PATTERN.fullmatch(mpn := cells[index].strip())
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
        dates = [n for n, name in enumerate(columns.layout.identity) if name in DATE_COLUMNS]
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
        if mpn and not MPN_PATTERN.fullmatch(mpn):
            errors.append(
                RowError(
                    line,
                    "ResellerMpnId",
                    f"{shown(mpn)} is not a Microsoft partner id (digits only, at most 20)",
                )
            )
        raw = cells[positions["ChargeStartDate"]].strip()
        revenue_date = self._date(raw, dialect)
        if revenue_date is None:
            errors.append(
                RowError(
                    line,
                    "ChargeStartDate",
                    f"{shown(raw)} is not a date (e.g. 2024-03-01T00:00:00 or 3/1/2024)"
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
                    (f"{shown(raw)} is not a number (e.g. 1234.56)" if raw else "is required")
                    if not raw or not looks_like_amount(raw)
                    else f"{shown(raw)} is too large",
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
                    else f"unknown currency {shown(raw)}"
                    if CURRENCY_PATTERN.fullmatch(currency)
                    else f"{shown(raw)} is not a three-letter currency code (e.g. EUR)",
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
            if name in DATE_COLUMNS and value:
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
