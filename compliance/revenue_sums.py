"""The engine's revenue sums: every location's revenue in USD over a window
(the TTM, PRODUCT 4.1), over several windows at once (catch-up deadlines,
the deadline outlook's spans, PRODUCT 4.9), converted with each line's month
rate. A missing rate marks the location missing, never zero. PostgreSQL sums
exact numerics in the query; SQLite sums integer micro-units per month."""

from __future__ import annotations

import datetime
import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.db import connection

from partners.models import ExchangeRate

from . import rules

MICRO = Decimal("0.000001")
K = TypeVar("K", bound=Hashable)


def missing_rates_message(gaps: list[tuple[str, datetime.date]]) -> str:
    """ "no exchange rate for EUR 2024-03, GBP 2024-04" - names every gap."""
    listed = ", ".join(f"{currency} {month:%Y-%m}" for currency, month in gaps)
    return f"no exchange rate for {listed}"


@dataclass
class RevenueTotals:
    """TTM revenue in USD per location pk, and the missing rates that make a
    location's total unknown."""

    usd: dict[int, Decimal] = field(default_factory=dict)
    missing: dict[int, set[tuple[str, datetime.date]]] = field(default_factory=dict)
    #: the same sums over whole months inside the window, from the same scan
    #: (``revenue_totals(..., inner=...)``; the outlook's pace months)
    inner: RevenueTotals | None = None
    inner_window: rules.Window | None = None
    #: each location's revenue in the window dated before its cut
    #: (``revenue_totals(..., cuts=...)``: what rolls off before the
    #: deadline window opens), for the locations in ``cuts`` only
    before: dict[int, Decimal] = field(default_factory=dict)
    cuts: Mapping[int, datetime.date] = field(default_factory=dict)

    @classmethod
    def with_inner(cls, inner: rules.Window | None) -> RevenueTotals:
        """Empty totals, with empty inner totals for ``inner`` if given."""
        return cls(inner=cls() if inner is not None else None, inner_window=inner)

    def inner_for(self, month: datetime.date) -> RevenueTotals | None:
        """The inner totals when ``month`` is one of their months."""
        if self.inner is not None and self.inner_window is not None and month in self.inner_window:
            return self.inner
        return None

    def add(
        self,
        location_pk: int,
        currency: str,
        month: datetime.date,
        amount: Decimal,
        rates: dict[tuple[str, datetime.date], Decimal],
    ) -> None:
        """Add one (location, currency, month) sum, converted with the month's
        rate; without a rate the location is marked missing, never zero."""
        total = self.usd.setdefault(location_pk, Decimal(0))
        if currency == "USD":
            self.usd[location_pk] = total + amount
        elif (currency, month) in rates:
            self.usd[location_pk] = total + amount * rates[(currency, month)]
        else:
            self.missing.setdefault(location_pk, set()).add((currency, month))

    def error_for(self, location_pks: list[int]) -> str | None:
        if not self.missing:  # the usual case, asked for every subject
            return None
        gaps = sorted({gap for pk in location_pks for gap in self.missing.get(pk, ())})
        if not gaps:
            return None
        return missing_rates_message(gaps)


def _partner_filter_sql(partner_pks: set[int] | None, params: list) -> str:
    if partner_pks is None:
        return ""
    params.extend(sorted(partner_pks))
    marks = ", ".join(["%s"] * len(partner_pks))
    return (
        " AND r.location_id IN (SELECT l.id FROM partners_location l"
        f" WHERE l.partner_id IN ({marks}))"
    )


def revenue_totals(
    window: rules.Window,
    partner_pks: set[int] | None = None,
    *,
    inner: rules.Window | None = None,
    cuts: Mapping[int, datetime.date] | None = None,
) -> RevenueTotals:
    """Sum every location's revenue in ``window``, converted to USD with the
    rate of each line's month. Lines without a rate are never counted as
    zero: the location is reported in ``missing`` instead. With ``inner``
    (whole calendar months inside ``window``) the same scan also sums those
    months, in ``.inner``. With ``cuts`` (a day per location pk) it also
    sums each location's lines dated before its cut, in ``.before``, for the
    cuts it could take (``.cuts``: on PostgreSQL all of them unless the pks
    are too sparse for one array, on SQLite the first days of a month - its
    scan sums months); a missing rate there is among the window's."""
    if inner is not None and not (
        window.start <= inner.start
        and inner.end <= window.end
        and inner.start.day == 1
        and (inner.end + datetime.timedelta(days=1)).day == 1
    ):
        raise ValueError(f"{inner} is not a run of whole months inside {window}")
    if partner_pks is not None and not partner_pks:
        return RevenueTotals.with_inner(inner)
    if connection.vendor == "postgresql":
        return _revenue_totals_postgres(window, partner_pks, inner, cuts or {})
    return _revenue_totals_portable(window, partner_pks, inner, cuts or {})


def _cut_array(cuts: Mapping[int, datetime.date]) -> str | None:
    """The cuts as one PostgreSQL array literal indexed by location pk
    (``[lo:hi]={...}``, ``-infinity`` between them: no line is before it),
    so that the scan reads a line's cut with one subscript; None when the
    pks are too sparse for that."""
    if not cuts:
        return None
    low, high = min(cuts), max(cuts)
    if high - low + 1 > 4 * len(cuts) + 4096:
        return None
    days = ["-infinity"] * (high - low + 1)
    for pk, day in cuts.items():
        days[pk - low] = day.isoformat()
    return f"[{low}:{high}]={{{','.join(days)}}}"


_USD = "CASE WHEN r.currency_id = 'USD' THEN r.amount ELSE r.amount * fx.usd_per_unit END"
#: a line's month (a date has no time zone: no conversion through one)
_MONTH = "date_trunc('month', r.revenue_date::timestamp)::date"
_NO_RATE = "r.currency_id <> 'USD' AND fx.usd_per_unit IS NULL"


def _scan_settings(params: list) -> str:
    """``SET LOCAL`` statements to run in the same string as the TTM scan
    (one implicit transaction when there is no open one; else they last to
    the end of the run's transaction): enough ``work_mem`` that its hash
    aggregate over every location stays in memory (at 50,000 partners the
    server's 4 MB spilled 50 MB to disk a worker), and no JIT compiling (it
    took 0.1 s of a 1.6 s scan, on a plan it runs once)."""
    statements = "SET LOCAL jit = off;"
    work_mem = getattr(settings, "EVALUATION_WORK_MEM", "")
    if work_mem:  # checked by the settings
        params.insert(0, work_mem)
        statements += " SET LOCAL work_mem = %s;"
    return statements


def _revenue_totals_postgres(
    window: rules.Window,
    partner_pks: set[int] | None,
    inner: rules.Window | None,
    cuts: Mapping[int, datetime.date],
) -> RevenueTotals:
    # Exact numeric arithmetic in the database; one row per location.
    params: list = []
    if inner is not None:
        # Its missing rates are among the window's (named below).
        columns = f"SUM({_USD}) FILTER (WHERE r.revenue_date BETWEEN %s AND %s)"
        params += [inner.start, inner.end]
    else:
        columns = "NULL"
    array = _cut_array(cuts)
    if array is not None:
        columns += f", SUM({_USD}) FILTER (WHERE r.revenue_date < (%s::date[])[r.location_id])"
        params.append(array)
    else:
        columns += ", NULL"
    params += [window.start, window.end]
    extra = _partner_filter_sql(partner_pks, params)
    sql = f"""{_scan_settings(params)}
        SELECT r.location_id, SUM({_USD}), COUNT(*) FILTER (WHERE {_NO_RATE}), {columns}
          FROM partners_revenuerecord r
          LEFT JOIN partners_exchangerate fx
            ON fx.currency_id = r.currency_id
           AND fx.month = {_MONTH}
         WHERE r.revenue_date BETWEEN %s AND %s{extra}
         GROUP BY r.location_id
    """
    totals = RevenueTotals.with_inner(inner)
    if array is not None:
        totals.cuts = cuts
    before = totals.before
    any_missing = False
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_pk, usd, missing, inner_usd, before_usd in cursor.fetchall():
            totals.usd[location_pk] = usd if usd is not None else Decimal(0)
            any_missing = any_missing or missing > 0
            if totals.inner is not None:
                totals.inner.usd[location_pk] = inner_usd if inner_usd is not None else Decimal(0)
            if before_usd is not None:
                before[location_pk] = before_usd
        if any_missing:
            params = [window.start, window.end]
            extra = _partner_filter_sql(partner_pks, params)
            cursor.execute(
                f"""
                SELECT DISTINCT r.location_id, r.currency_id,
                       {_MONTH}
                  FROM partners_revenuerecord r
                  LEFT JOIN partners_exchangerate fx
                    ON fx.currency_id = r.currency_id
                   AND fx.month = {_MONTH}
                 WHERE r.revenue_date BETWEEN %s AND %s{extra}
                   AND r.currency_id <> 'USD' AND fx.id IS NULL
                """,
                params,
            )
            for location_pk, currency, month in cursor.fetchall():
                totals.missing.setdefault(location_pk, set()).add((currency, month))
                if (part := totals.inner_for(month)) is not None:
                    part.missing.setdefault(location_pk, set()).add((currency, month))
    return totals


def _revenue_totals_portable(
    window: rules.Window,
    partner_pks: set[int] | None,
    inner: rules.Window | None,
    cuts: Mapping[int, datetime.date],
) -> RevenueTotals:
    # SQLite has no exact decimal type: sum integer micro-units per
    # (location, currency, month) in SQL, convert with Decimal in Python.
    params: list = [window.start.isoformat(), window.end.isoformat()]
    extra = _partner_filter_sql(partner_pks, params)
    sql = f"""
        SELECT r.location_id, r.currency_id, strftime('%%Y-%%m', r.revenue_date),
               SUM(CAST(ROUND(r.amount * 1000000) AS INTEGER))
          FROM partners_revenuerecord r
         WHERE r.revenue_date BETWEEN %s AND %s{extra}
         GROUP BY 1, 2, 3
    """
    rates = {
        (currency, month): rate
        for currency, month, rate in ExchangeRate.objects.filter(
            month__gte=window.start.replace(day=1), month__lte=window.end
        ).values_list("currency_id", "month", "usd_per_unit")
    }
    totals = RevenueTotals.with_inner(inner)
    # Sums per month: a cut on the first of a month splits none of them.
    totals.cuts = {pk: day for pk, day in cuts.items() if day.day == 1}
    before = RevenueTotals()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for location_pk, currency, month_text, micro_units in cursor.fetchall():
            month = datetime.date.fromisoformat(f"{month_text}-01")
            amount = Decimal(micro_units) * MICRO
            totals.add(location_pk, currency, month, amount, rates)
            if (part := totals.inner_for(month)) is not None:
                part.add(location_pk, currency, month, amount, rates)
            cut = totals.cuts.get(location_pk)
            if cut is not None and month < cut:
                before.add(location_pk, currency, month, amount, rates)
    totals.before = before.usd
    return totals


@dataclass
class DatedFrom:
    """Each location's revenue dated on or after a day, per day and in USD
    (future-dated lines: a few, read through the date index), with the
    missing rates per day."""

    usd: dict[int, list[tuple[datetime.date, Decimal]]] = field(default_factory=dict)
    missing: dict[int, list[tuple[datetime.date, tuple[str, datetime.date]]]] = field(
        default_factory=dict
    )

    def total(self, location_pks: list[int], window: rules.Window) -> tuple[Decimal, str | None]:
        """The sum over ``window`` of ``location_pks``, and the error naming
        the missing rates in it, if any."""
        total = Decimal(0)
        gaps: set[tuple[str, datetime.date]] = set()
        for pk in location_pks:
            for day, usd in self.usd.get(pk, ()):
                if day in window:
                    total += usd
            for day, gap in self.missing.get(pk, ()):
                if day in window:
                    gaps.add(gap)
        return total, missing_rates_message(sorted(gaps)) if gaps else None


def revenue_dated_from(first: datetime.date, partner_pks: set[int] | None = None) -> DatedFrom:
    """Every location's revenue dated on or after ``first``, per day, each
    line converted with its month's rate (a missing rate marks the day
    missing, never zero): one query, the date index."""
    found = DatedFrom()
    if partner_pks is not None and not partner_pks:
        return found
    params: list = [first.isoformat() if connection.vendor != "postgresql" else first]
    extra = _partner_filter_sql(partner_pks, params)
    amount = (
        "SUM(r.amount)"
        if connection.vendor == "postgresql"
        else "SUM(CAST(ROUND(r.amount * 1000000) AS INTEGER))"
    )
    sql = f"""
        SELECT r.location_id, r.revenue_date, r.currency_id, {amount}
          FROM partners_revenuerecord r
         WHERE r.revenue_date >= %s{extra}
         GROUP BY 1, 2, 3
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        lines = cursor.fetchall()
    if not lines:
        return found
    months = {as_date(day).replace(day=1) for _pk, day, _currency, _amount in lines}
    rates = {
        (currency, month): rate
        for currency, month, rate in ExchangeRate.objects.filter(month__in=months).values_list(
            "currency_id", "month", "usd_per_unit"
        )
    }
    for location_pk, day_value, currency, amount in lines:
        day = as_date(day_value)
        month = day.replace(day=1)
        exact = amount if connection.vendor == "postgresql" else Decimal(amount) * MICRO
        if currency == "USD":
            found.usd.setdefault(location_pk, []).append((day, exact))
        elif (currency, month) in rates:
            found.usd.setdefault(location_pk, []).append((day, exact * rates[(currency, month)]))
        else:
            found.missing.setdefault(location_pk, []).append((day, (currency, month)))
    return found


def revenue_totals_for_windows(
    requests: dict[datetime.date, set[int]],
) -> dict[datetime.date, RevenueTotals]:
    """TTM totals of several (as-of date, locations) requests in one query:
    the catch-up of deadlines the nightly job did not see on the day."""
    return revenue_totals_for_spans(
        {day: (rules.ttm_window(day), location_pks) for day, location_pks in requests.items()}
    )


def revenue_totals_for_spans(
    requests: Mapping[K, tuple[rules.Window, set[int]]],
) -> dict[K, RevenueTotals]:
    """Totals over several (window, locations) requests in one query,
    converted with each line's month rate (PostgreSQL: in the query, plus one
    naming the missing rates when there are any; SQLite: the rates in a
    second query); a missing rate marks the location missing, never zero."""
    keys = list(requests)
    result: dict[K, RevenueTotals] = {key: RevenueTotals() for key in keys}
    payload = json.dumps(
        [
            [pk, index, window.start.isoformat(), window.end.isoformat()]
            for index, key in enumerate(keys)
            for window, location_pks in (requests[key],)
            if window.start <= window.end
            for pk in location_pks
        ]
    )
    if payload == "[]":
        return result
    if connection.vendor == "postgresql":
        return _spans_postgres(keys, payload, result)
    sql = """
        SELECT t.loc, t.k, r.currency_id, strftime('%%Y-%%m-01', r.revenue_date),
               SUM(CAST(ROUND(r.amount * 1000000) AS INTEGER))
          FROM (SELECT json_extract(value, '$[0]') AS loc, json_extract(value, '$[1]') AS k,
                       json_extract(value, '$[2]') AS s, json_extract(value, '$[3]') AS e
                  FROM json_each(%s)) t
          JOIN partners_revenuerecord r
            ON r.location_id = t.loc AND r.revenue_date BETWEEN t.s AND t.e
         GROUP BY 1, 2, 3, 4
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        lines = cursor.fetchall()
    months = {as_date(month) for *_, month, _amount in lines}
    currencies = {currency for _loc, _key, currency, _month, _amount in lines}
    rates = (
        {
            (currency, month): rate
            for currency, month, rate in ExchangeRate.objects.filter(
                currency_id__in=currencies - {"USD"}, month__in=months
            ).values_list("currency_id", "month", "usd_per_unit")
        }
        if currencies - {"USD"}
        else {}
    )
    for location_pk, index, currency, month, amount in lines:
        result[keys[int(index)]].add(
            int(location_pk), currency, as_date(month), Decimal(amount) * MICRO, rates
        )
    return result


#: The requests as a table of their own, read once: a JSON field read in the
#: join would be parsed again for every revenue line (about 30 % of the
#: query's time, measured at 10,000 and 50,000 partners).
_REQUESTS = """
    WITH t AS MATERIALIZED (
        SELECT (v ->> 0)::bigint AS loc, (v ->> 1)::int AS k,
               (v ->> 2)::date AS s, (v ->> 3)::date AS e
          FROM json_array_elements(%s::json) AS v
    )
"""
_SPANS = f"""
      FROM t
      JOIN partners_revenuerecord r
        ON r.location_id = t.loc AND r.revenue_date BETWEEN t.s AND t.e
      LEFT JOIN partners_exchangerate fx
        ON fx.currency_id = r.currency_id
       AND fx.month = {_MONTH}
"""


def _spans_postgres(
    keys: list[K], payload: str, result: dict[K, RevenueTotals]
) -> dict[K, RevenueTotals]:
    # As the TTM sum: exact numeric conversion in the database, one row per
    # (location, request); the missing rates only when there are any.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""{_REQUESTS}
            SELECT t.loc, t.k,
                   SUM(CASE WHEN r.currency_id = 'USD' THEN r.amount
                            ELSE r.amount * fx.usd_per_unit END),
                   COUNT(*) FILTER (WHERE r.currency_id <> 'USD' AND fx.usd_per_unit IS NULL)
            {_SPANS}
             GROUP BY 1, 2
            """,
            [payload],
        )
        any_missing = False
        for location_pk, index, usd, missing in cursor.fetchall():
            result[keys[index]].usd[location_pk] = usd if usd is not None else Decimal(0)
            any_missing = any_missing or missing > 0
        if any_missing:
            cursor.execute(
                f"""{_REQUESTS}
                SELECT DISTINCT t.loc, t.k, r.currency_id,
                       {_MONTH}
                {_SPANS}
                 WHERE r.currency_id <> 'USD' AND fx.id IS NULL
                """,
                [payload],
            )
            for location_pk, index, currency, month in cursor.fetchall():
                result[keys[index]].missing.setdefault(location_pk, set()).add((currency, month))
    return result


def as_date(value: datetime.date | str) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)
