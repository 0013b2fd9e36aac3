"""Migration ``compliance 0012`` turns day rows into periods that answer
alike: the 60-night scenario's history is written back in the one-row-per-day
table it replaces (its figures, its derived days, pace, projection and words),
converted by the migration's own function, and read through the per-day view
again - every field of every row must come back, from fewer rows."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from compliance.models import EvaluatedDay, Evaluation, EvaluationPeriod
from tests.compliance import equivalence_scenario as scenario

migration = importlib.import_module("compliance.migrations.0012_evaluation_periods")

#: what a day row kept, as the per-day view still shows it
FIELDS = (
    "subject_type", "subject_id", "partner_id", "location_id", "policy_id", "purpose", "as_of",
    "status", "ttm_revenue_usd", "threshold_usd", "shortfall_usd", "requirements", "unmet",
    "deadline", "days_to_deadline", "secured_usd", "rolling_off_usd", "needed_usd", "pace_usd",
    "projected_usd", "outlook", "error", "explanation", "explanation_de",
)  # fmt: skip


def _day_rows() -> list[tuple]:
    return sorted(
        (*(getattr(e, name) for name in FIELDS), e.computed_at) for e in Evaluation.objects.all()
    )


@pytest.mark.django_db(transaction=True)
def test_day_rows_convert_to_periods_that_answer_alike(reference_data):
    scenario.build_portfolio()
    scenario.run_nights(scenario.START)
    before = _day_rows()
    periods_now = EvaluationPeriod.objects.count()
    old_apps = (
        MigrationExecutor(connection).loader.project_state(("compliance", "0011_policy_draft")).apps
    )
    day_row = old_apps.get_model("compliance", "Evaluation")
    try:
        with connection.schema_editor() as editor:
            editor.execute("DROP VIEW compliance_evaluation")
            editor.create_model(day_row)
        day_row.objects.bulk_create(
            [day_row(**dict(zip((*FIELDS, "computed_at"), row, strict=True))) for row in before]
        )
        EvaluationPeriod.objects.all()._raw_delete(EvaluationPeriod.objects.db)
        EvaluatedDay.objects.all().delete()
        with connection.schema_editor() as editor:
            migration.convert_day_rows(old_apps, editor)
            editor.execute("DROP TABLE compliance_evaluation")
            migration.create_view(old_apps, editor)
    finally:
        with connection.cursor() as cursor:
            names = connection.introspection.table_names(cursor, include_views=True)
        if "compliance_evaluation" not in names:
            with connection.schema_editor() as editor:
                migration.create_view(old_apps, editor)
    after = _day_rows()
    assert len(after) == len(before) == 1473
    mismatches = [
        (b[:7], name, x, y)
        for b, a in zip(before, after, strict=True)
        for name, x, y in zip((*FIELDS, "computed_at"), b, a, strict=True)
        if x != y
    ]
    assert not mismatches, mismatches[:5]
    converted = EvaluationPeriod.objects.count()
    # converted periods keep the recorded words, which name the days left:
    # fewer rows than days, more than a history written as periods
    assert periods_now < converted < len(before)
    assert not EvaluationPeriod.objects.filter(why__isnull=False).exists()
    print(f"{len(before)} day rows -> {converted} periods (written as periods: {periods_now})")
