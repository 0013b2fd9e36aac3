"""The codes the rules compare against, as plain strings.

They are the values of the TextChoices in ``compliance.models`` and
``partners.models``, repeated here so that the rules import without Django
(a test keeps them in step).
"""

from __future__ import annotations

# Statuses (Evaluation.status).
NOT_APPLICABLE = "not_applicable"
COMPLIANT = "compliant"
AT_RISK = "at_risk"
NON_COMPLIANT = "non_compliant"
ERROR = "error"

# Requirement codes (compliance.models.RequirementCode), in reporting order.
REVENUE = "revenue"
SUPPORT_PLAN = "support_plan"
DESIGNATION = "designation"
AGREEMENT = "agreement"
REQUIREMENT_ORDER = (REVENUE, SUPPORT_PLAN, DESIGNATION, AGREEMENT)

# Deadline anchors (compliance.models.DeadlineAnchor).
SUPPORT_PLAN_RENEWAL = "support_plan_renewal"
ANNIVERSARY_MONTH = "onboarding_anniversary_month"

# Subject levels (compliance.models.SubjectLevel).
PARTNER = "partner"
LOCATION = "location"

# Billing models (partners.models.BillingModel).
DIRECT_BILL = "direct_bill"
INDIRECT_RESELLER = "indirect_reseller"
