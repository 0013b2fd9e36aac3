"""The service: :func:`import_file`, all or nothing, and the re-evaluation
of the partners it touched."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import IO

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.services import partners_reevaluate
from ingestion.partner_center.service import revenue_import
from ingestion.report import FileRejected, ImportConflict, ImportReport, RowError
from partners.models import Location

from .formats import check_arguments
from .kinds import KINDS, ImportContext, KindSpec
from .reading import Row, Source, read_source, read_table


def import_file(
    *,
    kind: str,
    source: Source,
    dry_run: bool = False,
    user: User | None = None,
    file_format: str = "simple",
    source_name: str | None = None,
    skip_unknown: bool = False,
    progress: Callable[[float], None] | None = None,
) -> ImportReport:
    """Import one CSV file of ``kind``, all or nothing.

    ``source`` is a path, an open binary file (an upload) or the bytes.
    Returns the report; when ``report.errors`` is not empty nothing was
    written. With ``dry_run`` the report says what would change and nothing
    is written. ``user`` is recorded as the author of the history rows.
    ``skip_unknown`` (Partner Center files) leaves out the lines of resellers
    that are no location instead of rejecting the file; ``progress`` is
    called with the share of the file read so far (Partner Center files).

    A successful import re-evaluates the partners it touched for today
    before it returns (``report.reevaluation``; PRODUCT 7), without deciding
    deadlines (4.6); a dry run or an import that changed nothing does not.

    Raises ``ValueError`` for an unknown kind or format and ``OSError`` if
    the file cannot be read.
    """
    report = _import_file(
        kind=kind,
        source=source,
        dry_run=dry_run,
        user=user,
        file_format=file_format,
        source_name=source_name,
        skip_unknown=skip_unknown,
        progress=progress,
    )
    if report.written:
        if report.by_location and not report.partner_pks:  # Partner Center files
            report.partner_pks = set(
                Location.objects.filter(location_id__in=list(report.by_location))
                .values_list("partner_id", flat=True)
                .distinct()
            )
        report.reevaluation = partners_reevaluate(partner_pks=report.partner_pks)
    return report


def _import_file(
    *,
    kind: str,
    source: Source,
    dry_run: bool,
    user: User | None,
    file_format: str,
    source_name: str | None,
    skip_unknown: bool,
    progress: Callable[[float], None] | None,
) -> ImportReport:
    source_format = check_arguments(kind=kind, file_format=file_format, skip_unknown=skip_unknown)
    if getattr(source_format, "streaming", False):
        return _import_streamed(
            source,
            report=ImportReport(kind=kind, file_format=file_format, dry_run=dry_run),
            source_name=source_name,
            dry_run=dry_run,
            user=user,
            skip_unknown=skip_unknown,
            progress=progress,
        )

    name, data = read_source(source)
    report = ImportReport(
        kind=kind, file_format=file_format, dry_run=dry_run, source_name=source_name or name
    )
    spec = KINDS[kind](ImportContext())
    try:
        table = read_table(data)
        report.dialect = table.dialect.label
        parsed = source_format.rows(type(spec), table)
    except FileRejected as exc:
        report.errors = exc.errors
        return report
    report.rows = len(parsed.rows)
    report.ignored_columns = parsed.ignored_columns

    reason = f"import {kind} {report.source_name}".strip()[:100]
    if dry_run:
        _import_rows(spec, parsed.rows, report, write=False, user=user, reason=reason)
        return report
    try:
        with transaction.atomic():
            _import_rows(spec, parsed.rows, report, write=True, user=user, reason=reason)
    except (IntegrityError, ImportConflict) as exc:
        # Someone changed the same records between our checks and our writes.
        report.created = report.updated = report.unchanged = 0
        report.errors = [
            RowError(0, "", f"the database refused the import, nothing was written ({exc})")
        ]
    return report


def _import_streamed(
    source: Source,
    *,
    report: ImportReport,
    source_name: str | None,
    dry_run: bool,
    user: User | None,
    skip_unknown: bool,
    progress: Callable[[float], None] | None,
) -> ImportReport:
    def run(stream: IO[bytes], name: str, size: int | None) -> ImportReport:
        report.source_name = source_name or name
        return revenue_import(
            stream=stream,
            report=report,
            dry_run=dry_run,
            skip_unknown=skip_unknown,
            user=user,
            progress=progress,
            total_bytes=size,
        )

    if isinstance(source, bytes):
        return run(io.BytesIO(source), "", len(source))
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as stream:
            return run(stream, path.name, path.stat().st_size)
    size = getattr(source, "size", None)
    return run(source, Path(getattr(source, "name", "") or "").name, size)


def _import_rows(
    spec: KindSpec,
    rows: list[Row],
    report: ImportReport,
    *,
    write: bool,
    user: User | None,
    reason: str,
) -> None:
    for row in rows:
        spec.parse(row)
    spec.resolve(rows)

    by_key: dict[tuple[Hashable, ...], Row] = {}
    for row in rows:
        key = spec.key(row)
        if key is None:
            continue  # the row already has an error
        if (first := by_key.get(key)) is not None:
            row.error(
                spec.key_columns[-1],
                f"duplicate of row {first.line} (same {' and '.join(spec.key_columns)})",
            )
        else:
            by_key[key] = row

    if spec.stores_itself:
        errors = [error for row in rows for error in row.errors]
        if errors:
            report.errors = errors
            return
        spec.store(list(by_key.values()), report, write=write, user=user, reason=reason)
        if write and (report.created or report.updated):
            report.partner_pks = spec.touched_partner_pks(list(by_key.values()))
        return

    existing = spec.existing(set(by_key))
    now = timezone.now()
    created: list[Row] = []
    updated: list[tuple[Row, int]] = []
    unchanged = 0
    for key, row in by_key.items():
        matches = existing.get(key, [])
        if len(matches) > 1:
            row.error(spec.key_columns[-1], "matches several stored records; fix them first")
            continue
        stored = matches[0] if matches else None
        if stored is not None:
            spec.check_existing(row, stored)
        if row.errors:
            continue
        if stored is None:
            created.append(row)
        elif spec.differs(row, stored):
            updated.append((row, stored["pk"]))
        else:
            unchanged += 1

    errors = [error for row in rows for error in row.errors]
    if errors:
        report.errors = errors
        return
    report.created, report.updated, report.unchanged = len(created), len(updated), unchanged
    if write:
        spec.write(created, updated, user=user, now=now, reason=reason)
        # The partners the file names, as for the kinds that store themselves.
        if created or updated:
            report.partner_pks = spec.touched_partner_pks(list(by_key.values()))
