"""Reads for the deadline outlook of the partner pages (PRODUCT 4.9): the
stored outlook of each current evaluation and the TTM as it will stand on
each day until its deadline.

A sibling of ``selectors.py`` (which stays under the house limit of ~800
lines). Like the portal reads there, it takes a partner queryset the caller
got through the one door (``partners.selectors``), and its queries do not
depend on the number of subjects, days or revenue lines: one, for the
revenue per location, currency and day with its month's exchange rate.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import BigIntegerField, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Cast, Round, TruncMonth

from partners.models import ExchangeRate, Partner, RevenueRecord

from . import rules
from .models import Evaluation
from .revenue_sums import MICRO
from .rules import outlook as outlook_rules


@dataclass
class SubjectOutlook:
    """The deadline outlook of one current evaluation (a partner-level
    subject, or one location of a location policy)."""

    evaluation: Evaluation
    #: the stored outlook as the rules' value (None when it is unknown)
    outlook: outlook_rules.Outlook | None
    #: the TTM on each day from the evaluation date to the deadline
    points: list[outlook_rules.SeriesPoint] = field(default_factory=list)
    #: why the outlook or its chart is unknown (a missing exchange rate)
    error: str = ""


def outlook_of(evaluation: Evaluation) -> outlook_rules.Outlook | None:
    """The outlook the engine stored with ``evaluation``, as the rules'
    value for its day (its wording included); None where it stored none."""
    return evaluation.findings().outlook_on(evaluation.as_of)


def has_outlook(evaluation: Evaluation, today: datetime.date) -> bool:
    """Whether ``evaluation`` has a deadline outlook to show on ``today``: a
    revenue requirement, an applicable status and a deadline after both the
    evaluation date and today (the outlook is for what is still to come)."""
    e = evaluation
    return (
        e.threshold_usd is not None
        and e.status != rules.NOT_APPLICABLE
        and e.deadline is not None
        and e.deadline > max(e.as_of, today)
    )


def deadline_outlooks(
    *, partners: QuerySet[Partner], evaluations: list[Evaluation], today: datetime.date
) -> list[SubjectOutlook]:
    """The outlook and its daily TTM series for each of ``evaluations``
    (current evaluations of ``partners``) that has one, in their order.
    Revenue converts with each line's month rate, as in the engine; a
    missing rate is the outlook's error (no series), never zero."""
    wanted = [
        (e, e.deadline) for e in evaluations if e.deadline is not None and has_outlook(e, today)
    ]
    if not wanted:
        return []
    spans = {e.pk: outlook_rules.series_window(e.as_of, deadline) for e, deadline in wanted}
    lines, rates = _revenue_lines(
        partners,
        min(span.start for span in spans.values()),
        max(span.end for span in spans.values()),
    )
    found: list[SubjectOutlook] = []
    for e, deadline in wanted:
        span = spans[e.pk]
        mine = (
            lines.get(e.partner_id, {}).get(e.location_id, [])
            if e.location_id is not None
            else [
                line for by_location in lines.get(e.partner_id, {}).values() for line in by_location
            ]
        )
        outlook = outlook_of(e)
        try:
            by_day = rules.usd_by_day((line for line in mine if line[2] in span), rates)
        except rules.MissingRate as missing:
            found.append(SubjectOutlook(e, outlook, error=str(missing)))
            continue
        if outlook is None:
            # The engine could not compute it (its error is the evaluation's)
            # or has not yet: nothing to draw.
            if e.error:
                found.append(SubjectOutlook(e, None, error=e.error))
            continue
        points = outlook_rules.ttm_series(
            by_day, as_of=e.as_of, deadline=deadline, pace_usd=outlook.pace_usd
        )
        found.append(SubjectOutlook(e, outlook, points))
    return found


def _revenue_lines(
    partners: QuerySet[Partner], start: datetime.date, end: datetime.date
) -> tuple[dict[int, dict[int, list[rules.RevenueLine]]], dict[tuple[str, datetime.date], Decimal]]:
    """(partner pk -> location pk -> (amount, currency, day) summed per
    location, currency and day of ``start`` .. ``end``; the exchange rates
    of those lines' months), in one query: each row carries its month's rate
    (None when there is none: the line is then unknown, never zero)."""
    month_rate = ExchangeRate.objects.filter(
        currency_id=OuterRef("currency_id"),
        month=OuterRef("month"),
    ).values("usd_per_unit")[:1]
    rows = (
        RevenueRecord.objects.filter(
            location__partner__in=partners.order_by().values("pk"),
            revenue_date__gte=start,
            revenue_date__lte=end,
        )
        .annotate(month=TruncMonth("revenue_date"))
        .order_by()
        .values("location__partner_id", "location_id", "currency_id", "revenue_date", "month")
    )
    exact = connection.vendor != "sqlite"
    if exact:
        rows = rows.annotate(total=Sum("amount"))
    else:
        # SQLite sums decimals as floats: sum integer micro-units instead.
        rows = rows.annotate(
            total=Sum(Cast(Round(F("amount") * 1_000_000), output_field=BigIntegerField()))
        )
    rows = rows.annotate(rate=Subquery(month_rate))
    lines: dict[int, dict[int, list[rules.RevenueLine]]] = defaultdict(lambda: defaultdict(list))
    rates: dict[tuple[str, datetime.date], Decimal] = {}
    for row in rows:
        total = row["total"] if exact else Decimal(row["total"]) * MICRO
        day, currency = row["revenue_date"], row["currency_id"]
        lines[row["location__partner_id"]][row["location_id"]].append((total, currency, day))
        if currency != rules.USD and row["rate"] is not None:
            rates[(currency, rules.month_start(day))] = row["rate"]
    return lines, rates
