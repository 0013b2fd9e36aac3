"""Calendar rules: years on, month starts, closed date windows, the TTM
window (PRODUCT 4.1) and the onboarding-anniversary deadlines (PRODUCT 4.4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (or earlier); 29 Feb becomes
    28 Feb in a year without one."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        # Only 29 Feb can fail here (an out-of-range year fails again below).
        return day.replace(year=day.year + years, day=28)


def month_start(day: date) -> date:
    return day.replace(day=1)


@dataclass(frozen=True)
class Window:
    """A closed range of dates: both ends inclusive."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def days(self) -> int:
        """Number of days in the window, both ends counted."""
        return (self.end - self.start).days + 1


def ttm_window(as_of: date) -> Window:
    """The trailing-twelve-month window for evaluation date ``as_of``
    (PRODUCT 4.1): from the same calendar day a year earlier up to the day
    before ``as_of``, both inclusive."""
    return Window(start=add_years(as_of, -1), end=as_of - ONE_DAY)


def anniversary_month_deadline(onboarded_on: date, as_of: date) -> date:
    """PRODUCT 4.4: the first day of the month of ``onboarded_on + n years``
    for the smallest ``n >= 1`` giving a date ``>= as_of``. The onboarding
    month itself is never a deadline; once the 1st has passed, the next
    deadline is a year on."""
    first = date(onboarded_on.year + 1, onboarded_on.month, 1)
    if first >= as_of:
        return first
    this_year = date(as_of.year, onboarded_on.month, 1)
    return this_year if this_year >= as_of else this_year.replace(year=as_of.year + 1)


def anniversary_month_last_deadline(onboarded_on: date, as_of: date) -> date | None:
    """The most recent anniversary month start (``n >= 1``) on or before
    ``as_of``; None before the first anniversary month."""
    this_year = date(as_of.year, onboarded_on.month, 1)
    last = this_year if this_year <= as_of else this_year.replace(year=as_of.year - 1)
    return last if last.year > onboarded_on.year else None
