"""The portal's forms write through services, take the owning partner from
the URL (never from the form), re-evaluate the partner at once and turn bad
input into friendly form errors."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from compliance.models import CaseState, DeadlineOutcome, Evaluation, FollowUpCase
from partners.dates import end_of_next_month
from partners.models import Contact, Location, Partner, RevenueRecord, SupportContract

pytestmark = pytest.mark.django_db


def test_enrol_a_reseller_in_one_step(client, staff, today):
    client.force_login(staff)
    response = client.post(
        reverse("partners:enrol"),
        {
            "partner_id": "7000001",
            "name": "Neue Reseller GmbH",
            "country": "de",
            "onboarded_on": (today - datetime.timedelta(days=30)).isoformat(),
            "account_manager": staff.pk,
            "location_id": "7100001",
            "contact_name": "Eva Neu",
            "contact_email": "Eva@Neu.example",
            "contact_language": "de",
        },
    )
    partner = Partner.objects.get(partner_id="7000001")
    assert response.status_code == 302
    assert response["Location"] == reverse("partners:detail", args=["7000001"])
    assert partner.billing_model == "indirect_reseller"
    assert partner.country == "DE"
    assert partner.locations.get().location_id == "7100001"
    assert partner.contacts.get().email == "eva@neu.example"
    # re-evaluated at once: the new location has a status for today
    assert Evaluation.objects.filter(partner=partner, as_of=today).exists()
    assert partner.history.get().history_user == staff


def test_enrol_reports_duplicates_and_bad_values_on_the_form(client, staff, own_partner, today):
    client.force_login(staff)
    response = client.post(
        reverse("partners:enrol"),
        {
            "partner_id": own_partner.partner_id,
            "name": "Copy",
            "country": "Germany",
            "onboarded_on": "31.02.2024",
            "location_id": "12ab",
            "contact_name": "X",
            "contact_email": "not-an-email",
            "contact_language": "fr",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {
        "partner_id",
        "country",
        "onboarded_on",
        "location_id",
        "contact_email",
        "contact_language",
    }
    assert "already enrolled" in str(errors["partner_id"])
    assert Partner.objects.count() == 1


def test_record_revenue_for_own_location_reevaluates(client, staff, own_partner, today):
    client.force_login(staff)
    location = own_partner.locations.get()
    response = client.post(
        reverse("partners:revenue-new", args=[own_partner.partner_id]),
        {
            "location": location.pk,
            "revenue_date": (today - datetime.timedelta(days=3)).isoformat(),
            "amount": "700.00",
            "currency": "USD",
            "reference": "",
            "customer": "Contoso",
            "partner": "999",  # injected: ignored
        },
    )
    assert response.status_code == 302
    record = RevenueRecord.objects.get(customer="Contoso")
    assert record.location == location
    assert record.amount == Decimal("700.00")
    assert record.reference.startswith("manual-")
    evaluation = Evaluation.objects.get(location=location, as_of=today, purpose="compliance")
    assert evaluation.status == "compliant"  # 400 + 700 >= 1,000
    page = client.get(response["Location"])
    assert "USD 1,100.00" in page.text


def test_revenue_cannot_target_another_partners_location(
    client, staff, own_partner, foreign_partner, today
):
    client.force_login(staff)
    foreign_location = foreign_partner.locations.get()
    response = client.post(
        reverse("partners:revenue-new", args=[own_partner.partner_id]),
        {
            "location": foreign_location.pk,
            "revenue_date": today.isoformat(),
            "amount": "1",
            "currency": "USD",
        },
    )
    assert response.status_code == 200
    assert "location" in response.context["form"].errors
    assert not RevenueRecord.objects.filter(amount=1).exists()


def test_revenue_form_rejects_future_dates_and_bad_amounts(client, staff, own_partner, today):
    client.force_login(staff)
    response = client.post(
        reverse("partners:revenue-new", args=[own_partner.partner_id]),
        {
            "location": own_partner.locations.get().pk,
            # later than the last day of next month (partners.dates.REVENUE)
            "revenue_date": (end_of_next_month(today) + datetime.timedelta(days=1)).isoformat(),
            "amount": "12abc",
            "currency": "XXX",
        },
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"revenue_date", "amount", "currency"}


def test_add_support_contract_ignores_an_injected_partner(
    client, staff, own_partner, foreign_partner, today
):
    client.force_login(staff)
    response = client.post(
        reverse("partners:contract-new", args=[own_partner.partner_id]),
        {
            "plan_type": "asfp",
            "contract_number": "ASFP-1",
            "start_date": today.isoformat(),
            "end_date": (today + datetime.timedelta(days=364)).isoformat(),
            "is_paid": "on",
            "amount": "6000",
            "currency": "EUR",
            "partner": foreign_partner.pk,
        },
    )
    assert response.status_code == 302
    contract = SupportContract.objects.get(contract_number="ASFP-1")
    assert contract.partner == own_partner
    assert contract.is_paid
    # the same number again is a friendly error, not a 500
    response = client.post(
        reverse("partners:contract-new", args=[own_partner.partner_id]),
        {
            "plan_type": "asfp",
            "contract_number": "ASFP-1",
            "start_date": today.isoformat(),
            "end_date": (today - datetime.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 200
    assert "end_date" in response.context["form"].errors


def test_partner_user_adds_and_edits_contacts_of_own_partner(
    client, partner_user, own_partner, foreign_partner
):
    client.force_login(partner_user)
    response = client.post(
        reverse("partners:contact-new", args=[own_partner.partner_id]),
        {
            "name": "Jonas Neu",
            "email": "jonas@lindenhof.example",
            "language": "en",
            "receives_notices": "on",
            "partner": foreign_partner.pk,
            "user": partner_user.pk,
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="jonas@lindenhof.example")
    assert contact.partner == own_partner
    assert contact.user is None
    # duplicate email on the same partner: friendly error
    response = client.post(
        reverse("partners:contact-new", args=[own_partner.partner_id]),
        {"name": "Again", "email": "jonas@lindenhof.example", "language": "en"},
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors


def test_own_language_preference_sets_the_portal_language(client, partner_user, own_partner):
    client.force_login(partner_user)
    contact = Contact.objects.get(user=partner_user)
    response = client.post(
        reverse("partners:contact-edit", args=[own_partner.partner_id, contact.pk]),
        {"name": contact.name, "email": contact.email, "language": "en"},
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.language == "en"
    assert contact.receives_notices is False
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert contact.history.first().history_user == partner_user


def test_move_a_followup_case_to_done_deauthorises(client, staff, missed_case):
    client.force_login(staff)
    case = FollowUpCase.objects.get(partner=missed_case)
    url = reverse("compliance:case-move", args=[case.pk])
    assert client.post(url, {"state": "bogus"}).status_code == 200
    response = client.post(url, {"state": CaseState.DONE, "notes": "Confirmed by Microsoft"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.DONE
    assert "Confirmed by Microsoft" in case.notes
    assert not Location.objects.get(location_id="2000009").is_active
    # a done case cannot move again: a form error, not a 500
    response = client.post(url, {"state": CaseState.OPEN})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_override_needs_a_reason_and_is_audited(client, staff, missed_case):
    client.force_login(staff)
    outcome = DeadlineOutcome.objects.get(partner=missed_case)
    url = reverse("compliance:outcome-override", args=[outcome.pk])
    response = client.post(url, {"reason": "   "})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    response = client.post(url, {"reason": "Exception granted by Microsoft"})
    assert response.status_code == 302
    outcome.refresh_from_db()
    assert outcome.overridden_by == staff
    assert outcome.override_reason == "Exception granted by Microsoft"
    # overriding again is a friendly error
    response = client.post(url, {"reason": "again"})
    assert response.status_code == 200
