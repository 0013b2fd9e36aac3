"""Staff forms on follow-up cases and deadline outcomes. Thin: the object is
reached through a selector that filters by the user's partners (after the
staff check, so a partner user gets 403 whoever's the object), the change
goes through ``compliance.cases``."""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from compliance import cases, selectors
from compliance.models import CaseState, DeadlineOutcome, FollowUpCase
from partners.models import Partner
from portal.forms import FollowUpCaseMoveForm, OutcomeOverrideForm
from portal.views.access import StaffRequiredMixin
from portal.views.editing import PortalFormView, ServiceFormMixin


class FollowUpCaseMoveView(StaffRequiredMixin, ServiceFormMixin, PortalFormView):
    form_class = FollowUpCaseMoveForm
    title = gettext_lazy("Move a follow-up case")
    template_name = "compliance/case_move.html"
    success_message = gettext_lazy("The case is updated.")

    @cached_property
    def case(self) -> FollowUpCase:
        return selectors.followup_case_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    def get_initial(self):
        next_state = CaseState.IN_PROGRESS if self.case.state == CaseState.OPEN else CaseState.DONE
        return {"state": next_state}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(case=self.case, partner=self.case.partner)
        return context

    def get_cancel_url(self) -> str:
        return reverse("partners:detail", args=[self.case.partner.partner_id])

    def get_success_url(self) -> str:
        return self.get_cancel_url()

    def call_service(self, form):
        return cases.followup_case_move(
            case=self.case,
            state=form.cleaned_data["state"],
            notes=form.cleaned_data["notes"],
            user=self.request.user,
        )

    def reevaluated_partner(self) -> Partner:
        return self.case.partner


class OutcomeOverrideView(StaffRequiredMixin, ServiceFormMixin, PortalFormView):
    form_class = OutcomeOverrideForm
    title = gettext_lazy("Override a missed deadline")
    submit_label = gettext_lazy("Record override")
    template_name = "compliance/outcome_override.html"
    success_message = gettext_lazy("The override is recorded.")

    @cached_property
    def outcome(self) -> DeadlineOutcome:
        return selectors.outcome_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(outcome=self.outcome, partner=self.outcome.partner)
        return context

    def get_cancel_url(self) -> str:
        return reverse("partners:detail", args=[self.outcome.partner.partner_id])

    def get_success_url(self) -> str:
        return self.get_cancel_url()

    def call_service(self, form):
        if self.outcome.overridden_at is not None:
            raise ValidationError(_("This deadline has been overridden already."))
        return cases.outcome_override(
            outcome=self.outcome, user=self.request.user, reason=form.cleaned_data["reason"]
        )

    def reevaluated_partner(self) -> Partner:
        return self.outcome.partner
