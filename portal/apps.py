from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self) -> None:
        # django-allauth reports these as signals only (docs/decisions/0010).
        from allauth.account.signals import user_logged_in as allauth_logged_in
        from allauth.mfa.signals import authentication_failed, authenticator_removed
        from allauth.socialaccount.signals import social_account_removed
        from allauth.usersessions.signals import on_user_logged_in as allauth_session_start
        from django.contrib.auth.signals import user_logged_in

        from . import mfa, sessions

        authentication_failed.connect(mfa.count_failed_code, dispatch_uid="portal-mfa-lockout")
        authenticator_removed.connect(sessions.on_factor_removed, dispatch_uid="portal-mfa-off")
        # One row per login, written by sessions.on_logged_in for every kind of
        # login; allauth's own would first load every other session of the
        # user to purge the stale ones (the session page does that).
        allauth_logged_in.disconnect(receiver=allauth_session_start)
        user_logged_in.connect(sessions.on_logged_in, dispatch_uid="portal-session-start")
        social_account_removed.connect(sessions.on_sso_removed, dispatch_uid="portal-sso-off")
