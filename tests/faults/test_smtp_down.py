"""Fault: the SMTP server is down (connection refused).

Expected: every delivery attempt fails with the error recorded on the row,
and is retried with exponential backoff and jitter; when the server comes
back between retries the email goes out once; when it stays down for every
attempt the row ends ``failed`` with the error kept, nothing is lost, and a
staff requeue after the server is back delivers it once.

Already covered in ``tests/notifications/test_delivery.py`` (not repeated
here): one refused connection keeps the row ``pending`` with a retry time
(``test_connection_error_keeps_the_row_pending_with_a_retry_time``); 451
replies retried then sent (``test_smtp_451_is_retried_then_succeeds``) or
``failed`` when the retries run out
(``test_smtp_refusing_until_the_retries_run_out_ends_failed``); a 5xx reply
fails at once; the backoff formula
(``test_retry_delay_is_exponential_with_jitter_and_capped``); a staff
requeue of one failed row (``test_requeue_failed_notifications``).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.core import mail

from compliance.services import evaluation_run
from notifications import services
from notifications.models import Notification, NotificationStatus
from portal.celery import app as celery_app
from tests.factories import StaffUserFactory

from .conftest import NIGHT, one_night_of_data, recipients, wait_for
from .test_broker_down import EXPECTED_RECIPIENTS


def _smtp_settings(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.mark.django_db
def test_smtp_down_for_every_attempt_ends_failed_then_a_requeue_delivers_once(
    policies, smtp, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A night's three emails against a closed SMTP port: four attempts
    each with growing delays, then ``failed`` with ConnectionRefusedError
    kept; the sweeper leaves failed rows alone; after the server is up a
    staff requeue sends each once."""
    _smtp_settings(settings, smtp.port)  # not started: connection refused
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 4
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 3600
    # A worker schedules the retry; eager mode runs it at once (no waiting).
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    delays: list[tuple[int, float]] = []
    original_delay = services.retry_delay

    def recorded_delay(attempt: int) -> float:
        delays.append((attempt, original_delay(attempt)))
        return delays[-1][1]

    monkeypatch.setattr(services, "retry_delay", recorded_delay)
    one_night_of_data()
    evaluation_run(as_of=NIGHT)
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_plan(as_of=NIGHT)

    failed = Notification.objects.filter(status=NotificationStatus.FAILED)
    assert failed.count() == 3 and not mail.outbox and smtp.received == []
    for row in failed:
        assert row.attempts == 4 and row.sent_at is None and row.next_attempt_at is None
        assert row.last_error.startswith("ConnectionRefusedError")
    # Three retries per email (the fourth failure is final), each delay in
    # the upper half of 60 s * 2^(attempt-1): 30-60 s, 60-120 s, 120-240 s.
    assert Counter(attempt for attempt, _ in delays) == {1: 3, 2: 3, 3: 3}
    for attempt, delay in delays:
        full = 60 * 2 ** (attempt - 1)
        assert full / 2 <= delay <= full
    assert services.notifications_sweep() == []  # failed rows wait for staff

    smtp.start()
    staff = StaffUserFactory(username="ops")
    ids = list(failed.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_requeue(notification_ids=ids, user=staff) == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_requeue(notification_ids=ids, user=staff) == 0
        assert services.notifications_sweep() == []
    assert len(smtp.received) == 3
    assert recipients(smtp.received) == EXPECTED_RECIPIENTS
    sent = Notification.objects.filter(pk__in=ids, status=NotificationStatus.SENT)
    assert sent.count() == 3 and set(sent.values_list("attempts", flat=True)) == {1}


RETRY_LINE = re.compile(r"notification (\d+) attempt (\d+) failed, retry in (\d+)s")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_smtp_down_then_back_between_retries_delivers_once_through_a_real_worker(
    policies, celeryd, smtp
):
    """A real worker plans and delivers a night's emails while SMTP refuses
    connections; the retries wait their (growing) countdowns; the server
    comes back after every email has failed twice; each is sent once."""
    one_night_of_data()
    evaluation_run(as_of=NIGHT)
    worker = celeryd.worker(
        "worker", smtp_port=smtp.port, retry_base_seconds=2, retry_max_seconds=8
    )
    celeryd.send("notifications.plan_reminders", as_of=NIGHT.isoformat())

    to_send = Notification.objects.exclude(status=NotificationStatus.SKIPPED)

    def failed_twice() -> bool:
        return to_send.count() == 3 and all(
            row.attempts >= 2 and row.status == NotificationStatus.PENDING
            for row in to_send.only("attempts", "status")
        )

    wait_for(failed_twice, timeout=60, what="two refused attempts per email", logs=[worker])
    for row in to_send:
        assert row.last_error.startswith("ConnectionRefusedError") and row.sent_at is None
    smtp.start()
    wait_for(
        lambda: to_send.filter(status=NotificationStatus.SENT).count() == 3,
        timeout=60,
        what="the retries to deliver",
        logs=[worker],
    )
    assert len(smtp.received) == 3
    assert recipients(smtp.received) == EXPECTED_RECIPIENTS
    # The worker waited the backoff: 1-2 s after the first failure, 2-4 s
    # after the second (base 2 s, rounded in the log line).
    retries = [tuple(map(int, m)) for m in RETRY_LINE.findall(worker.output())]
    assert {attempt for _pk, attempt, _s in retries} >= {1, 2}
    for _pk, attempt, seconds in retries:
        full = min(8, 2 * 2 ** (attempt - 1))
        assert round(full / 2) <= seconds <= full, retries
