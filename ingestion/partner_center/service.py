"""The service: :func:`revenue_import` reads a Partner Center file into a
sink, then plans or writes it (``ingestion.imports.import_file`` hands the
files over)."""

from __future__ import annotations

import logging
import time
from typing import IO

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from ingestion.report import FileRejected, ImportReport, RowError

from .scanner import Progress, Scanner
from .sinks import make_sink

logger = logging.getLogger(__name__)


def revenue_import(
    *,
    stream: IO[bytes],
    report: ImportReport,
    dry_run: bool,
    skip_unknown: bool = False,
    user: User | None = None,
    progress: Progress | None = None,
    total_bytes: int | None = None,
) -> ImportReport:
    """Import a Partner Center file into ``report`` (see the module doc).

    Reading runs outside a transaction (so that progress can be saved), the
    write is one transaction; a rejected file writes nothing.
    """
    sink = make_sink()
    try:
        scanner = Scanner(
            report=report,
            sink=sink,
            skip_unknown=skip_unknown,
            progress=progress,
            total_bytes=total_bytes,
        )
        started = time.perf_counter()
        try:
            scanner.run(stream)
        except FileRejected as exc:
            report.errors = exc.errors
            return report
        read = time.perf_counter() - started
        if report.errors:
            return report
        if dry_run:
            sink.plan(report)
        else:
            reason = f"import revenue (Partner Center) {report.source_name}".strip()[:100]
            try:
                with transaction.atomic():
                    sink.write(report, user=user, reason=reason)
            except IntegrityError as exc:
                # Someone stored the same records between our checks and our writes.
                report.created = report.updated = report.unchanged = 0
                report.errors = [
                    RowError(0, "", f"the database refused the import, nothing was written ({exc})")
                ]
                return report
        logger.info(
            "partner-center %s: %d rows, read and staged in %.1f s, %s in %.1f s",
            report.source_name,
            report.rows,
            read,
            "planned" if dry_run else "merged",
            time.perf_counter() - started - read,
        )
        return report
    finally:
        sink.close()
