"""Locust scenarios: people using the portal at once (issue 8 part 6) and the
page benchmarks of ``python -m bench``.

Name the user classes on the command line (``python -m bench.load`` and
``make load`` do all of this for you, against gunicorn on loopback)::

    locust -f bench/locustfile.py --headless -u 50 -r 10 -t 60s \\
        -H http://127.0.0.1:8000 AccountManager PartnerUser Importer

The scenario (issue 8):

- ``AccountManager``: logs in as a staff user and browses: dashboard, the
  partner list with filters, search, sorting and pages, partner pages,
  revenue pages and a filtered CSV export.
- ``PartnerUser``: logs in as a partner user (``partner1``/``partner2`` of
  ``seed_demo``), looks at the own dashboard, partner and revenue page, and
  logs out and in again now and then.
- ``Importer`` (one): a staff user uploading a small revenue CSV through
  ``/imports/new/``, reading the dry-run preview and confirming it.

The benchmarks (``python -m bench``): ``BenchStaffPages`` (dashboard,
partner list, random partner pages as ``manager``) and
``BenchPartnerDashboard`` (``partner1``'s own dashboard).

Environment (all optional):

- ``LOAD_PASSWORD`` (``portal-demo``), ``LOAD_STAFF_USER`` (``manager``),
  ``LOAD_PARTNER_USERS`` (``partner1,partner2``), ``LOAD_IMPORT_USER``
  (the staff user);
- ``LOAD_PARTNER_IDS``: comma-separated partner ids for the partner pages
  (default: the first pages of ``/api/v1/partners/``);
- ``LOAD_WAIT``: think time between two requests of a user, ``min,max``
  seconds (default ``0.5,2``);
- ``LOAD_TLS_PROXY=1``: requests arrive as from a TLS-terminating proxy on
  loopback (``X-Forwarded-Proto: https``), so production settings (secure
  cookies, SSL redirect, HSTS) apply unchanged over plain HTTP;
- ``LOAD_SAMPLES``: a file to write every request to (CSV: time, method,
  name, milliseconds, ok), for exact percentiles.

Anything but the expected answer is a failure: an error status, a login
page instead of the page asked for, a preview that cannot be confirmed, an
import that did not succeed.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import os
import random
import re
import time
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task
from requests.cookies import RequestsCookieJar
from urllib3.util.retry import Retry

PASSWORD = os.environ.get("LOAD_PASSWORD", "portal-demo")
STAFF_USER = os.environ.get("LOAD_STAFF_USER", "manager")
PARTNER_USERS = [
    u for u in os.environ.get("LOAD_PARTNER_USERS", "partner1,partner2").split(",") if u
]
IMPORT_USER = os.environ.get("LOAD_IMPORT_USER", STAFF_USER)
TLS_PROXY = os.environ.get("LOAD_TLS_PROXY", "") not in ("", "0", "false")
WAIT_MIN, WAIT_MAX = (float(x) for x in os.environ.get("LOAD_WAIT", "0.5,2").split(","))
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LIST_FILTERS = (
    {},
    {"status": "at_risk"},
    {"status": "non_compliant", "sort": "name"},
    {"country": "DE", "sort": "-onboarded_on"},
    {"billing_model": "direct_bill"},
    {"mine": "on"},
    {"sort": "status"},
    {"page": "2"},
    {"q": "GmbH"},
    {"q": "Cloud"},
    {"q": "Systems", "country": "GB"},
)
EXPORT_FILTERS = ({"country": "CH"}, {"mine": "on", "status": "at_risk"}, {"q": "Cloud"})


class LoopbackCookieJar(RequestsCookieJar):
    """Keeps secure cookies as plain ones, so they go back over HTTP: on
    loopback the harness plays the TLS-terminating proxy in front of the
    server (requests copies the jar for every request, so a cookie policy
    would not stick)."""

    def set_cookie(self, cookie, *args, **kwargs):
        cookie.secure = False
        return super().set_cookie(cookie, *args, **kwargs)


class _Ids:
    """Partner and location ids shared by the users of one locust process."""

    partners: list[str] = [p for p in os.environ.get("LOAD_PARTNER_IDS", "").split(",") if p]
    locations: list[str] = []


class PortalUser(HttpUser):
    abstract = True
    wait_time = between(WAIT_MIN, WAIT_MAX)
    username = STAFF_USER

    def on_start(self) -> None:
        self.client.cookies = LoopbackCookieJar()
        # A browser sends an idempotent request again when the server closed
        # the idle keep-alive connection just as the request went out (the
        # server's keep-alive, 5 s, is inside the importer's think time);
        # requests does not, so the harness does what the browser does.
        # Posts are never repeated: their failures count.
        retry = Retry(
            total=1, connect=1, read=1, status=0, other=0, allowed_methods={"GET", "HEAD"}
        )
        for adapter in self.client.adapters.values():
            adapter.max_retries = retry
        if TLS_PROXY:
            self.client.headers["X-Forwarded-Proto"] = "https"
        parts = urlsplit(self.host)
        scheme = "https" if TLS_PROXY else parts.scheme
        # What a browser sends with a form post; Django's CSRF check compares it.
        self.origin = f"{scheme}://{parts.netloc}"
        self.login()

    # -- helpers

    def csrf_token(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def post(self, path: str, data=None, files=None, name: str | None = None):
        headers = {"Origin": self.origin, "Referer": f"{self.origin}{path}"}
        data = {"csrfmiddlewaretoken": self.csrf_token(), **(data or {})}
        return self.client.post(
            path,
            data=data,
            files=files,
            headers=headers,
            name=name or path,
            allow_redirects=False,
            catch_response=True,
        )

    def page(self, path: str, name: str, params: dict | None = None, expect: str = "") -> None:
        with self.client.get(path, params=params, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif "/accounts/login/" in response.url:
                response.failure("sent to the login page")
            elif expect and expect not in response.text:
                response.failure(f"{expect!r} not on the page")

    def login(self) -> None:
        with self.client.get(
            "/accounts/login/", name="/accounts/login/ (form)", catch_response=True
        ) as response:
            found = CSRF_INPUT.search(response.text or "")
            if response.status_code != 200 or not found:
                response.failure(f"no login form (HTTP {response.status_code})")
                return
        with self.post(
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD},
            name="/accounts/login/ (log in)",
        ) as response:
            target = response.headers.get("Location", "")
            if response.status_code != 302 or "/accounts/login/" in target:
                response.failure(f"login of {self.username} refused (HTTP {response.status_code})")

    def api_list(self, path: str, field: str, name: str) -> list[str]:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return []
            return [str(row[field]) for row in response.json().get("results", [])]

    def partner_ids(self) -> list[str]:
        if not _Ids.partners:
            _Ids.partners = self.api_list(
                "/api/v1/partners/?page_size=200", "partner_id", "/api/v1/partners/ (setup)"
            )
        return _Ids.partners


# --- the scenario (issue 8 part 6) -------------------------------------------------------


class AccountManager(PortalUser):
    """A staff user browsing the portfolio."""

    weight = 6

    @task(3)
    def dashboard(self) -> None:
        params = {"mine": random.choice(("0", "1"))} if random.random() < 0.2 else None
        self.page("/", "/ (staff dashboard)", params)

    @task(3)
    def partner_list(self) -> None:
        self.page("/partners/", "/partners/?filters", dict(random.choice(LIST_FILTERS)))

    @task(1)
    def search_by_id(self) -> None:
        ids = self.partner_ids()
        if ids:
            self.page("/partners/", "/partners/?q=[id prefix]", {"q": random.choice(ids)[:5]})

    @task(4)
    def partner_detail(self) -> None:
        ids = self.partner_ids()
        if ids:
            self.page(f"/partners/{random.choice(ids)}/", "/partners/[id]/")

    @task(2)
    def partner_revenue(self) -> None:
        ids = self.partner_ids()
        if ids:
            self.page(f"/partners/{random.choice(ids)}/revenue/", "/partners/[id]/revenue/")

    @task(1)
    def export(self) -> None:
        params = dict(random.choice(EXPORT_FILTERS))
        with self.client.get(
            "/partners/export.csv", params=params, name="/partners/export.csv", catch_response=True
        ) as response:
            if response.status_code != 200 or not response.text.startswith(("\ufeff", "Partner")):
                response.failure(f"no CSV (HTTP {response.status_code})")


class PartnerUser(PortalUser):
    """A partner's own user: dashboard, own partner and revenue pages."""

    weight = 3
    _usernames = itertools.cycle(PARTNER_USERS)

    def on_start(self) -> None:
        self.username = next(self._usernames)
        self.own: str | None = None
        super().on_start()

    def own_id(self) -> str | None:
        if self.own is None:
            ids = self.api_list("/api/v1/partners/", "partner_id", "/api/v1/partners/ (own)")
            self.own = ids[0] if len(ids) == 1 else None  # a partner user sees one partner
        return self.own

    @task(4)
    def dashboard(self) -> None:
        self.page("/", "/ (partner dashboard)")

    @task(2)
    def own_partner(self) -> None:
        if own := self.own_id():
            self.page(f"/partners/{own}/", "/partners/[own id]/")

    @task(1)
    def own_revenue(self) -> None:
        if own := self.own_id():
            self.page(f"/partners/{own}/revenue/", "/partners/[own id]/revenue/")

    @task(1)
    def log_out_and_in(self) -> None:
        with self.post("/accounts/logout/", name="/accounts/logout/") as response:
            if response.status_code != 302:
                response.failure(f"HTTP {response.status_code}")
        self.login()


class Importer(PortalUser):
    """One staff user importing a small revenue file: upload, preview, confirm."""

    fixed_count = 1
    weight = 1
    username = IMPORT_USER
    wait_time = between(3, 6)

    def on_start(self) -> None:
        super().on_start()
        self.runs = 0
        self.locations = self.api_list(
            "/api/v1/locations/?page_size=5&is_active=true",
            "location_id",
            "/api/v1/locations/ (setup)",
        )

    def csv_file(self) -> bytes:
        """Revenue lines of USD 1.00 for a few locations; the references are
        new on every run, so each confirm creates rows."""
        self.runs += 1
        day = (datetime.date.today() - datetime.timedelta(days=2)).isoformat()  # noqa: DTZ011
        stamp = f"{int(time.time())}-{os.getpid()}-{self.runs}"
        lines = ["location_id,date,amount,currency,reference,customer"]
        lines += [
            f"{location},{day},1.00,USD,LOAD-{stamp}-{n},Load test customer"
            for n, location in enumerate(self.locations, 1)
        ]
        return ("\n".join(lines) + "\n").encode()

    @task
    def import_file(self) -> None:
        if not self.locations:
            return
        self.page("/imports/new/", "/imports/new/ (form)")
        files = {"file": ("load-test.csv", self.csv_file(), "text/csv")}
        with self.post(
            "/imports/new/", {"kind": "revenue"}, files=files, name="/imports/new/ (upload)"
        ) as response:
            found = re.search(r"/imports/(\d+)/$", response.headers.get("Location", ""))
            if response.status_code != 302 or not found:
                response.failure(f"upload refused (HTTP {response.status_code})")
                return
        run = found[1]
        self.page(f"/imports/{run}/", "/imports/[id]/ (preview)")
        with self.post(f"/imports/{run}/confirm/", name="/imports/[id]/confirm/") as response:
            if response.status_code != 302:
                response.failure(f"HTTP {response.status_code}")
                return
        with self.client.get(
            f"/imports/{run}/progress", name="/imports/[id]/progress", catch_response=True
        ) as response:
            status = response.json().get("status") if response.status_code == 200 else None
            if status != "succeeded":
                response.failure(f"import {run} ended as {status}")


# --- the page benchmarks (python -m bench) ----------------------------------------------


class BenchStaffPages(PortalUser):
    """``manager``: dashboard, partner list, random partner pages, equally often."""

    @task
    def dashboard(self) -> None:
        self.page("/", "/")

    @task
    def partner_list(self) -> None:
        self.page("/partners/", "/partners/")

    @task
    def partner_detail(self) -> None:
        ids = self.partner_ids()
        if ids:
            self.page(f"/partners/{random.choice(ids)}/", "/partners/[id]/")


class BenchPartnerDashboard(PortalUser):
    """``partner1`` on the own dashboard."""

    username = PARTNER_USERS[0] if PARTNER_USERS else "partner1"

    @task
    def dashboard(self) -> None:
        self.page("/", "/ (partner dashboard)")


# --- raw samples --------------------------------------------------------------------------

_SAMPLES_FILE = os.environ.get("LOAD_SAMPLES", "")
_samples: list[tuple] = []


if _SAMPLES_FILE:

    @events.request.add_listener
    def _record(request_type, name, response_time, exception=None, **kwargs) -> None:
        _samples.append((time.time(), request_type, name, response_time, exception is None))

    @events.quitting.add_listener
    def _write(environment, **kwargs) -> None:
        with open(_SAMPLES_FILE, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("time", "method", "name", "ms", "ok"))
            writer.writerows(_samples)
