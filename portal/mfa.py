"""The second factor (django-allauth's MFA, docs/decisions/0010): staff who
must have one, the lockout that counts wrong codes, and the reset by a
compliance admin."""

from __future__ import annotations

from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.models import Authenticator
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .sessions import sessions_end

# Factors that make a login two-factor (recovery codes only stand in for them).
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
COMPLIANCE_ADMINS = "Compliance admins"

# What a staff user without a second factor may still open: the enrolment
# and what it needs (confirming the password, the recovery codes shown once),
# logging out, the language switch, the health check.
ENROLMENT_URL_NAMES = {
    "mfa_activate_totp",
    "mfa_view_recovery_codes",
    "mfa_index",
    "account_reauthenticate",
    "mfa_reauthenticate",
    "logout",
    "account_logout",
    "login",
    "account_login",
    "set_language",
    "healthz",
}


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS).exists()


def signed_in_with_company_account(request: HttpRequest) -> bool:
    """Whether this session's login went through staff single sign-on, whose
    identity provider enforces the company's multi-factor policy."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "socialaccount" for record in records)


def second_factor_required(request: HttpRequest) -> bool:
    """A staff user (while ``STAFF_MFA_REQUIRED``) who signed in with a
    password and has no second factor yet."""
    user = getattr(request, "user", None)
    if not settings.STAFF_MFA_REQUIRED or user is None or not user.is_authenticated:
        return False
    if not (user.is_staff or user.is_superuser):
        return False
    return not has_second_factor(user) and not signed_in_with_company_account(request)


class StaffSecondFactorMiddleware:
    """Staff without a second factor reach no staff page, no admin and no
    API with their session: pages send them to the enrolment, the API
    answers 403. Requests with an API token carry no session user here (DRF
    authenticates them in the view) and pass unchanged."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        required = second_factor_required(request)
        # The navigation hides the pages that would only lead back here.
        request.second_factor_required = required
        if required and not self._enrolment_page(request):
            if request.path_info.startswith(("/api/", "/exports/")):
                if request.META.get("HTTP_AUTHORIZATION", "").startswith("Token "):
                    # DRF authenticates a token before the session cookie.
                    return self.get_response(request)
                return JsonResponse(
                    {"detail": _("Set up two-factor authentication before using the API.")},
                    status=403,
                )
            messages.warning(
                request,
                _("Staff accounts need two-factor authentication: set up an authenticator app."),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _enrolment_page(request: HttpRequest) -> bool:
        if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.url_name in ENROLMENT_URL_NAMES


def factor_must_stay(user) -> bool:
    """Staff who must have a second factor cannot switch theirs off (a
    compliance admin can reset it, see factor_reset)."""
    return settings.STAFF_MFA_REQUIRED and (user.is_staff or user.is_superuser)


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if factor_must_stay(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)


# --- Lockout: wrong codes count like wrong passwords -----------------------------


def _credentials(user) -> dict:
    return {"username": user.get_username()}


def count_failed_code(sender, request=None, user=None, **kwargs) -> None:
    """allauth's ``authentication_failed`` (a wrong or reused code) as
    Django's ``user_login_failed``: django-axes counts it for the same
    username and address as a wrong password."""
    if request is None or user is None:
        return
    user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)


class LockoutAwareAuthenticateForm(AuthenticateForm):
    """The code step of the login refuses to check a code while django-axes
    has locked the username/address pair; the lockout page (429) follows."""

    def clean_code(self) -> str:
        from allauth.core import context

        request = context.request
        if settings.AXES_ENABLED and AxesProxyHandler.is_locked(request, _credentials(self.user)):
            request.axes_locked_out = True
            raise ValidationError(_("Too many failed logins."), code="locked")
        return super().clean_code()


# --- Reset by a compliance admin ---------------------------------------------------


def is_compliance_admin(user) -> bool:
    """Superusers, and staff in the "Compliance admins" group."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.is_staff and user.groups.filter(name=COMPLIANCE_ADMINS).exists()


@transaction.atomic
def factor_reset(*, user, by) -> int:
    """Deletes ``user``'s second factor and recovery codes and ends all their
    sessions; an admin log entry (who, when) records it. The user enrols
    again at their next login. Returns the number of authenticators removed."""
    if not is_compliance_admin(by):
        raise PermissionError("only compliance admins reset a second factor")
    removed, _details = Authenticator.objects.filter(user_id=user.pk).delete()
    sessions_end(user=user)
    LogEntry.objects.log_actions(
        user_id=by.pk,
        queryset=[user],
        action_flag=CHANGE,
        # Shown translated in the user's admin history ("Changed ...").
        change_message=[{"changed": {"fields": [gettext_noop("second factor (reset)")]}}],
        single_object=True,
    )
    return removed
