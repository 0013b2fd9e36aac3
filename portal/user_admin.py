"""The user admin with the second-factor reset for compliance admins
(docs/decisions/0010): it removes the user's authenticator app and recovery
codes, ends their sessions and says so in the user's history. And the admin's
login, which goes through the same two steps as the portal's."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .accounts import PortalLoginView
from .mfa import factor_reset, is_compliance_admin

User = get_user_model()


class PortalUserAdmin(UserAdmin):
    actions = ["reset_second_factor"]

    @admin.action(description=_("Reset the second factor (the user enrols again)"))
    def reset_second_factor(self, request, queryset):
        users = list(queryset)
        for user in users:
            factor_reset(user=user, by=request.user)
        self.message_user(
            request,
            ngettext(
                "Second factor reset for %(count)d user; their sessions were ended.",
                "Second factor reset for %(count)d users; their sessions were ended.",
                len(users),
            )
            % {"count": len(users)},
            messages.SUCCESS,
        )

    # Compliance admins see the users (read-only, unless they also hold the
    # user permissions) to reset a factor; they change nothing else here.
    def has_module_permission(self, request):
        return super().has_module_permission(request) or is_compliance_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or is_compliance_admin(request.user)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not is_compliance_admin(request.user):
            actions.pop("reset_second_factor", None)
        return actions


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)


def admin_login(request, extra_context=None):
    """The admin's login page (its look, its staff-only form) on the portal's
    login view: a correct password is the first step, a user with a second
    factor is asked for its code next. Django's own admin login would log in
    on the password alone."""
    site = admin.site
    if request.method == "GET" and site.has_permission(request):
        return redirect(reverse("admin:index", current_app=site.name))
    context = {
        **site.each_context(request),
        "title": _("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
    }
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=site.name)
    context.update(extra_context or {})
    request.current_app = site.name
    return PortalLoginView.as_view(
        extra_context=context,
        authentication_form=site.login_form,
        template_name="admin/login.html",
    )(request)


admin.site.login = admin_login
