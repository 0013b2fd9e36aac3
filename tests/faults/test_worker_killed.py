"""Fault: the Celery worker running the nightly evaluation is killed
(SIGKILL, as the OOM killer or a lost machine would) in the middle of the run.

Expected: nothing half-written survives, the JobRun row still says
``running`` and a trigger within the stale interval leaves it alone; once
the interval has passed the next trigger takes the run over, completes it
and plans the reminders, and the night's rows (evaluations, deadline
outcomes, follow-up cases, notifications) and emails are exactly those of a
clean run, none doubled.

The next trigger is either a new one (beat the next time, an operator) or,
on Redis, the killed worker's own task: it was never acknowledged
(``acks_late``), so Redis hands it to another worker once its visibility
timeout has passed (two hours in production, longer than the stale
interval of 65 minutes, so the redelivered task takes the run over).
"""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from compliance.models import Evaluation, JobRun, JobState
from compliance.services import NIGHTLY_JOB, job_run_claim
from jobs import tasks
from notifications.models import OPEN_STATUSES, Notification

from .conftest import NIGHT, forget_the_night, night_rows, one_night_of_data, recipients, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
STALE = 2  # seconds a running JobRun counts as alive in the rerun's worker


def _clean_run() -> tuple[dict, object]:
    """The night run once, in this process, without faults: the reference."""
    result = tasks.evaluate_all.apply(kwargs={"as_of": NIGHT.isoformat()}).get()
    assert result["skipped"] is False
    rows = night_rows()
    emails = recipients(mail.outbox)
    # Every kind of row is there, or the comparison below proves little.
    assert len(rows["evaluations"]) == 3 and len(rows["outcomes"]) == 1
    assert len(rows["cases"]) == 1 and len(rows["notifications"]) == 7
    assert sum(emails.values()) == 6  # 3 messages, each to one contact, the manager in copy
    forget_the_night()
    mail.outbox.clear()
    return rows, emails


@pytest.mark.parametrize(
    ("kill_at", "rerun"),
    [
        ("in_transaction", "new_trigger"),
        ("after_commit", "new_trigger"),
        ("in_transaction", "redelivery"),
    ],
)
def test_worker_killed_mid_run_then_the_rerun_completes_without_doubles(
    kill_at, rerun, policies, celeryd, smtp, redis_server, tmp_path
):
    """Killed inside the run's transaction (outcomes and cases written, not
    committed), or after the commit but before the JobRun row is marked
    finished: the rerun on a fresh worker completes the night exactly once."""
    rerun_faults: dict = {}
    if rerun == "redelivery":
        if not celeryd.broker_url.startswith("redis://"):
            if redis_server is None:
                pytest.skip("needs Redis: CELERY_BROKER_URL=redis://... or redis-server installed")
            celeryd.broker_url = redis_server.start().url
        rerun_faults["visibility_timeout"] = 4
    one_night_of_data()
    expected_rows, expected_emails = _clean_run()
    smtp.start()
    marker = tmp_path / "hanging"

    first = celeryd.worker("worker-a", hang_at=kill_at, marker=marker, smtp_port=smtp.port)
    celeryd.send("compliance.evaluate_all", as_of=NIGHT.isoformat())
    wait_for(marker.exists, timeout=90, what=f"the run to reach {kill_at}", logs=[first])
    assert f"in_atomic_block={kill_at == 'in_transaction'}" in marker.read_text()
    assert first.kill() == -9

    run = JobRun.objects.get(job=NIGHTLY_JOB, run_date=NIGHT)
    assert run.state == JobState.RUNNING and run.attempts == 1 and run.finished_at is None
    after_kill = night_rows()
    if kill_at == "in_transaction":
        # The database rolled the open transaction back: nothing half-written.
        assert after_kill["evaluations"] == after_kill["outcomes"] == after_kill["cases"] == []
    else:
        for key in ("evaluations", "outcomes", "cases"):
            assert after_kill[key] == expected_rows[key]
    assert after_kill["notifications"] == [] and smtp.received == []

    # A trigger while the run could still be alive leaves it alone.
    assert job_run_claim(job=NIGHTLY_JOB, run_date=NIGHT, stale_after=tasks._stale_after()) is None

    # Once the stale interval (here two seconds) has passed, the next
    # trigger (beat the next time, a redelivery, an operator) takes over.
    wait_for(
        lambda: timezone.now() > run.started_at + datetime.timedelta(seconds=STALE + 0.5),
        timeout=30,
        what="the stale interval",
    )
    second = celeryd.worker(
        "worker-b", stale_after_seconds=STALE, smtp_port=smtp.port, **rerun_faults
    )
    if rerun == "new_trigger":
        celeryd.send("compliance.evaluate_all", as_of=NIGHT.isoformat())

    def night_done():
        run.refresh_from_db()
        return (
            run.state == JobState.SUCCEEDED
            and Notification.objects.exists()
            and not Notification.objects.filter(status__in=OPEN_STATUSES).exists()
        )

    wait_for(night_done, timeout=120, what="the rerun and its emails", logs=[first, second])
    assert run.attempts == 2 and run.finished_at is not None
    if rerun == "redelivery":
        assert run.task_id == celeryd.sent[0]  # the killed worker's own task
    assert run.counts["evaluated"] == 2 and run.counts["errors"] == 0

    # One more trigger, as a second beat tick would send: skipped.
    celeryd.send("compliance.evaluate_all", as_of=NIGHT.isoformat())
    wait_for(
        lambda: second.output().count("already done or running; skipped") >= 1,
        timeout=60,
        what="the extra trigger to be skipped",
        logs=[second],
    )
    rows = night_rows()
    assert rows == {**expected_rows, "job_runs": 1}
    assert recipients(smtp.received) == expected_emails
    assert len(smtp.received) == 3
    assert Evaluation.objects.filter(as_of=NIGHT).count() == 3
