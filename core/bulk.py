"""Bulk SQL for PostgreSQL and SQLite.

- :func:`upsert`: one-statement bulk upsert. Rows travel as a single JSON
  parameter and are unpacked by the database (``json_to_recordset`` /
  ``json_each``), so writing 5 or 500,000 rows is one query. Rows whose values
  did not change are not touched at all (the update is guarded by ``IS
  DISTINCT FROM``), which makes re-running a day a true no-op.
- streaming ``COPY`` (PostgreSQL): :func:`copy_from`, :func:`copy_insert`
  and their text helpers.
- the sizes of ORM bulk statements and ``__in`` lookups (:func:`in_chunks`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from django.db import connection, models

#: Rows per INSERT statement of ``bulk_create`` (Django lowers it where the
#: database needs).
INSERT_BATCH_SIZE = 1000
#: Rows per UPDATE statement of ``bulk_update``: it writes one CASE branch per
#: row and field, which the database evaluates row by row; short statements
#: stay cheap.
UPDATE_BATCH_SIZE = 100


def chunk_size() -> int:
    """Keys per ``__in`` query; a query may carry two such lists, and SQLite
    allows 999 parameters per statement."""
    limit = connection.features.max_query_params
    return 2000 if limit is None else max(1, limit // 2 - 50)


def in_chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``items`` in slices of :func:`chunk_size`, one ``__in`` lookup each."""
    size = chunk_size()
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if connection.vendor == "sqlite":
            return connection.ops.adapt_datetimefield_value(value)
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _field(model: type[models.Model], name: str) -> models.Field:
    """The concrete field ``name`` (or its attname) of ``model``: bulk SQL
    writes columns, which a reverse relation or a generic foreign key has
    not."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} has no column")
    return field


def _pg_type(field: models.Field) -> str:
    db_type = field.db_type(connection)
    if db_type is None:
        raise TypeError(f"{field.name} has no column type")
    return db_type


def upsert(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    touch_fields: Sequence[str] = (),
    only_if: str = "",
) -> int:
    """Insert ``rows`` (dicts keyed by field name or attname) or update the
    row with the same ``unique_fields``. ``update_fields`` are compared and
    updated; ``touch_fields`` (e.g. a timestamp) are only written along with
    a real change. Without ``update_fields`` existing rows are left alone
    (insert-if-missing). ``only_if`` is an extra SQL condition for updates,
    written with ``{table}`` and ``EXCLUDED`` (e.g. never move a date back).
    Returns the number of rows inserted or changed."""
    if not rows:
        return 0
    meta = model._meta
    names = list(rows[0].keys())
    fields = [_field(model, name) for name in names]
    columns = [f.column for f in fields]
    by_name = {name: f.column for name, f in zip(names, fields, strict=True)}
    conflict = ", ".join(connection.ops.quote_name(by_name[n]) for n in unique_fields)
    table = meta.db_table
    qn = connection.ops.quote_name
    payload = json.dumps([[row[name] for name in names] for row in rows], default=_json_default)
    compared = [by_name[n] for n in update_fields]
    written = compared + [by_name[n] for n in touch_fields]
    set_clause = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in written)
    target = ", ".join(qn(c) for c in columns)

    if connection.vendor == "postgresql":
        # Positional JSON arrays keep the payload small; unpack by index.
        select = ", ".join(f"(r.value ->> {i})::{_pg_type(f)}" for i, f in enumerate(fields))
        source = "jsonb_array_elements(%s::jsonb) AS r(value)"
        guard = " OR ".join(
            f"{qn(table)}.{qn(c)} IS DISTINCT FROM EXCLUDED.{qn(c)}" for c in compared
        )
    elif connection.vendor == "sqlite":
        select = ", ".join(
            (
                f"json(json_extract(r.value, '$[{i}]'))"
                if isinstance(f, models.JSONField)
                else f"json_extract(r.value, '$[{i}]')"
            )
            for i, f in enumerate(fields)
        )
        source = "json_each(%s) AS r"
        guard = " OR ".join(f"{qn(table)}.{qn(c)} IS NOT EXCLUDED.{qn(c)}" for c in compared)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(connection.vendor)

    if only_if:
        guard = f"({guard}) AND ({only_if.format(table=qn(table))})"
    action = f"DO UPDATE SET {set_clause} WHERE {guard}" if compared else "DO NOTHING"
    sql = (
        f"INSERT INTO {qn(table)} ({target}) SELECT {select} FROM {source} WHERE true "
        f"ON CONFLICT ({conflict}) {action}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        return cursor.rowcount


# --- streaming COPY (PostgreSQL) ---------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(value: str) -> str:
    """A string for ``COPY ... FROM STDIN`` in text format (backslash, tab,
    newline and carriage return escaped; everything else as it is)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def copy_value(value: Any) -> str:
    """Any value in COPY text format: ``\\N`` for None, ``t``/``f``, ISO
    dates and times, escaped text."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return copy_escape(str(value))


def _text(value: Any) -> str:
    if value is None:
        return "\\N"
    return copy_escape(value)


_JSON_CACHE: dict[tuple, str] = {}


def _json(value: Any) -> str:
    # Small flat dicts and lists (requirement flags) repeat: encode each once.
    if isinstance(value, dict):
        key: tuple = (dict, *value.items())
    elif isinstance(value, list):
        key = (list, *value)
    else:
        key = ()
    try:
        return _JSON_CACHE[key]
    except (KeyError, TypeError):
        text = json.dumps(value, separators=(",", ":")).translate(_COPY_ESCAPES)
        if key and len(_JSON_CACHE) < 4096:
            with contextlib.suppress(TypeError):  # unhashable values inside
                _JSON_CACHE[key] = text
        return text


def _plain(value: Any) -> str:
    # Numbers, dates, datetimes, booleans, keys: nothing to escape.
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def _isoformat(value: Any) -> str:
    return value.isoformat()


def _number_or_null(value: Any) -> str:
    # Nullable numbers (amounts, counts, keys): most of a night's columns.
    return "\\N" if value is None else str(value)


def _copy_converter(field: models.Field) -> Callable[[Any], str]:
    """The function writing one value of ``field`` in COPY text format (the
    cheapest one that is right for the field: this runs for every value)."""
    if isinstance(field, models.JSONField):
        return _json
    if isinstance(field, (models.CharField, models.TextField)) and not field.is_relation:
        return _text
    numeric = isinstance(field, (models.IntegerField, models.DecimalField, models.ForeignKey))
    if not field.null:
        if isinstance(field, models.DateField):  # DateTimeField too
            return _isoformat
        if numeric:
            return str
    elif numeric:
        return _number_or_null
    return _plain


class _LineStream:
    """A read()-able file over rows, so that COPY pulls rows as they are made:
    PostgreSQL inserts (and maintains indexes) while Python builds the next
    rows - two processes working at once."""

    def __init__(self, rows: Iterable[Sequence[Any]], converters: list) -> None:
        self._rows = iter(rows)
        self._converters = converters
        self.count = 0

    def read(self, size: int = -1) -> str:
        lines: list[str] = []
        length = 0
        converters = self._converters
        for row in self._rows:
            line = "\t".join([f(v) for f, v in zip(converters, row, strict=True)]) + "\n"
            lines.append(line)
            length += len(line)
            self.count += 1
            if size > 0 and length >= size:
                break
        return "".join(lines)

    readline = read


class Readable(Protocol):
    def read(self, size: int = -1) -> str: ...


def copy_from(sql: str, data: Readable, *, chunk: int = 1 << 18) -> int:
    """Run ``COPY ... FROM STDIN`` (``sql``) with the text ``data`` returns
    from ``read()``, pulled in chunks while it is produced (PostgreSQL,
    psycopg2): the one place the project talks COPY to the driver. Returns
    the rows copied."""
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(sql, data, size=chunk)
        return cursor.cursor.rowcount


def copy_sql(model: type[models.Model], names: Sequence[str], *, table: str | None = None) -> str:
    """``COPY <table> (<columns of names>) FROM STDIN`` for ``model``."""
    meta = model._meta
    qn = connection.ops.quote_name
    columns = ", ".join(qn(_field(model, name).column) for name in names)
    return f"COPY {qn(table or meta.db_table)} ({columns}) FROM STDIN"


def copy_insert(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (sequences in the order of the field ``names``) with one
    streamed ``COPY … FROM STDIN``; PostgreSQL only. The rows must be new:
    a duplicate key fails the whole statement (and the transaction)."""
    return copy_rows(model, names, rows)


def copy_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    table: str | None = None,
) -> int:
    """:func:`copy_insert` into ``table`` (default: the model's), e.g. a
    temporary table shaped like the model's."""
    fields = [_field(model, name) for name in names]
    stream = _LineStream(rows, [_copy_converter(f) for f in fields])
    copy_from(copy_sql(model, names, table=table), stream, chunk=1 << 16)
    return stream.count


class LineReader:
    """A read()-able file over an iterator of ready text lines (each ending
    in a newline), for :func:`copy_from`: COPY pulls the lines while they
    are generated."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._rest = ""

    def read(self, size: int = -1) -> str:
        parts, length = [self._rest], len(self._rest)
        for line in self._lines:
            parts.append(line)
            length += len(line)
            if 0 <= size <= length:
                break
        data = "".join(parts)
        if size < 0:
            self._rest = ""
            return data
        data, self._rest = data[:size], data[size:]
        return data

    readline = read


def history_created(rows: models.QuerySet, *, reason: str, when: datetime.datetime) -> int:
    """Write the "created" django-simple-history rows of ``rows`` with one
    ``INSERT … SELECT`` in the database: set-based inserts bypass the
    signals simple-history listens to, and its ``bulk_history_create``
    splits into batches on SQLite."""
    model = rows.model
    history = model.history.model
    qn = connection.ops.quote_name
    fields = model._meta.concrete_fields
    select_sql, params = (
        rows.order_by().values_list(*[f.attname for f in fields]).query.sql_with_params()
    )
    columns = [qn(f.column) for f in fields] + [
        qn("history_date"),
        qn("history_change_reason"),
        qn("history_type"),
        qn("history_user_id"),
    ]
    assert {f.column for f in history._meta.concrete_fields} == {  # noqa: S101 - schema guard
        f.column for f in fields
    } | {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}
    sql = (
        f"INSERT INTO {qn(history._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT s.*, %s, %s, '+', NULL FROM ({select_sql}) s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(when), reason, *params])
        return cursor.rowcount
