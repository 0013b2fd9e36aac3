"""Planning (PRODUCT section 5): which reminders and notices exist after a
nightly evaluation, and that each goes out once."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from compliance.cases import outcome_override
from compliance.models import DeadlineOutcome
from compliance.services import evaluation_run
from notifications import tasks
from notifications.models import Kind, Notification, NotificationStatus
from notifications.services import reminders_plan
from partners import services as ps
from partners.models import Location, Partner
from tests.factories import StaffUserFactory

from .conftest import DEADLINE, direct_partner

D = datetime.date
DAY = datetime.timedelta(days=1)
pytestmark = pytest.mark.django_db


def _days_before(days: int) -> datetime.date:
    return DEADLINE - days * DAY


def _rows(**filters):
    return list(
        Notification.objects.filter(**filters)
        .order_by("offset", "language")
        .values_list("kind", "offset", "language", "status")
    )


def test_example_7_first_found_at_45_days_then_one_each_at_30_14_7_1(partner, run_day):
    """PRODUCT section 4, example 7."""
    run_day(_days_before(45))
    assert _rows() == [
        ("reminder", 60, "en", "sent"),
        ("reminder", 90, "en", "skipped"),
    ]
    assert len(mail.outbox) == 1
    assert "45 days left" in mail.outbox[0].subject
    skipped = Notification.objects.get(offset=90)
    assert "only the smallest crossed offset is sent" in skipped.note
    assert skipped.sent_at is None and skipped.attempts == 0

    sent_on = {}
    for days in (44, 31, 30, 29, 15, 14, 13, 8, 7, 6, 2, 1):
        before = len(mail.outbox)
        run_day(_days_before(days))
        if len(mail.outbox) > before:
            sent_on[days] = mail.outbox[-1].subject
        assert len(mail.outbox) - before <= 1
    assert sorted(sent_on, reverse=True) == [30, 14, 7, 1]
    assert "1 day left" in sent_on[1]
    assert _rows(status="sent") == [
        ("reminder", 1, "en", "sent"),
        ("reminder", 7, "en", "sent"),
        ("reminder", 14, "en", "sent"),
        ("reminder", 30, "en", "sent"),
        ("reminder", 60, "en", "sent"),
    ]
    assert len(mail.outbox) == 5


@pytest.mark.slow
def test_offsets_crossed_one_by_one_send_one_email_each(partner, run_day):
    """A night for every day from 100 days out: 90/60/30/14/7/1 each send one
    email, on the day they are crossed, and nothing is skipped."""
    sent_on = {}
    for days in range(100, 0, -1):
        before = len(mail.outbox)
        run_day(_days_before(days))
        assert len(mail.outbox) - before <= 1, days
        if len(mail.outbox) > before:
            sent_on[days] = mail.outbox[-1]
    assert sorted(sent_on, reverse=True) == [90, 60, 30, 14, 7, 1]
    assert not Notification.objects.filter(status=NotificationStatus.SKIPPED).exists()
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 6
    for days, message in sent_on.items():
        assert f"{days} day" in message.subject
        assert message.to == ["anna@alpenblick.example"]
        assert message.cc == ["maria@distributor.example"]


def test_a_missed_night_sends_no_burst(partner, run_day):
    run_day(_days_before(95))
    assert not mail.outbox
    run_day(_days_before(12))  # the job did not run for 83 nights
    assert len(mail.outbox) == 1 and "12 days left" in mail.outbox[0].subject
    assert _rows() == [
        ("reminder", 14, "en", "sent"),
        ("reminder", 30, "en", "skipped"),
        ("reminder", 60, "en", "skipped"),
        ("reminder", 90, "en", "skipped"),
    ]


def test_planning_twice_sends_once(partner, run_day):
    day = _days_before(30)
    first = run_day(day)
    second = run_day(day, evaluate=False)
    third = run_day(day)  # the evaluation re-run too
    assert len(first.enqueued) == 1
    assert second.notices == [] and second.enqueued == [] and second.rows_written == 0
    assert third.notices == []
    assert len(mail.outbox) == 1
    assert Notification.objects.count() == 3  # 30 sent; 60 and 90 skipped


def test_rolled_back_transaction_enqueues_nothing(
    partner, monkeypatch, django_capture_on_commit_callbacks
):
    day = _days_before(30)
    evaluation_run(as_of=day)
    enqueued = []
    monkeypatch.setattr(tasks.deliver, "delay", enqueued.append)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        summary = reminders_plan(as_of=day)
        assert summary.enqueued  # planned inside the transaction...
        raise RuntimeError("something later in the transaction failed")
    assert callbacks == [] and enqueued == []  # ...but nothing was enqueued
    assert not Notification.objects.exists()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        summary = reminders_plan(as_of=day)
    assert len(callbacks) == 1 and enqueued == summary.enqueued
    assert not mail.outbox  # delivery is the task's job


def test_contacts_grouped_by_language_account_manager_in_copy(manager, run_day):
    direct_partner(
        manager=manager,
        contacts=(
            ("Anna Berger", "anna@alpenblick.example", "en"),
            ("Bernd Maier", "bernd@alpenblick.example", "de"),
            ("Clara Vogt", "clara@alpenblick.example", "de"),
        ),
    )
    ps.contact_create(
        partner=manager.managed_partners.get(), name="Dora Silent",
        email="dora@alpenblick.example", receives_notices=False,
    )  # fmt: skip
    run_day(_days_before(7))
    by_language = {m.extra_headers["Content-Language"]: m for m in mail.outbox}
    assert sorted(by_language) == ["de", "en"] and len(mail.outbox) == 2
    assert by_language["en"].to == ["anna@alpenblick.example"]
    assert by_language["de"].to == ["bernd@alpenblick.example", "clara@alpenblick.example"]
    assert all(m.cc == ["maria@distributor.example"] for m in mail.outbox)
    assert not any("dora@alpenblick.example" in m.recipients() for m in mail.outbox)


def test_german_contacts_get_german_text(manager, run_day):
    direct_partner(manager=manager, contacts=(("Bernd Maier", "bernd@alpenblick.example", "de"),))
    run_day(_days_before(14))
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert message.subject == (
        "Alpenblick IT GmbH: noch 14 Tage, um CSP-Anforderungen für die "
        "Direktabrechnung (2021) zu erfüllen \N{EN DASH} Frist: 01.09.2022"
    )
    for text in (message.body, html):
        assert "Guten Tag," in text
        assert "0,00 USD, 300.000,00 USD unter der Schwelle von 300.000,00 USD" in text
        assert "Was zu tun ist" in text
        assert "Ihr CSP-Compliance-Team" in text
        assert "Hello" not in text and "What to do" not in text
    assert 'lang="de"' in html


def test_english_reminder_names_everything_a_reader_needs(partner, run_day):
    run_day(_days_before(30))
    (message,) = mail.outbox
    assert message.subject == (
        "Alpenblick IT GmbH: 30 days left to meet "
        "CSP direct bill partner requirements (2021), deadline 2022-09-01"
    )
    body = message.body
    assert "What is missing (as of 2022-08-02):" in body
    assert "USD 300,000.00 short of USD 300,000.00" in body
    # What the deadline's window still needs (PRODUCT 4.9), not today's gap.
    assert "Book at least USD 300,000.00 more in revenue dated up to 2022-08-31" in body
    assert "Already counts for the deadline: USD 0.00." in body
    assert "Outlook: short. At this pace USD 300,000.00 will still be missing" in body
    assert "has to move to the indirect model" in body
    assert message.from_email == "CSP Compliance <compliance@localhost>"


def test_no_contact_the_account_manager_gets_a_warning(manager, run_day):
    direct_partner(manager=manager, contacts=())
    run_day(_days_before(30))
    (message,) = mail.outbox
    assert message.to == ["maria@distributor.example"] and message.cc == []
    assert message.subject.startswith("Nobody at the partner was told: Alpenblick IT GmbH")
    assert "nobody at Alpenblick IT GmbH was told about this reminder" in message.body
    assert "USD 300,000.00 short" in message.body
    assert _rows(status="sent") == [("no_contact_warning", 30, "en", "sent")]

    # A contact added later gets the next reminder; the 30-day one stays handled.
    ps.contact_create(
        partner=manager.managed_partners.get(), name="Anna", email="anna@alpenblick.example"
    )
    run_day(_days_before(29))
    assert len(mail.outbox) == 1
    run_day(_days_before(14))
    assert mail.outbox[-1].to == ["anna@alpenblick.example"]
    assert _rows(status="sent")[0] == ("reminder", 14, "en", "sent")


def test_no_contact_and_no_account_manager_is_recorded_not_sent(run_day):
    direct_partner(contacts=())
    run_day(_days_before(30))
    assert not mail.outbox
    row = Notification.objects.get(offset=30)
    assert row.kind == Kind.NO_CONTACT_WARNING and row.status == NotificationStatus.SKIPPED
    assert "no account manager" in row.note


def test_location_subject_names_the_location(manager, run_day):
    partner = ps.partner_create(
        partner_id="3100001", name="Donau Cloud GmbH", country="AT",
        onboarded_on=D(2022, 11, 15), account_manager=manager,
    )  # fmt: skip
    ps.location_create(
        partner=partner, location_id="8100001", country="AT", onboarded_on=D(2022, 11, 15)
    )
    ps.contact_create(partner=partner, name="Eva", email="eva@donau.example", language="de")
    run_day(D(2024, 10, 20))  # example 5: deadline 2024-11-01, 12 days
    (message,) = mail.outbox
    assert message.subject.startswith("Donau Cloud GmbH, Standort 8100001: noch 12 Tage")
    assert "wird der Standort 8100001 als indirekter Reseller deautorisiert" in message.body
    assert "0,00 USD, 1.000,00 USD unter der Schwelle von 1.000,00 USD" in message.body
    row = Notification.objects.get(status=NotificationStatus.SENT)
    assert (row.subject_type, row.subject_id, row.offset) == ("location", "8100001", 30)
    assert row.location == Location.objects.get(location_id="8100001")
    assert row.partner == partner
    assert _rows(status="skipped") == [
        ("reminder", 60, "de", "skipped"),
        ("reminder", 90, "de", "skipped"),
    ]


def test_missed_deadline_sends_one_notice(partner, run_day):
    run_day(DEADLINE)
    outcome = DeadlineOutcome.objects.get()
    assert outcome.result == "missed"
    (message,) = mail.outbox
    assert message.subject == (
        "Alpenblick IT GmbH: deadline 2022-09-01 of "
        "CSP direct bill partner requirements (2021) missed"
    )
    assert "What was missing on 2022-09-01:" in message.body
    assert "USD 300,000.00 short of USD 300,000.00" in message.body
    assert "An active, paid support plan is missing" in message.body
    assert "has to move from direct billing to the indirect model" in message.body
    run_day(DEADLINE + DAY)
    run_day(DEADLINE + 2 * DAY)
    assert len(mail.outbox) == 1
    assert _rows() == [("deadline_missed", 0, "en", "sent")]


def test_overridden_missed_deadline_sends_no_notice(partner):
    evaluation_run(as_of=DEADLINE)
    outcome_override(
        outcome=DeadlineOutcome.objects.get(), user=StaffUserFactory(), reason="MS exception"
    )
    assert reminders_plan(as_of=DEADLINE).notices == []


def test_back_on_track_sends_one_notice(partner, run_day):
    day = _days_before(20)
    run_day(day)
    assert len(mail.outbox) == 1  # the 30-day reminder
    ps.revenue_record_create(
        location=partner.locations.get(), revenue_date=day, amount=Decimal("300000"),
        currency="USD", reference="BIG-DEAL",
    )  # fmt: skip
    run_day(day + DAY)
    assert len(mail.outbox) == 2
    message = mail.outbox[-1]
    assert message.subject == (
        "Alpenblick IT GmbH: requirements of CSP direct bill partner requirements (2021) met again"
    )
    assert "Revenue in the last twelve months: USD 300,000.00 of USD 300,000.00 required." in (
        message.body
    )
    run_day(day + 2 * DAY)  # still compliant: nothing new
    assert len(mail.outbox) == 2
    row = Notification.objects.get(kind=Kind.BACK_ON_TRACK)
    assert (row.deadline, row.offset, row.status) == (DEADLINE, 0, "sent")


def test_dry_run_records_nothing(partner):
    evaluation_run(as_of=_days_before(45))
    summary = reminders_plan(as_of=_days_before(45), dry_run=True)
    assert [(n.kind, n.offset, n.status) for n in summary.notices] == [
        ("reminder", 60, "planned"),
        ("reminder", 90, "skipped"),
    ]
    assert not Notification.objects.exists() and not mail.outbox


def test_planning_takes_a_constant_number_of_queries(manager):
    def queries_for(partner_count: int, first_id: int) -> int:
        for i in range(partner_count):
            direct_partner(
                partner_id=str(first_id + i), manager=manager,
                contacts=((f"C{i}", f"c{first_id + i}@example.com", "de" if i % 2 else "en"),),
            )  # fmt: skip
        day = _days_before(30)
        evaluation_run(as_of=day)
        with CaptureQueriesContext(connection) as ctx:
            summary = reminders_plan(as_of=day)
        assert len(summary.enqueued) == Partner.objects.count()
        Notification.objects.all().delete()
        return len(ctx.captured_queries)

    small = queries_for(2, 1_100_000)
    large = queries_for(30, 1_200_000)
    # 12 + the purge horizon the planner checks first (docs/decisions/0012)
    assert small == large <= 13


def test_send_reminders_command(partner):
    evaluation_run(as_of=_days_before(45))
    out = StringIO()
    call_command("send_reminders", "--as-of", "2022-07-18", "--dry-run", stdout=out)
    assert "planned  reminder 60d partner 1000001 csp-direct-2021" in out.getvalue()
    assert "would send 1 email(s), 1 skipped" in out.getvalue()
    assert not Notification.objects.exists()

    out = StringIO()
    call_command("send_reminders", "--as-of", "2022-07-18", stdout=out)
    assert "queued 1 email(s), 1 skipped" in out.getvalue()
    assert Notification.objects.count() == 2


def test_send_reminders_command_rejects_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a date"):
        call_command("send_reminders", "--as-of", "2022-13-01")
