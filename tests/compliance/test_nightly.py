"""The nightly job: once per day however often it is triggered, and end to
end through a real Celery worker on the configured broker."""

import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench.load import database_url
from compliance.models import Evaluation, JobRun, JobState
from compliance.services import NIGHTLY_JOB, job_run_claim
from jobs import tasks
from partners import services as ps
from portal.celery import app as celery_app

D = datetime.date
HOUR = datetime.timedelta(hours=1)


def _reseller(partner_id="3100001", location_id="8100001"):
    partner = ps.partner_create(
        partner_id=partner_id, name="Donau Cloud GmbH", country="AT", onboarded_on=D(2023, 5, 2)
    )
    ps.location_create(
        partner=partner, location_id=location_id, country="AT", onboarded_on=D(2023, 5, 2)
    )
    return partner


@pytest.mark.django_db
def test_second_trigger_the_same_day_does_nothing():
    _reseller()
    first = tasks.evaluate_all.apply(kwargs={"as_of": "2024-06-03"}).get()
    second = tasks.evaluate_all.apply(kwargs={"as_of": "2024-06-03"}).get()
    assert first["skipped"] is False and first["evaluated"] == 1
    assert second == {"skipped": True, "run_date": "2024-06-03"}
    run = JobRun.objects.get()
    assert run.state == JobState.SUCCEEDED and run.attempts == 1
    assert run.counts["evaluated"] == 1 and run.finished_at >= run.started_at
    assert Evaluation.objects.filter(purpose="compliance").count() == 1


@pytest.mark.django_db
def test_claim_skips_a_running_job_and_takes_over_a_stale_or_failed_one():
    day = D(2024, 6, 4)
    run = job_run_claim(job=NIGHTLY_JOB, run_date=day, stale_after=HOUR)
    assert run is not None
    assert job_run_claim(job=NIGHTLY_JOB, run_date=day, stale_after=HOUR) is None  # running
    JobRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - 2 * HOUR)
    taken = job_run_claim(job=NIGHTLY_JOB, run_date=day, stale_after=HOUR)  # worker died
    assert taken.pk == run.pk and taken.attempts == 2
    JobRun.objects.filter(pk=run.pk).update(state=JobState.FAILED)
    assert job_run_claim(job=NIGHTLY_JOB, run_date=day, stale_after=HOUR).attempts == 3


@pytest.mark.django_db
def test_a_failing_run_is_recorded_and_can_run_again(monkeypatch):
    _reseller()

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tasks.services, "evaluation_run", boom)
    with pytest.raises(RuntimeError):
        tasks.evaluate_all.apply(kwargs={"as_of": "2024-06-05"}).get()
    run = JobRun.objects.get()
    assert run.state == JobState.FAILED
    assert "RuntimeError: database went away" in run.errors[-1]
    monkeypatch.undo()
    result = tasks.evaluate_all.apply(kwargs={"as_of": "2024-06-05"}).get()
    assert result["skipped"] is False
    run.refresh_from_db()
    assert run.state == JobState.SUCCEEDED and run.attempts == 2


def test_beat_schedule_runs_nightly_in_utc():
    entry = settings.CELERY_BEAT_SCHEDULE["nightly-evaluation"]
    assert entry["task"] == "compliance.evaluate_all"
    assert celery_app.conf.timezone == "UTC"
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {30}
    assert "compliance.evaluate_all" in celery_app.tasks


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_the_nightly_task_end_to_end(tmp_path: Path, monkeypatch, reference_data):
    _reseller()
    broker_url = os.environ.get("CELERY_BROKER_URL", "filesystem://")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_FILESYSTEM_DIR": str(tmp_path / "broker"),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    monkeypatch.setenv("CELERY_FILESYSTEM_DIR", str(tmp_path / "broker"))
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo",
         "--without-mingle", "--without-gossip", "--loglevel=INFO", "-n", f"test{os.getpid()}@%h"],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # A producer bound to the same broker as the worker.
        from celery import Celery

        producer = Celery("portal-test", broker=broker_url, set_as_current=False)
        if broker_url.startswith("filesystem://"):
            queue = tmp_path / "broker" / "queue"
            queue.mkdir(parents=True, exist_ok=True)
            producer.conf.broker_transport_options = {
                "data_folder_in": str(queue),
                "data_folder_out": str(queue),
                "control_folder": str(tmp_path / "broker" / "control"),
            }
        producer.conf.task_serializer = "json"
        for _ in range(2):  # the second delivery must change nothing
            producer.send_task("compliance.evaluate_all", kwargs={"as_of": "2024-06-06"})
        deadline = time.monotonic() + 90
        run = None
        while time.monotonic() < deadline:
            run = JobRun.objects.filter(run_date=D(2024, 6, 6)).first()
            if run and run.state != JobState.RUNNING:
                break
            time.sleep(0.5)
        assert run is not None, "the worker never picked up the task"
        assert run.state == JobState.SUCCEEDED, run.errors
        time.sleep(2)  # let the duplicate be processed too
        run.refresh_from_db()
        assert run.attempts == 1
        assert Evaluation.objects.filter(as_of=D(2024, 6, 6), purpose="compliance").count() == 1
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert "compliance.evaluate_all" in output
