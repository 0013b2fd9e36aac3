"""Issue 8 part 6: 50 people using the portal at once for 60 s — account
managers browsing, partner users logging in, a staff user importing a file —
against gunicorn with production settings on loopback: no failures.

gunicorn serves the test database (committed data: ``transactional_db``);
locust runs in its own process (gevent must not patch the test process).
The p50/p95 per request type are printed; nothing is written to the repo.
"""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.db import connection

from bench import load
from ingestion.models import ImportRun
from partners.models import RevenueRecord
from tests.reference import restore_reference_data

pytestmark = [pytest.mark.slow]

USERS = 50
SECONDS = 60
PASSWORD = "load-test-password-1"


@pytest.fixture(scope="module", autouse=True)
def _reference_data_back_after_this_module(django_db_blocker):
    yield
    with django_db_blocker.unblock():
        restore_reference_data()


@pytest.fixture
def seeded(transactional_db) -> None:
    restore_reference_data()
    as_of = datetime.date.today()
    call_command(
        "seed_demo", "--partners", "50", "--as-of", as_of.isoformat(), "--password", PASSWORD,
        verbosity=0,
    )  # fmt: skip
    call_command("evaluate_eligibility", "--as-of", as_of.isoformat(), stdout=StringIO())
    # The test settings hash with MD5, which production settings do not
    # accept: store the demo passwords as production would.
    encoded = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    get_user_model().objects.filter(username__in=["manager", "partner1", "partner2"]).update(
        password=encoded
    )


def test_fifty_users_for_a_minute_without_a_failure(seeded, tmp_path, capsys):
    stats, output = load.scenario(
        load.database_url(connection.settings_dict),
        users=USERS,
        seconds=SECONDS,
        spawn_rate=10,
        static_root=tmp_path / "static",
        password=PASSWORD,
    )
    with capsys.disabled():
        print(f"\n{USERS} users, {SECONDS} s, gunicorn on loopback ({connection.vendor}):")
        print(load.table(stats))

    by_name = {stat.name: stat for stat in stats}
    failures = {name: stat.failures for name, stat in by_name.items() if stat.failures}
    assert not failures, f"{failures}\n{output}"
    for name in (
        "POST /accounts/login/ (log in)",
        "GET / (staff dashboard)",
        "GET /partners/?filters",
        "GET /partners/[id]/",
        "GET /partners/[id]/revenue/",
        "GET /partners/export.csv",
        "GET / (partner dashboard)",
        "GET /partners/[own id]/",
        "POST /accounts/logout/",
        "POST /imports/new/ (upload)",
        "POST /imports/[id]/confirm/",
    ):
        assert by_name.get(name) and by_name[name].requests, f"no {name}"
    assert sum(stat.requests for stat in stats) > 500
    imports = ImportRun.objects.filter(status="succeeded")
    assert imports.exists()
    assert RevenueRecord.objects.filter(reference__startswith="LOAD-").count() == sum(
        run.counts["result"]["created"] for run in imports
    )
