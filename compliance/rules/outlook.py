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
sums to :func:`deadline_outlook`. :func:`ttm_series` is the TTM as it will
stand on each day until the deadline (the pages' chart). No Django here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal

from core.formatting import format_date, format_usd, is_german

from .dates import ONE_DAY, Window, month_start, ttm_window

MET = "met"
ON_TRACK = "on_track"
SHORT = "short"
OUTLOOKS = (MET, ON_TRACK, SHORT)
# Enough significant digits that sums of stored amounts and their products
# with a day count are exact; the one division (the pace) is carried to
# these digits, never rounded to cents before it is used. Its methods are
# called directly (no context switch per subject of a night).
CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN)
ZERO = Decimal(0)


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
    #: computed once: the windows of one deadline serve many subjects
    days_to_deadline: int = field(init=False)
    pace_days: int = field(init=False)
    #: the day after ``rolling_off``: today's revenue dated before it rolls
    #: off before the deadline (the TTM scan's cut); None when none does
    cut: date | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "days_to_deadline", (self.deadline - self.as_of).days)
        object.__setattr__(self, "pace_days", self.pace.days)
        rolling_off = self.rolling_off
        object.__setattr__(self, "cut", rolling_off.end + ONE_DAY if rolling_off else None)


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


@dataclass(slots=True)
class Outlook:
    """The outlook of one subject for one deadline. Amounts are exact USD
    (round half-up to cents for display only). The pace and the projection
    are derived from the pace window's sum and length (what a stored period
    keeps), exactly, when they are read. Not frozen: a night makes one per
    subject, and a frozen dataclass takes five times as long to make."""

    deadline: date
    days_to_deadline: int
    threshold_usd: Decimal
    secured_usd: Decimal
    rolling_off_usd: Decimal
    needed_usd: Decimal
    outlook: str
    #: the pace window's sum and its length in days
    pace_total_usd: Decimal
    pace_days: int

    @property
    def pace_usd(self) -> Decimal:
        """USD a day, carried to many digits (display rounds)."""
        return pace(self.pace_total_usd, self.pace_days)

    @property
    def projected_usd(self) -> Decimal:
        return projected(
            self.secured_usd, self.pace_total_usd, self.pace_days, self.days_to_deadline
        )

    def explanation(self, language: str = "en", *, staff: bool = False) -> str:
        """One sentence for the partner ("at your pace"), or with ``staff``
        for account managers ("at the pace")."""
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
            reach = f"würden {projected} erreicht" if staff else f"würden Sie {projected} erreichen"
            return (
                f"{secured} zählen bereits für den {deadline}; {needed} fehlen noch, in "
                f"{days} {tage}. Im Tempo der letzten drei Monate ({pace} am Tag) "
                f"{reach}."
            )
        noun = "day" if days == 1 else "days"
        pace_of = "At the pace" if staff else "At your pace"
        reach = "it would reach" if staff else "you would reach"
        return (
            f"{secured} already counts for {deadline}; {needed} still needed in {days} "
            f"{noun}. {pace_of} of the last three months ({pace} a day) {reach} "
            f"{projected}."
        )


def unknown_explanation(error: str, language: str = "en") -> str:
    """The sentence for an outlook a missing exchange rate leaves unknown
    (never zero)."""
    if is_german(language):
        return f"Ausblick auf die Frist unbekannt: {error}."
    return f"Deadline outlook unknown: {error}."


def pace(pace_total: Decimal, pace_days: int) -> Decimal:
    """USD a day over the pace window, exact (display rounds)."""
    return CONTEXT.divide(pace_total, pace_days)


def projected(secured: Decimal, pace_total: Decimal, pace_days: int, days: int) -> Decimal:
    """``secured + pace x days`` with the pace as the exact quotient
    ``pace_total / pace_days``: not rounded before it is multiplied."""
    return CONTEXT.add(secured, CONTEXT.divide(CONTEXT.multiply(pace_total, days), pace_days))


def deadline_outlook(
    *,
    windows: OutlookWindows,
    threshold_usd: Decimal,
    secured_usd: Decimal,
    rolling_off_usd: Decimal,
    pace_total_usd: Decimal,
) -> Outlook:
    """PRODUCT 4.9 from the sums over ``windows`` (USD, exact). Called for
    every subject of a night, so it divides nothing: ``projected >=
    threshold`` is decided as ``secured x pace days + pace total x days >=
    threshold x pace days`` (the same inequality times the pace window's
    length, exact in integers of cents and rates)."""
    days = windows.days_to_deadline
    pace_days = windows.pace_days
    if secured_usd >= threshold_usd:
        outlook, needed = MET, ZERO
    else:
        needed = CONTEXT.subtract(threshold_usd, secured_usd)
        reached = CONTEXT.add(
            CONTEXT.multiply(secured_usd, pace_days), CONTEXT.multiply(pace_total_usd, days)
        )
        outlook = ON_TRACK if reached >= CONTEXT.multiply(threshold_usd, pace_days) else SHORT
    return Outlook(
        windows.deadline,
        days,
        threshold_usd,
        secured_usd,
        rolling_off_usd,
        needed,
        outlook,
        pace_total_usd,
        pace_days,
    )


def ttm_on(day: date, lines: list[tuple[date, Decimal]]) -> Decimal:
    """TTM of ``lines`` (date, USD) as it will stand on ``day`` from booked
    revenue alone (for the chart of the TTM until the deadline)."""
    window = ttm_window(day)
    return sum((amount for dated, amount in lines if dated in window), Decimal(0))


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """The TTM as it will stand on ``day``: from booked revenue alone, and
    with the pace's revenue of the days from the evaluation date on."""

    day: date
    booked_usd: Decimal
    projected_usd: Decimal


def series_window(as_of: date, deadline: date) -> Window:
    """The revenue dates the series from ``as_of`` to ``deadline`` needs:
    today's TTM window up to the day before the deadline."""
    return Window(ttm_window(as_of).start, deadline - ONE_DAY)


def ttm_series(
    revenue_by_day: Mapping[date, Decimal],
    *,
    as_of: date,
    deadline: date,
    pace_usd: Decimal,
) -> list[SeriesPoint]:
    """The TTM on each day from ``as_of`` to ``deadline`` (both included),
    for the chart of the deadline outlook.

    ``booked_usd`` counts only recorded revenue (``revenue_by_day``: USD per
    revenue date): it steps down where revenue rolls off and up where
    revenue dated from today on enters the window; on the deadline it is the
    secured amount. ``projected_usd`` adds ``pace_usd`` (exact, not rounded)
    for every day after ``as_of``: on the deadline it is the projected
    amount. Empty for a deadline that is today or has passed."""
    if deadline <= as_of:
        return []
    days = sorted(revenue_by_day)
    running = [Decimal(0)]
    add, subtract, multiply = CONTEXT.add, CONTEXT.subtract, CONTEXT.multiply
    for day in days:
        running.append(add(running[-1], revenue_by_day[day]))
    points = []
    for offset in range((deadline - as_of).days + 1):
        day = as_of + timedelta(days=offset)
        window = ttm_window(day)
        booked = subtract(
            running[bisect_right(days, window.end)], running[bisect_left(days, window.start)]
        )
        points.append(SeriesPoint(day, booked, add(booked, multiply(pace_usd, offset))))
    return points


def series_sample(points: list[SeriesPoint], every: int = 7) -> list[SeriesPoint]:
    """Every ``every``-th point from the first, and always the last (the
    deadline): the series as a short table."""
    sample = points[::every]
    if points and sample[-1] is not points[-1]:
        sample.append(points[-1])
    return sample
