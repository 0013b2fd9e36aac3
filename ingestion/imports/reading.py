"""Reading a simple CSV file: the table of raw cells, and :class:`Row`, which
turns one record's cells into field values, collecting every error."""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from ingestion.files import Dialect, dialect_of, shown
from ingestion.report import FileRejected, RowError
from partners.dates import DateLimit
from partners.models import MPN_ID_MAX_LENGTH

Source = bytes | str | os.PathLike[str] | IO[bytes]


@dataclass
class Table:
    """The raw CSV: normalised header names and the records with their line."""

    dialect: Dialect
    header: list[str]
    records: list[tuple[int, list[str]]]


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
    dialect = dialect_of(first_line)

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
TRUE_WORDS = frozenset({"yes", "true", "1", "ja", "wahr"})
FALSE_WORDS = frozenset({"no", "false", "0", "nein", "falsch", ""})
FLAG_WORDS = TRUE_WORDS | FALSE_WORDS


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


def choice_map(choices: type[models.TextChoices], **aliases: str) -> dict[str, str]:
    """Accepted spellings (value or label, any case) -> stored value."""
    accepted = {alias.lower(): value for alias, value in aliases.items()}
    for value, label in choices.choices:
        accepted[value.lower()] = value
        accepted[str(label).lower()] = value
    return accepted


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
                f"{shown(value)} is not a Microsoft partner id "
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
                column, f"{shown(self.raw(column))} is not a two-letter country code (e.g. DE)"
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
            self.error(column, f"{shown(value)} is not one of {self._choices(accepted)}")
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
            self.error(column, f"{shown(value)} is not a valid date ({self._date_formats()})")
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
        self.error(column, f"{shown(value)} is not a month (use YYYY-MM)")
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
            self.error(column, f"{shown(value)} is not a number (e.g. {example})")
            return None
        if abs(number) >= Decimal(10) ** (max_digits - decimal_places):
            self.error(column, f"{shown(value)} is too large")
            return None
        # (quantize() after the size check: it fails beyond 28 digits)
        if number != number.quantize(Decimal(1).scaleb(-decimal_places)):
            self.error(column, f"{shown(value)} has more than {decimal_places} decimal places")
            return None
        return number

    def flag(self, column: str) -> bool | None:
        value = self.raw(column).lower()
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        self.error(column, f"{shown(self.raw(column))} is not yes or no")
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
                f"{shown(self.raw(column))} is not a three-letter currency code (e.g. EUR)",
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
                self.error(column, f"{shown(value)} is not an email address")
        return value


def read_source(source: Source) -> tuple[str, bytes]:
    """The file name (if any) and the bytes of ``source``."""
    if isinstance(source, bytes):
        return "", source
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return path.name, path.read_bytes()
    data = source.read()
    if isinstance(data, str):
        raise TypeError("open the file in binary mode")
    return Path(getattr(source, "name", "") or "").name, data
