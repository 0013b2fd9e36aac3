"""What a notification says: the template context in the reader's language
and the rendered subject, plain-text and HTML parts.

The figures come from ``Notification.facts`` (a snapshot taken when the
message was planned), so a retry a day later says what was true then.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from compliance import rules
from core.formatting import format_date, format_usd
from partners.models import PlanType

from .models import Kind

TEMPLATE_DIR = "emails"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _money(value: Any, language: str) -> str:
    return format_usd(Decimal(str(value)), language)


def _plan_name(plan_type: str) -> str:
    """The plan's name (the model's label, in the reader's language) with
    its short name when that is an abbreviation: "Advanced Support for
    Partners (ASfP)", "Unified Support"."""
    if plan_type not in PlanType.values:
        return plan_type
    label = str(PlanType(plan_type).label)
    short = rules.PLAN_SHORT_NAMES.get(plan_type, "")
    return f"{label} ({short})" if short and short != plan_type.capitalize() else label


def _programme(facts: dict[str, Any], language: str) -> str:
    """The policy's name in ``language`` (``Policy.name_in``, taken when the
    message was planned); the English name for facts older than that."""
    names = facts.get("policy_names") or {}
    return names.get(language) or facts.get("policy_name", "")


def _plans(types: list[str]) -> str:
    names = [_plan_name(t) for t in types or rules.DEFAULT_QUALIFYING_PLAN_TYPES]
    if len(names) == 1:
        return names[0]
    return _("%(first)s or %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


def _missing(facts: dict[str, Any], language: str) -> list[dict[str, str]]:
    """One line per unmet requirement: what is missing, with the numbers, and
    what to do about it."""
    lines: list[dict[str, str]] = []
    for code in facts.get("unmet", []):
        if code == "revenue" and facts.get("threshold_usd") is not None:
            ttm = facts.get("ttm_revenue_usd")
            threshold = _money(facts["threshold_usd"], language)
            shortfall = _money(facts.get("shortfall_usd") or 0, language)
            if ttm is None:
                what = _("Revenue in the last twelve months could not be computed.")
            else:
                what = _(
                    "Revenue in the last twelve months: %(ttm)s, %(shortfall)s short of "
                    "%(threshold)s."
                ) % {
                    "ttm": _money(ttm, language),
                    "shortfall": shortfall,
                    "threshold": threshold,
                }
            todo = _(
                "Book the missing %(shortfall)s in revenue before the deadline and make sure "
                "every invoice has reached us."
            ) % {"shortfall": shortfall}
        elif code == "support_plan":
            plans = _plans(facts.get("qualifying_plan_types", []))
            what = _("An active, paid support plan is missing (%(plans)s).") % {"plans": plans}
            todo = _("Buy or renew %(plans)s and pay for it, so that it covers the deadline.") % {
                "plans": plans
            }
        elif code == "designation":
            what = _("There is no Solutions Partner designation yet.")
            todo = _("Attain at least one Solutions Partner designation in Partner Center.")
        elif code == "agreement":
            what = _("The Microsoft Partner Agreement has not been signed.")
            todo = _("Sign the Microsoft Partner Agreement in Partner Center.")
        else:
            continue
        lines.append({"what": what, "todo": todo})
    return lines


def context(
    *, kind: str, language: str, deadline: datetime.date, offset: int, facts: dict[str, Any]
) -> dict[str, Any]:
    """The template context, with every text already in ``language``
    (call inside ``translation.override(language)``)."""
    partner = facts.get("partner_name", "")
    location_id = facts.get("location_id") or ""
    if location_id:
        subject_label = _("%(partner)s, location %(location)s") % {
            "partner": partner,
            "location": location_id,
        }
    else:
        subject_label = partner
    as_of = facts.get("as_of")
    days = facts.get("days_to_deadline")
    threshold = facts.get("threshold_usd")
    ttm = facts.get("ttm_revenue_usd")
    details = facts.get("explanation", {})
    return {
        "kind": kind,
        "language": language,
        "partner": partner,
        "partner_id": facts.get("partner_id", ""),
        "location_id": location_id,
        "subject_label": subject_label,
        "programme": _programme(facts, language),
        "policy_code": facts.get("policy_code", ""),
        "is_location": bool(location_id),
        "is_direct_bill": facts.get("applies_to") == "direct_bill",
        "deadline": format_date(deadline, language),
        "as_of": format_date(datetime.date.fromisoformat(as_of), language) if as_of else "",
        "days": days,
        "offset": offset,
        "ttm": _money(ttm, language) if ttm is not None else "",
        "threshold": _money(threshold, language) if threshold is not None else "",
        "missing": _missing(facts, language),
        "details": details.get(language, ""),
        "account_manager": facts.get("account_manager_name", ""),
        "account_manager_email": facts.get("account_manager_email", ""),
    }


def render(
    *, kind: str, language: str, deadline: datetime.date, offset: int, facts: dict[str, Any]
) -> Rendered:
    """Subject, plain text and HTML of one message, in ``language``."""
    if kind not in Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    with translation.override(language):
        ctx = context(kind=kind, language=language, deadline=deadline, offset=offset, facts=facts)
        subject = render_to_string(f"{TEMPLATE_DIR}/{kind}_subject.txt", ctx)
        text = render_to_string(f"{TEMPLATE_DIR}/{kind}.txt", ctx)
        html = render_to_string(f"{TEMPLATE_DIR}/{kind}.html", ctx)
    # A subject is one line; templates may wrap for readability.
    return Rendered(subject=" ".join(subject.split()), text=_tidy(text), html=html)


def _tidy(text: str) -> str:
    """Collapse the blank lines template tags leave behind (at most one)."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def sample_facts(kind: str, language: str = "en") -> tuple[datetime.date, int, dict[str, Any]]:
    """(deadline, offset, facts) with realistic sample data, for the staff
    preview of each template (PRODUCT example 1)."""
    facts: dict[str, Any] = {
        "partner_name": "Alpenblick IT GmbH",
        "partner_id": "1000001",
        "location_id": "",
        "policy_code": "csp-direct-2021",
        "policy_name": "CSP direct bill partner requirements (2021)",
        "policy_names": {
            "en": "CSP direct bill partner requirements (2021)",
            "de": "CSP-Anforderungen für die Direktabrechnung (2021)",
        },
        "applies_to": "direct_bill",
        "subject_level": "partner",
        "as_of": "2021-06-15",
        "days_to_deadline": 16,
        "ttm_revenue_usd": "212400.00",
        "threshold_usd": "300000.00",
        "shortfall_usd": "87600.00",
        "unmet": ["revenue", "support_plan"],
        "qualifying_plan_types": ["asfp", "psfp"],
        "explanation": {
            "en": "TTM revenue USD 212,400.00 of USD 300,000.00 required (USD 87,600.00 short); "
            "no active paid support plan (ASfP or PSfP): ASfP ended 2021-05-31; "
            "deadline 2021-07-01 (16 days)",
            "de": "TTM-Umsatz 212.400,00 USD von 300.000,00 USD erforderlich "
            "(87.600,00 USD fehlen); kein aktiver bezahlter Supportplan (ASfP oder PSfP): "
            "ASfP endete am 31.05.2021; Frist 01.07.2021 (16 Tage)",
        },
        "account_manager_name": "Maria Huber",
        "account_manager_email": "maria.huber@distributor.example",
    }
    deadline = datetime.date(2021, 7, 1)
    offset = 30
    if kind == Kind.DEADLINE_MISSED:
        facts.update(as_of="2021-07-01", days_to_deadline=0)
        # A deadline outcome keeps its explanation in English only.
        facts["explanation"] = {"en": facts["explanation"]["en"]}
        offset = 0
    elif kind == Kind.BACK_ON_TRACK:
        facts.update(
            as_of="2021-06-20",
            days_to_deadline=11,
            ttm_revenue_usd="301250.00",
            shortfall_usd="0",
            unmet=[],
        )
        facts["explanation"] = {}
        offset = 0
    return deadline, offset, facts
