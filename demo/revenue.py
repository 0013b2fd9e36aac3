"""What the demo money looks like: monthly exchange rates and the revenue
lines of a planned location.

Exchange rates: one per month from the first revenue month to the as-of month
for EUR, CHF and GBP (drifting smoothly within realistic bands) and for USD at
exactly 1, so that code looking up every currency's rate finds one.

Density: by default a location has 1-4 invoice lines in a month with sales
(more for larger amounts); ``lines_per_month`` gives every such month that
many lines instead (no more lines than dollars), shaped by the same monthly
amounts: the benchmarks' data sets of millions of rows.
"""

from __future__ import annotations

import datetime
import math
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from .helpers import cents, days_in_month, month_index, month_start

if TYPE_CHECKING:
    from .plans import LocationPlan, PartnerPlan

# ``lines_per_month``: the densest data set the benchmarks ask for and more.
MAX_LINES_PER_MONTH = 50

# USD per unit: (low, high) of a realistic band; the monthly series drifts smoothly.
RATE_BANDS = {
    "EUR": (1.05, 1.12),
    "CHF": (1.10, 1.20),
    "GBP": (1.22, 1.32),
}


def exchange_rates(rng: random.Random, indices: range) -> dict[str, dict[int, Decimal]]:
    """USD per unit of each currency for the months ``indices``."""
    rates: dict[str, dict[int, Decimal]] = {"USD": dict.fromkeys(indices, Decimal(1))}
    for code, (low, high) in RATE_BANDS.items():
        mid, amp = (low + high) / 2, (high - low) / 2
        period = rng.uniform(20, 40)
        phase = rng.uniform(0, 2 * math.pi)
        walk = 0.0
        series = {}
        for index in indices:
            walk = max(-0.25, min(0.25, walk + rng.gauss(0, 0.06)))
            value = mid + amp * (0.7 * math.sin(2 * math.pi * index / period + phase) + walk)
            value = max(low, min(high, value))
            series[index] = Decimal(f"{value:.4f}")
        rates[code] = series
    return rates


class RevenueLines:
    """The invoice lines of planned locations for the revenue months
    ``first_index`` to the month of ``last_day`` (the day before as-of)."""

    def __init__(
        self,
        *,
        first_index: int,
        last_day: datetime.date,
        float_rates: dict[str, dict[int, float]],
        lines_per_month: int | None,
    ) -> None:
        self.first_index = first_index
        self.last_day = last_day
        self.last_index = month_index(last_day)
        self.float_rates = float_rates
        # None: 1-4 invoice lines a month by amount (the default data set);
        # a number: that many lines in every month with sales (benchmarks).
        self.lines_per_month = lines_per_month
        months = range(first_index, self.last_index + 1)
        self.month_keys = {index: f"{index // 12:04d}{index % 12 + 1:02d}" for index in months}
        # Precomputed ISO dates per revenue month (the revenue loop is the hot path).
        self.month_days = {
            index: [
                month_start(index).replace(day=d).isoformat()
                for d in range(1, days_in_month(index) + 1)
            ]
            for index in months
        }

    def lines(
        self, plan: PartnerPlan, location: LocationPlan
    ) -> Iterator[tuple[str, str, str, str, str]]:
        """(date, amount, currency, reference, customer) for one location.

        The hot path of a large seed: plain ``random()`` draws, no helpers."""
        shape = location.monthly_usd
        if shape is None:
            return
        rng = plan.rng
        draw = rng.random
        currency = location.currency
        rates = self.float_rates[currency]
        customers = plan.customers
        n_customers = len(customers)
        onboarded = location.onboarded_on
        onboarded_index = month_index(onboarded)
        start = max(self.first_index, onboarded_index)
        stop = self.last_index if location.stop_index is None else location.stop_index
        density = self.lines_per_month
        for index in range(start, stop + 1):
            usd = shape(index, rng)
            if usd <= 0:
                continue
            days = self.month_days[index]
            low = onboarded.day if index == onboarded_index else 1
            high = self.last_day.day if index == self.last_index else len(days)
            if low > high:
                continue
            span = high - low + 1
            base = low - 1
            total = round(usd * 100 / rates[index])
            if total <= 0:
                continue
            invoice = f"INV-{self.month_keys[index]}-{location.location_id}-"
            if density is not None:
                lines = max(1, min(density, total // 100))  # no more lines than dollars
            elif total < 10_000:
                lines = 1
            else:
                r = draw()
                lines = 1 if r < 0.35 else 2 if r < 0.65 else 3 if r < 0.85 else 4
            if lines == 1:
                amounts = [total]
            else:
                weights = [0.3 + 0.7 * draw() for _ in range(lines)]
                weight_sum = sum(weights)
                amounts = [round(total * w / weight_sum) for w in weights[:-1]]
                amounts.append(total - sum(amounts))
            for n, amount in enumerate(amounts, 1):
                yield (
                    days[base + int(draw() * span)],
                    cents(amount),
                    currency,
                    f"{invoice}{n}",
                    customers[int(draw() * n_customers)],
                )
            if total >= 20_000 and draw() < 0.02:
                # A credit note: part of an earlier invoice refunded.
                yield (
                    days[base + int(draw() * span)],
                    cents(-round(total * (0.03 + 0.17 * draw()))),
                    currency,
                    f"CN-{self.month_keys[index]}-{location.location_id}-1",
                    customers[int(draw() * n_customers)],
                )
