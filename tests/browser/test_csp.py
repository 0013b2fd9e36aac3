"""The Content-Security-Policy in a real browser: every kind of page we serve
(login, dashboards, partner list and detail, the admin, the API docs, the
account pages) renders under the strict policy without a violation in
Chromium's console (but the one Redoc's hard-coded CDN logo causes: blocked
on purpose)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from compliance.cases import followup_case_move, outcome_override
from compliance.models import CaseState
from compliance.services import evaluation_run
from partners import services as ps
from tests.factories import StaffUserFactory, UserFactory

from .conftest import PASSWORD, assert_styled, chart_state, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DAY = datetime.timedelta(days=1)

# Chromium reports every refused load or inline script/style on the console;
# the listener also catches violations that the console would summarise.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || document.location.href}:${e.lineNumber}`);
});
"""


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


class Violations(list):
    """Console messages about the Content-Security-Policy, per page."""

    def watch(self, page) -> None:
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "CSP violation" in text:
            self.append(f"{message.page.url if message.page else ''}: {text}")


@pytest.fixture
def violations(page) -> Violations:
    found = Violations()
    found.watch(page)
    return found


@pytest.fixture
def portal(reference_data):
    """An account manager (also superuser, for the admin), one reseller
    with revenue and a contact with a portal login, evaluated today."""
    today = timezone.localdate()
    admin = StaffUserFactory(
        username="admin", first_name="Maria", last_name="Lehner", is_superuser=True
    )
    partner = ps.reseller_enrol(
        partner_id="1000001",
        name="Lindenhof IT GmbH",
        country="DE",
        onboarded_on=today - 200 * DAY,
        location_id="2000001",
        contact_name="Lena Hofmann",
        contact_email="lena@lindenhof.example",
        contact_language="en",
        account_manager=admin,
    )
    location = partner.locations.get()
    for k, amount in enumerate(["400.00", "334.56"]):
        ps.revenue_record_create(
            location=location,
            revenue_date=today - (20 + 30 * k) * DAY,
            amount=Decimal(amount),
            currency="USD",
            reference=f"INV-{k}",
        )
    contact = partner.contacts.get()
    contact.user = UserFactory(username="partner1")
    contact.save()
    evaluation_run(as_of=today)
    return partner


@pytest.fixture
def missed(portal):
    """A reseller location that missed its first anniversary; staff moved
    the follow-up case and overrode the deadline (the change history)."""
    admin = portal.account_manager
    partner = ps.partner_create(
        partner_id="2000003",
        name="Kleinkram IT",
        country="DE",
        onboarded_on=datetime.date(2022, 11, 15),
        account_manager=admin,
    )
    location = ps.location_create(
        partner=partner,
        location_id="7000003",
        country="DE",
        onboarded_on=datetime.date(2022, 11, 15),
    )
    ps.revenue_record_create(
        location=location,
        revenue_date=datetime.date(2024, 5, 1),
        amount=Decimal("999.99"),
        currency="USD",
        reference="INV-1",
        user=admin,
    )
    evaluation_run(as_of=datetime.date(2024, 11, 1))
    outcome = partner.outcomes.get()
    followup_case_move(case=outcome.case, state=CaseState.IN_PROGRESS, user=admin, notes="Called")
    outcome_override(outcome=outcome, user=admin, reason="Microsoft granted an exception")
    return partner


def _visit(page, path: str) -> None:
    response = page.goto(path)
    assert response.status == 200, path
    header = response.header_value("content-security-policy") or ""
    assert "default-src 'self'" in header, (path, header)
    page.wait_for_load_state("networkidle")


def test_no_csp_violation_on_our_pages(
    page, portal, missed, violations, static_failures, screenshot
):
    partner = portal
    detail = f"/partners/{partner.partner_id}/"

    _visit(page, "/accounts/login/")
    assert_styled(page)

    # staff: dashboard (with its chart), list, detail
    log_in(page, "admin", PASSWORD)
    page.wait_for_load_state("networkidle")
    chart_state(page)
    _visit(page, "/partners/")
    page.get_by_role("link", name="Lindenhof IT GmbH").wait_for()
    _visit(page, detail)
    chart_state(page)
    assert_styled(page)
    page.get_by_text("Change history").wait_for()
    # a partner with decided deadlines, a follow-up case and their history
    _visit(page, f"/partners/{missed.partner_id}/")
    page.get_by_text("Microsoft granted an exception").first.wait_for()
    screenshot(page, "partner-detail-history")

    # the admin: index, a change form, the history with its diffs
    _visit(page, "/admin/")
    _visit(page, f"/admin/partners/partner/{partner.pk}/change/")
    page.locator("#partner_form").wait_for()
    _visit(page, f"/admin/partners/partner/{partner.pk}/history/")
    page.locator("#change-history").wait_for()
    _visit(page, "/admin/partners/revenuerecord/")  # with its date hierarchy

    # the account pages: security (second factor), sessions, the enrolment
    # with its QR code (a data: image)
    _visit(page, "/accounts/2fa/")
    _visit(page, "/accounts/sessions/")
    _visit(page, "/accounts/2fa/totp/activate/")
    page.locator("img.portal-qr").wait_for()

    # the API documentation: Swagger UI and Redoc, both drawn from the schema
    _visit(page, "/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    page.locator(".opblock").first.wait_for()
    screenshot(page, "api-docs-swagger")
    _visit(page, "/api/docs/redoc/")
    page.get_by_text("CSP Partner Compliance Portal API").first.wait_for()

    # a partner user: their dashboard and detail page
    page.context.clear_cookies()
    log_in(page, "partner1", PASSWORD)
    page.wait_for_load_state("networkidle")
    chart_state(page)
    _visit(page, detail)
    chart_state(page)
    # forms post to our own host only (form-action 'self'), redirects included
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")

    # Redoc always shows Redocly's logo from their CDN; the policy blocks it on
    # purpose (nothing is loaded from third parties) and Redoc hides it.
    unexpected = [v for v in violations if REDOC_LOGO not in v]
    assert not unexpected, "\n".join(unexpected)
    assert not static_failures, static_failures
