"""The audit trail on the partner page: staff see who changed what and when
(field before → after) for the partner and everything that belongs to it,
follow-up cases and deadline overrides included; partner users do not see
the change history."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from compliance.models import CaseState, DeadlineOutcome, FollowUpCase
from compliance.services import evaluation_run
from partners import services as ps

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def missed(staff):
    """A reseller location that missed its first anniversary (USD 999.99 of
    1,000): a missed deadline and an open de-authorisation case, both
    written by the nightly run (no user)."""
    partner = ps.partner_create(
        partner_id="2000003",
        name="Kleinkram IT",
        country="DE",
        onboarded_on=D(2022, 11, 15),
        account_manager=staff,
    )
    location = ps.location_create(
        partner=partner, location_id="7000003", country="DE", onboarded_on=D(2022, 11, 15)
    )
    ps.revenue_record_create(
        location=location,
        revenue_date=D(2024, 5, 1),
        amount=Decimal("999.99"),
        currency="USD",
        reference="INV-1",
        user=staff,
    )
    evaluation_run(as_of=D(2024, 11, 1))
    return partner


def _history(client, partner) -> tuple[list, str]:
    response = client.get(reverse("partners:detail", args=[partner.partner_id]))
    assert response.status_code == 200
    text = re.sub(r"\s+", " ", response.text)
    return response.context["changes"], text


def _entry(changes, model: str, action: str = "~"):
    matching = [c for c in changes if c.model == model and c.action == action]
    assert matching, [(c.model, c.action) for c in changes]
    return matching[0]  # newest first


def test_moving_a_case_shows_on_the_partner_page(client, staff, missed):
    client.force_login(staff)
    case = FollowUpCase.objects.get(partner=missed)
    move = reverse("compliance:case-move", args=[case.pk])
    response = client.post(move, {"state": CaseState.IN_PROGRESS, "notes": "Called them"})
    assert response.status_code == 302
    response = client.post(move, {"state": CaseState.DONE, "notes": ""})
    assert response.status_code == 302

    changes, text = _history(client, missed)
    done, in_progress = [c for c in changes if c.model == "follow-up case" and c.action == "~"]
    assert done.user == in_progress.user == "Maria Lehner"
    assert done.when > in_progress.when
    assert done.object_label == "De-authorise the reseller location (7000003)"
    # before → after
    assert "state: In progress → Done" in done.changes
    assert any(c.startswith("closed at: \u2013 → ") for c in done.changes), done.changes
    # The nightly run opened the case without a history row, so the first
    # move has no recorded version before it: it shows the state after.
    assert any(
        c.startswith("state: ") and c.endswith("In progress") for c in in_progress.changes
    ), in_progress.changes
    # closing the case de-authorised the location, by the same person and why
    location = _entry(changes, "location")
    assert location.user == "Maria Lehner"
    assert location.reason == f"follow-up case {case.pk} done"
    assert "active: yes → no" in location.changes
    # and all of it is on the page
    assert "Follow-up case <strong>De-authorise the reseller location (7000003)</strong>" in text
    assert "state: In progress → Done" in text
    assert "Maria Lehner" in text


def test_recording_an_override_shows_on_the_partner_page(client, staff, missed):
    client.force_login(staff)
    outcome = DeadlineOutcome.objects.get(partner=missed)
    response = client.post(
        reverse("compliance:outcome-override", args=[outcome.pk]),
        {"reason": "Microsoft granted an exception"},
    )
    assert response.status_code == 302

    changes, text = _history(client, missed)
    entry = _entry(changes, "deadline outcome")
    assert entry.user == "Maria Lehner"
    assert entry.reason == "Microsoft granted an exception"
    assert entry.object_label.endswith("(7000003)")
    assert any(
        c.startswith("override reason: ") and c.endswith("Microsoft granted an exception")
        for c in entry.changes
    ), entry.changes
    assert any(c.endswith("Maria Lehner") for c in entry.changes), entry.changes
    assert "Deadline outcome" in text and "Microsoft granted an exception" in text


def test_case_and_override_show_before_and_after_where_the_version_before_is_recorded(
    client, staff, missed
):
    """Outcomes and cases that have a recorded version before the change
    (a staff edit before, or a nightly run that records its inserts) show
    each changed field as before → after."""
    outcome = DeadlineOutcome.objects.get(partner=missed)
    case = FollowUpCase.objects.get(partner=missed)
    DeadlineOutcome.history.bulk_history_create([outcome])
    FollowUpCase.history.bulk_history_create([case])
    client.force_login(staff)
    client.post(
        reverse("compliance:outcome-override", args=[outcome.pk]),
        {"reason": "Microsoft granted an exception"},
    )
    client.post(
        reverse("compliance:case-move", args=[case.pk]),
        {"state": CaseState.IN_PROGRESS, "notes": "Called them"},
    )
    changes, text = _history(client, missed)
    override = _entry(changes, "deadline outcome")
    assert "override reason: \u2013 → Microsoft granted an exception" in override.changes
    assert "overridden by: \u2013 → Maria Lehner" in override.changes
    assert any(c.startswith("overridden at: \u2013 → ") for c in override.changes)
    moved = _entry(changes, "follow-up case")
    assert "state: Open → In progress" in moved.changes
    assert "notes: \u2013 → Called them" in moved.changes
    assert "state: Open → In progress" in text
    assert "override reason: \u2013 → Microsoft granted an exception" in text


def test_revenue_and_contact_changes_are_in_the_history_too(client, staff, missed):
    client.force_login(staff)
    location = missed.locations.get()
    ps.revenue_record_create(
        location=location,
        revenue_date=D(2024, 6, 1),
        amount=Decimal("10.00"),
        currency="USD",
        reference="INV-2",
        user=staff,
    )
    contact = ps.contact_create(
        partner=missed, name="Lena", email="lena@kleinkram.example", language="de", user=staff
    )
    ps.contact_update(
        contact=contact,
        name="Lena Hofmann",
        email="lena@kleinkram.example",
        language="en",
        receives_notices=False,
        user=staff,
    )
    changes, _text = _history(client, missed)
    revenue = [c for c in changes if c.model == "revenue record"]
    assert {c.object_label for c in revenue} == {"INV-1 (7000003)", "INV-2 (7000003)"}
    assert all(c.user == "Maria Lehner" for c in revenue)
    contact_change = _entry(changes, "contact")
    assert "name: Lena → Lena Hofmann" in contact_change.changes
    assert "language: German → English" in contact_change.changes
    assert "receives compliance notices: yes → no" in contact_change.changes


def test_partner_users_do_not_see_the_change_history(client, missed):
    from tests.factories import UserFactory

    user = UserFactory(username="kleinkram")
    contact = ps.contact_create(
        partner=missed, name="Lena", email="lena@kleinkram.example", language="en"
    )
    contact.user = user
    contact.save()
    client.force_login(user)
    response = client.get(reverse("partners:detail", args=[missed.partner_id]))
    assert response.status_code == 200
    assert response.context["changes"] is None
    assert "Change history" not in response.text


def test_admin_history_pages_of_every_audited_model(admin_client, admin_user, missed):
    """Who, when and the diff, in the admin, for each kind of data the
    partner page summarises."""
    from compliance.cases import followup_case_move, outcome_override

    outcome = DeadlineOutcome.objects.get(partner=missed)
    case = FollowUpCase.objects.get(partner=missed)
    outcome_override(outcome=outcome, user=admin_user, reason="Microsoft granted an exception")
    followup_case_move(case=case, state=CaseState.IN_PROGRESS, user=admin_user)
    policy = outcome.policy
    policy.save()  # the data migration wrote no history; give it a version
    location = missed.locations.get()
    objects = [missed, location, location.revenue.get(), outcome, case, policy]
    for obj in objects:
        opts = obj._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert 'id="change-history"' in response.text, url
    # the override's page names who did it
    opts = outcome._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[outcome.pk])
    assert admin_user.username in admin_client.get(url).text


def test_history_of_a_deleted_location_still_renders(client, staff):
    """A location deleted in the admin takes its outcomes and cases along;
    their history rows stay and the page still shows them."""
    partner = ps.partner_create(
        partner_id="2000004", name="Gone GmbH", country="DE", onboarded_on=D(2022, 11, 15)
    )
    location = ps.location_create(
        partner=partner, location_id="7000004", country="DE", onboarded_on=D(2022, 11, 15)
    )
    evaluation_run(as_of=D(2024, 11, 1))
    assert FollowUpCase.objects.filter(partner=partner).exists()
    location.delete()
    client.force_login(staff)
    changes, text = _history(client, partner)
    deleted = {(c.model, c.object_label) for c in changes if c.action == "-"}
    assert ("location", "7000004") in deleted
    assert ("follow-up case", "De-authorise the reseller location (7000004)") in deleted
    assert "deleted" in text
