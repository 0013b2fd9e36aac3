"""Money: conversion to USD with exact ``Decimal`` arithmetic and the TTM sum
(PRODUCT 4.1). A missing exchange rate is an error, never zero."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, localcontext

from .dates import Window, month_start

USD = "USD"
# Enough significant digits that products and sums of stored amounts
# (20 digits, 6 places) and rates (18 digits, 8 places) are exact.
_MONEY_PRECISION = 80


class MissingRate(LookupError):
    """No exchange rate for a currency in a month. A missing rate is an
    error, never zero (PRODUCT 3, ExchangeRate).

    ``currency`` and ``month`` (first day) name the first missing pair in
    (month, currency) order; ``missing`` lists every missing pair.
    """

    def __init__(
        self, currency: str, month: date, missing: Iterable[tuple[str, date]] = ()
    ) -> None:
        self.currency = currency
        self.month = month_start(month)
        pairs = sorted({(c, month_start(m)) for c, m in missing} | {(currency, self.month)})
        self.missing: tuple[tuple[str, date], ...] = tuple(
            sorted(pairs, key=lambda pair: (pair[1], pair[0]))
        )
        message = f"no exchange rate for {_rate_key(currency, self.month)}"
        others = [_rate_key(c, m) for c, m in self.missing if (c, m) != (currency, self.month)]
        if others:
            message += f"; also for {', '.join(others)}"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def _rate_key(currency: str, month: date) -> str:
    return f"{currency} {month:%Y-%m}"


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money must be Decimal (or int/str), not float")
    return value if isinstance(value, Decimal) else Decimal(value)


def to_usd(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount`` in a currency times its USD-per-unit ``rate``; exact, not
    rounded (rounding to cents is for display only)."""
    with localcontext() as ctx:
        ctx.prec = _MONEY_PRECISION
        return _as_decimal(amount) * _as_decimal(rate)


# A revenue line: ``(amount, currency, revenue_date)``; any 3-tuple in that order.
RevenueLine = tuple[Decimal, str, date]


def convert(
    lines: Iterable[RevenueLine],
    rates: Mapping[tuple[str, date], Decimal],
) -> Decimal:
    """Sum ``(amount, currency, revenue_date)`` lines in USD.

    ``rates`` maps ``(currency, first day of month)`` to USD per unit; USD
    itself is always 1. Raises :class:`MissingRate` naming the earliest
    missing (month, currency) pair, whatever the order of the lines.
    """
    missing: set[tuple[str, date]] = set()
    with localcontext() as ctx:
        ctx.prec = _MONEY_PRECISION
        total = Decimal(0)
        for amount, currency, revenue_date in lines:
            if currency == USD:
                total += _as_decimal(amount)
                continue
            key = (currency, month_start(revenue_date))
            rate = rates.get(key)
            if rate is None:
                missing.add(key)
                continue
            total += to_usd(amount, rate)
    if missing:
        currency, month = min(missing, key=lambda pair: (pair[1], pair[0]))
        raise MissingRate(currency, month, missing)
    return total


def usd_by_day(
    lines: Iterable[RevenueLine],
    rates: Mapping[tuple[str, date], Decimal],
) -> dict[date, Decimal]:
    """USD per revenue date of ``(amount, currency, revenue_date)`` lines,
    converted as :func:`convert` does (each line with its month's rate).
    Raises :class:`MissingRate` naming the earliest missing pair: a day
    without its rate is unknown, never zero."""
    by_day: dict[date, list[RevenueLine]] = {}
    for line in lines:
        by_day.setdefault(line[2], []).append(line)
    totals: dict[date, Decimal] = {}
    missing: list[MissingRate] = []
    for day, day_lines in by_day.items():
        try:
            totals[day] = convert(day_lines, rates)
        except MissingRate as error:
            missing.append(error)
    if missing:
        pairs = {pair for error in missing for pair in error.missing}
        currency, month = min(pairs, key=lambda pair: (pair[1], pair[0]))
        raise MissingRate(currency, month, pairs)
    return totals


def ttm_sum(
    lines: Iterable[RevenueLine],
    window: Window,
    rates: Mapping[tuple[str, date], Decimal] | None = None,
) -> Decimal:
    """USD total of the lines dated inside ``window`` (credits count).
    Rates are needed only for lines inside the window."""
    return convert((line for line in lines if line[2] in window), rates or {})
