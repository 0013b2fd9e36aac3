"""File formats: how a file's columns map onto a kind's (:class:`SimpleFormat`,
the kind's own column names; :class:`PartnerCenterFormat`, streamed by
``ingestion.partner_center``), and :func:`check_header`, which the upload form
asks before it stores a file."""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from typing import Protocol

from ingestion.files import daily_rated_usage_error, dialect_of
from ingestion.partner_center.layouts import detect_layout
from ingestion.report import FileRejected, RowError

from .kinds import KINDS, KindSpec
from .reading import Row, Table


@dataclass
class SourceRows:
    rows: list[Row]
    ignored_columns: list[str]


class SourceFormat(Protocol):
    """Turns a :class:`Table` into :class:`Row` objects whose cells are keyed
    by the kind's columns; ``Row.labels`` names the file's own column in
    messages when it differs."""

    name: str
    kinds: frozenset[str]

    def rows(self, spec: type[KindSpec], table: Table) -> SourceRows: ...


class SimpleFormat:
    """The simple CSV formats: a header with exactly the kind's column names."""

    name = "simple"
    kinds = frozenset(KINDS)

    def rows(self, spec: type[KindSpec], table: Table) -> SourceRows:
        header = table.header
        if spec.kind == "revenue" and (usage := daily_rated_usage_error(header)):
            raise FileRejected([usage])
        missing = [column for column in spec.columns if column not in header]
        repeated = sorted({c for c in header if c in spec.columns and header.count(c) > 1})
        errors = []
        if missing:
            errors.append(RowError(1, "", f"missing columns: {', '.join(missing)}"))
        if repeated:
            errors.append(RowError(1, "", f"repeated columns: {', '.join(repeated)}"))
        if errors:
            raise FileRejected(errors)
        positions = [(column, header.index(column)) for column in spec.columns]
        ignored = [column for column in header if column not in spec.columns]
        rows = []
        for line, cells in table.records:
            row = Row(
                line,
                {c: cells[i].strip() if i < len(cells) else "" for c, i in positions},
                table.dialect,
            )
            if any(cell.strip() for cell in cells[len(header) :]):
                row.error(
                    "",
                    f"this row has {len(cells)} values but the header has {len(header)} "
                    f"columns (a '{table.dialect.delimiter}' inside an unquoted value?)",
                )
            rows.append(row)
        return SourceRows(rows=rows, ignored_columns=[c for c in ignored if c])


class PartnerCenterFormat:
    """Partner Center reconciliation files (new-commerce and legacy). They
    are streamed rather than read as a :class:`Table`: see
    ``ingestion.partner_center`` (``import_file`` hands them over)."""

    name = "partner-center"
    kinds = frozenset({"revenue"})
    streaming = True

    def rows(self, spec: type[KindSpec], table: Table) -> SourceRows:
        raise NotImplementedError("partner-center files are streamed by ingestion.partner_center")


FORMATS: dict[str, SourceFormat] = {f.name: f for f in (SimpleFormat(), PartnerCenterFormat())}


def check_arguments(*, kind: str, file_format: str, skip_unknown: bool) -> SourceFormat:
    """The format for ``file_format``; ``ValueError`` if the arguments of
    :func:`import_file` do not fit together."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if file_format not in FORMATS:
        raise ValueError(f"unknown format {file_format!r}; use one of {', '.join(FORMATS)}")
    source_format = FORMATS[file_format]
    if kind not in source_format.kinds:
        raise ValueError(f"the {file_format} format is for {', '.join(source_format.kinds)} only")
    if skip_unknown and not getattr(source_format, "streaming", False):
        raise ValueError("skipping unknown resellers is for partner-center files only")
    return source_format


#: Bytes of a file that :func:`check_header` needs to see.
HEAD_BYTES = 64 * 1024


def check_header(*, kind: str, file_format: str, head: bytes) -> list[RowError]:
    """Whether the start of a file (``head``: its first bytes) is UTF-8 CSV
    text with a header that fits ``kind`` in ``file_format``; the problems,
    or an empty list. Used by the upload form before a file is stored."""
    if b"\x00" in head:
        return [RowError(0, "", "this is not a text file (it contains NUL bytes)")]
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return [RowError(1, "", 'the file is not UTF-8 text; save it as "CSV UTF-8"')]
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if "\n" not in text and len(head) >= HEAD_BYTES:
        return [RowError(1, "", "the first line is too long for a CSV header")]
    if not first_line.strip():
        return [RowError(1, "", "the file is empty or has no header row")]
    dialect = dialect_of(first_line)
    try:
        header = next(csv.reader([first_line], delimiter=dialect.delimiter), [])
    except csv.Error as exc:
        return [RowError(1, "", f"the header cannot be read as CSV ({exc})")]
    if file_format == "partner-center":
        try:
            detect_layout(header)
        except FileRejected as exc:
            return exc.errors
        return []
    if kind == "revenue" and (usage := daily_rated_usage_error(header)):
        return [usage]
    names = [name.strip().lower() for name in header]
    missing = [column for column in KINDS[kind].columns if column not in names]
    if missing:
        return [RowError(1, "", f"missing columns for {kind}: {', '.join(missing)}")]
    return []
