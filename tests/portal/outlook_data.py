"""Resellers with a known deadline outlook (PRODUCT 4.9) for the staff pages:
the specification's example on its own date, and the same situation moved to
any day (for pages that evaluate today, like the browser tests)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from compliance.rules.dates import month_start, ttm_window
from compliance.rules.outlook import pace_window
from compliance.services import evaluation_run
from partners import services as ps

D = datetime.date
DAY = datetime.timedelta(days=1)
#: PRODUCT 4.9: D 2025-11-20, deadline 2026-02-01 (73 days)
AS_OF = D(2025, 11, 20)
FEB, MAR, APR = D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)


def reseller(partner_id: str, name: str, onboarded_on: datetime.date, manager=None):
    """An indirect reseller with one location (id = partner id + 1,000,000)."""
    partner = ps.partner_create(
        partner_id=partner_id,
        name=name,
        country="DE",
        onboarded_on=onboarded_on,
        account_manager=manager,
    )
    location = ps.location_create(
        partner=partner,
        location_id=str(int(partner_id) + 1_000_000),
        country="DE",
        onboarded_on=onboarded_on,
    )
    return partner, location


def book(location, day: datetime.date, amount: str) -> None:
    ps.revenue_record_create(
        location=location,
        revenue_date=day,
        amount=Decimal(amount),
        currency="USD",
        reference=f"R-{location.location_id}-{day:%Y%m%d}-{amount}",
    )


def onboarded_for(deadline: datetime.date) -> datetime.date:
    """An onboarding date whose first anniversary month gives ``deadline``
    (the first of a month): no earlier deadline was decided (or missed)."""
    return D(deadline.year - 1, deadline.month, 10)


def product_example(location, *, roll_off: str = "700.00", in_window: str = "366.00"):
    """PRODUCT 4.9 for a location whose deadline is 2026-02-01 on AS_OF
    (onboarded ``onboarded_for(D(2026, 2, 1))``):
    TTM 1,250.00 (compliant), 700.00 of it before the deadline window
    (2025-02-01 ..) rolls off, secured 550.00, needed 450.00, pace
    USD 184.00 / 92 days = 2.00 a day, projected 696.00: short. Moving money
    from ``in_window`` to ``roll_off`` keeps the TTM and raises the need."""
    book(location, D(2024, 6, 1), "400.00")  # outside today's TTM
    book(location, D(2025, 1, 15), roll_off)
    book(location, D(2025, 3, 10), in_window)
    book(location, D(2025, 8, 5), "100.00")
    book(location, D(2025, 9, 5), "50.00")
    book(location, D(2025, 10, 5), "34.00")


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return D(index // 12, index % 12 + 1, 1)


def next_deadline_in_two_months(today: datetime.date) -> datetime.date:
    return _add_months(month_start(today), 2)


def compliant_short_today(location, today: datetime.date) -> None:
    """The PRODUCT 4.9 situation moved to ``today`` for a location onboarded
    ``onboarded_for(next_deadline_in_two_months(today))``: compliant today
    (TTM 1,250.00), USD 700.00 rolls off before the deadline window,
    USD 550.00 is secured and the pace of the last three months (USD 184.00)
    leaves it short."""
    deadline = next_deadline_in_two_months(today)
    window = ttm_window(deadline)
    pace = pace_window(today)
    book(location, window.start - 15 * DAY, "700.00")
    book(location, window.start + 40 * DAY, "366.00")
    for months, amount in ((0, "100.00"), (1, "50.00"), (2, "34.00")):
        book(location, _add_months(pace.start, months) + 4 * DAY, amount)


def at_risk_today(location, today: datetime.date, amount: str = "400.00") -> None:
    """At risk today: ``amount`` of USD 1,000.00, booked 40 days ago."""
    book(location, today - 40 * DAY, amount)


def outlook_world(manager) -> dict:
    """Resellers evaluated as of AS_OF (2025-11-20), one location each:

    compliant today, short at the deadline (most urgent first):
      1000102  deadline 2026-02-01, needed 550.00, projected 596.00
      1000101  deadline 2026-02-01, needed 450.00, projected 696.00 (PRODUCT 4.9)
      1000103  deadline 2026-03-01, needed 450.00, projected 752.00
    compliant and met (1000104) or on track (1000105);
    at risk: 1000106 on track (2026-02-01, needs 400.00), 1000107 short
    (2026-03-01, needs 700.00), 1000108 short (2026-04-01, needs 100.00)."""
    partners = {}

    def add(partner_id, name, deadline):
        partner, location = reseller(partner_id, name, onboarded_for(deadline), manager)
        partners[partner_id] = partner
        return location

    product_example(add("1000101", "Kurzatmig IT GmbH", FEB))
    product_example(add("1000102", "Rollfeld Systems", FEB), roll_off="800.00", in_window="266.00")
    product_example(add("1000103", "Märzhase Cloud", MAR))
    book(add("1000104", "Vollgas Vertrieb", FEB), D(2025, 3, 10), "1100.00")
    on_track = add("1000105", "Kurshalter AG", FEB)
    for day, amount in [
        (D(2025, 1, 15), "700.00"),
        (D(2025, 3, 10), "366.00"),
        (D(2025, 8, 5), "150.00"),
        (D(2025, 9, 5), "150.00"),
        (D(2025, 10, 5), "100.00"),
    ]:
        book(on_track, day, amount)
    risky = add("1000106", "Bald Knapp KG", FEB)
    for month in (8, 9, 10):
        book(risky, D(2025, month, 5), "200.00")
    book(add("1000107", "Großer Bedarf GmbH", MAR), D(2025, 3, 10), "300.00")
    book(add("1000108", "Kleiner Bedarf UG", APR), D(2025, 4, 10), "900.00")
    evaluation_run(as_of=AS_OF)
    return partners
