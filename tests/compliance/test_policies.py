"""The data migrations create the three programme policies of PRODUCT §2,
with their German names."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from compliance.models import Policy, PolicyRequirement

D = datetime.date
pytestmark = pytest.mark.django_db


def _requirements(policy):
    return {r.code: (r.threshold_usd, r.qualifying_plan_types) for r in policy.requirements.all()}


def test_three_policies_with_the_published_values():
    assert set(Policy.objects.values_list("code", flat=True)) == {
        "csp-direct-2021",
        "csp-direct-fy26",
        "csp-indirect-reseller-2024",
    }
    p2021 = Policy.objects.get(code="csp-direct-2021")
    assert (p2021.applies_to, p2021.subject_level) == ("direct_bill", "partner")
    assert (p2021.effective_from, p2021.effective_to) == (D(2021, 1, 1), D(2025, 9, 30))
    assert p2021.deadline_anchor == "support_plan_renewal"
    assert p2021.reminder_offsets == [90, 60, 30, 14, 7, 1]
    assert _requirements(p2021) == {
        "revenue": (Decimal("300000.00"), []),
        "support_plan": (None, ["asfp", "psfp"]),
    }

    fy26 = Policy.objects.get(code="csp-direct-fy26")
    assert (fy26.applies_to, fy26.subject_level) == ("direct_bill", "partner")
    assert (fy26.effective_from, fy26.effective_to) == (D(2025, 10, 1), None)
    assert fy26.deadline_anchor == "onboarding_anniversary_month"
    assert fy26.reminder_offsets == [90, 60, 30, 14, 7, 1]
    assert _requirements(fy26) == {
        "revenue": (Decimal("1000000.00"), []),
        "support_plan": (None, ["asfp", "psfp"]),
        "designation": (None, []),
        "agreement": (None, []),
    }

    reseller = Policy.objects.get(code="csp-indirect-reseller-2024")
    assert (reseller.applies_to, reseller.subject_level) == ("indirect_reseller", "location")
    assert (reseller.effective_from, reseller.effective_to) == (D(2024, 4, 1), None)
    assert reseller.deadline_anchor == "onboarding_anniversary_month"
    assert reseller.reminder_offsets == [90, 60, 30]
    assert _requirements(reseller) == {"revenue": (Decimal("1000.00"), [])}


def test_the_shipped_policies_have_german_names_shown_by_language():
    assert dict(Policy.objects.values_list("code", "name_de")) == {
        "csp-direct-2021": "CSP-Anforderungen für die Direktabrechnung (2021)",
        "csp-direct-fy26": "CSP-Anforderungen für die Direktabrechnung (GJ26)",
        "csp-indirect-reseller-2024": "CSP-Umsatzanforderung für indirekte Reseller (2024)",
    }
    policy = Policy.objects.get(code="csp-indirect-reseller-2024")
    assert policy.name_in("en") == "CSP indirect reseller revenue requirement (2024)"
    assert policy.name_in("de") == "CSP-Umsatzanforderung für indirekte Reseller (2024)"
    with translation.override("de"):
        assert policy.display_name == policy.name_de
    with translation.override("en"):
        assert policy.display_name == policy.name
    # a policy staff add without a German name shows its name on German pages
    policy.name_de = ""
    assert policy.name_in("de") == policy.name


def test_policy_validation_of_offsets_and_requirements():
    policy = Policy.objects.get(code="csp-direct-fy26")
    policy.reminder_offsets = [30, 30]
    with pytest.raises(ValidationError):
        policy.full_clean()
    policy.reminder_offsets = [7, 90, "x"]
    with pytest.raises(ValidationError):
        policy.full_clean()
    policy.reminder_offsets = [7, 90, 30]
    policy.full_clean()
    assert policy.reminder_offsets == [90, 30, 7]
    requirement = PolicyRequirement(
        policy=policy, code="support_plan", qualifying_plan_types=["gold"]
    )
    with pytest.raises(ValidationError):
        requirement.clean()


def test_staff_groups_exist_with_permissions():
    from django.contrib.auth.models import Group

    managers = Group.objects.get(name="Account managers")
    admins = Group.objects.get(name="Compliance admins")
    assert managers.permissions.filter(codename="change_partner").exists()
    assert not managers.permissions.filter(codename="change_policy").exists()
    assert admins.permissions.filter(codename="change_policy").exists()
