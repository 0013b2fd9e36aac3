"""Staff single sign-on over OpenID Connect against a real provider on
loopback (npm ``oidc-provider``, tests/oidc/): the whole protocol runs -
discovery, the authorization request, the provider's login form, the code
exchange, the ID token's signature checked against the provider's keys.
A company login opens the portal only as the existing active staff user with
that e-mail; nobody is created, nobody gets staff rights."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests import oidc
from tests.factories import StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

CLIENT_ID = "compliance-portal"
CLIENT_SECRET = "loopback-test-secret"
CALLBACK = "http://testserver/accounts/sso/sso/login/callback/"
ACCOUNTS = {
    # login at the provider: its password, subject and claims
    "sven": {"sub": "entra-sven", "email": "Sven.Berg@distributor.example"},
    "stranger": {"sub": "entra-stranger", "email": "stranger@distributor.example"},
    "paula": {"sub": "entra-paula", "email": "paula@reseller.example"},
    "olga": {"sub": "entra-olga", "email": "olga@distributor.example", "email_verified": False},
}
for _login, _account in ACCOUNTS.items():
    _account.setdefault("email_verified", True)
    _account.update(password=f"{_login}-pw", name=_login.title())


@pytest.fixture(scope="module")
def issuer():
    reason = oidc.available()
    if reason:
        pytest.skip(reason)
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [CALLBACK]}
    with oidc.running_provider(client=client, accounts=ACCOUNTS) as url:
        yield url


@pytest.fixture
def sso(settings, issuer):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": "sso",
                    "name": "Distributor account",
                    "client_id": CLIENT_ID,
                    "secret": CLIENT_SECRET,
                    "settings": {"server_url": issuer},
                }
            ],
        }
    }
    settings.OIDC_BUTTON_LABEL = "Distributor account"
    return issuer


def sso_login(client, login: str, password: str | None = None):
    """Press the login page's button, sign in at the provider as a browser
    would (its form, its redirects), come back to the portal's callback."""
    response = client.post(reverse("openid_connect_login", args=["sso"]), {"process": "login"})
    assert response.status_code == 302, response.content
    url = response["Location"]
    browser = requests.Session()
    for _ in range(20):
        if url.startswith(CALLBACK):
            return client.get(url.removeprefix("http://testserver"))
        answer = browser.get(url, allow_redirects=False, timeout=10)
        if answer.status_code == 200 and 'name="login"' in answer.text:
            action = re.search(r'action="([^"]+)"', answer.text)[1]
            answer = browser.post(
                urljoin(url, action),
                data={"login": login, "password": password or ACCOUNTS[login]["password"]},
                allow_redirects=False,
                timeout=10,
            )
            if answer.status_code == 200:
                return answer  # the provider refused the login
        assert answer.status_code in (302, 303), (url, answer.status_code, answer.text[:300])
        url = urljoin(url, answer.headers["Location"])
    raise AssertionError("no way back to the portal")


def logged_in_user(client):
    return client.get("/").wsgi_request.user


def test_the_login_page_offers_the_company_login_only_when_configured(client, settings):
    response = client.get(reverse("login"))
    assert "Sign in with" not in response.text
    assert "form-action 'self';" in response["Content-Security-Policy"] + ";"
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "sso",
                    "name": "X",
                    "client_id": "x",
                    "secret": "y",
                    "settings": {"server_url": "http://127.0.0.1:9"},
                }
            ]
        }
    }
    settings.OIDC_BUTTON_LABEL = "Distributor account"
    response = client.get(reverse("login"))
    page = response.text
    assert "Sign in with Distributor account" in page
    # the button's answer redirects to the provider: allowed by form-action
    assert "form-action 'self' http://127.0.0.1:9" in response["Content-Security-Policy"]
    assert 'name="username"' in page and 'name="password"' in page


def test_a_company_login_opens_the_portal_as_the_staff_user_with_that_email(client, sso):
    StaffUserFactory(username="other", email="other@distributor.example")
    sven = StaffUserFactory(username="sven", email="sven.berg@distributor.example")
    users = get_user_model().objects.count()
    response = sso_login(client, "sven")
    assert response.status_code == 302 and response["Location"] == "/"
    assert logged_in_user(client) == sven
    assert client.get("/partners/").status_code == 200
    assert get_user_model().objects.count() == users
    account = SocialAccount.objects.get()
    assert (account.user, account.uid, account.provider) == (sven, "entra-sven", "sso")
    # the next time, through the connected account
    client.logout()
    assert sso_login(client, "sven").status_code == 302
    assert logged_in_user(client) == sven
    assert SocialAccount.objects.count() == 1


def test_an_unknown_email_is_refused_and_nobody_is_created(client, sso):
    StaffUserFactory(username="sven", email="sven.berg@distributor.example")
    users = get_user_model().objects.count()
    response = sso_login(client, "stranger")
    assert response.status_code == 403
    assert "There is no staff login for stranger@distributor.example" in response.text
    assert not logged_in_user(client).is_authenticated
    assert get_user_model().objects.count() == users
    assert not SocialAccount.objects.exists()


def test_a_partner_users_email_gives_no_staff_rights(client, sso):
    paula = UserFactory(username="paula", email="paula@reseller.example")
    response = sso_login(client, "paula")
    assert response.status_code == 403
    assert not logged_in_user(client).is_authenticated
    paula.refresh_from_db()
    assert not paula.is_staff and not SocialAccount.objects.exists()


def test_an_inactive_staff_user_is_refused(client, sso):
    StaffUserFactory(username="sven", email="sven.berg@distributor.example", is_active=False)
    assert sso_login(client, "sven").status_code == 403
    assert not logged_in_user(client).is_authenticated


def test_a_connected_user_who_lost_staff_rights_is_refused(client, sso):
    sven = StaffUserFactory(username="sven", email="sven.berg@distributor.example")
    sso_login(client, "sven")
    client.logout()
    sven.is_staff = False
    sven.save()
    response = sso_login(client, "sven")
    assert response.status_code == 403 and "not linked to an active staff login" in response.text
    assert not logged_in_user(client).is_authenticated


def test_an_unverified_email_is_refused_unless_its_domain_is_trusted(client, sso, settings):
    olga = StaffUserFactory(username="olga", email="olga@distributor.example")
    response = sso_login(client, "olga")
    assert response.status_code == 403 and "did not confirm an e-mail" in response.text
    settings.OIDC_EMAIL_DOMAINS = ["distributor.example"]
    assert sso_login(client, "olga").status_code == 302
    assert logged_in_user(client) == olga


def test_a_wrong_password_at_the_provider_logs_nobody_in(client, sso):
    StaffUserFactory(username="sven", email="sven.berg@distributor.example")
    answer = sso_login(client, "sven", password="wrong")
    assert "Wrong login or password" in answer.text
    assert not logged_in_user(client).is_authenticated


def test_a_company_login_counts_as_two_factors_for_staff(client, sso, settings):
    settings.STAFF_MFA_REQUIRED = True
    StaffUserFactory(username="sven", email="sven.berg@distributor.example")
    sso_login(client, "sven")
    assert client.get("/partners/").status_code == 200
    # the same user with the password alone must enrol
    client.logout()
    client.post(reverse("login"), {"username": "sven", "password": "portal-demo"})
    assert client.get("/partners/")["Location"] == reverse("mfa_activate_totp")


def test_disconnecting_the_company_login_ends_the_other_sessions(client, sso):
    from django.test import Client

    StaffUserFactory(username="sven", email="sven.berg@distributor.example")
    other = Client()
    sso_login(other, "sven")
    assert other.get("/partners/").status_code == 200
    client.post(reverse("login"), {"username": "sven", "password": "portal-demo"})
    account = SocialAccount.objects.get()
    response = client.post(reverse("socialaccount_connections"), {"account": account.pk})
    assert response.status_code == 302
    assert not SocialAccount.objects.exists()
    assert other.get("/partners/").status_code == 302  # ended
    assert client.get("/partners/").status_code == 200  # this one stays
