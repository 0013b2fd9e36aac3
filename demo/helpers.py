"""Small pure helpers of the demo data: month arithmetic (months as one
integer, ``year * 12 + month - 1``), weighted draws and amounts in cents."""

from __future__ import annotations

import bisect
import calendar
import datetime
import functools
import itertools
import random


def month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def month_start(index: int) -> datetime.date:
    return datetime.date(index // 12, index % 12 + 1, 1)


def days_in_month(index: int) -> int:
    return calendar.monthrange(index // 12, index % 12 + 1)[1]


def add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@functools.cache
def _table(pairs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], list[float], float]:
    keys = tuple(key for key, _ in pairs)
    cumulative = list(itertools.accumulate(weight for _, weight in pairs))
    return keys, cumulative, cumulative[-1]


def weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    """A key of ``pairs`` ((key, weight), ...) drawn by weight."""
    keys, cumulative, total = _table(pairs)
    return keys[bisect.bisect(cumulative, rng.random() * total)]


def cents(value: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def random_day(rng: random.Random, start: datetime.date, end: datetime.date) -> datetime.date:
    span = (end - start).days
    return start + datetime.timedelta(days=rng.randint(0, max(span, 0)))
