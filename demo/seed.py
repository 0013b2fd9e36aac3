"""``demo_seed``: the service behind ``seed_demo``. Fills an empty portal with
partners, locations, contacts, revenue, support contracts, exchange rates and
the demo logins for an as-of date (``demo.reset.demo_reset`` removes them
again).

``demo.plans`` decides what to generate, ``demo.revenue`` the exchange rates
and revenue lines, ``demo.writing`` writes it in bulk, ``demo.users`` makes
the logins. Partners are planned and written in chunks, so memory stays
bounded whatever ``partners`` says. Only the row timestamps (``created_at``)
are the time of writing, as with any insert; everything else depends on the
seed and ``as_of`` alone.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from partners.models import (
    BillingModel,
    Designation,
    ExchangeRate,
    Partner,
    PartnerStatus,
    RevenueRecord,
)

from .helpers import month_start
from .plans import SCENARIO_LABELS, Generator, PartnerPlan
from .revenue import MAX_LINES_PER_MONTH
from .users import DEFAULT_PASSWORD, bind_partner_login, demo_users
from .writing import DEMO_MODELS, postgres_bulk_load, write_chunk

CHUNK_PARTNERS = 500


class DemoSeedError(Exception):
    """The demo data cannot be created (wrong settings, data present, bad sizes)."""


class DemoDataExists(DemoSeedError):
    """Partners exist already; ``demo_reset`` first."""


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    partner_id: str | None = None
    partner_name: str | None = None


@dataclass
class DemoSummary:
    as_of: datetime.date
    seed: int
    months: int
    counts: dict[str, int]
    scenarios: dict[str, int]
    logins: list[DemoLogin]
    password: str
    seconds: float = 0.0


@transaction.atomic
def demo_seed(
    *,
    partners: int,
    months: int,
    seed: int,
    as_of: datetime.date,
    password: str = DEFAULT_PASSWORD,
    progress: Callable[[str], None] | None = None,
    lines_per_month: int | None = None,
) -> DemoSummary:
    """Fill an empty portal with demo data for ``as_of`` and create the demo
    logins. Raises ``DemoSeedError`` when settings forbid demo logins, when
    partners exist already (``demo_reset`` first) or for nonsensical sizes."""
    if not settings.PORTAL_ALLOW_DEMO_USERS:
        raise DemoSeedError(
            "Production settings refuse to create demo logins (PORTAL_ALLOW_DEMO_USERS is "
            "off); demo data is for development and test databases only."
        )
    if partners < 2:
        raise DemoSeedError("Use at least 2 partners: partner1 and partner2 need one each.")
    if not 1 <= months <= 120:
        raise DemoSeedError("Use between 1 and 120 months of revenue.")
    if not password:
        raise DemoSeedError("The demo password must not be empty.")
    if lines_per_month is not None and not 1 <= lines_per_month <= MAX_LINES_PER_MONTH:
        raise DemoSeedError(
            f"Use between 1 and {MAX_LINES_PER_MONTH} revenue lines per location and month."
        )
    existing = Partner.objects.count()
    if existing:
        raise DemoDataExists(
            f"The database already holds {existing:,} {'partner' if existing == 1 else 'partners'}; "
            "demo data only goes into an empty portal."
        )
    started = time.monotonic()
    logins, account_managers = demo_users(password=password, partners=partners)
    gen = Generator(
        seed=seed,
        as_of=as_of,
        months=months,
        account_manager_ids=[user.pk for user in account_managers],
        designation_ids=list(Designation.objects.order_by("code").values_list("pk", flat=True)),
        lines_per_month=lines_per_month,
    )
    ExchangeRate.objects.bulk_create(
        [
            ExchangeRate(currency_id=code, month=month_start(index), usd_per_unit=value)
            for code, series in gen.rates.items()
            for index, value in series.items()
        ],
        ignore_conflicts=True,  # keep rates someone imported before
    )
    counts: Counter[str] = Counter()
    scenarios: Counter[str] = Counter()
    login_plans: list[PartnerPlan] = []
    now = timezone.now()  # row timestamps only; the data depends on as_of
    on_postgres = connection.vendor == "postgresql"
    bulk_load = postgres_bulk_load(RevenueRecord) if on_postgres else contextlib.nullcontext()
    with bulk_load:
        for chunk_start in range(0, partners, CHUNK_PARTNERS):
            plans = [
                gen.plan_partner(number)
                for number in range(chunk_start, min(partners, chunk_start + CHUNK_PARTNERS))
            ]
            counts["revenue records"] += write_chunk(gen, plans, now)
            for plan in plans:
                counts["partners"] += 1
                counts["locations"] += len(plan.locations)
                counts["contacts"] += len(plan.contacts)
                counts["support contracts"] += len(plan.contracts)
                counts["partner designations"] += len(plan.designations)
                counts[f"managed by {plan.account_manager_id}"] += 1
                if plan.billing_model == BillingModel.DIRECT_BILL:
                    scenarios[plan.profile] += 1
                else:
                    scenarios.update(loc.profile for loc in plan.locations)
                if plan.status != PartnerStatus.ACTIVE:
                    scenarios[f"partner_{plan.status}"] += 1
            if chunk_start == 0:
                login_plans = plans[:2]
            if progress:
                progress(f"{counts['partners']:,} of {partners:,} partners planned and written")
        if progress and on_postgres:
            progress("Re-creating the revenue indexes and constraints")
    if on_postgres:
        # Fresh statistics, so the first queries (and benchmarks) get good plans.
        with connection.cursor() as cursor:
            for model in DEMO_MODELS:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    bind_partner_login(logins["partner1"], login_plans[0])
    bind_partner_login(logins["partner2"], login_plans[1])

    manager_share = counts.pop(f"managed by {logins['manager'].pk}", 0)
    summary_counts = {
        "partners": counts["partners"],
        "locations": counts["locations"],
        "contacts": counts["contacts"],
        "revenue records": counts["revenue records"],
        "support contracts": counts["support contracts"],
        "partner designations": counts["partner designations"],
        "exchange rates": sum(len(series) for series in gen.rates.values()),
        "users": 4 + len(account_managers) - 1,
    }
    p1, p2 = login_plans
    return DemoSummary(
        as_of=as_of,
        seed=seed,
        months=months,
        counts=summary_counts,
        scenarios={
            label: scenarios[key] for key, label in SCENARIO_LABELS.items() if scenarios[key]
        },
        logins=[
            DemoLogin("admin", "superuser (admin site)"),
            DemoLogin("manager", f"account manager of {manager_share:,} partners"),
            DemoLogin("partner1", "partner user, at risk", p1.partner_id, p1.name),
            DemoLogin("partner2", "partner user, compliant", p2.partner_id, p2.name),
        ],
        password=password,
        seconds=time.monotonic() - started,
    )
