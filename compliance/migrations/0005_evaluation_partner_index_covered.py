"""The evaluation's partner index is covered by evaluation_partner_day
(partner, -as_of). Only the index is dropped: an AlterField would drop and
re-add the foreign key, checking every evaluation row while it locks the
table."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "compliance_evaluation_partner_id_36ba2255"


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0004_tighten_constraints"),
        ("partners", "0004_import_run"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="evaluation",
                    name="partner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="evaluations",
                        to="partners.partner",
                        verbose_name="partner",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    f"CREATE INDEX IF NOT EXISTS {INDEX} ON compliance_evaluation (partner_id)",
                ),
            ],
        ),
    ]
