"""Fault: two beat processes (a second machine started with beat by
mistake, or an old beat still running during a deploy) both trigger the
nightly evaluation, or the task is delivered to two workers at once.

Expected: exactly one run per day: the unique JobRun row for (job, date)
lets one trigger do the work and every other one skip; the night's rows
and emails exist once. The sequential case (a second trigger the same day
does nothing) is ``tests/compliance/test_nightly.py``.
"""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection

from compliance.models import JobRun, JobState
from compliance.services import NIGHTLY_JOB
from jobs import tasks
from notifications.models import OPEN_STATUSES, Notification
from portal.celery import app as celery_app
from tests.concurrency import race

from .conftest import NIGHT, night_rows, one_night_of_data, recipients, wait_for
from .test_broker_down import EXPECTED_RECIPIENTS

pytestmark = pytest.mark.django_db(transaction=True)

#: The rows one night leaves (see conftest.one_night_of_data).
ONE_NIGHT = {"evaluations": 3, "outcomes": 1, "cases": 1, "notifications": 7, "job_runs": 1}

#: Evaluated before any database set-up, so that a SQLite run neither pays
#: for nor empties its tables for a test that cannot run there.
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (set DATABASE_URL): SQLite runs one writer at a time, "
    "so threads cannot race for the claim there",
)


def _sizes(rows: dict) -> dict:
    return {k: (v if isinstance(v, int) else len(v)) for k, v in rows.items()}


@pytest.mark.postgres
@postgres_only
def test_concurrent_triggers_for_one_date_run_once_on_postgres(policies, monkeypatch):
    """Four triggers of the nightly task for the same date released at the
    same instant, each on its own database connection: one claims the day
    and runs, three skip; one JobRun with one attempt."""
    one_night_of_data()
    planned: list = []
    monkeypatch.setattr(tasks, "plan_reminders_after_commit", planned.append)
    original_run = tasks.services.evaluation_run

    def slow_run(**kwargs):
        time.sleep(0.5)  # the losers arrive while the winner is still running
        return original_run(**kwargs)

    monkeypatch.setattr(tasks.services, "evaluation_run", slow_run)
    task = celery_app.tasks["compliance.evaluate_all"]  # not the per-thread proxy
    results = race(4, lambda: task.apply(kwargs={"as_of": NIGHT.isoformat()}).get())
    assert sorted(r["skipped"] for r in results) == [False, True, True, True]
    run = JobRun.objects.get(job=NIGHTLY_JOB, run_date=NIGHT)
    assert run.state == JobState.SUCCEEDED and run.attempts == 1
    assert planned == [NIGHT]
    assert _sizes(night_rows()) == {**ONE_NIGHT, "notifications": 0}


SENT = re.compile(r"Sending due task nightly-evaluation \(compliance\.evaluate_all\)")
DONE = re.compile(
    r"Task compliance\.evaluate_all\[[0-9a-f-]+\] succeeded in [0-9.]+s: \{'skipped': (\w+)"
)


@pytest.mark.slow
def test_two_beats_and_two_workers_run_the_night_once(policies, celeryd, smtp):
    """Two real ``celery beat`` processes with the nightly entry every
    second, two real workers consuming: after a few seconds of duplicate
    triggers there is one JobRun (one attempt), one set of rows, and each
    email was sent once."""
    one_night_of_data()
    smtp.start()
    beat_faults = {"nightly_every_seconds": 1, "nightly_as_of": NIGHT.isoformat()}
    workers = [celeryd.worker(f"worker-{n}", smtp_port=smtp.port) for n in (1, 2)]
    beats = [celeryd.beat(f"beat-{n}", **beat_faults) for n in (1, 2)]
    processes = [*workers, *beats]

    def sent_by_each_beat() -> bool:
        return all(len(SENT.findall(beat.output())) >= 3 for beat in beats)

    wait_for(sent_by_each_beat, timeout=90, what="both beats to trigger", logs=processes)
    for beat in beats:
        beat.stop()
    triggers = sum(len(SENT.findall(beat.output())) for beat in beats)

    def handled() -> list[str]:
        return [skipped for worker in workers for skipped in DONE.findall(worker.output())]

    def all_handled() -> bool:
        # (A beat stopped between logging a send and sending may lose one.)
        return (
            len(handled()) >= triggers - 1
            and not Notification.objects.filter(status__in=OPEN_STATUSES).exists()
        )

    wait_for(all_handled, timeout=90, what="the workers to handle every trigger", logs=processes)
    outcomes = handled()
    assert outcomes.count("False") == 1  # one trigger ran the night ...
    assert outcomes.count("True") == len(outcomes) - 1 >= 5  # ... all the others skipped
    run = JobRun.objects.get(job=NIGHTLY_JOB, run_date=NIGHT)
    assert run.state == JobState.SUCCEEDED and run.attempts == 1
    assert _sizes(night_rows()) == ONE_NIGHT
    assert len(smtp.received) == 3
    assert recipients(smtp.received) == EXPECTED_RECIPIENTS
