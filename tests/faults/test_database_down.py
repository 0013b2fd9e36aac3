"""Fault: the database is down (nothing listens at ``DATABASE_URL``) while
the web process runs: gunicorn with the production configuration
(``gunicorn.conf.py``) and ``DEBUG`` off, started for real.

Expected: ``/healthz`` answers 503 with JSON that marks the database as not
ok (the load balancer takes the machine out); a page that needs the
database (anything with a session: the dashboard, the partner list, a
login attempt, the API) shows our own error page with no stack trace,
exception text or settings; the login form itself, which needs no
database, still renders; the error is logged on the server with the
request id that the response carries.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import StaffUserFactory

from .conftest import free_port, wait_for

pytestmark = pytest.mark.slow

LEAKS = (
    "Traceback",
    "OperationalError",
    "psycopg2",
    "Connection refused",
    "DEBUG = True",
    "DATABASE",
    "site-packages",
    "test-only-insecure-key",
)


class Web:
    def __init__(self, port: int, log) -> None:
        self.port = port
        self.log = log

    def request(self, method: str, path: str, *, body: str = "", headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            connection.close()


@pytest.fixture
def web_without_database(tmp_path):
    port, closed = free_port(), free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/portal",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "CELERY_FILESYSTEM_DIR": str(tmp_path / "broker"),
    }
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"],
            env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        web = Web(port, log_path)

        def listening() -> bool:
            try:
                web.request("GET", "/static/css/portal.css")
            except OSError:
                return server.poll() is not None  # stop waiting if it died
            return True

        try:
            wait_for(listening, timeout=60, what="gunicorn to listen")
            assert server.poll() is None, log_path.read_text()
            yield web
        finally:
            server.terminate()
            server.wait(timeout=30)


def _assert_our_error_page(status: int, headers: dict, body: str) -> None:
    # 503 + Retry-After: the database is the cause, the request can be repeated.
    assert status == 503
    assert headers["Retry-After"] == "60"
    assert headers["Content-Type"].startswith("text/html")
    assert "The portal is briefly unavailable" in body
    assert "Das Portal ist kurz nicht erreichbar" in body
    for leak in LEAKS:
        assert leak not in body, leak
    assert headers.get("X-Request-ID")


@pytest.mark.django_db
def test_database_down_healthz_is_503_and_pages_show_our_error_page(web_without_database):
    """Health check 503 with JSON; dashboard, partner list, login POST and
    API as a logged-in user: our error page, nothing leaked."""
    web = web_without_database
    started = time.monotonic()
    status, headers, body = web.request("GET", "/healthz")
    assert time.monotonic() - started < 10
    assert status == 503 and headers["Content-Type"] == "application/json"
    health = json.loads(body)
    assert health["status"] == "unavailable"
    assert health["database"] == "OperationalError"  # the class name only, no details
    assert "Connection refused" not in body

    # A session made while the database was up: every request with it has
    # to read the session (and the user) from the database.
    client = Client()
    client.force_login(StaffUserFactory())
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    for path in ("/", "/partners/", "/notifications/preview/", "/accounts/login/"):
        _assert_our_error_page(*web.request("GET", path, headers={"Cookie": cookie}))

    # The login form needs no database and still renders ...
    status, _headers, body = web.request("GET", "/accounts/login/")
    assert status == 200 and 'name="password"' in body
    # ... but logging in does.
    csrf = "a" * 32
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": "maria", "password": "portal-demo"}
    )
    _assert_our_error_page(
        *web.request(
            "POST",
            "/accounts/login/",
            body=form,
            headers={
                "Cookie": f"csrftoken={csrf}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    )
    # The API with a token.
    _assert_our_error_page(
        *web.request("GET", "/api/v1/partners/", headers={"Authorization": "Token " + "0" * 40})
    )

    status, headers, _body = web.request("GET", "/", headers={"Cookie": cookie})
    request_id = headers["X-Request-ID"]
    wait_for(lambda: request_id in web.log.read_text(), timeout=10, what="the error log line")
    log = web.log.read_text()
    assert "Service Unavailable: /" in log and "OperationalError" in log
