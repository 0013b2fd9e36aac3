"""What the demo data holds: partners planned one at a time.

Deterministic: every random choice comes from ``random.Random(seed)`` (each
partner from its own child generator, so chunk sizes change nothing) and every
date is relative to ``as_of``; the generator never looks at the clock.

The scenarios are designed around the programme policies (PRODUCT section 2)
and the default of 24 months of revenue, which covers the window of the last
decided deadline of every subject:

* reseller locations: most comfortably above USD 1,000 TTM; some at risk (first
  onboarding anniversary weeks away, a few hundred dollars so far); some past a
  missed deadline (anniversary month began a few weeks before ``as_of``,
  almost no revenue); some without any revenue; a few large ones that would
  qualify for direct bill;
* direct-bill partners: most compliant (USD 100k-150k a month, paid ASfP/PSfP,
  designation, agreement); some at risk (revenue fell below USD 1M TTM, or the
  support plan expired and the renewal is unpaid, deadline weeks away); some
  past a missed deadline (one requirement missing); some simply below.
"""

# ruff: noqa: S311 - pseudo-random on purpose: reproducible demo data, no secrets.
from __future__ import annotations

import calendar
import datetime
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from partners.models import BillingModel, PartnerStatus, PlanType

from . import names
from .helpers import add_years, month_index, month_start, random_day, weighted
from .revenue import RevenueLines, exchange_rates

# New direct-bill enrolments stopped on this day (PRODUCT section 2).
DIRECT_BILL_CUTOFF = datetime.date(2020, 10, 1)
EARLIEST_ONBOARDING = datetime.date(2014, 1, 1)

CURRENCY_BY_COUNTRY = {
    **dict.fromkeys(("DE", "AT", "NL", "FR", "BE", "LU", "IE", "IT", "ES"), "EUR"),
    "CH": "CHF",
    "LI": "CHF",
    "GB": "GBP",
}  # anything else bills in USD

# (country, weight): DACH-heavy.
COUNTRY_WEIGHTS = (
    ("DE", 34),
    ("AT", 11),
    ("CH", 11),
    ("GB", 12),
    ("NL", 8),
    ("FR", 6),
    ("US", 7),
    ("BE", 3),
    ("IE", 2),
    ("IT", 2),
    ("ES", 2),
    ("PL", 1),
    ("LU", 0.5),
    ("LI", 0.5),
)
NEIGHBOURS = {
    "DE": ("AT", "CH", "NL", "PL"),
    "AT": ("DE", "CH"),
    "CH": ("DE", "AT", "LI"),
    "LI": ("CH", "AT"),
    "GB": ("IE", "NL"),
    "IE": ("GB",),
    "NL": ("BE", "DE"),
    "BE": ("NL", "FR", "LU"),
    "LU": ("BE", "DE", "FR"),
    "FR": ("BE", "CH", "LU"),
    "US": ("GB",),
    "IT": ("CH", "AT"),
    "ES": ("FR",),
    "PL": ("DE",),
}
SUPPORT_LIST_PRICE_USD = {
    PlanType.ASFP: 6_000,
    PlanType.PSFP: 48_000,
    PlanType.UNIFIED: 25_000,
    PlanType.OTHER: 2_500,
}


@dataclass
class LocationPlan:
    location_id: str
    name: str
    country: str
    currency: str
    onboarded_on: datetime.date
    profile: str
    # (month index, generator) -> USD for that month; None: no revenue at all.
    monthly_usd: Callable[[int, random.Random], float] | None
    is_active: bool = True
    stop_index: int | None = None  # no revenue after this month (offboarded partner)


@dataclass
class PartnerPlan:
    partner_id: str
    name: str
    country: str
    billing_model: str
    onboarded_on: datetime.date
    profile: str
    rng: random.Random
    status: str = PartnerStatus.ACTIVE
    account_manager_id: int | None = None
    agreement_signed_on: datetime.date | None = None
    designations: list[int] = field(default_factory=list)
    locations: list[LocationPlan] = field(default_factory=list)
    contacts: list[tuple[str, str, str, bool]] = field(default_factory=list)
    contracts: list[dict] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)


# Profiles of the first partners, so even a tiny portfolio shows every case:
# (billing model, profile, country, number of locations)
GUARANTEED = (
    (BillingModel.INDIRECT_RESELLER, "reseller_at_risk", "DE", 1),  # partner1's partner
    (BillingModel.INDIRECT_RESELLER, "reseller_strong", "GB", 2),  # partner2's partner
    (BillingModel.INDIRECT_RESELLER, "reseller_missed", "AT", 1),
    (BillingModel.DIRECT_BILL, "direct_compliant", "DE", 2),
    (BillingModel.DIRECT_BILL, "direct_at_risk_revenue", "CH", 1),
    (BillingModel.DIRECT_BILL, "direct_missed", "DE", 1),
    (BillingModel.INDIRECT_RESELLER, "reseller_no_revenue", "NL", 1),
    (BillingModel.INDIRECT_RESELLER, "reseller_typical", "US", 1),
    (BillingModel.DIRECT_BILL, "direct_at_risk_support", "GB", 1),
    (BillingModel.INDIRECT_RESELLER, "reseller_large", "DE", 3),
    (BillingModel.INDIRECT_RESELLER, "reseller_small", "CH", 1),
)
RESELLER_PROFILES = (
    ("reseller_strong", 34),
    ("reseller_typical", 30),
    ("reseller_small", 12),
    ("reseller_at_risk", 8),
    ("reseller_missed", 6),
    ("reseller_no_revenue", 4),
    ("reseller_new", 4),
    ("reseller_large", 2),
)
# Further locations of a reseller: the scenario profiles only where the
# partner's own onboarding date allows it (see Generator._reseller_location).
EXTRA_LOCATION_PROFILES = (
    ("reseller_strong", 35),
    ("reseller_typical", 35),
    ("reseller_small", 15),
    ("reseller_at_risk", 5),
    ("reseller_missed", 5),
    ("reseller_no_revenue", 5),
)
# What the summary calls each scenario, in the order it lists them.
SCENARIO_LABELS = {
    "reseller_strong": "reseller locations selling USD 2,500-12,000 a month",
    "reseller_typical": "reseller locations selling USD 600-2,500 a month",
    "reseller_small": "reseller locations selling USD 150-400 a month",
    "reseller_large": "reseller locations selling USD 80k-160k a month (direct-bill ready)",
    "reseller_new": "reseller locations onboarded in the last five months",
    "reseller_at_risk": "reseller locations at risk: under USD 1,000, first anniversary in weeks",
    "reseller_missed": "reseller locations that missed their anniversary a few weeks ago",
    "reseller_no_revenue": "reseller locations without any revenue",
    "direct_compliant": "direct-bill partners meeting every requirement",
    "direct_at_risk_revenue": "direct-bill partners at risk: revenue fell below USD 1M",
    "direct_at_risk_support": "direct-bill partners at risk: support plan expired, renewal unpaid",
    "direct_missed": "direct-bill partners that missed their anniversary (a requirement short)",
    "direct_below": "direct-bill partners well below USD 1M",
    "partner_suspended": "suspended partners",
    "partner_offboarded": "offboarded partners (locations inactive)",
}
DIRECT_PROFILES = (
    ("direct_compliant", 55),
    ("direct_at_risk_revenue", 10),
    ("direct_at_risk_support", 10),
    ("direct_missed", 15),
    ("direct_below", 10),
)


class Generator:
    """Plans partners one at a time from per-partner random generators."""

    def __init__(
        self,
        *,
        seed: int,
        as_of: datetime.date,
        months: int,
        account_manager_ids: list[int],
        designation_ids: list[int],
        lines_per_month: int | None = None,
    ) -> None:
        self.master = random.Random(seed)
        self.ids_rng = random.Random(self.master.getrandbits(64))
        self.names_rng = random.Random(self.master.getrandbits(64))
        rates_rng = random.Random(self.master.getrandbits(64))
        self.as_of = as_of
        self.last_day = as_of - datetime.timedelta(days=1)  # revenue up to the day before
        self.last_index = month_index(self.last_day)
        self.first_index = self.last_index - months + 1
        self.rate_indices = range(self.first_index, max(self.last_index, month_index(as_of)) + 1)
        self.account_manager_ids = account_manager_ids
        self.designation_ids = designation_ids
        self.used_ids: set[str] = set()
        self.used_names: set[str] = set()
        self.rates = exchange_rates(rates_rng, self.rate_indices)
        self.float_rates = {
            code: {index: float(value) for index, value in series.items()}
            for code, series in self.rates.items()
        }
        self.revenue = RevenueLines(
            first_index=self.first_index,
            last_day=self.last_day,
            float_rates=self.float_rates,
            lines_per_month=lines_per_month,
        )

    def usd_per_unit(self, currency: str, index: int) -> float:
        return self.float_rates[currency][index]

    # -- identifiers

    def new_id(self) -> str:
        while True:
            candidate = str(self.ids_rng.randrange(10_000_000_000, 100_000_000_000))
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate

    # -- dates

    def past_onboarding(self, rng: random.Random) -> datetime.date:
        years = weighted(rng, (("0-1", 10), ("1-3", 35), ("3-6", 35), ("6-10", 20)))
        low, high = (float(x) for x in years.split("-"))
        low = max(low, 0.2)
        day = self.as_of - datetime.timedelta(days=int(365.25 * rng.uniform(low, high)))
        return max(day, EARLIEST_ONBOARDING)

    def direct_onboarding(self, rng: random.Random) -> datetime.date:
        latest = min(DIRECT_BILL_CUTOFF - datetime.timedelta(days=1), add_years(self.as_of, -1))
        earliest = min(EARLIEST_ONBOARDING, add_years(latest, -3))
        return random_day(rng, earliest, latest)

    def upcoming_deadline(self, rng: random.Random) -> datetime.date:
        """The first day of a month two to ten weeks after as_of."""
        candidates = []
        for ahead in (1, 2, 3):
            start = month_start(month_index(self.as_of) + ahead)
            if 14 <= (start - self.as_of).days <= 70:
                candidates.append(start)
        return rng.choice(candidates)

    def recent_deadline(self, rng: random.Random) -> datetime.date:
        """The first day of a month one to six weeks before as_of."""
        candidates = []
        for back in (0, 1):
            start = month_start(month_index(self.as_of) - back)
            if 7 <= (self.as_of - start).days <= 45:
                candidates.append(start)
        return rng.choice(candidates)

    def onboarding_for_anniversary(
        self,
        rng: random.Random,
        deadline: datetime.date,
        *,
        earliest: datetime.date,
        latest: datetime.date,
        years: Iterable[int],
    ) -> datetime.date | None:
        """A day in the anniversary month of ``deadline`` some years earlier."""
        options = []
        for n in years:
            start = add_years(deadline, -n)
            end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
            start, end = max(start, earliest), min(end, latest)
            if start <= end:
                options.append((start, end))
        if not options:
            return None
        start, end = rng.choice(options)
        return random_day(rng, start, end)

    # -- revenue shapes (USD per month)

    def steady(self, rng: random.Random, low: float, high: float, noise: float = 0.2):
        base = math.exp(rng.uniform(math.log(low), math.log(high)))
        trend = rng.uniform(-0.008, 0.015)
        season = rng.uniform(0.0, 0.12)
        offset = self.last_index
        return lambda i, r: (
            base
            * (1 + trend) ** (i - offset)
            * (1 + season * math.sin(2 * math.pi * i / 12))
            * r.uniform(1 - noise, 1 + noise)
        )

    @staticmethod
    def flat(base: float, noise: float):
        return lambda i, r: base * r.uniform(1 - noise, 1 + noise)

    # -- partners

    def plan_partner(self, number: int) -> PartnerPlan:
        rng = random.Random(self.master.getrandbits(64))
        if number < len(GUARANTEED):
            billing_model, profile, country, n_locations = GUARANTEED[number]
        else:
            billing_model = (
                BillingModel.DIRECT_BILL if rng.random() < 0.09 else BillingModel.INDIRECT_RESELLER
            )
            profiles = (
                DIRECT_PROFILES if billing_model == BillingModel.DIRECT_BILL else RESELLER_PROFILES
            )
            profile = weighted(rng, profiles)
            country = weighted(rng, COUNTRY_WEIGHTS)
            n_locations = int(weighted(rng, (("1", 62), ("2", 26), ("3", 12))))
            if profile in ("reseller_at_risk", "reseller_missed", "reseller_new"):
                n_locations = 1  # a newcomer or a struggling single-site reseller
        plan = PartnerPlan(
            partner_id=self.new_id(),
            name=names.partner_name(self.names_rng, country, self.used_names),
            country=country,
            billing_model=billing_model,
            onboarded_on=self.as_of,
            profile=profile,
            rng=rng,
        )
        if number >= len(GUARANTEED):
            plan.status = weighted(
                rng,
                (
                    (PartnerStatus.ACTIVE, 97),
                    (PartnerStatus.SUSPENDED, 2),
                    (PartnerStatus.OFFBOARDED, 1),
                ),
            )
        if billing_model == BillingModel.DIRECT_BILL:
            self._plan_direct(rng, plan, n_locations)
        else:
            # partner2's partner (number 1) is established and compliant everywhere.
            self._plan_reseller(rng, plan, n_locations, established=number == 1)
        plan.contacts = names.contacts(
            rng, partner_name=plan.name, country=country, at_least_one=number < len(GUARANTEED)
        )
        plan.customers = names.customers(rng, country)
        if self.account_manager_ids:
            # partner1's and partner2's partners belong to ``manager`` (index 0).
            am_index = 0 if number < 2 else number % len(self.account_manager_ids)
            plan.account_manager_id = self.account_manager_ids[am_index]
        if plan.status == PartnerStatus.OFFBOARDED:
            stop = self.last_index - rng.randint(2, 10)
            for location in plan.locations:
                location.is_active = False
                location.stop_index = stop
        return plan

    def _location(
        self,
        rng: random.Random,
        plan: PartnerPlan,
        profile: str,
        onboarded_on: datetime.date,
        monthly_usd,
        *,
        first: bool,
    ) -> LocationPlan:
        country = plan.country
        if not first and rng.random() < 0.3:
            country = rng.choice(NEIGHBOURS.get(plan.country, (plan.country,)))
        location = LocationPlan(
            location_id=self.new_id(),
            name=names.location_name(rng, plan.name, country),
            country=country,
            currency=CURRENCY_BY_COUNTRY.get(country, "USD"),
            onboarded_on=onboarded_on,
            profile=profile,
            monthly_usd=monthly_usd,
        )
        plan.locations.append(location)
        return location

    def _reseller_location(
        self,
        rng: random.Random,
        plan: PartnerPlan,
        profile: str,
        *,
        first: bool,
        established: bool = False,
    ) -> None:
        as_of = self.as_of
        earliest = EARLIEST_ONBOARDING if first else plan.onboarded_on
        latest = as_of - datetime.timedelta(days=400 if established else 30)
        onboarded: datetime.date | None = None
        if profile == "reseller_at_risk":
            # First anniversary weeks away; a slow start: USD 20-60 a month.
            deadline = self.upcoming_deadline(rng)
            onboarded = self.onboarding_for_anniversary(
                rng, deadline, earliest=earliest, latest=latest, years=[1]
            )
            shape = self.flat(rng.uniform(20, 60), 0.25)
        elif profile == "reseller_missed":
            # The anniversary month began a few weeks ago; next to nothing sold.
            deadline = self.recent_deadline(rng)
            onboarded = self.onboarding_for_anniversary(
                rng, deadline, earliest=earliest, latest=latest, years=range(1, 6)
            )

            def shape(i, r):
                return r.uniform(15, 60) if r.random() < 0.15 else 0.0

        elif profile == "reseller_new":
            onboarded = as_of - datetime.timedelta(days=rng.randint(20, 150))
            shape = self.flat(rng.uniform(50, 300), 0.3)
        elif profile == "reseller_no_revenue":
            shape = None
        elif profile == "reseller_large":
            shape = self.steady(rng, 80_000, 160_000, 0.1)
        elif profile == "reseller_strong":
            shape = self.steady(rng, 2_500, 12_000)
        elif profile == "reseller_typical":
            shape = self.steady(rng, 600, 2_500)
        else:  # reseller_small: USD 110-400 a month, still above USD 1,000 a year
            profile = "reseller_small"
            shape = self.steady(rng, 150, 400, 0.15)
        if onboarded is None:
            if profile in ("reseller_at_risk", "reseller_missed"):
                # The dates do not fit this partner's history: an ordinary location.
                profile = "reseller_typical"
                shape = self.steady(rng, 600, 2_500)
            if first:
                onboarded = min(self.past_onboarding(rng), latest)
            else:
                onboarded = random_day(rng, plan.onboarded_on, max(plan.onboarded_on, latest))
        if first:
            plan.onboarded_on = onboarded
        self._location(rng, plan, profile, onboarded, shape, first=first)

    def _plan_reseller(
        self, rng: random.Random, plan: PartnerPlan, n_locations: int, *, established: bool
    ) -> None:
        self._reseller_location(rng, plan, plan.profile, first=True, established=established)
        for _ in range(n_locations - 1):
            if plan.profile == "reseller_large" or established:
                extra = plan.profile
            else:
                extra = weighted(rng, EXTRA_LOCATION_PROFILES)
            self._reseller_location(rng, plan, extra, first=False, established=established)
        if plan.profile == "reseller_large":
            signed_from = max(plan.onboarded_on, datetime.date(2019, 3, 1))
            plan.agreement_signed_on = random_day(rng, signed_from, max(signed_from, self.last_day))
            if self.designation_ids and rng.random() < 0.5:
                plan.designations = rng.sample(self.designation_ids, 1)

    def _plan_direct(self, rng: random.Random, plan: PartnerPlan, n_locations: int) -> None:
        as_of = self.as_of
        profile = plan.profile
        latest = min(DIRECT_BILL_CUTOFF - datetime.timedelta(days=1), add_years(as_of, -1))
        missing = None
        deadline = None
        if profile.startswith("direct_at_risk"):
            deadline = self.upcoming_deadline(rng)
        elif profile == "direct_missed":
            deadline = self.recent_deadline(rng)
            missing = weighted(
                rng, (("revenue", 35), ("designation", 25), ("agreement", 15), ("support", 25))
            )
            if missing == "designation" and not self.designation_ids:
                missing = "revenue"
        onboarded = None
        if deadline is not None:
            onboarded = self.onboarding_for_anniversary(
                rng,
                deadline,
                earliest=min(EARLIEST_ONBOARDING, latest),
                latest=latest,
                years=range(1, 14),
            )
        plan.onboarded_on = onboarded or self.direct_onboarding(rng)

        # Revenue of the whole partner per month, shared between its locations.
        if profile == "direct_compliant" or missing in ("designation", "agreement"):
            total = self.flat(rng.uniform(100_000, 150_000), 0.08)
        elif profile == "direct_at_risk_support":
            total = self.flat(rng.uniform(100_000, 140_000), 0.08)
        elif profile == "direct_at_risk_revenue":
            # Sales fell below the threshold since the last (met) deadline.
            high = rng.uniform(100_000, 110_000)
            low = rng.uniform(45_000, 60_000)
            turn = month_index(deadline) - 12

            def total(i, r, high=high, low=low, turn=turn):
                return (high if i < turn else low) * r.uniform(0.95, 1.05)

        elif missing == "revenue":
            total = self.flat(rng.uniform(50_000, 75_000), 0.05)
        elif missing == "support":
            total = self.flat(rng.uniform(95_000, 140_000), 0.05)
        else:  # direct_below: USD 30k-60k a month
            total = self.flat(rng.uniform(30_000, 60_000), 0.15)
        weights = [rng.uniform(0.5, 1.0) for _ in range(n_locations)]
        share_sum = sum(weights)
        for n, weight in enumerate(weights):
            share = weight / share_sum

            def shape(i, r, share=share):
                return total(i, r) * share

            # Further locations joined early enough to count in full for the
            # last deadline's window (24 months).
            onboarded_on = plan.onboarded_on
            if n:
                last = min(add_years(plan.onboarded_on, 4), add_years(as_of, -2))
                onboarded_on = random_day(rng, plan.onboarded_on, max(plan.onboarded_on, last))
            self._location(rng, plan, profile, onboarded_on, shape, first=n == 0)

        if missing != "agreement":
            signed_from = max(plan.onboarded_on, datetime.date(2019, 3, 1))
            plan.agreement_signed_on = min(
                random_day(rng, signed_from, signed_from + datetime.timedelta(days=540)),
                as_of - datetime.timedelta(days=1),
            )
        if self.designation_ids and missing != "designation" and profile != "direct_below":
            plan.designations = rng.sample(
                self.designation_ids, min(len(self.designation_ids), rng.choice((1, 1, 2, 3)))
            )
        elif self.designation_ids and profile == "direct_below" and rng.random() < 0.5:
            plan.designations = rng.sample(self.designation_ids, 1)
        self._plan_support(rng, plan, missing=missing, deadline=deadline)

    def _contract(
        self,
        rng: random.Random,
        plan: PartnerPlan,
        plan_type: str,
        start: datetime.date,
        *,
        paid: bool,
    ) -> None:
        end = add_years(start, 1) - datetime.timedelta(days=1)
        currency = CURRENCY_BY_COUNTRY.get(plan.country, "USD")
        rate = self.usd_per_unit(currency, self.rate_indices[-1])
        price = SUPPORT_LIST_PRICE_USD[plan_type] * rng.uniform(0.95, 1.3) / rate
        numbers = {c["contract_number"] for c in plan.contracts}
        while True:
            number = f"{plan_type.upper()}-{start.year}-{rng.randrange(100_000, 1_000_000)}"
            if number not in numbers:
                break
        paid_on = None
        if paid:
            # Paid ahead of the term: a renewal counts from its first day (a
            # plan paid only after a deadline does not meet it).
            paid_on = min(start - datetime.timedelta(days=rng.randint(0, 25)), self.last_day)
        plan.contracts.append(
            {
                "plan_type": plan_type,
                "contract_number": number,
                "start_date": start,
                "end_date": end,
                "is_paid": paid,
                "paid_on": paid_on,
                "amount": Decimal(round(price, -1)).quantize(Decimal("0.01")),
                "currency": currency,
            }
        )

    def _plan_support(
        self,
        rng: random.Random,
        plan: PartnerPlan,
        *,
        missing: str | None,
        deadline: datetime.date | None,
    ) -> None:
        as_of = self.as_of
        qualifying = weighted(rng, ((PlanType.ASFP, 75), (PlanType.PSFP, 25)))
        if plan.profile == "direct_at_risk_support":
            # Paid term expired a few weeks ago, renewal recorded but unpaid.
            end = as_of - datetime.timedelta(days=rng.randint(5, 40))
            start = add_years(end + datetime.timedelta(days=1), -1)
            self._contract(rng, plan, qualifying, add_years(start, -1), paid=True)
            self._contract(rng, plan, qualifying, start, paid=True)
            self._contract(rng, plan, qualifying, end + datetime.timedelta(days=1), paid=False)
        elif missing == "support":
            # Lapsed before the deadline: either not renewed at all, or only a
            # non-qualifying Unified contract is current.
            assert deadline is not None  # noqa: S101 - set for direct_missed
            end = deadline - datetime.timedelta(days=rng.randint(20, 120))
            start = add_years(end + datetime.timedelta(days=1), -1)
            self._contract(rng, plan, qualifying, add_years(start, -1), paid=True)
            self._contract(rng, plan, qualifying, start, paid=True)
            if rng.random() < 0.5:
                self._contract(
                    rng, plan, PlanType.UNIFIED, end + datetime.timedelta(days=1), paid=True
                )
        elif plan.profile == "direct_below" and rng.random() < 0.4:
            start = as_of - datetime.timedelta(days=rng.randint(400, 700))
            self._contract(rng, plan, qualifying, start, paid=True)  # expired, not renewed
        else:
            # Current paid term plus the term it renewed: continuous cover.
            start = as_of - datetime.timedelta(days=rng.randint(10, 350))
            self._contract(rng, plan, qualifying, add_years(start, -1), paid=True)
            self._contract(rng, plan, qualifying, start, paid=True)
            if rng.random() < 0.15:
                extra = rng.choice((PlanType.UNIFIED, PlanType.OTHER))
                self._contract(rng, plan, extra, start + datetime.timedelta(days=30), paid=True)
