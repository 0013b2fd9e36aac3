"""Reads for planning and delivering notifications, and for the pages that
show them. Each function is a fixed number of queries."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import OuterRef, Q, QuerySet, Subquery

from compliance.models import (
    DeadlineOutcome,
    Evaluation,
    EvaluationPeriod,
    OutcomeResult,
    Outlook,
    Policy,
    Purpose,
    Status,
)
from partners.models import Contact
from partners.selectors import for_visible_partners, get_for_user

from .models import OPEN_STATUSES, Notification

#: Key of "one message": (subject_type, subject_id, policy pk, deadline, kind, offset).
NoticeKey = tuple[str, str, int, datetime.date, str, int]


def policies_with_requirements() -> dict[int, Policy]:
    """Every policy with its requirements (policies are few)."""
    return {p.pk: p for p in Policy.objects.prefetch_related("requirements")}


def reminder_evaluations(
    *, as_of: datetime.date, max_offsets: dict[int, int]
) -> QuerySet[Evaluation]:
    """The compliance evaluations of ``as_of`` that want a reminder (PRODUCT
    section 5): ``at_risk`` ones, and ``compliant`` ones whose deadline
    outlook is ``short`` (they pass today but, at their pace, will miss the
    deadline); only those whose days to deadline are at or below the largest
    reminder offset of their policy."""
    crossed = Q(pk__in=[])
    for policy_pk, max_offset in max_offsets.items():
        crossed |= Q(policy_id=policy_pk, days_to_deadline__lte=max_offset)
    return (
        Evaluation.objects.filter(
            crossed,
            Q(status=Status.AT_RISK) | Q(status=Status.COMPLIANT, outlook=Outlook.SHORT),
            as_of=as_of,
            purpose=Purpose.COMPLIANCE,
            deadline__isnull=False,
            days_to_deadline__isnull=False,
        )
        .select_related("partner__account_manager", "location")
        .order_by("subject_type", "subject_id", "policy_id")
    )


def back_on_track_evaluations(*, as_of: datetime.date) -> QuerySet[Evaluation]:
    """Compliance evaluations of ``as_of`` that are ``compliant`` while the
    subject's previous evaluation (the latest before ``as_of``) was
    ``at_risk`` or ``non_compliant``."""
    # The latest period of the subject that began before ``as_of``: the one
    # that covered the previous evaluated day (one index probe per subject;
    # through the per-day view it would expand every earlier day).
    previous = (
        EvaluationPeriod.objects.filter(
            subject_type=OuterRef("subject_type"),
            subject_id=OuterRef("subject_id"),
            policy_id=OuterRef("policy_id"),
            purpose=Purpose.COMPLIANCE,
            valid_from__lt=as_of,
        )
        .order_by("-valid_from")
        .values("status")[:1]
    )
    return (
        Evaluation.objects.filter(
            as_of=as_of,
            purpose=Purpose.COMPLIANCE,
            status=Status.COMPLIANT,
            deadline__isnull=False,
        )
        .annotate(previous_status=Subquery(previous))
        .filter(previous_status__in=[Status.AT_RISK, Status.NON_COMPLIANT])
        .select_related("partner__account_manager", "location")
        .order_by("subject_type", "subject_id", "policy_id")
    )


def missed_outcomes(
    *, as_of: datetime.date, lookback: datetime.timedelta
) -> QuerySet[DeadlineOutcome]:
    """Missed deadlines decided in the ``lookback`` before ``as_of`` (so a
    night the planner did not run still sends the notice) and not
    overridden by staff."""
    return (
        DeadlineOutcome.objects.filter(
            result=OutcomeResult.MISSED,
            overridden_at__isnull=True,
            decided_on__gt=as_of - lookback,
            decided_on__lte=as_of,
        )
        .select_related("partner__account_manager", "location")
        .order_by("subject_type", "subject_id", "policy_id", "deadline")
    )


def existing_keys(*, deadlines: Iterable[datetime.date]) -> set[NoticeKey]:
    """Keys (without language) of every notification already recorded for
    these deadlines, whatever its status."""
    deadlines = set(deadlines)
    if not deadlines:
        return set()
    return set(
        Notification.objects.filter(deadline__in=deadlines).values_list(
            "subject_type", "subject_id", "policy_id", "deadline", "kind", "offset"
        )
    )


def notice_contacts(*, partner_pks: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """partner pk -> [(email, language)] of the contacts that receive
    compliance notices, in a stable order."""
    by_partner: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = (
        Contact.objects.filter(partner_id__in=set(partner_pks), receives_notices=True)
        .order_by("partner_id", "pk")
        .values_list("partner_id", "email", "language")
    )
    for partner_pk, email, language in rows:
        by_partner[partner_pk].append((email, language))
    return by_partner


def overdue_notification_ids(*, before: datetime.datetime, limit: int) -> list[int]:
    """Unsent rows whose delivery should have happened before ``before``
    (their task was lost: broker down at commit time, worker died). Rows a
    worker holds locked right now are skipped (PostgreSQL)."""
    return list(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(status__in=OPEN_STATUSES, next_attempt_at__lte=before)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def notification_get_for_user(*, user: User | AnonymousUser, pk: int) -> Notification:
    """A notification of a partner ``user`` may see (its email page), else Http404."""
    return get_for_user(for_visible_partners(Notification.objects.all(), user=user), pk=pk)
