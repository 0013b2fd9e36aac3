"""A user's own account pages: their sessions, the password change that ends
the other sessions. The second factor's pages are django-allauth's
(``/accounts/2fa/``) with our templates."""

from __future__ import annotations

from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from ..sessions import device_describe, session_key_moved, sessions_end_others


class SessionListView(LoginRequiredMixin, TemplateView):
    """The signed-in user's active sessions (device, address, last seen); a
    POST ends all but this one."""

    template_name = "account/sessions.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        current = self.request.session.session_key
        rows = sorted(
            UserSession.objects.purge_and_list(self.request.user),
            key=lambda s: (s.session_key != current, -s.last_seen_at.timestamp()),
        )
        context["sessions"] = [
            {
                "device": device_describe(row.user_agent),
                "user_agent": row.user_agent,
                "ip": row.ip,
                "created_at": row.created_at,
                "last_seen_at": row.last_seen_at,
                "current": row.session_key == current,
            }
            for row in rows
        ]
        context["others"] = sum(1 for row in rows if row.session_key != current)
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        ended = sessions_end_others(request)
        messages.success(
            request,
            ngettext("%(count)d other session ended.", "%(count)d other sessions ended.", ended)
            % {"count": ended},
        )
        return redirect("sessions")


class PortalPasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change; every other session of the user ends."""

    def form_valid(self, form):
        old_key = self.request.session.session_key
        response = super().form_valid(form)  # a new session key for this browser
        session_key_moved(old_key=old_key, new_key=self.request.session.session_key)
        ended = sessions_end_others(self.request)
        if ended:
            messages.info(
                self.request,
                ngettext(
                    "Your %(count)d other session was ended.",
                    "Your %(count)d other sessions were ended.",
                    ended,
                )
                % {"count": ended},
            )
        return response


def signup_closed(request: HttpRequest) -> HttpResponse:
    """allauth's signup address: accounts are created by staff."""
    messages.info(request, _("Accounts are created by the portal's staff."))
    return redirect("login")
