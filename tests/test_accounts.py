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


# --- throttling behind a reverse proxy ------------------------------------------------

PROXY = "10.0.0.2"  # the load balancer's address, as gunicorn sees it


def _login_from(client, username, password, remote_addr, forwarded_for=None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


@AXES_ON
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_each_client_is_throttled_separately(client):
    """Two people behind the same load balancer: the one who keeps failing is
    locked out, the other (same username, other address) is not."""
    from axes.models import AccessAttempt

    UserFactory(username="hans")
    for _ in range(5):
        response = _login_from(client, "hans", "wrong", PROXY, "198.51.100.7")
    assert response.status_code == 429
    assert _login_from(client, "hans", "portal-demo", PROXY, "198.51.100.7").status_code == 429
    # the second client behind the same proxy still gets in
    assert _login_from(client, "hans", "portal-demo", PROXY, "203.0.113.20").status_code == 302
    # and axes recorded the client's address, not the proxy's
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}


@AXES_ON
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_addresses_the_client_prepends_are_ignored(client):
    """The proxy appends the address it saw; whatever the client put in
    front of it is not trusted, so rotating it does not dodge the lockout."""
    UserFactory(username="ines")
    for n in range(5):
        response = _login_from(client, "ines", "wrong", PROXY, f"192.0.2.{n}, 198.51.100.8")
    assert response.status_code == 429
    assert (
        _login_from(client, "ines", "portal-demo", PROXY, "192.0.2.99, 198.51.100.8").status_code
        == 429
    )


@AXES_ON
def test_without_a_proxy_a_spoofed_forwarded_for_is_ignored(client, settings):
    """No proxy configured (the default): X-Forwarded-For comes from the
    client itself, so a new value per attempt changes nothing."""
    from axes.models import AccessAttempt

    assert settings.TRUSTED_PROXY_COUNT == 0
    UserFactory(username="jonas")
    for n in range(5):
        response = _login_from(client, "jonas", "wrong", "198.51.100.9", f"192.0.2.{n}")
    assert response.status_code == 429
    assert (
        _login_from(client, "jonas", "portal-demo", "198.51.100.9", "192.0.2.200").status_code
        == 429
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.9"}


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "10.0.0.2"),  # no proxy: header ignored
        (1, None, "10.0.0.2"),  # proxy configured but no header: the peer
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "192.0.2.1, 198.51.100.7", "198.51.100.7"),  # spoofed prefix ignored
        (1, " 198.51.100.7 ", "198.51.100.7"),
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.9", "198.51.100.7"),  # two proxies
        (2, "198.51.100.7", "10.0.0.2"),  # fewer entries than proxies: the peer
        (1, "not-an-address", "10.0.0.2"),
        (1, "192.0.2.1, <script>", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
        (1, "", "10.0.0.2"),
    ],
)
def test_client_ip(rf, settings, count, forwarded, expected):
    from portal.accounts import client_ip

    settings.TRUSTED_PROXY_COUNT = count
    extra = {"REMOTE_ADDR": "10.0.0.2"}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(rf.post("/accounts/login/", **extra)) == expected


# --- reset links expire, sessions end -------------------------------------------------


def _reset_link_path(client, email):
    client.post(reverse("password_reset"), {"email": email})
    link = re.search(r"https?://[^\s]+/reset/[^\s]+", mail.outbox[-1].body).group(0)
    return link.split("testserver", 1)[1]


def _clock_moved_by(delta):
    """Django's reset tokens read the clock through the generator's _now()."""
    import datetime
    from unittest import mock

    from django.contrib.auth.tokens import default_token_generator

    later = datetime.datetime.now() + delta
    return mock.patch.object(default_token_generator, "_now", return_value=later)


@pytest.mark.parametrize(("minutes", "works"), [(59, True), (61, False)])
def test_reset_link_works_for_one_hour_only(client, minutes, works):
    import datetime

    UserFactory(username="kai", email="kai@partner.example")
    path = _reset_link_path(client, "kai@partner.example")
    with _clock_moved_by(datetime.timedelta(minutes=minutes)):
        response = client.get(path, follow=True)
        assert response.context["validlink"] is works
        assert (b"new_password1" in response.content) is works
        assert (b"no longer works" in response.content) is not works


def test_password_reset_signs_out_every_session(client):
    from django.test import Client

    user = UserFactory(username="lara", email="lara@partner.example")
    signed_in = Client()
    signed_in.force_login(user)
    assert signed_in.get("/").status_code == 200
    path = _reset_link_path(client, "lara@partner.example")
    form = client.get(path, follow=True)
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "fresh-start-2024-x", "new_password2": "fresh-start-2024-x"},
    )
    assert response.status_code == 302
    assert signed_in.get("/").status_code == 302  # back to the login page


# --- odd input at the login ----------------------------------------------------------


@AXES_ON
@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_an_overlong_username_is_a_form_error_not_a_500(client, url):
    """Django's login form does not check the username's length; django-axes
    would then fail to record the attempt (varchar 255 on PostgreSQL)."""
    from axes.models import AccessAttempt

    UserFactory(username="anna")
    response = client.post(url, {"username": "a" * 10_000, "password": "x"})
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    assert not AccessAttempt.objects.exists()
    # an ordinary failure is still counted
    client.post(url, {"username": "anna", "password": "wrong"})
    assert AccessAttempt.objects.get().username == "anna"
