"""Staff single sign-on over OpenID Connect (docs/decisions/0010): a company
login opens the portal only as an existing, active staff user with the same
verified e-mail address. No user is ever created and no right is given."""

from __future__ import annotations

from urllib.parse import urlsplit

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.translation import gettext as _


def _apps() -> list[dict]:
    return settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS") or []


def sso_enabled() -> bool:
    return bool(_apps())


def sso_origin() -> str | None:
    """The identity provider's origin (``https://login.microsoftonline.com``):
    the login page's company-login form is answered with a redirect there,
    which the policy's ``form-action`` must allow."""
    for app in _apps():
        parts = urlsplit(app.get("settings", {}).get("server_url", ""))
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def _verified_email(sociallogin: SocialLogin) -> str | None:
    """The address the provider vouches for: marked verified in the ID token
    (``email_verified``), or of a domain in ``OIDC_EMAIL_DOMAINS``."""
    domains = {d.lower() for d in settings.OIDC_EMAIL_DOMAINS}
    for address in sociallogin.email_addresses:
        email = (address.email or "").strip()
        if email and (address.verified or email.rpartition("@")[2].lower() in domains):
            return email
    return None


def _refuse(request: HttpRequest, message: str):
    raise ImmediateHttpResponse(
        render(request, "socialaccount/refused.html", {"message": message}, status=403)
    )


class StaffOnlySocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        if sociallogin.is_existing:
            user = sociallogin.user
            if not (user.is_active and user.is_staff):
                _refuse(request, _("Your company account is not linked to an active staff login."))
            return
        email = _verified_email(sociallogin)
        if email is None:
            _refuse(request, _("Your company account did not confirm an e-mail address."))
        staff = list(
            get_user_model().objects.filter(email__iexact=email, is_active=True, is_staff=True)[:2]
        )
        if len(staff) != 1:
            # Unknown, a partner user's, or shared by two staff users: nobody
            # to pick safely.
            _refuse(
                request,
                _(
                    "There is no staff login for %(email)s. Ask a compliance admin to create "
                    "one; partner users log in with their user name and password."
                )
                % {"email": email},
            )
        sociallogin.connect(request, staff[0])
