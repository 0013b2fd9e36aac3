"""Reads for the compliance engine: the facts of every subject for a date,
fetched set-based (a fixed number of queries, whatever the number of
partners or revenue lines)."""

from __future__ import annotations

import datetime
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Round, TruncMonth

from partners.models import (
    ExchangeRate,
    Location,
    Partner,
    PartnerStatus,
    RevenueRecord,
    SupportContract,
)
from partners.selectors import for_visible_partners, get_for_user

from . import rules
from .models import (
    CaseState,
    DataVersion,
    DeadlineOutcome,
    Evaluation,
    FollowUpCase,
    JobRun,
    OutcomeResult,
    Policy,
    PolicyRequirement,
    Purpose,
)
from .rules import outlook as outlook_rules

MICRO = Decimal("0.000001")
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
logger = logging.getLogger(__name__)


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


def support_plan_types(day: datetime.date) -> Subquery:
    """A partner annotation: the qualifying plan types of the policy in force
    on ``day`` that applies to the partner (its billing model) and requires a
    support plan - the newest when several do - or None when none does (the
    caller then falls back to ``rules.DEFAULT_QUALIFYING_PLAN_TYPES``). A
    subquery of the partner's own query, so it costs no query of its own."""
    requirements = (
        PolicyRequirement.objects.filter(
            code=rules.SUPPORT_PLAN,
            policy__applies_to=OuterRef("billing_model"),
            policy__effective_from__lte=day,
        )
        .filter(Q(policy__effective_to__isnull=True) | Q(policy__effective_to__gte=day))
        .order_by("-policy__effective_from", "policy__code")
    )
    return Subquery(requirements.values("qualifying_plan_types")[:1])


@dataclass(frozen=True, slots=True)
class PartnerRow:
    pk: int
    partner_id: str
    billing_model: str
    status: str
    onboarded_on: datetime.date
    agreement_signed_on: datetime.date | None
    designation_count: int
    account_manager_pk: int | None


@dataclass(frozen=True, slots=True)
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
    rows = qs.annotate(n_designations=Count("designations")).values_list(
        "pk",
        "partner_id",
        "billing_model",
        "status",
        "onboarded_on",
        "agreement_signed_on",
        "n_designations",
        "account_manager_id",
    )
    return {row[0]: PartnerRow(*row) for row in rows}


def location_rows(partner_pks: set[int] | None = None) -> dict[int, LocationRow]:
    qs = Location.objects.all()
    if partner_pks is not None:
        qs = qs.filter(partner_id__in=partner_pks)
    rows = qs.values_list("pk", "location_id", "partner_id", "onboarded_on", "is_active")
    return {row[0]: LocationRow(*row) for row in rows}


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
    #: the same sums over whole months inside the window, from the same scan
    #: (``revenue_totals(..., inner=...)``; the outlook's pace months)
    inner: RevenueTotals | None = None
    inner_window: rules.Window | None = None

    def add(
        self,
        location_pk: int,
        currency: str,
        month: datetime.date,
        amount: Decimal,
        rates: dict[tuple[str, datetime.date], Decimal],
    ) -> None:
        """Add one (location, currency, month) sum, converted with the month's
        rate; without a rate the location is marked missing, never zero."""
        total = self.usd.setdefault(location_pk, Decimal(0))
        if currency == "USD":
            self.usd[location_pk] = total + amount
        elif (currency, month) in rates:
            self.usd[location_pk] = total + amount * rates[(currency, month)]
        else:
            self.missing.setdefault(location_pk, set()).add((currency, month))

    def error_for(self, location_pks: list[int]) -> str | None:
        if not self.missing:  # the usual case, asked for every subject
            return None
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


def revenue_totals(
    window: rules.Window,
    partner_pks: set[int] | None = None,
    *,
    inner: rules.Window | None = None,
) -> RevenueTotals:
    """Sum every location's revenue in ``window``, converted to USD with the
    rate of each line's month. Lines without a rate are never counted as
    zero: the location is reported in ``missing`` instead. With ``inner``
    (whole calendar months inside ``window``) the same scan also sums those
    months, in ``.inner``."""
    if inner is not None and not (
        window.start <= inner.start
        and inner.end <= window.end
        and inner.start.day == 1
        and (inner.end + datetime.timedelta(days=1)).day == 1
    ):
        raise ValueError(f"{inner} is not a run of whole months inside {window}")
    if partner_pks is not None and not partner_pks:
        return RevenueTotals(
            inner=RevenueTotals() if inner is not None else None, inner_window=inner
        )
    if connection.vendor == "postgresql":
        return _revenue_totals_postgres(window, partner_pks, inner)
    return _revenue_totals_portable(window, partner_pks, inner)


_USD = "CASE WHEN r.currency_id = 'USD' THEN r.amount ELSE r.amount * fx.usd_per_unit END"
_NO_RATE = "r.currency_id <> 'USD' AND fx.usd_per_unit IS NULL"


def _revenue_totals_postgres(
    window: rules.Window, partner_pks: set[int] | None, inner: rules.Window | None
) -> RevenueTotals:
    # Exact numeric arithmetic in the database; one row per location.
    params: list = []
    if inner is not None:
        # Its missing rates are among the window's (named below).
        columns = f"SUM({_USD}) FILTER (WHERE r.revenue_date BETWEEN %s AND %s)"
        params += [inner.start, inner.end]
    else:
        columns = "NULL"
    params += [window.start, window.end]
    extra = _partner_filter_sql(partner_pks, params)
    sql = f"""
        SELECT r.location_id, SUM({_USD}), COUNT(*) FILTER (WHERE {_NO_RATE}), {columns}
          FROM partners_revenuerecord r
          LEFT JOIN partners_exchangerate fx
            ON fx.currency_id = r.currency_id
           AND fx.month = date_trunc('month', r.revenue_date)::date
         WHERE r.revenue_date BETWEEN %s AND %s{extra}
         GROUP BY r.location_id
    """
    totals = RevenueTotals(inner=RevenueTotals() if inner is not None else None, inner_window=inner)
    any_missing = False
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_pk, usd, missing, inner_usd in cursor.fetchall():
            totals.usd[location_pk] = usd if usd is not None else Decimal(0)
            any_missing = any_missing or missing > 0
            if totals.inner is not None:
                totals.inner.usd[location_pk] = inner_usd if inner_usd is not None else Decimal(0)
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
                if totals.inner is not None and inner is not None and month in inner:
                    totals.inner.missing.setdefault(location_pk, set()).add((currency, month))
    return totals


def _revenue_totals_portable(
    window: rules.Window, partner_pks: set[int] | None, inner: rules.Window | None
) -> RevenueTotals:
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
    totals = RevenueTotals(inner=RevenueTotals() if inner is not None else None, inner_window=inner)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_pk, currency, month_text, micro_units in cursor.fetchall():
            month = datetime.date.fromisoformat(f"{month_text}-01")
            amount = Decimal(micro_units) * MICRO
            totals.add(location_pk, currency, month, amount, rates)
            if totals.inner is not None and inner is not None and month in inner:
                totals.inner.add(location_pk, currency, month, amount, rates)
    return totals


def unresolved_missed_deadlines(
    partner_pks: set[int] | None = None, *, as_of: datetime.date
) -> dict[tuple[str, str, int], datetime.date]:
    """(subject_type, subject_id, policy_pk) -> the latest missed deadline on
    or before ``as_of`` whose follow-up case is not done and that has no
    override. A deadline after ``as_of`` is never seen: re-running the past
    gives the standing of that day (PRODUCT 4.5). One query."""
    qs = DeadlineOutcome.objects.filter(
        result=OutcomeResult.MISSED, overridden_at__isnull=True, deadline__lte=as_of
    )
    qs = qs.exclude(case__state=CaseState.DONE)
    if partner_pks is not None:
        qs = qs.filter(partner_id__in=partner_pks)
    rows = (
        qs.order_by()
        .values_list("subject_type", "subject_id", "policy_id")
        .annotate(latest=Max("deadline"))
    )
    return {
        (subject_type, subject_id, policy_pk): latest
        for subject_type, subject_id, policy_pk, latest in rows
    }


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
    return revenue_totals_for_spans(
        {day: (rules.ttm_window(day), location_pks) for day, location_pks in requests.items()}
    )


def revenue_totals_for_spans(
    requests: Mapping[K, tuple[rules.Window, set[int]]],
) -> dict[K, RevenueTotals]:
    """Totals over several (window, locations) requests in one query,
    converted with each line's month rate (PostgreSQL: in the query, plus one
    naming the missing rates when there are any; SQLite: the rates in a
    second query); a missing rate marks the location missing, never zero."""
    keys = list(requests)
    result: dict[K, RevenueTotals] = {key: RevenueTotals() for key in keys}
    payload = json.dumps(
        [
            [pk, index, window.start.isoformat(), window.end.isoformat()]
            for index, key in enumerate(keys)
            for window, location_pks in (requests[key],)
            if window.start <= window.end
            for pk in location_pks
        ]
    )
    if payload == "[]":
        return result
    if connection.vendor == "postgresql":
        return _spans_postgres(keys, payload, result)
    sql = """
        SELECT t.loc, t.k, r.currency_id, strftime('%%Y-%%m-01', r.revenue_date),
               SUM(CAST(ROUND(r.amount * 1000000) AS INTEGER))
          FROM (SELECT json_extract(value, '$[0]') AS loc, json_extract(value, '$[1]') AS k,
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
    currencies = {currency for _loc, _key, currency, _month, _amount in lines}
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
    for location_pk, index, currency, month, amount in lines:
        result[keys[int(index)]].add(
            int(location_pk), currency, _as_date(month), Decimal(amount) * MICRO, rates
        )
    return result


_SPANS = """
      FROM (SELECT (v ->> 0)::bigint AS loc, (v ->> 1)::int AS k,
                   (v ->> 2)::date AS s, (v ->> 3)::date AS e
              FROM json_array_elements(%s::json) AS v) t
      JOIN partners_revenuerecord r
        ON r.location_id = t.loc AND r.revenue_date BETWEEN t.s AND t.e
      LEFT JOIN partners_exchangerate fx
        ON fx.currency_id = r.currency_id
       AND fx.month = date_trunc('month', r.revenue_date)::date
"""


def _spans_postgres(
    keys: list[K], payload: str, result: dict[K, RevenueTotals]
) -> dict[K, RevenueTotals]:
    # As the TTM sum: exact numeric conversion in the database, one row per
    # (location, request); the missing rates only when there are any.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.loc, t.k,
                   SUM(CASE WHEN r.currency_id = 'USD' THEN r.amount
                            ELSE r.amount * fx.usd_per_unit END),
                   COUNT(*) FILTER (WHERE r.currency_id <> 'USD' AND fx.usd_per_unit IS NULL)
            {_SPANS}
             GROUP BY 1, 2
            """,
            [payload],
        )
        any_missing = False
        for location_pk, index, usd, missing in cursor.fetchall():
            result[keys[index]].usd[location_pk] = usd if usd is not None else Decimal(0)
            any_missing = any_missing or missing > 0
        if any_missing:
            cursor.execute(
                f"""
                SELECT DISTINCT t.loc, t.k, r.currency_id,
                       date_trunc('month', r.revenue_date)::date
                {_SPANS}
                 WHERE r.currency_id <> 'USD' AND fx.id IS NULL
                """,
                [payload],
            )
            for location_pk, index, currency, month in cursor.fetchall():
                result[keys[index]].missing.setdefault(location_pk, set()).add((currency, month))
    return result


def _as_date(value: datetime.date | str) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


# --------------------------------------------------------------------------
# Reads for the web portal (dashboards, partner list and detail pages).
#
# Every function takes a partner queryset that the caller got through the one
# door (``partners.selectors.partners_for_user``) and runs a fixed number of
# queries, whatever the number of partners.
# --------------------------------------------------------------------------

#: Display order of statuses, worst last. Unlike ``rules.status_rank`` a
#: subject that is not applicable ranks below a compliant one, so that "the
#: worst status of a partner" is not applicable only when nothing applies.
DISPLAY_RANKS = {
    rules.NOT_APPLICABLE: 0,
    rules.COMPLIANT: 1,
    rules.AT_RISK: 2,
    rules.NON_COMPLIANT: 3,
    rules.ERROR: 4,
}
STATUS_BY_DISPLAY_RANK = {rank: status for status, rank in DISPLAY_RANKS.items()}
#: Deadline outlooks (PRODUCT 4.9), worst last: "the worst outlook of a
#: partner" is short when any of its subjects is short.
OUTLOOK_RANKS = {outlook_rules.MET: 0, outlook_rules.ON_TRACK: 1, outlook_rules.SHORT: 2}
OUTLOOK_BY_RANK = {rank: outlook for outlook, rank in OUTLOOK_RANKS.items()}


def outlook_rank() -> Case:
    """An evaluation's ``OUTLOOK_RANKS`` rank in SQL (None: no outlook)."""
    return Case(
        *(When(outlook=outlook, then=Value(rank)) for outlook, rank in OUTLOOK_RANKS.items()),
        default=Value(None),
        output_field=IntegerField(),
    )


def worst_status(statuses: Iterable[str]) -> str | None:
    ranked = [DISPLAY_RANKS.get(s, DISPLAY_RANKS[rules.ERROR]) for s in statuses]
    return STATUS_BY_DISPLAY_RANK[max(ranked)] if ranked else None


def current_evaluations(
    partners: QuerySet[Partner], *, purpose: str | None = Purpose.COMPLIANCE
) -> QuerySet[Evaluation]:
    """The current evaluations (latest run of each partner) of ``partners``,
    as one join through ``PartnerCurrent`` - whatever the number of
    partners, no list of ids travels."""
    rows = Evaluation.objects.filter(
        partner__in=partners.order_by().values("pk"), as_of=F("partner__current__evaluated_on")
    )
    return rows if purpose is None else rows.filter(purpose=purpose)


def latest_evaluations(
    partners: QuerySet[Partner], *, purpose: str | None = Purpose.COMPLIANCE
) -> QuerySet[Evaluation]:
    """The current evaluations (latest run of each partner) of ``partners``,
    in display order (``purpose`` None: both purposes); one query."""
    return (
        current_evaluations(partners, purpose=purpose)
        .select_related("policy", "location")
        .order_by("policy__effective_from", "policy__code", "subject_type", "subject_id")
    )


def partners_with_worst_status(
    partners: QuerySet[Partner], *, policy: Policy | None = None
) -> QuerySet[Partner]:
    """Annotate ``latest_as_of``, ``worst_rank`` (see ``DISPLAY_RANKS``): the
    worst current compliance status over the partner and its locations,
    ``worst_outlook_rank`` (see ``OUTLOOK_RANKS``): their worst deadline
    outlook, and ``compliant_short``: some subject compliant today is short
    at its deadline - for ``policy`` or over every policy (kept in
    ``PartnerCurrent``). Used to filter and sort lists."""
    partners = partners.annotate(latest_as_of=F("current__evaluated_on"))
    if policy is None:
        return partners.annotate(
            worst_rank=F("current__worst_rank"),
            worst_outlook_rank=F("current__worst_outlook_rank"),
            compliant_short=F("current__compliant_short"),
        )
    ranks = Case(
        *(When(status=status, then=Value(rank)) for status, rank in DISPLAY_RANKS.items()),
        default=Value(DISPLAY_RANKS[rules.ERROR]),
        output_field=IntegerField(),
    )
    current = Evaluation.objects.filter(
        partner=OuterRef("pk"),
        as_of=OuterRef("latest_as_of"),
        purpose=Purpose.COMPLIANCE,
        policy=policy,
    )
    worst = current.annotate(rank=ranks).order_by("-rank").values("rank")[:1]
    worst_outlook = (
        current.exclude(outlook="")
        .annotate(rank=outlook_rank())
        .order_by("-rank")
        .values("rank")[:1]
    )
    short = current.filter(status=rules.COMPLIANT, outlook=outlook_rules.SHORT)
    return partners.annotate(
        worst_rank=Subquery(worst),
        worst_outlook_rank=Subquery(worst_outlook),
        compliant_short=Exists(short),
    )


@dataclass
class PartnerState:
    """The current evaluations of one partner, for list rows and cards."""

    evaluations: list = field(default_factory=list)
    readiness: list = field(default_factory=list)

    @property
    def compliance(self) -> list:
        return [e for e in self.evaluations if e.status != rules.NOT_APPLICABLE]

    @property
    def worst(self) -> str | None:
        return worst_status(e.status for e in self.evaluations)

    @property
    def by_policy(self) -> list[tuple[Policy, str | None]]:
        """(policy, worst status of the partner and its locations), applicable
        policies only."""
        found: dict[int, tuple[Policy, list[str]]] = {}
        for e in self.compliance:
            found.setdefault(e.policy_id, (e.policy, []))[1].append(e.status)
        return [(policy, worst_status(statuses)) for policy, statuses in found.values()]

    @property
    def ttm_revenue_usd(self) -> Decimal | None:
        """Partner-level TTM revenue (all locations summed), from a
        partner-level evaluation of either purpose."""
        for e in [*self.evaluations, *self.readiness]:
            if e.subject_type == "partner" and e.ttm_revenue_usd is not None:
                return e.ttm_revenue_usd
        return None

    @property
    def next_deadline(self) -> datetime.date | None:
        days = [e.deadline for e in self.compliance if e.deadline is not None]
        return min(days) if days else None

    @property
    def outlook_evaluation(self) -> Evaluation | None:
        """The subject whose deadline outlook matters most (PRODUCT 4.9): the
        worst outlook, then the nearest deadline, then the largest need;
        None when no subject has an outlook."""
        rated = [e for e in self.compliance if e.outlook in OUTLOOK_RANKS]
        if not rated:
            return None
        return min(
            rated,
            key=lambda e: (
                -OUTLOOK_RANKS[e.outlook],
                e.deadline or datetime.date.max,
                -(e.needed_usd or 0),
            ),
        )

    @property
    def worst_outlook(self) -> str | None:
        worst = self.outlook_evaluation
        return worst.outlook if worst else None


def partner_states(partners: QuerySet[Partner]) -> dict[int, PartnerState]:
    """partner pk -> its current evaluations (both purposes); one query."""
    states: dict[int, PartnerState] = {}
    for evaluation in latest_evaluations(partners, purpose=None):
        state = states.setdefault(evaluation.partner_id, PartnerState())
        if evaluation.purpose == Purpose.COMPLIANCE:
            state.evaluations.append(evaluation)
        else:
            state.readiness.append(evaluation)
    return states


@dataclass(frozen=True)
class MonthRevenue:
    month: datetime.date
    usd: Decimal
    missing: tuple[str, ...] = ()  # "EUR 2024-03": lines without a rate, not counted


def _months_back(today: datetime.date, months: int) -> list[datetime.date]:
    index = today.year * 12 + today.month - 1
    return [datetime.date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def monthly_revenue_usd(
    *,
    today: datetime.date,
    partners: QuerySet[Partner] | None = None,
    months: int = 24,
) -> list[MonthRevenue]:
    """Revenue per calendar month in USD for the last ``months`` months up
    to ``today`` (all partners when ``partners`` is None). Non-USD lines
    convert with their month's rate; a line without a rate is not counted and
    the month names the gap. Two queries."""
    month_list = _months_back(today, months)
    lines = RevenueRecord.objects.filter(revenue_date__gte=month_list[0], revenue_date__lte=today)
    if partners is not None:
        lines = lines.filter(location__partner__in=partners.order_by().values("pk"))
    by_month = (
        lines.order_by().annotate(month=TruncMonth("revenue_date")).values("month", "currency_id")
    )
    exact = connection.vendor != "sqlite"
    if exact:
        totals = by_month.annotate(total=Sum("amount"))
    else:
        # SQLite sums decimals as floats: sum integer micro-units instead.
        totals = by_month.annotate(
            total=Sum(Cast(Round(F("amount") * 1_000_000), output_field=BigIntegerField()))
        )
    sums: list[tuple[datetime.date, str, Decimal]] = []
    for row in totals:
        month = _as_date(row["month"])
        total = row["total"] if exact else Decimal(row["total"]) * MICRO
        sums.append((month, row["currency_id"], total or Decimal(0)))
    foreign = {currency for _m, currency, _t in sums if currency != rules.USD}
    rates = (
        {
            (currency, month): rate
            for currency, month, rate in ExchangeRate.objects.filter(
                currency_id__in=foreign, month__in=month_list
            ).values_list("currency_id", "month", "usd_per_unit")
        }
        if foreign
        else {}
    )
    usd: dict[datetime.date, Decimal] = {month: Decimal(0) for month in month_list}
    missing: dict[datetime.date, list[str]] = defaultdict(list)
    for month, currency, total in sums:
        if currency == rules.USD:
            usd[month] += total
        elif (currency, month) in rates:
            usd[month] += rules.to_usd(total, rates[(currency, month)])
        else:
            missing[month].append(f"{currency} {month:%Y-%m}")
    return [MonthRevenue(m, usd[m], tuple(sorted(missing.get(m, ())))) for m in month_list]


EVALUATIONS_VERSION = "evaluations"
EVALUATION_CACHE_SECONDS = 600


def data_version(name: str) -> int:
    return DataVersion.objects.filter(name=name).values_list("version", flat=True).first() or 0


def cached_by_evaluations(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, cached under ``key`` until the evaluations change (the
    key carries their data version, raised after every run) - at most
    ``EVALUATION_CACHE_SECONDS``, so revenue recorded since shows soon."""
    full_key = f"{key}:v{data_version(EVALUATIONS_VERSION)}"
    try:
        value = cache.get(full_key)
    except Exception:  # the cache (Redis) is down: the page still works
        logger.warning("page cache unavailable; computing %s", key, exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(full_key, value, EVALUATION_CACHE_SECONDS)
        except Exception:
            logger.warning("page cache unavailable; %s not stored", key, exc_info=True)
    return value


def last_job_run(job: str = "evaluate_all") -> JobRun | None:
    return JobRun.objects.filter(job=job).order_by("-run_date", "-started_at").first()


def direct_bill_candidates(
    partners: QuerySet[Partner], *, limit: int = 25
) -> tuple[list[Evaluation], list[Evaluation]]:
    """Indirect resellers scored against the direct-bill policy in force
    (read-only): (ready, closest to ready - smallest shortfall first)."""
    resellers = partners.filter(billing_model=rules.INDIRECT_RESELLER, status=PartnerStatus.ACTIVE)
    rows = (
        current_evaluations(resellers, purpose=Purpose.DIRECT_BILL_READY)
        .select_related("partner__account_manager", "policy")
        .order_by(F("ttm_revenue_usd").desc(nulls_last=True), "partner__name")
    )
    ready: list[Evaluation] = []
    closest: list[Evaluation] = []
    for evaluation in rows:
        (ready if evaluation.status == rules.COMPLIANT else closest).append(evaluation)
    closest = [e for e in closest if e.status != rules.NOT_APPLICABLE]
    closest.sort(
        key=lambda e: (
            e.shortfall_usd is None,
            e.shortfall_usd if e.shortfall_usd is not None else 0,
            len(e.unmet),
        )
    )
    return ready, closest[:limit]


def evaluation_history(*, partner: Partner, limit: int = 30) -> list[Evaluation]:
    return list(
        Evaluation.objects.filter(partner=partner, purpose=Purpose.COMPLIANCE)
        .exclude(status=rules.NOT_APPLICABLE)
        .select_related("policy", "location")
        .order_by("-as_of", "policy__code", "subject_type", "subject_id")[:limit]
    )


def outcomes_for_partner(*, partner: Partner, limit: int = 20) -> list[DeadlineOutcome]:
    return list(
        DeadlineOutcome.objects.filter(partner=partner)
        .select_related("policy", "location", "overridden_by", "case")
        .order_by("-deadline", "subject_type", "subject_id")[:limit]
    )


def followup_case_get_for_user(*, user: User | AnonymousUser, pk: int) -> FollowUpCase:
    """A follow-up case of a partner ``user`` may see, else Http404."""
    cases = FollowUpCase.objects.select_related("partner", "location", "outcome__policy", "owner")
    return get_for_user(for_visible_partners(cases, user=user), pk=pk)


def outcome_get_for_user(*, user: User | AnonymousUser, pk: int) -> DeadlineOutcome:
    """A deadline outcome of a partner ``user`` may see, else Http404."""
    outcomes = DeadlineOutcome.objects.select_related(
        "partner", "location", "policy", "overridden_by"
    )
    return get_for_user(for_visible_partners(outcomes, user=user), pk=pk)
