"""The user admin with the second-factor reset for compliance admins
(docs/decisions/0010): it removes the user's authenticator app and recovery
codes, ends their sessions and says so in the user's history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

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
