"""Form pages: the page layout (``PortalFormView``) and the one way a valid
form reaches a service (``ServiceFormMixin``): the service's ValidationError
goes back onto the form, a change of partner data is re-evaluated at once,
the user is told and redirected."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from compliance.services import partners_reevaluate
from partners.models import Partner
from portal.forms import apply_service_error


def reevaluate(request: HttpRequest, partner: Partner) -> None:
    """Re-evaluate ``partner`` for today after a change of its data (the one
    re-evaluation service). A failure never loses the change that was just
    saved; the user is told."""
    if not partners_reevaluate(partner_pks={partner.pk}).ok:
        messages.warning(
            request,
            _("Saved, but the partner could not be re-evaluated now; the nightly run will."),
        )


class PortalFormView(FormView):
    """A form page: title, a cancel link and the crispy form."""

    template_name = "partners/form.html"
    title = ""
    submit_label = gettext_lazy("Save")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(title=self.title, submit_label=self.submit_label)
        context.setdefault("cancel_url", self.get_cancel_url())
        return context

    def get_cancel_url(self) -> str:
        return reverse("dashboard")


class ServiceFormMixin:
    """A valid form goes to one service: the view implements
    ``call_service(form)`` and may name the form fields of the service's
    model fields (``service_error_fields``). A ValidationError of the
    service is shown on the form; otherwise ``self.object`` is what the
    service returned, the partner of ``reevaluated_partner()`` (none by
    default) is re-evaluated, ``success_message`` is shown and the user goes
    to ``get_success_url()``."""

    service_error_fields: Mapping[str, str] | None = None
    success_message = ""
    object = None

    def call_service(self, form):
        raise NotImplementedError

    def reevaluated_partner(self) -> Partner | None:
        """The partner whose data the service changed, re-evaluated now."""
        return None

    def get_success_message(self) -> str:
        return str(self.success_message)

    def form_valid(self, form):
        try:
            self.object = self.call_service(form)
        except ValidationError as error:
            apply_service_error(form, error, self.service_error_fields)
            return self.form_invalid(form)
        partner = self.reevaluated_partner()
        if partner is not None:
            reevaluate(self.request, partner)
        if message := self.get_success_message():
            messages.success(self.request, message)
        return HttpResponseRedirect(self.get_success_url())
