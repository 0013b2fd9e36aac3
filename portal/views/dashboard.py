"""Project-level views: the dashboard (staff overview or the partner's own
self-service page) and the health check."""

from __future__ import annotations

import logging
import sys

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from compliance import dashboard as compliance_dashboard
from partners.selectors import (
    locations_for_partner,
    notifications_for_partner,
    partner_pk_for_user,
    partners_for_user,
    support_contracts_for_partner,
    user_is_staff,
)
from portal.celery import app as celery_app
from portal.views.partners import (
    months_chart,
    partner_overview,
    support_plan_summary,
    support_plan_types_annotation,
)

logger = logging.getLogger(__name__)


class DashboardView(LoginRequiredMixin, TemplateView):
    """``/``: account managers get their portfolio at a glance, partner users
    their own progress. A login bound to no partner sees an explanation."""

    MINE_SESSION_KEY = "dashboard_mine"

    def get_template_names(self) -> list[str]:
        if user_is_staff(self.request.user):
            return ["portal/dashboard.html"]
        if partner_pk_for_user(self.request.user) is not None:
            return ["portal/partner_dashboard.html"]
        return ["portal/no_partner.html"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        context["today"] = today
        if user_is_staff(self.request.user):
            context.update(self.staff_context(today))
        elif partner_pk_for_user(self.request.user) is not None:
            context.update(self.partner_context(today))
        return context

    def staff_context(self, today) -> dict:
        session = self.request.session
        choice = self.request.GET.get("mine")
        if choice in ("0", "1"):
            session[self.MINE_SESSION_KEY] = choice == "1"
        mine = bool(session.get(self.MINE_SESSION_KEY, False))
        partners = partners_for_user(self.request.user)
        if mine:
            partners = partners.filter(account_manager=self.request.user)
        scope = f"mine-{self.request.user.pk}" if mine else "all"
        summary = compliance_dashboard.staff_dashboard(
            partners=partners,
            today=today,
            scope=scope,
            at_risk_sort=self.request.GET.get("risk_sort", ""),
        )
        return {
            "mine": mine,
            "summary": summary,
            "chart": months_chart(summary.revenue, _("Revenue (USD)")),
            "missing_rates": [gap for m in summary.revenue for gap in m.missing],
            "statuses": STATUS_COLUMNS,
        }

    def partner_context(self, today) -> dict:
        partner = (
            partners_for_user(self.request.user)
            .select_related("account_manager")
            .annotate(**support_plan_types_annotation(today))
            .get()
        )
        contracts = list(support_contracts_for_partner(partner=partner))
        context = partner_overview(partner, today)
        context.update(
            partner=partner,
            locations=list(locations_for_partner(partner=partner)),
            support=support_plan_summary(partner, contracts, today),
            notifications=notifications_for_partner(partner=partner, sent_only=True, limit=10),
        )
        return context


STATUS_COLUMNS = ["compliant", "at_risk", "non_compliant", "error", "not_applicable"]


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("healthz: database check failed: %s", exc)
        return False, type(exc).__name__
    return True, "ok"


def _broker_ok() -> tuple[bool, str]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logger.warning("healthz: broker check failed: %s", exc)
        return False, type(exc).__name__
    return True, "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    healthy = db_ok and broker_ok
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "database": db_detail,
            "broker": broker_detail,
        },
        status=200 if healthy else 503,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: our error page, never a stack trace. When the database
    is the cause (down, refusing connections) it is a 503 with Retry-After -
    the request can simply be repeated later - otherwise a 500."""
    exc = sys.exc_info()[1]
    unavailable = isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    )
    template = loader.get_template("503.html" if unavailable else "500.html")
    response = HttpResponse(template.render(), status=503 if unavailable else 500)
    if unavailable:
        response["Retry-After"] = "60"
    return response
