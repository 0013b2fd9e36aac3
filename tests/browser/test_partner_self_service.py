"""A partner user in a real browser: logs in, sees only their own partner
(another partner's address is the 404 page), switches the portal to German
through the language switcher in the navigation bar and reads German
numbers and dates."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from compliance.models import Evaluation
from compliance.services import evaluation_run
from partners import services as ps
from tests.factories import StaffUserFactory, UserFactory

from .conftest import assert_styled, chart_state, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DAY = datetime.timedelta(days=1)
OWN, FOREIGN = "1000001", "1000002"


def _reseller(partner_id, name, manager, amounts):
    """A reseller onboarded 200 days ago (first anniversary month still
    ahead) with USD revenue ``amounts`` on days 20, 50, 80, ... before today."""
    today = timezone.localdate()
    partner = ps.reseller_enrol(
        partner_id=partner_id,
        name=name,
        country="DE",
        onboarded_on=today - 200 * DAY,
        location_id=str(int(partner_id) + 1_000_000),
        contact_name=f"Contact of {name}",
        contact_email=f"contact@{partner_id}.example",
        contact_language="en",
        account_manager=manager,
    )
    location = partner.locations.get()
    for k, amount in enumerate(amounts):
        ps.revenue_record_create(
            location=location,
            revenue_date=today - (20 + 30 * k) * DAY,
            amount=Decimal(amount),
            currency="USD",
            reference=f"INV-{partner_id}-{k}",
        )
    return partner


@pytest.fixture
def partners(reference_data):
    """partner1's reseller at USD 1,234.56 of 1,000 (compliant) and a foreign
    one; both evaluated today."""
    manager = StaffUserFactory(
        username="manager", first_name="Maria", last_name="Lehner", email="maria@csp.example"
    )
    own = _reseller(OWN, "Lindenhof IT GmbH", manager, ["400.00", "334.56", "500.00"])
    foreign = _reseller(FOREIGN, "Highland Systems Ltd", manager, ["5000.00"])
    user = UserFactory(username="partner1", first_name="Lena", last_name="Hofmann")
    contact = own.contacts.get()
    contact.user = user  # a portal login is bound in the admin
    contact.save()
    evaluation_run(as_of=timezone.localdate())
    return own, foreign


def test_partner_user_sees_only_their_partner_and_switches_to_german(
    page, partners, static_failures, screenshot
):
    own, foreign = partners
    deadline = Evaluation.objects.get(location__partner=own, as_of=timezone.localdate()).deadline

    log_in(page, "partner1")

    # their own dashboard, in English first
    page.get_by_role("heading", name="Lindenhof IT GmbH").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert_styled(page)
    chart = chart_state(page)
    assert sorted(v for v in chart["values"] if v) == [334.56, 400, 500], chart
    body = page.locator("main").inner_text()
    assert "USD 1,234.56" in body
    assert deadline.isoformat() in body
    assert "Highland Systems" not in page.content()
    # no staff navigation for a partner user
    assert page.get_by_role("link", name="Partners", exact=True).count() == 0
    screenshot(page, "partner-dashboard-en")

    # another partner's address: the 404 page, never its data
    response = page.goto(f"/partners/{foreign.partner_id}/")
    assert response.status == 404
    assert "Highland Systems" not in page.content()
    assert "5,000" not in page.content()
    screenshot(page, "partner-404")
    # and their own detail page works
    response = page.goto(f"/partners/{own.partner_id}/")
    assert response.status == 200
    page.goto("/")

    # switch to German through the language menu in the navigation bar
    page.get_by_role("button", name="Language").click()
    page.get_by_role("button", name="Deutsch").click()
    page.wait_for_function("document.documentElement.lang === 'de'")
    page.get_by_role("heading", name="Lindenhof IT GmbH").wait_for()
    assert page.locator("html").get_attribute("lang") == "de"
    chart_state(page)
    body = page.locator("main").inner_text()
    assert "1.234,56 USD" in body  # German number format
    assert f"{deadline:%d.%m.%Y}" in body  # German date format
    assert re.search(r"\b(Abmelden|Umsatz|Ihr Fortschritt)\b", page.content())
    # the choice sticks for the next page
    page.goto(f"/partners/{own.partner_id}/")
    assert page.locator("html").get_attribute("lang") == "de"
    page.goto("/")
    chart_state(page)
    screenshot(page, "partner-dashboard-de")

    assert not static_failures, static_failures
