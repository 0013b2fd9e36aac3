"""Retention of the job runs, and the record of every purge
(docs/decisions/0012-growth-control.md).

A job run is one row per job and date: small, but one more every night
for ever. Finished runs older than the retention go; the latest run of
each job stays whatever its age (the dashboard shows it), and a running
one is never deleted. The purge itself runs as a job (``PURGE_JOB``),
once per day like the nightly evaluation; its run's counts record what
it purged and the date before which it did (``purged_before``), which the
reminder planner asks before it plans a date again.
"""

from __future__ import annotations

import datetime

from django.db.models import Max

from .models import JobRun, JobState

#: The job name of the daily purge (``jobs.tasks.purge_expired``).
PURGE_JOB = "retention_purge"


def job_runs_purge(*, before: datetime.date) -> int:
    """Delete the finished job runs dated before ``before``, except the
    latest run of each job; return how many went."""
    latest = dict(JobRun.objects.values_list("job").annotate(latest=Max("run_date")))
    runs = JobRun.objects.filter(run_date__lt=before).exclude(state=JobState.RUNNING)
    for job, run_date in latest.items():
        runs = runs.exclude(job=job, run_date=run_date)
    deleted, _ = runs.delete()
    return deleted


def purged_before(table: str) -> datetime.date | None:
    """The latest date before which a purge deleted rows of ``table`` (a
    key of ``settings.RETENTION_DAYS``), or None if none ever did."""
    dates = [
        counts[f"{table}_before"]
        for counts in JobRun.objects.filter(
            job=PURGE_JOB, state=JobState.SUCCEEDED, counts__has_key=f"{table}_before"
        ).values_list("counts", flat=True)
    ]
    return max(map(datetime.date.fromisoformat, dates)) if dates else None
