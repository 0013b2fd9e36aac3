"""The account pages in a real browser, under the strict Content-Security-
Policy: what a partner user and a staff user see at their first login (the
login form with the company login, setting up the authenticator app, the
recovery codes shown once, the second step at the next login, the session
list). Screenshots in test-artifacts/screenshots/account-*.png."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from compliance.services import evaluation_run
from partners import services as ps
from tests import oidc
from tests.factories import StaffUserFactory, UserFactory
from tests.test_second_factor import totp_code

from .conftest import PASSWORD, assert_styled, log_in
from .test_csp import Violations

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SSO = {
    "openid_connect": {
        "APPS": [
            {
                "provider_id": "sso",
                "name": "Distributor account",
                "client_id": "portal",
                "secret": "not-used-here",
                "settings": {"server_url": "http://127.0.0.1:9"},
            }
        ]
    }
}


@pytest.fixture
def violations(page) -> Violations:
    found = Violations()
    found.watch(page)
    return found


@pytest.fixture
def people(reference_data, settings):
    settings.SOCIALACCOUNT_PROVIDERS = SSO
    settings.OIDC_BUTTON_LABEL = "Distributor account"
    manager = StaffUserFactory(
        username="manager", first_name="Maria", last_name="Lehner", email="maria@csp.example"
    )
    partner = ps.reseller_enrol(
        partner_id="1000001",
        name="Lindenhof IT GmbH",
        country="DE",
        onboarded_on=timezone.localdate() - datetime.timedelta(days=200),
        location_id="2000001",
        contact_name="Lena Hofmann",
        contact_email="lena@lindenhof.example",
        contact_language="en",
        account_manager=manager,
    )
    contact = partner.contacts.get()
    contact.user = UserFactory(username="partner1", first_name="Lena", last_name="Hofmann")
    contact.save()
    evaluation_run(as_of=timezone.localdate())
    return {"manager": manager, "partner": partner}


_code = totp_code  # the app's code, never near the end of its period


def _enrol(page, screenshot, who: str) -> list[str]:
    """On the enrolment page: scan (read the key), type the app's code; the
    recovery codes shown once."""
    page.get_by_role("heading", name="Set up the authenticator app").wait_for()
    assert page.locator("img.portal-qr").evaluate("img => img.naturalWidth") > 0
    assert_styled(page)
    screenshot(page, f"account-{who}-enrolment")
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Recovery codes").wait_for()
    codes = page.locator("#recovery_codes span").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, f"account-{who}-recovery-codes")
    page.get_by_role("link", name="I have saved my codes").click()
    page.wait_for_url(lambda url: "/accounts/" not in url)
    # shown once: back on the page, only the count is left
    page.goto("/accounts/2fa/recovery-codes/")
    assert page.get_by_text("10 unused codes left").is_visible()
    assert codes[0] not in page.content()
    return codes


def test_a_partner_user_sets_up_a_second_factor(page, people, violations, screenshot):
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with Distributor account").wait_for()
    assert_styled(page)
    screenshot(page, "account-login")
    log_in(page, "partner1", PASSWORD)
    assert page.url.endswith("/")  # partner users are not made to enrol
    page.get_by_role("link", name="Security").click()
    page.get_by_role("heading", name="Account security").wait_for()
    screenshot(page, "account-partner-security")
    page.get_by_role("link", name="Set up").click()
    codes = _enrol(page, screenshot, "partner")

    # the next login: the password, then the second step
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("partner1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Two-factor authentication").wait_for()
    screenshot(page, "account-second-factor-step")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    page.get_by_text("Incorrect code").wait_for()
    page.get_by_label("Code").fill(codes[0])  # the phone is elsewhere: a recovery code
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lambda url: url.endswith("/"))
    page.get_by_text("Lindenhof IT GmbH").first.wait_for()

    page.goto("/accounts/sessions/")
    page.get_by_text("This session").wait_for()
    screenshot(page, "account-partner-sessions")
    assert not violations, "\n".join(violations)


def test_a_staff_user_must_set_up_a_second_factor_at_first_login(
    page, people, violations, screenshot, settings
):
    settings.STAFF_MFA_REQUIRED = True
    log_in(page, "manager", PASSWORD)
    # straight to the enrolment, with the reason
    page.get_by_text("Staff accounts need two-factor authentication").wait_for()
    screenshot(page, "account-staff-first-login")
    page.goto("/partners/")
    assert "/accounts/2fa/totp/activate/" in page.url
    _enrol(page, screenshot, "staff")
    page.goto("/partners/")
    page.get_by_role("link", name="Lindenhof IT GmbH").wait_for()
    page.goto("/accounts/2fa/")
    screenshot(page, "account-staff-security")
    assert not violations, "\n".join(violations)


def test_a_staff_user_signs_in_with_the_company_account(
    page, people, violations, settings, live_server, screenshot
):
    """The whole round trip in the browser: the login page's button (a form
    answered with a redirect to the provider, which form-action allows), the
    provider's login form, back to the portal as the staff user."""
    reason = oidc.available()
    if reason:
        pytest.skip(reason)
    settings.STAFF_MFA_REQUIRED = True
    client = {
        "client_id": "portal",
        "client_secret": "browser-test-secret",
        "redirect_uris": [f"{live_server.url}/accounts/sso/sso/login/callback/"],
    }
    accounts = {
        "maria": {
            "password": "maria-pw",
            "sub": "entra-maria",
            "email": "maria@csp.example",
            "email_verified": True,
            "name": "Maria Lehner",
        }
    }
    with oidc.running_provider(client=client, accounts=accounts) as issuer:
        settings.SOCIALACCOUNT_PROVIDERS = {
            "openid_connect": {
                "OAUTH_PKCE_ENABLED": True,
                "APPS": [{**SSO["openid_connect"]["APPS"][0], "client_id": "portal",
                          "secret": "browser-test-secret", "settings": {"server_url": issuer}}],
            }
        }  # fmt: skip
        page.goto("/accounts/login/")
        page.get_by_role("button", name="Sign in with Distributor account").click()
        page.wait_for_url(f"{issuer}/interaction/**")
        page.locator("input[name=login]").fill("maria")
        page.locator("input[name=password]").fill("maria-pw")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/")
        # a company login counts as two factors: no enrolment, the dashboard
        page.get_by_role("link", name="Partners").first.wait_for()
        page.goto("/partners/")
        page.get_by_role("link", name="Lindenhof IT GmbH").wait_for()
        screenshot(page, "account-staff-company-login")
    assert not violations, "\n".join(violations)
