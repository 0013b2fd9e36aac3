"""Partner Center reconciliation files -> revenue records (PRODUCT section 7).

Two layouts are recognised from the header (names in any case, in any order,
unknown extra columns ignored):

- **new-commerce**: the new-commerce invoice reconciliation file (``PartnerId,
  CustomerId, CustomerName, ..., InvoiceNumber, MpnId, ResellerMpnId,
  OrderId, ..., ProductId, SkuId, AvailabilityId, ..., ChargeType, ...,
  Subtotal, TaxTotal, Total, Currency, ..., ChargeStartDate, ChargeEndDate,
  ...``); recognised by any of its own columns (``AvailabilityId``, ``SkuId``,
  ``EffectiveUnitPrice``, ``PCToBCExchangeRate``, ...);
- **legacy**: the license-based file (``ResellerMpnId`` or ``Tier2MpnId``,
  ``InvoiceNumber``, ``OrderId``, ``SubscriptionId``, ``ChargeStartDate``,
  ``Subtotal``, ``Currency``, ...).

A **daily-rated usage** reconciliation file (``Tier2MpnId, ..., UsageDate, ...,
BillingPreTaxTotal, BillingCurrency, ...``) is recognised and refused: the
Azure usage it lists is billed in the invoice reconciliation file, and
importing both would count it twice.

One line becomes one :class:`~partners.models.RevenueRecord`: the amount is
the pre-tax ``Subtotal`` (credits are negative; more than six decimal places
are rounded half-even to six), the date is the date part of
``ChargeStartDate`` (``2024-03-01T00:00:00``, ``3/1/2024 12:00:00 AM``,
``2024-03-01``...; at most the last day of next month, as every revenue date:
``partners.dates``), the location is the one whose ``location_id`` is
``ResellerMpnId``, the currency is ``Currency``, the customer is
``CustomerName`` (cut to 200 characters), the source is ``import``.

**Reference** (unique per location and source, so a re-import is a no-op)::

    <InvoiceNumber>/<OrderId>/<16 hex digits>[#<n>]

The hex digits are the start of the SHA-256 of the *line identity*: the
lower-cased values of :attr:`Layout.identity` (invoice, order, subscription,
product/SKU/availability or offer, charge type, charge period as ISO dates,
billing term, meter, reference and promotion ids, reseller, customer...),
joined by U+001F. Amount and quantity are not part of it, so a corrected
amount in a later export updates the record instead of adding one. Lines
sharing the whole identity are numbered in file order: the second gets
``#2``, the third ``#3``... (the first keeps no suffix, so appending a line
never renames an earlier one).

**Unknown resellers** (a ``ResellerMpnId`` that is no location, or empty: a
line the distributor sold without a reseller) are reported once per id with
their rows, customers and totals per currency; they reject the file unless
``skip_unknown`` is set, in which case they are skipped and listed.

The file is **streamed**: a text wrapper over the binary file feeds
:func:`records` (``csv.reader``, with a fast split for lines without quotes);
lines are checked and resolved in chunks and only the good lines of the
current chunk are held. Where they go is a :class:`Sink` over an engine of
the one revenue upsert (``partners.revenue``, docs/decisions/0008): on
PostgreSQL one ``COPY`` into its staging table *while* the file is read (the
database ingests a chunk while Python reads the next), then one set-based
statement that updates the changed records (with history) and inserts the
new ones (docs/decisions/0004-revenue-import-on-postgresql.md); elsewhere a
list handed to its portable engine.

The package: ``layouts`` (the layouts, dates, amounts), ``scanner`` (reading
and checking), ``sinks`` (where the good lines go), ``service``
(:func:`revenue_import`). The public names of every module are importable
from here.
"""

from .layouts import (
    LEGACY,
    NEW_COMMERCE,
    Columns,
    Layout,
    detect_layout,
    parse_amount,
    parse_charge_date,
)
from .scanner import (
    CHUNK_LINES,
    PROGRESS_STEPS,
    Chunk,
    Line,
    Scanner,
    Sink,
    UnknownReseller,
    records,
)
from .service import revenue_import
from .sinks import ListSink, PostgresSink, make_sink

__all__ = [
    "CHUNK_LINES",
    "LEGACY",
    "NEW_COMMERCE",
    "PROGRESS_STEPS",
    "Chunk",
    "Columns",
    "Layout",
    "Line",
    "ListSink",
    "PostgresSink",
    "Scanner",
    "Sink",
    "UnknownReseller",
    "detect_layout",
    "make_sink",
    "parse_amount",
    "parse_charge_date",
    "records",
    "revenue_import",
]
