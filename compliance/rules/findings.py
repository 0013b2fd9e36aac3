"""Findings as they are kept between days (PRODUCT 3, 4.7, 4.9).

The history stores a *period of unchanged findings* per (subject, policy):
what only the calendar changes is derived on read for the day asked about -
the days to the deadline, the projected figure and the explanation in the
reader's language. This module is the one translation between a result of
the rules and what a period keeps, and back:

- :func:`why_of` - the language-neutral reasons an explanation is worded
  from (support plan, designations, agreement, missed deadline, policy
  period for "not in force", why an outlook is unknown), as JSON values;
- :meth:`StoredFindings.outlook_on` - the outlook of a stored period on
  one day (its pace and projection derived exactly from the pace window's
  sum and length, never from a rounded pace);
- :func:`explanation_on` - the words of a stored period on one day, the
  same words the evaluation of that day gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .evaluation import PolicySpec, Result
from .outlook import Outlook, unknown_explanation
from .support import SupportNote


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def why_of(result: Result, outlook_error: str = "") -> dict[str, Any]:
    """What ``result``'s explanation needs beyond the stored figures, as
    JSON values (compared night to night with the figures: a new reason is
    a new period). Keys are left out when they say nothing."""
    why: dict[str, Any] = {}
    if result.not_applicable_reason:
        why["na"] = result.not_applicable_reason
        policy = result.policy
        if result.not_applicable_reason in ("billing_model", "subject_level", "not_in_force"):
            assert policy is not None  # noqa: S101 - the rules set it with a reason
            why["policy"] = [
                policy.code,
                policy.applies_to,
                policy.subject_level,
                _iso(policy.effective_from),
                _iso(policy.effective_to),
            ]
    if result.readiness_check:
        why["ready"] = True
    if result.missed_deadline is not None:
        why["missed"] = _iso(result.missed_deadline)
    note = result.support
    if note is not None:
        why["support"] = [
            note.kind,
            list(note.qualifying_plan_types),
            note.plan_type,
            _iso(note.start),
            _iso(note.end),
        ]
    if result.designation_count is not None:
        why["designations"] = result.designation_count
    if result.agreement_signed_on is not None:
        why["agreement"] = _iso(result.agreement_signed_on)
    if outlook_error:
        why["outlook_error"] = outlook_error
    return why


@dataclass(frozen=True, slots=True)
class StoredFindings:
    """A stored period's figures (what the explanation is worded from)."""

    status: str
    ttm_revenue_usd: Decimal | None
    threshold_usd: Decimal | None
    shortfall_usd: Decimal | None
    requirements: dict[str, bool]
    unmet: tuple[str, ...]
    deadline: date | None
    error: str
    why: dict[str, Any]
    policy_code: str
    subject_type: str = ""
    secured_usd: Decimal | None = None
    rolling_off_usd: Decimal | None = None
    needed_usd: Decimal | None = None
    pace_total_usd: Decimal | None = None
    pace_days: int | None = None
    outlook: str = ""

    def outlook_on(self, day: date) -> Outlook | None:
        """The outlook with its day-dependent figures as of ``day``."""
        if (
            not self.outlook
            or self.deadline is None
            or self.secured_usd is None
            or self.pace_total_usd is None
            or not self.pace_days
            or self.threshold_usd is None
        ):
            return None
        days = (self.deadline - day).days
        return Outlook(
            deadline=self.deadline,
            days_to_deadline=days,
            threshold_usd=self.threshold_usd,
            secured_usd=self.secured_usd,
            rolling_off_usd=self.rolling_off_usd or Decimal(0),
            needed_usd=self.needed_usd or Decimal(0),
            outlook=self.outlook,
            pace_total_usd=self.pace_total_usd,
            pace_days=self.pace_days,
        )

    def result_on(self, day: date) -> Result:
        """The rules' result these findings stand for on ``day``."""
        why = self.why
        policy = None
        if "policy" in why:
            code, applies_to, level, start, end = why["policy"]
            policy = PolicySpec(
                code=code,
                applies_to=applies_to,
                subject_level=level,
                effective_from=date.fromisoformat(start),
                effective_to=_day(end),
                deadline_anchor="support_plan_renewal",
                reminder_offsets=(),
                threshold_usd=None,
                qualifying_plan_types=None,
            )
        support = None
        if "support" in why:
            kind, qualifying, plan_type, start, end = why["support"]
            support = SupportNote(kind, tuple(qualifying), plan_type, _day(start), _day(end))
        deadline = self.deadline
        return Result(
            status=self.status,
            as_of=day,
            ttm_revenue_usd=self.ttm_revenue_usd,
            threshold_usd=self.threshold_usd,
            shortfall_usd=self.shortfall_usd,
            requirements=dict(self.requirements),
            unmet=tuple(self.unmet),
            deadline=deadline,
            days_to_deadline=None if deadline is None else (deadline - day).days,
            last_deadline=None,
            error=self.error or None,
            policy_code=self.policy_code,
            subject_type=self.subject_type,
            not_applicable_reason=why.get("na"),
            support=support,
            designation_count=why.get("designations"),
            agreement_signed_on=_day(why.get("agreement")),
            missed_deadline=_day(why.get("missed")),
            readiness_check=bool(why.get("ready")),
            policy=policy,
        )


def explanation_on(findings: StoredFindings, day: date, language: str = "en") -> str:
    """The evaluation's words on ``day``, then the outlook's - exactly what
    the evaluation of ``day`` says (PRODUCT 4.7, 4.9)."""
    text = findings.result_on(day).explanation(language)
    outlook = findings.outlook_on(day)
    if outlook is not None:
        return f"{text} {outlook.explanation(language)}"
    error = findings.why.get("outlook_error")
    if error:
        return f"{text} {unknown_explanation(error, language)}"
    return text


__all__ = ["StoredFindings", "explanation_on", "why_of"]
