"""The daily purge of what grows per day or per run
(docs/decisions/0012-growth-control.md).

``settings.RETENTION_DAYS`` says how many days each kind of row is kept
(0 or ``None``: for ever); :func:`retention_purge` asks each owning app to
delete what is older, once per day (a job run decides, like the nightly
evaluation's), and records the counts and cut-off dates on that run.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from compliance import services
from compliance.retention import PURGE_JOB, job_runs_purge
from ingestion.retention import import_runs_purge
from notifications.retention import notifications_purge

#: Each key of ``settings.RETENTION_DAYS`` and what it keeps.
TABLES = {
    "job_runs": "finished job runs (the latest of each job stays)",
    "import_runs": "finished import runs",
    "import_previews": "uploads whose preview was never confirmed, with their files",
    "notifications": "sent, skipped and failed notifications (open ones always stay)",
}


@dataclass
class PurgeSummary:
    purged: dict[str, int] = field(default_factory=dict)
    before: dict[str, datetime.date] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            **self.purged,
            **{f"{table}_before": day.isoformat() for table, day in self.before.items()},
        }


def retention_days() -> dict[str, int | None]:
    days = dict.fromkeys(TABLES) | dict(getattr(settings, "RETENTION_DAYS", {}))
    unknown = days.keys() - TABLES.keys()
    if unknown:
        raise ValueError(f"RETENTION_DAYS names unknown tables: {', '.join(sorted(unknown))}")
    return days


def retention_purge(
    *, today: datetime.date, task_id: str = "", stale_after: datetime.timedelta
) -> PurgeSummary | None:
    """Purge what is older than its retention on ``today``; None when the
    purge of ``today`` already ran (or is running)."""
    days = retention_days()
    run = services.job_run_claim(
        job=PURGE_JOB, run_date=today, task_id=task_id, stale_after=stale_after
    )
    if run is None:
        return None
    summary = PurgeSummary()
    cutoff = {
        table: today - datetime.timedelta(days=kept)
        for table, kept in days.items()
        if kept  # 0 or None: kept for ever
    }
    try:
        with transaction.atomic():
            if "job_runs" in cutoff:
                summary.purged["job_runs"] = job_runs_purge(before=cutoff["job_runs"])
            if "import_runs" in cutoff or "import_previews" in cutoff:
                summary.purged["import_runs"] = import_runs_purge(
                    finished_before=cutoff.get("import_runs", datetime.date.min),
                    abandoned_before=cutoff.get("import_previews", datetime.date.min),
                )
            if "notifications" in cutoff:
                summary.purged["notifications"] = notifications_purge(
                    before=cutoff["notifications"]
                )
            summary.before = cutoff
    except Exception as exc:
        services.job_run_finish(run=run, summary=None, error=f"{type(exc).__name__}: {exc}")
        raise
    services.job_run_finish(run=run, summary=summary)  # type: ignore[arg-type]
    return summary
