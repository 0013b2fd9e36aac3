"""Two-factor sign-in (django-allauth's TOTP and recovery codes behind our
login form): staff must enrol, codes are a second step, wrong codes count
towards the lockout, recovery codes work once, compliance admins reset."""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from allauth.usersessions.models import UserSession
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from portal.mfa import factor_reset
from tests.factories import StaffUserFactory, UserFactory
from tests.test_accounts import AXES_ON

pytestmark = pytest.mark.django_db

PASSWORD = "portal-demo"
STAFF_PAGES = ["/", "/partners/", "/admin/"]


@pytest.fixture
def mfa_required(settings):
    settings.STAFF_MFA_REQUIRED = True


def totp_code(secret: str) -> str:
    """The app's code now. Near the end of its 30-second period the server
    may check it in the next one (no tolerance): a slow request then failed
    the test now and then, so wait for the next period first."""
    left = mfa_settings.TOTP_PERIOD - time.time() % mfa_settings.TOTP_PERIOD
    if left < 3:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def password_step(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def enrol(client) -> tuple[str, list[str]]:
    """Set up the authenticator app as a person would: read the key from the
    page, type the app's code; returns the key and the recovery codes shown."""
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = re.search(r'id="authenticator_secret" type="text" value="([A-Z2-7]+)"', page.text)[1]
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    codes_page = client.get(response["Location"])
    codes = re.findall(r'<span class="border rounded[^"]*">([0-9a-f]{8})</span>', codes_page.text)
    assert len(codes) == 10, codes_page.text
    return secret, codes


def staff_with_factor(client, username="sven", **kwargs):
    user = StaffUserFactory(username=username, **kwargs)
    password_step(client, username)
    secret, codes = enrol(client)
    client.logout()
    return user, secret, codes


def test_staff_without_a_factor_reach_only_the_enrolment(client, mfa_required):
    StaffUserFactory(username="sven")
    response = password_step(client, "sven")
    assert response.status_code == 302
    for path in STAFF_PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("mfa_activate_totp"), path
    # the API with the session: refused, not redirected
    assert client.get("/api/v1/partners/").status_code == 403
    # the enrolment itself opens
    assert client.get(reverse("mfa_activate_totp")).status_code == 200


def test_api_tokens_are_unchanged_for_staff_without_a_factor(client, mfa_required):
    user = StaffUserFactory(username="sven")
    token = Token.objects.create(user=user)
    response = Client().get("/api/v1/partners/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    # also from a browser that holds the (not yet enrolled) session
    password_step(client, "sven")
    assert client.get("/api/v1/partners/").status_code == 403
    response = client.get("/api/v1/partners/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_partner_users_are_not_made_to_enrol(client, mfa_required):
    UserFactory(username="paula")
    assert password_step(client, "paula").status_code == 302
    assert client.get("/").status_code == 200


def test_without_the_setting_staff_are_not_made_to_enrol(client):
    StaffUserFactory(username="sven")
    password_step(client, "sven")
    assert client.get("/partners/").status_code == 200


def test_staff_with_a_factor_need_the_code_after_the_password(client, mfa_required):
    _user, secret, _codes = staff_with_factor(client)
    response = password_step(client, "sven")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    # The password alone opens nothing.
    for path in STAFF_PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(("/accounts/login/", "/admin/login/")), path
    page = client.get(reverse("mfa_authenticate"))
    assert "Two-factor authentication" in page.text
    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == 200 and "Incorrect code" in response.text
    assert client.get("/").status_code == 302
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == "/"
    for path in STAFF_PAGES:
        assert client.get(path).status_code == 200, path


def test_a_code_is_refused_the_second_time(client, mfa_required):
    _user, secret, _codes = staff_with_factor(client)
    code = totp_code(secret)
    password_step(client, "sven")
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    client.logout()
    password_step(client, "sven")
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 200 and "Incorrect code" in response.text
    assert client.get("/").status_code == 302


@AXES_ON
def test_wrong_codes_count_towards_the_lockout(client, mfa_required):
    _user, secret, _codes = staff_with_factor(client)
    password_step(client, "sven")
    for _ in range(4):
        response = client.post(reverse("mfa_authenticate"), {"code": "123456"})
        assert response.status_code == 200
    response = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert response.status_code == 429 and "Too many failed logins" in response.text
    # Locked: not even the right code, nor the right password, gets in.
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 429
    assert password_step(client, "sven").status_code == 429
    assert client.get("/").status_code == 302


@AXES_ON
def test_wrong_passwords_and_wrong_codes_add_up(client, mfa_required):
    staff_with_factor(client)
    for _ in range(3):
        assert password_step(client, "sven", "wrong").status_code == 200
    password_step(client, "sven")
    assert client.post(reverse("mfa_authenticate"), {"code": "123456"}).status_code == 200
    response = client.post(reverse("mfa_authenticate"), {"code": "654321"})
    assert response.status_code == 429


@AXES_ON
def test_a_correct_code_resets_the_count(client, mfa_required):
    _user, secret, _codes = staff_with_factor(client)
    password_step(client, "sven")
    for _ in range(4):
        client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)}).status_code == 302
    client.logout()
    password_step(client, "sven")
    for _ in range(4):
        assert client.post(reverse("mfa_authenticate"), {"code": "123456"}).status_code == 200


def test_recovery_codes_are_shown_once_and_work_once(client, mfa_required):
    _user, _secret, codes = staff_with_factor(client, username="rita")
    password_step(client, "rita")
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    assert client.get("/partners/").status_code == 200
    # shown once: the page now only counts them
    page = client.get(reverse("mfa_view_recovery_codes"))
    assert codes[1] not in page.text and "9 unused codes left" in page.text
    assert client.get(reverse("mfa_download_recovery_codes")).status_code in (403, 404)
    client.logout()
    password_step(client, "rita")
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == 200 and "Incorrect code" in response.text
    assert client.post(reverse("mfa_authenticate"), {"code": codes[1]}).status_code == 302


def test_partner_users_may_enrol(client):
    UserFactory(username="paula")
    password_step(client, "paula")
    assert "Set up" in client.get(reverse("mfa_index")).text
    secret, _codes = enrol(client)
    client.logout()
    assert password_step(client, "paula")["Location"] == reverse("mfa_authenticate")
    assert client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)}).status_code == 302
    assert client.get("/").status_code == 200


def test_staff_who_must_have_a_factor_cannot_switch_it_off(client, mfa_required):
    user, secret, _codes = staff_with_factor(client)
    password_step(client, "sven")
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    client.post(reverse("mfa_deactivate_totp"))
    assert Authenticator.objects.filter(user=user, type="totp").exists()


def _compliance_admin():
    admin = StaffUserFactory(username="carla")
    admin.groups.add(Group.objects.get(name="Compliance admins"))
    return admin


def test_a_compliance_admin_resets_a_second_factor(client, mfa_required):
    user, secret, _codes = staff_with_factor(client)
    # the user is logged in somewhere
    other = Client()
    password_step(other, "sven")
    other.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert other.get("/partners/").status_code == 200
    admin = _compliance_admin()
    client.force_login(admin)
    # (the admin enrolled long ago)
    Authenticator.objects.create(user=admin, type="totp", data={"secret": "x"})
    response = client.post(
        "/admin/auth/user/",
        {"action": "reset_second_factor", "_selected_action": [user.pk]},
        follow=True,
    )
    assert "Second factor reset for 1 user" in response.text
    assert not Authenticator.objects.filter(user=user).exists()
    # their session ended; their next login asks for a new enrolment
    assert other.get("/partners/").status_code == 302
    assert not UserSession.objects.filter(user=user).exists()
    entry = LogEntry.objects.get(object_id=str(user.pk))
    assert entry.user == admin and "second factor" in entry.get_change_message()
    history = client.get(f"/admin/auth/user/{user.pk}/history/")
    assert "second factor (reset)" in history.text
    password_step(other, "sven")
    assert other.get("/partners/")["Location"] == reverse("mfa_activate_totp")


def test_only_compliance_admins_may_reset(client):
    user = StaffUserFactory(username="sven")
    Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
    manager = StaffUserFactory(username="mona", is_superuser=False)
    manager.groups.add(Group.objects.get(name="Account managers"))
    with pytest.raises(PermissionError):
        factor_reset(user=user, by=manager)
    assert Authenticator.objects.filter(user=user).exists()
    superuser = StaffUserFactory(username="root", is_superuser=True)
    assert factor_reset(user=user, by=superuser) == 1


def test_switching_off_ones_own_factor_ends_the_other_sessions(client):
    UserFactory(username="paula")
    password_step(client, "paula")
    secret, _codes = enrol(client)
    other = Client()
    password_step(other, "paula")
    other.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert other.get("/").status_code == 200
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not Authenticator.objects.filter(type="totp").exists()
    assert other.get("/").status_code == 302
    assert client.get("/").status_code == 200


def test_the_admin_login_asks_for_the_code_too(client, mfa_required):
    _user, secret, _codes = staff_with_factor(client)
    response = client.post(
        reverse("admin:login"), {"username": "sven", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
