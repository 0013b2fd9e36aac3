"""Staff forms on follow-up cases and deadline outcomes. Thin: the object is
reached through a selector that filters by the user's partners, the change
goes through ``compliance.services``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from compliance import selectors, services
from compliance.models import CaseState
from portal.forms import FollowUpCaseMoveForm, OutcomeOverrideForm, apply_service_error
from portal.views.partners import PortalFormView, StaffRequiredMixin, reevaluate


class FollowUpCaseMoveView(StaffRequiredMixin, PortalFormView):
    form_class = FollowUpCaseMoveForm
    title = gettext_lazy("Move a follow-up case")
    template_name = "compliance/case_move.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_staff:
            self.case = selectors.followup_case_get_for_user(user=request.user, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        next_state = CaseState.IN_PROGRESS if self.case.state == CaseState.OPEN else CaseState.DONE
        return {"state": next_state}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(case=self.case, partner=self.case.partner)
        return context

    def get_cancel_url(self) -> str:
        return reverse("partners:detail", args=[self.case.partner.partner_id])

    def form_valid(self, form):
        try:
            services.followup_case_move(
                case=self.case,
                state=form.cleaned_data["state"],
                notes=form.cleaned_data["notes"],
                user=self.request.user,
            )
        except ValidationError as error:
            apply_service_error(form, error)
            return self.form_invalid(form)
        reevaluate(self.request, self.case.partner)
        messages.success(self.request, _("The case is updated."))
        return HttpResponseRedirect(self.get_cancel_url())


class OutcomeOverrideView(StaffRequiredMixin, PortalFormView):
    form_class = OutcomeOverrideForm
    title = gettext_lazy("Override a missed deadline")
    submit_label = gettext_lazy("Record override")
    template_name = "compliance/outcome_override.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_staff:
            self.outcome = selectors.outcome_get_for_user(user=request.user, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(outcome=self.outcome, partner=self.outcome.partner)
        return context

    def get_cancel_url(self) -> str:
        return reverse("partners:detail", args=[self.outcome.partner.partner_id])

    def form_valid(self, form):
        if self.outcome.overridden_at is not None:
            form.add_error(None, _("This deadline has been overridden already."))
            return self.form_invalid(form)
        try:
            services.outcome_override(
                outcome=self.outcome, user=self.request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_service_error(form, error)
            return self.form_invalid(form)
        reevaluate(self.request, self.outcome.partner)
        messages.success(self.request, _("The override is recorded."))
        return HttpResponseRedirect(self.get_cancel_url())
