"""Spreadsheet-safe CSV writing and the rows of the partner list export,
shared by the web list's export (``partners:export``) and ``/exports/``."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.db.models import QuerySet

from compliance import selectors as compliance_selectors
from core.formatting import round_cents
from partners.models import Partner

Row = Sequence[object]
CHUNK_SIZE = 2000

PARTNER_EXPORT_HEADER = (
    "partner_id",
    "name",
    "country",
    "billing_model",
    "partner_status",
    "account_manager",
    "onboarded_on",
    "status",
    "statuses_by_policy",
    "ttm_revenue_usd",
    "next_deadline",
    # the deadline outlook (PRODUCT 4.9) of the subject it matters most for:
    # the worst outlook, then the nearest deadline, then the largest need
    "outlook",
    "outlook_subject_id",
    "outlook_policy",
    "outlook_deadline",
    "secured_usd",
    "rolling_off_usd",
    "needed_usd",
    "pace_usd",
    "projected_usd",
)


def cents(value: Decimal | None) -> Decimal | None:
    """An exact amount rounded half-up to cents for a file (None stays None)."""
    return None if value is None else round_cents(value)


def csv_safe(value) -> object:
    """Neutralise spreadsheet formulas: text starting with = + - @ (or a
    tab / carriage return) gets a leading single quote. Numbers and dates we
    write ourselves are left as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return f"'{value}"
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return csv_safe(value)


def csv_stream(header: Row, rows: Iterable[Row]) -> Iterator[str]:
    """CSV lines for a StreamingHttpResponse: a BOM (Excel reads UTF-8
    correctly then), the header, then every row with formulas neutralised."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_csv_value(value) for value in row])


def partner_export_rows(queryset: QuerySet[Partner]) -> Iterator[Row]:
    """One row per partner (columns of ``PARTNER_EXPORT_HEADER``), read in
    chunks so that memory and queries do not grow with the list."""
    batch: list[Partner] = []
    for partner in queryset.iterator(chunk_size=CHUNK_SIZE):
        batch.append(partner)
        if len(batch) == CHUNK_SIZE:
            yield from _partner_batch(batch)
            batch = []
    if batch:
        yield from _partner_batch(batch)


def _partner_batch(batch: list[Partner]) -> Iterator[Row]:
    states = compliance_selectors.partner_states(
        Partner.objects.filter(pk__in=[p.pk for p in batch])
    )
    empty = compliance_selectors.PartnerState()
    for partner in batch:
        state = states.get(partner.pk, empty)
        manager = partner.account_manager
        outlook = state.outlook_evaluation
        yield (
            partner.partner_id,
            partner.name,
            partner.country,
            partner.billing_model,
            partner.status,
            manager.get_username() if manager else "",
            partner.onboarded_on,
            state.worst or "",
            "; ".join(f"{p.code}={s}" for p, s in state.by_policy),
            cents(state.ttm_revenue_usd),
            state.next_deadline,
            *(
                (
                    outlook.outlook,
                    outlook.subject_id,
                    outlook.policy.code,
                    outlook.deadline,
                    cents(outlook.secured_usd),
                    cents(outlook.rolling_off_usd),
                    cents(outlook.needed_usd),
                    cents(outlook.pace_usd),
                    cents(outlook.projected_usd),
                )
                if outlook
                else ("", "", "", None, None, None, None, None, None)
            ),
        )
