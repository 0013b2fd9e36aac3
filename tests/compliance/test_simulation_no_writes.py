"""Nothing of a simulation leaks into the real data (PRODUCT 8): the command,
the page, its exports and a worker run write no evaluation, outcome, case,
notification or policy change -- every table is compared row by row -- and
the nightly run afterwards gives exactly what it gave before."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse

from compliance.models import (
    DeadlineOutcome,
    Evaluation,
    FollowUpCase,
    Policy,
    PolicyRequirement,
    SimulationRun,
)
from compliance.services import evaluation_run
from notifications.models import Notification
from tests.compliance.test_outlook_engine import AS_OF, book, example, reseller
from tests.compliance.test_simulation import direct_partner
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db
D = datetime.date
NIGHT = AS_OF + datetime.timedelta(days=1)
#: The simulator's own record of a worker run, and the login's session.
OWN_TABLES = {SimulationRun._meta.db_table, "django_session"}
QUESTION = {
    "run": "1",
    "policy": "csp-indirect-reseller-2024",
    "threshold_usd": "5000",
    "effective_from": "2025-12-01",
    "deadline_anchor": "onboarding_anniversary_month",
    "as_of": AS_OF.isoformat(),
}


def dump() -> dict[str, list]:
    """Every row of every table but the simulator's own."""
    out = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            if table in OWN_TABLES:
                continue
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the schema
            out[table] = sorted(map(repr, cursor.fetchall()))
    return out


def nightly() -> tuple[list, list, list]:
    """What the nightly engine records for NIGHT, without the clock."""
    summary = evaluation_run(as_of=NIGHT)
    outputs = sorted(
        (o.subject.key, o.purpose, o.result.status, o.result.ttm_revenue_usd, o.result.deadline)
        + ((o.outlook.outlook, o.outlook.needed_usd) if o.outlook else ())
        for o in summary.outputs
    )
    evaluations = sorted(
        (e.subject_type, e.subject_id, e.policy_id, e.purpose, e.status, e.explanation)
        for e in Evaluation.objects.filter(as_of=NIGHT)
    )
    outcomes = sorted(
        DeadlineOutcome.objects.values_list("subject_type", "subject_id", "deadline", "result")
    )
    return outputs, evaluations, outcomes


@pytest.fixture
def portfolio():
    _, location = reseller()
    example(location)
    _, missed = reseller("1000002", "2000002", onboarded=D(2023, 2, 10))
    book(missed, D(2024, 6, 1), "10.00")
    evaluation_run(as_of=D(2025, 2, 1))  # decides 2025-02-01 for 2000002: missed, case
    direct_partner()
    assert FollowUpCase.objects.count() == 1


def test_simulations_write_nothing_and_the_nightly_run_is_unchanged(
    client, portfolio, settings, django_capture_on_commit_callbacks
):
    admin = StaffUserFactory(username="compliance")
    admin.user_permissions.add(
        *Permission.objects.filter(codename__in=["run_simulation", "publish_policy"])
    )
    client.force_login(admin)
    # The nightly as it would run now, rolled back.
    with transaction.atomic():
        before = nightly()
        transaction.set_rollback(True)
    snapshot = dump()
    counts = [
        m.objects.count()
        for m in (
            Evaluation,
            DeadlineOutcome,
            FollowUpCase,
            Notification,
            Policy,
            PolicyRequirement,
        )
    ]

    # The command, both ways, for every policy.
    for code in Policy.objects.values_list("code", flat=True):
        for extra in ([], ["--json"]):
            call_command(
                "simulate_policy",
                "--policy",
                code,
                "--threshold",
                "2000000",
                "--as-of",
                AS_OF.isoformat(),
                *extra,
                stdout=StringIO(),
            )
    # The page and its exports.
    url = reverse("compliance:simulator")
    assert client.get(url, QUESTION).context["summary"].subjects == 2
    for name in ("compliance:simulator-csv", "compliance:simulator-xlsx"):
        response = client.get(reverse(name), QUESTION)
        b"".join(response.streaming_content)
    # A worker run, its page and export.
    settings.SIMULATOR_SYNC_MAX_SUBJECTS = 0
    query = client.get(url, QUESTION).wsgi_request.GET.urlencode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{reverse('compliance:simulation-run-create')}?{query}")
    run = SimulationRun.objects.get()
    assert run.status == "succeeded" and len(run.rows) == 2
    assert client.get(reverse("compliance:simulation-run", args=[run.pk])).status_code == 200
    b"".join(client.get(reverse("compliance:simulation-run-csv", args=[run.pk])).streaming_content)

    assert [
        m.objects.count()
        for m in (
            Evaluation,
            DeadlineOutcome,
            FollowUpCase,
            Notification,
            Policy,
            PolicyRequirement,
        )
    ] == counts
    after = dump()
    changed = [table for table in snapshot if snapshot[table] != after.get(table)]
    assert changed == []
    assert set(after) == set(snapshot)
    assert nightly() == before
