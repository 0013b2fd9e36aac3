"""Revenue keeps its currency as a checked ISO 4217 code, not by a foreign key.

The foreign key's per-row trigger (one lookup and one row lock in
``partners_currency`` per inserted line) was the dearest single step of a
Partner Center import; a check constraint on the code costs next to nothing
per row (PostgreSQL hashes the list once per statement). See
docs/decisions/0011-import-without-per-row-triggers.md.

Safe on stored data: dropping the foreign key changes no row and rewrites
nothing on PostgreSQL; before the check is added, ``refuse_unknown_codes``
looks for stored codes outside the list (possible only for a code someone
added to the currency table in the admin) and stops the migration naming
them, instead of failing on the constraint halfway. The check then reads
the table once (about a second per few million rows, under the lock the
migration holds anyway).
"""

import django.db.models.deletion
from django.db import migrations, models

#: ``partners.currencies.ISO_CODES`` when this migration was written.
ISO_CODES = (  # noqa: SIM905 (eight lines of codes, not 155)
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB "
    "EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK "
    "JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA "
    "MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK "
    "PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST "
    "XAF XCD XOF XPF YER ZAR ZMW ZWG"
).split()


def refuse_unknown_codes(apps, schema_editor):
    RevenueRecord = apps.get_model("partners", "RevenueRecord")
    unknown = sorted(
        RevenueRecord.objects.exclude(currency_id__in=ISO_CODES)
        .values_list("currency_id", flat=True)
        .distinct()
    )
    if unknown:
        raise RuntimeError(
            "revenue is stored in currencies that are not ISO 4217 codes: "
            f"{', '.join(unknown)}. Add them to partners/currencies.py (and to ISO_CODES "
            "in this migration) or correct those records, then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0007_importrun_to_ingestion"),
    ]

    operations = [
        migrations.RunPython(refuse_unknown_codes, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="revenuerecord",
            name="currency",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.currency",
                verbose_name="currency",
            ),
        ),
        migrations.AddConstraint(
            model_name="revenuerecord",
            constraint=models.CheckConstraint(
                condition=models.Q(currency__in=ISO_CODES), name="revenue_currency_iso4217"
            ),
        ),
    ]
