"""Revenue records lose the single-column indexes of their foreign keys.

``location_id`` leads both composite indexes (``revenue_location_date`` and
the unique reference), and no query looks revenue up by currency, so the
three indexes Django made for the foreign keys (on PostgreSQL also a
``varchar_pattern_ops`` twin for the currency) only cost time on every
imported line. See docs/decisions/0004-revenue-import-on-postgresql.md.

Only the indexes are dropped: Django's own AlterField would also drop and
re-create (and so re-validate) both foreign keys, which on a table of
millions of rows holds a lock for minutes for nothing.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "partners_revenuerecord"
#: index -> (column, only on PostgreSQL, extra clause)
INDEXES = {
    "partners_revenuerecord_location_id_0934abed": ("location_id", False, ""),
    "partners_revenuerecord_currency_id_412656e4": ("currency_id", False, ""),
    "partners_revenuerecord_currency_id_412656e4_like": (
        "currency_id",
        True,
        " varchar_pattern_ops",
    ),
}


def drop_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for name, (_, postgres_only, _) in INDEXES.items():
        if postgres_only and schema_editor.connection.vendor != "postgresql":
            continue
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for name, (column, postgres_only, opclass) in INDEXES.items():
        if postgres_only and schema_editor.connection.vendor != "postgresql":
            continue
        schema_editor.execute(
            f"CREATE INDEX {quote(name)} ON {quote(TABLE)} ({quote(column)}{opclass})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0004_import_run"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="revenuerecord",
                    name="currency",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="partners.currency",
                        verbose_name="currency",
                    ),
                ),
                migrations.AlterField(
                    model_name="revenuerecord",
                    name="location",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="revenue",
                        to="partners.location",
                        verbose_name="location",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
