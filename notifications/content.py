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
from compliance.rules import outlook as outlook_rules
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


def _missing(facts: dict[str, Any], language: str, deadline: datetime.date) -> list[dict[str, str]]:
    """One line per unmet requirement: what is missing, with the numbers, and
    what to do about it."""
    lines: list[dict[str, str]] = []
    outlook = _outlook(facts, language, deadline)
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
            if outlook and outlook["known"]:
                # What the deadline judges, not today's gap (PRODUCT 4.9).
                if outlook["needed_value"] > 0:
                    todo = _revenue_todo(outlook)
                else:
                    todo = _(
                        "No more revenue is needed for the deadline: what is already booked "
                        "for it reaches %(threshold)s."
                    ) % {"threshold": outlook["threshold"]}
            else:
                todo = _(
                    "Book the missing %(shortfall)s in revenue before the deadline and make "
                    "sure every invoice has reached us."
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


def _revenue_todo(outlook: dict[str, Any]) -> str:
    return _(
        "Book at least %(needed)s more in revenue dated up to %(last_day)s (only that counts "
        "for the deadline) and make sure every invoice has reached us."
    ) % {"needed": outlook["needed"], "last_day": outlook["last_day"]}


def _outlook(
    facts: dict[str, Any], language: str, deadline: datetime.date
) -> dict[str, Any] | None:
    """The deadline outlook (PRODUCT 4.9) of a message, formatted for
    ``language``: what already counts for the deadline, what rolls off
    before it, what is still needed, the pace and where it leads, and the
    outlook in words. None when the message has no revenue threshold, or
    its facts were planned before outlooks existed."""
    threshold = facts.get("threshold_usd")
    if threshold is None or "secured_usd" not in facts:
        return None
    secured = facts.get("secured_usd")
    code = facts.get("outlook") or ""
    if secured is None or (code and code not in outlook_rules.OUTLOOKS):
        return {"known": False}
    needed = Decimal(str(facts.get("needed_usd") or 0))
    result: dict[str, Any] = {
        "known": True,
        "code": code,
        "secured": _money(secured, language),
        "needed": _money(needed, language),
        "needed_value": needed,
        "threshold": _money(threshold, language),
        "rolling_off": "",
        "pace": "",
        "projected": "",
        "gap": "",
    }
    window = rules.ttm_window(deadline)
    result["window_start"] = format_date(window.start, language)
    result["last_day"] = format_date(window.end, language)
    rolling_off = facts.get("rolling_off_usd")
    if rolling_off is not None and Decimal(str(rolling_off)) > 0:
        result["rolling_off"] = _money(rolling_off, language)
    if facts.get("projected_usd") is not None and facts.get("pace_usd") is not None:
        projected = Decimal(str(facts["projected_usd"]))
        result["pace"] = _money(facts["pace_usd"], language)
        result["projected"] = _money(projected, language)
        gap = Decimal(str(threshold)) - projected
        result["gap"] = _money(gap, language) if gap > 0 else ""
    return result


def _outlook_lines(
    facts: dict[str, Any], kind: str, language: str, deadline: datetime.date
) -> list[str]:
    """The "for the deadline" lines every message carries: secured, rolling
    off, still needed, the pace, and the outlook in words."""
    outlook = _outlook(facts, language, deadline)
    if outlook is None:
        return []
    if not outlook["known"]:
        return [
            _(
                "The outlook for the deadline could not be computed (see the details below); "
                "it will be once the missing figures are in."
            )
        ]
    figures = outlook
    if kind == Kind.DEADLINE_MISSED:
        # The deadline is decided: what counted, what was missing.
        counted = _("Counted on the deadline: %(secured)s of %(threshold)s required.") % figures
        if outlook["needed_value"] > 0:
            missing = _("Missing on the deadline: %(needed)s.") % figures
        else:
            missing = _("The revenue requirement was met on the deadline.")
        return [counted, missing, _("Outlook: the deadline was missed.")]
    lines = [_("Already counts for the deadline: %(secured)s.") % figures]
    if outlook["rolling_off"]:
        lines.append(
            _(
                "Rolls off before the deadline: %(rolling_off)s (revenue dated before "
                "%(window_start)s no longer counts then)."
            )
            % figures
        )
    if outlook["code"] == outlook_rules.MET:
        lines.append(_("Outlook: met. Enough revenue already counts for the deadline."))
        return lines
    lines.append(_("Still needed by the deadline: %(needed)s of %(threshold)s.") % figures)
    if outlook["projected"]:
        lines.append(
            _(
                "At the pace of the last three months (%(pace)s a day): %(projected)s on the "
                "deadline."
            )
            % figures
        )
    if outlook["code"] == outlook_rules.ON_TRACK:
        lines.append(
            _("Outlook: on track. At this pace the requirement will be met on the deadline.")
        )
    elif outlook["code"] == outlook_rules.SHORT:
        lines.append(
            _("Outlook: short. At this pace %(gap)s will still be missing on the deadline.")
            % figures
        )
    return lines


def _short_why(outlook: dict[str, Any], ttm: str) -> str:
    """Why a subject that is compliant today will miss the deadline."""
    figures = {**outlook, "ttm": ttm}
    if outlook["rolling_off"] and ttm:
        text = _(
            "Revenue in the last twelve months is %(ttm)s today, but by the deadline "
            "%(rolling_off)s of it will have rolled off: only %(secured)s counts for it, and "
            "%(needed)s is still needed."
        )
    else:
        text = _("Only %(secured)s counts for the deadline so far, and %(needed)s is still needed.")
    text = text % figures
    if outlook["projected"]:
        text += " " + (
            _(
                "At the pace of the last three months (%(pace)s a day) it would reach "
                "%(projected)s of the %(threshold)s required."
            )
            % figures
        )
    return text


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
    missing = _missing(facts, language, deadline)
    outlook = _outlook(facts, language, deadline) or {"known": False}
    # Compliant today, short at the deadline (PRODUCT section 5): nothing is
    # missing today, so the one thing to do is the revenue the deadline needs.
    short_at_deadline = (
        facts.get("status") == rules.COMPLIANT and outlook.get("code") == outlook_rules.SHORT
    )
    todo = [line["todo"] for line in missing]
    short_why = ""
    if short_at_deadline:
        short_why = _short_why(outlook, _money(ttm, language) if ttm is not None else "")
        if "revenue" not in facts.get("unmet", []):
            todo.insert(0, _revenue_todo(outlook))
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
        "missing": missing,
        "todo": todo,
        "outlook": outlook,
        "outlook_lines": _outlook_lines(facts, kind, language, deadline),
        "short_at_deadline": short_at_deadline,
        "short_why": short_why,
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


#: The staff previews: (key, kind, case). ``short`` is a subject that is
#: compliant today but short at its deadline (PRODUCT 4.9 and 5).
SHORT = "short"
PREVIEWS: tuple[tuple[str, str, str], ...] = (
    (Kind.REMINDER, Kind.REMINDER, ""),
    (f"{Kind.REMINDER}-{SHORT}", Kind.REMINDER, SHORT),
    (Kind.NO_CONTACT_WARNING, Kind.NO_CONTACT_WARNING, ""),
    (f"{Kind.NO_CONTACT_WARNING}-{SHORT}", Kind.NO_CONTACT_WARNING, SHORT),
    (Kind.DEADLINE_MISSED, Kind.DEADLINE_MISSED, ""),
    (Kind.BACK_ON_TRACK, Kind.BACK_ON_TRACK, ""),
    (f"{Kind.BACK_ON_TRACK}-{SHORT}", Kind.BACK_ON_TRACK, SHORT),
)


def preview(key: str) -> tuple[str, str] | None:
    """(kind, case) of a preview key, None for an unknown one."""
    for preview_key, kind, case in PREVIEWS:
        if preview_key == key:
            return kind, case
    return None


def sample_facts(
    kind: str, language: str = "en", case: str = ""
) -> tuple[datetime.date, int, dict[str, Any]]:
    """(deadline, offset, facts) with realistic sample data, for the staff
    preview of each template (PRODUCT example 1; the ``short`` case is the
    example of PRODUCT 4.9)."""
    if case == SHORT:
        return _short_sample(kind)
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
        "status": "at_risk",
        # USD 18,000.00 dated 2020-06-15..30 leaves the window; pace
        # March-May 2021: USD 55,200.00 / 92 days.
        "secured_usd": "194400.00",
        "rolling_off_usd": "18000.00",
        "needed_usd": "105600.00",
        "pace_usd": "600.00",
        "projected_usd": "204000.00",
        "outlook": "short",
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
        facts.update(as_of="2021-07-01", days_to_deadline=0, status="non_compliant")
        facts.update(secured_usd="212400.00", needed_usd="87600.00", outlook="")
        for name in ("rolling_off_usd", "pace_usd", "projected_usd"):
            del facts[name]
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
            status="compliant",
            secured_usd="295250.00",
            rolling_off_usd="6000.00",
            needed_usd="4750.00",
            pace_usd="600.00",
            projected_usd="301850.00",
            outlook="on_track",
        )
        facts["explanation"] = {}
        offset = 0
    return deadline, offset, facts


def _short_sample(kind: str) -> tuple[datetime.date, int, dict[str, Any]]:
    """PRODUCT 4.9's example: a reseller location compliant today (TTM USD
    1,250.00 of USD 1,000.00) whose USD 700.00 dated before the deadline's
    window rolls off; USD 550.00 secured, USD 450.00 needed, pace USD 2.00 a
    day, USD 696.00 projected on 2026-02-01 (73 days): short."""
    deadline = datetime.date(2026, 2, 1)
    figures = outlook_rules.Outlook(
        deadline=deadline,
        days_to_deadline=73,
        threshold_usd=Decimal("1000.00"),
        secured_usd=Decimal("550.00"),
        rolling_off_usd=Decimal("700.00"),
        needed_usd=Decimal("450.00"),
        outlook=outlook_rules.SHORT,
        # Aug-Oct 2025: USD 184.00 over 92 days, USD 2.00 a day
        pace_total_usd=Decimal("184.00"),
        pace_days=92,
    )
    facts: dict[str, Any] = {
        "partner_name": "Donau Cloud GmbH",
        "partner_id": "3100001",
        "location_id": "8100001",
        "policy_code": "csp-indirect-reseller-2024",
        "policy_name": "CSP indirect reseller revenue requirement (2024)",
        "policy_names": {
            "en": "CSP indirect reseller revenue requirement (2024)",
            "de": "CSP-Umsatzanforderung für indirekte Reseller (2024)",
        },
        "applies_to": "indirect_reseller",
        "subject_level": "location",
        "qualifying_plan_types": [],
        "policy_threshold_usd": "1000.00",
        "as_of": "2025-11-20",
        "days_to_deadline": 73,
        "ttm_revenue_usd": "1250.00",
        "threshold_usd": "1000.00",
        "shortfall_usd": "0",
        "unmet": [],
        "status": "compliant",
        "secured_usd": "550.00",
        "rolling_off_usd": "700.00",
        "needed_usd": "450.00",
        "pace_usd": "2.00",
        "projected_usd": "696.00",
        "outlook": "short",
        "explanation": {
            "en": "TTM revenue USD 1,250.00 of USD 1,000.00 required; deadline 2026-02-01 "
            f"(73 days). {figures.explanation('en')}",
            "de": "TTM-Umsatz 1.250,00 USD von 1.000,00 USD erforderlich; Frist 01.02.2026 "
            f"(73 Tage). {figures.explanation('de')}",
        },
        "account_manager_name": "Maria Huber",
        "account_manager_email": "maria.huber@distributor.example",
    }
    offset = 90  # offsets 90/60/30: 73 days crossed the 90-day one
    if kind == Kind.BACK_ON_TRACK:
        offset = 0
    return deadline, offset, facts
