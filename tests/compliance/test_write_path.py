"""How a run records its evaluations: a new day is streamed in with COPY
(PostgreSQL), a re-run or a run for some partners is upserted. Both ways
must store exactly the same rows, and two runs of one day must not clash."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from compliance.models import Evaluation, Policy
from compliance.services import ROW_FIELDS, evaluation_run
from core.bulk import copy_insert
from partners import services as ps
from partners.models import Partner
from tests.compliance.test_engine import _bulk_partners
from tests.concurrency import race

D = datetime.date
DAY = D(2025, 3, 3)
COMPARED = [f for f in ROW_FIELDS if f not in ("computed_at",)]

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
    return sorted(Evaluation.objects.filter(as_of=as_of).values_list(*COMPARED))


@pytest.mark.django_db
def test_a_rerun_of_the_day_writes_nothing_and_keeps_the_rows():
    evaluation_data()
    first = evaluation_run(as_of=DAY)
    stored = _rows(DAY)
    assert first.rows_written == len(first.outputs) == len(stored) > 40
    assert evaluation_run(as_of=DAY).rows_written == 0
    assert _rows(DAY) == stored


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db
def test_copy_and_upsert_store_the_same_rows():
    evaluation_data()
    evaluation_run(as_of=DAY)  # a new day: COPY
    copied = _rows(DAY)
    assert any(row[COMPARED.index("status")] == "error" for row in copied)
    Evaluation.objects.filter(as_of=DAY).delete()
    every_partner = set(Partner.objects.values_list("pk", flat=True))
    summary = evaluation_run(as_of=DAY, partner_pks=every_partner)  # upsert
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
        "partner", "7000001", partner.pk, None, policy.pk, "compliance", DAY, "error",
        None, Decimal("300000.00"), Decimal("-0.000001"), {"revenue": False, 'q"uote': True},
        ["revenue"], None, None, None, None, None, None, None, "", awkward, awkward, "",
        timezone.now(),
    )  # fmt: skip
    with transaction.atomic():
        assert copy_insert(Evaluation, ROW_FIELDS, [row]) == 1
    stored = Evaluation.objects.get(subject_id="7000001")
    assert stored.error == stored.explanation == awkward
    assert stored.explanation_de == ""
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
    # The first writes every row (COPY); the second waits, then finds them.
    assert sorted(results) == [0, total]
