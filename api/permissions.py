"""Who may do what through the API.

Reads: any authenticated user, on the rows their queryset holds (the
selectors scope them). Writes: staff only, except that a partner user may
update the contacts of their own partner. Object actions check after the
object was looked up in the scoped queryset, so that a foreign object is a
404 (as on the web) and only an own object can be a 403.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from partners.selectors import user_is_staff


class StaffWritesOnly(BasePermission):
    """Safe methods for everyone authenticated; other methods for staff.

    A view may name actions a partner user may run on their own objects in
    ``partner_object_actions`` (e.g. ``{"update", "partial_update"}``)."""

    message = "Only staff may change this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS or getattr(view, "detail", False):
            return True  # detail actions: decided once the object is found
        return user_is_staff(request.user)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS or user_is_staff(request.user):
            return True
        return getattr(view, "action", None) in getattr(view, "partner_object_actions", set())
