"""Staff views (email previews, admin), the nightly hook and the schedule."""

import datetime

import pytest
from django.conf import settings
from django.core import mail

from jobs import tasks as compliance_tasks
from notifications import content
from notifications.models import Kind, Notification
from partners.models import Language
from portal.celery import app as celery_app
from tests.factories import StaffUserFactory, UserFactory

from .conftest import DEADLINE

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(StaffUserFactory(is_superuser=True))
    return client


@pytest.mark.parametrize("kind", Kind.values)
@pytest.mark.parametrize("language", Language.values)
def test_staff_preview_every_template_with_sample_data(staff_client, kind, language):
    url = f"/notifications/preview/{kind}/{language}/"
    html = staff_client.get(url)
    text = staff_client.get(url, {"part": "text"})
    subject = staff_client.get(url, {"part": "subject"})
    assert html.status_code == text.status_code == subject.status_code == 200
    assert f'<html lang="{language}">' in html.content.decode()
    assert "Alpenblick IT GmbH" in text.content.decode()
    assert "Alpenblick IT GmbH" in subject.content.decode()
    greeting = "Guten Tag," if language == "de" else "Hello,"
    assert greeting in text.content.decode()
    if kind != Kind.BACK_ON_TRACK:
        amount = "87.600,00 USD" if language == "de" else "USD 87,600.00"
        assert amount in text.content.decode()


def test_each_language_names_the_policy_in_that_language():
    for language, name in (
        ("en", "CSP direct bill partner requirements (2021)"),
        ("de", "CSP-Anforderungen für die Direktabrechnung (2021)"),
    ):
        deadline, offset, facts = content.sample_facts(Kind.REMINDER, language)
        rendered = content.render(
            kind=Kind.REMINDER, language=language, deadline=deadline, offset=offset, facts=facts
        )
        assert name in rendered.subject and name in rendered.text and name in rendered.html
        # facts planned before policies had German names: the name they have
        del facts["policy_names"]
        rendered = content.render(
            kind=Kind.REMINDER, language=language, deadline=deadline, offset=offset, facts=facts
        )
        assert "CSP direct bill partner requirements (2021)" in rendered.subject


def test_preview_index_lists_every_template(staff_client):
    response = staff_client.get("/notifications/preview/")
    assert response.status_code == 200
    for kind in Kind.values:
        for language in Language.values:
            assert f"/notifications/preview/{kind}/{language}/" in response.content.decode()


@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize(
    "key", ["reminder-short", "no_contact_warning-short", "back_on_track-short"]
)
def test_preview_of_a_subject_compliant_today_short_at_the_deadline(staff_client, key, language):
    url = f"/notifications/preview/{key}/{language}/"
    html = staff_client.get(url).content.decode()
    text = staff_client.get(url, {"part": "text"}).content.decode()
    assert f'<html lang="{language}">' in html
    secured, needed, projected = (
        ("550,00 USD", "450,00 USD", "696,00 USD")
        if language == "de"
        else ("USD 550.00", "USD 450.00", "USD 696.00")
    )
    for part in (html, text):
        assert "Donau Cloud GmbH" in part
        assert secured in part and needed in part and projected in part
    assert ("Ausblick: zu wenig." if language == "de" else "Outlook: short.") in text


def test_preview_index_lists_the_short_case(staff_client):
    page = staff_client.get("/notifications/preview/").content.decode()
    assert "Deadline reminder: compliant today, short at the deadline" in page
    for language in Language.values:
        assert f"/notifications/preview/reminder-short/{language}/" in page
    staff_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    page = staff_client.get("/notifications/preview/").content.decode()
    assert "heute erfüllt, zur Frist zu wenig" in page
    assert "Frist 01.02.2026 aber zu wenig (noch 73 Tage)" in page


def test_only_the_email_itself_may_use_inline_styles(staff_client):
    """An email's HTML carries its styles inline, as mail clients need."""
    email = staff_client.get("/notifications/preview/reminder-short/en/")
    index = staff_client.get("/notifications/preview/")
    # directives in any order (the header's order is not fixed)
    directives = {
        name: value
        for name, _space, value in (
            part.strip().partition(" ") for part in email["Content-Security-Policy"].split(";")
        )
    }
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in index["Content-Security-Policy"]


def test_previews_are_staff_only(client):
    url = "/notifications/preview/reminder/en/"
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    assert client.get("/notifications/1/email/").status_code == 403


def test_unknown_template_is_404(staff_client):
    assert staff_client.get("/notifications/preview/spam/en/").status_code == 404
    assert staff_client.get("/notifications/preview/deadline_missed-short/en/").status_code == 404
    assert staff_client.get("/notifications/preview/reminder/fr/").status_code == 404


def test_admin_lists_filters_and_shows_notifications(staff_client, partner, run_day):
    run_day(DEADLINE - 45 * datetime.timedelta(days=1))
    changelist = staff_client.get(
        "/admin/notifications/notification/", {"status__exact": "sent", "q": "1000001"}
    )
    assert changelist.status_code == 200
    assert "Alpenblick IT GmbH" in changelist.content.decode()
    row = Notification.objects.get(status="sent")
    detail = staff_client.get(f"/admin/notifications/notification/{row.pk}/change/")
    assert detail.status_code == 200
    assert f"/notifications/{row.pk}/email/" in detail.content.decode()
    assert staff_client.get("/admin/notifications/notification/add/").status_code == 403
    email = staff_client.get(f"/notifications/{row.pk}/email/", {"part": "text"})
    assert email.content.decode() == mail.outbox[0].body


def test_nightly_run_plans_and_sends_the_reminders(partner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = compliance_tasks.evaluate_all.apply(kwargs={"as_of": "2022-07-18"}).get()
    assert result["skipped"] is False
    assert len(mail.outbox) == 1 and "45 days left" in mail.outbox[0].subject
    assert Notification.objects.filter(offset=60, status="sent").exists()


def test_sweeper_is_scheduled_every_few_minutes_in_utc():
    entry = settings.CELERY_BEAT_SCHEDULE["notification-sweeper"]
    assert entry["task"] == "notifications.sweep"
    assert entry["schedule"].minute == set(range(0, 60, 5))
    assert celery_app.conf.timezone == "UTC"
    for name in ("notifications.sweep", "notifications.deliver", "notifications.plan_reminders"):
        assert name in celery_app.tasks
