"""Evaluations, outcomes, cases and job runs in the admin; the re-evaluate
action; overrides and case moves through the admin go through services."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from compliance.models import (
    CaseState,
    DeadlineOutcome,
    Evaluation,
    EvaluationPeriod,
    FollowUpCase,
    JobRun,
)
from compliance.services import evaluation_run
from jobs import tasks
from partners import services as ps
from partners.models import Partner

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def missed():
    partner = ps.partner_create(
        partner_id="4100001", name="Seeblick IT", country="CH", onboarded_on=D(2022, 11, 15)
    )
    location = ps.location_create(
        partner=partner, location_id="9100001", country="CH", onboarded_on=D(2022, 11, 15)
    )
    ps.revenue_record_create(
        location=location, revenue_date=D(2024, 5, 1), amount=Decimal("10"), currency="USD"
    )
    evaluation_run(as_of=D(2024, 11, 1))
    tasks.evaluate_all.apply(kwargs={"as_of": "2024-11-02"}).get()
    return partner, location


def test_engine_pages_render_and_filter(admin_client, missed):
    for model in ("evaluation", "evaluationperiod", "deadlineoutcome", "followupcase", "jobrun"):
        url = reverse(f"admin:compliance_{model}_changelist")
        assert admin_client.get(url).status_code == 200, model
    period = EvaluationPeriod.objects.filter(subject_id="9100001").first()
    url = reverse("admin:compliance_evaluationperiod_change", args=[period.pk])
    assert admin_client.get(url).status_code == 200
    day = Evaluation.objects.filter(subject_id="9100001").first()
    url = reverse("admin:compliance_evaluation_change", args=[day.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.get(
        reverse("admin:compliance_evaluation_changelist"), {"status__exact": "non_compliant"}
    )
    assert b"9100001" in response.content
    outcome = DeadlineOutcome.objects.get()
    assert (
        admin_client.get(
            reverse("admin:compliance_deadlineoutcome_change", args=[outcome.pk])
        ).status_code
        == 200
    )
    case = FollowUpCase.objects.get()
    assert (
        admin_client.get(
            reverse("admin:compliance_followupcase_change", args=[case.pk])
        ).status_code
        == 200
    )
    run = JobRun.objects.get()
    assert (
        admin_client.get(reverse("admin:compliance_jobrun_change", args=[run.pk])).status_code
        == 200
    )
    # Engine output cannot be added or edited by hand.
    assert admin_client.get(reverse("admin:compliance_evaluation_add")).status_code == 403


def test_override_through_the_admin_is_audited(admin_client, admin_user, missed):
    outcome = DeadlineOutcome.objects.get()
    url = reverse("admin:compliance_deadlineoutcome_change", args=[outcome.pk])
    response = admin_client.post(
        url, {"override_reason": "Microsoft exception granted", **_inline(outcome)}
    )
    assert response.status_code == 302
    outcome.refresh_from_db()
    assert outcome.overridden_by == admin_user
    assert outcome.history.latest().override_reason == "Microsoft exception granted"


def _inline(outcome):
    # The read-only case inline still posts its management form.
    return {
        "case-0-id": str(outcome.case.pk),
        "case-0-outcome": str(outcome.pk),
        "case-TOTAL_FORMS": "1",
        "case-INITIAL_FORMS": "1",
        "case-MIN_NUM_FORMS": "0",
        "case-MAX_NUM_FORMS": "1",
    }


def test_case_actions_apply_the_consequence(admin_client, missed):
    _partner, location = missed
    case = FollowUpCase.objects.get()
    url = reverse("admin:compliance_followupcase_changelist")
    admin_client.post(url, {"action": "mark_done", "_selected_action": [case.pk]})
    case.refresh_from_db()
    location.refresh_from_db()
    assert case.state == CaseState.DONE
    assert location.is_active is False


def test_reevaluate_selected_partners_now(admin_client, missed):
    partner, _ = missed
    Evaluation.objects.all().delete()
    url = reverse("admin:partners_partner_changelist")
    response = admin_client.post(
        url, {"action": "reevaluate_now", "_selected_action": [partner.pk]}, follow=True
    )
    assert response.status_code == 200
    assert Evaluation.objects.filter(partner=partner, purpose="compliance").count() == 1
    assert "1 evaluation(s)" in response.content.decode()
    assert Partner.objects.count() == 1
