"""Writes that only the API makes. Everything else the API changes goes
through ``partners.services`` and ``compliance.services``."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from partners.dates import REVENUE
from partners.models import Location, RevenueRecord, RevenueSource

logger = logging.getLogger(__name__)

COMPARED_FIELDS = ("revenue_date", "amount", "currency_id", "customer")


@dataclass(frozen=True)
class RevenueLine:
    """One validated line of a bulk revenue request."""

    location: Location
    revenue_date: datetime.date
    amount: Decimal
    currency_id: str
    reference: str
    customer: str = ""


@dataclass(frozen=True)
class BulkResult:
    created: int
    updated: int
    unchanged: int
    #: partners whose revenue changed (the caller re-evaluates them)
    partner_pks: frozenset[int] = frozenset()


@transaction.atomic
def revenue_bulk_upsert(
    *, lines: Sequence[RevenueLine], user: AbstractBaseUser | None
) -> BulkResult:
    """Store revenue lines with source ``api``, keyed by (location,
    reference): a new key is created, a known key whose date, amount,
    currency or customer differ is updated, the rest is left alone, so
    posting the same lines twice changes nothing. The caller has validated
    every line (all or nothing); keys must be unique within ``lines``.
    ``partner_pks`` of the result are the partners whose revenue changed;
    the caller re-evaluates them after the commit. A revenue date beyond
    ``partners.dates.REVENUE`` is a ValidationError and nothing is stored."""
    today = timezone.localdate()
    late = [
        f"line {index}: {problem}"
        for index, line in enumerate(lines)
        if (problem := REVENUE.problem(line.revenue_date, today=today))
    ]
    if late:
        raise ValidationError({"date": late})
    now = timezone.now()
    existing = {
        (record.location_id, record.reference): record
        for record in RevenueRecord.objects.select_for_update().filter(
            source=RevenueSource.API,
            location__in={line.location.pk for line in lines},
            reference__in={line.reference for line in lines},
        )
    }
    new: list[RevenueRecord] = []
    changed: list[RevenueRecord] = []
    unchanged = 0
    touched: set[int] = set()
    for line in lines:
        values = {name: getattr(line, name) for name in COMPARED_FIELDS}
        record = existing.get((line.location.pk, line.reference))
        if record is None:
            new.append(
                RevenueRecord(
                    location=line.location,
                    source=RevenueSource.API,
                    reference=line.reference,
                    **values,
                )
            )
            touched.add(line.location.partner_id)
        elif any(getattr(record, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(record, name, value)
            changed.append(record)
            touched.add(line.location.partner_id)
        else:
            unchanged += 1
    history = {"default_user": user, "default_change_reason": "API", "default_date": now}
    if new:
        bulk_create_with_history(new, RevenueRecord, batch_size=500, **history)
    if changed:
        bulk_update_with_history(
            changed,
            RevenueRecord,
            ["revenue_date", "amount", "currency", "customer"],
            batch_size=500,
            **history,
        )
    return BulkResult(
        created=len(new),
        updated=len(changed),
        unchanged=unchanged,
        partner_pks=frozenset(touched),
    )
