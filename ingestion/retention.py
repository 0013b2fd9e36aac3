"""Retention of the import runs (docs/decisions/0012-growth-control.md).

An import run is one row per file imported (a few a day), with its report
(counts per location, up to ``ImportRun.ERRORS_KEPT`` errors) and, until it
is imported, the uploaded file in the default storage. Runs that finished
(succeeded, failed, rejected) go after the retention; uploads whose preview
was never confirmed (pending, previewed) after a much shorter one, with
their stored file. A running import is never purged.
"""

from __future__ import annotations

import datetime
import logging

from django.core.files.storage import default_storage
from django.db.models import Q

from .models import ImportRun, ImportStatus

logger = logging.getLogger(__name__)

FINISHED = (ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.REJECTED)
ABANDONED = (ImportStatus.PENDING, ImportStatus.PREVIEWED)


def import_runs_purge(*, finished_before: datetime.date, abandoned_before: datetime.date) -> int:
    """Delete the finished runs uploaded before ``finished_before`` and the
    unconfirmed ones uploaded before ``abandoned_before`` (and their stored
    files); return how many runs went."""

    def start(day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)

    runs = ImportRun.objects.filter(
        Q(status__in=FINISHED, created_at__lt=start(finished_before))
        | Q(status__in=ABANDONED, created_at__lt=start(abandoned_before))
    )
    for name in runs.exclude(stored_name="").values_list("stored_name", flat=True):
        try:
            default_storage.delete(name)
        except OSError:  # the row still goes: a stray file is harmless
            logger.warning("could not delete the stored import file %s", name)
    deleted, _ = runs.delete()
    return deleted
