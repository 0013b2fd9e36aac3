"""Staff-only views of the emails: each template with sample data, and the
email of a recorded notification as it was (or will be) sent."""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import Http404, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from notifications import content, selectors
from notifications.models import Kind
from partners.models import Language
from portal.views.access import StaffRequiredMixin


def _email_response(request, rendered: content.Rendered) -> HttpResponse:
    """``?part=text`` shows the plain-text part, ``?part=subject`` the
    subject, otherwise the HTML part as the mail client shows it."""
    part = request.GET.get("part", "html")
    if part == "text":
        return HttpResponse(rendered.text, content_type="text/plain; charset=utf-8")
    if part == "subject":
        return HttpResponse(rendered.subject, content_type="text/plain; charset=utf-8")
    return HttpResponse(rendered.html)


#: An email's HTML carries its styles inline (mail clients load no style
#: sheets): the pages that show one as a mail client does allow inline
#: styles, and nothing else (the email has no script).
email_styles = method_decorator(csp_update({"style-src": [UNSAFE_INLINE]}), name="dispatch")


class EmailPreviewIndexView(StaffRequiredMixin, TemplateView):
    template_name = "notifications/preview_index.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        labels = dict(Kind.choices)
        rows = []
        for key, kind, case in content.PREVIEWS:
            label = str(labels[kind])
            if case == content.SHORT:
                label = _("%(kind)s: compliant today, short at the deadline") % {"kind": label}
            for language, language_label in Language.choices:
                deadline, offset, facts = content.sample_facts(kind, language, case)
                rendered = content.render(
                    kind=kind, language=language, deadline=deadline, offset=offset, facts=facts
                )
                rows.append(
                    {
                        "key": key,
                        "kind": kind,
                        "kind_label": label,
                        "language": language,
                        "language_label": language_label,
                        "subject": rendered.subject,
                    }
                )
        ctx["rows"] = rows
        return ctx


@email_styles
class EmailPreviewView(StaffRequiredMixin, View):
    def get(self, request, kind: str, language: str):
        # ``kind`` is a preview key: a kind, or a kind and a case
        # ("reminder-short": compliant today, short at the deadline).
        found = content.preview(kind)
        if found is None or language not in Language.values:
            raise Http404("no such email template")
        kind, case = found
        deadline, offset, facts = content.sample_facts(kind, language, case)
        rendered = content.render(
            kind=kind, language=language, deadline=deadline, offset=offset, facts=facts
        )
        return _email_response(request, rendered)


@email_styles
class NotificationEmailView(StaffRequiredMixin, View):
    def get(self, request, pk: int):
        notification = selectors.notification_get_for_user(user=request.user, pk=pk)
        return _email_response(
            request,
            content.render(
                kind=notification.kind,
                language=notification.language,
                deadline=notification.deadline,
                offset=notification.offset,
                facts=notification.facts,
            ),
        )
