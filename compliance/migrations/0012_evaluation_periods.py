"""Evaluation history as periods of unchanged findings (docs/decisions/0014).

The day rows of ``compliance_evaluation`` become ``EvaluationPeriod`` rows:
consecutive evaluated days of a (subject, policy, purpose) with the same
findings - and the same recorded words, which converted history keeps - make
one period; a day the subject was not evaluated ends it. Every evaluated day
becomes an ``EvaluatedDay``. ``compliance_evaluation`` is then a view that
answers per day exactly as the table did.
"""

import datetime
import json
from decimal import ROUND_HALF_UP, Decimal

import django.db.models.deletion
from django.db import migrations, models

VIEW_DAYNO = {
    "postgresql": "(d.as_of - DATE '2000-01-01')",
    "sqlite": "CAST(julianday(d.as_of) - julianday('2000-01-01') AS INTEGER)",
}
VIEW_DAYS = {
    "postgresql": "(p.deadline - d.as_of)",
    "sqlite": "CAST(julianday(p.deadline) - julianday(d.as_of) AS INTEGER)",
}
FINDINGS = (
    "subject_type",
    "subject_id",
    "purpose",
    "status",
    "ttm_revenue_usd",
    "threshold_usd",
    "shortfall_usd",
    "requirements",
    "unmet",
    "deadline",
    "secured_usd",
    "rolling_off_usd",
    "needed_usd",
    "pace_total_usd",
    "pace_days",
    "outlook",
    "error",
    "why",
    "legacy_explanation",
    "legacy_explanation_de",
    "computed_at",
)


def view_sql(vendor):
    """The per-day view: every period on every evaluated day it covers (a
    full day, or a day evaluated for its partner alone)."""
    columns = ", ".join(f"p.{c}" for c in FINDINGS)
    return (
        "CREATE VIEW compliance_evaluation AS SELECT "
        f"p.id * 100000 + {VIEW_DAYNO[vendor]} AS id, p.id AS period_id, "
        f"p.partner_id, p.location_id, p.policy_id, {columns}, d.as_of, "
        f"{VIEW_DAYS[vendor]} AS days_to_deadline, p.valid_from, p.valid_to "
        "FROM compliance_evaluationperiod p JOIN compliance_evaluatedday d "
        "ON d.as_of >= p.valid_from AND (p.valid_to IS NULL OR d.as_of < p.valid_to) "
        "AND (d.partner_id IS NULL OR d.partner_id = p.partner_id)"
    )


def _pace_days(as_of):
    """Days of the three complete calendar months before ``as_of``'s month."""
    first = as_of.replace(day=1)
    year, month = first.year, first.month - 3
    if month < 1:
        year, month = year - 1, month + 12
    return (first - datetime.date(year, month, 1)).days


OLD = (
    "subject_type, subject_id, partner_id, location_id, policy_id, purpose, as_of, status, "
    "ttm_revenue_usd, threshold_usd, shortfall_usd, requirements, unmet, deadline, "
    "secured_usd, rolling_off_usd, needed_usd, pace_usd, outlook, error, explanation, "
    "explanation_de, computed_at"
)
NEW = (
    "subject_type, subject_id, partner_id, location_id, policy_id, purpose, valid_from, "
    "valid_to, status, ttm_revenue_usd, threshold_usd, shortfall_usd, requirements, unmet, "
    "deadline, secured_usd, rolling_off_usd, needed_usd, pace_total_usd, pace_days, outlook, "
    "error, why, legacy_explanation, legacy_explanation_de, computed_at"
)


def convert_day_rows(apps, schema_editor):
    connection = schema_editor.connection
    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT as_of FROM compliance_evaluation ORDER BY as_of")
        days = [
            d if isinstance(d, datetime.date) else datetime.date.fromisoformat(d)
            for (d,) in cursor.fetchall()
        ]
    rank = {d: i for i, d in enumerate(days)}
    next_day = {d: days[i + 1] if i + 1 < len(days) else None for i, d in enumerate(days)}
    batch = []

    def flush():
        if not batch:
            return
        with connection.cursor() as out:
            placeholders = ", ".join(["%s"] * 26)
            out.executemany(
                f"INSERT INTO compliance_evaluationperiod ({NEW}) VALUES ({placeholders})",
                batch,
            )
        batch.clear()

    def emit(period, start, last):
        # valid until the next evaluated day after the island's last day: the
        # days in between were not evaluated, so the view never shows them
        until = next_day[last]
        batch.append((*period[:6], start, until, *period[6:]))
        if len(batch) >= 5000:
            flush()

    reader = connection.chunked_cursor() if vendor == "postgresql" else connection.cursor()
    with reader as cursor:
        cursor.execute(
            f"SELECT {OLD} FROM compliance_evaluation "
            "ORDER BY subject_type, subject_id, policy_id, purpose, as_of"
        )
        current = start = last = None
        while True:
            rows = cursor.fetchmany(2000)
            if not rows:
                break
            for row in rows:
                (
                    st,
                    sid,
                    partner,
                    location,
                    policy,
                    purpose,
                    as_of,
                    status,
                    ttm,
                    threshold,
                    shortfall,
                    requirements,
                    unmet,
                    deadline,
                    secured,
                    rolling,
                    needed,
                    pace,
                    outlook,
                    error,
                    text,
                    text_de,
                    computed_at,
                ) = row
                if not isinstance(as_of, datetime.date):
                    as_of = datetime.date.fromisoformat(as_of)
                pace_days = total = None
                if pace is not None:
                    pace_days = _pace_days(as_of)
                    total = (Decimal(str(pace)) * pace_days).quantize(
                        Decimal("0.00000001"), rounding=ROUND_HALF_UP
                    )
                # JSON comes back as text (Django's loader on PostgreSQL,
                # SQLite's column); a decoded value is written as text again
                if not isinstance(requirements, str):
                    requirements = json.dumps(requirements)
                if not isinstance(unmet, str):
                    unmet = json.dumps(unmet)
                period = (
                    st,
                    sid,
                    partner,
                    location,
                    policy,
                    purpose,
                    status,
                    ttm,
                    threshold,
                    shortfall,
                    requirements,
                    unmet,
                    deadline,
                    secured,
                    rolling,
                    needed,
                    total,
                    pace_days,
                    outlook,
                    error,
                    None,
                    text,
                    text_de,
                    computed_at,
                )
                same_key = current is not None and current[:6] == period[:6]
                if same_key and rank[as_of] == rank[last] + 1 and current[6:23] == period[6:23]:
                    last = as_of
                    continue
                if current is not None:
                    emit(current, start, last)
                current, start, last = period, as_of, as_of
        if current is not None:
            emit(current, start, last)
    flush()
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO compliance_evaluatedday (as_of, partner_id, computed_at) "
            "VALUES (%s, NULL, %s)",
            [(d, datetime.datetime.now(datetime.UTC)) for d in days],
        )


def create_view(apps, schema_editor):
    schema_editor.execute(view_sql(schema_editor.connection.vendor))


def drop_view(apps, schema_editor):
    schema_editor.execute("DROP VIEW IF EXISTS compliance_evaluation")


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0011_policy_draft"),
        ("partners", "0009_revenue_location_key_per_statement"),
    ]

    operations = [
        migrations.CreateModel(
            name="EvaluatedDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("as_of", models.DateField(verbose_name="as of")),
                ("computed_at", models.DateTimeField(verbose_name="computed at")),
                (
                    "partner",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="evaluated_days",
                        to="partners.partner",
                        verbose_name="partner",
                    ),
                ),
            ],
            options={
                "verbose_name": "evaluated day",
                "verbose_name_plural": "evaluated days",
                "ordering": ["-as_of"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("partner__isnull", True)),
                        fields=("as_of",),
                        name="evaluatedday_one_full",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("partner__isnull", False)),
                        fields=("as_of", "partner"),
                        name="evaluatedday_one_partial",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="EvaluationPeriod",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "subject_type",
                    models.CharField(
                        choices=[("partner", "Partner"), ("location", "Location")],
                        max_length=10,
                        verbose_name="subject type",
                    ),
                ),
                (
                    "subject_id",
                    models.CharField(
                        help_text="Partner id or location id.",
                        max_length=20,
                        verbose_name="subject id",
                    ),
                ),
                (
                    "purpose",
                    models.CharField(
                        choices=[
                            ("compliance", "Compliance status"),
                            ("direct_bill_ready", "Direct-bill readiness (read-only)"),
                        ],
                        default="compliance",
                        max_length=20,
                        verbose_name="purpose",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("compliant", "Compliant"),
                            ("at_risk", "At risk"),
                            ("non_compliant", "Non-compliant"),
                            ("not_applicable", "Not applicable"),
                            ("error", "Error"),
                        ],
                        max_length=20,
                        verbose_name="status",
                    ),
                ),
                (
                    "ttm_revenue_usd",
                    models.DecimalField(
                        blank=True,
                        decimal_places=8,
                        max_digits=24,
                        null=True,
                        verbose_name="TTM revenue (USD)",
                    ),
                ),
                (
                    "threshold_usd",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        max_digits=16,
                        null=True,
                        verbose_name="threshold (USD)",
                    ),
                ),
                (
                    "shortfall_usd",
                    models.DecimalField(
                        blank=True,
                        decimal_places=8,
                        max_digits=24,
                        null=True,
                        verbose_name="shortfall (USD)",
                    ),
                ),
                ("requirements", models.JSONField(default=dict, verbose_name="requirements met")),
                ("unmet", models.JSONField(default=list, verbose_name="unmet requirements")),
                ("deadline", models.DateField(blank=True, null=True, verbose_name="deadline")),
                (
                    "secured_usd",
                    models.DecimalField(
                        blank=True,
                        decimal_places=8,
                        max_digits=24,
                        null=True,
                        verbose_name="secured for the deadline (USD)",
                    ),
                ),
                (
                    "rolling_off_usd",
                    models.DecimalField(
                        blank=True,
                        decimal_places=8,
                        max_digits=24,
                        null=True,
                        verbose_name="rolling off before the deadline (USD)",
                    ),
                ),
                (
                    "needed_usd",
                    models.DecimalField(
                        blank=True,
                        decimal_places=8,
                        max_digits=24,
                        null=True,
                        verbose_name="still needed (USD)",
                    ),
                ),
                (
                    "pace_total_usd",
                    models.DecimalField(
                        blank=True,
                        decimal_places=8,
                        max_digits=24,
                        null=True,
                        verbose_name="revenue of the pace months (USD)",
                    ),
                ),
                (
                    "pace_days",
                    models.SmallIntegerField(
                        blank=True, null=True, verbose_name="days of the pace months"
                    ),
                ),
                (
                    "outlook",
                    models.CharField(
                        blank=True,
                        choices=[("met", "Met"), ("on_track", "On track"), ("short", "Short")],
                        max_length=10,
                        verbose_name="outlook",
                    ),
                ),
                ("error", models.TextField(blank=True, verbose_name="error")),
                ("why", models.JSONField(blank=True, null=True, verbose_name="reasons")),
                (
                    "legacy_explanation",
                    models.TextField(blank=True, verbose_name="explanation (recorded)"),
                ),
                (
                    "legacy_explanation_de",
                    models.TextField(blank=True, verbose_name="explanation (recorded, German)"),
                ),
                ("computed_at", models.DateTimeField(verbose_name="computed at")),
                ("valid_from", models.DateField(verbose_name="valid from")),
                (
                    "valid_to",
                    models.DateField(
                        blank=True,
                        help_text="Empty: still valid.",
                        null=True,
                        verbose_name="valid until (exclusive)",
                    ),
                ),
                (
                    "location",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="evaluation_periods",
                        to="partners.location",
                        verbose_name="location",
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="evaluation_periods",
                        to="partners.partner",
                        verbose_name="partner",
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="evaluation_periods",
                        to="compliance.policy",
                        verbose_name="policy",
                    ),
                ),
            ],
            options={
                "verbose_name": "evaluation period",
                "verbose_name_plural": "evaluation periods",
                "ordering": ["subject_type", "subject_id", "policy_id", "purpose", "valid_from"],
                "indexes": [
                    models.Index(fields=["partner", "valid_from"], name="evaluationperiod_partner"),
                    models.Index(fields=["valid_to", "valid_from"], name="evaluationperiod_until"),
                    models.Index(
                        condition=models.Q(("valid_to__isnull", True)),
                        fields=["partner"],
                        name="evaluationperiod_open_partner",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("subject_type", "subject_id", "policy", "purpose", "valid_from"),
                        name="evaluationperiod_one_start",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("valid_to__isnull", True)),
                        fields=("subject_type", "subject_id", "policy", "purpose"),
                        name="evaluationperiod_one_open",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("valid_to__isnull", True),
                            ("valid_to__gt", models.F("valid_from")),
                            _connector="OR",
                        ),
                        name="evaluationperiod_not_empty",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("location__isnull", True), ("subject_type", "partner")),
                            models.Q(("location__isnull", False), ("subject_type", "location")),
                            _connector="OR",
                        ),
                        name="evaluationperiod_location_matches_subject_type",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "status__in",
                                [
                                    "compliant",
                                    "at_risk",
                                    "non_compliant",
                                    "not_applicable",
                                    "error",
                                ],
                            )
                        ),
                        name="evaluationperiod_status_valid",
                    ),
                ],
            },
        ),
        migrations.RunPython(convert_day_rows, migrations.RunPython.noop, elidable=False),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL("DROP TABLE compliance_evaluation")],
            state_operations=[migrations.DeleteModel(name="Evaluation")],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create_view, drop_view)],
            state_operations=[
                migrations.CreateModel(
                    name="Evaluation",
                    fields=[],
                    options={
                        "managed": False,
                        "db_table": "compliance_evaluation",
                        "ordering": ["-as_of", "subject_type", "subject_id", "policy_id"],
                        "verbose_name": "evaluation",
                        "verbose_name_plural": "evaluations",
                    },
                ),
            ],
        ),
    ]
