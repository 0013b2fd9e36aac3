"""The deadline outlook of a run's subjects (PRODUCT 4.9), set-based: one
query for all of them, then the pure rule (``rules.outlook``) per subject.
Used by the nightly run and the simulator (``compliance.services``)."""

from __future__ import annotations

import datetime
from collections.abc import Hashable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from . import revenue_sums, rules
from .rules import outlook as outlook_rules
from .rules.dates import ONE_DAY

if TYPE_CHECKING:
    from .services import Subject


class SubjectLocations(Protocol):
    partner_pks: set[int] | None

    def subject_location_pks(self, subject: Subject) -> list[int]: ...


def deadline_outlooks(
    facts: SubjectLocations,
    entries: list[tuple[Hashable, Subject, rules.Result]],
    as_of: datetime.date,
    totals: revenue_sums.RevenueTotals,
) -> dict[Hashable, tuple[outlook_rules.Outlook | None, str]]:
    """The deadline outlook of every subject with a revenue requirement and a
    deadline after ``as_of`` (PRODUCT 4.9), set-based: one query sums what
    rolls off before each deadline window, what is dated from today until
    each deadline and the pace months, for all of them at once, and one
    more reads what is dated from today on (the date index).

    secured = today's TTM - rolling off + revenue dated from ``as_of`` up to
    the day before the deadline (the deadline window is today's TTM window
    moved forward: what leaves it is the rolling off, what enters it is
    dated from today on). ``entries`` are (key, subject, result); the
    outlooks come back under the keys."""
    wanted: list[tuple[Hashable, outlook_rules.OutlookWindows, list[int], Decimal]] = []
    by_deadline: dict[datetime.date | None, outlook_rules.OutlookWindows | None] = {}
    for key, subject, result in entries:
        threshold = result.threshold_usd
        if result.status in ("error", "not_applicable") or threshold is None:
            continue
        if result.deadline not in by_deadline:  # a few deadlines for many subjects
            by_deadline[result.deadline] = outlook_rules.outlook_windows(as_of, result.deadline)
        windows = by_deadline[result.deadline]
        if windows is not None:
            wanted.append((key, windows, facts.subject_location_pks(subject), threshold))
    if not wanted:
        return {}
    # What the TTM scan does not give: the part of today's window that rolls
    # off before each deadline window opens - or, when that is the longer
    # part, the part that stays (rolling off = TTM - staying: the TTM is
    # known exactly, else the subject is an error and has no outlook) - and
    # what is dated from today until each deadline; the pace months too
    # unless the scan summed them (``revenue_totals(..., inner=pace)``).
    today = rules.ttm_window(as_of)
    pace = wanted[0][1].pace
    pace_sums = totals.inner if totals.inner_window == pace else None
    requests: dict[Hashable, tuple[rules.Window, set[int]]] = {}
    if pace_sums is None:
        requests["pace"] = (pace, set())
    staying: set[datetime.date] = set()
    for _key, windows, location_pks, _threshold in wanted:
        if windows.rolling_off is not None:
            end = windows.rolling_off.end
            stays = rules.Window(end + ONE_DAY, today.end)
            if stays.days < windows.rolling_off.days:
                staying.add(end)
                requests.setdefault(("staying", end), (stays, set()))[1].update(location_pks)
            else:
                key = ("rolling_off", end)
                requests.setdefault(key, (windows.rolling_off, set()))[1].update(location_pks)
        if pace_sums is None:
            requests["pace"][1].update(location_pks)
    sums: dict[Hashable, revenue_sums.RevenueTotals] = dict(
        revenue_sums.revenue_totals_for_spans(requests)
    )
    # Dated from today on: a few future-dated lines, one index read
    dated = revenue_sums.revenue_dated_from(as_of, facts.partner_pks)
    if pace_sums is not None:
        sums["pace"] = pace_sums

    # The same sums serve every entry of one subject (the simulator's draft
    # and baseline ask for the same windows).
    memo: dict[tuple[Hashable, tuple[int, ...]], tuple[Decimal, str | None]] = {}

    def total(key: Hashable, location_pks: list[int]) -> tuple[Decimal, str | None]:
        memo_key = (key, tuple(location_pks))
        if memo_key in memo:
            return memo[memo_key]
        found = sums.get(key)
        if found is None:
            memo[memo_key] = (Decimal(0), None)
        else:
            memo[memo_key] = (
                sum((found.usd.get(pk, Decimal(0)) for pk in location_pks), Decimal(0)),
                found.error_for(location_pks),
            )
        return memo[memo_key]

    outlooks: dict[Hashable, tuple[outlook_rules.Outlook | None, str]] = {}
    ttms = {key: result.ttm_revenue_usd for key, _subject, result in entries}
    for key, windows, location_pks, threshold in wanted:
        ttm = ttms[key] or Decimal(0)
        if windows.rolling_off is None:
            rolling_off, error_1 = Decimal(0), None
        elif windows.rolling_off.end in staying:
            stays_usd, error_1 = total(("staying", windows.rolling_off.end), location_pks)
            rolling_off = ttm - stays_usd
        else:
            rolling_off, error_1 = total(("rolling_off", windows.rolling_off.end), location_pks)
        # dated from today (or from the window's start, for a deadline more
        # than a year away) to the day before the deadline
        ahead = rules.Window(max(as_of, windows.secured.start), windows.secured.end)
        ahead_usd, error_2 = dated.total(location_pks, ahead)
        pace_total, error_3 = total("pace", location_pks)
        error = error_1 or error_2 or error_3
        if error:
            outlooks[key] = (None, error)
            continue
        outlooks[key] = (
            outlook_rules.deadline_outlook(
                windows=windows,
                threshold_usd=threshold,
                secured_usd=ttm - rolling_off + ahead_usd,
                rolling_off_usd=rolling_off,
                pace_total_usd=pace_total,
            ),
            "",
        )
    return outlooks
