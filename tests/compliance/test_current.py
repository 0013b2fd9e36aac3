"""PartnerCurrent: each partner points at its latest run with the worst
compliance status of that run - what lists and dashboards join instead of
searching the evaluation history."""

import datetime
import importlib

import pytest

from compliance.models import Evaluation, PartnerCurrent, Purpose
from compliance.selectors import (
    DISPLAY_RANKS,
    OUTLOOK_RANKS,
    current_evaluations,
    partners_with_worst_status,
)
from compliance.services import evaluation_run
from partners.models import Partner
from tests.compliance.test_write_path import evaluation_data
from tests.factories import StaffUserFactory
from tests.portal.outlook_data import AS_OF as OUTLOOK_AS_OF
from tests.portal.outlook_data import outlook_world

D = datetime.date
DAY = D(2025, 3, 3)
pytestmark = pytest.mark.django_db


def _expected(as_of: datetime.date) -> dict[int, int | None]:
    """partner pk -> worst display rank of its compliance rows of ``as_of``."""
    worst: dict[int, int | None] = {}
    for partner_pk, purpose, status in Evaluation.objects.filter(as_of=as_of).values_list(
        "partner_id", "purpose", "status"
    ):
        rank = DISPLAY_RANKS[status] if purpose == Purpose.COMPLIANCE else None
        old = worst.get(partner_pk)
        worst[partner_pk] = rank if old is None else max(old, rank or 0)
    return worst


@pytest.fixture
def portfolio():
    evaluation_data(25)  # a mix of statuses, errors (no EUR rate for December) too


def test_every_evaluated_partner_points_at_the_run_with_its_worst_status(portfolio):
    evaluation_run(as_of=DAY)
    current = {c.partner_id: c for c in PartnerCurrent.objects.all()}
    expected = _expected(DAY)
    assert len(current) == len(expected) == Partner.objects.count()
    assert {pk: c.worst_rank for pk, c in current.items()} == expected
    assert {c.evaluated_on for c in current.values()} == {DAY}
    assert len(set(expected.values())) > 1  # a mix of statuses, not one


def test_a_past_day_does_not_move_the_pointer_back_and_some_partners_move_on(portfolio):
    evaluation_run(as_of=DAY)
    evaluation_run(as_of=DAY - datetime.timedelta(days=5))  # back-filling history
    assert set(PartnerCurrent.objects.values_list("evaluated_on", flat=True)) == {DAY}

    later = DAY + datetime.timedelta(days=1)
    some = set(Partner.objects.order_by("pk").values_list("pk", flat=True)[:3])
    evaluation_run(as_of=later, partner_pks=some)
    moved = set(PartnerCurrent.objects.filter(evaluated_on=later).values_list("partner", flat=True))
    assert moved == some
    # the current rows are the latest run of each partner
    rows = current_evaluations(Partner.objects.all(), purpose=None)
    assert {(e.partner_id, e.as_of) for e in rows} == {
        (pk, later if pk in some else DAY) for pk in Partner.objects.values_list("pk", flat=True)
    }


def test_lists_filter_on_the_stored_worst_status(portfolio):
    evaluation_run(as_of=DAY)
    expected = _expected(DAY)
    annotated = dict(
        partners_with_worst_status(Partner.objects.all()).values_list("pk", "worst_rank")
    )
    assert annotated == expected


def _expected_outlook(as_of: datetime.date) -> dict[int, tuple[int | None, bool]]:
    """partner pk -> (worst outlook rank, some compliant subject short) of the
    compliance rows of ``as_of``."""
    expected: dict[int, tuple[int | None, bool]] = {}
    for partner_pk, purpose, status, outlook in Evaluation.objects.filter(as_of=as_of).values_list(
        "partner_id", "purpose", "status", "outlook"
    ):
        worst, short = expected.get(partner_pk, (None, False))
        if purpose == Purpose.COMPLIANCE and outlook:
            rank = OUTLOOK_RANKS[outlook]
            worst = rank if worst is None else max(worst, rank)
            short = short or (status == "compliant" and outlook == "short")
        expected[partner_pk] = (worst, short)
    return expected


@pytest.fixture
def outlooks():
    """The deadline-outlook pages' resellers (PRODUCT 4.9), as of its date."""
    outlook_world(StaffUserFactory())
    return OUTLOOK_AS_OF


def test_every_partner_keeps_its_worst_outlook_and_whether_a_compliant_subject_is_short(
    outlooks,
):
    current = {
        c.partner_id: (c.worst_outlook_rank, c.compliant_short)
        for c in PartnerCurrent.objects.all()
    }
    assert current == _expected_outlook(outlooks)
    assert {rank for rank, _short in current.values()} == {0, 1, 2}
    assert {short for _rank, short in current.values()} == {True, False}
    annotated = {
        p.pk: (p.worst_outlook_rank, p.compliant_short)
        for p in partners_with_worst_status(Partner.objects.all())
    }
    assert annotated == current


def test_the_migration_fills_the_outlook_of_existing_rows(outlooks):
    from django.db import connection

    migration = importlib.import_module("compliance.migrations.0010_partnercurrent_outlook")
    expected = {
        c.partner_id: (c.worst_outlook_rank, c.compliant_short)
        for c in PartnerCurrent.objects.all()
    }
    PartnerCurrent.objects.update(worst_outlook_rank=None, compliant_short=False)
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    assert {
        c.partner_id: (c.worst_outlook_rank, c.compliant_short)
        for c in PartnerCurrent.objects.all()
    } == expected
