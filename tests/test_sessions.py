"""Sessions a user can see and end; lifetime, idle timeout, and the writes
that ending other sessions follows (password change)."""

from __future__ import annotations

import time

import pytest
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse

from portal.sessions import LAST_SEEN, STARTED, device_describe
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "portal-demo"

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.122 Mobile Safari/537.36"
)


def browser(user_agent: str, address: str) -> Client:
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)


def log_in(client, username="anna", password=PASSWORD):
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302
    return response


def age_session(client, **seconds_ago):
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (FIREFOX_WINDOWS, "Firefox 128 on Windows"),
        (SAFARI_IPHONE, "Safari 17 on iPhone"),
        (EDGE_WINDOWS, "Edge 126 on Windows"),
        (CHROME_ANDROID, "Chrome 126 on Android"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "Unknown device"),
    ],
)
def test_the_device_a_user_agent_names(agent, device):
    assert device_describe(agent) == device


def test_a_user_sees_their_sessions_and_ends_the_others():
    UserFactory(username="anna")
    UserFactory(username="bert")
    laptop = browser(FIREFOX_WINDOWS, "192.0.2.10")
    phone = browser(SAFARI_IPHONE, "198.51.100.7")
    strangers = browser(EDGE_WINDOWS, "203.0.113.99")
    log_in(laptop)
    log_in(phone)
    log_in(strangers, "bert")
    page = laptop.get(reverse("sessions")).text
    assert "Firefox 128 on Windows" in page and "192.0.2.10" in page
    assert "Safari 17 on iPhone" in page and "198.51.100.7" in page
    assert "This session" in page
    # another user's session is not theirs to see
    assert "203.0.113.99" not in page and "Edge 126" not in page
    response = laptop.post(reverse("sessions"), follow=True)
    assert "1 other session ended." in response.text
    assert phone.get("/").status_code == 302  # logged out
    assert laptop.get("/").status_code == 200
    assert strangers.get("/").status_code == 200
    page = laptop.get(reverse("sessions")).text
    assert "198.51.100.7" not in page and "End the" not in page


def test_changing_the_password_ends_the_other_sessions():
    UserFactory(username="anna")
    laptop = browser(FIREFOX_WINDOWS, "192.0.2.10")
    phone = browser(SAFARI_IPHONE, "198.51.100.7")
    log_in(laptop)
    log_in(phone)
    response = laptop.post(
        reverse("password_change"),
        {
            "old_password": "portal-demo",
            "new_password1": "a-much-better-one-42",
            "new_password2": "a-much-better-one-42",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "other session was ended" in response.text
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302
    assert list(UserSession.objects.values_list("ip", flat=True)) == ["192.0.2.10"]


def test_the_session_row_is_written_at_most_once_a_minute(django_assert_num_queries):
    user = UserFactory(username="anna")
    laptop = browser(FIREFOX_WINDOWS, "192.0.2.10")
    log_in(laptop)
    row = UserSession.objects.get(user=user)
    seen = row.last_seen_at
    laptop.get(reverse("sessions"), REMOTE_ADDR="192.0.2.11")
    row.refresh_from_db()
    assert (row.last_seen_at, row.ip) == (seen, "192.0.2.10")
    age_session(laptop, **{LAST_SEEN: 61})
    laptop.get(reverse("sessions"), REMOTE_ADDR="192.0.2.11")
    row.refresh_from_db()
    assert row.last_seen_at > seen and row.ip == "192.0.2.11"


def test_an_idle_session_ends(client, settings):
    settings.SESSION_IDLE_TIMEOUT = 15 * 60
    UserFactory(username="anna")
    log_in(client)
    age_session(client, **{LAST_SEEN: 14 * 60})
    assert client.get("/").status_code == 200
    age_session(client, **{LAST_SEEN: 16 * 60})
    response = client.get("/partners/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    page = client.get(response["Location"]).text
    assert "Your session has expired" in page
    assert client.get("/").status_code == 302


def test_an_idle_api_session_is_anonymous_not_redirected(client, settings):
    settings.SESSION_IDLE_TIMEOUT = 60
    UserFactory(username="anna")
    log_in(client)
    age_session(client, **{LAST_SEEN: 120})
    assert client.get("/api/v1/partners/").status_code == 401


def test_no_idle_limit_when_switched_off(client, settings):
    settings.SESSION_IDLE_TIMEOUT = 0
    UserFactory(username="anna")
    log_in(client)
    age_session(client, **{LAST_SEEN: 10 * 60 * 60})
    assert client.get("/").status_code == 200


def test_a_session_ends_after_its_lifetime_even_when_used(client, settings):
    settings.SESSION_COOKIE_AGE = 8 * 60 * 60
    UserFactory(username="anna")
    log_in(client)
    age_session(client, **{STARTED: 7 * 60 * 60, LAST_SEEN: 30})
    assert client.get("/").status_code == 200
    age_session(client, **{STARTED: 8 * 60 * 60 + 5, LAST_SEEN: 30})
    assert client.get("/").status_code == 302


def test_anonymous_users_see_no_sessions(client):
    response = client.get(reverse("sessions"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
