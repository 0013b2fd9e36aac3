"""Writing the demo data: bulk only.

On PostgreSQL ``COPY`` for every table (ids taken from the tables' sequences
first, so foreign keys can be filled in without a round trip per row; revenue
streamed to the server while it is generated, its secondary indexes and
constraints rebuilt once at the end, as pg_restore does), elsewhere
``bulk_create``. No history rows (django-simple-history) are written for the
generated data.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection, models

from core.bulk import LineReader, copy_from, copy_sql, copy_value
from partners.models import (
    Contact,
    ExchangeRate,
    Location,
    Partner,
    RevenueRecord,
    RevenueSource,
    SupportContract,
)

if TYPE_CHECKING:
    from .plans import Generator, PartnerPlan

# The tables the demo data fills (and ``demo_reset`` empties).
DEMO_MODELS = (Partner, Location, Contact, RevenueRecord, SupportContract, ExchangeRate)

CONTRACT_FIELDS = (
    "plan_type",
    "contract_number",
    "start_date",
    "end_date",
    "is_paid",
    "paid_on",
    "amount",
    "currency",
)
COPY_BATCH_ROWS = 50_000


def _copy(model: type[models.Model], fields: Iterable[str], lines: Iterable[str]) -> None:
    """COPY tab-separated text lines into ``model``'s table, streaming."""
    copy_from(copy_sql(model, list(fields)), LineReader(lines))


def _next_ids(model: type[models.Model], count: int) -> list[int]:
    opts = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [opts.db_table, opts.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _insert(
    model: type[models.Model], fields: tuple[str, ...], rows: list[tuple], *, ids: bool = False
) -> list[int]:
    """Insert ``rows`` (values in the order of ``fields``; foreign keys as
    ids) and return the new primary keys when ``ids`` is true."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        new_ids: list[int] = []
        if ids:
            new_ids = _next_ids(model, len(rows))
            fields = (model._meta.pk.name, *fields)
            rows = [(pk, *row) for pk, row in zip(new_ids, rows, strict=True)]
        _copy(model, fields, ("\t".join(map(copy_value, row)) + "\n" for row in rows))
        return new_ids
    attnames = [model._meta.get_field(name).attname for name in fields]
    objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
    model._base_manager.bulk_create(objs, batch_size=1_000)
    return [obj.pk for obj in objs]


_CONSTRAINTS_SQL = """
    SELECT c.conname, pg_get_constraintdef(c.oid)
    FROM pg_constraint c
    WHERE c.conrelid = %s::regclass AND c.contype IN ('u', 'f')
      AND NOT EXISTS (  -- a unique key that a foreign key elsewhere relies on stays
        SELECT 1 FROM pg_constraint f
        WHERE f.contype = 'f' AND c.contype = 'u' AND f.conindid = c.conindid
      )
    ORDER BY c.contype DESC, c.conname
"""
_INDEXES_SQL = """
    SELECT i.relname, pg_get_indexdef(i.oid)
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
      AND NOT EXISTS (
        SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid
      )
    ORDER BY i.relname
"""


@contextlib.contextmanager
def postgres_bulk_load(model: type[models.Model]) -> Iterator[None]:
    """Load an empty table the way pg_restore does: drop its secondary indexes,
    unique and foreign-key constraints, let the caller COPY, then re-create
    them (building an index once is several times faster than maintaining it
    row by row, and one validation query beats a trigger per row). Everything
    happens in the caller's transaction: on any error it all rolls back."""
    table = model._meta.db_table
    quote = connection.ops.quote_name
    # ALTER TABLE refuses to run while deferred foreign-key checks are pending
    # on the tables involved: run them now (Django's loaddata does the same).
    connection.check_constraints()
    with connection.cursor() as cursor:
        cursor.execute(_CONSTRAINTS_SQL, [table])
        constraints = cursor.fetchall()
        cursor.execute(_INDEXES_SQL, [table])
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")
    yield
    connection.check_constraints()
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in reversed(constraints):  # unique keys before foreign keys
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute(_CONSTRAINTS_SQL, [table])
        restored = cursor.fetchall()
        cursor.execute(_INDEXES_SQL, [table])
        if sorted(restored) != sorted(constraints) or cursor.fetchall() != indexes:
            raise RuntimeError(f"Could not restore the indexes and constraints of {table}.")


REVENUE_FIELDS = (
    "location",
    "revenue_date",
    "amount",
    "currency",
    "source",
    "reference",
    "customer",
    "created_at",
)


def _write_revenue(
    gen: Generator, plans: list[PartnerPlan], location_ids: list[int], now: datetime.datetime
) -> int:
    """Generate and write the revenue of ``plans``; returns the number of rows."""
    source = RevenueSource.IMPORT.value
    written = 0

    def rows() -> Iterator[tuple]:
        nonlocal written
        location_pks = iter(location_ids)
        for plan in plans:
            for loc in plan.locations:
                pk = next(location_pks)
                for line in gen.revenue.lines(plan, loc):
                    written += 1
                    yield pk, line

    if connection.vendor == "postgresql":
        stamp = now.isoformat()
        _copy(
            RevenueRecord,
            REVENUE_FIELDS,
            (
                f"{pk}\t{day}\t{amount}\t{currency}\t{source}\t{reference}\t{customer}\t{stamp}\n"
                for pk, (day, amount, currency, reference, customer) in rows()
            ),
        )
    else:
        batch: list[tuple] = []
        for pk, (day, amount, currency, reference, customer) in rows():
            day, amount = datetime.date.fromisoformat(day), Decimal(amount)
            batch.append((pk, day, amount, currency, source, reference, customer, now))
            if len(batch) >= COPY_BATCH_ROWS:
                _insert(RevenueRecord, REVENUE_FIELDS, batch)
                batch = []
        _insert(RevenueRecord, REVENUE_FIELDS, batch)
    return written


def write_chunk(gen: Generator, plans: list[PartnerPlan], now: datetime.datetime) -> int:
    """Write ``plans`` and their revenue; returns the number of revenue rows."""
    partner_ids = _insert(
        Partner,
        (
            "partner_id",
            "name",
            "country",
            "billing_model",
            "onboarded_on",
            "account_manager",
            "agreement_signed_on",
            "status",
            "created_at",
            "updated_at",
        ),
        [
            (
                p.partner_id,
                p.name,
                p.country,
                p.billing_model,
                p.onboarded_on,
                p.account_manager_id,
                p.agreement_signed_on,
                p.status,
                now,
                now,
            )
            for p in plans
        ],
        ids=True,
    )
    pairs = list(zip(partner_ids, plans, strict=True))
    _insert(
        Partner.designations.through,
        ("partner", "designation"),
        [(pk, designation) for pk, plan in pairs for designation in plan.designations],
    )
    location_ids = _insert(
        Location,
        (
            "location_id",
            "partner",
            "name",
            "country",
            "onboarded_on",
            "is_active",
            "created_at",
            "updated_at",
        ),
        [
            (loc.location_id, pk, loc.name, loc.country, loc.onboarded_on, loc.is_active, now, now)
            for pk, plan in pairs
            for loc in plan.locations
        ],
        ids=True,
    )
    _insert(
        Contact,
        ("partner", "name", "email", "language", "receives_notices", "created_at", "updated_at"),
        [(pk, *contact, now, now) for pk, plan in pairs for contact in plan.contacts],
    )
    _insert(
        SupportContract,
        (*CONTRACT_FIELDS, "partner", "created_at", "updated_at"),
        [
            (*(contract[name] for name in CONTRACT_FIELDS), pk, now, now)
            for pk, plan in pairs
            for contract in plan.contracts
        ],
    )
    return _write_revenue(gen, plans, location_ids, now)
