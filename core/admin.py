"""The building blocks every app's admin uses: the audited admin (history
with the field diff), the read-only admin of engine output, links and money
in list columns. The site's titles and login form are the portal's
(``portal/admin.py``)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from .formatting import round_cents

if TYPE_CHECKING:
    # What the mixins below are mixed into (a ModelAdmin or an inline), so
    # that their super() calls type-check; a plain object at run time.
    _AdminBase = admin.options.BaseModelAdmin[Any]
else:
    _AdminBase = object


def format_money(amount: Decimal | None) -> str | None:
    """Two decimals, rounded half-up, with the active language's separators
    ("1,234,567.89" in English, "1.234.567,89" in German). Display only;
    ``None`` for no amount, which the admin shows as its empty value."""
    if amount is None:
        return None
    return number_format(round_cents(amount), decimal_pos=2, force_grouping=True)


def user_may(user, action: str) -> bool:
    """Whether ``user`` holds the ``action`` permission ("view", "change") on
    the user model."""
    opts = get_user_model()._meta
    return user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")


class StaffFriendlyHistoryHelper(HistoricalRecordContextHelper):
    """Shows choice fields in the history diff by their labels ("Suspended",
    not "suspended") and booleans as yes/no."""

    def prepare_delta_change_value(self, change, value):
        value = super().prepare_delta_change_value(change, value)
        field = self.model._meta.get_field(change.field)
        if field.choices and not isinstance(value, list):
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        return value


class AuditedAdmin(SimpleHistoryAdmin):
    """Base admin for models with ``history = HistoricalRecords()``: the
    "History" page lists who changed what and when, with the field diff.

    django-simple-history's "revert" form saves on POST after checking only
    the *view* permission; staff with view-only access must not be able to
    change data through it.
    """

    list_per_page = 50

    # django-simple-history's history list has one style="" attribute (the
    # paginator's top border); the Content-Security-Policy allows style
    # attributes, not <style> elements or scripts, on this page only.
    @method_decorator(csp_update({"style-src-attr": [UNSAFE_INLINE]}))
    def history_view(self, request, object_id, extra_context=None):
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(self, request, historical_record):
        return StaffFriendlyHistoryHelper(self.model, historical_record)


def admin_change_link(obj) -> str | None:
    """A link to ``obj``'s admin change page, for list columns."""
    if obj is None:
        return None
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj)


class SystemRecordMixin(_AdminBase):
    """Rows the system makes (evaluations, outcomes and cases, job, import
    and notification runs): never added or deleted by hand, in an admin or
    an inline. ``deletable = True`` lets staff with the delete permission
    remove old ones."""

    deletable = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)


class ReadOnlyAdmin(SystemRecordMixin, admin.ModelAdmin):
    """Records the system makes (evaluations, job runs, import runs):
    visible and filterable, never added, edited or deleted by hand."""

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields or [field.name for field in self.model._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False
