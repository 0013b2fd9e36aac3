"""Growth control (docs/decisions/0012-growth-control.md): the daily purge of
job runs, import runs and notifications older than ``RETENTION_DAYS``, and
what it never purges."""

import datetime

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from compliance.models import JobRun, JobState
from compliance.retention import PURGE_JOB, purged_before
from ingestion.models import ImportRun, ImportStatus
from jobs import tasks
from jobs.retention import retention_days, retention_purge
from notifications.models import Notification, NotificationStatus
from notifications.services import reminders_plan
from tests.notifications.conftest import DEADLINE, direct_partner

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = datetime.timedelta(days=1)
TODAY = D(2026, 12, 2)
STALE = datetime.timedelta(hours=2)
#: The defaults: finished job runs 730 days, import runs 400, unconfirmed
#: uploads 30, settled notifications 730.
DEFAULTS = {"job_runs": 730, "import_runs": 400, "import_previews": 30, "notifications": 730}


@pytest.fixture(autouse=True)
def defaults(settings):
    settings.RETENTION_DAYS = dict(DEFAULTS)
    return settings


def at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)


def purge(today: datetime.date = TODAY):
    return retention_purge(today=today, stale_after=STALE)


# --- notifications ----------------------------------------------------------------


@pytest.fixture
def planned(monkeypatch):
    """The reminders of a partner at risk 45 days before its 2022 deadline,
    planned in July 2022: one planned (not attempted yet), one skipped."""
    from compliance.services import evaluation_run
    from notifications import tasks as notification_tasks

    direct_partner()
    as_of = DEADLINE - 45 * DAY
    evaluation_run(as_of=as_of)
    monkeypatch.setattr(notification_tasks.deliver, "delay", lambda pk: None)
    reminders_plan(as_of=as_of)
    monkeypatch.undo()
    Notification.objects.update(created_at=at(as_of))
    assert set(Notification.objects.values_list("status", flat=True)) == {
        NotificationStatus.PLANNED,
        NotificationStatus.SKIPPED,
    }
    return as_of


def statuses() -> list[str]:
    return sorted(Notification.objects.values_list("status", flat=True))


def test_settled_notifications_go_after_the_retention_open_ones_never(planned):
    summary = purge()

    assert summary.purged["notifications"] == 1
    assert statuses() == [NotificationStatus.PLANNED]  # still to be attempted: kept
    Notification.objects.update(status=NotificationStatus.PENDING)
    purge(TODAY + DAY)
    assert statuses() == [NotificationStatus.PENDING]  # retrying: kept
    Notification.objects.update(status=NotificationStatus.SENT, sent_at=at(planned))
    purge(TODAY + 2 * DAY)
    assert statuses() == []


def test_notifications_younger_than_the_retention_stay(planned):
    # Planned (created) recently, though for an old deadline: a catch-up.
    Notification.objects.update(created_at=at(TODAY - 10 * DAY))
    assert purge().purged["notifications"] == 0
    assert len(statuses()) == 2
    # An old creation for a deadline inside the retention stays too.
    Notification.objects.update(created_at=at(D(2022, 1, 1)), deadline=TODAY - 100 * DAY)
    assert purge(TODAY + DAY).purged["notifications"] == 0


def test_a_date_before_what_was_purged_is_not_planned_again(planned):
    purge()
    assert purged_before("notifications") == TODAY - 730 * DAY

    with pytest.raises(ValueError, match="planning 2022-07-18 again could send"):
        reminders_plan(as_of=planned)
    with pytest.raises(CommandError, match="have been purged"):
        call_command("send_reminders", "--as-of", planned.isoformat())
    assert statuses() == [NotificationStatus.PLANNED]  # nothing planned again
    reminders_plan(as_of=TODAY)  # today is fine


def test_kept_for_ever_when_the_retention_is_zero(planned, defaults):
    defaults.RETENTION_DAYS = {**DEFAULTS, "notifications": 0}
    summary = purge()
    assert "notifications" not in summary.purged
    assert len(statuses()) == 2
    assert purged_before("notifications") is None
    reminders_plan(as_of=planned)  # nothing was purged: planning again is allowed


# --- import runs ------------------------------------------------------------------


def import_run(status: str, created: datetime.date, *, stored: bool = False) -> ImportRun:
    name = default_storage.save("imports/retention.csv", ContentFile(b"a,b\n")) if stored else ""
    run = ImportRun.objects.create(
        kind="revenue", file_name="f.csv", sha256="0" * 64, size=4, status=status,
        stored_name=name,
    )  # fmt: skip
    ImportRun.objects.filter(pk=run.pk).update(created_at=at(created))
    return run


def test_import_runs_go_after_the_retention_unconfirmed_uploads_sooner(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    old = TODAY - 401 * DAY
    keep = {
        "recent": import_run(ImportStatus.SUCCEEDED, TODAY - 399 * DAY),
        "running": import_run(ImportStatus.RUNNING, old, stored=True),
        "recent preview": import_run(ImportStatus.PREVIEWED, TODAY - 29 * DAY, stored=True),
    }
    gone = {
        "succeeded": import_run(ImportStatus.SUCCEEDED, old),
        "failed": import_run(ImportStatus.FAILED, old, stored=True),
        "rejected": import_run(ImportStatus.REJECTED, old),
        "abandoned preview": import_run(ImportStatus.PREVIEWED, TODAY - 31 * DAY, stored=True),
        "abandoned upload": import_run(ImportStatus.PENDING, TODAY - 31 * DAY, stored=True),
    }

    assert purge().purged["import_runs"] == len(gone)

    assert set(ImportRun.objects.values_list("pk", flat=True)) == {r.pk for r in keep.values()}
    for run in gone.values():
        assert not run.stored_name or not default_storage.exists(run.stored_name)
    for run in keep.values():
        assert not run.stored_name or default_storage.exists(run.stored_name)


# --- job runs ---------------------------------------------------------------------


def job_run(job: str, day: datetime.date, state: str = JobState.SUCCEEDED) -> JobRun:
    return JobRun.objects.create(job=job, run_date=day, state=state, started_at=at(day))


def test_job_runs_go_after_the_retention_the_latest_of_each_job_stays():
    old = TODAY - 731 * DAY
    kept = [
        job_run("evaluate_all", TODAY - 730 * DAY),
        job_run("evaluate_all", old - DAY, JobState.RUNNING),  # never purged
        job_run("rare_job", old - 5 * DAY),  # its latest run, however old
    ]
    job_run("evaluate_all", old)
    job_run("evaluate_all", old - 2 * DAY, JobState.FAILED)
    job_run("rare_job", old - 6 * DAY)

    assert purge().purged["job_runs"] == 3

    kept_pks = {run.pk for run in kept}
    assert set(JobRun.objects.exclude(job=PURGE_JOB).values_list("pk", flat=True)) == kept_pks


# --- the job ----------------------------------------------------------------------


def test_the_purge_runs_once_a_day_and_records_what_it_did(planned):
    summary = purge()
    assert purge() is None  # the day's run decides
    run = JobRun.objects.get(job=PURGE_JOB, run_date=TODAY)
    assert run.state == JobState.SUCCEEDED
    assert run.counts == summary.counts()
    assert run.counts["notifications"] == 1
    assert run.counts["notifications_before"] == "2024-12-02"
    assert run.counts["import_previews_before"] == "2026-11-02"


def test_the_task_purges_today(monkeypatch):
    monkeypatch.setattr(tasks.timezone, "localdate", lambda: TODAY)
    result = tasks.purge_expired.apply().get()
    assert result["skipped"] is False and result["run_date"] == TODAY.isoformat()
    assert tasks.purge_expired.apply().get()["skipped"] is True


def test_unknown_tables_in_the_setting_are_refused(defaults):
    defaults.RETENTION_DAYS = {**DEFAULTS, "evaluations": 30}
    with pytest.raises(ValueError, match="evaluations"):
        retention_days()


def test_beat_schedule_purges_daily_in_utc_after_the_nightly_run():
    entry = settings.CELERY_BEAT_SCHEDULE["retention-purge"]
    nightly = settings.CELERY_BEAT_SCHEDULE["nightly-evaluation"]["schedule"]
    assert entry["task"] == "jobs.purge_expired"
    assert entry["schedule"].hour == {4} and entry["schedule"].minute == {45}
    assert min(nightly.hour) < 4
    assert settings.CELERY_TIMEZONE == "UTC"
