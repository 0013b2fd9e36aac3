"""Reads for the compliance engine: the facts of every subject for a date,
fetched set-based (a fixed number of queries, whatever the number of
partners or revenue lines)."""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Prefetch

from partners.models import ExchangeRate, Location, Partner, SupportContract

from . import rules
from .models import CaseState, DeadlineOutcome, OutcomeResult, Policy, PolicyRequirement

MICRO = Decimal("0.000001")


def missing_rates_message(gaps: list[tuple[str, datetime.date]]) -> str:
    """ "no exchange rate for EUR 2024-03, GBP 2024-04" - names every gap."""
    listed = ", ".join(f"{currency} {month:%Y-%m}" for currency, month in gaps)
    return f"no exchange rate for {listed}"


def policy_spec(policy: Policy) -> rules.PolicySpec:
    requirements = {r.code: r for r in policy.requirements.all()}
    revenue = requirements.get("revenue")
    support = requirements.get("support_plan")
    return rules.PolicySpec(
        code=policy.code,
        applies_to=policy.applies_to,
        subject_level=policy.subject_level,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        deadline_anchor=policy.deadline_anchor,
        reminder_offsets=tuple(sorted(policy.reminder_offsets or (), reverse=True)),
        threshold_usd=revenue.threshold_usd if revenue else None,
        qualifying_plan_types=tuple(support.qualifying_plan_types) if support else None,
        requires_designation="designation" in requirements,
        requires_agreement="agreement" in requirements,
    )


def policies_in_force(as_of: datetime.date) -> list[tuple[Policy, rules.PolicySpec]]:
    policies = (
        Policy.objects.filter(effective_from__lte=as_of)
        .exclude(effective_to__lt=as_of)
        .prefetch_related(Prefetch("requirements", queryset=PolicyRequirement.objects.all()))
        .order_by("effective_from", "code")
    )
    return [(p, policy_spec(p)) for p in policies]


@dataclass(frozen=True)
class PartnerRow:
    pk: int
    partner_id: str
    billing_model: str
    status: str
    onboarded_on: datetime.date
    agreement_signed_on: datetime.date | None
    designation_count: int
    account_manager_pk: int | None


@dataclass(frozen=True)
class LocationRow:
    pk: int
    location_id: str
    partner_pk: int
    onboarded_on: datetime.date
    is_active: bool


def partner_rows(partner_pks: set[int] | None = None) -> dict[int, PartnerRow]:
    qs = Partner.objects.all()
    if partner_pks is not None:
        qs = qs.filter(pk__in=partner_pks)
    qs = qs.annotate(n_designations=Count("designations")).values_list(
        "pk",
        "partner_id",
        "billing_model",
        "status",
        "onboarded_on",
        "agreement_signed_on",
        "n_designations",
        "account_manager_id",
    )
    return {row[0]: PartnerRow(*row) for row in qs}


def location_rows(partner_pks: set[int] | None = None) -> dict[int, LocationRow]:
    qs = Location.objects.all()
    if partner_pks is not None:
        qs = qs.filter(partner_id__in=partner_pks)
    qs = qs.values_list("pk", "location_id", "partner_id", "onboarded_on", "is_active")
    return {row[0]: LocationRow(*row) for row in qs}


def contracts_by_partner(
    partner_pks: set[int] | None = None,
) -> dict[int, tuple[rules.ContractFacts, ...]]:
    qs = SupportContract.objects.all()
    if partner_pks is not None:
        qs = qs.filter(partner_id__in=partner_pks)
    grouped: dict[int, list[rules.ContractFacts]] = defaultdict(list)
    for partner_pk, plan_type, start, end, is_paid, paid_on in qs.values_list(
        "partner_id", "plan_type", "start_date", "end_date", "is_paid", "paid_on"
    ):
        grouped[partner_pk].append(
            rules.ContractFacts(
                plan_type=plan_type, start=start, end=end, is_paid=is_paid, paid_on=paid_on
            )
        )
    return {pk: tuple(items) for pk, items in grouped.items()}


@dataclass
class RevenueTotals:
    """TTM revenue in USD per location pk, and the missing rates that make a
    location's total unknown."""

    usd: dict[int, Decimal] = field(default_factory=dict)
    missing: dict[int, set[tuple[str, datetime.date]]] = field(default_factory=dict)

    def error_for(self, location_pks: list[int]) -> str | None:
        gaps = sorted({gap for pk in location_pks for gap in self.missing.get(pk, ())})
        if not gaps:
            return None
        return missing_rates_message(gaps)


def _partner_filter_sql(partner_pks: set[int] | None, params: list) -> str:
    if partner_pks is None:
        return ""
    params.extend(sorted(partner_pks))
    marks = ", ".join(["%s"] * len(partner_pks))
    return (
        " AND r.location_id IN (SELECT l.id FROM partners_location l"
        f" WHERE l.partner_id IN ({marks}))"
    )


def revenue_totals(window: rules.Window, partner_pks: set[int] | None = None) -> RevenueTotals:
    """Sum every location's revenue in ``window``, converted to USD with the
    rate of each line's month. Lines without a rate are never counted as
    zero: the location is reported in ``missing`` instead."""
    if partner_pks is not None and not partner_pks:
        return RevenueTotals()
    if connection.vendor == "postgresql":
        return _revenue_totals_postgres(window, partner_pks)
    return _revenue_totals_portable(window, partner_pks)


def _revenue_totals_postgres(window: rules.Window, partner_pks: set[int] | None) -> RevenueTotals:
    # Exact numeric arithmetic in the database; one row per location.
    params: list = [window.start, window.end]
    extra = _partner_filter_sql(partner_pks, params)
    sql = f"""
        SELECT r.location_id,
               SUM(CASE WHEN r.currency_id = 'USD' THEN r.amount
                        ELSE r.amount * fx.usd_per_unit END),
               COUNT(*) FILTER (WHERE r.currency_id <> 'USD' AND fx.usd_per_unit IS NULL)
          FROM partners_revenuerecord r
          LEFT JOIN partners_exchangerate fx
            ON fx.currency_id = r.currency_id
           AND fx.month = date_trunc('month', r.revenue_date)::date
         WHERE r.revenue_date BETWEEN %s AND %s{extra}
         GROUP BY r.location_id
    """
    totals = RevenueTotals()
    any_missing = False
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_pk, usd, missing in cursor.fetchall():
            totals.usd[location_pk] = usd if usd is not None else Decimal(0)
            any_missing = any_missing or missing > 0
        if any_missing:
            params = [window.start, window.end]
            extra = _partner_filter_sql(partner_pks, params)
            cursor.execute(
                f"""
                SELECT DISTINCT r.location_id, r.currency_id,
                       date_trunc('month', r.revenue_date)::date
                  FROM partners_revenuerecord r
                  LEFT JOIN partners_exchangerate fx
                    ON fx.currency_id = r.currency_id
                   AND fx.month = date_trunc('month', r.revenue_date)::date
                 WHERE r.revenue_date BETWEEN %s AND %s{extra}
                   AND r.currency_id <> 'USD' AND fx.id IS NULL
                """,
                params,
            )
            for location_pk, currency, month in cursor.fetchall():
                totals.missing.setdefault(location_pk, set()).add((currency, month))
    return totals


def _revenue_totals_portable(window: rules.Window, partner_pks: set[int] | None) -> RevenueTotals:
    # SQLite has no exact decimal type: sum integer micro-units per
    # (location, currency, month) in SQL, convert with Decimal in Python.
    params: list = [window.start.isoformat(), window.end.isoformat()]
    extra = _partner_filter_sql(partner_pks, params)
    sql = f"""
        SELECT r.location_id, r.currency_id, strftime('%%Y-%%m', r.revenue_date),
               SUM(CAST(ROUND(r.amount * 1000000) AS INTEGER))
          FROM partners_revenuerecord r
         WHERE r.revenue_date BETWEEN %s AND %s{extra}
         GROUP BY 1, 2, 3
    """
    rates = {
        (currency, month): rate
        for currency, month, rate in ExchangeRate.objects.filter(
            month__gte=window.start.replace(day=1), month__lte=window.end
        ).values_list("currency_id", "month", "usd_per_unit")
    }
    totals = RevenueTotals()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_pk, currency, month_text, micro_units in cursor.fetchall():
            amount = Decimal(micro_units) * MICRO
            total = totals.usd.setdefault(location_pk, Decimal(0))
            if currency == "USD":
                totals.usd[location_pk] = total + amount
                continue
            month = datetime.date.fromisoformat(f"{month_text}-01")
            rate = rates.get((currency, month))
            if rate is None:
                totals.missing.setdefault(location_pk, set()).add((currency, month))
            else:
                totals.usd[location_pk] = total + amount * rate
    return totals


def unresolved_missed_deadlines(
    partner_pks: set[int] | None = None,
) -> dict[tuple[str, str, int], datetime.date]:
    """(subject_type, subject_id, policy_pk) -> the latest missed deadline
    whose follow-up case is not done and that has no override."""
    qs = DeadlineOutcome.objects.filter(result=OutcomeResult.MISSED, overridden_at__isnull=True)
    qs = qs.exclude(case__state=CaseState.DONE)
    if partner_pks is not None:
        qs = qs.filter(partner_id__in=partner_pks)
    found: dict[tuple[str, str, int], datetime.date] = {}
    for subject_type, subject_id, policy_pk, deadline in qs.values_list(
        "subject_type", "subject_id", "policy_id", "deadline"
    ):
        key = (subject_type, subject_id, policy_pk)
        if key not in found or deadline > found[key]:
            found[key] = deadline
    return found


def decided_deadlines(
    deadlines: set[datetime.date], partner_pks: set[int] | None = None
) -> set[tuple[str, str, int, datetime.date]]:
    if not deadlines:
        return set()
    qs = DeadlineOutcome.objects.filter(deadline__in=deadlines)
    if partner_pks is not None:
        qs = qs.filter(partner_id__in=partner_pks)
    return set(qs.values_list("subject_type", "subject_id", "policy_id", "deadline"))


def revenue_totals_for_windows(
    requests: dict[datetime.date, set[int]],
) -> dict[datetime.date, RevenueTotals]:
    """TTM totals of several (as-of date, locations) requests in one query:
    the catch-up of deadlines the nightly job did not see on the day."""
    pairs = [
        (location_pk, day, rules.ttm_window(day))
        for day, location_pks in requests.items()
        for location_pk in location_pks
    ]
    result = {day: RevenueTotals() for day in requests}
    if not pairs:
        return result
    payload = json.dumps(
        [[pk, day.isoformat(), w.start.isoformat(), w.end.isoformat()] for pk, day, w in pairs]
    )
    if connection.vendor == "postgresql":
        sql = """
            SELECT t.loc, t.d, r.currency_id, date_trunc('month', r.revenue_date)::date,
                   SUM(r.amount)
              FROM (SELECT (v ->> 0)::bigint AS loc, (v ->> 1)::date AS d,
                           (v ->> 2)::date AS s, (v ->> 3)::date AS e
                      FROM json_array_elements(%s::json) AS v) t
              JOIN partners_revenuerecord r
                ON r.location_id = t.loc AND r.revenue_date BETWEEN t.s AND t.e
             GROUP BY 1, 2, 3, 4
        """
    else:
        sql = """
            SELECT t.loc, t.d, r.currency_id, strftime('%%Y-%%m-01', r.revenue_date),
                   SUM(CAST(ROUND(r.amount * 1000000) AS INTEGER))
              FROM (SELECT json_extract(value, '$[0]') AS loc, json_extract(value, '$[1]') AS d,
                           json_extract(value, '$[2]') AS s, json_extract(value, '$[3]') AS e
                      FROM json_each(%s)) t
              JOIN partners_revenuerecord r
                ON r.location_id = t.loc AND r.revenue_date BETWEEN t.s AND t.e
             GROUP BY 1, 2, 3, 4
        """
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        lines = cursor.fetchall()
    months = {_as_date(month) for *_, month, _amount in lines}
    currencies = {currency for _loc, _day, currency, _month, _amount in lines}
    rates = (
        {
            (currency, month): rate
            for currency, month, rate in ExchangeRate.objects.filter(
                currency_id__in=currencies - {"USD"}, month__in=months
            ).values_list("currency_id", "month", "usd_per_unit")
        }
        if currencies - {"USD"}
        else {}
    )
    for location_pk, day, currency, month, amount in lines:
        totals = result[_as_date(day)]
        month = _as_date(month)
        if connection.vendor != "postgresql":
            amount = Decimal(amount) * MICRO
        total = totals.usd.setdefault(location_pk, Decimal(0))
        if currency == "USD":
            totals.usd[location_pk] = total + amount
        elif (currency, month) in rates:
            totals.usd[location_pk] = total + amount * rates[(currency, month)]
        else:
            totals.missing.setdefault(location_pk, set()).add((currency, month))
    return result


def _as_date(value: datetime.date | str) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)
