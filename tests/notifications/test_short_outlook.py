"""Reminders for subjects that are compliant today but short at their
deadline (PRODUCT 4.9 and 5): planned at the policy's offsets, once per
offset whatever the status does in between, worded for their situation."""

import datetime
import html as htmllib
from decimal import Decimal

import pytest
from django.core import mail

from compliance.models import Evaluation, Outlook, Status
from notifications import content
from notifications.models import Kind, Notification

from .conftest import SHORT_AS_OF, SHORT_DEADLINE, short_location

D = datetime.date
pytestmark = pytest.mark.django_db


def _evaluation(day, location_id="8100001") -> Evaluation:
    return Evaluation.objects.get(as_of=day, subject_id=location_id, purpose="compliance")


def _rows():
    return list(
        Notification.objects.order_by("-offset", "language").values_list(
            "kind", "offset", "language", "status"
        )
    )


def test_the_example_is_compliant_today_and_short_at_the_deadline(manager, run_day):
    short_location(manager=manager)
    run_day(SHORT_AS_OF)
    e = _evaluation(SHORT_AS_OF)
    assert (e.status, e.outlook, e.deadline, e.days_to_deadline) == (
        Status.COMPLIANT, Outlook.SHORT, SHORT_DEADLINE, 73,
    )  # fmt: skip
    assert e.ttm_revenue_usd == Decimal("1250") and e.secured_usd == Decimal("550")
    assert e.projected_usd == Decimal("696")


def test_short_subject_gets_the_reminder_at_its_offset_once(manager, run_day):
    short_location(manager=manager)
    run_day(SHORT_AS_OF)  # 73 days: the 90-day offset is crossed
    assert _rows() == [("reminder", 90, "en", "sent")]
    (message,) = mail.outbox
    assert message.to == ["eva@donau.example"] and message.cc == ["maria@distributor.example"]
    run_day(SHORT_AS_OF)  # re-run of the night
    run_day(SHORT_AS_OF + datetime.timedelta(days=1))
    assert len(mail.outbox) == 1 and _rows() == [("reminder", 90, "en", "sent")]


def test_short_then_at_risk_within_one_offset_is_one_reminder(manager, run_day):
    """2025-12-03 (60 days, compliant, short) sends the 60-day reminder;
    on 2025-12-16 the rolled-off USD 700.00 makes it at_risk, still in the
    60-day band: nothing new; 2026-01-02 (30 days, at_risk) sends the
    30-day one in the at-risk wording."""
    short_location(manager=manager)
    sent = {}
    for day in (SHORT_AS_OF, D(2025, 12, 3), D(2025, 12, 16), D(2025, 12, 20), D(2026, 1, 2)):
        before = len(mail.outbox)
        run_day(day)
        sent[day] = [m.subject for m in mail.outbox[before:]]
    assert _evaluation(D(2025, 12, 3)).status == Status.COMPLIANT
    assert _evaluation(D(2025, 12, 16)).status == Status.AT_RISK
    assert [len(v) for v in sent.values()] == [1, 1, 0, 0, 1]
    assert "met today, but short at the deadline 2026-02-01 (73 days left)" in sent[SHORT_AS_OF][0]
    assert (
        "met today, but short at the deadline 2026-02-01 (60 days left)"
        in (sent[D(2025, 12, 3)][0])
    )
    assert sent[D(2026, 1, 2)][0].endswith(
        "30 days left to meet CSP indirect reseller revenue requirement (2024), deadline 2026-02-01"
    )
    assert _rows() == [
        ("reminder", 90, "en", "sent"),
        ("reminder", 60, "en", "sent"),
        ("reminder", 30, "en", "sent"),
    ]


def test_at_risk_then_short_within_one_offset_is_one_reminder(manager, run_day):
    """The other way round: an at_risk reminder at 60 days, then revenue
    makes it compliant but still short at the deadline: a back-on-track
    notice that says so, and no second 60-day reminder."""
    location = short_location(manager=manager)
    day = D(2025, 12, 20)  # at_risk: TTM USD 550.00
    run_day(day)
    assert _rows() == [("reminder", 90, "en", "skipped"), ("reminder", 60, "en", "sent")]
    # USD 450.00 dated 2024-12-25 counts today (TTM 2024-12-21..) but not for
    # the deadline; it rolls off again on 2025-12-26.
    from partners import services as ps

    ps.revenue_record_create(
        location=location, revenue_date=D(2024, 12, 25), amount=Decimal("450.00"),
        currency="USD", reference="LATE-INVOICE",
    )  # fmt: skip
    run_day(day + datetime.timedelta(days=1))
    e = _evaluation(day + datetime.timedelta(days=1))
    assert (e.status, e.outlook) == (Status.COMPLIANT, Outlook.SHORT)
    kinds = [r[0] for r in _rows() if r[3] == "sent"]
    assert sorted(kinds) == ["back_on_track", "reminder"]
    notice = mail.outbox[-1]
    assert notice.subject.endswith("met again, but short at the deadline 2026-02-01")
    assert "but at its current pace not yet on the deadline, 2026-02-01" in notice.body
    assert "Outlook: short." in notice.body


@pytest.mark.parametrize(
    ("extra", "outlook"),
    [
        (((D(2025, 6, 10), "450.00"),), Outlook.MET),  # secured USD 1,000.00
        (((D(2025, 10, 20), "276.00"),), Outlook.ON_TRACK),  # pace USD 5.00 a day
    ],
)
def test_compliant_met_or_on_track_gets_no_reminder(manager, run_day, extra, outlook):
    short_location(manager=manager, extra=extra)
    run_day(SHORT_AS_OF)
    e = _evaluation(SHORT_AS_OF)
    assert (e.status, e.outlook) == (Status.COMPLIANT, outlook)
    assert not mail.outbox and not Notification.objects.exists()


def test_german_contact_gets_the_short_reminder_in_german(manager, run_day):
    short_location(manager=manager, contacts=(("Bernd", "bernd@donau.example", "de"),))
    run_day(SHORT_AS_OF)
    (message,) = mail.outbox
    html = htmllib.unescape(message.alternatives[0][0])
    assert message.subject == (
        "Donau Cloud GmbH, Standort 8100001: CSP-Umsatzanforderung für indirekte Reseller "
        "(2024) heute erfüllt, zur Frist 01.02.2026 aber zu wenig (noch 73 Tage)"
    )
    for text in (message.body, html):
        assert "doch bis zur Frist fallen 700,00 USD davon heraus" in text
        assert "Zählt bereits für die Frist: 550,00 USD." in text
        assert "Bis zur Frist fehlen noch: 450,00 USD von 1.000,00 USD." in text
        assert "(2,00 USD am Tag): 696,00 USD zur Frist." in text
        assert "Ausblick: zu wenig. In diesem Tempo fehlen zur Frist noch 304,00 USD." in text
        assert "USD 700" not in text and "Outlook" not in text
    assert 'lang="de"' in html


def test_no_contact_short_subject_warns_the_account_manager(manager, run_day):
    short_location(manager=manager, contacts=())
    run_day(SHORT_AS_OF)
    (message,) = mail.outbox
    assert message.to == ["maria@distributor.example"]
    assert message.subject.startswith(
        "Nobody at the partner was told: Donau Cloud GmbH, location 8100001 meets"
    )
    assert "short at the deadline 2026-02-01 (73 days left)" in message.subject
    assert "Still needed by the deadline: USD 450.00 of USD 1,000.00." in message.body
    assert _rows() == [("no_contact_warning", 90, "en", "sent")]


# --- content ------------------------------------------------------------------------


def _render(kind=Kind.REMINDER, language="en", case=content.SHORT):
    deadline, offset, facts = content.sample_facts(kind, language, case)
    return content.render(
        kind=kind, language=language, deadline=deadline, offset=offset, facts=facts
    )


def test_short_reminder_states_the_example_figures():
    rendered = _render()
    assert rendered.subject == (
        "Donau Cloud GmbH, location 8100001: CSP indirect reseller revenue requirement (2024) "
        "met today, but short at the deadline 2026-02-01 (73 days left)"
    )
    for text in (rendered.text, htmllib.unescape(rendered.html)):
        assert (
            "meets the requirements of CSP indirect reseller revenue requirement (2024) today, "
            "but at its current pace it will not meet them on the deadline, 2026-02-01, "
            "73 days from now." in text
        )
        assert (
            "Revenue in the last twelve months is USD 1,250.00 today, but by the deadline "
            "USD 700.00 of it will have rolled off: only USD 550.00 counts for it, and "
            "USD 450.00 is still needed." in text
        )
        assert "Already counts for the deadline: USD 550.00." in text
        assert "Rolls off before the deadline: USD 700.00" in text
        assert "revenue dated before 2025-02-01 no longer counts then" in text
        assert "Still needed by the deadline: USD 450.00 of USD 1,000.00." in text
        assert "(USD 2.00 a day): USD 696.00 on the deadline." in text
        assert "Outlook: short. At this pace USD 304.00 will still be missing" in text
        assert "Book at least USD 450.00 more in revenue dated up to 2026-01-31" in text
        assert "location 8100001 will be de-authorised" in text
        assert "What is missing" not in text  # nothing is missing today
    assert "For the deadline on 2026-02-01 (as of 2025-11-20):" in rendered.text


@pytest.mark.parametrize("kind", [Kind.REMINDER, Kind.NO_CONTACT_WARNING, Kind.BACK_ON_TRACK])
def test_every_notice_carries_secured_needed_and_outlook(kind):
    rendered = _render(kind=kind, case="")
    assert "Already counts for the deadline:" in rendered.text
    assert "Still needed by the deadline:" in rendered.text
    assert "Outlook: " in rendered.text and "Outlook: " in rendered.html


def test_missed_notice_says_what_counted_and_what_was_missing():
    text = _render(kind=Kind.DEADLINE_MISSED, case="").text
    assert "Counted on the deadline: USD 212,400.00 of USD 300,000.00 required." in text
    assert "Missing on the deadline: USD 87,600.00." in text
    assert "Outlook: the deadline was missed." in text


def test_old_facts_without_an_outlook_render_as_before():
    deadline, offset, facts = content.sample_facts(Kind.REMINDER, "en")
    for key in ("status", "secured_usd", "rolling_off_usd", "needed_usd", "pace_usd",
                "projected_usd", "outlook"):  # fmt: skip
        del facts[key]
    rendered = content.render(
        kind=Kind.REMINDER, language="en", deadline=deadline, offset=offset, facts=facts
    )
    assert "Outlook" not in rendered.text
    assert "Book the missing USD 87,600.00 in revenue before the deadline" in rendered.text


def test_unknown_outlook_says_so():
    deadline, offset, facts = content.sample_facts(Kind.REMINDER, "en")
    facts.update(secured_usd=None, needed_usd=None, pace_usd=None, projected_usd=None, outlook="")
    rendered = content.render(
        kind=Kind.REMINDER, language="en", deadline=deadline, offset=offset, facts=facts
    )
    assert "The outlook for the deadline could not be computed" in rendered.text


def test_revenue_booked_for_the_deadline_asks_for_no_more():
    """At risk today (TTM short) while revenue already dated inside the
    deadline's window reaches the threshold (outlook met): the to-do does
    not ask for more revenue."""
    deadline, offset, facts = content.sample_facts(Kind.REMINDER, "de")
    facts.update(secured_usd="300000.00", rolling_off_usd="0", needed_usd="0", outlook="met")
    rendered = content.render(
        kind=Kind.REMINDER, language="de", deadline=deadline, offset=offset, facts=facts
    )
    assert "87.600,00 USD unter der Schwelle" in rendered.text  # today's gap, as it is
    assert (
        "Für die Frist ist kein weiterer Umsatz nötig: Der dafür bereits gebuchte Umsatz "
        "erreicht 300.000,00 USD." in rendered.text
    )
    assert "Ausblick: erfüllt." in rendered.text and "Buchen Sie" not in rendered.text
