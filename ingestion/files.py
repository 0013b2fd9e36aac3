"""What every CSV file the portal imports shares, whatever its format: the
two dialects (and how the header line tells them), the header of the
daily-rated usage file that no format imports, and how a value is quoted in
a message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext

from .report import RowError


@dataclass(frozen=True)
class Dialect:
    label: str
    delimiter: str
    decimal_comma: bool
    german_dates: bool  # also DD.MM.YYYY


COMMA = Dialect("comma-separated, decimal point", ",", decimal_comma=False, german_dates=False)
SEMICOLON = Dialect(
    "semicolon-separated, decimal comma", ";", decimal_comma=True, german_dates=True
)


def dialect_of(first_line: str) -> Dialect:
    """The dialect the header line is written in (more semicolons than commas:
    German Excel)."""
    return SEMICOLON if first_line.count(";") > first_line.count(",") else COMMA


#: Columns of Microsoft's daily-rated usage reconciliation file that no
#: invoice reconciliation file has (its amount and date; lower case).
DAILY_RATED_USAGE_COLUMNS = frozenset({"usagedate", "billingpretaxtotal"})


def daily_rated_usage_error(header: Iterable[str]) -> RowError | None:
    """The error for the header of a daily-rated usage reconciliation file
    (``Tier2MpnId, UsageDate, ..., BillingPreTaxTotal, BillingCurrency, ...``),
    None for any other header. Such a file is never imported, in either
    format: the usage it lists is billed in the invoice reconciliation file,
    and importing both would count it twice."""
    names = {name.strip().lstrip("\ufeff").lower() for name in header}
    if not names >= DAILY_RATED_USAGE_COLUMNS:
        return None
    return RowError(
        1,
        "",
        gettext(
            "this is a Partner Center daily-rated usage reconciliation file (UsageDate, "
            "BillingPreTaxTotal, ...), which is not imported: Azure usage is billed in the "
            "invoice reconciliation file, so import that file instead (revenue, Partner "
            "Center format); importing both would count the usage twice"
        ),
    )


def shown(value: str) -> str:
    """A cell value as a message quotes it (long values cut)."""
    return repr(value if len(value) <= 40 else value[:37] + "...")
