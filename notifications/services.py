"""Planning and delivering compliance emails (PRODUCT section 5).

Planning reads one evaluation date set-based and inserts the notifications it
decides on with one ``INSERT ... ON CONFLICT DO NOTHING``: the unique
constraint on (subject, policy, deadline, kind, offset, language) is what
makes a message exist once, however often planning runs. Delivery locks the
row, sends only while it is unsent and marks it sent in the same transaction,
so a retried task or a second worker finds it sent and does nothing.
"""

from __future__ import annotations

import datetime
import logging
import random
import smtplib
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parseaddr
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from compliance.models import DeadlineOutcome, Evaluation, Policy, Status
from core.bulk import upsert

from . import content, retention, selectors
from .models import OPEN_STATUSES, REMINDER_KINDS, Kind, Notification, NotificationStatus

logger = logging.getLogger(__name__)

KEY = ("subject_type", "subject_id", "policy", "deadline", "kind", "offset", "language")
#: A missed deadline decided up to this long ago still gets its notice (the
#: planner did not run that night); older ones are left alone.
MISSED_LOOKBACK = datetime.timedelta(days=7)
#: Arbitrary constant for ``pg_advisory_xact_lock``: one planner at a time.
PLANNING_LOCK = 0x6E6F7469


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_attempts() -> int:
    return int(_setting("NOTIFICATIONS_MAX_ATTEMPTS", 8))


def retry_delay(attempt: int) -> float:
    """Seconds before the next attempt: exponential (base * 2^(attempt-1),
    capped) with "equal jitter" (a random point in its upper half), so that a
    burst of failures does not come back as a burst."""
    base = float(_setting("NOTIFICATIONS_RETRY_BASE_SECONDS", 60))
    cap = float(_setting("NOTIFICATIONS_RETRY_MAX_SECONDS", 3600))
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not security


# --- planning --------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedNotice:
    """One row planning decided on (also what ``--dry-run`` prints)."""

    subject_type: str
    subject_id: str
    partner_id: str
    policy_code: str
    deadline: datetime.date
    kind: str
    offset: int
    language: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    status: str
    note: str = ""


@dataclass
class PlanSummary:
    as_of: datetime.date
    dry_run: bool = False
    notices: list[PlannedNotice] = field(default_factory=list)
    rows_written: int = 0
    enqueued: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counter = Counter(f"{n.kind}_{n.status}" for n in self.notices)
        return {
            "to_send": sum(1 for n in self.notices if n.status == NotificationStatus.PLANNED),
            "skipped": sum(1 for n in self.notices if n.status == NotificationStatus.SKIPPED),
            **dict(sorted(counter.items())),
            "rows_written": self.rows_written,
        }


@dataclass(frozen=True)
class _Recipients:
    language: str
    to: tuple[str, ...]
    cc: tuple[str, ...]


class _Planner:
    """Turns the reads of one date into notification rows."""

    def __init__(self, as_of: datetime.date, batch: str) -> None:
        self.as_of = as_of
        self.batch = batch
        self.now = timezone.now()
        self.policies = selectors.policies_with_requirements()
        self.rows: list[dict[str, Any]] = []
        self.notices: list[PlannedNotice] = []

    # -- reads
    def load(self) -> None:
        max_offsets = {
            pk: max(p.reminder_offsets) for pk, p in self.policies.items() if p.reminder_offsets
        }
        # at_risk, and compliant but short at the deadline (PRODUCT section 5)
        self.due = list(selectors.reminder_evaluations(as_of=self.as_of, max_offsets=max_offsets))
        self.back = list(selectors.back_on_track_evaluations(as_of=self.as_of))
        self.missed = list(selectors.missed_outcomes(as_of=self.as_of, lookback=MISSED_LOOKBACK))
        self.existing = selectors.existing_keys(
            deadlines={e.deadline for e in self.due + self.back if e.deadline is not None}
            | {o.deadline for o in self.missed}
        )
        self.contacts = selectors.notice_contacts(
            partner_pks={e.partner_id for e in self.due + self.back}
            | {o.partner_id for o in self.missed}
        )

    # -- helpers
    def _policy_facts(self, policy: Policy) -> dict[str, Any]:
        requirements = {r.code: r for r in policy.requirements.all()}
        support = requirements.get("support_plan")
        revenue = requirements.get("revenue")
        return {
            "policy_code": policy.code,
            "policy_name": policy.name,
            # each reader's language picks its own (notifications.content)
            "policy_names": {code: policy.name_in(code) for code, _name in settings.LANGUAGES},
            "applies_to": policy.applies_to,
            "subject_level": policy.subject_level,
            "qualifying_plan_types": list(support.qualifying_plan_types) if support else [],
            "policy_threshold_usd": (
                str(revenue.threshold_usd)
                if revenue and revenue.threshold_usd is not None
                else None
            ),
        }

    @staticmethod
    def _manager(row: Evaluation | DeadlineOutcome) -> tuple[str, str]:
        manager = row.partner.account_manager
        if manager is None or not manager.email:
            return "", ""
        return (manager.get_full_name() or manager.get_username(), manager.email.lower())

    def _subject_facts(self, row: Evaluation | DeadlineOutcome) -> dict[str, Any]:
        name, email = self._manager(row)
        return {
            "partner_name": row.partner.name,
            "partner_id": row.partner.partner_id,
            "location_id": row.location.location_id if row.location is not None else "",
            "account_manager_name": name,
            "account_manager_email": email,
            **self._policy_facts(self.policies[row.policy_id]),
        }

    def _evaluation_facts(self, e: Evaluation) -> dict[str, Any]:
        return {
            **self._subject_facts(e),
            "as_of": e.as_of.isoformat(),
            "days_to_deadline": e.days_to_deadline,
            "ttm_revenue_usd": _dec(e.ttm_revenue_usd),
            "threshold_usd": _dec(e.threshold_usd),
            "shortfall_usd": _dec(e.shortfall_usd),
            "unmet": list(e.unmet),
            "status": e.status,
            # The deadline outlook (PRODUCT 4.9); null without one.
            "secured_usd": _dec(e.secured_usd),
            "rolling_off_usd": _dec(e.rolling_off_usd),
            "needed_usd": _dec(e.needed_usd),
            "pace_usd": _dec(e.pace_usd),
            "projected_usd": _dec(e.projected_usd),
            "outlook": e.outlook,
            "explanation": {"en": e.explanation, "de": e.explanation_de},
        }

    def _outcome_facts(self, o: DeadlineOutcome) -> dict[str, Any]:
        facts = self._subject_facts(o)
        threshold = facts.get("policy_threshold_usd")
        shortfall = None
        if threshold is not None and o.ttm_revenue_usd is not None:
            shortfall = max(_decimal(threshold) - o.ttm_revenue_usd, _decimal(0))
        return {
            **facts,
            "as_of": o.deadline.isoformat(),
            "days_to_deadline": 0,
            "ttm_revenue_usd": _dec(o.ttm_revenue_usd),
            "threshold_usd": threshold,
            "shortfall_usd": _dec(shortfall),
            "unmet": list(o.unmet),
            "status": Status.NON_COMPLIANT,
            # On the deadline the deadline's window is the TTM window: what
            # was secured is the TTM of that day, what was needed its gap.
            # There is nothing left to project.
            "secured_usd": _dec(o.ttm_revenue_usd) if threshold is not None else None,
            "needed_usd": _dec(shortfall),
            "outlook": "",
            # The outcome keeps its explanation in English only.
            "explanation": {"en": o.explanation},
        }

    def _recipients(self, row: Evaluation | DeadlineOutcome) -> list[_Recipients]:
        """One group per contact language, the account manager in copy."""
        _name, manager = self._manager(row)
        by_language: dict[str, list[str]] = defaultdict(list)
        for email, language in self.contacts.get(row.partner_id, []):
            email = email.lower()
            if email not in by_language[language]:
                by_language[language].append(email)
        groups = []
        for language in sorted(by_language):
            to = tuple(by_language[language])
            cc = (manager,) if manager and manager not in to else ()
            groups.append(_Recipients(language, to, cc))
        return groups

    def _add(
        self,
        row: Evaluation | DeadlineOutcome,
        *,
        deadline: datetime.date,
        kind: str,
        offset: int,
        group: _Recipients,
        status: str,
        facts: dict[str, Any],
        note: str = "",
    ) -> None:
        policy = self.policies[row.policy_id]
        self.rows.append(
            {
                "subject_type": row.subject_type,
                "subject_id": row.subject_id,
                "partner": row.partner_id,
                "location": row.location_id,
                "policy": row.policy_id,
                "deadline": deadline,
                "kind": kind,
                "offset": offset,
                "language": group.language,
                "to": list(group.to),
                "cc": list(group.cc),
                "status": status,
                "attempts": 0,
                "last_error": "",
                "note": note[:300],
                "facts": facts,
                "planned_on": self.as_of,
                "batch": self.batch,
                "next_attempt_at": self.now if status == NotificationStatus.PLANNED else None,
                "sent_at": None,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        self.notices.append(
            PlannedNotice(
                subject_type=row.subject_type,
                subject_id=row.subject_id,
                partner_id=row.partner.partner_id,
                policy_code=policy.code,
                deadline=deadline,
                kind=kind,
                offset=offset,
                language=group.language,
                to=group.to,
                cc=group.cc,
                status=status,
                note=note,
            )
        )

    def _handled(
        self, row: Evaluation | DeadlineOutcome, deadline: datetime.date, kind: str, offset: int
    ) -> bool:
        return (row.subject_type, row.subject_id, row.policy_id, deadline, kind, offset) in (
            self.existing
        )

    # -- decisions
    def reminders(self) -> None:
        # One key for both situations (kind reminder / no-contact warning,
        # offset): a subject that moves between compliant-but-short and
        # at_risk within an offset gets that offset's reminder once
        # (docs/decisions/0009-reminders-for-short-outlooks.md).
        for e in self.due:
            if e.deadline is None:  # never: the selector reads evaluations with a deadline
                continue
            offsets = self.policies[e.policy_id].reminder_offsets or []
            crossed = sorted((o for o in offsets if e.days_to_deadline <= o), reverse=True)
            if not crossed:
                continue
            handled = {
                o
                for o in crossed
                if any(self._handled(e, e.deadline, k, o) for k in REMINDER_KINDS)
            }
            smallest = crossed[-1]
            if smallest in handled:
                continue
            facts = self._evaluation_facts(e)
            groups = self._recipients(e)
            kind = Kind.REMINDER
            status = NotificationStatus.PLANNED
            note = ""
            if not groups:
                # Nobody at the partner receives notices: the account manager
                # gets the reminder with a warning instead.
                kind = Kind.NO_CONTACT_WARNING
                _name, manager = self._manager(e)
                groups = [_Recipients(settings.LANGUAGE_CODE, (manager,) if manager else (), ())]
                if not manager:
                    status = NotificationStatus.SKIPPED
                    note = "no contact receives notices and the partner has no account manager"
            for group in groups:
                self._add(
                    e,
                    deadline=e.deadline,
                    kind=kind,
                    offset=smallest,
                    group=group,
                    status=status,
                    facts=facts,
                    note=note,
                )
                for offset in crossed[:-1]:
                    if offset in handled:
                        continue
                    self._add(
                        e,
                        deadline=e.deadline,
                        kind=kind,
                        offset=offset,
                        group=group,
                        status=NotificationStatus.SKIPPED,
                        facts=facts,
                        note=(
                            f"crossed together with the {smallest}-day reminder "
                            f"({e.days_to_deadline} days left when first planned); "
                            "only the smallest crossed offset is sent"
                        ),
                    )

    def _notice(
        self,
        row: Evaluation | DeadlineOutcome,
        *,
        deadline: datetime.date,
        kind: str,
        facts: dict[str, Any],
    ) -> None:
        if self._handled(row, deadline, kind, 0):
            return
        groups = self._recipients(row)
        if not groups:
            self._add(
                row,
                deadline=deadline,
                kind=kind,
                offset=0,
                group=_Recipients(settings.LANGUAGE_CODE, (), ()),
                status=NotificationStatus.SKIPPED,
                facts=facts,
                note="no contact receives notices",
            )
            return
        for group in groups:
            self._add(
                row,
                deadline=deadline,
                kind=kind,
                offset=0,
                group=group,
                status=NotificationStatus.PLANNED,
                facts=facts,
            )

    def missed_notices(self) -> None:
        for o in self.missed:
            self._notice(
                o, deadline=o.deadline, kind=Kind.DEADLINE_MISSED, facts=self._outcome_facts(o)
            )

    def back_on_track_notices(self) -> None:
        for e in self.back:
            if e.deadline is None:  # never: the selector reads evaluations with a deadline
                continue
            # Keyed by the deadline in force: one notice per deadline.
            self._notice(
                e, deadline=e.deadline, kind=Kind.BACK_ON_TRACK, facts=self._evaluation_facts(e)
            )


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _dec(value: Any) -> str | None:
    return None if value is None else str(value)


def _lock_planning() -> None:
    """One planner at a time. PostgreSQL: a transaction-scoped advisory
    lock; SQLite runs write transactions one at a time anyway (IMMEDIATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PLANNING_LOCK])


def reminders_plan(*, as_of: datetime.date, dry_run: bool = False) -> PlanSummary:
    """Plan the reminders, missed-deadline and back-on-track notices of
    ``as_of`` from that day's compliance evaluations and deadline outcomes
    (PRODUCT section 5) and enqueue their delivery after commit.

    A fixed number of queries whatever the number of subjects. Running it
    again for the same day plans nothing new. ``dry_run`` writes nothing and
    returns what would be planned.
    """
    if refused := retention.planning_refused(as_of):  # docs/decisions/0012
        raise ValueError(refused)
    summary = PlanSummary(as_of=as_of, dry_run=dry_run)
    batch = uuid.uuid4().hex
    with transaction.atomic():
        if not dry_run:
            _lock_planning()
        planner = _Planner(as_of, batch)
        planner.load()
        planner.reminders()
        planner.missed_notices()
        planner.back_on_track_notices()
        summary.notices = planner.notices
        if dry_run or not planner.rows:
            return summary
        summary.rows_written = upsert(
            Notification, planner.rows, unique_fields=KEY, update_fields=()
        )
        summary.enqueued = list(
            Notification.objects.filter(batch=batch, status=NotificationStatus.PLANNED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if summary.enqueued:
            transaction.on_commit(partial(deliveries_enqueue, summary.enqueued))
    return summary


def deliveries_enqueue(notification_ids: Iterable[int]) -> int:
    """Hand each row to a delivery task. Called after commit; when the
    broker is down the rows stay unsent and the sweeper enqueues them later.
    Returns how many were enqueued."""
    from .tasks import deliver

    count = 0
    for pk in notification_ids:
        try:
            deliver.delay(pk)
        except (BrokerError, OSError):
            logger.warning(
                "broker unavailable: notification %s and later ones left for the sweeper", pk
            )
            break
        count += 1
    return count


# --- delivery --------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    status: str
    retry_in: float | None = None
    error: str = ""


def _is_transient(exc: BaseException) -> bool:
    """SMTP 4xx replies and network trouble are worth retrying; 5xx replies
    (unknown mailbox, rejected message) and our own bugs are not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, smtplib.SMTPException | OSError)


def _message_id(notification: Notification) -> str:
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<notification-{notification.pk}-{notification.deadline:%Y%m%d}@{domain}>"


def notification_message(notification: Notification) -> EmailMultiAlternatives:
    """The email of one notification: plain text and HTML, in its language,
    from and reply-to as configured."""
    rendered = content.render(
        kind=notification.kind,
        language=notification.language,
        deadline=notification.deadline,
        offset=notification.offset,
        facts=notification.facts,
    )
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(notification.to),
        cc=list(notification.cc),
        reply_to=list(getattr(settings, "COMPLIANCE_REPLY_TO", []) or []) or None,
        headers={
            # The same id on a resend lets mail clients fold duplicates.
            "Message-ID": _message_id(notification),
            "Auto-Submitted": "auto-generated",
            "Content-Language": notification.language,
            "X-Portal-Notification": f"{notification.kind}/{notification.pk}",
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def notification_deliver(*, notification_id: int) -> DeliveryResult:
    """Send one notification if it is still unsent.

    The row is locked for the whole attempt: a second worker (or a retried
    task) waits, then finds it sent and does nothing. A transient failure
    keeps the row ``pending`` with the error and says when to retry; after
    ``NOTIFICATIONS_MAX_ATTEMPTS`` attempts, or on a permanent failure, it is
    ``failed`` with the error kept.
    """
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None:
            return DeliveryResult("missing")
        if notification.status not in OPEN_STATUSES:
            return DeliveryResult(notification.status)
        notification.attempts += 1
        now = timezone.now()
        fields = ["attempts", "status", "last_error", "next_attempt_at", "sent_at", "updated_at"]
        try:
            if not notification.to:
                raise ValueError("no recipients")
            notification_message(notification).send(fail_silently=False)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            notification.last_error = error
            retry_in = None
            if _is_transient(exc) and notification.attempts < max_attempts():
                retry_in = retry_delay(notification.attempts)
                notification.status = NotificationStatus.PENDING
                notification.next_attempt_at = now + datetime.timedelta(seconds=retry_in)
                logger.warning(
                    "notification %s attempt %s failed, retry in %.0fs: %s",
                    notification.pk,
                    notification.attempts,
                    retry_in,
                    error,
                )
            else:
                notification.status = NotificationStatus.FAILED
                notification.next_attempt_at = None
                logger.error(
                    "notification %s failed after %s attempt(s): %s",
                    notification.pk,
                    notification.attempts,
                    error,
                    exc_info=not _is_transient(exc),
                )
            notification.save(update_fields=fields)
            return DeliveryResult(notification.status, retry_in, error)
        notification.status = NotificationStatus.SENT
        notification.sent_at = now
        notification.next_attempt_at = None
        notification.save(update_fields=fields)
    logger.info("notification %s sent to %s", notification.pk, notification.to)
    return DeliveryResult(NotificationStatus.SENT)


def notifications_sweep(*, limit: int = 500) -> list[int]:
    """Enqueue unsent rows whose task was lost (the broker was down at
    commit time, a worker died). A row waiting for a scheduled retry is not
    overdue until its retry time plus the grace period has passed."""
    grace = datetime.timedelta(seconds=int(_setting("NOTIFICATIONS_SWEEP_GRACE_SECONDS", 600)))
    now = timezone.now()
    with transaction.atomic():
        ids = selectors.overdue_notification_ids(before=now - grace, limit=limit)
        if ids:
            # Not overdue again before another grace period has passed.
            Notification.objects.filter(pk__in=ids).update(next_attempt_at=now, updated_at=now)
            transaction.on_commit(partial(deliveries_enqueue, ids))
    if ids:
        logger.info("sweeper re-enqueued %s notification(s)", len(ids))
    return ids


@transaction.atomic
def notifications_requeue(*, notification_ids: Iterable[int], user: User) -> int:
    """Staff send failed notifications again (e.g. after fixing the mail
    server settings): a fresh round of attempts, enqueued after commit."""
    now = timezone.now()
    ids = list(
        Notification.objects.select_for_update()
        .filter(pk__in=list(notification_ids), status=NotificationStatus.FAILED)
        .values_list("pk", flat=True)
    )
    Notification.objects.filter(pk__in=ids).update(
        status=NotificationStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        note=f"requeued by {user.get_username()} at {now:%Y-%m-%d %H:%M} UTC"[:300],
        updated_at=now,
    )
    if ids:
        transaction.on_commit(partial(deliveries_enqueue, ids))
    return len(ids)
