"""The support-plan panel of the partner pages agrees with the evaluation on
the same page: one rule (PRODUCT 4.3, ``compliance.rules``) with the
qualifying plan types of the policy that applies, and the rules' notion of
"paid" (a payment dated after today does not count yet)."""

import datetime

import pytest
from django.urls import reverse

from compliance.models import Evaluation, PolicyRequirement
from compliance.selectors import policies_in_force
from compliance.services import evaluation_run
from partners import services as ps
from partners.models import BillingModel, PlanType
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)

# (id, plan type, paid, paid on (days from today), policy's qualifying types)
SCENARIOS = [
    ("paid-after-today", PlanType.ASFP, True, 5, None),
    ("unpaid", PlanType.ASFP, False, None, None),
    ("not-qualifying", PlanType.UNIFIED, True, -30, None),
    ("qualifying-under-the-policy", PlanType.UNIFIED, True, -30, ["unified"]),
    ("not-qualifying-under-the-policy", PlanType.ASFP, True, -30, ["unified"]),
]


@pytest.fixture
def direct_partner(staff, today):
    partner = ps.partner_create(
        partner_id="1000031", name="Alpenblick IT GmbH", country="DE",
        onboarded_on=today - 800 * DAY, billing_model=BillingModel.DIRECT_BILL,
        account_manager=staff,
    )  # fmt: skip
    ps.location_create(
        partner=partner, location_id="2000031", country="DE", onboarded_on=today - 800 * DAY
    )
    user = UserFactory(username="alpenblick")
    ps.contact_create(partner=partner, name="Anna Berger", email="anna@alpenblick.example")
    contact = partner.contacts.get()
    contact.user = user
    contact.save()
    return partner, user


def _direct_bill_support_requirement(today):
    (policy,) = [p for p, s in policies_in_force(today) if s.applies_to == BillingModel.DIRECT_BILL]
    return PolicyRequirement.objects.get(policy=policy, code="support_plan")


@pytest.mark.parametrize(
    ("plan_type", "is_paid", "paid_in", "policy_types"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_panel_agrees_with_the_evaluation(
    client, staff, today, direct_partner, plan_type, is_paid, paid_in, policy_types
):
    partner, partner_user = direct_partner
    requirement = _direct_bill_support_requirement(today)
    if policy_types is not None:
        requirement.qualifying_plan_types = policy_types
        requirement.save()
    ps.support_contract_create(
        partner=partner, plan_type=plan_type, contract_number="SC-1",
        start_date=today - 60 * DAY, end_date=today + 300 * DAY, is_paid=is_paid,
        paid_on=today + paid_in * DAY if paid_in is not None else None,
    )  # fmt: skip
    evaluation_run(as_of=today)
    evaluation = Evaluation.objects.get(
        partner=partner, subject_type="partner", purpose="compliance", as_of=today
    )
    met = evaluation.requirements["support_plan"]
    names = {None: "ASfP or PSfP", ("unified",): "Unified"}[
        tuple(policy_types) if policy_types else None
    ]

    pid = partner.partner_id
    client.force_login(staff)
    for url in (reverse("partners:detail", args=[pid]), reverse("partners:contracts", args=[pid])):
        response = client.get(url)
        assert bool(response.context["support"]["active"]) is met, url
    if not met:
        assert f"No active paid support plan ({names}) today." in response.text

    client.force_login(partner_user)
    response = client.get(reverse("dashboard"))
    support = response.context["support"]
    assert bool(support["active"]) is met
    if not met:
        assert f"No active paid support plan ({names})" in response.text
    # Not paid as of today (unpaid, or paid on a later date) is said so.
    not_paid_yet = "Contract SC-1 is not paid yet." in response.text
    assert not_paid_yet is (not is_paid or paid_in > 0)
