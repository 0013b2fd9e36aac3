"""Policies get a German name (``Policy.name_de``), shown on German pages and
in German emails; the three shipped policies of 0002 get theirs. Staff edit
it in the admin; this only fills names that are still empty."""

from django.db import migrations, models

GERMAN_NAMES = {
    "csp-direct-2021": "CSP-Anforderungen für die Direktabrechnung (2021)",
    "csp-direct-fy26": "CSP-Anforderungen für die Direktabrechnung (GJ26)",
    "csp-indirect-reseller-2024": "CSP-Umsatzanforderung für indirekte Reseller (2024)",
}


def fill_german_names(apps, schema_editor):
    Policy = apps.get_model("compliance", "Policy")
    for code, name_de in GERMAN_NAMES.items():
        Policy.objects.filter(code=code, name_de="").update(name_de=name_de)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0007_data_version")]

    operations = [
        migrations.AddField(
            model_name="policy",
            name="name_de",
            field=models.CharField(
                blank=True,
                help_text="Shown on German pages and in German emails; empty: the name above.",
                max_length=200,
                verbose_name="name (German)",
            ),
        ),
        migrations.AddField(
            model_name="historicalpolicy",
            name="name_de",
            field=models.CharField(
                blank=True,
                help_text="Shown on German pages and in German emails; empty: the name above.",
                max_length=200,
                verbose_name="name (German)",
            ),
        ),
        migrations.RunPython(fill_german_names, migrations.RunPython.noop),
    ]
