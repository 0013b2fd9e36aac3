"""Bulk imports of CSV files (PRODUCT section 7), all or nothing.

One entry point, :func:`import_file`, serves the ``import_data`` command and,
later, the staff upload page. An import runs in five steps:

1. **read** - decode UTF-8 (with or without BOM), detect the dialect from the
   header line (comma + decimal point, or semicolon + decimal comma as German
   Excel writes it) and map the columns (a :class:`SourceFormat`);
2. **parse** - turn every cell into a Python value, collecting every error;
3. **resolve** - look up the partners, locations, users... the rows refer to,
   in chunks (``__in``), never one query per row;
4. **plan** - find the records that already exist by key (again in chunks)
   and sort the rows into created, updated and unchanged;
5. **write** - only when no row has an error: bulk inserts and updates with
   their history rows, in one transaction.

Each kind is a small :class:`KindSpec`: its columns, how a row becomes field
values, and its key. A second file format (Partner Center reconciliation
files) plugs in as another :class:`SourceFormat` that maps its own columns
onto the revenue columns.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import logging
import os
import re
import textwrap
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from partners import selectors as partner_selectors
from partners.dates import AGREEMENT, ONBOARDING, REVENUE, DateLimit
from partners.designations import DesignationLookup, UnknownDesignation
from partners.models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    MPN_ID_MAX_LENGTH,
    BillingModel,
    Contact,
    Currency,
    ExchangeRate,
    Language,
    Location,
    Partner,
    PlanType,
    RevenueRecord,
    RevenueSource,
    SupportContract,
)

logger = logging.getLogger(__name__)

#: Rows per INSERT statement (Django lowers it where the database needs).
BATCH_SIZE = 1000
#: Rows per UPDATE statement: bulk_update() writes one CASE branch per row and
#: field, which the database evaluates row by row; short statements stay cheap.
UPDATE_BATCH_SIZE = 100

Source = bytes | str | os.PathLike[str] | IO[bytes]
#: The stored values of one record, by attribute name ("pk" included).
Stored = dict[str, Any]


# --- Results -------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in the file. ``row`` is the line in the file (the header is
    line 1; 0 for the file as a whole); ``column`` is empty when the problem is
    not in one cell."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    """What an import did, or would do (``dry_run``), or why it was rejected."""

    kind: str
    file_format: str = "simple"
    dry_run: bool = False
    source_name: str = ""
    dialect: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Partner Center files only (see ingestion.partner_center):
    #: "new-commerce" or "legacy"
    layout: str = ""
    #: lines of unknown resellers left out (``skip_unknown``)
    skipped: int = 0
    #: per unknown reseller: mpn_id, rows, lines, customers, totals per currency
    unknown_resellers: list[dict[str, Any]] = field(default_factory=list)
    #: location id -> {"rows": n, "totals": {currency: "amount"}}
    by_location: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: currency -> "amount" over the lines that are imported
    totals: dict[str, str] = field(default_factory=dict)
    #: partners whose data the import wrote (those the file names, when it
    #: changed anything); re-evaluated for today after the commit
    partner_pks: set[int] = field(default_factory=set)
    #: what the re-evaluation after the import did (``compliance.services.Reevaluation``)
    reevaluation: Any = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> int:
        return len({error.row for error in self.errors})

    @property
    def written(self) -> bool:
        """True when this import changed the database."""
        return self.ok and not self.dry_run and bool(self.created or self.updated)


class ImportConflict(Exception):
    """The stored data changed between the checks and the writes."""


class FileRejected(Exception):
    """The file as a whole cannot be read (encoding, header, CSV syntax)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


# --- Reading the file -------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    label: str
    delimiter: str
    decimal_comma: bool
    german_dates: bool  # also DD.MM.YYYY


COMMA = Dialect("comma-separated, decimal point", ",", decimal_comma=False, german_dates=False)
SEMICOLON = Dialect(
    "semicolon-separated, decimal comma", ";", decimal_comma=True, german_dates=True
)


@dataclass
class Table:
    """The raw CSV: normalised header names and the records with their line."""

    dialect: Dialect
    header: list[str]
    records: list[tuple[int, list[str]]]


#: Columns of Microsoft's daily-rated usage reconciliation file that no
#: invoice reconciliation file has (its amount and date; lower case).
DAILY_RATED_USAGE_COLUMNS = frozenset({"usagedate", "billingpretaxtotal"})


def daily_rated_usage_error(header: Iterable[str]) -> RowError | None:
    """The error for the header of a daily-rated usage reconciliation file
    (``Tier2MpnId, UsageDate, ..., BillingPreTaxTotal, BillingCurrency, ...``),
    None for any other header. Such a file is never imported, in either
    format: the usage it lists is billed in the invoice reconciliation file,
    and importing both would count it twice."""
    names = {name.strip().lstrip("\ufeff").lower() for name in header}
    if not names >= DAILY_RATED_USAGE_COLUMNS:
        return None
    return RowError(
        1,
        "",
        gettext(
            "this is a Partner Center daily-rated usage reconciliation file (UsageDate, "
            "BillingPreTaxTotal, ...), which is not imported: Azure usage is billed in the "
            "invoice reconciliation file, so import that file instead (revenue, Partner "
            "Center format); importing both would count the usage twice"
        ),
    )


def read_table(data: bytes) -> Table:
    """Decode and split a CSV file; raise :class:`FileRejected` if it cannot be read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(
            [
                RowError(
                    line,
                    "",
                    "the file is not UTF-8 text (first bad byte on this line); "
                    'save it as "CSV UTF-8" and try again',
                )
            ]
        ) from None
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise FileRejected([RowError(1, "", "the file is empty or has no header row")])
    dialect = SEMICOLON if first_line.count(";") > first_line.count(",") else COMMA

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    records: list[tuple[int, list[str]]] = []
    try:
        header = [name.strip().lower() for name in next(reader)]
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FileRejected(
            [RowError(reader.line_num, "", f"this line cannot be read as CSV ({exc})")]
        ) from None
    return Table(dialect=dialect, header=header, records=records)


# --- Cells -> values -------------------------------------------------------------------

_POINT_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?")
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+)(?:,\d+)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_MPN_ID = re.compile(rf"[0-9]{{1,{MPN_ID_MAX_LENGTH}}}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_TRUE = frozenset({"yes", "true", "1", "ja", "wahr"})
_FALSE = frozenset({"no", "false", "0", "nein", "falsch", ""})
_FLAGS = _TRUE | _FALSE


def parse_decimal(value: str, *, decimal_comma: bool) -> Decimal | None:
    """``1234.56`` / ``1,234.56``, or with ``decimal_comma`` ``1234,56`` /
    ``1.234,56``; None if the text is not such a number."""
    if decimal_comma:
        if not _COMMA_NUMBER.fullmatch(value):
            return None
        value = value.replace(".", "").replace(",", ".")
    else:
        if not _POINT_NUMBER.fullmatch(value):
            return None
        value = value.replace(",", "")
    return Decimal(value)


def parse_date(value: str, *, german: bool) -> datetime.date | None:
    """``YYYY-MM-DD``, with ``german`` also ``DD.MM.YYYY``; None otherwise."""
    if match := _ISO_DATE.fullmatch(value):
        year, month, day = match.groups()
    elif german and (match := _GERMAN_DATE.fullmatch(value)):
        day, month, year = match.groups()
    else:
        return None
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _choice_map(choices: type[models.TextChoices], **aliases: str) -> dict[str, str]:
    """Accepted spellings (value or label, any case) -> stored value."""
    accepted = {alias.lower(): value for alias, value in aliases.items()}
    for value, label in choices.choices:
        accepted[value.lower()] = value
        accepted[str(label).lower()] = value
    return accepted


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


class Row:
    """One record of the file: raw cells in, field values and errors out.

    ``values`` holds model attribute names (``partner_id`` is the foreign key
    of a location, but the MPN id of a partner); ``refs`` holds raw values
    that :meth:`KindSpec.resolve` turns into foreign keys; ``extra`` holds
    what is not a column of the model (a partner's designations).
    """

    __slots__ = ("cells", "dialect", "errors", "extra", "labels", "line", "refs", "values")

    def __init__(
        self,
        line: int,
        cells: dict[str, str],
        dialect: Dialect,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.line = line
        self.cells = cells
        self.dialect = dialect
        self.labels = labels or {}
        self.values: dict[str, Any] = {}
        self.refs: dict[str, str] = {}
        self.extra: dict[str, Any] = {}
        self.errors: list[RowError] = []

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, self.labels.get(column, column), message))

    def raw(self, column: str) -> str:
        return self.cells.get(column, "")

    def text(self, column: str, *, max_length: int, required: bool = True) -> str:
        value = self.raw(column)
        if not value:
            if required:
                self.error(column, "is required")
        elif len(value) > max_length:
            self.error(column, f"is longer than {max_length} characters")
        return value

    def mpn_id(self, column: str) -> str | None:
        value = self.raw(column)
        if not value:
            self.error(column, "is required")
            return None
        if not _MPN_ID.fullmatch(value):
            self.error(
                column,
                f"{_shown(value)} is not a Microsoft partner id "
                f"(digits only, at most {MPN_ID_MAX_LENGTH})",
            )
            return None
        return value

    def country(self, column: str) -> str | None:
        value = self.raw(column).upper()
        if not value:
            self.error(column, "is required")
            return None
        if not _COUNTRY.fullmatch(value):
            self.error(
                column, f"{_shown(self.raw(column))} is not a two-letter country code (e.g. DE)"
            )
            return None
        return value

    def choice(
        self, column: str, accepted: Mapping[str, str], *, required: bool = True
    ) -> str | None:
        value = self.raw(column)
        if not value:
            if required:
                self.error(column, f"is required ({self._choices(accepted)})")
            return None
        key = value.lower()
        result = accepted.get(key) or accepted.get(key.replace("-", "_").replace(" ", "_"))
        if result is None:
            self.error(column, f"{_shown(value)} is not one of {self._choices(accepted)}")
        return result

    @staticmethod
    def _choices(accepted: Mapping[str, str]) -> str:
        return ", ".join(dict.fromkeys(accepted.values()))

    def date(
        self,
        column: str,
        *,
        required: bool = True,
        limit: DateLimit | None = None,
        today: datetime.date | None = None,
    ) -> datetime.date | None:
        """A date; with ``limit`` no later than it allows on ``today``
        (``partners.dates``: the rule of the services, forms and API)."""
        value = self.raw(column)
        if not value:
            if required:
                self.error(column, "is required")
            return None
        result = parse_date(value, german=self.dialect.german_dates)
        if result is None:
            self.error(column, f"{_shown(value)} is not a valid date ({self._date_formats()})")
        elif limit is not None and (problem := limit.problem(result, today=today)):
            self.error(column, problem)
            return None
        return result

    def _date_formats(self) -> str:
        return "use YYYY-MM-DD or DD.MM.YYYY" if self.dialect.german_dates else "use YYYY-MM-DD"

    def month(self, column: str) -> datetime.date | None:
        """``YYYY-MM``; also the first day of a month as a date (Excel turns
        ``2024-03`` into ``01.03.2024``). Returns the first day of the month."""
        value = self.raw(column)
        if not value:
            self.error(column, "is required")
            return None
        if match := _MONTH.fullmatch(value):
            year, month = (int(part) for part in match.groups())
            if 1 <= month <= 12:
                return datetime.date(year, month, 1)
        else:
            day = parse_date(value, german=self.dialect.german_dates)
            if day is not None and day.day == 1:
                return day
        self.error(column, f"{_shown(value)} is not a month (use YYYY-MM)")
        return None

    def decimal(
        self, column: str, *, max_digits: int, decimal_places: int, required: bool = True
    ) -> Decimal | None:
        value = self.raw(column)
        if not value:
            if required:
                self.error(column, "is required")
            return None
        number = parse_decimal(value, decimal_comma=self.dialect.decimal_comma)
        if number is None:
            example = "1234,56 or 1.234,56" if self.dialect.decimal_comma else "1234.56"
            self.error(column, f"{_shown(value)} is not a number (e.g. {example})")
            return None
        if abs(number) >= Decimal(10) ** (max_digits - decimal_places):
            self.error(column, f"{_shown(value)} is too large")
            return None
        # (quantize() after the size check: it fails beyond 28 digits)
        if number != number.quantize(Decimal(1).scaleb(-decimal_places)):
            self.error(column, f"{_shown(value)} has more than {decimal_places} decimal places")
            return None
        return number

    def flag(self, column: str) -> bool | None:
        value = self.raw(column).lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.error(column, f"{_shown(self.raw(column))} is not yes or no")
        return None

    def currency(self, column: str, known: set[str], *, required: bool = True) -> str | None:
        value = self.raw(column).upper()
        if not value:
            if required:
                self.error(column, "is required")
            return None
        if not _CURRENCY.fullmatch(value):
            self.error(
                column,
                f"{_shown(self.raw(column))} is not a three-letter currency code (e.g. EUR)",
            )
            return None
        if value not in known:
            self.error(column, f"unknown currency {value}")
            return None
        return value

    def email(self, column: str, *, max_length: int = 254) -> str:
        value = self.text(column, max_length=max_length)
        if value and len(value) <= max_length:
            try:
                validate_email(value)
            except ValidationError:
                self.error(column, f"{_shown(value)} is not an email address")
        return value


# --- Looking things up in chunks ----------------------------------------------------------


def _chunk_size() -> int:
    """Keys per ``__in`` query; a query may carry two such lists, and SQLite
    allows 999 parameters per statement."""
    limit = connection.features.max_query_params
    return 2000 if limit is None else max(1, limit // 2 - 50)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    size = _chunk_size()
    for start in range(0, len(items), size):
        yield items[start : start + size]


def resolve_mpn_references(
    rows: Sequence[Row], *, column: str, model: type[Partner] | type[Location], attname: str
) -> None:
    """Turn the MPN id in ``row.refs[column]`` into ``row.values[attname]``
    (the primary key of the partner or location), or an error."""
    id_field = "partner_id" if model is Partner else "location_id"
    wanted = sorted({row.refs[column] for row in rows if row.refs.get(column)})
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        found.update(model.objects.filter(**{f"{id_field}__in": chunk}).values_list(id_field, "pk"))
    label = model._meta.verbose_name
    for row in rows:
        reference = row.refs.get(column)
        if not reference:
            continue
        if reference in found:
            row.values[attname] = found[reference]
        else:
            row.error(column, f"unknown {label} {reference}")


# --- Kinds -----------------------------------------------------------------------------


class ImportContext:
    """Reference data an import reads at most once."""

    @cached_property
    def currencies(self) -> set[str]:
        return set(Currency.objects.values_list("code", flat=True))

    @cached_property
    def designations(self) -> DesignationLookup:
        return DesignationLookup.load()

    @cached_property
    def today(self) -> datetime.date:
        """The day the dates of the file are checked against (``partners.dates``)."""
        return timezone.localdate()


class KindSpec:
    """How one kind of file maps onto one model. Subclasses set the class
    attributes and write :meth:`parse`; the rest has sensible defaults."""

    kind: ClassVar[str]
    model: ClassVar[type[models.Model]]
    #: Columns of the file, all required in the header (in any order).
    columns: ClassVar[tuple[str, ...]]
    #: Model attributes an update may change.
    fields: ClassVar[tuple[str, ...]]
    #: Model attributes that identify a record; the file may hold each key once.
    key_fields: ClassVar[tuple[str, ...]]
    #: The file column(s) of the key, for messages about duplicates.
    key_columns: ClassVar[tuple[str, ...]]
    #: Leading key fields filtered with ``__in`` to find existing records.
    lookup_fields: ClassVar[tuple[str, ...] | None] = None
    #: Values every imported record has (and existing ones are filtered by).
    fixed: ClassVar[dict[str, Any]] = {}
    #: Further stored fields that :meth:`check_existing` looks at.
    also_load: ClassVar[tuple[str, ...]] = ()
    #: False: new records get no history row (revenue: 100,000 lines a file;
    #: source, reference and created_at say where a record came from).
    #: Changes are always recorded.
    history_of_new_records: ClassVar[bool] = True
    #: One line for ``--help`` about what the columns accept.
    notes: ClassVar[str] = ""
    #: True: on PostgreSQL the checked rows go to :meth:`merge` (one
    #: set-based statement per step) instead of :meth:`existing` and :meth:`write`.
    set_based: ClassVar[bool] = False

    def __init__(self, context: ImportContext) -> None:
        self.context = context

    def parse(self, row: Row) -> None:
        """Fill ``row.values`` / ``row.refs`` / ``row.extra`` from the cells."""
        raise NotImplementedError

    def resolve(self, rows: Sequence[Row]) -> None:
        """Turn the references of all rows into foreign keys, in bulk."""

    def key(self, row: Row) -> tuple[Hashable, ...] | None:
        key = tuple(row.values.get(name) for name in self.key_fields)
        return None if any(part is None or part == "" for part in key) else key

    def stored_key(self, stored: Stored) -> tuple[Hashable, ...]:
        return tuple(stored[name] for name in self.key_fields)

    def existing(self, keys: set[tuple[Hashable, ...]]) -> dict[tuple, list[Stored]]:
        """The stored values of the records with these keys, as dicts (cheaper
        than model instances for 100,000 rows); a key should match one."""
        lookup = self.lookup_fields or self.key_fields
        size = len(lookup)
        prefixes = sorted({key[:size] for key in keys})
        names = list(dict.fromkeys(["pk", *self.key_fields, *self.fields, *self.also_load]))
        queryset = self.model._default_manager.filter(**self.fixed).values(*names)
        found: dict[tuple, list[Stored]] = defaultdict(list)
        for chunk in _chunks(prefixes):
            filters = {
                f"{name}__in": {prefix[i] for prefix in chunk} for i, name in enumerate(lookup)
            }
            for stored in queryset.filter(**filters):
                key = self.stored_key(stored)
                if key in keys:
                    found[key].append(stored)
        return found

    def check_existing(self, row: Row, stored: Stored) -> None:
        """Errors that depend on the stored record (e.g. a different owner)."""

    def differs(self, row: Row, stored: Stored) -> bool:
        return any(stored[name] != value for name, value in row.values.items())

    def merge(
        self,
        rows: Sequence[Row],
        report: ImportReport,
        *,
        write: bool,
        user: AbstractBaseUser | None,
        reason: str,
    ) -> None:
        """Plan (``write=False``) or write ``rows`` (checked, keys unique) set-based
        and fill the counts of ``report``; see :attr:`set_based`."""
        raise NotImplementedError

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        """The partners whose evaluation ``rows`` (written) may change; by
        default those of the rows' ``partner_id`` foreign key."""
        return {pk for row in rows if (pk := row.values.get("partner_id")) is not None}

    def build(self, row: Row) -> models.Model:
        return self.model(**self.fixed, **row.values)

    @cached_property
    def _has_updated_at(self) -> bool:
        return any(f.name == "updated_at" for f in self.model._meta.concrete_fields)

    def write(
        self,
        created: Sequence[Row],
        updated: Sequence[tuple[Row, int]],
        *,
        user: AbstractBaseUser | None,
        now: datetime.datetime,
        reason: str,
    ) -> list[tuple[Row, models.Model]]:
        """Insert the new records and update the changed ones (given by primary
        key), in bulk and with history rows; returns what was written."""
        history = {"default_user": user, "default_change_reason": reason, "default_date": now}
        new = [(row, self.build(row)) for row in created]
        if new and self.history_of_new_records:
            bulk_create_with_history(
                [obj for _, obj in new], self.model, batch_size=BATCH_SIZE, **history
            )
        elif new:
            self.model._default_manager.bulk_create([obj for _, obj in new], batch_size=BATCH_SIZE)

        # Django's bulk_update() costs time per object and field, so objects
        # are grouped by the fields that really changed (usually one or two).
        changed = []
        by_fields: dict[tuple[str, ...], list[models.Model]] = defaultdict(list)
        for chunk in _chunks(updated):
            objs = self.model._default_manager.in_bulk([pk for _, pk in chunk])
            for row, pk in chunk:
                if (obj := objs.get(pk)) is None:
                    raise ImportConflict(f"{self.model._meta.verbose_name} {pk} was deleted")
                names = [n for n, value in row.values.items() if getattr(obj, n) != value]
                for name in names:
                    setattr(obj, name, row.values[name])
                if self._has_updated_at:
                    obj.updated_at = now
                    names.append("updated_at")
                by_fields[tuple(self.model._meta.get_field(n).name for n in names)].append(obj)
                changed.append((row, obj))
        for fields, group in by_fields.items():
            bulk_update_with_history(
                group, self.model, list(fields), batch_size=UPDATE_BATCH_SIZE, **history
            )
        return [*new, *changed]


class PartnerSpec(KindSpec):
    kind = "partners"
    model = Partner
    columns = (
        "partner_id",
        "name",
        "country",
        "billing_model",
        "onboarded_on",
        "account_manager_email",
        "agreement_signed_on",
        "designations",
    )
    fields = (
        "name",
        "country",
        "billing_model",
        "onboarded_on",
        "account_manager_id",
        "agreement_signed_on",
    )
    key_fields = ("partner_id",)
    key_columns = ("partner_id",)
    notes = (
        "billing_model direct_bill or indirect_reseller (empty: indirect_reseller for a new "
        "partner, unchanged for an existing one); account_manager_email empty or the email of "
        "an active staff user; designations separated by |, by code, short name (Modern Work) or "
        "Microsoft's name (Solutions Partner for Modern Work), in any case; onboarded_on and "
        "agreement_signed_on not after today"
    )
    billing_models = _choice_map(BillingModel)

    def parse(self, row: Row) -> None:
        values = row.values
        values["partner_id"] = row.mpn_id("partner_id")
        values["name"] = row.text("name", max_length=200)
        values["country"] = row.country("country")
        billing_model = row.choice("billing_model", self.billing_models, required=False)
        if billing_model:
            values["billing_model"] = billing_model
        today = self.context.today
        values["onboarded_on"] = row.date("onboarded_on", limit=ONBOARDING, today=today)
        values["agreement_signed_on"] = row.date(
            "agreement_signed_on", required=False, limit=AGREEMENT, today=today
        )
        if email := row.raw("account_manager_email"):
            row.refs["account_manager_email"] = email.lower()
        else:
            values["account_manager_id"] = None
        designations = set()
        for name in row.raw("designations").split("|"):
            if not name.strip():
                continue
            try:
                designations.add(self.context.designations.resolve(name).pk)
            except UnknownDesignation as exc:
                row.error("designations", str(exc))
        row.extra["designations"] = frozenset(designations)

    def resolve(self, rows: Sequence[Row]) -> None:
        user_model = get_user_model()
        email_field = user_model.get_email_field_name()
        wanted = sorted({email for r in rows if (email := r.refs.get("account_manager_email"))})
        users: dict[str, list[tuple[int, bool]]] = defaultdict(list)
        for chunk in _chunks(wanted):
            matches = (
                user_model._default_manager.annotate(email_lower=Lower(email_field))
                .filter(email_lower__in=chunk)
                .values_list("email_lower", "pk", "is_staff", "is_active")
            )
            for email, pk, is_staff, is_active in matches:
                users[email].append((pk, is_staff and is_active))
        for row in rows:
            if not (email := row.refs.get("account_manager_email")):
                continue
            staff = [pk for pk, is_staff in users.get(email, []) if is_staff]
            if email not in users:
                row.error("account_manager_email", f"no user has the email {email}")
            elif not staff:
                row.error("account_manager_email", f"{email} is not an active staff user")
            elif len(staff) > 1:
                row.error("account_manager_email", f"several staff users have the email {email}")
            else:
                row.values["account_manager_id"] = staff[0]

    def existing(self, keys: set[tuple[Hashable, ...]]) -> dict[tuple, list[Stored]]:
        found = super().existing(keys)
        # designation id -> id of the link row, per existing partner
        self.links: dict[int, dict[int, int]] = defaultdict(dict)
        through = Partner.designations.through
        pks = sorted(stored["pk"] for matches in found.values() for stored in matches)
        for chunk in _chunks(pks):
            links = through.objects.filter(partner_id__in=chunk)
            for link_id, partner_pk, designation_pk in links.values_list(
                "id", "partner_id", "designation_id"
            ):
                self.links[partner_pk][designation_pk] = link_id
        return found

    def differs(self, row: Row, stored: Stored) -> bool:
        designations = set(self.links[stored["pk"]])
        return super().differs(row, stored) or row.extra["designations"] != designations

    def write(
        self,
        created: Sequence[Row],
        updated: Sequence[tuple[Row, int]],
        *,
        user: AbstractBaseUser | None,
        now: datetime.datetime,
        reason: str,
    ) -> list[tuple[Row, models.Model]]:
        written = super().write(created, updated, user=user, now=now, reason=reason)
        self._write_designations(written, now=now)
        return written

    def _write_designations(
        self, written: Sequence[tuple[Row, models.Model]], *, now: datetime.datetime
    ) -> None:
        """Bring the designation links in line with the file, then copy them
        into the history rows just written (what simple_history does for a
        single save, but in bulk)."""
        through = Partner.designations.through
        stale: list[int] = []
        new_links = []
        for row, partner in written:
            current = self.links[partner.pk]
            wanted = row.extra["designations"]
            stale.extend(link for designation, link in current.items() if designation not in wanted)
            new_links.extend(
                through(partner_id=partner.pk, designation_id=designation)
                for designation in sorted(wanted - set(current))
            )
        for chunk in _chunks(stale):
            through.objects.filter(id__in=chunk).delete()
        through.objects.bulk_create(new_links, batch_size=BATCH_SIZE)

        history_model = Partner.history.model
        link_history_model = history_model.designations.model
        final: dict[int, dict[int, int]] = {}
        for row, partner in written:
            current = self.links[partner.pk]
            final[partner.pk] = {d: current[d] for d in row.extra["designations"] if d in current}
        for link in new_links:
            final[link.partner_id][link.designation_id] = link.pk
        history_rows = []
        for chunk in _chunks(sorted(final)):
            snapshots = history_model.objects.filter(id__in=chunk, history_date=now)
            for history_id, partner_pk in snapshots.values_list("history_id", "id"):
                history_rows.extend(
                    link_history_model(
                        history_id=history_id,
                        id=link_id,
                        partner_id=partner_pk,
                        designation_id=designation,
                    )
                    for designation, link_id in sorted(final[partner_pk].items())
                )
        link_history_model.objects.bulk_create(history_rows, batch_size=BATCH_SIZE)

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        partner_ids = [row.values["partner_id"] for row in rows]
        return set(Partner.objects.filter(partner_id__in=partner_ids).values_list("pk", flat=True))


class LocationSpec(KindSpec):
    kind = "locations"
    model = Location
    columns = ("location_id", "partner_id", "country", "onboarded_on")
    fields = ("country", "onboarded_on")
    key_fields = ("location_id",)
    key_columns = ("location_id",)
    also_load = ("partner_id",)
    notes = (
        "partner_id must exist; a location cannot move to another partner; onboarded_on not "
        "after today"
    )

    def parse(self, row: Row) -> None:
        row.values["location_id"] = row.mpn_id("location_id")
        if partner_id := row.mpn_id("partner_id"):
            row.refs["partner_id"] = partner_id
        row.values["country"] = row.country("country")
        row.values["onboarded_on"] = row.date(
            "onboarded_on", limit=ONBOARDING, today=self.context.today
        )

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="partner_id", model=Partner, attname="partner_id")

    def existing(self, keys: set[tuple[Hashable, ...]]) -> dict[tuple, list[Stored]]:
        found = super().existing(keys)
        owners = sorted({stored["partner_id"] for matches in found.values() for stored in matches})
        self.owner_ids: dict[int, str] = {}
        for chunk in _chunks(owners):
            self.owner_ids.update(
                Partner.objects.filter(pk__in=chunk).values_list("pk", "partner_id")
            )
        return found

    def check_existing(self, row: Row, stored: Stored) -> None:
        partner_pk = row.values.get("partner_id")
        if partner_pk is not None and stored["partner_id"] != partner_pk:
            row.error(
                "partner_id",
                f"location {stored['location_id']} already belongs to partner "
                f"{self.owner_ids[stored['partner_id']]}",
            )


class ContactSpec(KindSpec):
    kind = "contacts"
    model = Contact
    columns = ("partner_id", "name", "email", "language", "receives_notices")
    fields = ("name", "email", "language", "receives_notices")
    key_fields = ("partner_id", "email")
    key_columns = ("partner_id", "email")
    lookup_fields = ("partner_id",)  # emails match in any case, so filter by partner only
    notes = (
        "one contact per partner and email (any case); language en or de; receives_notices yes/no"
    )
    languages = _choice_map(Language)

    def parse(self, row: Row) -> None:
        if partner_id := row.mpn_id("partner_id"):
            row.refs["partner_id"] = partner_id
        row.values["name"] = row.text("name", max_length=200)
        row.values["email"] = row.email("email")
        row.values["language"] = row.choice("language", self.languages)
        row.values["receives_notices"] = row.flag("receives_notices")

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="partner_id", model=Partner, attname="partner_id")

    def key(self, row: Row) -> tuple[Hashable, ...] | None:
        key = super().key(row)
        return None if key is None else (key[0], key[1].lower())

    def stored_key(self, stored: Stored) -> tuple[Hashable, ...]:
        return (stored["partner_id"], stored["email"].lower())

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        return set()  # no evaluation depends on contacts


class RevenueSpec(KindSpec):
    kind = "revenue"
    model = RevenueRecord
    columns = ("location_id", "date", "amount", "currency", "reference", "customer")
    fields = ("revenue_date", "amount", "currency_id", "customer")
    key_fields = ("location_id", "reference")
    key_columns = ("location_id", "reference")
    fixed = {"source": RevenueSource.IMPORT}
    history_of_new_records = False
    notes = (
        "stored with source 'import'; reference is unique per location, so a re-import "
        "changes nothing; negative amounts are credits; customer may be empty; date at most "
        "the last day of next month"
    )

    set_based = True  # COPY into a staging table and one merge, like Partner Center files

    def parse(self, row: Row) -> None:
        if location_id := row.mpn_id("location_id"):
            row.refs["location_id"] = location_id
        row.values["revenue_date"] = row.date("date", limit=REVENUE, today=self.context.today)
        row.values["amount"] = row.decimal(
            "amount", max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES
        )
        row.values["currency_id"] = row.currency("currency", self.context.currencies)
        row.values["reference"] = row.text("reference", max_length=200)
        row.values["customer"] = row.text("customer", max_length=200, required=False)
        for column in ("reference", "customer"):
            if "\x00" in row.raw(column):
                row.error(column, "contains a NUL character")

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="location_id", model=Location, attname="location_id")

    def merge(
        self,
        rows: Sequence[Row],
        report: ImportReport,
        *,
        write: bool,
        user: AbstractBaseUser | None,
        reason: str,
    ) -> None:
        from ingestion.partner_center import merge_revenue

        lines = [
            (
                row.line,
                values["location_id"],
                values["revenue_date"].isoformat(),
                str(values["amount"]),
                values["currency_id"],
                values["reference"],
                values["customer"],
            )
            for row in rows
            for values in (row.values,)
        ]
        merge_revenue(lines, report, write=write, user=user, reason=reason)

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        return partner_selectors.partner_pks_of_locations(row.values["location_id"] for row in rows)


class SupportContractSpec(KindSpec):
    kind = "support-contracts"
    model = SupportContract
    columns = (
        "partner_id",
        "plan_type",
        "contract_number",
        "start_date",
        "end_date",
        "paid",
        "amount",
        "currency",
    )
    fields = ("plan_type", "start_date", "end_date", "is_paid", "paid_on", "amount", "currency_id")
    key_fields = ("partner_id", "contract_number")
    key_columns = ("partner_id", "contract_number")
    notes = (
        "plan_type asfp, psfp, unified or other; paid is the date it was paid or yes/no "
        "(empty = no); amount and currency may be empty, but an amount needs a currency"
    )
    plan_types = _choice_map(PlanType, advanced="asfp", premier="psfp")

    def parse(self, row: Row) -> None:
        values = row.values
        if partner_id := row.mpn_id("partner_id"):
            row.refs["partner_id"] = partner_id
        values["plan_type"] = row.choice("plan_type", self.plan_types)
        values["contract_number"] = row.text("contract_number", max_length=100)
        values["start_date"] = start = row.date("start_date")
        values["end_date"] = end = row.date("end_date")
        if start and end and end < start:
            row.error("end_date", f"the end date {end} is before the start date {start}")
        paid = row.raw("paid")
        paid_on = parse_date(paid, german=row.dialect.german_dates) if paid else None
        values["paid_on"] = paid_on
        if paid_on is not None:
            values["is_paid"] = True
        elif paid.lower() in _FLAGS:
            values["is_paid"] = paid.lower() in _TRUE
        else:
            row.error("paid", f"{_shown(paid)} is neither a date (paid on) nor yes or no")
        values["amount"] = amount = row.decimal(
            "amount", max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, required=False
        )
        values["currency_id"] = row.currency(
            "currency", self.context.currencies, required=amount is not None
        )

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="partner_id", model=Partner, attname="partner_id")


class ExchangeRateSpec(KindSpec):
    kind = "fx-rates"
    model = ExchangeRate
    columns = ("currency", "month", "usd_per_unit")
    fields = ("usd_per_unit",)
    key_fields = ("currency_id", "month")
    key_columns = ("currency", "month")
    notes = "month YYYY-MM; usd_per_unit greater than 0 (USD itself is 1)"

    def parse(self, row: Row) -> None:
        row.values["currency_id"] = currency = row.currency("currency", self.context.currencies)
        row.values["month"] = row.month("month")
        row.values["usd_per_unit"] = rate = row.decimal(
            "usd_per_unit", max_digits=18, decimal_places=8
        )
        if rate is not None and rate <= 0:
            row.error("usd_per_unit", "must be greater than 0")
        elif rate is not None and currency == "USD" and rate != 1:
            row.error("usd_per_unit", "USD is 1 USD per unit")

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        return partner_selectors.partner_pks_with_revenue_in(
            (row.values["currency_id"], row.values["month"]) for row in rows
        )


KINDS: dict[str, type[KindSpec]] = {
    spec.kind: spec
    for spec in (
        PartnerSpec,
        LocationSpec,
        ContactSpec,
        RevenueSpec,
        SupportContractSpec,
        ExchangeRateSpec,
    )
}


# --- File formats -----------------------------------------------------------------------


@dataclass
class SourceRows:
    rows: list[Row]
    ignored_columns: list[str]


class SourceFormat(Protocol):
    """Turns a :class:`Table` into :class:`Row` objects whose cells are keyed
    by the kind's columns; ``Row.labels`` names the file's own column in
    messages when it differs."""

    name: str
    kinds: frozenset[str]

    def rows(self, spec: type[KindSpec], table: Table) -> SourceRows: ...


class SimpleFormat:
    """The simple CSV formats: a header with exactly the kind's column names."""

    name = "simple"
    kinds = frozenset(KINDS)

    def rows(self, spec: type[KindSpec], table: Table) -> SourceRows:
        header = table.header
        if spec.kind == "revenue" and (usage := daily_rated_usage_error(header)):
            raise FileRejected([usage])
        missing = [column for column in spec.columns if column not in header]
        repeated = sorted({c for c in header if c in spec.columns and header.count(c) > 1})
        errors = []
        if missing:
            errors.append(RowError(1, "", f"missing columns: {', '.join(missing)}"))
        if repeated:
            errors.append(RowError(1, "", f"repeated columns: {', '.join(repeated)}"))
        if errors:
            raise FileRejected(errors)
        positions = [(column, header.index(column)) for column in spec.columns]
        ignored = [column for column in header if column not in spec.columns]
        rows = []
        for line, cells in table.records:
            row = Row(
                line,
                {c: cells[i].strip() if i < len(cells) else "" for c, i in positions},
                table.dialect,
            )
            if any(cell.strip() for cell in cells[len(header) :]):
                row.error(
                    "",
                    f"this row has {len(cells)} values but the header has {len(header)} "
                    f"columns (a '{table.dialect.delimiter}' inside an unquoted value?)",
                )
            rows.append(row)
        return SourceRows(rows=rows, ignored_columns=[c for c in ignored if c])


class PartnerCenterFormat:
    """Partner Center reconciliation files (new-commerce and legacy). They
    are streamed rather than read as a :class:`Table`: see
    ``ingestion.partner_center`` (``import_file`` hands them over)."""

    name = "partner-center"
    kinds = frozenset({"revenue"})
    streaming = True

    def rows(self, spec: type[KindSpec], table: Table) -> SourceRows:
        raise NotImplementedError("partner-center files are streamed by ingestion.partner_center")


FORMATS: dict[str, SourceFormat] = {f.name: f for f in (SimpleFormat(), PartnerCenterFormat())}


def describe_kinds() -> str:
    """The kinds, their columns and what they accept (for ``--help`` and the UI)."""
    lines = ["kinds and their columns:"]
    for kind, spec in KINDS.items():
        lines.append(f"  {kind}")
        lines.append(f"      {','.join(spec.columns)}")
        lines.append(
            textwrap.fill(spec.notes, width=78, initial_indent=" " * 6, subsequent_indent=" " * 6)
        )
    return "\n".join(lines)


# --- The service ------------------------------------------------------------------------


def import_file(
    *,
    kind: str,
    source: Source,
    dry_run: bool = False,
    user: AbstractBaseUser | None = None,
    file_format: str = "simple",
    source_name: str | None = None,
    skip_unknown: bool = False,
    progress: Callable[[float], None] | None = None,
) -> ImportReport:
    """Import one CSV file of ``kind``, all or nothing.

    ``source`` is a path, an open binary file (an upload) or the bytes.
    Returns the report; when ``report.errors`` is not empty nothing was
    written. With ``dry_run`` the report says what would change and nothing
    is written. ``user`` is recorded as the author of the history rows.
    ``skip_unknown`` (Partner Center files) leaves out the lines of resellers
    that are no location instead of rejecting the file; ``progress`` is
    called with the share of the file read so far (Partner Center files).

    A successful import re-evaluates the partners it touched for today
    before it returns (``report.reevaluation``; PRODUCT 7), without deciding
    deadlines (4.6); a dry run or an import that changed nothing does not.

    Raises ``ValueError`` for an unknown kind or format and ``OSError`` if
    the file cannot be read.
    """
    report = _import_file(
        kind=kind,
        source=source,
        dry_run=dry_run,
        user=user,
        file_format=file_format,
        source_name=source_name,
        skip_unknown=skip_unknown,
        progress=progress,
    )
    if report.written:
        from compliance.services import partners_reevaluate

        if report.by_location and not report.partner_pks:  # Partner Center files
            report.partner_pks = set(
                Location.objects.filter(location_id__in=list(report.by_location))
                .values_list("partner_id", flat=True)
                .distinct()
            )
        report.reevaluation = partners_reevaluate(partner_pks=report.partner_pks)
    return report


def _import_file(
    *,
    kind: str,
    source: Source,
    dry_run: bool,
    user: AbstractBaseUser | None,
    file_format: str,
    source_name: str | None,
    skip_unknown: bool,
    progress: Callable[[float], None] | None,
) -> ImportReport:
    source_format = check_arguments(kind=kind, file_format=file_format, skip_unknown=skip_unknown)
    if getattr(source_format, "streaming", False):
        return _import_streamed(
            source,
            report=ImportReport(kind=kind, file_format=file_format, dry_run=dry_run),
            source_name=source_name,
            dry_run=dry_run,
            user=user,
            skip_unknown=skip_unknown,
            progress=progress,
        )

    name, data = _read_source(source)
    report = ImportReport(
        kind=kind, file_format=file_format, dry_run=dry_run, source_name=source_name or name
    )
    spec = KINDS[kind](ImportContext())
    try:
        table = read_table(data)
        report.dialect = table.dialect.label
        parsed = source_format.rows(type(spec), table)
    except FileRejected as exc:
        report.errors = exc.errors
        return report
    report.rows = len(parsed.rows)
    report.ignored_columns = parsed.ignored_columns

    reason = f"import {kind} {report.source_name}".strip()[:100]
    if dry_run:
        _import_rows(spec, parsed.rows, report, write=False, user=user, reason=reason)
        return report
    try:
        with transaction.atomic():
            _import_rows(spec, parsed.rows, report, write=True, user=user, reason=reason)
    except (IntegrityError, ImportConflict) as exc:
        # Someone changed the same records between our checks and our writes.
        report.created = report.updated = report.unchanged = 0
        report.errors = [
            RowError(0, "", f"the database refused the import, nothing was written ({exc})")
        ]
    return report


def check_arguments(*, kind: str, file_format: str, skip_unknown: bool) -> SourceFormat:
    """The format for ``file_format``; ``ValueError`` if the arguments of
    :func:`import_file` do not fit together."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if file_format not in FORMATS:
        raise ValueError(f"unknown format {file_format!r}; use one of {', '.join(FORMATS)}")
    source_format = FORMATS[file_format]
    if kind not in source_format.kinds:
        raise ValueError(f"the {file_format} format is for {', '.join(source_format.kinds)} only")
    if skip_unknown and not getattr(source_format, "streaming", False):
        raise ValueError("skipping unknown resellers is for partner-center files only")
    return source_format


def _import_streamed(
    source: Source,
    *,
    report: ImportReport,
    source_name: str | None,
    dry_run: bool,
    user: AbstractBaseUser | None,
    skip_unknown: bool,
    progress: Callable[[float], None] | None,
) -> ImportReport:
    from ingestion import partner_center

    def run(stream: IO[bytes], name: str, size: int | None) -> ImportReport:
        report.source_name = source_name or name
        return partner_center.revenue_import(
            stream=stream,
            report=report,
            dry_run=dry_run,
            skip_unknown=skip_unknown,
            user=user,
            progress=progress,
            total_bytes=size,
        )

    if isinstance(source, bytes):
        return run(io.BytesIO(source), "", len(source))
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as stream:
            return run(stream, path.name, path.stat().st_size)
    size = getattr(source, "size", None)
    return run(source, Path(getattr(source, "name", "") or "").name, size)


def check_header(*, kind: str, file_format: str, head: bytes) -> list[RowError]:
    """Whether the start of a file (``head``: its first bytes) is UTF-8 CSV
    text with a header that fits ``kind`` in ``file_format``; the problems,
    or an empty list. Used by the upload form before a file is stored."""
    if b"\x00" in head:
        return [RowError(0, "", "this is not a text file (it contains NUL bytes)")]
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return [RowError(1, "", 'the file is not UTF-8 text; save it as "CSV UTF-8"')]
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if "\n" not in text and len(head) >= HEAD_BYTES:
        return [RowError(1, "", "the first line is too long for a CSV header")]
    if not first_line.strip():
        return [RowError(1, "", "the file is empty or has no header row")]
    dialect = SEMICOLON if first_line.count(";") > first_line.count(",") else COMMA
    try:
        header = next(csv.reader([first_line], delimiter=dialect.delimiter), [])
    except csv.Error as exc:
        return [RowError(1, "", f"the header cannot be read as CSV ({exc})")]
    if file_format == "partner-center":
        from ingestion.partner_center import detect_layout

        try:
            detect_layout(header)
        except FileRejected as exc:
            return exc.errors
        return []
    if kind == "revenue" and (usage := daily_rated_usage_error(header)):
        return [usage]
    names = [name.strip().lower() for name in header]
    missing = [column for column in KINDS[kind].columns if column not in names]
    if missing:
        return [RowError(1, "", f"missing columns for {kind}: {', '.join(missing)}")]
    return []


#: Bytes of a file that :func:`check_header` needs to see.
HEAD_BYTES = 64 * 1024


def _read_source(source: Source) -> tuple[str, bytes]:
    if isinstance(source, bytes):
        return "", source
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return path.name, path.read_bytes()
    data = source.read()
    if isinstance(data, str):
        raise TypeError("open the file in binary mode")
    return Path(getattr(source, "name", "") or "").name, data


def _import_rows(
    spec: KindSpec,
    rows: list[Row],
    report: ImportReport,
    *,
    write: bool,
    user: AbstractBaseUser | None,
    reason: str,
) -> None:
    for row in rows:
        spec.parse(row)
    spec.resolve(rows)

    by_key: dict[tuple[Hashable, ...], Row] = {}
    for row in rows:
        key = spec.key(row)
        if key is None:
            continue  # the row already has an error
        if (first := by_key.get(key)) is not None:
            row.error(
                spec.key_columns[-1],
                f"duplicate of row {first.line} (same {' and '.join(spec.key_columns)})",
            )
        else:
            by_key[key] = row

    if spec.set_based and connection.vendor == "postgresql":
        errors = [error for row in rows for error in row.errors]
        if errors:
            report.errors = errors
            return
        spec.merge(list(by_key.values()), report, write=write, user=user, reason=reason)
        if write and (report.created or report.updated):
            report.partner_pks = spec.touched_partner_pks(list(by_key.values()))
        return

    existing = spec.existing(set(by_key))
    now = timezone.now()
    created: list[Row] = []
    updated: list[tuple[Row, int]] = []
    unchanged = 0
    for key, row in by_key.items():
        matches = existing.get(key, [])
        if len(matches) > 1:
            row.error(spec.key_columns[-1], "matches several stored records; fix them first")
            continue
        stored = matches[0] if matches else None
        if stored is not None:
            spec.check_existing(row, stored)
        if row.errors:
            continue
        if stored is None:
            created.append(row)
        elif spec.differs(row, stored):
            updated.append((row, stored["pk"]))
        else:
            unchanged += 1

    errors = [error for row in rows for error in row.errors]
    if errors:
        report.errors = errors
        return
    report.created, report.updated, report.unchanged = len(created), len(updated), unchanged
    if write:
        spec.write(created, updated, user=user, now=now, reason=reason)
        if created or updated:  # the partners the file names, as on the set-based path
            report.partner_pks = spec.touched_partner_pks(list(by_key.values()))


# --- Import runs (the staff upload page) -------------------------------------------------
#
# Services for ``ImportRun``: the staff pages and ``ingestion.tasks`` call
# these; the reads at the end are the access door for the pages (staff only:
# partners do not upload their own data).

#: (value, label) of the upload form; "revenue:partner-center" is the revenue
#: kind in the Partner Center format.
UPLOAD_KINDS: list[tuple[str, str]] = [
    ("partners", "partners"),
    ("locations", "locations"),
    ("contacts", "contacts"),
    ("revenue", "revenue"),
    ("revenue:partner-center", "revenue (Partner Center)"),
    ("support-contracts", "support contracts"),
    ("fx-rates", "exchange rates"),
]
UPLOAD_DIR = "imports"


def split_upload_kind(value: str) -> tuple[str, str]:
    """``"revenue:partner-center"`` -> ``("revenue", "partner-center")``."""
    kind, _, file_format = value.partition(":")
    return kind, file_format or "simple"


def _run_model():
    from ingestion.models import ImportRun

    return ImportRun


def import_run_create(
    *,
    user: AbstractBaseUser,
    kind: str,
    file_format: str,
    upload: IO[bytes],
    file_name: str,
    skip_unknown: bool = False,
):
    """Store an uploaded file under ``imports/`` and record it (pending).
    Hashes and counts the lines in one pass over the chunks."""
    from uuid import uuid4

    from django.core.files.storage import default_storage

    digest = hashlib.sha256()
    size = lines = 0
    chunks = (
        upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b"")
    )
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
    upload.seek(0)
    stored = default_storage.save(f"{UPLOAD_DIR}/{uuid4().hex}.csv", upload)
    return _run_model().objects.create(
        created_by=user,
        kind=kind,
        file_format=file_format,
        file_name=Path(file_name).name[:255],
        stored_name=stored,
        sha256=digest.hexdigest(),
        size=size,
        lines=lines,
        skip_unknown=skip_unknown,
    )


def import_run_is_large(run) -> bool:
    """Large files are previewed and imported by a Celery task."""
    return run.lines > getattr(settings, "IMPORT_ASYNC_ROWS", 50_000)


def import_run_confirm(*, run, user: AbstractBaseUser) -> bool:
    """Mark a previewed, clean run as running (the import itself is
    :func:`import_run_execute`). False if it is not in that state (a second
    click, another user was faster)."""
    model = _run_model()
    if run.error_count:
        return False
    claimed = model.objects.filter(pk=run.pk, status="previewed").update(
        status="running", progress=0.0, started_at=timezone.now(), finished_at=None
    )
    return bool(claimed)


def import_run_execute(*, run_id: int, dry_run: bool):
    """Preview (``dry_run``) or import the file of run ``run_id`` and store
    the report on the run. Safe to call twice: a preview runs only for a
    pending run, an import only for a running one that has not finished."""
    from django.core.files.storage import default_storage

    model = _run_model()
    now = timezone.now()
    if dry_run:
        claimed = model.objects.filter(pk=run_id, status="pending", started_at__isnull=True)
        if not claimed.update(started_at=now, progress=0.0):
            return model.objects.filter(pk=run_id).first()
    elif not model.objects.filter(pk=run_id, status="running", finished_at__isnull=True).exists():
        return model.objects.filter(pk=run_id).first()
    run = model.objects.select_related("created_by").get(pk=run_id)

    last = [0.0]

    def progress(share: float) -> None:
        # Scale: reading is most of the work; the merge is the rest.
        value = round(share * 0.9, 2)
        if value - last[0] >= 0.01:
            last[0] = value
            model.objects.filter(pk=run_id).update(progress=value)

    try:
        with default_storage.open(run.stored_name, "rb") as stream:
            report = import_file(
                kind=run.kind,
                source=stream,
                dry_run=dry_run,
                user=run.created_by,
                file_format=run.file_format,
                source_name=run.file_name,
                skip_unknown=run.skip_unknown,
                progress=progress,
            )
    except Exception as exc:
        logger.exception("import run %s failed", run_id)
        model.objects.filter(pk=run_id).update(
            status="failed" if not dry_run else "rejected",
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            progress=1.0,
        )
        return model.objects.get(pk=run_id)
    summary = _report_summary(report)
    counts = dict(run.counts or {})
    counts["result" if not dry_run else "preview"] = summary
    if dry_run:
        status = "previewed" if report.ok else "rejected"
    else:
        status = "succeeded" if report.ok else "failed"
    model.objects.filter(pk=run_id).update(
        status=status,
        counts=counts,
        errors=[[e.row, e.column, e.message] for e in report.errors[: model.ERRORS_KEPT]],
        error_count=len(report.errors),
        progress=1.0,
        finished_at=timezone.now() if (not dry_run or not report.ok) else None,
    )
    if status in ("succeeded", "rejected"):
        # The file is kept until it is imported (or can never be).
        default_storage.delete(run.stored_name)
    return model.objects.get(pk=run_id)


def _report_summary(report: ImportReport) -> dict[str, Any]:
    return {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "skipped": report.skipped,
        "dialect": report.dialect,
        "layout": report.layout,
        "ignored_columns": report.ignored_columns,
        "by_location": report.by_location,
        "totals": report.totals,
        "unknown_resellers": report.unknown_resellers,
        "reevaluation": (
            {
                "partners": again.partners,
                "as_of": again.as_of.isoformat(),
                "error": again.error,
            }
            if (again := report.reevaluation) is not None and (again.partners or again.error)
            else None
        ),
    }


class _FileDigest(threading.Thread):
    """SHA-256, size and lines of a file, computed beside the import (the
    hash releases the GIL, and the import reads its own copy of the pages)."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="import-file-digest", daemon=True)
        self.path = path
        self.sha256 = ""
        self.size = self.lines = 0
        self.error: OSError | None = None

    def run(self) -> None:
        digest = hashlib.sha256()
        try:
            with self.path.open("rb") as stream:
                while block := stream.read(1 << 20):
                    digest.update(block)
                    self.size += len(block)
                    self.lines += block.count(b"\n")
        except OSError as exc:
            self.error = exc
            return
        self.sha256 = digest.hexdigest()


def import_file_recorded(
    *,
    kind: str,
    path: Path,
    dry_run: bool = False,
    user: AbstractBaseUser | None = None,
    file_format: str = "simple",
    skip_unknown: bool = False,
) -> tuple[ImportReport, Any]:
    """:func:`import_file` for a file on disk (the ``import_data`` command),
    recorded as an ``ImportRun`` like an upload: who (``user``, may be
    None), when, the file name, hash, size and lines, the counts and the
    errors; the status is ``succeeded`` or ``rejected`` (nothing written),
    ``failed`` if the import raised. A dry run writes nothing, so it is not
    recorded (the run is None). Raises like :func:`import_file`."""
    check_arguments(kind=kind, file_format=file_format, skip_unknown=skip_unknown)
    if dry_run:
        report = import_file(kind=kind, source=path, dry_run=True, user=user,
                             file_format=file_format, skip_unknown=skip_unknown)  # fmt: skip
        return report, None
    model = _run_model()
    run = model.objects.create(
        created_by=user,
        kind=kind,
        file_format=file_format,
        file_name=path.name[:255],
        size=path.stat().st_size,
        skip_unknown=skip_unknown,
        status="running",
        started_at=timezone.now(),
    )
    digest = _FileDigest(path)
    digest.start()
    try:
        report = import_file(kind=kind, source=path, user=user, file_format=file_format,
                             skip_unknown=skip_unknown)  # fmt: skip
    except BaseException as exc:
        digest.join()
        model.objects.filter(pk=run.pk).update(
            status="failed",
            sha256=digest.sha256,
            lines=digest.lines,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    digest.join()
    model.objects.filter(pk=run.pk).update(
        status="succeeded" if report.ok else "rejected",
        sha256=digest.sha256,
        size=digest.size or run.size,
        lines=digest.lines,
        counts={"result": _report_summary(report)},
        errors=[[e.row, e.column, e.message] for e in report.errors[: model.ERRORS_KEPT]],
        error_count=len(report.errors),
        progress=1.0,
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return report, run


def import_runs_for_user(user: AbstractBaseUser):
    """Import runs ``user`` may see: all for staff, none for anyone else."""
    from partners.selectors import user_is_staff

    model = _run_model()
    if not user_is_staff(user):
        return model.objects.none()
    return model.objects.select_related("created_by")


def import_run_get_for_user(*, user: AbstractBaseUser, pk: int):
    """An import run ``user`` may see, else Http404."""
    from partners.selectors import get_for_user

    return get_for_user(import_runs_for_user(user), pk=pk)
