"""The deadline outlook (PRODUCT 4.9), as pure functions on plain values.

Today's TTM answers "where do we stand"; the deadline is judged on a
different window, so the outlook says what already counts for the deadline
and what is still needed:

- ``W``, the deadline window: the TTM window of the deadline date;
- **secured**: all revenue dated inside ``W`` (booked: it counts on the
  deadline whatever happens next; credits included, revenue dated today or
  later too);
- **rolling off**: revenue in today's TTM dated before ``W`` starts;
- **needed**: ``max(0, threshold - secured)``;
- **pace**: revenue of the three complete calendar months before the month of
  the evaluation date, per day of those months;
- **projected**: ``secured + pace x days to the deadline``, exact (the pace
  is not rounded before it is multiplied);
- **outlook**: ``met`` when secured >= threshold, else ``on_track`` when
  projected >= threshold, else ``short``.

The engine sums revenue over :func:`outlook_windows` set-based and hands the
sums to :func:`deadline_outlook`. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from core.formatting import format_date, format_usd, is_german

from .dates import ONE_DAY, Window, month_start, ttm_window

MET = "met"
ON_TRACK = "on_track"
SHORT = "short"
OUTLOOKS = (MET, ON_TRACK, SHORT)
# Enough significant digits that sums of stored amounts and their products
# with a day count are exact; the one division (the pace) is carried to
# these digits, never rounded to cents before it is used.
_PRECISION = 80


def pace_window(as_of: date) -> Window:
    """The three complete calendar months before the month of ``as_of``."""
    first = month_start(as_of)
    start = first
    for _ in range(3):
        start = month_start(start - ONE_DAY)
    return Window(start, first - ONE_DAY)


@dataclass(frozen=True, slots=True)
class OutlookWindows:
    """The date ranges whose revenue the outlook of one deadline needs."""

    as_of: date
    deadline: date
    #: ``W``: the deadline's TTM window
    secured: Window
    #: today's TTM before ``W`` starts; None when ``W`` starts first (a
    #: deadline more than a year away)
    rolling_off: Window | None
    pace: Window

    @property
    def days_to_deadline(self) -> int:
        return (self.deadline - self.as_of).days


def outlook_windows(as_of: date, deadline: date | None) -> OutlookWindows | None:
    """The windows for a deadline after ``as_of``; None for no deadline, or
    a deadline that is today or has passed (the outlook is for what is
    still to come)."""
    if deadline is None or deadline <= as_of:
        return None
    window = ttm_window(deadline)
    today = ttm_window(as_of)
    end = min(today.end, window.start - ONE_DAY)
    rolling_off = Window(today.start, end) if end >= today.start else None
    return OutlookWindows(as_of, deadline, window, rolling_off, pace_window(as_of))


@dataclass(frozen=True, slots=True)
class Outlook:
    """The outlook of one subject for one deadline. Amounts are exact USD
    (round half-up to cents for display only)."""

    deadline: date
    days_to_deadline: int
    threshold_usd: Decimal
    secured_usd: Decimal
    rolling_off_usd: Decimal
    needed_usd: Decimal
    #: USD a day, carried to many digits (display rounds)
    pace_usd: Decimal
    projected_usd: Decimal
    outlook: str

    def explanation(self, language: str = "en") -> str:
        """One sentence for partners and account managers."""
        de = is_german(language)
        deadline = format_date(self.deadline, language)
        secured = format_usd(self.secured_usd, language)
        if self.outlook == MET:
            if de:
                return (
                    f"{secured} zählen bereits für den {deadline}; die Schwelle von "
                    f"{format_usd(self.threshold_usd, language)} ist erreicht."
                )
            return (
                f"{secured} already counts for {deadline}; the threshold of "
                f"{format_usd(self.threshold_usd, language)} is reached."
            )
        needed = format_usd(self.needed_usd, language)
        pace = format_usd(self.pace_usd, language)
        projected = format_usd(self.projected_usd, language)
        days = self.days_to_deadline
        if de:
            tage = "Tag" if days == 1 else "Tagen"
            return (
                f"{secured} zählen bereits für den {deadline}; {needed} fehlen noch, in "
                f"{days} {tage}. Im Tempo der letzten drei Monate ({pace} am Tag) "
                f"würden Sie {projected} erreichen."
            )
        noun = "day" if days == 1 else "days"
        return (
            f"{secured} already counts for {deadline}; {needed} still needed in {days} "
            f"{noun}. At your pace of the last three months ({pace} a day) you would "
            f"reach {projected}."
        )


def deadline_outlook(
    *,
    windows: OutlookWindows,
    threshold_usd: Decimal,
    secured_usd: Decimal,
    rolling_off_usd: Decimal,
    pace_total_usd: Decimal,
) -> Outlook:
    """PRODUCT 4.9 from the sums over ``windows`` (USD, exact)."""
    with localcontext() as context:
        context.prec = _PRECISION
        days = windows.days_to_deadline
        pace = pace_total_usd / windows.pace.days
        projected = secured_usd + pace_total_usd * days / windows.pace.days
        needed = max(Decimal(0), threshold_usd - secured_usd)
        if secured_usd >= threshold_usd:
            outlook = MET
        elif projected >= threshold_usd:
            outlook = ON_TRACK
        else:
            outlook = SHORT
        return Outlook(
            deadline=windows.deadline,
            days_to_deadline=days,
            threshold_usd=threshold_usd,
            secured_usd=+secured_usd,
            rolling_off_usd=+rolling_off_usd,
            needed_usd=+needed,
            pace_usd=+pace,
            projected_usd=+projected,
            outlook=outlook,
        )


def ttm_on(day: date, lines: list[tuple[date, Decimal]]) -> Decimal:
    """TTM of ``lines`` (date, USD) as it will stand on ``day`` from booked
    revenue alone (for the chart of the TTM until the deadline)."""
    window = ttm_window(day)
    return sum((amount for dated, amount in lines if dated in window), Decimal(0))
