"""ImportRun is ``ingestion.ImportRun`` now (see ingestion 0001): only the
state forgets it here; the table ``partners_importrun`` and its rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0006_partner_list_order"),
        ("ingestion", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ImportRun")],
            database_operations=[],
        ),
    ]
