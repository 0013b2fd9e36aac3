"""Pure compliance rules: TTM windows, deadlines, statuses and their wording.

Everything here works on plain values (dates, ``Decimal``, strings, frozen
dataclasses) and never touches the database, so it is trivially unit-tested and
can be called from set-based services, tasks and views alike. The
specification is PRODUCT.md section 4 ("Evaluation semantics").

No Django, directly or indirectly (a test keeps it so); ``core.formatting`` is
pure too. The modules, each importing only the ones above it:

- ``codes``: the TextChoices values as plain strings (statuses, requirements,
  deadline anchors, subject levels, billing models);
- ``dates``: years on, month starts, date windows, the TTM window, the
  onboarding-anniversary deadlines;
- ``money``: conversion to USD, the TTM sum, USD per day, ``MissingRate``;
- ``support``: support contracts, the plan that covers a day, the renewal
  deadlines, the plan types and their short names;
- ``wording``: explanations in English and German;
- ``evaluation``: policies, subject facts, results, status ranks, ``evaluate``,
  ``evaluate_draft`` (the simulator), ``direct_bill_ready``, ``deadline_outcome``.

Callers use the package: ``from compliance import rules; rules.evaluate(...)``.
"""

from core.formatting import format_date, format_usd

from .codes import (
    AGREEMENT,
    ANNIVERSARY_MONTH,
    AT_RISK,
    COMPLIANT,
    DESIGNATION,
    DIRECT_BILL,
    ERROR,
    INDIRECT_RESELLER,
    LOCATION,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    PARTNER,
    REQUIREMENT_ORDER,
    REVENUE,
    SUPPORT_PLAN,
    SUPPORT_PLAN_RENEWAL,
)
from .dates import (
    Window,
    add_years,
    anniversary_month_deadline,
    anniversary_month_last_deadline,
    month_start,
    ttm_window,
)
from .evaluation import (
    PolicySpec,
    Result,
    SubjectFacts,
    deadline_outcome,
    direct_bill_ready,
    evaluate,
    evaluate_draft,
    next_deadline,
    status_rank,
)
from .money import USD, MissingRate, RevenueLine, convert, to_usd, ttm_sum, usd_by_day
from .support import (
    DEFAULT_QUALIFYING_PLAN_TYPES,
    PLAN_SHORT_NAMES,
    ContractFacts,
    SupportNote,
    contract_counts_on,
    support_plan_covering,
    support_plan_met,
    support_renewal_deadline,
    support_renewal_last_deadline,
)
from .wording import plan_names

__all__ = [
    "AGREEMENT",
    "ANNIVERSARY_MONTH",
    "AT_RISK",
    "COMPLIANT",
    "DEFAULT_QUALIFYING_PLAN_TYPES",
    "DESIGNATION",
    "DIRECT_BILL",
    "ERROR",
    "INDIRECT_RESELLER",
    "LOCATION",
    "NON_COMPLIANT",
    "NOT_APPLICABLE",
    "PARTNER",
    "PLAN_SHORT_NAMES",
    "REQUIREMENT_ORDER",
    "REVENUE",
    "SUPPORT_PLAN",
    "SUPPORT_PLAN_RENEWAL",
    "USD",
    "ContractFacts",
    "MissingRate",
    "PolicySpec",
    "Result",
    "RevenueLine",
    "SubjectFacts",
    "SupportNote",
    "Window",
    "add_years",
    "anniversary_month_deadline",
    "anniversary_month_last_deadline",
    "contract_counts_on",
    "convert",
    "deadline_outcome",
    "direct_bill_ready",
    "evaluate",
    "evaluate_draft",
    "format_date",
    "format_usd",
    "month_start",
    "next_deadline",
    "plan_names",
    "status_rank",
    "support_plan_covering",
    "support_plan_met",
    "support_renewal_deadline",
    "support_renewal_last_deadline",
    "to_usd",
    "ttm_sum",
    "ttm_window",
    "usd_by_day",
]
