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
from partners.revenue import RevenueReferenceMissing

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
        reason = f"import revenue (Partner Center) {report.source_name}".strip()[:100]
        try:
            if dry_run:
                sink.plan(report)
            else:
                with transaction.atomic():
                    sink.write(report, user=user, reason=reason)
        except RevenueReferenceMissing as exc:
            # A location or currency was removed while the file was read.
            report.created = report.updated = report.unchanged = 0
            report.errors = _missing_references(exc, scanner)
            return report
        except IntegrityError as exc:
            if dry_run:
                raise
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


def _missing_references(exc: RevenueReferenceMissing, scanner: Scanner) -> list[RowError]:
    """The lines of ``exc`` as row errors in the file's words."""
    mpn_of = {pk: mpn for mpn, pk in scanner.locations.items() if pk is not None}
    errors = []
    for line, field, value in exc.problems:
        if field == "location":
            mpn = mpn_of.get(int(value), value)
            errors.append(
                RowError(
                    line,
                    "ResellerMpnId",
                    f"reseller {mpn} is no longer a location in the portal "
                    "(removed while the file was imported)",
                )
            )
        else:
            errors.append(
                RowError(
                    line,
                    "Currency",
                    f"unknown currency {value} (removed while the file was imported)",
                )
            )
    return errors
