"""Bulk imports of CSV files (PRODUCT section 7), all or nothing.

One entry point, :func:`import_file`, serves the ``import_data`` command and
the staff upload page. An import runs in five steps:

1. **read** - decode UTF-8 (with or without BOM), detect the dialect from the
   header line (comma + decimal point, or semicolon + decimal comma as German
   Excel writes it) and map the columns (a :class:`SourceFormat`);
2. **parse** - turn every cell into a Python value, collecting every error;
3. **resolve** - look up the partners, locations, users... the rows refer to,
   in chunks (``__in``), never one query per row;
4. **plan** - find the records that already exist by key (again in chunks)
   and sort the rows into created, updated and unchanged;
5. **write** - only when no row has an error: bulk inserts and updates with
   their history rows, in one transaction.

Each kind is a small :class:`KindSpec`: its columns, how a row becomes field
values, and its key; revenue is stored by the one revenue upsert
(``partners.revenue``). Partner Center reconciliation files are another
:class:`SourceFormat`, streamed by ``ingestion.partner_center``.

The package, from the bottom up (``ingestion.report`` and ``ingestion.files``
are shared with ``ingestion.partner_center``, which is below this package):

- ``reading``: the raw table, :class:`Row` (cells -> values and errors);
- ``kinds``: :class:`KindSpec`, the six kinds, :data:`KINDS`;
- ``formats``: :class:`SimpleFormat`, :class:`PartnerCenterFormat`,
  :func:`check_header`;
- ``service``: :func:`import_file` and the re-evaluation after it;
- ``runs``: the ``ImportRun`` services of the upload page and the command.

The public names of every module are importable from here.
"""

from ingestion.files import (
    COMMA,
    DAILY_RATED_USAGE_COLUMNS,
    SEMICOLON,
    Dialect,
    daily_rated_usage_error,
)
from ingestion.report import FileRejected, ImportConflict, ImportReport, RowError

from .formats import (
    FORMATS,
    HEAD_BYTES,
    PartnerCenterFormat,
    SimpleFormat,
    SourceFormat,
    SourceRows,
    check_arguments,
    check_header,
)
from .kinds import (
    KINDS,
    ContactSpec,
    ExchangeRateSpec,
    ImportContext,
    KindSpec,
    LocationSpec,
    PartnerSpec,
    RevenueSpec,
    SupportContractSpec,
    describe_kinds,
    resolve_mpn_references,
)
from .reading import Row, Source, Table, parse_date, parse_decimal, read_table
from .runs import (
    UPLOAD_DIR,
    UPLOAD_KINDS,
    import_file_recorded,
    import_run_confirm,
    import_run_create,
    import_run_execute,
    import_run_get_for_user,
    import_run_is_large,
    import_runs_for_user,
    split_upload_kind,
)
from .service import import_file

__all__ = [
    "COMMA",
    "DAILY_RATED_USAGE_COLUMNS",
    "FORMATS",
    "HEAD_BYTES",
    "KINDS",
    "SEMICOLON",
    "UPLOAD_DIR",
    "UPLOAD_KINDS",
    "ContactSpec",
    "Dialect",
    "ExchangeRateSpec",
    "FileRejected",
    "ImportConflict",
    "ImportContext",
    "ImportReport",
    "KindSpec",
    "LocationSpec",
    "PartnerCenterFormat",
    "PartnerSpec",
    "RevenueSpec",
    "Row",
    "RowError",
    "SimpleFormat",
    "Source",
    "SourceFormat",
    "SourceRows",
    "SupportContractSpec",
    "Table",
    "check_arguments",
    "check_header",
    "daily_rated_usage_error",
    "describe_kinds",
    "import_file",
    "import_file_recorded",
    "import_run_confirm",
    "import_run_create",
    "import_run_execute",
    "import_run_get_for_user",
    "import_run_is_large",
    "import_runs_for_user",
    "parse_date",
    "parse_decimal",
    "read_table",
    "resolve_mpn_references",
    "split_upload_kind",
]
