"""Account helpers that are not views of our own: the login lockout page,
the client address login throttling counts by, and the login view (whose
second step, the code of a second factor, is django-allauth's: ADR 0010)."""

from __future__ import annotations

import ipaddress

from allauth.account.internal.flows.login import perform_password_login
from allauth.account.models import Login
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partners.models import Contact


def client_ip(request: HttpRequest) -> str | None:
    """The address django-axes counts failed logins by.

    Without a trusted proxy (``TRUSTED_PROXY_COUNT`` = 0) that is the socket's
    peer, ``REMOTE_ADDR``; an ``X-Forwarded-For`` header is then ignored,
    since any client can send one. Behind N proxies that each append the
    address they saw, the client is the N-th entry from the right: entries
    further left were sent by the client and are not trusted. A header with
    fewer entries or an entry that is not an address falls back to
    ``REMOTE_ADDR``.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout(request: HttpRequest, credentials: dict | None = None, *args, **kwargs) -> HttpResponse:
    """django-axes lockout response: a clear page, status 429."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes}, status=429)


class UsernameLengthMixin:
    """Django's login form sets the username's max_length after the field is
    built, so nothing checks it: a 10,000-character username reached
    django-axes, whose failure record (varchar 255) then failed on
    PostgreSQL. Too long is a form error, before any authentication."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))


class PortalAuthenticationForm(UsernameLengthMixin, AuthenticationForm):
    pass


class PortalAdminAuthenticationForm(UsernameLengthMixin, AdminAuthenticationForm):
    pass


class PortalLoginView(LoginView):
    """Django's login form (``username``, ``password``; django-axes counts
    failures). A correct password is the first step: allauth's login flow
    then asks a user with a second factor for its code on its own page, and
    logs in everybody else at once. A partner user's interface then speaks
    the language of their contact record (they can switch it any time)."""

    form_class = PortalAuthenticationForm

    def get_context_data(self, **kwargs):
        from .sso import sso_enabled

        context = super().get_context_data(**kwargs)
        if sso_enabled():
            context["sso_label"] = settings.OIDC_BUTTON_LABEL
            context["sso_provider_id"] = settings.OIDC_PROVIDER_ID
        return context

    def render_to_response(self, context, **response_kwargs):
        from .sso import sso_origin

        response = super().render_to_response(context, **response_kwargs)
        if context.get("sso_provider_id") and (origin := sso_origin()):
            # The company-login button's answer redirects to the provider.
            response._csp_update = {"form-action": [origin]}
        return response

    def form_valid(self, form):
        user = form.get_user()
        response = perform_password_login(
            self.request,
            {"username": user.get_username()},
            Login(user=user, redirect_url=self.get_success_url()),
        )
        language = Contact.objects.filter(user=user).values_list("language", flat=True).first()
        if language and language in dict(settings.LANGUAGES):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        return response
