"""Programme policies (the rules as data) and what the engine records:
one package, a module per area (policies, the evaluation history, the
workflow around deadlines)."""

from .evaluations import (
    DataVersion,
    EvaluatedDay,
    Evaluation,
    EvaluationFindings,
    EvaluationPeriod,
    EvaluationQuerySet,
    PartnerCurrent,
)
from .policies import (
    DeadlineAnchor,
    Outlook,
    Policy,
    PolicyRequirement,
    Purpose,
    RequirementCode,
    Status,
    SubjectLevel,
    SubjectType,
)
from .workflow import (
    CaseKind,
    CaseState,
    DeadlineOutcome,
    FollowUpCase,
    JobRun,
    JobState,
    OutcomeResult,
    PolicyDraft,
    SimulationRun,
    SimulationState,
)

__all__ = [
    "CaseKind",
    "CaseState",
    "DataVersion",
    "DeadlineAnchor",
    "DeadlineOutcome",
    "EvaluatedDay",
    "Evaluation",
    "EvaluationFindings",
    "EvaluationPeriod",
    "EvaluationQuerySet",
    "FollowUpCase",
    "JobRun",
    "JobState",
    "OutcomeResult",
    "Outlook",
    "PartnerCurrent",
    "Policy",
    "PolicyDraft",
    "PolicyRequirement",
    "Purpose",
    "RequirementCode",
    "SimulationRun",
    "SimulationState",
    "Status",
    "SubjectLevel",
    "SubjectType",
]
