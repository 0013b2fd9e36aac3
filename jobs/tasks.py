"""Orchestration: Celery tasks that string several apps together.

The nightly run evaluates everything (``compliance``), then plans the
reminders (``notifications``) and warms the shared dashboard. Nothing below
this layer imports it (import-linter's ``layers`` contract, pyproject.toml).
The task names stay what they were (``compliance.evaluate_all``): the beat
schedule in the database refers to them.
"""

from __future__ import annotations

import datetime
import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance import dashboard, services
from notifications.tasks import plan_reminders_after_commit
from partners.models import Partner

from . import retention

logger = logging.getLogger(__name__)


def _stale_after() -> datetime.timedelta:
    # A run still "running" after the hard time limit has lost its worker.
    return datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 300)


@shared_task(
    bind=True,
    acks_late=True,  # idempotent: the JobRun row decides, so a redelivery is safe
    reject_on_worker_lost=True,
    name="compliance.evaluate_all",
)
def evaluate_all(self: Task, as_of: str | None = None) -> dict:
    """The nightly run: evaluate everything once per day."""
    run_date = datetime.date.fromisoformat(as_of) if as_of else timezone.localdate()
    run = services.job_run_claim(
        job=services.NIGHTLY_JOB,
        run_date=run_date,
        task_id=self.request.id or "",
        stale_after=_stale_after(),
    )
    if run is None:
        logger.info("nightly evaluation for %s already done or running; skipped", run_date)
        return {"skipped": True, "run_date": run_date.isoformat()}
    try:
        summary = services.evaluation_run(as_of=run_date)
    except Exception as exc:
        logger.exception("nightly evaluation for %s failed", run_date)
        services.job_run_finish(run=run, summary=None, error=f"{type(exc).__name__}: {exc}")
        raise
    services.job_run_finish(run=run, summary=summary)
    try:
        services.statistics_refresh()
    except Exception:  # never fails the run
        logger.exception("refreshing planner statistics failed")
    plan_reminders_after_commit(run_date)  # PRODUCT section 5: reminders follow the run
    transaction.on_commit(_warm_dashboard)  # after the data version has risen
    logger.info("nightly evaluation for %s: %s", run_date, summary.counts())
    return {"skipped": False, "run_date": run_date.isoformat(), **summary.counts()}


@shared_task(
    bind=True,
    acks_late=True,  # idempotent: the JobRun row of the day decides
    reject_on_worker_lost=True,
    name="jobs.purge_expired",
)
def purge_expired(self: Task) -> dict:
    """The daily purge of job runs, import runs and notifications older
    than ``settings.RETENTION_DAYS`` (docs/decisions/0012-growth-control.md)."""
    today = timezone.localdate()
    summary = retention.retention_purge(
        today=today, task_id=self.request.id or "", stale_after=_stale_after()
    )
    if summary is None:
        logger.info("purge for %s already done or running; skipped", today)
        return {"skipped": True, "run_date": today.isoformat()}
    logger.info("purge for %s: %s", today, summary.counts())
    return {"skipped": False, "run_date": today.isoformat(), **summary.counts()}


def _warm_dashboard() -> None:
    """Fill the shared staff dashboard for today, so that the first visitor
    after the night does not wait for the aggregates (with a shared cache,
    i.e. Redis). A failure here never fails the run."""
    try:
        dashboard.staff_dashboard(
            partners=Partner.objects.all(), today=timezone.localdate(), scope="all"
        )
    except Exception:
        logger.exception("warming the dashboard cache failed")
