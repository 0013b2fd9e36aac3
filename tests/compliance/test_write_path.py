"""How a run records its findings as periods (compliance.history): many new
periods are streamed in with COPY (PostgreSQL), a few are inserted in bulk;
both ways must store exactly the same rows, and two runs of one day must not
clash."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from compliance import history
from compliance.models import EvaluatedDay, Evaluation, EvaluationPeriod, Policy
from compliance.services import evaluation_run
from core.bulk import copy_insert
from partners import services as ps
from tests.compliance.test_engine import _bulk_partners
from tests.concurrency import race

D = datetime.date
DAY = D(2025, 3, 3)
#: what the per-day history shows of a row (the view), derived words included
COMPARED = [
    "subject_type", "subject_id", "partner_id", "location_id", "policy_id", "purpose", "as_of",
    "status", "ttm_revenue_usd", "threshold_usd", "shortfall_usd", "requirements", "unmet",
    "deadline", "days_to_deadline", "secured_usd", "rolling_off_usd", "needed_usd",
    "pace_total_usd", "pace_days", "outlook", "error",
]  # fmt: skip

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL): COPY path"
)


def evaluation_data(n: int = 40) -> None:
    """``n`` partners (every fifth direct-bill) with a location and revenue in
    USD and EUR."""
    for m in range(1, 12):  # December's EUR rate missing: some errors too
        ps.exchange_rate_set(currency="EUR", month=D(2024, m, 1), usd_per_unit=Decimal("1.1"))
    _bulk_partners(n, 4_000_000)


def _rows(as_of: datetime.date) -> list[tuple]:
    rows = Evaluation.objects.filter(as_of=as_of)
    return sorted(
        (*values, e.explanation, e.explanation_de, e.projected_usd)
        for values, e in zip(rows.values_list(*COMPARED), rows, strict=True)
    )


@pytest.mark.django_db
def test_a_rerun_of_the_day_writes_nothing_and_keeps_the_rows():
    evaluation_data()
    first = evaluation_run(as_of=DAY)
    stored = _rows(DAY)
    assert first.rows_written == len(first.outputs) == len(stored) > 40
    assert EvaluationPeriod.objects.count() == len(stored)
    assert evaluation_run(as_of=DAY).rows_written == 0
    assert _rows(DAY) == stored


@pytest.mark.django_db
def test_the_next_night_with_nothing_changed_but_the_date_writes_nothing():
    evaluation_data()
    first = evaluation_run(as_of=DAY)
    second = evaluation_run(as_of=DAY + datetime.timedelta(days=1))
    assert first.rows_written > 40 and second.rows_written == 0
    assert Evaluation.objects.filter(as_of=DAY + datetime.timedelta(days=1)).count() == len(
        first.outputs
    )
    # the days to the deadline move with the date
    before = {e.period_id: e.days_to_deadline for e in Evaluation.objects.filter(as_of=DAY)}
    after = Evaluation.objects.filter(as_of=DAY + datetime.timedelta(days=1))
    assert all(
        e.days_to_deadline == before[e.period_id] - 1 for e in after if e.deadline is not None
    )


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db
def test_copy_and_bulk_insert_store_the_same_rows(monkeypatch):
    evaluation_data()
    monkeypatch.setattr(history, "COPY_AT", 1)
    evaluation_run(as_of=DAY)  # COPY
    copied = _rows(DAY)
    assert any(row[COMPARED.index("status")] == "error" for row in copied)
    EvaluationPeriod.objects.all().delete()
    EvaluatedDay.objects.all().delete()
    monkeypatch.setattr(history, "COPY_AT", 10**9)
    summary = evaluation_run(as_of=DAY)  # bulk insert
    assert summary.rows_written == len(copied)
    assert _rows(DAY) == copied


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db
def test_copy_escapes_text_and_json():
    partner = ps.partner_create(
        partner_id="7000001", name="P", country="DE", onboarded_on=D(2021, 3, 15)
    )
    policy = Policy.objects.order_by("pk").first()
    awkward = "tab\there\nnew line\\back slash\r; «Umlaute» äöü; \\N"
    row = (
        "partner", "7000001", policy.pk, "compliance", partner.pk, None, "error",
        None, Decimal("300000.00"), Decimal("-0.000001"), {"revenue": False, 'q"uote': True},
        ["revenue"], None, None, None, None, None, None, "", awkward, None, awkward, "",
        DAY, None, timezone.now(),
    )  # fmt: skip
    with transaction.atomic():
        assert copy_insert(EvaluationPeriod, history.ROW, [row]) == 1
    EvaluatedDay.objects.create(as_of=DAY, computed_at=timezone.now())
    stored = Evaluation.objects.get(subject_id="7000001")
    assert stored.error == stored.explanation == awkward
    assert stored.explanation_de == awkward  # converted history: its recorded words
    # (German missing: the English ones)
    assert stored.ttm_revenue_usd is None and stored.deadline is None
    assert stored.shortfall_usd == Decimal("-0.000001")
    assert stored.requirements == {"revenue": False, 'q"uote': True}
    assert stored.unmet == ["revenue"]


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_a_new_day_at_once_do_not_clash(reference_data):
    evaluation_data(30)
    results = race(2, lambda: evaluation_run(as_of=DAY).rows_written)
    total = Evaluation.objects.filter(as_of=DAY).count()
    # The first writes every row; the second waits, then finds them unchanged.
    assert sorted(results) == [0, total]
    assert EvaluationPeriod.objects.count() == total
