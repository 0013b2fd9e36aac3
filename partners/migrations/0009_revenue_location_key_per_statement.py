"""Revenue's location key is checked once per statement, not once per row.

A foreign key checks each inserted row with a trigger of its own (one
lookup and one row lock in ``partners_location`` per line): for a Partner
Center file of a million lines, a million calls. This migration replaces
the database's foreign key by triggers that enforce the same rule set-based
(docs/decisions/0011-import-without-per-row-triggers.md):

- PostgreSQL: after each statement that inserts or updates revenue, one
  query over the statement's new rows (a transition table) locks their
  locations against deletion (``FOR KEY SHARE``, as the foreign key does)
  and refuses the statement if one of them is not stored; after each
  statement that deletes locations (or changes their id), one query
  refuses it if revenue still refers to one of them. Errors are
  ``foreign_key_violation`` (an ``IntegrityError``), as before; unlike the
  foreign key the check is not deferred to the commit (no code inserts
  revenue before its location).
- SQLite keeps its foreign key (deferred to the commit, as Django makes
  them: a flush deletes locations before revenue) and gets row triggers
  that refuse revenue of a location that is not stored at once, as on
  PostgreSQL. SQLite is not where a million lines are imported.

Safe on stored data: the foreign key held the rule until now, so every
stored row satisfies it; dropping the constraint rewrites nothing.
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRESQL = [
    """
    CREATE FUNCTION partners_revenue_location_present() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        missing bigint;
    BEGIN
        PERFORM 1 FROM partners_location l
         WHERE l.id IN (SELECT DISTINCT n.location_id FROM new_rows n)
         FOR KEY SHARE OF l;
        SELECT n.location_id INTO missing FROM new_rows n
         WHERE NOT EXISTS (SELECT 1 FROM partners_location l WHERE l.id = n.location_id)
         LIMIT 1;
        IF FOUND THEN
            RAISE foreign_key_violation USING MESSAGE = format(
                'insert or update on table "partners_revenuerecord" violates its location key: '
                'location %s is not present in table "partners_location"', missing);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER revenue_location_present_insert AFTER INSERT ON partners_revenuerecord
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partners_revenue_location_present()
    """,
    """
    CREATE TRIGGER revenue_location_present_update AFTER UPDATE ON partners_revenuerecord
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partners_revenue_location_present()
    """,
    """
    CREATE FUNCTION partners_location_revenue_absent() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        referenced bigint;
    BEGIN
        IF TG_OP = 'DELETE' THEN
            SELECT o.id INTO referenced FROM old_rows o
             WHERE EXISTS (SELECT 1 FROM partners_revenuerecord r WHERE r.location_id = o.id)
             LIMIT 1;
        ELSE
            SELECT o.id INTO referenced FROM old_rows o
             WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id)
               AND EXISTS (SELECT 1 FROM partners_revenuerecord r WHERE r.location_id = o.id)
             LIMIT 1;
        END IF;
        IF FOUND THEN
            RAISE foreign_key_violation USING MESSAGE = format(
                'update or delete on table "partners_location" violates the location key of '
                'table "partners_revenuerecord": location %s is still referenced', referenced);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER location_revenue_absent_delete AFTER DELETE ON partners_location
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partners_location_revenue_absent()
    """,
    """
    CREATE TRIGGER location_revenue_absent_update AFTER UPDATE ON partners_location
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partners_location_revenue_absent()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS revenue_location_present_insert ON partners_revenuerecord",
    "DROP TRIGGER IF EXISTS revenue_location_present_update ON partners_revenuerecord",
    "DROP FUNCTION IF EXISTS partners_revenue_location_present()",
    "DROP TRIGGER IF EXISTS location_revenue_absent_delete ON partners_location",
    "DROP TRIGGER IF EXISTS location_revenue_absent_update ON partners_location",
    "DROP FUNCTION IF EXISTS partners_location_revenue_absent()",
]

_ABSENT = "NOT EXISTS (SELECT 1 FROM partners_location WHERE id = NEW.location_id)"
_MISSING = "SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: revenue location is not present')"
SQLITE = [
    f"""
    CREATE TRIGGER revenue_location_present_insert BEFORE INSERT ON partners_revenuerecord
    WHEN {_ABSENT} BEGIN {_MISSING}; END
    """,  # noqa: S608 (constants only)
    f"""
    CREATE TRIGGER revenue_location_present_update
    BEFORE UPDATE OF location_id ON partners_revenuerecord
    WHEN {_ABSENT} BEGIN {_MISSING}; END
    """,  # noqa: S608 (constants only)
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS revenue_location_present_insert",
    "DROP TRIGGER IF EXISTS revenue_location_present_update",
]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)  # (the functions say %s)


FOREIGN_KEY = "partners_revenuerecord_location_id_fk_partners_location_id"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        model = apps.get_model("partners", "RevenueRecord")
        for name in schema_editor._constraint_names(model, ["location_id"], foreign_key=True):
            schema_editor.execute(schema_editor._delete_fk_sql(model, name))
    _run(schema_editor, {"postgresql": POSTGRESQL, "sqlite": SQLITE})


def backwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP})
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE partners_revenuerecord ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY"
            " (location_id) REFERENCES partners_location (id) DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0008_revenue_currency_iso_code"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="revenuerecord",
                    name="location",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="revenue",
                        to="partners.location",
                        verbose_name="location",
                    ),
                ),
            ],
            # PostgreSQL: the foreign key goes, the triggers come; SQLite
            # keeps its foreign key and gets the revenue triggers.
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
