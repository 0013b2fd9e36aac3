"""Delivery (PRODUCT section 5): once per row through retries, races and
restarts; a real SMTP server on loopback; retries with backoff; failures
recorded."""

import datetime
import smtplib
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from compliance.services import evaluation_run
from notifications import services, tasks
from notifications.models import Notification, NotificationStatus
from notifications.services import notification_deliver, reminders_plan, retry_delay
from partners import services as ps
from tests.concurrency import race
from tests.factories import StaffUserFactory
from tests.reference import restore_reference_data

from .conftest import DEADLINE, direct_partner

DAY = datetime.timedelta(days=1)
AT_45 = DEADLINE - 45 * DAY  # plans the 60-day reminder (90 skipped)


@pytest.fixture
def planned(partner, monkeypatch):
    """One planned reminder whose task was not run yet."""
    evaluation_run(as_of=AT_45)
    monkeypatch.setattr(tasks.deliver, "delay", lambda pk: None)
    summary = reminders_plan(as_of=AT_45)
    monkeypatch.undo()
    (pk,) = summary.enqueued
    return Notification.objects.get(pk=pk)


# --- once -------------------------------------------------------------------------


@pytest.mark.django_db
def test_retrying_or_redelivering_the_task_sends_once(planned):
    assert tasks.deliver.apply(args=[planned.pk]).get() == "sent"
    assert tasks.deliver.apply(args=[planned.pk]).get() == "sent"  # broker redelivery
    assert notification_deliver(notification_id=planned.pk).status == "sent"
    assert len(mail.outbox) == 1
    planned.refresh_from_db()
    assert planned.status == NotificationStatus.SENT and planned.attempts == 1
    assert planned.sent_at is not None and planned.next_attempt_at is None


@pytest.mark.django_db
def test_skipped_and_missing_rows_are_never_sent(planned):
    skipped = Notification.objects.get(status=NotificationStatus.SKIPPED)
    assert notification_deliver(notification_id=skipped.pk).status == "skipped"
    assert notification_deliver(notification_id=999_999).status == "missing"
    assert not mail.outbox


@pytest.mark.django_db
def test_database_constraint_refuses_a_second_row_for_the_same_reminder(planned):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            **{
                f: getattr(planned, f)
                for f in ("subject_type", "subject_id", "partner", "policy", "deadline", "kind")
            },
            offset=planned.offset, language=planned.language, planned_on=planned.planned_on,
        )  # fmt: skip


@pytest.fixture
def seeded_policies():
    """A transactional test empties every table when it ends, the policies
    seeded by the data migration included: put them back (idempotent) ..."""
    restore_reference_data()


@pytest.fixture(scope="module", autouse=True)
def _policies_back_after_this_module(django_db_blocker):
    """... and leave them in place for the tests that run after this module."""
    yield
    with django_db_blocker.unblock():
        restore_reference_data()


#: Skipped before any database set-up, so that SQLite runs do not pay for
#: (or get their tables emptied by) a transactional test that cannot run.
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (set DATABASE_URL): SQLite has no row locks to race for",
)


def _slow_locmem(monkeypatch, seconds: float = 0.5):
    original = LocmemBackend.send_messages

    def slow(self, messages):
        time.sleep(seconds)
        return original(self, messages)

    monkeypatch.setattr(LocmemBackend, "send_messages", slow)


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_deliver_one_email(
    require_postgres, seeded_policies, manager, monkeypatch
):
    direct_partner(manager=manager)
    evaluation_run(as_of=AT_45)
    monkeypatch.setattr(services, "deliveries_enqueue", lambda ids: None)
    (pk,) = reminders_plan(as_of=AT_45).enqueued
    _slow_locmem(monkeypatch)

    results = race(2, lambda: notification_deliver(notification_id=pk).status)
    assert sorted(results) == ["sent", "sent"]  # the second found it sent
    assert len(mail.outbox) == 1
    row = Notification.objects.get(pk=pk)
    assert row.status == NotificationStatus.SENT and row.attempts == 1


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_planners_racing_plan_once(require_postgres, seeded_policies, manager, monkeypatch):
    direct_partner(manager=manager)
    evaluation_run(as_of=AT_45)
    enqueued: list[int] = []
    # Patched at the service, not on the task: Celery's current app is
    # per thread, so a task proxy may resolve differently in the threads.
    monkeypatch.setattr(services, "deliveries_enqueue", enqueued.extend)

    summaries = race(3, lambda: reminders_plan(as_of=AT_45))
    assert sorted(len(s.enqueued) for s in summaries) == [0, 0, 1]
    assert Notification.objects.count() == 2  # the 60-day reminder and the skipped 90
    assert len(enqueued) == 1


# --- broker down, sweeper, requeue ------------------------------------------------


@pytest.mark.django_db
def test_broker_down_at_commit_then_the_sweeper_delivers(
    partner, settings, monkeypatch, django_capture_on_commit_callbacks
):
    evaluation_run(as_of=AT_45)

    def broker_down(pk):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.deliver, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        summary = reminders_plan(as_of=AT_45)  # the enqueue fails after commit; no exception
    row = Notification.objects.get(pk=summary.enqueued[0])
    assert row.status == NotificationStatus.PLANNED and not mail.outbox
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_sweep() == []  # not overdue yet
    Notification.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(minutes=11)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep.apply().get() == 1
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_sweep() == []
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_requeue_failed_notifications(planned, settings, django_capture_on_commit_callbacks):
    Notification.objects.filter(pk=planned.pk).update(
        status=NotificationStatus.FAILED, attempts=8, last_error="SMTPDataError: 451"
    )
    staff = StaffUserFactory(username="ops")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_requeue(notification_ids=[planned.pk], user=staff) == 1
    planned.refresh_from_db()
    assert planned.status == NotificationStatus.SENT and planned.attempts == 1
    assert "requeued by ops" in planned.note
    assert len(mail.outbox) == 1


# --- backoff ------------------------------------------------------------------------


def test_retry_delay_is_exponential_with_jitter_and_capped(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 3600
    for attempt, full in [(1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (12, 3600)]:
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays), (attempt, delays)
        assert len(delays) > 1  # jitter


@pytest.mark.django_db
def test_connection_error_keeps_the_row_pending_with_a_retry_time(planned, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    with __import__("socket").socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = sock.getsockname()[1]
    result = notification_deliver(notification_id=planned.pk)
    assert result.status == "pending" and result.retry_in > 0
    planned.refresh_from_db()
    assert planned.attempts == 1 and "ConnectionRefusedError" in planned.last_error
    assert planned.next_attempt_at > timezone.now()


# --- a real SMTP server on loopback ---------------------------------------------


@pytest.fixture
def worker_like_retries(monkeypatch):
    """Eager tasks normally propagate every exception, ``Retry`` included;
    a worker does not: it schedules the retry. Eager mode then runs the
    retry at once (the countdown is not waited for)."""
    from portal.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)


def _plan_and_deliver(day, django_capture_on_commit_callbacks):
    evaluation_run(as_of=day)
    with django_capture_on_commit_callbacks(execute=True):
        return reminders_plan(as_of=day)


@pytest.mark.django_db
def test_real_smtp_server_receives_one_email_per_language(
    smtp_server, manager, django_capture_on_commit_callbacks
):
    partner = direct_partner(
        manager=manager,
        contacts=(
            ("Anna Berger", "anna@alpenblick.example", "en"),
            ("Bernd Maier", "bernd@alpenblick.example", "de"),
        ),
    )
    ps.revenue_record_create(
        location=partner.locations.get(), revenue_date=datetime.date(2022, 3, 15),
        amount=Decimal("212400"), currency="USD", reference="INV-2022-03",
    )  # fmt: skip
    _plan_and_deliver(DEADLINE - 14 * DAY, django_capture_on_commit_callbacks)
    assert len(smtp_server.received) == 2
    by_language = {r.message["Content-Language"]: r for r in smtp_server.received}

    en, de = by_language["en"], by_language["de"]
    assert en.mail_from == "compliance@distributor.example"
    assert sorted(en.rcpt_tos) == ["anna@alpenblick.example", "maria@distributor.example"]
    assert sorted(de.rcpt_tos) == ["bernd@alpenblick.example", "maria@distributor.example"]
    for received, to in ((en, "anna@alpenblick.example"), (de, "bernd@alpenblick.example")):
        message = received.message
        assert message["To"] == to
        assert message["Cc"] == "maria@distributor.example"
        assert message["From"] == "CSP Compliance <compliance@distributor.example>"
        assert message["Reply-To"] == "csp-team@distributor.example"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]

    # (Python's encoder folds a long non-ASCII subject after "Subject:";
    # the parser keeps that folding white space.)
    assert en.message["Subject"].strip() == (
        "Alpenblick IT GmbH: 14 days left to meet CSP direct bill partner requirements (2021), "
        "deadline 2022-09-01"
    )
    assert de.message["Subject"].strip() == (
        "Alpenblick IT GmbH: noch 14 Tage, um CSP-Anforderungen für die Direktabrechnung "
        "(2021) zu erfüllen \N{EN DASH} Frist: 01.09.2022"
    )
    en_text, de_text = en.part("text/plain"), de.part("text/plain")
    assert "USD 212,400.00, USD 87,600.00 short of USD 300,000.00" in en_text
    assert "212.400,00 USD, 87.600,00 USD unter der Schwelle von 300.000,00 USD" in de_text
    assert "What to do:" in en_text and "Was zu tun ist:" in de_text
    assert "<li>Revenue in the last twelve months: USD 212,400.00" in en.part("text/html")
    assert '<html lang="de">' in de.part("text/html")
    # Shown in the closing note of the change (pytest -s).
    for received in (en, de):
        print(f"\n----- {received.message['Content-Language']} text part as received -----")
        print(received.part("text/plain"))
    rows = Notification.objects.filter(status=NotificationStatus.SENT)
    assert rows.count() == 2 and {r.attempts for r in rows} == {1}


@pytest.mark.django_db
def test_smtp_451_is_retried_then_succeeds(
    smtp_server, partner, worker_like_retries, django_capture_on_commit_callbacks
):
    smtp_server.refuse = 2  # "451 4.3.0 ... try again later" twice
    _plan_and_deliver(AT_45, django_capture_on_commit_callbacks)
    assert smtp_server.refused == 2 and len(smtp_server.received) == 1
    row = Notification.objects.get(status=NotificationStatus.SENT)
    assert row.attempts == 3
    assert "451" in row.last_error  # the last failure stays on record
    assert smtp_server.received[0].rcpt_tos == [
        "anna@alpenblick.example",
        "maria@distributor.example",
    ]


@pytest.mark.django_db
def test_smtp_refusing_until_the_retries_run_out_ends_failed(
    smtp_server, partner, settings, worker_like_retries, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 4
    smtp_server.refuse = 100
    _plan_and_deliver(AT_45, django_capture_on_commit_callbacks)
    assert smtp_server.refused == 4 and smtp_server.received == []
    row = Notification.objects.get(offset=60)
    assert row.status == NotificationStatus.FAILED and row.attempts == 4
    assert row.last_error.startswith("SMTPDataError: (451")
    assert row.sent_at is None and row.next_attempt_at is None
    # Failed rows are not swept again; staff requeue them.
    row.next_attempt_at = timezone.now() - datetime.timedelta(days=1)
    row.save()
    assert services.notifications_sweep() == []


@pytest.mark.django_db
def test_smtp_permanent_refusal_fails_at_once(
    smtp_server, partner, django_capture_on_commit_callbacks
):
    smtp_server.refuse = 1
    smtp_server.reply = "554 5.7.1 Message rejected"
    _plan_and_deliver(AT_45, django_capture_on_commit_callbacks)
    row = Notification.objects.get(offset=60)
    assert row.status == NotificationStatus.FAILED and row.attempts == 1
    assert "554" in row.last_error


def test_transient_and_permanent_errors():
    transient = services._is_transient
    assert transient(smtplib.SMTPDataError(451, b"try later"))
    assert transient(smtplib.SMTPServerDisconnected("gone"))
    assert transient(ConnectionRefusedError())
    assert transient(TimeoutError())
    assert transient(smtplib.SMTPRecipientsRefused({"a@x": (450, b"busy")}))
    assert not transient(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}))
    assert not transient(smtplib.SMTPDataError(554, b"rejected"))
    assert not transient(ValueError("template bug"))
