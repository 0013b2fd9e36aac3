"""Login, throttling, password reset and change with our templates."""

import re

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

AXES_ON = override_settings(
    AXES_ENABLED=True,
    AUTHENTICATION_BACKENDS=[
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ],
)


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_with_the_standard_form_fields(client):
    UserFactory(username="anna")
    response = _login(client, "anna", "portal-demo")
    assert response.status_code == 302 and response["Location"] == "/"
    response = _login(client, "anna", "wrong")
    assert response.status_code == 200
    assert b"alert" in response.content  # the form error is shown


@AXES_ON
def test_repeated_failures_lock_the_login_with_a_clear_message(client):
    UserFactory(username="bert")
    for _ in range(5):
        response = _login(client, "bert", "wrong")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "15 minutes" in response.content.decode()
    # Even the right password is refused while locked.
    response = _login(client, "bert", "portal-demo")
    assert response.status_code == 429
    # Another user from the same address is not affected.
    UserFactory(username="carla")
    assert _login(client, "carla", "portal-demo").status_code == 302


@AXES_ON
def test_successful_login_resets_the_failure_count(client):
    UserFactory(username="dora")
    for _ in range(4):
        _login(client, "dora", "wrong")
    assert _login(client, "dora", "portal-demo").status_code == 302
    client.logout()
    for _ in range(4):
        assert _login(client, "dora", "wrong").status_code == 200


def test_password_reset_by_email_with_our_pages(client, settings):
    settings.LANGUAGE_CODE = "en"
    user = UserFactory(username="erik", email="erik@partner.example")
    response = client.get(reverse("password_reset"))
    assert response.status_code == 200 and b"Reset your password" in response.content
    response = client.post(reverse("password_reset"), {"email": "erik@partner.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "valid for one hour" in body and "erik" in body
    link = re.search(r"https?://[^\s]+/reset/[^\s]+", body).group(0)
    path = link.split("testserver", 1)[1]
    response = client.get(path, follow=True)
    assert b"Choose a new password" in response.content
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": "a-much-better-one-42", "new_password2": "a-much-better-one-42"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-much-better-one-42")
    # The link works once.
    assert b"no longer works" in client.get(path, follow=True).content


def test_unknown_email_gets_the_same_answer_and_no_mail(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and mail.outbox == []


def test_password_change_signs_out_other_sessions(client):
    from django.test import Client

    user = UserFactory(username="fritz")
    other = Client()
    other.force_login(user)
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "portal-demo",
            "new_password1": "another-good-one-77",
            "new_password2": "another-good-one-77",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this session stays
    assert other.get("/").status_code == 302  # the other one is signed out


def test_reset_links_expire_after_one_hour(settings):
    assert settings.PASSWORD_RESET_TIMEOUT == 3600


def test_partner_user_gets_their_contact_language_at_login(client, settings):
    from partners.models import Contact
    from tests.factories import ContactFactory

    user = UserFactory(username="greta")
    ContactFactory(user=user, language="de")
    response = _login(client, "greta", "portal-demo")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert client.get("/").wsgi_request.LANGUAGE_CODE == "de"
    assert Contact.objects.get(user=user).language == "de"
