"""Writes that only the API makes: the bulk revenue request, whose lines go
through the one revenue upsert (``partners.revenue``). Everything else the
API changes goes through ``partners.services`` and ``compliance.services``."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from partners import revenue
from partners.dates import REVENUE
from partners.models import Location, RevenueSource


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


def revenue_bulk_upsert(
    *, lines: Sequence[RevenueLine], user: AbstractBaseUser | None
) -> BulkResult:
    """Store revenue lines with source ``api``, keyed by (location,
    reference), through the one revenue upsert (``partners.revenue``): a new
    key is created, a known key whose date, amount, currency or customer
    differ is updated, the rest is left alone, so posting the same lines
    twice changes nothing. New and changed records get a history row by
    ``user`` with the reason "API". The caller has validated every line (all
    or nothing); keys must be unique within ``lines``. ``partner_pks`` of the
    result are the partners whose revenue changed; the caller re-evaluates
    them after the commit. A revenue date beyond ``partners.dates.REVENUE``
    is a ValidationError and nothing is stored; a line that a concurrent
    request stored first is an IntegrityError (the view answers 409)."""
    today = timezone.localdate()
    late = [
        f"line {index}: {problem}"
        for index, line in enumerate(lines)
        if (problem := REVENUE.problem(line.revenue_date, today=today))
    ]
    if late:
        raise ValidationError({"date": late})
    result = revenue.revenue_lines_upsert(
        lines=[
            revenue.RevenueLine(
                location_id=line.location.pk,
                revenue_date=line.revenue_date,
                amount=line.amount,
                currency_id=line.currency_id,
                reference=line.reference,
                customer=line.customer,
            )
            for line in lines
        ],
        source=RevenueSource.API,
        user=user,
        reason="API",
        history_of_created=True,
    )
    return BulkResult(
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        partner_pks=frozenset(
            line.location.partner_id for line in lines if line.location.pk in result.location_pks
        ),
    )
