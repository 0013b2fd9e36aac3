"""Notifications in the admin: read-only, filterable, searchable; failed
ones can be sent again by staff who may change notifications."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import ReadOnlyAdmin, admin_change_link

from . import services
from .models import Notification, NotificationStatus


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "kind",
        "offset",
        "subject_type",
        "subject_id",
        "partner_link",
        "policy",
        "deadline",
        "language",
        "status",
        "attempts",
        "sent_at",
    )
    list_filter = ("status", "kind", "policy", "language", "subject_type", "offset")
    list_select_related = ("partner", "policy")
    search_fields = ("^subject_id", "^partner__partner_id", "partner__name", "to", "cc")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 100
    ordering = ("-created_at", "-pk")
    actions = ("requeue",)
    fields = (
        "subject_type",
        "subject_id",
        "partner",
        "location",
        "policy",
        "deadline",
        "kind",
        "offset",
        "language",
        "to",
        "cc",
        "status",
        "attempts",
        "last_error",
        "note",
        "planned_on",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "updated_at",
        "email_link",
        "facts",
    )
    readonly_fields = fields

    def has_requeue_permission(self, request):
        return request.user.has_perm("notifications.change_notification")

    @admin.display(description=_("partner"), ordering="partner__name")
    def partner_link(self, obj):
        return admin_change_link(obj.partner)

    @admin.display(description=_("email"))
    def email_link(self, obj):
        url = reverse("notifications:email", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Show the email"))

    @admin.action(description=_("Send failed notifications again"), permissions=["requeue"])
    def requeue(self, request, queryset):
        count = services.notifications_requeue(
            notification_ids=queryset.filter(status=NotificationStatus.FAILED).values_list(
                "pk", flat=True
            ),
            user=request.user,
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d notification queued again.",
                "%(count)d notifications queued again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
