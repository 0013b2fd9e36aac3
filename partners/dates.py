"""How far ahead a date may be (docs/decisions/0007-dates-in-the-future.md).

One rule per kind of date, the same on every door: the services enforce it
(``partners.services``, ``api.services``), and the forms, the API
serializers and the imports ask it too, so that every bad value is reported
together with the other errors of its form, request or file - in the same
words everywhere.

- **onboarding** (partners and locations) and **agreement** (Microsoft
  Partner Agreement signed) dates: not after today;
- **revenue** dates: up to the last day of the calendar month after today's
  (Partner Center books a charge period that starts next month).

Pure: plain dates in, a message or None out. "Today" is the configured
``TIME_ZONE``'s (``timezone.localdate()``) unless the caller passes one.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy


def end_of_next_month(today: datetime.date) -> datetime.date:
    """The last day of the calendar month after ``today``'s."""
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def _today(today: datetime.date) -> datetime.date:
    return today


@dataclass(frozen=True)
class DateLimit:
    """The latest allowed date of one kind of date, and what to say beyond it."""

    #: today -> the latest allowed date
    latest: Callable[[datetime.date], datetime.date]
    #: ``%(date)s`` is the refused date, ``%(latest)s`` the latest allowed (ISO)
    message: Promise

    def latest_allowed(self, today: datetime.date | None = None) -> datetime.date:
        return self.latest(today or timezone.localdate())

    def problem(self, day: datetime.date | None, *, today: datetime.date | None = None) -> str:
        """Why ``day`` is refused, or "" when it is allowed (or empty)."""
        if day is None:
            return ""
        latest = self.latest_allowed(today)
        if day <= latest:
            return ""
        return str(self.message) % {"date": day.isoformat(), "latest": latest.isoformat()}


ONBOARDING = DateLimit(
    latest=_today,
    message=gettext_lazy("onboarding date %(date)s is in the future (latest allowed %(latest)s)"),
)
AGREEMENT = DateLimit(
    latest=_today,
    message=gettext_lazy("agreement date %(date)s is in the future (latest allowed %(latest)s)"),
)
REVENUE = DateLimit(
    latest=end_of_next_month,
    message=gettext_lazy(
        "revenue date %(date)s is more than one month ahead (latest allowed %(latest)s)"
    ),
)
