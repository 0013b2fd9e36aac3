"""Import runs (the staff upload page and the ``import_data`` command).

Services for ``ImportRun``: the staff pages and ``ingestion.tasks`` call
these; the reads at the end are the access door for the pages (staff only:
partners do not upload their own data).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import IO, Any
from uuid import uuid4

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone

from ingestion.models import ImportRun
from ingestion.report import ImportReport
from partners.selectors import get_for_user, user_is_staff

from .formats import check_arguments
from .service import import_file

logger = logging.getLogger(__name__)

#: (value, label) of the upload form; "revenue:partner-center" is the revenue
#: kind in the Partner Center format.
UPLOAD_KINDS: list[tuple[str, str]] = [
    ("partners", "partners"),
    ("locations", "locations"),
    ("contacts", "contacts"),
    ("revenue", "revenue"),
    ("revenue:partner-center", "revenue (Partner Center)"),
    ("support-contracts", "support contracts"),
    ("fx-rates", "exchange rates"),
]
UPLOAD_DIR = "imports"


def split_upload_kind(value: str) -> tuple[str, str]:
    """``"revenue:partner-center"`` -> ``("revenue", "partner-center")``."""
    kind, _, file_format = value.partition(":")
    return kind, file_format or "simple"


def import_run_create(
    *,
    user: User,
    kind: str,
    file_format: str,
    upload: IO[bytes],
    file_name: str,
    skip_unknown: bool = False,
) -> ImportRun:
    """Store an uploaded file under ``imports/`` and record it (pending).
    Hashes and counts the lines in one pass over the chunks."""
    digest = hashlib.sha256()
    size = lines = 0
    chunks = (
        upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b"")
    )
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
    upload.seek(0)
    stored = default_storage.save(f"{UPLOAD_DIR}/{uuid4().hex}.csv", upload)
    return ImportRun.objects.create(
        created_by=user,
        kind=kind,
        file_format=file_format,
        file_name=Path(file_name).name[:255],
        stored_name=stored,
        sha256=digest.hexdigest(),
        size=size,
        lines=lines,
        skip_unknown=skip_unknown,
    )


def import_run_is_large(run: ImportRun) -> bool:
    """Large files are previewed and imported by a Celery task."""
    return run.lines > getattr(settings, "IMPORT_ASYNC_ROWS", 50_000)


def import_run_confirm(*, run: ImportRun, user: User) -> bool:
    """Mark a previewed, clean run as running (the import itself is
    :func:`import_run_execute`). False if it is not in that state (a second
    click, another user was faster)."""
    if run.error_count:
        return False
    claimed = ImportRun.objects.filter(pk=run.pk, status="previewed").update(
        status="running", progress=0.0, started_at=timezone.now(), finished_at=None
    )
    return bool(claimed)


def import_run_execute(*, run_id: int, dry_run: bool) -> ImportRun | None:
    """Preview (``dry_run``) or import the file of run ``run_id`` and store
    the report on the run. Safe to call twice: a preview runs only for a
    pending run, an import only for a running one that has not finished."""
    now = timezone.now()
    if dry_run:
        claimed = ImportRun.objects.filter(pk=run_id, status="pending", started_at__isnull=True)
        if not claimed.update(started_at=now, progress=0.0):
            return ImportRun.objects.filter(pk=run_id).first()
    elif not ImportRun.objects.filter(
        pk=run_id, status="running", finished_at__isnull=True
    ).exists():
        return ImportRun.objects.filter(pk=run_id).first()
    run = ImportRun.objects.select_related("created_by").get(pk=run_id)

    last = [0.0]

    def progress(share: float) -> None:
        # Scale: reading is most of the work; the merge is the rest.
        value = round(share * 0.9, 2)
        if value - last[0] >= 0.01:
            last[0] = value
            ImportRun.objects.filter(pk=run_id).update(progress=value)

    try:
        with default_storage.open(run.stored_name, "rb") as stream:
            report = import_file(
                kind=run.kind,
                source=stream,
                dry_run=dry_run,
                user=run.created_by,
                file_format=run.file_format,
                source_name=run.file_name,
                skip_unknown=run.skip_unknown,
                progress=progress,
            )
    except Exception as exc:
        logger.exception("import run %s failed", run_id)
        ImportRun.objects.filter(pk=run_id).update(
            status="failed" if not dry_run else "rejected",
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            progress=1.0,
        )
        return ImportRun.objects.get(pk=run_id)
    summary = _report_summary(report)
    counts = dict(run.counts or {})
    counts["result" if not dry_run else "preview"] = summary
    if dry_run:
        status = "previewed" if report.ok else "rejected"
    else:
        status = "succeeded" if report.ok else "failed"
    ImportRun.objects.filter(pk=run_id).update(
        status=status,
        counts=counts,
        errors=[[e.row, e.column, e.message] for e in report.errors[: ImportRun.ERRORS_KEPT]],
        error_count=len(report.errors),
        progress=1.0,
        finished_at=timezone.now() if (not dry_run or not report.ok) else None,
    )
    if status in ("succeeded", "rejected"):
        # The file is kept until it is imported (or can never be).
        default_storage.delete(run.stored_name)
    return ImportRun.objects.get(pk=run_id)


def _report_summary(report: ImportReport) -> dict[str, Any]:
    return {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "skipped": report.skipped,
        "dialect": report.dialect,
        "layout": report.layout,
        "ignored_columns": report.ignored_columns,
        "by_location": report.by_location,
        "totals": report.totals,
        "unknown_resellers": report.unknown_resellers,
        "reevaluation": (
            {
                "partners": again.partners,
                "as_of": again.as_of.isoformat(),
                "error": again.error,
            }
            if (again := report.reevaluation) is not None and (again.partners or again.error)
            else None
        ),
    }


class _FileDigest(threading.Thread):
    """SHA-256, size and lines of a file, computed beside the import (the
    hash releases the GIL, and the import reads its own copy of the pages)."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="import-file-digest", daemon=True)
        self.path = path
        self.sha256 = ""
        self.size = self.lines = 0

    def run(self) -> None:
        digest = hashlib.sha256()
        try:
            with self.path.open("rb") as stream:
                while block := stream.read(1 << 20):
                    digest.update(block)
                    self.size += len(block)
                    self.lines += block.count(b"\n")
        except OSError:
            return  # (the import reads the same file and raises the error)
        self.sha256 = digest.hexdigest()


def import_file_recorded(
    *,
    kind: str,
    path: Path,
    dry_run: bool = False,
    user: User | None = None,
    file_format: str = "simple",
    skip_unknown: bool = False,
) -> tuple[ImportReport, ImportRun | None]:
    """:func:`import_file` for a file on disk (the ``import_data`` command),
    recorded as an ``ImportRun`` like an upload: who (``user``, may be
    None), when, the file name, hash, size and lines, the counts and the
    errors; the status is ``succeeded`` or ``rejected`` (nothing written),
    ``failed`` if the import raised. A dry run writes nothing, so it is not
    recorded (the run is None). Raises like :func:`import_file`."""
    check_arguments(kind=kind, file_format=file_format, skip_unknown=skip_unknown)
    if dry_run:
        report = import_file(kind=kind, source=path, dry_run=True, user=user,
                             file_format=file_format, skip_unknown=skip_unknown)  # fmt: skip
        return report, None
    run = ImportRun.objects.create(
        created_by=user,
        kind=kind,
        file_format=file_format,
        file_name=path.name[:255],
        size=path.stat().st_size,
        skip_unknown=skip_unknown,
        status="running",
        started_at=timezone.now(),
    )
    digest = _FileDigest(path)
    digest.start()
    try:
        report = import_file(kind=kind, source=path, user=user, file_format=file_format,
                             skip_unknown=skip_unknown)  # fmt: skip
    except BaseException as exc:
        digest.join()
        ImportRun.objects.filter(pk=run.pk).update(
            status="failed",
            sha256=digest.sha256,
            lines=digest.lines,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    digest.join()
    ImportRun.objects.filter(pk=run.pk).update(
        status="succeeded" if report.ok else "rejected",
        sha256=digest.sha256,
        size=digest.size or run.size,
        lines=digest.lines,
        counts={"result": _report_summary(report)},
        errors=[[e.row, e.column, e.message] for e in report.errors[: ImportRun.ERRORS_KEPT]],
        error_count=len(report.errors),
        progress=1.0,
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return report, run


def import_runs_for_user(user: User) -> QuerySet[ImportRun]:
    """Import runs ``user`` may see: all for staff, none for anyone else."""
    if not user_is_staff(user):
        return ImportRun.objects.none()
    return ImportRun.objects.select_related("created_by")


def import_run_get_for_user(*, user: User, pk: int) -> ImportRun:
    """An import run ``user`` may see, else Http404."""
    return get_for_user(import_runs_for_user(user), pk=pk)
