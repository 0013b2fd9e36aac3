"""Display helpers of the web portal: status badges, money, dates.

Formatting only; no queries, no business rules.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from compliance import rules
from compliance.models import Outlook, RequirementCode, Status

register = template.Library()

STATUS_CLASSES = {
    "compliant": "text-bg-success",
    "at_risk": "text-bg-warning",
    "non_compliant": "text-bg-danger",
    "error": "text-bg-dark",
    "not_applicable": "text-bg-secondary",
}
STATUS_ICONS = {
    "compliant": "bi-check-circle-fill",
    "at_risk": "bi-exclamation-triangle-fill",
    "non_compliant": "bi-x-octagon-fill",
    "error": "bi-bug-fill",
    "not_applicable": "bi-dash-circle",
}
STATUS_BAR_CLASSES = {
    "compliant": "bg-success",
    "at_risk": "bg-warning",
    "non_compliant": "bg-danger",
    "error": "bg-dark",
    "not_applicable": "bg-secondary",
}
DASH = "\u2013"


def _language() -> str:
    return get_language() or "en"


@register.simple_tag
def status_badge(status: str | None, label: str = "") -> str:
    """A badge colored by status; ``label`` is put in front of the status."""
    if not status:
        return format_html('<span class="badge text-bg-light border">{}</span>', _("no data"))
    text = str(Status(status).label) if status in Status.values else status
    if label:
        text = f"{label}: {text}"
    return format_html(
        '<span class="badge {}"><i class="bi {}" aria-hidden="true"></i> {}</span>',
        STATUS_CLASSES.get(status, "text-bg-secondary"),
        STATUS_ICONS.get(status, "bi-question-circle"),
        text,
    )


OUTLOOK_CLASSES = {
    "met": "text-bg-success",
    "on_track": "text-bg-info",
    "short": "text-bg-danger",
}
OUTLOOK_ICONS = {
    "met": "bi-check2-all",
    "on_track": "bi-graph-up-arrow",
    "short": "bi-graph-down-arrow",
}


@register.simple_tag
def outlook_badge(outlook: str | None) -> str:
    """The deadline outlook (PRODUCT 4.9) as a badge with an icon and its
    word (readable without colour); a dash when there is none."""
    if outlook not in Outlook.values:
        return DASH
    return format_html(
        '<span class="badge {}"><i class="bi {}" aria-hidden="true"></i> {}</span>',
        OUTLOOK_CLASSES[outlook],
        OUTLOOK_ICONS[outlook],
        Outlook(outlook).label,
    )


@register.filter
def status_bar_class(status: str | None) -> str:
    return STATUS_BAR_CLASSES.get(status or "", "bg-secondary")


@register.filter
def status_label(status: str | None) -> str:
    if status in Status.values:
        return str(Status(status).label)
    return status or DASH


@register.filter
def usd(amount: Decimal | None) -> str:
    """``USD 1,234.50`` / ``1.234,50 USD``; a dash for no amount."""
    if amount is None or amount == "":
        return DASH
    return rules.format_usd(Decimal(amount), _language())


@register.filter
def money(amount: Decimal | None) -> str:
    """Two decimals with thousand separators, without a currency."""
    if amount is None or amount == "":
        return DASH
    text = rules.format_usd(Decimal(amount), _language())
    return text.removeprefix("USD ").removesuffix(" USD")


@register.filter
def day(value: datetime.date | datetime.datetime | None) -> str:
    """A date as ``2024-11-01`` (English) or ``01.11.2024`` (German)."""
    if value is None or value == "":
        return DASH
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return rules.format_date(value, _language())


@register.filter
def moment(value: datetime.datetime | None) -> str:
    """A date and time in the configured time zone."""
    if value is None:
        return DASH
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{rules.format_date(local.date(), _language())} {local:%H:%M}"


@register.filter
def days_until(value: datetime.date | None, today: datetime.date | None = None) -> int | None:
    if value is None:
        return None
    return (value - (today or timezone.localdate())).days


@register.filter
def percent_of(amount: Decimal | None, threshold: Decimal | None) -> int:
    """Whole percent (0..100) of ``amount`` relative to ``threshold``, for
    progress bars (the ``pct-N`` CSS classes; no style attributes)."""
    if amount is None or not threshold:
        return 0
    value = int(Decimal(amount) * 100 / Decimal(threshold))
    return max(0, min(100, value))


@register.filter
def requirement_label(code: str) -> str:
    if code in RequirementCode.values:
        return str(RequirementCode(code).label)
    return code


@register.filter
def import_kind(run) -> str:
    """An import run's kind (and file format) in the active language."""
    from partners.display import import_kind_label

    return import_kind_label(run.kind, run.file_format)


@register.filter
def import_term(value: str) -> str:
    """The dialect or layout an import run's summary names, in the active language."""
    from partners.display import import_term

    return import_term(value)


@register.filter
def explanation(row) -> str:
    """The explanation of an evaluation or deadline outcome in the active
    language. A deadline outcome keeps its explanation in English only: on a
    German page it has none (the page lists the unmet requirements)."""
    if not _language().startswith("de"):
        return row.explanation
    if not hasattr(row, "explanation_de"):
        return ""
    return row.explanation_de or row.explanation


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with ``changes`` applied (for sort links
    and pagination); a value of None removes the parameter."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    if "page" not in changes:
        params.pop("page", None)  # a new filter or sort starts on page 1
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def own_partner_id(user) -> str | None:
    """The partner id a partner user's navigation links to (one door)."""
    from partners.selectors import partners_for_user, user_is_staff

    if not user.is_authenticated or user_is_staff(user):
        return None
    return partners_for_user(user).values_list("partner_id", flat=True).first()


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in templates (None when missing)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def plan_short(plan_type: str) -> str:
    """ASfP, PSfP, Unified, Other."""
    return rules.PLAN_SHORT_NAMES.get(plan_type, plan_type)


@register.filter
def person(user) -> str:
    """A user's full name, else the username; a dash for nobody."""
    if user is None:
        return DASH
    return user.get_full_name() or user.get_username()


@register.filter
def page_window(page) -> list:
    """The page numbers to show around ``page``: the first, two either side,
    the last, ``None`` for a gap - a handful, however many pages there are
    (looping over every page of 50,000 partners cost more than the rows)."""
    paginator = page.paginator
    return [
        None if n == paginator.ELLIPSIS else n
        for n in paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    ]
