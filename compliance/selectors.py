"""Reads for the compliance engine: the facts of every subject for a date,
fetched set-based (a fixed number of queries, whatever the number of
partners or revenue lines)."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
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
from .revenue_sums import MICRO, as_date
from .rules import outlook as outlook_rules

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
logger = logging.getLogger(__name__)


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
        partner__in=partners.order_by().values("pk"),
        as_of=F("partner__current__evaluated_on"),
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
        month = as_date(row["month"])
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
