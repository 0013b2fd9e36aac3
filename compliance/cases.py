"""Staff actions on what a run decided: moving a follow-up case (done applies
the consequence) and overriding a missed deadline. Both audited."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.services import location_deauthorise, partner_move_to_indirect

from .models import CaseKind, CaseState, DeadlineOutcome, FollowUpCase, OutcomeResult

_CASE_TRANSITIONS = {
    CaseState.OPEN: {CaseState.IN_PROGRESS, CaseState.DONE},
    CaseState.IN_PROGRESS: {CaseState.OPEN, CaseState.DONE},
    CaseState.DONE: set(),
}


@transaction.atomic
def followup_case_move(
    *,
    case: FollowUpCase,
    state: str,
    user: User,
    notes: str = "",
    on: datetime.date | None = None,
) -> FollowUpCase:
    """Move a case to ``state``. Done applies the consequence: a direct-bill
    partner moves to the indirect model, a reseller location is
    de-authorised."""
    case = (
        FollowUpCase.objects.select_for_update(of=("self",))
        .select_related("partner", "location")
        .get(pk=case.pk)
    )
    if state == case.state:
        return case
    if state not in _CASE_TRANSITIONS[CaseState(case.state)]:
        raise ValidationError(
            _("A case cannot move from %(old)s to %(new)s.") % {"old": case.state, "new": state}
        )
    case.state = state
    if notes:
        case.notes = f"{case.notes}\n{notes}".strip()
    if state == CaseState.DONE:
        case.closed_at = timezone.now()
        reason = f"follow-up case {case.pk} done"
        if case.kind == CaseKind.TRANSITION_TO_INDIRECT:
            partner_move_to_indirect(partner=case.partner, user=user, reason=reason)
        elif case.location is not None:
            location_deauthorise(
                location=case.location, on=on or timezone.localdate(), user=user, reason=reason
            )
    case._history_user = user  # type: ignore[attr-defined]  # read by simple-history
    case.save()
    return case


@transaction.atomic
def outcome_override(*, outcome: DeadlineOutcome, user: User, reason: str) -> DeadlineOutcome:
    """Staff decide that a missed deadline no longer counts against the
    subject (e.g. Microsoft granted an exception). Audited with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason for the override.")})
    outcome = DeadlineOutcome.objects.select_for_update().get(pk=outcome.pk)
    if outcome.result != OutcomeResult.MISSED:
        raise ValidationError(_("Only a missed deadline can be overridden."))
    outcome.overridden_at = timezone.now()
    outcome.overridden_by = user
    outcome.override_reason = reason
    outcome._history_user = user  # type: ignore[attr-defined]  # read by simple-history
    outcome._change_reason = reason  # type: ignore[attr-defined]  # read by simple-history
    outcome.save()
    return outcome
