"""The one revenue upsert (docs/decisions/0008-one-revenue-upsert.md).

Every bulk write of revenue lines goes through here: the API's ``POST
/api/v1/revenue/bulk/`` (source ``api``), the simple CSV ``revenue`` kind and
Partner Center reconciliation files (source ``import``). Lines are keyed by
(location, source, reference):

- a key that is not stored is **created** (with a history row only when the
  caller asks: an import of 100,000 lines says where its records came from
  by source, reference and ``created_at``);
- a stored key whose date, amount, currency or customer differ (``IS
  DISTINCT FROM``) is **updated**, with a history row (user, reason);
- the rest is **unchanged** and left alone: no write, no lock, no history
  row, so posting or importing the same lines again changes nothing.

Two engines keep one contract (``add`` lines, then ``plan`` or ``write``,
then ``close``):

- :class:`RevenueStaging`, PostgreSQL: ``COPY`` into a temporary staging
  table, then one statement that matches the staged lines with the stored
  records, updates the changed ones with their history rows and inserts the
  new ones (docs/decisions/0004). A stream (a Partner Center file) feeds the
  ``COPY`` while it is read (:meth:`RevenueStaging.load`).
- :class:`RevenueRows`, portable (SQLite): chunked lookups, ``bulk_create``
  and ``bulk_update`` with django-simple-history's bulk helpers.

:func:`revenue_lines_upsert` runs the database's engine on lines held in
memory. The callers check every value first (all or nothing; the dates with
``partners.dates.REVENUE``) and give each key once, unless the engine numbers
repeats (``number_repeats``: Partner Center lines). A write that collides with
a concurrent one raises ``IntegrityError``, which each door reports in its
own words (409, "the database refused the import").

Both engines check in one statement, inside the write's transaction, that
the lines' locations and currencies are stored, and lock them against
deletion until the commit (``FOR KEY SHARE``, what a foreign key's trigger
does once per row): the revenue table keeps no database foreign key to the
currency table, only a check that the code is an ISO 4217 code
(docs/decisions/0011). A line whose location or currency went missing after
the caller checked it raises :class:`RevenueReferenceMissing`, which names
the lines.
"""

from __future__ import annotations

import datetime
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import psycopg2.extensions
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from core.bulk import (
    INSERT_BATCH_SIZE,
    UPDATE_BATCH_SIZE,
    Readable,
    copy_escape,
    copy_from,
    in_chunks,
)

from .currencies import ISO_CODES
from .models import MONEY_DIGITS, MONEY_PLACES, Currency, Location, RevenueRecord

#: The values compared with the stored record (the key aside).
COMPARED_FIELDS = ("revenue_date", "amount", "currency_id", "customer")


class RevenueLine(NamedTuple):
    """One checked revenue line (a tuple: an import holds 100,000 of them)."""

    #: primary key of the location
    location_id: int
    revenue_date: datetime.date
    amount: Decimal
    currency_id: str
    reference: str
    customer: str = ""


#: A line as the staging table's ``COPY`` takes it: (line, location pk,
#: revenue date as ``YYYY-MM-DD``, amount as text, currency, reference,
#: customer). Text rather than dates and Decimals: a stream's million lines
#: go from the text of the file into the ``COPY`` without becoming objects.
StagedLine = tuple[int, int, str, str, str, str, str]


#: Lines named at most by :class:`RevenueReferenceMissing`.
MISSING_LINES_SHOWN = 1000


class RevenueReferenceMissing(IntegrityError):
    """Lines whose location or currency is not stored (removed after the
    caller checked the lines). ``problems`` holds (line, field, value) for
    at most :data:`MISSING_LINES_SHOWN` lines, in line order; ``field`` is
    ``"location"`` (the value is the location's primary key) or
    ``"currency"`` (the code). Nothing was written."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        self.problems = problems
        shown = ", ".join(f"line {line}: {field} {value}" for line, field, value in problems[:5])
        super().__init__(f"revenue lines name locations or currencies that are not stored: {shown}")


def revenue_currency_codes() -> set[str]:
    """The codes a revenue line may be in: the ISO 4217 codes (what the
    database checks) that the currency table holds."""
    return set(Currency.objects.filter(code__in=ISO_CODES).values_list("code", flat=True))


@dataclass(frozen=True)
class RevenueUpsert:
    """What an upsert did (``write``) or would do (``plan``)."""

    created: int
    updated: int
    unchanged: int
    #: after a write: the locations whose records were created or changed
    #: (a plan leaves it empty)
    location_pks: frozenset[int] = frozenset()


def revenue_lines_upsert(
    *,
    lines: Sequence[RevenueLine],
    source: str,
    user: User | None,
    reason: str,
    write: bool = True,
    history_of_created: bool = False,
    keep_concurrent: bool = False,
    synchronous_commit: bool = True,
    portable: bool = False,
) -> RevenueUpsert:
    """Plan (``write=False``) or store ``lines`` with ``source``, each key
    once, by the engine of the database (see the module doc). A write is
    one transaction (the caller's, if one is open).

    - ``user`` and ``reason`` go into the history rows; ``history_of_created``
      gives new records a history row too.
    - ``keep_concurrent``: a key that a concurrent writer stored first stays
      theirs and counts as unchanged (the same lines of the same file),
      instead of an ``IntegrityError`` (PostgreSQL; on SQLite writers take
      turns).
    - ``synchronous_commit=False``: the commit does not wait for the disk
      (PostgreSQL): for writes that are simply repeated if a crash loses
      them, like a file import; never for an answer a client relies on.
    - ``portable``: the portable engine on PostgreSQL too (the tests compare
      the two engines).
    """
    if not write:
        engine = _engine(portable=portable)
        try:
            engine.add(lines)
            return engine.plan(source=source)
        finally:
            engine.close()
    with transaction.atomic(savepoint=False):
        engine = _engine(portable=portable)
        try:
            engine.add(lines)
            return engine.write(
                source=source,
                user=user,
                reason=reason,
                history_of_created=history_of_created,
                keep_concurrent=keep_concurrent,
                synchronous_commit=synchronous_commit,
            )
        finally:
            engine.close()


def _engine(*, portable: bool) -> RevenueStaging | RevenueRows:
    if connection.vendor == "postgresql" and not portable:
        return RevenueStaging()
    return RevenueRows()


# --- The portable engine ---------------------------------------------------------


class RevenueRows:
    """Lines held in memory, planned and written through the ORM in chunks
    (the engine on SQLite; tests run it on PostgreSQL against
    :class:`RevenueStaging`).

    With ``number_repeats`` a key seen again gets ``#2``, ``#3``... appended
    to its reference, in the order the lines are added.
    """

    def __init__(self, *, number_repeats: bool = False) -> None:
        self.lines: list[RevenueLine] = []
        #: the line number of each line (given by add_staged, else counted)
        self.numbers: list[int] = []
        self._seen: dict[tuple[int, str], int] | None = {} if number_repeats else None

    def add(self, lines: Iterable[RevenueLine], numbers: Iterable[int] | None = None) -> None:
        first = len(self.lines) + 1
        before = len(self.lines)
        if self._seen is None:
            self.lines.extend(lines)
        else:
            seen = self._seen
            for line in lines:
                key = (line.location_id, line.reference)
                count = seen[key] = seen.get(key, 0) + 1
                self.lines.append(
                    line if count == 1 else line._replace(reference=f"{line.reference}#{count}")
                )
        self.numbers.extend(
            numbers if numbers is not None else range(first, first + len(self.lines) - before)
        )

    def add_staged(self, lines: Iterable[StagedLine]) -> None:
        """Lines in the staging table's text form (see :data:`StagedLine`)."""
        date, decimal = datetime.date.fromisoformat, Decimal
        lines = list(lines)
        self.add(
            (
                RevenueLine(pk, date(day), decimal(amount), currency, reference, customer)
                for _, pk, day, amount, currency, reference, customer in lines
            ),
            [line[0] for line in lines],
        )

    def check_references(self, *, lock: bool) -> None:
        """Raise :class:`RevenueReferenceMissing` for lines whose location
        or currency is not stored; with ``lock`` the found rows stay locked
        against deletion until the commit (``FOR UPDATE``, as the ORM can
        say it: this engine runs on PostgreSQL only in the tests; SQLite
        writes one transaction at a time)."""
        locations, currencies = Location.objects.all(), Currency.objects.all()
        if lock:
            locations, currencies = locations.select_for_update(), currencies.select_for_update()
        location_pks = {line.location_id for line in self.lines}
        found: set[int] = set()
        for chunk in in_chunks(sorted(location_pks)):
            found.update(locations.filter(pk__in=chunk).values_list("pk", flat=True))
        codes = {line.currency_id for line in self.lines}
        known = set(currencies.filter(code__in=codes).values_list("code", flat=True))
        missing_locations, missing_codes = location_pks - found, codes - known
        if not missing_locations and not missing_codes:
            return
        problems: list[tuple[int, str, str]] = []
        for number, line in zip(self.numbers, self.lines, strict=True):
            if line.location_id in missing_locations:
                problems.append((number, "location", str(line.location_id)))
            if line.currency_id in missing_codes:
                problems.append((number, "currency", line.currency_id))
        problems.sort()
        raise RevenueReferenceMissing(problems[:MISSING_LINES_SHOWN])

    def plan(self, *, source: str) -> RevenueUpsert:
        self.check_references(lock=False)
        created, changed, unchanged = self._sort(source, lock=False)
        return RevenueUpsert(created=len(created), updated=len(changed), unchanged=unchanged)

    def write(
        self,
        *,
        source: str,
        user: User | None,
        reason: str,
        history_of_created: bool = False,
        keep_concurrent: bool = False,
        synchronous_commit: bool = True,
    ) -> RevenueUpsert:
        """Insert the new records and update the changed ones, in bulk and
        with history rows, in the caller's transaction. ``keep_concurrent``
        and ``synchronous_commit`` are PostgreSQL's (see
        :func:`revenue_lines_upsert`): here a concurrent insert of the same
        key raises ``IntegrityError``."""
        self.check_references(lock=True)
        created, changed, unchanged = self._sort(source, lock=True)
        now = timezone.now()
        history = {"default_user": user, "default_change_reason": reason, "default_date": now}
        new = [RevenueRecord(source=source, **line._asdict()) for line in created]
        if new and history_of_created:
            bulk_create_with_history(new, RevenueRecord, batch_size=INSERT_BATCH_SIZE, **history)
        elif new:
            RevenueRecord.objects.bulk_create(new, batch_size=INSERT_BATCH_SIZE)

        # bulk_update() costs time per object and field, so the records are
        # grouped by the fields that really changed (usually one or two).
        by_fields: dict[tuple[str, ...], list[RevenueRecord]] = defaultdict(list)
        for chunk in in_chunks(changed):
            records = RevenueRecord.objects.in_bulk([pk for _, pk in chunk])
            for line, pk in chunk:
                if (record := records.get(pk)) is None:
                    raise IntegrityError(f"revenue record {pk} was deleted")
                names = []
                for name in COMPARED_FIELDS:
                    if getattr(record, name) != (value := getattr(line, name)):
                        setattr(record, name, value)
                        names.append(RevenueRecord._meta.get_field(name).name)
                by_fields[tuple(names)].append(record)
        for fields, group in by_fields.items():
            bulk_update_with_history(
                group, RevenueRecord, list(fields), batch_size=UPDATE_BATCH_SIZE, **history
            )
        touched = {line.location_id for line in created}
        touched.update(line.location_id for line, _ in changed)
        return RevenueUpsert(
            created=len(created),
            updated=len(changed),
            unchanged=unchanged,
            location_pks=frozenset(touched),
        )

    def close(self) -> None:
        self.lines = []
        self.numbers = []

    def _sort(
        self, source: str, *, lock: bool
    ) -> tuple[list[RevenueLine], list[tuple[RevenueLine, int]], int]:
        """The lines to create, those to update (with the primary key of
        their record) and the number unchanged."""
        stored = self._stored(source, lock=lock)
        created: list[RevenueLine] = []
        changed: list[tuple[RevenueLine, int]] = []
        unchanged = 0
        for line in self.lines:
            match = stored.get((line.location_id, line.reference))
            if match is None:
                created.append(line)
            elif match[1:] != (line.revenue_date, line.amount, line.currency_id, line.customer):
                changed.append((line, match[0]))
            else:
                unchanged += 1
        return created, changed, unchanged

    def _stored(self, source: str, *, lock: bool) -> dict[tuple[int, str], tuple]:
        """(location, reference) -> (pk, *COMPARED_FIELDS) of the stored
        records of the lines' keys, as tuples (cheaper than model instances
        for 100,000 rows); locked for the write."""
        keys = {(line.location_id, line.reference) for line in self.lines}
        stored = RevenueRecord.objects.filter(source=source)
        if lock:
            stored = stored.select_for_update()
        records = stored.values_list("location_id", "reference", "pk", *COMPARED_FIELDS)
        found: dict[tuple[int, str], tuple] = {}
        for chunk in in_chunks(sorted(keys)):
            matches = records.filter(
                location_id__in={key[0] for key in chunk}, reference__in={key[1] for key in chunk}
            )
            for location_pk, reference, *values in matches:
                if (location_pk, reference) in keys:
                    found[location_pk, reference] = tuple(values)
        return found


# --- The PostgreSQL engine -------------------------------------------------------

STAGING = "revenue_staging"
#: Memory for the sorts and hashes of the merge (a million staged lines take
#: about 150 MB); local to the merge's transaction.
MERGE_WORK_MEM = "256MB"
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def staged_text(lines: Iterable[StagedLine]) -> str:
    """``lines`` as ``COPY`` text for :class:`RevenueStaging` (the hot path
    of a million-line file: only the two free texts can need escapes)."""
    special = _COPY_SPECIAL.search
    return "".join(
        [
            f"{line}\t{pk}\t{day}\t{amount}\t{currency}\t"
            f"{copy_escape(reference) if special(reference) else reference}\t"
            f"{copy_escape(customer) if special(customer) else customer}\n"
            for line, pk, day, amount, currency, reference, customer in lines
        ]
    )


def _distinct(stored: str, new: str) -> str:
    return (
        f"({', '.join(f'{stored}.{f}' for f in COMPARED_FIELDS)}) IS DISTINCT FROM "
        f"({', '.join(f'{new}.{f}' for f in COMPARED_FIELDS)})"
    )


def _transaction_failed() -> bool:
    """True while PostgreSQL refuses statements until a rollback."""
    raw = connection.connection
    return (
        raw is not None
        and raw.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR
    )


class RevenueStaging:
    """A temporary table of staged lines, merged into the revenue records by
    one statement (PostgreSQL).

    The table lives for the session, not the transaction, so that a stream
    can be staged outside the write's transaction (and its progress saved);
    :meth:`close` drops it. With ``number_repeats`` a key staged again gets
    ``#2``, ``#3``... appended to its reference, in line order, before a plan
    or a write.
    """

    COPY = (
        f"COPY {STAGING} (line, location_id, revenue_date, amount, currency_id, reference,"
        " customer) FROM STDIN"
    )

    def __init__(self, *, number_repeats: bool = False) -> None:
        self.number_repeats = number_repeats
        #: lines staged so far
        self.rows = 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"DROP TABLE IF EXISTS {STAGING};"
                f" CREATE TEMPORARY TABLE {STAGING} ("
                " line integer NOT NULL,"
                " location_id bigint NOT NULL,"
                " revenue_date date NOT NULL,"
                f" amount numeric({MONEY_DIGITS},{MONEY_PLACES}) NOT NULL,"
                " currency_id varchar(3) NOT NULL,"
                " reference varchar(200) NOT NULL,"
                " customer varchar(200) NOT NULL)"
            )

    def load(self, data: Readable) -> None:
        """One ``COPY`` of the :func:`staged_text` that ``data.read()``
        returns, pulled while it is produced; no other query can run until
        ``read()`` answers ``""``."""
        self.rows += copy_from(self.COPY, data)

    def add(self, lines: Iterable[RevenueLine]) -> None:
        first = self.rows + 1
        staged = [
            (n, line.location_id, line.revenue_date.isoformat(), str(line.amount),
             line.currency_id, line.reference, line.customer)
            for n, line in enumerate(lines, start=first)
        ]  # fmt: skip
        self.add_staged(staged)

    def add_staged(self, lines: Iterable[StagedLine]) -> None:
        self.load(io.StringIO(staged_text(lines)))

    def _prepare(self, cursor: CursorWrapper) -> None:
        """Inside the plan's or the write's transaction: settings, the
        numbering of repeated keys, statistics."""
        cursor.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
        if self.number_repeats:
            cursor.execute(
                f"UPDATE {STAGING} s SET reference = s.reference || '#' || d.n"
                " FROM (SELECT line, row_number() OVER"
                "  (PARTITION BY location_id, reference ORDER BY line) AS n"
                f"  FROM {STAGING} WHERE (location_id, reference) IN"
                f"  (SELECT location_id, reference FROM {STAGING}"
                "    GROUP BY location_id, reference HAVING count(*) > 1)) d"
                " WHERE s.line = d.line AND d.n > 1"
            )
        cursor.execute(f"ANALYZE {STAGING}")

    def check_references(self, cursor: CursorWrapper, *, lock: bool) -> None:
        """One statement over the staged lines' distinct (location,
        currency) pairs: raise :class:`RevenueReferenceMissing` for lines
        whose location or currency is not stored. With ``lock`` the found
        rows are locked against deletion until the commit (``FOR KEY
        SHARE``): what the foreign keys' triggers did once per line, once
        per location and currency."""
        locking = " FOR KEY SHARE" if lock else ""
        locations, currencies = Location._meta.db_table, Currency._meta.db_table
        cursor.execute(
            "WITH pairs AS MATERIALIZED ("
            f" SELECT DISTINCT location_id, currency_id FROM {STAGING}"
            "), found_locations AS MATERIALIZED ("
            f" SELECT id FROM {locations} WHERE id IN (SELECT location_id FROM pairs){locking}"
            "), found_currencies AS MATERIALIZED ("
            f" SELECT code FROM {currencies} WHERE code IN (SELECT currency_id FROM pairs)"
            f"{locking}"
            ")"
            " SELECT array_agg(DISTINCT p.location_id) FILTER (WHERE l.id IS NULL),"
            "  array_agg(DISTINCT p.currency_id) FILTER (WHERE c.code IS NULL)"
            " FROM pairs p LEFT JOIN found_locations l ON l.id = p.location_id"
            " LEFT JOIN found_currencies c ON c.code = p.currency_id"
        )
        missing_locations, missing_codes = cursor.fetchone()
        if not missing_locations and not missing_codes:
            return
        missing_locations, missing_codes = missing_locations or [], missing_codes or []
        cursor.execute(
            f"SELECT line, location_id, currency_id FROM {STAGING}"
            " WHERE location_id = ANY(%s) OR currency_id = ANY(%s) ORDER BY line LIMIT %s",
            [missing_locations, missing_codes, MISSING_LINES_SHOWN],
        )
        problems: list[tuple[int, str, str]] = []
        for line, location_pk, code in cursor.fetchall():
            if location_pk in missing_locations:
                problems.append((line, "location", str(location_pk)))
            if code in missing_codes:
                problems.append((line, "currency", code))
        raise RevenueReferenceMissing(problems[:MISSING_LINES_SHOWN])

    def plan(self, *, source: str) -> RevenueUpsert:
        table = RevenueRecord._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            self._prepare(cursor)
            self.check_references(cursor, lock=False)
            cursor.execute(
                "SELECT count(*) FILTER (WHERE r.id IS NULL),"
                f" count(*) FILTER (WHERE r.id IS NOT NULL AND {_distinct('r', 's')})"
                f" FROM {STAGING} s LEFT JOIN {table} r ON r.location_id = s.location_id"
                " AND r.source = %s AND r.reference = s.reference",
                [source],
            )
            created, updated = cursor.fetchone()
        return RevenueUpsert(
            created=created, updated=updated, unchanged=self.rows - created - updated
        )

    def write(
        self,
        *,
        source: str,
        user: User | None,
        reason: str,
        history_of_created: bool = False,
        keep_concurrent: bool = False,
        synchronous_commit: bool = True,
    ) -> RevenueUpsert:
        """One statement, in the caller's transaction: the staged lines are
        matched with the stored records once; changed records are updated
        (with their history rows), lines without a record inserted (in key
        order, kind to the indexes). Unchanged records are not touched: no
        lock, no new row version, no WAL (``INSERT ... ON CONFLICT DO UPDATE
        ... WHERE`` would lock every one). The update compares again with the
        row it locks, so a record that a concurrent write has just given the
        same values stays unchanged."""
        table = RevenueRecord._meta.db_table
        history = RevenueRecord.history.model._meta.db_table
        columns = (
            "id, location_id, revenue_date, amount, currency_id, source, reference, customer,"
            " created_at"
        )
        params: dict[str, str | datetime.datetime | int | None] = {
            "source": source,
            "now": timezone.now(),
            "reason": reason,
            "user": user.pk if user is not None else None,
        }
        # A writer at the same time stored some of the keys first: with
        # keep_concurrent theirs stand (the same lines) and ours count as
        # unchanged; else the unique key refuses the statement.
        on_conflict = (
            " ON CONFLICT (location_id, source, reference) DO NOTHING" if keep_concurrent else ""
        )
        created_returns = columns if history_of_created else "location_id"
        created_history = (
            "), created_history AS ("
            f" INSERT INTO {history} ({columns}, history_date, history_change_reason,"
            "  history_type, history_user_id)"
            f"  SELECT {columns}, %(now)s, %(reason)s, '+', %(user)s FROM created"
            if history_of_created
            else ""
        )
        with connection.cursor() as cursor:
            self._prepare(cursor)
            self.check_references(cursor, lock=True)
            if not synchronous_commit:
                cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(
                "WITH matched AS MATERIALIZED ("
                " SELECT s.location_id, s.revenue_date, s.amount, s.currency_id, s.reference,"
                f"  s.customer, r.id AS stored, r.id IS NOT NULL AND {_distinct('r', 's')}"
                f"  AS changed FROM {STAGING} s LEFT JOIN {table} r"
                "  ON r.location_id = s.location_id AND r.source = %(source)s"
                "  AND r.reference = s.reference"
                "), changed AS ("
                f" UPDATE {table} r SET revenue_date = m.revenue_date, amount = m.amount,"
                "  currency_id = m.currency_id, customer = m.customer"
                f"  FROM matched m WHERE m.changed AND r.id = m.stored AND {_distinct('r', 'm')}"
                f"  RETURNING r.{columns.replace(', ', ', r.')}"
                "), history AS ("
                f" INSERT INTO {history} ({columns}, history_date, history_change_reason,"
                "  history_type, history_user_id)"
                f"  SELECT {columns}, %(now)s, %(reason)s, '~', %(user)s FROM changed"
                "), created AS ("
                f" INSERT INTO {table} (location_id, revenue_date, amount, currency_id, source,"
                "  reference, customer, created_at)"
                "  SELECT location_id, revenue_date, amount, currency_id, %(source)s, reference,"
                "  customer, %(now)s FROM matched WHERE stored IS NULL"
                f"  ORDER BY location_id, reference{on_conflict} RETURNING {created_returns}"
                f"{created_history}"
                ")"
                " SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM changed),"
                "  ARRAY(SELECT DISTINCT location_id FROM"
                "   (SELECT location_id FROM created UNION ALL SELECT location_id FROM changed) t)",
                params,
            )
            created, updated, location_pks = cursor.fetchone()
        return RevenueUpsert(
            created=created,
            updated=updated,
            unchanged=self.rows - created - updated,
            location_pks=frozenset(location_pks),
        )

    def close(self) -> None:
        if _transaction_failed():
            # The rollback that follows drops the staging table with the
            # rest (or it is dropped before the next staging); a statement
            # now would only hide the error that failed it.
            return
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")
