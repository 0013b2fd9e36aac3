"""Who may open a page: the one staff check of every page and export.

Anonymous users go to the login page; a signed-in user who is not staff gets
403 on a staff page. Objects named in the URL are reached through the
selectors that take the user (STYLE.md "Access control: one door"), so a
foreign or unknown one is 404.
"""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from partners import selectors
from partners.models import Partner


class StaffRequiredMixin(LoginRequiredMixin):
    """Staff pages: anonymous users go to the login page, partner users get 403.

    ``staff_only = False`` lets every signed-in user in; what they see is then
    up to the selectors (the partner pages, the revenue export). A view that
    looks up an object in the URL does it after this check (a lazy property),
    so that a partner user gets the same 403 for an own and a foreign object;
    ``PartnerScopedMixin`` is the exception: there the partner comes first."""

    staff_only = True

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.staff_only and not selectors.user_is_staff(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class PartnerScopedMixin(StaffRequiredMixin):
    """Pages under ``/partners/<partner_id>/``. The partner comes from the URL
    through the one door: unknown or foreign is 404 (also on staff-only pages,
    which are 403 for a partner user's own partner)."""

    staff_only = False
    partner: Partner

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if request.user.is_authenticated:
            self.partner = self.get_partner(request, kwargs["partner_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_partner(self, request: HttpRequest, partner_id: str) -> Partner:
        return selectors.partner_get_for_user(user=request.user, partner_id=partner_id)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["partner"] = self.partner
        context["is_staff"] = selectors.user_is_staff(self.request.user)
        return context
