"""django-allauth's account adapter for this portal: no signup, our client
address, and the login of allauth's stages on Django's model backend."""

from __future__ import annotations

import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from django.http import HttpRequest

from .accounts import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Staff create accounts (partner contacts, staff) in the admin.
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        # The address django-axes counts by (TRUSTED_PROXY_COUNT), also in
        # the session list.
        return client_ip(request) or "0.0.0.0"  # noqa: S104 - a value, not a bind

    def login(self, request: HttpRequest, user) -> None:
        # A password login comes with the backend that authenticated it; a
        # company (SSO) login does not: it is a user of the model backend,
        # never of django-axes' checking backend (which finds no user).
        if not hasattr(user, "backend"):
            user.backend = "django.contrib.auth.backends.ModelBackend"
        super().login(request, user)

    def add_message(self, request, level, message_template=None, *args, **kwargs) -> None:
        # The portal never said "Successfully signed in"; it still does not.
        if message_template in {
            "account/messages/logged_in.txt",
            "account/messages/logged_out.txt",
        }:
            return
        super().add_message(request, level, message_template, *args, **kwargs)

    def is_reauthentication_required(self, app: str = "", **kwargs) -> bool:
        # A login a few minutes ago (password, code or company account)
        # counts as confirming it is you: staff made to enrol right after
        # their password are not asked for it again.
        request = context.request
        records = get_authentication_records(request, request.user) if request else []
        timeout = account_settings.REAUTHENTICATION_TIMEOUT
        if any(time.time() - record.get("at", 0) < timeout for record in records):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)
