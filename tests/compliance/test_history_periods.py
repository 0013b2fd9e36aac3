"""The history's rules for each order of runs (compliance.history,
docs/decisions/0014): what a run of a day writes, and what the per-day view
then shows for every day."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from compliance.models import EvaluatedDay, Evaluation, EvaluationPeriod
from compliance.services import evaluation_run
from partners import services as ps
from tests.compliance.test_engine import example1 as _example1

example1 = pytest.fixture(_example1.__wrapped__, name="example1")

pytestmark = pytest.mark.django_db

D = datetime.date
ONE = datetime.timedelta(days=1)
DAYS = [D(2022, 8, 1) + ONE * i for i in range(6)]


def _ttm(day: datetime.date) -> dict[str, Decimal | None]:
    return {
        e.subject_type: e.ttm_revenue_usd
        for e in Evaluation.objects.filter(as_of=day, purpose="compliance")
    }


def _more_revenue(location):
    ps.revenue_record_create(
        location=location, revenue_date=D(2022, 7, 31), amount=Decimal("12000"), currency="USD",
        reference="MORE",
    )  # fmt: skip


def test_nights_without_change_add_days_not_rows(example1):
    for day in DAYS:
        evaluation_run(as_of=day)
    assert EvaluationPeriod.objects.count() == 1
    assert EvaluatedDay.objects.count() == len(DAYS)
    rows = list(Evaluation.objects.order_by("as_of"))
    assert [e.as_of for e in rows] == DAYS
    # what only the calendar changes is derived for each day
    assert [e.days_to_deadline for e in rows] == [31, 30, 29, 28, 27, 26]
    assert "deadline 2022-09-01 (31 days)" in rows[0].explanation
    assert "(26 days)" in rows[-1].explanation and "(26 Tage)" in rows[-1].explanation_de


def test_a_change_closes_the_period_and_opens_the_next(example1):
    _partner, location, _ = example1
    evaluation_run(as_of=DAYS[0])
    evaluation_run(as_of=DAYS[1])
    _more_revenue(location)
    summary = evaluation_run(as_of=DAYS[2])
    assert summary.rows_written == 2  # one closed, one inserted
    first, second = EvaluationPeriod.objects.order_by("valid_from")
    assert (first.valid_from, first.valid_to) == (DAYS[0], DAYS[2])
    assert (second.valid_from, second.valid_to) == (DAYS[2], None)
    assert _ttm(DAYS[1]) == {"partner": Decimal("288000.00000000")}
    assert _ttm(DAYS[2]) == {"partner": Decimal("300000.00000000")}


def test_a_rerun_of_a_past_day_changes_that_day_only(example1):
    _partner, location, _ = example1
    for day in DAYS[:4]:
        evaluation_run(as_of=day)
    _more_revenue(location)
    evaluation_run(as_of=DAYS[1])  # the past, with today's data: as a day row did
    assert _ttm(DAYS[0])["partner"] == _ttm(DAYS[2])["partner"] == Decimal("288000.00000000")
    assert _ttm(DAYS[1])["partner"] == Decimal("300000.00000000")
    assert [
        (p.valid_from, p.valid_to) for p in EvaluationPeriod.objects.order_by("valid_from")
    ] == [
        (DAYS[0], DAYS[1]),
        (DAYS[1], DAYS[2]),
        (DAYS[2], None),  # the old findings carry on
    ]
    # the next night sees the new revenue like any night
    evaluation_run(as_of=DAYS[4])
    assert _ttm(DAYS[3])["partner"] == Decimal("288000.00000000")
    assert _ttm(DAYS[4])["partner"] == Decimal("300000.00000000")


def test_a_rerun_of_the_day_replaces_its_period_in_place(example1):
    _partner, location, _ = example1
    evaluation_run(as_of=DAYS[0])
    evaluation_run(as_of=DAYS[1])
    before = Evaluation.objects.get(as_of=DAYS[1])
    _more_revenue(location)
    evaluation_run(as_of=DAYS[1])
    evaluation_run(as_of=DAYS[1])  # and once more: nothing to do
    after = Evaluation.objects.get(as_of=DAYS[1])
    assert after.ttm_revenue_usd == before.ttm_revenue_usd + 12000
    assert EvaluationPeriod.objects.count() == 2
    assert Evaluation.objects.filter(as_of=DAYS[1]).count() == 1


def test_missed_nights_stay_missing_until_caught_up(example1):
    evaluation_run(as_of=DAYS[0])
    evaluation_run(as_of=DAYS[3])
    assert list(Evaluation.objects.values_list("as_of", flat=True).order_by("as_of")) == [
        DAYS[0],
        DAYS[3],
    ]
    assert not Evaluation.objects.filter(as_of=DAYS[1]).exists()
    for day in DAYS[1:3]:  # catch up
        evaluation_run(as_of=day)
    assert list(Evaluation.objects.values_list("as_of", flat=True).order_by("as_of")) == DAYS[:4]
    assert EvaluationPeriod.objects.count() == 1


def test_a_write_on_a_day_without_a_full_run_shows_that_partner_only(example1):
    partner, location, _ = example1
    other = ps.partner_create(
        partner_id="1000002", name="Other", country="DE", onboarded_on=D(2021, 3, 15)
    )
    evaluation_run(as_of=DAYS[0])
    _more_revenue(location)
    evaluation_run(as_of=DAYS[1], partner_pks={partner.pk}, decide=False)
    assert set(Evaluation.objects.filter(as_of=DAYS[1]).values_list("partner_id", flat=True)) == {
        partner.pk
    }
    evaluation_run(as_of=DAYS[1])  # the nightly of that day
    assert set(Evaluation.objects.filter(as_of=DAYS[1]).values_list("partner_id", flat=True)) == {
        partner.pk,
        other.pk,
    }
    assert not EvaluatedDay.objects.filter(partner__isnull=False).exists()
    assert Evaluation.objects.filter(as_of=DAYS[1], partner=partner).count() == 1


def test_one_open_period_per_subject(example1):
    evaluation_run(as_of=DAYS[0])
    period = EvaluationPeriod.objects.get()
    period.pk = None
    period.valid_from = DAYS[1]
    with pytest.raises(IntegrityError), transaction.atomic():
        period.save()
