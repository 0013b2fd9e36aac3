"""Reads of the account managers' dashboard: every figure of the staff
dashboard in a fixed number of queries, cached until the evaluations change.
Takes a partner queryset the caller got through the one door
(``partners.selectors.partners_for_user``)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet

from partners.models import Partner

from . import rules
from .models import JobRun, Policy
from .rules import outlook as outlook_rules
from .selectors import (
    MonthRevenue,
    cached_by_evaluations,
    current_evaluations,
    last_job_run,
    monthly_revenue_usd,
    outlook_rank,
)


@dataclass
class DashboardSummary:
    today: datetime.date
    partner_count: int
    #: [(policy, {status: count}, total)] for the policies with current rows
    counts: list[tuple[Policy, dict[str, int], int]]
    deadlines_30: int
    deadlines_90: int
    at_risk_30: int
    at_risk_90: int
    at_risk: list  # Evaluations, in the order of ``at_risk_sort``
    at_risk_total: int
    revenue: list[MonthRevenue]
    last_run: JobRun | None
    #: compliant today, short at the deadline (PRODUCT 4.9): most urgent first
    compliant_short: list = field(default_factory=list)
    compliant_short_total: int = 0
    at_risk_sort: str = "deadline"


#: Orders of the dashboard's at-risk list (the nearest deadline is the
#: default): by what is still needed for the deadline, largest first, or by
#: the deadline outlook, short first. Ties: nearest deadline, largest need.
AT_RISK_SORTS = ("deadline", "needed", "outlook")


def _at_risk_order(sort: str) -> list:
    deadline = F("deadline").asc(nulls_last=True)
    needed = F("needed_usd").desc(nulls_last=True)
    shortfall = F("shortfall_usd").desc(nulls_last=True)
    tie = ("subject_type", "subject_id", "policy_id")
    if sort == "needed":
        return [needed, deadline, shortfall, *tie]
    if sort == "outlook":
        return [F("outlook_rank").desc(nulls_last=True), deadline, needed, shortfall, *tie]
    return [deadline, needed, shortfall, *tie]


def dashboard_summary(
    *,
    partners: QuerySet[Partner],
    today: datetime.date,
    at_risk_limit: int = 15,
    at_risk_sort: str = "deadline",
) -> DashboardSummary:
    """Everything the account-manager dashboard shows, in a fixed number of
    queries (nine)."""
    if at_risk_sort not in AT_RISK_SORTS:
        at_risk_sort = AT_RISK_SORTS[0]
    partner_count = partners.order_by().count()
    current = current_evaluations(partners)
    rows = (
        current.order_by()
        .values("policy_id", "status", "outlook")
        .annotate(n=Count("id"))
        .values_list("policy_id", "status", "outlook", "n")
    )
    per_policy: dict[int, dict[str, int]] = defaultdict(dict)
    compliant_short_total = 0
    for policy_pk, status, outlook, n in rows:
        per_policy[policy_pk][status] = per_policy[policy_pk].get(status, 0) + n
        if status == rules.COMPLIANT and outlook == outlook_rules.SHORT:
            compliant_short_total += n
    policies = {p.pk: p for p in Policy.objects.filter(pk__in=list(per_policy))}
    counts = [
        (policies[pk], statuses, sum(statuses.values()))
        for pk, statuses in per_policy.items()
        if pk in policies
    ]
    counts.sort(key=lambda item: (item[0].effective_from, item[0].code))
    in_30, in_90 = today + datetime.timedelta(days=30), today + datetime.timedelta(days=90)
    open_statuses = [rules.AT_RISK, rules.NON_COMPLIANT, rules.COMPLIANT, rules.ERROR]
    upcoming = current.filter(
        deadline__gte=today, deadline__lte=in_90, status__in=open_statuses
    ).aggregate(
        d30=Count("id", filter=Q(deadline__lte=in_30)),
        d90=Count("id"),
        r30=Count("id", filter=Q(deadline__lte=in_30, status=rules.AT_RISK)),
        r90=Count("id", filter=Q(status=rules.AT_RISK)),
    )
    at_risk = list(
        current.filter(status=rules.AT_RISK)
        .annotate(outlook_rank=outlook_rank())
        .select_related("partner", "location", "policy")
        .order_by(*_at_risk_order(at_risk_sort))[:at_risk_limit]
    )
    at_risk_total = sum(statuses.get(rules.AT_RISK, 0) for _p, statuses, _t in counts)
    compliant_short = (
        list(
            current.filter(status=rules.COMPLIANT, outlook=outlook_rules.SHORT)
            .select_related("partner", "location", "policy")
            .order_by(*_at_risk_order("deadline"))[:at_risk_limit]
        )
        if compliant_short_total
        else []
    )
    return DashboardSummary(
        today=today,
        partner_count=partner_count,
        counts=counts,
        deadlines_30=upcoming["d30"] or 0,
        deadlines_90=upcoming["d90"] or 0,
        at_risk_30=upcoming["r30"] or 0,
        at_risk_90=upcoming["r90"] or 0,
        at_risk=at_risk,
        at_risk_total=at_risk_total,
        revenue=monthly_revenue_usd(today=today, partners=partners),
        last_run=last_job_run(),
        compliant_short=compliant_short,
        compliant_short_total=compliant_short_total,
        at_risk_sort=at_risk_sort,
    )


def staff_dashboard(
    *,
    partners: QuerySet[Partner],
    today: datetime.date,
    scope: str,
    at_risk_sort: str = "deadline",
) -> DashboardSummary:
    """``dashboard_summary`` through the cache. ``scope`` names the partner
    set: "all" (every staff user sees every partner: one shared entry) or
    "mine-<user pk>"; each order of the at-risk list is an entry of its own
    (the nightly run warms the default one)."""
    if at_risk_sort not in AT_RISK_SORTS:
        at_risk_sort = AT_RISK_SORTS[0]
    return cached_by_evaluations(
        f"dashboard:{scope}:{today.isoformat()}:{at_risk_sort}",
        lambda: dashboard_summary(partners=partners, today=today, at_risk_sort=at_risk_sort),
    )
