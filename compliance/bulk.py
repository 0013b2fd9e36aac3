"""One-statement bulk upsert for PostgreSQL and SQLite.

Rows travel as a single JSON parameter and are unpacked by the database
(``json_to_recordset`` / ``json_each``), so writing 5 or 500,000 rows is one
query. Rows whose values did not change are not touched at all (the update is
guarded by ``IS DISTINCT FROM``), which makes re-running a day a true no-op.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, models


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


def _pg_type(field: models.Field) -> str:
    return field.db_type(connection)


def upsert(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    touch_fields: Sequence[str] = (),
) -> int:
    """Insert ``rows`` (dicts keyed by field name or attname) or update the
    row with the same ``unique_fields``. ``update_fields`` are compared and
    updated; ``touch_fields`` (e.g. a timestamp) are only written along with
    a real change. Without ``update_fields`` existing rows are left alone
    (insert-if-missing). Returns the number of rows inserted or changed."""
    if not rows:
        return 0
    meta = model._meta
    names = list(rows[0].keys())
    fields = [meta.get_field(name) for name in names]
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

    action = f"DO UPDATE SET {set_clause} WHERE {guard}" if compared else "DO NOTHING"
    sql = (
        f"INSERT INTO {qn(table)} ({target}) SELECT {select} FROM {source} WHERE true "
        f"ON CONFLICT ({conflict}) {action}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        return cursor.rowcount
