"""Money and dates as people read them, in English or German. Pure Python
(no Django): the compliance rules word their explanations with it, the
pages, emails and exports show amounts with it.

Money is ``Decimal``, rounded half-up to cents only here, for display.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, partial

CENT = Decimal("0.01")


#: 10 ** -places for the scales the columns use (made once: this runs for
#: every stored amount of a night)
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(19)}


def round_places(amount: Decimal, places: int) -> Decimal:
    """``amount`` rounded half-up at ``places`` decimals (as a column of that
    scale keeps it)."""
    quantum = _QUANTA.get(places)
    if quantum is None:
        quantum = Decimal(1).scaleb(-places)
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def places_rounder(places: int) -> Callable[[Decimal], Decimal]:
    """:func:`round_places` at ``places`` as one callable with nothing in
    between (for the amounts of every finding of a night)."""
    return partial(Decimal.quantize, exp=Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded half-up to cents: the one rounding of money for
    display, files and JSON."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cents_text(amount: Decimal | None) -> str | None:
    """``"1250.00"``: an amount in cents as plain text, for JSON lines and
    chart data (None stays None)."""
    return None if amount is None else str(round_cents(amount))


def is_german(language: str) -> bool:
    return (language or "en").lower().startswith("de")


def format_date(day: date, language: str = "en") -> str:
    """ISO date in English (``2021-09-30``), ``30.09.2021`` in German."""
    if is_german(language):
        return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"
    return day.isoformat()


def format_usd(amount: Decimal | int | str, language: str = "en") -> str:
    """``USD 212,400.00`` (English) or ``212.400,00 USD`` (German), rounded
    half-up to cents."""
    if isinstance(amount, float):
        raise TypeError("money must be Decimal (or int/str), not float")
    text = _cents_text(amount if isinstance(amount, Decimal) else Decimal(amount))
    if is_german(language):
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return f"{text} USD"
    return f"USD {text}"


@lru_cache(maxsize=8192)
def _cents_text(amount: Decimal) -> str:
    # Cached: each total is shown in English and German, thresholds repeat.
    cents = round_cents(amount)
    if cents == 0:
        cents = abs(cents)  # no "-0.00"
    return f"{cents:,.2f}"
