"""The deadline outlook of a run's subjects (PRODUCT 4.9), set-based, then
the pure rule (``rules.outlook``) per subject. Used by the nightly run and
the simulator (``compliance.services``).

The sums come from the run's TTM scan wherever it can give them: the pace
months (``revenue_totals(..., inner=...)``) and each location's revenue
dated before its deadline window opens (``revenue_totals(..., cuts=...)``,
the cuts from :func:`rolling_off_cuts`, computed before the scan from the
same facts and deadline rule as the evaluation). What the scan did not sum
- a location whose subjects have deadline windows of different starts, a
deadline whose window the scan did not cut for (the simulator's draft) - is
summed in one more query, and what is dated from today on in one index
read."""

from __future__ import annotations

import datetime
from collections.abc import Hashable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from . import revenue_sums, rules
from .rules import outlook as outlook_rules
from .rules.dates import ONE_DAY

if TYPE_CHECKING:
    from .services import Subject

ZERO = Decimal(0)
#: statuses without an outlook
_NONE = frozenset((rules.ERROR, rules.NOT_APPLICABLE))


class SubjectLocations(Protocol):
    partner_pks: set[int] | None

    def subject_location_pks(self, subject: Subject) -> list[int]: ...

    def deadline_facts(self, subject: Subject) -> tuple[datetime.date, tuple]: ...


def rolling_off_cuts(
    facts: SubjectLocations, subjects: Iterable[Subject], as_of: datetime.date
) -> dict[int, datetime.date]:
    """Each location's cut for the TTM scan: the first day of the deadline
    window of its subject's next deadline (``rules.next_deadline``, as the
    evaluation finds it), for subjects of a policy with a revenue
    requirement. Today's revenue dated before it rolls off before the
    deadline. A location whose subjects' windows start on different days
    keeps the first; the outlook sums the others on their own."""
    cuts: dict[int, datetime.date] = {}
    cut_of: dict[datetime.date | None, datetime.date | None] = {}  # per deadline
    # Many subjects share a policy, an onboarding date and (no) contracts:
    # each deadline is decided once for them.
    deadline_of: dict[tuple, datetime.date | None] = {}
    for subject in subjects:
        spec = subject.spec
        if spec.threshold_usd is None:
            continue
        onboarded_on, contracts = facts.deadline_facts(subject)
        key = (id(spec), onboarded_on, contracts)
        try:
            deadline = deadline_of[key]
        except KeyError:
            try:
                deadline = rules.next_deadline(
                    spec, as_of, onboarded_on=onboarded_on, contracts=contracts
                )
            except (ValueError, OverflowError):  # a date near year 9999: the
                deadline = None  # evaluation makes the subject an error
            deadline_of[key] = deadline
        if deadline not in cut_of:
            windows = outlook_rules.outlook_windows(as_of, deadline)
            cut_of[deadline] = windows.cut if windows is not None else None
        cut = cut_of[deadline]
        if cut is None:
            continue
        if subject.location_pk is not None:  # most subjects: one location
            cuts.setdefault(subject.location_pk, cut)
        else:
            for pk in facts.subject_location_pks(subject):
                cuts.setdefault(pk, cut)
    return cuts


def deadline_outlooks(
    facts: SubjectLocations,
    entries: list[tuple[Hashable, Subject, rules.Result]],
    as_of: datetime.date,
    totals: revenue_sums.RevenueTotals,
) -> dict[Hashable, tuple[outlook_rules.Outlook | None, str]]:
    """The deadline outlook of every subject with a revenue requirement and a
    deadline after ``as_of`` (PRODUCT 4.9). ``entries`` are (key, subject,
    result); the outlooks come back under the keys, with the error that
    leaves one unknown (a missing exchange rate), or "".

    secured = today's TTM - rolling off + revenue dated from ``as_of`` up to
    the day before the deadline (the deadline window is today's TTM window
    moved forward: what leaves it is the rolling off, what enters it is
    dated from today on). A subject whose TTM is unknown is an error and has
    no outlook, so the rolling off and the pace months - both inside today's
    window - are known exactly for every subject that has one."""
    outlooks: dict[Hashable, tuple[outlook_rules.Outlook | None, str]] = {}
    today = rules.ttm_window(as_of)
    pace = outlook_rules.pace_window(as_of)
    pace_sums = totals.inner if totals.inner_window == pace else None
    cuts, before = totals.cuts, totals.before
    # Dated from today on: a few future-dated lines, one index read
    dated = revenue_sums.revenue_dated_from(as_of, facts.partner_pks)
    dated_pks = dated.usd.keys() | dated.missing.keys()
    add, subtract = outlook_rules.CONTEXT.add, outlook_rules.CONTEXT.subtract
    deadline_outlook = outlook_rules.deadline_outlook

    def outlook(
        key: Hashable,
        windows: outlook_rules.OutlookWindows,
        location_pks: list[int],
        threshold: Decimal,
        ttm: Decimal,
        rolled: Decimal,
        pace_total: Decimal,
        error: str,
    ) -> None:
        secured = subtract(ttm, rolled)
        if dated_pks and not dated_pks.isdisjoint(location_pks):
            # dated from today (or from the window's start, for a deadline
            # more than a year away) to the day before the deadline
            ahead = rules.Window(max(as_of, windows.secured.start), windows.secured.end)
            ahead_usd, ahead_error = dated.total(location_pks, ahead)
            secured = add(secured, ahead_usd)
            error = error or ahead_error or ""
        if error:
            outlooks[key] = (None, error)
        else:
            outlooks[key] = (
                deadline_outlook(
                    windows=windows,
                    threshold_usd=threshold,
                    secured_usd=secured,
                    rolling_off_usd=rolled,
                    pace_total_usd=pace_total,
                ),
                "",
            )

    # Most subjects take their sums from the scan: one location, its cut
    # the window's. The others wait for one more query: the part of
    # today's window that rolls off before a deadline window the scan did
    # not cut for - or, when that is the longer part, the part that stays
    # (rolling off = TTM - staying) - and the pace months unless the scan
    # summed them.
    windows_of: dict[datetime.date | None, outlook_rules.OutlookWindows | None] = {}
    waiting: list[
        tuple[
            Hashable,
            outlook_rules.OutlookWindows,
            list[int],
            Decimal,
            Decimal,
            tuple[str, datetime.date] | None,
        ]
    ] = []
    requests: dict[Hashable, tuple[rules.Window, set[int]]] = {}
    for key, subject, result in entries:
        threshold = result.threshold_usd
        if threshold is None or result.status in _NONE:
            continue
        deadline = result.deadline
        if deadline in windows_of:  # a few deadlines for many subjects
            windows = windows_of[deadline]
        else:
            windows = windows_of[deadline] = outlook_rules.outlook_windows(as_of, deadline)
        if windows is None:
            continue
        cut = windows.cut
        ttm = result.ttm_revenue_usd or ZERO
        pk = subject.location_pk
        if pace_sums is not None and pk is not None and (cut is None or cuts.get(pk) == cut):
            outlook(
                key,
                windows,
                [pk],
                threshold,
                ttm,
                ZERO if cut is None else before.get(pk, ZERO),
                pace_sums.usd.get(pk, ZERO),
                (pace_sums.error_for([pk]) or "") if pace_sums.missing else "",
            )
            continue
        location_pks = facts.subject_location_pks(subject)
        if pace_sums is not None and (cut is None or all(cuts.get(p) == cut for p in location_pks)):
            rolled = pace_total = ZERO
            for p in location_pks:
                pace_total = add(pace_total, pace_sums.usd.get(p, ZERO))
                if cut is not None:
                    rolled = add(rolled, before.get(p, ZERO))
            error = pace_sums.error_for(location_pks) or ""
            outlook(key, windows, location_pks, threshold, ttm, rolled, pace_total, error)
            continue
        span_key = None
        if windows.rolling_off is not None:
            span_key, span = _span_of(windows.rolling_off, today)
            requests.setdefault(span_key, (span, set()))[1].update(location_pks)
        waiting.append((key, windows, location_pks, threshold, ttm, span_key))
        if pace_sums is None:
            requests.setdefault("pace", (pace, set()))[1].update(location_pks)
    if not waiting:
        return outlooks

    sums = revenue_sums.revenue_totals_for_spans(requests)
    pace_of = pace_sums if pace_sums is not None else sums["pace"]
    for key, windows, location_pks, threshold, ttm, span_key in waiting:
        error = pace_of.error_for(location_pks) or ""
        pace_total = ZERO
        for p in location_pks:
            pace_total = add(pace_total, pace_of.usd.get(p, ZERO))
        rolled = ZERO
        if span_key is not None:
            part = ZERO
            for p in location_pks:
                part = add(part, sums[span_key].usd.get(p, ZERO))
            error = error or sums[span_key].error_for(location_pks) or ""
            rolled = subtract(ttm, part) if span_key[0] == "staying" else part
        outlook(key, windows, location_pks, threshold, ttm, rolled, pace_total, error)
    return outlooks


def _span_of(
    rolling_off: rules.Window, today: rules.Window
) -> tuple[tuple[str, datetime.date], rules.Window]:
    """What the query sums for a deadline window the scan did not cut for:
    the part of today's window that rolls off, or the part that stays when
    that is shorter (the key says which)."""
    stays = rules.Window(rolling_off.end + ONE_DAY, today.end)
    if stays.days < rolling_off.days:
        return ("staying", rolling_off.end), stays
    return ("rolling_off", rolling_off.end), rolling_off
