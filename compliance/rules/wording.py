"""The explanations of results in plain words, in English and German
(PRODUCT 4.7). Money and dates are shown by ``core.formatting``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from core.formatting import format_date, format_usd, is_german

from .codes import AGREEMENT, COMPLIANT, DESIGNATION, DIRECT_BILL, ERROR, LOCATION, NOT_APPLICABLE
from .support import PLAN_SHORT_NAMES, SupportNote

if TYPE_CHECKING:  # the evaluation builds results and asks this module to word them
    from .evaluation import Result


def _plan(plan_type: str | None) -> str:
    return PLAN_SHORT_NAMES.get(plan_type or "", plan_type or "")


def _plans(types: tuple[str, ...], de: bool) -> str:
    names = [_plan(t) for t in types]
    if len(names) <= 1:
        return "".join(names)
    joiner = " oder " if de else " or "
    return ", ".join(names[:-1]) + joiner + names[-1]


def plan_names(types: Iterable[str], language: str = "en") -> str:
    """``ASfP or PSfP`` (``ASfP oder PSfP`` in German): plan types by their
    short names, as the explanations list the qualifying plans."""
    return _plans(tuple(types), is_german(language))


def _days(days: int, de: bool) -> str:
    if days == 0:
        return "heute" if de else "today"
    if days > 0:
        if de:
            return f"{days} Tag" if days == 1 else f"{days} Tage"
        return f"{days} day" if days == 1 else f"{days} days"
    ago = -days
    if de:
        return f"vor {ago} Tag verstrichen" if ago == 1 else f"vor {ago} Tagen verstrichen"
    return f"passed {ago} day ago" if ago == 1 else f"passed {ago} days ago"


_GERMAN_ERRORS = (
    ("TTM revenue could not be computed", "TTM-Umsatz nicht berechenbar"),
    ("no exchange rate for", "kein Wechselkurs für"),
    ("; also for", "; außerdem für"),
    ("cannot evaluate:", "nicht bewertbar:"),
    ("(onboarded on", "(Onboarding am"),
)


def _error_text(error: str, de: bool) -> str:
    if de:
        for en, german in _GERMAN_ERRORS:
            error = error.replace(en, german)
    return error


def _not_applicable_text(result: Result, de: bool) -> str:
    reason = result.not_applicable_reason
    policy = result.policy
    if reason == "inactive":
        if result.subject_type == LOCATION:
            text = "der Standort ist nicht aktiv" if de else "the location is not active"
        else:
            text = "der Partner ist nicht aktiv" if de else "the partner is not active"
    elif reason == "billing_model" and policy is not None:
        if policy.applies_to == DIRECT_BILL:
            text = (
                "die Richtlinie gilt für Direct-Bill-Partner"
                if de
                else "the policy is for direct-bill partners"
            )
        else:
            text = (
                "die Richtlinie gilt für indirekte Reseller"
                if de
                else "the policy is for indirect resellers"
            )
    elif reason == "subject_level" and policy is not None:
        if policy.subject_level == LOCATION:
            text = (
                "die Richtlinie wird je Standort bewertet"
                if de
                else "the policy is evaluated per location"
            )
        else:
            text = (
                "die Richtlinie wird je Partner bewertet"
                if de
                else "the policy is evaluated per partner"
            )
    elif reason == "not_in_force" and policy is not None:
        start = format_date(policy.effective_from, "de" if de else "en")
        if policy.effective_to is None:
            period = f"ab {start}" if de else f"from {start}"
        else:
            end = format_date(policy.effective_to, "de" if de else "en")
            period = f"vom {start} bis {end}" if de else f"from {start} to {end}"
        text = (
            f"Richtlinie {policy.code} gilt {period}"
            if de
            else f"policy {policy.code} is in force {period}"
        )
    else:
        text = ""
    prefix = "nicht anwendbar" if de else "not applicable"
    return f"{prefix}: {text}" if text else prefix


def _revenue_text(result: Result, de: bool) -> str:
    lang = "de" if de else "en"
    if result.ttm_revenue_usd is None:
        return _error_text(result.error or "TTM revenue could not be computed", de)
    assert result.threshold_usd is not None  # noqa: S101 - only called with a threshold
    ttm = format_usd(result.ttm_revenue_usd, lang)
    threshold = format_usd(result.threshold_usd, lang)
    shortfall = result.shortfall_usd or Decimal(0)
    if de:
        gap = "erfüllt" if shortfall == 0 else f"{format_usd(shortfall, lang)} fehlen"
        return f"TTM-Umsatz {ttm} von {threshold} erforderlich ({gap})"
    gap = "met" if shortfall == 0 else f"{format_usd(shortfall, lang)} short"
    return f"TTM revenue {ttm} of {threshold} required ({gap})"


def _support_text(note: SupportNote, de: bool) -> str:
    lang = "de" if de else "en"
    plan = _plan(note.plan_type)
    wanted = _plans(note.qualifying_plan_types, de)
    if note.kind == "paid_until":
        assert note.end is not None  # noqa: S101
        end = format_date(note.end, lang)
        return (
            f"Supportplan {plan} bezahlt bis {end}"
            if de
            else f"support plan {plan} paid until {end}"
        )
    if note.kind == "unpaid":
        assert note.start is not None and note.end is not None  # noqa: S101
        start, end = format_date(note.start, lang), format_date(note.end, lang)
        if de:
            return f"Supportplan {plan} ({start} bis {end}) nicht bezahlt"
        return f"support plan {plan} ({start} to {end}) not paid"
    missing = (
        f"kein aktiver bezahlter Supportplan ({wanted})"
        if de
        else f"no active paid support plan ({wanted})"
    )
    if note.kind == "starts":
        assert note.start is not None  # noqa: S101
        start = format_date(note.start, lang)
        return (
            f"{missing}: {plan} beginnt am {start}" if de else f"{missing}: {plan} starts {start}"
        )
    if note.kind == "not_qualifying":
        return f"{missing}: {plan} zählt nicht" if de else f"{missing}: {plan} does not qualify"
    if note.kind == "ended":
        assert note.end is not None  # noqa: S101
        end = format_date(note.end, lang)
        return f"{missing}: {plan} endete am {end}" if de else f"{missing}: {plan} ended {end}"
    return missing


def _designation_text(count: int, de: bool) -> str:
    if count < 1:
        return "keine Solutions Partner-Bezeichnung" if de else "no Solutions Partner designation"
    if de:
        noun = "Solutions Partner-Bezeichnung" if count == 1 else "Solutions Partner-Bezeichnungen"
    else:
        noun = "Solutions Partner designation" if count == 1 else "Solutions Partner designations"
    return f"{count} {noun}"


def _agreement_text(signed: date | None, as_of: date, de: bool) -> str:
    lang = "de" if de else "en"
    if signed is None:
        return (
            "Microsoft Partner Agreement nicht unterzeichnet"
            if de
            else "Microsoft Partner Agreement not signed"
        )
    when = format_date(signed, lang)
    if signed > as_of:
        if de:
            return f"Microsoft Partner Agreement noch nicht unterzeichnet (datiert {when})"
        return f"Microsoft Partner Agreement not signed yet (dated {when})"
    if de:
        return f"Microsoft Partner Agreement unterzeichnet am {when}"
    return f"Microsoft Partner Agreement signed on {when}"


def _deadline_text(result: Result, de: bool) -> str:
    lang = "de" if de else "en"
    if result.deadline is None:
        return (
            "kein Stichtag: kein bezahlter qualifizierender Supportplan zum Verlängern"
            if de
            else "no deadline: no paid qualifying support plan to renew"
        )
    days = (result.deadline - result.as_of).days
    word = "Stichtag" if de else "deadline"
    return f"{word} {format_date(result.deadline, lang)} ({_days(days, de)})"


def _missed_text(missed: date, as_of: date, de: bool) -> str:
    lang = "de" if de else "en"
    days = _days((missed - as_of).days, de)
    if de:
        return f"Stichtag {format_date(missed, lang)} verpasst ({days}), noch nicht erledigt"
    return f"missed deadline {format_date(missed, lang)} ({days}), not resolved yet"


def explain(result: Result, de: bool) -> str:
    if result.status == NOT_APPLICABLE:
        return _not_applicable_text(result, de)
    parts: list[str] = []
    if result.readiness_check and result.status != ERROR:
        if result.status == COMPLIANT:
            parts.append("bereit für Direct Bill" if de else "ready for direct bill")
        else:
            parts.append("nicht bereit für Direct Bill" if de else "not ready for direct bill")
    if result.missed_deadline is not None:
        parts.append(_missed_text(result.missed_deadline, result.as_of, de))
    if result.threshold_usd is not None:
        parts.append(_revenue_text(result, de))
    if result.support is not None:
        parts.append(_support_text(result.support, de))
    if DESIGNATION in result.requirements:
        parts.append(_designation_text(result.designation_count or 0, de))
    if AGREEMENT in result.requirements:
        parts.append(_agreement_text(result.agreement_signed_on, result.as_of, de))
    if not result.readiness_check:
        parts.append(_deadline_text(result, de))
    return "; ".join(parts)
