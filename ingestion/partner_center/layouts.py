"""The layouts of Partner Center reconciliation files (new-commerce and
legacy), recognised from the header, and how their dates and amounts are
written."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from ingestion.files import daily_rated_usage_error
from ingestion.report import FileRejected, RowError
from partners.models import MONEY_DIGITS, MONEY_PLACES

_MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_MONEY_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)


# --- Layouts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    name: str
    label: str
    #: Columns that must be in the header (canonical spelling).
    required: tuple[str, ...]
    #: Columns whose values identify a line (absent columns count as empty).
    identity: tuple[str, ...]
    #: Other spellings of a column in this layout -> canonical name.
    aliases: dict[str, str] = field(default_factory=dict)
    #: Any of these columns in the header selects this layout.
    markers: frozenset[str] = frozenset()


NEW_COMMERCE = Layout(
    name="new-commerce",
    label="Partner Center new-commerce invoice reconciliation",
    required=(
        "ResellerMpnId",
        "CustomerName",
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "ChargeType",
        "ChargeStartDate",
        "Subtotal",
        "Currency",
    ),
    identity=(
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "LineItemId",
        "ResellerMpnId",
        "CustomerId",
        "ProductId",
        "SkuId",
        "AvailabilityId",
        "ChargeType",
        "ChargeStartDate",
        "ChargeEndDate",
        "TermAndBillingCycle",
        "BillingFrequency",
        "MeterDescription",
        "ReservationOrderId",
        "ReferenceId",
        "PriceAdjustmentDescription",
        "PromotionId",
        "CreditReasonCode",
    ),
    markers=frozenset(
        name.lower()
        for name in (
            "AvailabilityId",
            "SkuId",
            "EffectiveUnitPrice",
            "PriceAdjustmentDescription",
            "BillableQuantity",
            "PCToBCExchangeRate",
            "TermAndBillingCycle",
            "ProductQualifiers",
        )
    ),
)

LEGACY = Layout(
    name="legacy",
    label="Partner Center license-based (legacy) reconciliation",
    required=(
        "ResellerMpnId",
        "CustomerName",
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "ChargeStartDate",
        "Subtotal",
        "Currency",
    ),
    identity=(
        "InvoiceNumber",
        "OrderId",
        "SubscriptionId",
        "LineItemId",
        "ResellerMpnId",
        "CustomerId",
        "SyndicationPartnerSubscriptionNumber",
        "OfferId",
        "DurableOfferId",
        "ChargeType",
        "ChargeStartDate",
        "ChargeEndDate",
    ),
    aliases={"tier2mpnid": "ResellerMpnId"},
    markers=frozenset({"offerid", "durableofferid", "syndicationpartnersubscriptionnumber"}),
)

DATE_COLUMNS = frozenset({"ChargeStartDate", "ChargeEndDate"})
_SIMPLE_REVENUE = frozenset({"location_id", "date", "amount", "currency", "reference"})


@dataclass(frozen=True)
class Columns:
    """Where the columns of a layout are in one file."""

    layout: Layout
    positions: dict[str, int]
    ignored: list[str]
    width: int


def detect_layout(header: list[str]) -> Columns:
    """Choose the layout from a header row; :class:`FileRejected` naming the
    missing columns when neither fits."""
    lowered = [name.strip().lstrip("\ufeff").lower() for name in header]
    present = set(lowered)
    if not any(lowered):
        raise FileRejected([RowError(1, "", "the file is empty or has no header row")])
    if usage := daily_rated_usage_error(lowered):
        raise FileRejected([usage])
    if present >= _SIMPLE_REVENUE:
        raise FileRejected(
            [
                RowError(
                    1,
                    "",
                    "this is the simple revenue format (location_id,date,amount,...), not a "
                    "Partner Center reconciliation file; import it with the simple format",
                )
            ]
        )
    layout = NEW_COMMERCE if present & NEW_COMMERCE.markers else LEGACY
    canonical = {name.lower(): name for name in (*layout.required, *layout.identity)}
    canonical.update({"customername": "CustomerName", "subtotal": "Subtotal"})
    positions: dict[str, int] = {}
    repeated: list[str] = []
    ignored: list[str] = []
    for index, name in enumerate(lowered):
        target = layout.aliases.get(name) or canonical.get(name)
        if target is None:
            if name:
                ignored.append(header[index].strip())
            continue
        if target in positions:
            repeated.append(header[index].strip())
            continue
        positions[target] = index
    errors = []
    missing = [name for name in layout.required if name not in positions]
    if missing:
        errors.append(
            RowError(1, "", f"missing columns for the {layout.label} file: {', '.join(missing)}")
        )
    if repeated:
        errors.append(RowError(1, "", f"repeated columns: {', '.join(repeated)}"))
    if errors:
        raise FileRejected(errors)
    return Columns(layout=layout, positions=positions, ignored=ignored, width=len(header))


# --- Cells -------------------------------------------------------------------------

_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATETIME = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)?"
)
_GERMAN_DATETIME = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?")
_POINT_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d*)?|[+-]?\.\d+")
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+)(?:,\d*)?|[+-]?,\d+")
MPN_PATTERN = re.compile(r"[0-9]{1,20}")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


def parse_charge_date(value: str, *, german: bool = False) -> datetime.date | None:
    """The date part of a Partner Center date or date-time, else None."""
    if match := _ISO_DATETIME.fullmatch(value):
        year, month, day = match.groups()
    elif match := _US_DATETIME.fullmatch(value):
        month, day, year = match.groups()
    elif german and (match := _GERMAN_DATETIME.fullmatch(value)):
        day, month, year = match.groups()
    else:
        return None
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_amount(value: str, *, decimal_comma: bool = False) -> Decimal | None:
    """A Partner Center amount rounded to six places, else None."""
    if decimal_comma:
        if not _COMMA_NUMBER.fullmatch(value):
            return None
        value = value.replace(".", "").replace(",", ".")
    else:
        if not _POINT_NUMBER.fullmatch(value):
            return None
        value = value.replace(",", "")
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
        return None
    if abs(number) >= _MONEY_LIMIT:
        return None
    if number.as_tuple().exponent < -MONEY_PLACES:  # type: ignore[operator]  # finite here: an int exponent
        number = number.quantize(_MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    return number


def looks_like_amount(value: str) -> bool:
    """Whether ``value`` is written like an amount (then :func:`parse_amount`
    refused it for its size)."""
    return bool(_POINT_NUMBER.fullmatch(value) or _COMMA_NUMBER.fullmatch(value))
