"""The evaluation history as periods of unchanged findings (PRODUCT 3,
docs/decisions/0014-history-as-periods.md).

A run of day ``g`` stages its findings in a temporary table and compares
them with the periods that cover ``g`` in SQL (``IS DISTINCT FROM``): a
subject whose findings did not change costs no write. A changed one closes
its period on ``g`` and starts a new one; a subject the run found for the
first time starts one. Every evaluated day is recorded (``EvaluatedDay``),
so the per-day view (``Evaluation``) shows exactly the days that were
evaluated - as one row per day did - for any order of runs: the nightly
run, a re-run of a day, a catch-up of missed nights, a day in the past.

The rules for a run of day ``g`` ("later" = some day after ``g`` has been
evaluated for the run's partners already):

- unchanged: nothing;
- changed (the findings, or the partner a location belongs to): the old
  period ends on ``g`` (or goes, if it began on ``g``); the new one covers
  ``g`` and, unless later days exist, what the old one covered after ``g``;
  with later days the old findings carry on from the partner's next
  evaluated day (a re-run of the past changes that day only, and every
  period begins on a day its partner was evaluated: "the period before
  day ``d``" is the previous evaluation);
- new to the run: a period from ``g`` (to ``g + 1`` if later days exist);
- not in the run although evaluated before (a policy no longer in force,
  say), on a day not evaluated before for its partner: its period stops
  covering ``g`` (a re-run of a day keeps what it does not find again, as
  the day rows did).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Field, Min, Q

from core.bulk import copy_insert, copy_rows, in_chunks
from core.formatting import places_rounder

from .models import EvaluatedDay, Evaluation, EvaluationPeriod
from .revenue_sums import as_date
from .rules import findings as rules_findings
from .rules import outlook as outlook_rules

T = TypeVar("T")
KEY = ("subject_type", "subject_id", "policy_id", "purpose")
#: what a run found, beyond whose subject it is
FINDINGS = (
    "status",
    "ttm_revenue_usd",
    "threshold_usd",
    "shortfall_usd",
    "requirements",
    "unmet",
    "deadline",
    "secured_usd",
    "rolling_off_usd",
    "needed_usd",
    "pace_total_usd",
    "pace_days",
    "outlook",
    "error",
    "why",
)
#: compared night to night; everything a period keeps but its key, its
#: days and the time of computing (a location moved to another partner is
#: that partner's from the day it is evaluated there, as a day row was)
COMPARED = ("partner_id", "location_id", *FINDINGS)
STAGED = (*KEY, *COMPARED)
#: a new period's columns
ROW = (
    *KEY,
    *COMPARED,
    "legacy_explanation",
    "legacy_explanation_de",
    "valid_from",
    "valid_to",
    "computed_at",
)
#: from how many new periods on PostgreSQL streams them in with COPY
COPY_AT = 1000
_TABLE = "compliance_evaluationperiod"
_STAGE = "evaluation_stage"
# Two-key advisory lock namespace for "evaluation periods are being written".
_LOCK = 0x45564C  # "EVL"


#: an exact amount as the outlook's columns keep it (half-up at 8 places)
_eight_places = places_rounder(8)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a run found for one (subject, policy, purpose), as a period
    keeps it."""

    key: tuple[str, str, int, str]
    partner_pk: int
    location_pk: int | None
    values: tuple[Any, ...]  # in the order of FINDINGS


def finding(
    *,
    subject_type: str,
    subject_id: str,
    partner_pk: int,
    location_pk: int | None,
    policy_pk: int,
    purpose: str,
    result: Any,
    outlook: outlook_rules.Outlook | None,
    outlook_error: str,
) -> Finding:
    """A finding from a rules result and its outlook."""
    o = outlook
    outlook_values: tuple[Any, ...]
    if o is not None:
        outlook_values = (
            _eight_places(o.secured_usd),
            _eight_places(o.rolling_off_usd),
            _eight_places(o.needed_usd),
            _eight_places(o.pace_total_usd),
            o.pace_days or None,
            o.outlook,
        )
    else:
        outlook_values = (None, None, None, None, None, "")
    values = (
        result.status,
        result.ttm_revenue_usd,
        result.threshold_usd,
        result.shortfall_usd,
        dict(result.requirements),
        list(result.unmet),
        result.deadline,
        *outlook_values,
        result.error or "",
        rules_findings.why_of(result, outlook_error),
    )
    return Finding((subject_type, subject_id, policy_pk, purpose), partner_pk, location_pk, values)


@dataclass
class Written:
    """What one run changed in the history."""

    inserted: int = 0
    closed: int = 0
    removed: int = 0
    #: periods begun on the day that took new findings in place (a re-run)
    replaced: int = 0

    @property
    def rows(self) -> int:
        return self.inserted + self.closed + self.removed + self.replaced


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_LOCK])


def _stage(findings: Iterable[Finding]) -> None:
    """The run's findings into a temporary table shaped like the periods'."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in STAGED)
    key = ", ".join(qn(c) for c in KEY)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_STAGE} AS SELECT {columns} FROM {_TABLE} WHERE 1 = 0"
        )
    # streamed: no second copy
    rows = ((*f.key, f.partner_pk, f.location_pk, *f.values) for f in findings)
    if connection.vendor == "postgresql":
        # no index (PostgreSQL hash-joins the stage with the periods) and no
        # ANALYZE (the planner reads the new table's size; 0.2 s at 10,000)
        copy_rows(EvaluationPeriod, STAGED, rows, table=_STAGE)
        return
    with connection.cursor() as cursor:  # SQLite joins by nested loops
        cursor.execute(f"CREATE INDEX {_STAGE}_key ON {_STAGE} ({key})")
    _execute_many(_STAGE, STAGED, rows)


def _execute_many(table: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` into ``table`` with one ``executemany`` (values prepared by
    the period model's fields: the same text a model save writes)."""
    fields = [cast(Field, EvaluationPeriod._meta.get_field(c)) for c in names]
    prepared = [
        [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
        for row in rows
    ]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in names)
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", prepared)


def _unstage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")


def _key_match(left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in KEY)


def _covers(alias: str, day: datetime.date, spread: bool) -> tuple[str, list[Any]]:
    """SQL (and its parameters) for "period ``alias`` covers ``day``".
    Unless some period ends after ``day`` (``spread``: later days were
    evaluated, or a later day's rows deleted) only open periods can - on
    every nightly run - so the comparison joins the open periods alone,
    through their unique partial index, whatever the length of the
    history."""
    if not spread:
        return f"{alias}.valid_from <= %s AND {alias}.valid_to IS NULL", [day]
    return (
        f"{alias}.valid_from <= %s AND ({alias}.valid_to IS NULL OR {alias}.valid_to > %s)",
        [day, day],
    )


def _changed(day: datetime.date, later: bool, spread: bool) -> list[tuple]:
    """(key..., period id, its partner, valid_from, valid_to, next start) of every staged
    finding that differs from the period covering ``day`` or has none (the
    next start of its key after ``day`` only matters with later days)."""
    covers, params = _covers("p", day, spread)
    if later:
        next_start = (
            f"CASE WHEN p.id IS NULL THEN (SELECT MIN(q.valid_from) FROM {_TABLE} q "
            f"WHERE {_key_match('q', 's')} AND q.valid_from > %s) END"
        )
        params = [day, *params]
    else:
        next_start = "NULL"
    sql = (
        f"SELECT s.subject_type, s.subject_id, s.policy_id, s.purpose, "
        f"p.id, p.partner_id, p.valid_from, p.valid_to, {next_start} "
        f"FROM {_STAGE} s LEFT JOIN {_TABLE} p ON {_key_match('p', 's')} AND {covers} "
        f"WHERE p.id IS NULL OR {_differs()}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _absent(day: datetime.date, spread: bool, partner_pks: set[int] | None) -> list[tuple]:
    """(id, valid_from, valid_to) of periods covering ``day`` (of
    ``partner_pks``, or of everyone) whose key the run did not find."""
    covers, params = _covers("p", day, spread)
    scope = ""
    if partner_pks is not None:
        scope = f" AND p.partner_id IN ({', '.join(['%s'] * len(partner_pks))})"
        params += sorted(partner_pks)
    sql = (
        f"SELECT p.id, p.valid_from, p.valid_to, p.partner_id FROM {_TABLE} p "
        f"WHERE {covers}{scope} "
        f"AND NOT EXISTS (SELECT 1 FROM {_STAGE} s WHERE {_key_match('s', 'p')}) "
        # a partner a write re-evaluated on the day keeps what that run found
        f"AND NOT EXISTS (SELECT 1 FROM compliance_evaluatedday d WHERE d.as_of = %s "
        f"AND d.partner_id = p.partner_id)"
    )
    params.append(day)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _as_date(value: Any) -> datetime.date | None:
    return None if value is None else as_date(value)


def _days_scope(partner_pks: set[int] | None) -> Q:
    if partner_pks is None:
        return Q()
    return Q(partner__isnull=True) | Q(partner__in=partner_pks)


def record_day(
    items: Sequence[T],
    finding_of: Callable[[T], Finding],
    *,
    day: datetime.date,
    partner_pks: set[int] | None,
    now: datetime.datetime,
) -> Written:
    """Record what a run of ``day`` found (``finding_of`` each of its
    ``items``; for ``partner_pks``, or for every partner). Call inside the
    run's transaction. The findings are streamed into the stage and made
    again for the changed ones only: a night's findings are never all held
    in memory at once (~100 MB at 50,000 partners)."""
    position: dict[tuple[str, str, int, str], int] = {}

    def staged() -> Iterator[Finding]:
        for n, item in enumerate(items):
            found = finding_of(item)
            position[found.key] = n
            yield found

    written = Written()
    _lock()
    # "later": some day after this one is evaluated for the partner already
    # (a full day for everyone, or a day a write re-evaluated it alone)
    after = EvaluatedDay.objects.filter(as_of__gt=day)
    full_next = after.filter(partner__isnull=True).aggregate(first=Min("as_of"))["first"]
    partial_next: dict[int, datetime.date] = dict(
        after.filter(_days_scope(partner_pks), partner__isnull=False)
        .values_list("partner_id")
        .annotate(first=Min("as_of"))
        .values_list("partner_id", "first")
    )
    later = full_next is not None or bool(partial_next)  # for some partner: the SQL's general form

    full_done = EvaluatedDay.objects.filter(as_of=day, partner__isnull=True).exists()
    if partner_pks is None:
        new_for: set[int] | None = None if not full_done else set()
    elif full_done:
        new_for = set()
    else:
        seen = set(
            EvaluatedDay.objects.filter(as_of=day, partner__in=partner_pks).values_list(
                "partner_id", flat=True
            )
        )
        new_for = set(partner_pks) - seen
    next_day = day + datetime.timedelta(days=1)
    _stage(staged())
    # one index probe (valid_to, valid_from); false on every nightly run
    spread = later or EvaluationPeriod.objects.filter(valid_to__gt=day).exists()
    changed = _changed(day, later, spread)
    absent = _absent(day, spread, new_for) if new_for is None or new_for else []
    # a period's partner may lie outside the run's (a location moved)
    others = {row[5] for row in changed if row[4] is not None} | {row[3] for row in absent}
    others -= partial_next.keys() | (partner_pks or set())
    if later and others:
        partial_next.update(
            EvaluatedDay.objects.filter(as_of__gt=day, partner__in=others)
            .values_list("partner_id")
            .annotate(first=Min("as_of"))
            .values_list("partner_id", "first")
        )

    def next_evaluated(partner_pk: int) -> datetime.date | None:
        """The partner's first evaluated day after ``day``."""
        days = [d for d in (full_next, partial_next.get(partner_pk)) if d is not None]
        return min(days, default=None)

    carry: list[int] = []  # periods whose findings go on from a later day
    close: list[int] = []  # absent periods that stop covering the day
    remove: list[int] = []
    new_rows: list[tuple] = []
    replaced = False
    for *key, pk, old_partner, start, until, next_start in changed:
        finding_ = finding_of(items[position[(key[0], key[1], key[2], key[3])]])
        start, until, next_start = _as_date(start), _as_date(until), _as_date(next_start)
        its_later = next_evaluated(finding_.partner_pk) is not None
        if pk is not None:
            its_later = its_later or next_evaluated(old_partner) is not None
            carry.append(pk)
            if start == day:  # replaced in place below
                replaced = True
                continue
            close.append(pk)
        new_rows.append(
            (
                *finding_.key,
                finding_.partner_pk,
                finding_.location_pk,
                *finding_.values,
                "",  # new periods are worded on read
                "",
                day,
                next_day if its_later else (next_start if pk is None else until),
                now,
            )
        )
    for pk, start, _until, _partner_pk in absent:
        start = _as_date(start)
        carry.append(pk)
        (close if start is not None and start < day else remove).append(pk)
    carried = _carried(carry, next_evaluated, now) if later and carry else []
    if replaced:
        ending = None if full_next is not None else set(partial_next)
        written.replaced = _replace(day, next_day if later else None, ending, now)
    _unstage()
    for chunk in in_chunks(remove):
        written.removed += EvaluationPeriod.objects.filter(pk__in=chunk).delete()[0]
    written.closed = _close(close, day)
    written.inserted = _insert([*carried, *new_rows])
    _record_evaluated(day, partner_pks, full_done, new_for, now)
    return written


def _differs() -> str:
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return " OR ".join(f"p.{c} {distinct} s.{c}" for c in COMPARED)


def _replace(
    day: datetime.date,
    until: datetime.date | None,
    partners: set[int] | None,
    now: datetime.datetime,
) -> int:
    """The changed periods that began on ``day`` take the new findings in
    place (a re-run of the day); with later days evaluated they end on
    ``until`` (their old findings carry on after it) - those of
    ``partners`` only, unless it is None. One statement."""
    assignments = ", ".join(f"{c} = s.{c}" for c in COMPARED)
    params: list[Any] = []
    end = ""
    if until is not None and partners is None:
        end, params = "valid_to = %s, ", [until]
    elif until is not None and partners:
        marks = ", ".join(["%s"] * len(partners))
        end = f"valid_to = CASE WHEN p.partner_id IN ({marks}) THEN %s ELSE p.valid_to END, "
        params = [*sorted(partners), until]
    sql = (
        f"UPDATE {_TABLE} AS p SET {assignments}, {end}computed_at = %s "
        f"FROM {_STAGE} AS s WHERE {_key_match('p', 's')} AND p.valid_from = %s "
        f"AND ({_differs()})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now, day])
        return cursor.rowcount


def _close(pks: list[int], day: datetime.date) -> int:
    """End periods ``pks`` on ``day``: one statement on PostgreSQL (an
    array of ids), a few on SQLite (its parameter limit)."""
    if not pks:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_TABLE} SET valid_to = %s WHERE id = ANY(%s)", [day, list(pks)]
            )
            return cursor.rowcount
    return sum(
        EvaluationPeriod.objects.filter(pk__in=chunk).update(valid_to=day)
        for chunk in in_chunks(pks)
    )


def _carried(
    pks: list[int],
    next_evaluated: Callable[[int], datetime.date | None],
    now: datetime.datetime,
) -> list[tuple]:
    """Copies of periods ``pks`` from their partner's next evaluated day on
    (their own end kept) - of those that cover it."""
    names = [n for n in ROW if n not in ("valid_from", "computed_at")]
    partner_at = names.index("partner_id")
    rows: list[tuple] = []
    for chunk in in_chunks(pks):
        for values in EvaluationPeriod.objects.filter(pk__in=chunk).values_list(*names):
            *head, until = values
            start, end = next_evaluated(head[partner_at]), _as_date(until)
            if start is not None and (end is None or end > start):
                rows.append((*head, start, until, now))
    return rows


def _insert(rows: list[tuple]) -> int:
    if not rows:
        return 0
    if connection.vendor == "postgresql" and len(rows) >= COPY_AT:
        return copy_insert(EvaluationPeriod, ROW, rows)
    _execute_many(_TABLE, ROW, rows)
    return len(rows)


def _record_evaluated(
    day: datetime.date,
    partner_pks: set[int] | None,
    full_done: bool,
    new_for: set[int] | None,
    now: datetime.datetime,
) -> None:
    if partner_pks is None:
        if not full_done:
            EvaluatedDay.objects.filter(as_of=day, partner__isnull=False).delete()
            EvaluatedDay.objects.create(as_of=day, partner=None, computed_at=now)
        return
    if new_for:
        EvaluatedDay.objects.bulk_create(
            [EvaluatedDay(as_of=day, partner_id=pk, computed_at=now) for pk in sorted(new_for)]
        )


def uncover(days_of: dict[int, set[datetime.date]]) -> int:
    """Take days out of periods (``days_of``: period id -> days), as
    deleting those days' rows did: a period is cut around each day, and a
    piece that covers no day its partner was evaluated goes. An evaluated
    day left without any evaluation is no longer evaluated. Returns the
    (period, day) rows taken out. Call inside a transaction."""
    if not days_of:
        return 0
    _lock()
    names = [n for n in ROW if n not in ("valid_from", "valid_to")]
    periods: list[tuple[int, tuple, datetime.date, datetime.date | None]] = []
    for chunk in in_chunks(sorted(days_of)):
        for pk, start, until, *values in EvaluationPeriod.objects.filter(pk__in=chunk).values_list(
            "pk", "valid_from", "valid_to", *names
        ):
            periods.append((pk, tuple(values), as_date(start), _as_date(until)))
    partner_at = names.index("partner_id")
    first = min(start for _, _, start, _ in periods)
    evaluated: dict[int | None, list[datetime.date]] = {}
    for partner_pk, as_of in EvaluatedDay.objects.filter(as_of__gte=first).values_list(
        "partner_id", "as_of"
    ):
        evaluated.setdefault(partner_pk, []).append(as_of)

    def shows(partner_pk: int, start: datetime.date, until: datetime.date | None) -> bool:
        return any(
            start <= d and (until is None or d < until)
            for d in (*evaluated.get(None, ()), *evaluated.get(partner_pk, ()))
        )

    one = datetime.timedelta(days=1)
    pieces: list[tuple] = []
    taken = 0
    for pk, values, start, until in periods:
        cut = start
        for day in sorted(days_of[pk]):
            if day < start or (until is not None and day >= until):
                continue
            taken += 1
            if cut < day and shows(values[partner_at], cut, day):
                pieces.append((cut, day, values))
            cut = day + one
        if (until is None or cut < until) and shows(values[partner_at], cut, until):
            pieces.append((cut, until, values))
    for chunk in in_chunks([pk for pk, *_ in periods]):
        EvaluationPeriod.objects.filter(pk__in=chunk).delete()
    # ROW is ``names`` with the days before the last column (computed_at)
    _insert([(*values[:-1], start, until, values[-1]) for start, until, values in pieces])
    _forget_empty_days({d for ds in days_of.values() for d in ds})
    return taken


def _forget_empty_days(days: set[datetime.date]) -> None:
    """The evaluated days of ``days`` that no evaluation shows any more."""
    for evaluated in EvaluatedDay.objects.filter(as_of__in=days):
        rows = Evaluation.objects.filter(as_of=evaluated.as_of)
        if evaluated.partner_id is not None:
            rows = rows.filter(partner_id=evaluated.partner_id)
        if not rows.exists():
            evaluated.delete()
