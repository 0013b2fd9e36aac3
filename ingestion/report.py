"""What an import did, or why it was rejected: the results that every file
format reports (the simple CSV kinds of ``ingestion.imports`` and the Partner
Center files of ``ingestion.partner_center``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RowError:
    """One problem in the file. ``row`` is the line in the file (the header is
    line 1; 0 for the file as a whole); ``column`` is empty when the problem is
    not in one cell."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    """What an import did, or would do (``dry_run``), or why it was rejected."""

    kind: str
    file_format: str = "simple"
    dry_run: bool = False
    source_name: str = ""
    dialect: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Partner Center files only (see ingestion.partner_center):
    #: "new-commerce" or "legacy"
    layout: str = ""
    #: lines of unknown resellers left out (``skip_unknown``)
    skipped: int = 0
    #: per unknown reseller: mpn_id, rows, lines, customers, totals per currency
    unknown_resellers: list[dict[str, Any]] = field(default_factory=list)
    #: location id -> {"rows": n, "totals": {currency: "amount"}}
    by_location: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: currency -> "amount" over the lines that are imported
    totals: dict[str, str] = field(default_factory=dict)
    #: partners whose data the import wrote (those the file names, when it
    #: changed anything); re-evaluated for today after the commit
    partner_pks: set[int] = field(default_factory=set)
    #: what the re-evaluation after the import did (``compliance.services.Reevaluation``)
    reevaluation: Any = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> int:
        return len({error.row for error in self.errors})

    @property
    def written(self) -> bool:
        """True when this import changed the database."""
        return self.ok and not self.dry_run and bool(self.created or self.updated)


class ImportConflict(Exception):
    """The stored data changed between the checks and the writes."""


class FileRejected(Exception):
    """The file as a whole cannot be read (encoding, header, CSV syntax)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors
