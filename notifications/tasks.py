"""Celery is just another interface: tasks take ids and call services."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,  # idempotent: the locked row decides, a redelivery finds it sent
    reject_on_worker_lost=True,
    max_retries=None,  # the row counts attempts (NOTIFICATIONS_MAX_ATTEMPTS)
    name="notifications.deliver",
)
def deliver(self, notification_id: int) -> str:
    """Send one notification; on an SMTP or connection error retry with
    exponential backoff and jitter until the row says it has failed."""
    result = services.notification_deliver(notification_id=notification_id)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.status


@shared_task(
    acks_late=True,  # idempotent: the unique constraint decides
    reject_on_worker_lost=True,
    name="notifications.plan_reminders",
)
def plan_reminders(as_of: str | None = None) -> dict:
    """Plan (and enqueue) the emails of one evaluation date."""
    day = datetime.date.fromisoformat(as_of) if as_of else timezone.localdate()
    summary = services.reminders_plan(as_of=day)
    logger.info("notifications planned for %s: %s", day, summary.counts())
    return {"as_of": day.isoformat(), **summary.counts()}


@shared_task(name="notifications.sweep")
def sweep() -> int:
    """Re-enqueue unsent notifications whose task was lost."""
    return len(services.notifications_sweep())


def plan_reminders_after_commit(as_of: datetime.date) -> None:
    """Enqueue planning for ``as_of`` once the current transaction commits
    (the nightly evaluation calls this). A broker outage is logged, not
    raised: the evaluation itself succeeded; ``send_reminders --as-of`` plans
    the day later, and the next night's planning catches up on crossed
    reminder offsets and missed deadlines anyway."""

    def enqueue() -> None:
        try:
            plan_reminders.delay(as_of.isoformat())
        except (BrokerError, OSError):
            logger.exception("could not enqueue reminder planning for %s", as_of)

    transaction.on_commit(enqueue)
