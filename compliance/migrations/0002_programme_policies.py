"""The three programme policies of PRODUCT section 2. Staff edit or add
policies in the admin afterwards; this only creates what is missing."""

import datetime
from decimal import Decimal

from django.db import migrations

POLICIES = [
    {
        "code": "csp-direct-2021",
        "name": "CSP direct bill partner requirements (2021)",
        "description": (
            "From January 2021 existing direct-bill partners need USD 300,000 revenue in the "
            "preceding twelve months and an active paid support plan (Advanced or Premier "
            "Support for Partners), met by the plan's anniversary; otherwise they re-enrol as "
            "indirect resellers."
        ),
        "applies_to": "direct_bill",
        "subject_level": "partner",
        "effective_from": datetime.date(2021, 1, 1),
        "effective_to": datetime.date(2025, 9, 30),
        "deadline_anchor": "support_plan_renewal",
        "reminder_offsets": [90, 60, 30, 14, 7, 1],
        "requirements": [
            {"code": "revenue", "threshold_usd": Decimal("300000.00")},
            {"code": "support_plan", "qualifying_plan_types": ["asfp", "psfp"]},
        ],
    },
    {
        "code": "csp-direct-fy26",
        "name": "CSP direct bill partner requirements (FY26)",
        "description": (
            "USD 1,000,000 trailing-twelve-month revenue at partner global account level, an "
            "active paid Advanced or Premier support plan, at least one Solutions Partner "
            "designation and a signed Microsoft Partner Agreement, checked in the CSP "
            "onboarding anniversary month."
        ),
        "applies_to": "direct_bill",
        "subject_level": "partner",
        "effective_from": datetime.date(2025, 10, 1),
        "effective_to": None,
        "deadline_anchor": "onboarding_anniversary_month",
        "reminder_offsets": [90, 60, 30, 14, 7, 1],
        "requirements": [
            {"code": "revenue", "threshold_usd": Decimal("1000000.00")},
            {"code": "support_plan", "qualifying_plan_types": ["asfp", "psfp"]},
            {"code": "designation"},
            {"code": "agreement"},
        ],
    },
    {
        "code": "csp-indirect-reseller-2024",
        "name": "CSP indirect reseller revenue requirement (2024)",
        "description": (
            "Each indirect reseller location needs USD 1,000 revenue in the trailing twelve "
            "months by the first day of its onboarding anniversary month, else it is "
            "de-authorised."
        ),
        "applies_to": "indirect_reseller",
        "subject_level": "location",
        "effective_from": datetime.date(2024, 4, 1),
        "effective_to": None,
        "deadline_anchor": "onboarding_anniversary_month",
        "reminder_offsets": [90, 60, 30],
        "requirements": [{"code": "revenue", "threshold_usd": Decimal("1000.00")}],
    },
]


def create_policies(apps, schema_editor):
    Policy = apps.get_model("compliance", "Policy")
    PolicyRequirement = apps.get_model("compliance", "PolicyRequirement")
    for spec in POLICIES:
        spec = dict(spec)
        requirements = spec.pop("requirements")
        policy, created = Policy.objects.get_or_create(code=spec.pop("code"), defaults=spec)
        if created:
            for requirement in requirements:
                PolicyRequirement.objects.create(policy=policy, **requirement)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [migrations.RunPython(create_policies, migrations.RunPython.noop)]
