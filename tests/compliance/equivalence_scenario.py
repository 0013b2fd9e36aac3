"""A fixed portfolio and 60 nights of evaluation runs, recorded day by day.

The evaluation history is about to change its storage (one row per day
today; periods of unchanged findings later) while ``Evaluation`` stays
readable per day. This scenario is the proof that both answer alike: it
builds one portfolio through the product's services, runs the nightly
engine (``evaluation_run``, deciding deadlines) for 60 nights with the writes
of those days in between, and reads back every (subject, policy, purpose,
day) row and every decided deadline as plain values. The expectations in
``data/day_rows_60_nights.json`` were recorded with the one-row-per-day
storage; ``test_history_equivalence`` runs the scenario again and compares.

The nights run from 2025-09-05 to 2025-11-03. The services refuse
onboarding and agreement dates after the real today and revenue dated more
than a month ahead of it (``partners.dates``), so the window lies in the
past, where it stays valid for ever. It is chosen to cross the end of
``csp-direct-2021`` (2025-09-30: deadlines anchored on support-plan
renewals) and the start of ``csp-direct-fy26`` (2025-10-01: deadlines on
the onboarding anniversary month), three month ends (the outlook's pace
months move) and two anniversary months of reseller locations (2025-10-01,
2025-11-01). A 29 February is not in it: every leap day that services accept
(2024-02-29) lies before ``csp-indirect-reseller-2024`` took effect.

Nothing here depends on database primary keys or on today's date: subjects
are named by their business ids, every service gets its dates explicitly.

Write the expectations again (only on purpose, with the code whose answers
they record)::

    python -m tests.compliance.equivalence_scenario --write
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)

START = D(2025, 9, 5)
NIGHTS = 60
EXPECTATIONS = Path(__file__).parent / "data" / "day_rows_60_nights.json"

#: The months of revenue history entered when the portfolio is built (the
#: 20th of each month); September and October 2025 come by import during
#: the nights.
HISTORY_MONTHS = [D(2023, 8, 1)]
while HISTORY_MONTHS[-1] < D(2025, 8, 1):
    _last = HISTORY_MONTHS[-1]
    HISTORY_MONTHS.append(D(_last.year + _last.month // 12, _last.month % 12 + 1, 1))
IMPORT_MONTHS = (D(2025, 9, 1), D(2025, 10, 1))
RATE_MONTHS = [*HISTORY_MONTHS, *IMPORT_MONTHS, D(2025, 11, 1)]

#: Months without a stored rate when the portfolio is built: GBP 2025-07 is
#: set on night 30, CHF 2025-10 on night 52.
MISSING_RATES = {("GBP", D(2025, 7, 1)), ("CHF", D(2025, 10, 1))}
RATE_BASE = {"EUR": Decimal("1.0800"), "GBP": Decimal("1.2650"), "CHF": Decimal("1.1200")}


def night(number: int, start: datetime.date = START) -> datetime.date:
    """The date of night ``number`` (1 is ``start``)."""
    return start + (number - 1) * ONE_DAY


def rate(currency: str, month: datetime.date) -> Decimal:
    """A deterministic USD rate for a currency-month (a gentle zigzag)."""
    index = RATE_MONTHS.index(month)
    return RATE_BASE[currency] + Decimal("0.0037") * (index % 5) - Decimal("0.0011") * (index % 3)


# --- The portfolio ---------------------------------------------------------------


@dataclass(frozen=True)
class LocationSpec:
    location_id: str
    onboarded_on: datetime.date
    currency: str
    #: month -> amount of the monthly line dated the 20th (None: no line)
    monthly: Callable[[datetime.date], Decimal | None]
    #: extra lines: (date, amount, reference suffix)
    extra: tuple[tuple[datetime.date, str, str], ...] = ()
    #: de-authorised when the portfolio is built
    inactive: bool = False


@dataclass(frozen=True)
class PartnerSpec:
    partner_id: str
    name: str
    country: str
    billing_model: str
    onboarded_on: datetime.date
    locations: tuple[LocationSpec, ...]
    agreement_signed_on: datetime.date | None = None
    designations: tuple[str, ...] = ()
    status: str = "active"
    #: (plan type, number, start, end, paid on or None)
    contracts: tuple[tuple[str, str, datetime.date, datetime.date, datetime.date | None], ...] = ()


def every_month(amount: str, *, since: datetime.date | None = None, cents: str = "0"):
    """A monthly amount from ``since`` on, with a small deterministic
    variation (``cents`` more in every third month: lines carry more than
    cents)."""

    def monthly(month: datetime.date) -> Decimal | None:
        if since is not None and month < since:
            return None
        bump = Decimal(cents) if month.month % 3 == 0 else Decimal(0)
        return Decimal(amount) + bump

    return monthly


def by_period(*periods: tuple[datetime.date, str]):
    """Monthly amounts that change: ``(from month, amount)`` in order."""

    def monthly(month: datetime.date) -> Decimal | None:
        amount = None
        for since, value in periods:
            if month >= since:
                amount = Decimal(value)
        return amount

    return monthly


DIRECT, RESELLER = "direct_bill", "indirect_reseller"

PORTFOLIO: tuple[PartnerSpec, ...] = (
    # Direct bill, compliant under both policies; an older support plan's
    # renewal (2025-03-01) is decided on the first night (catch-up).
    PartnerSpec(
        "4100001", "Alpenblick Systems AG", "CH", DIRECT, D(2019, 3, 10),
        (LocationSpec("7100011", D(2019, 3, 10), "USD", every_month("110000", cents="0.004999")),),
        agreement_signed_on=D(2021, 5, 1),
        designations=("modern-work",),
        contracts=(
            ("asfp", "A-1001-24", D(2024, 3, 1), D(2025, 2, 28), D(2024, 2, 20)),
            ("asfp", "A-1001-25", D(2025, 3, 1), D(2026, 2, 28), D(2025, 2, 20)),
        ),
    ),
    # Direct bill, short of USD 300,000 at its support plan's renewal
    # (2025-09-15, a night the job does not run): missed, case opened; the
    # case is done on night 33, which moves the partner to the indirect model.
    PartnerSpec(
        "4100002", "Bergwerk IT GmbH", "DE", DIRECT, D(2018, 6, 1),
        (LocationSpec("7100021", D(2018, 6, 1), "USD", every_month("24000")),),
        agreement_signed_on=D(2020, 1, 15),
        designations=("security",),
        contracts=(("asfp", "A-2002-24", D(2024, 9, 15), D(2025, 9, 14), D(2024, 9, 10)),),
    ),
    # Direct bill in EUR; the PSfP is renewed on night 15, before its
    # renewal date (night 18): met. Under FY26 it is far from USD 1M and
    # misses its onboarding anniversary (2025-11-01).
    PartnerSpec(
        "4100003", "Christallin Cloud SARL", "FR", DIRECT, D(2018, 11, 20),
        (LocationSpec("7100031", D(2018, 11, 20), "EUR", every_month("40000", cents="0.125")),),
        agreement_signed_on=D(2019, 3, 1),
        designations=("data-ai-azure",),
        contracts=(("psfp", "P-3003-24", D(2024, 9, 22), D(2025, 9, 21), D(2024, 9, 15)),),
    ),
    # Direct bill, compliant under FY26 but short at its deadline
    # (2025-11-01): a large line of October 2024 rolls off (and takes the
    # TTM below USD 1M on 2025-10-16); a large line on night 45 flips the
    # outlook to met; met on the deadline.
    PartnerSpec(
        "4100004", "Donauwelle Digital GmbH", "AT", DIRECT, D(2017, 11, 5),
        (
            LocationSpec(
                "7100041", D(2017, 11, 5), "USD",
                by_period((D(2023, 8, 1), "30000"), (D(2024, 10, 1), "0"), (D(2024, 11, 1), "50000")),
                extra=((D(2024, 10, 15), "600000", "big"),),
            ),
        ),
        agreement_signed_on=D(2019, 6, 1),
        designations=("modern-work", "security"),
        contracts=(("asfp", "A-4004-25", D(2025, 1, 1), D(2025, 12, 31), D(2024, 12, 15)),),
    ),
    # Direct bill with two locations (EUR and USD); its Microsoft Partner
    # Agreement is dated 2025-10-10: unmet under FY26 until then.
    PartnerSpec(
        "4100005", "Edelweiss Consulting AG", "CH", DIRECT, D(2016, 2, 12),
        (
            LocationSpec("7100051", D(2016, 2, 12), "EUR", every_month("60000", cents="0.333333")),
            LocationSpec("7100052", D(2019, 7, 1), "USD", every_month("35000")),
        ),
        agreement_signed_on=D(2025, 10, 10),
        designations=("infrastructure-azure",),
        contracts=(("asfp", "A-5005-24", D(2024, 12, 1), D(2025, 11, 30), D(2024, 11, 28)),),
    ),
    # Direct bill with an unpaid ASfP (and a paid plan that does not
    # qualify), a credit, no designation, no agreement: no deadline under
    # the 2021 policy (non_compliant), at risk under FY26.
    PartnerSpec(
        "4100006", "Fjordlicht AS", "NO", DIRECT, D(2019, 12, 3),
        (
            LocationSpec(
                "7100061", D(2019, 12, 3), "USD", every_month("30000"),
                extra=((D(2025, 3, 11), "-5000", "credit"),),
            ),
        ),
        contracts=(
            ("asfp", "A-6006-25", D(2025, 6, 1), D(2026, 5, 31), None),
            ("unified", "U-6006-25", D(2025, 1, 1), D(2025, 12, 31), D(2025, 1, 5)),
        ),
    ),
    # Direct bill whose PSfP ends on 2025-10-15 and is not renewed; its
    # onboarding anniversary (2025-10-01) is FY26's first day: met.
    PartnerSpec(
        "4100007", "Gletscher Data GmbH", "DE", DIRECT, D(2020, 10, 20),
        (LocationSpec("7100071", D(2020, 10, 20), "USD", every_month("95000")),),
        agreement_signed_on=D(2020, 11, 1),
        designations=("business-applications",),
        contracts=(("psfp", "P-7007-24", D(2024, 10, 16), D(2025, 10, 15), D(2024, 10, 1)),),
    ),
    # Reseller with three locations: one compliant today but short at its
    # deadline 2025-10-01 (missed; its case is done on night 50, which
    # de-authorises it), one that a credit takes below the threshold, one
    # that missed its deadline before the first night.
    PartnerSpec(
        "3100001", "Hafenkante Reseller GmbH", "DE", RESELLER, D(2022, 11, 3),
        (
            LocationSpec(
                "7200011", D(2023, 10, 20), "USD",
                by_period((D(2023, 11, 1), "100"), (D(2024, 9, 1), "0"), (D(2024, 10, 1), "50")),
                extra=((D(2024, 9, 20), "700", "roll-off"),),
            ),
            LocationSpec("7200012", D(2022, 11, 3), "USD", every_month("100")),
            LocationSpec("7200013", D(2024, 8, 10), "USD", every_month("80", since=D(2024, 8, 1))),
        ),
    ),
    # Reseller with EUR revenue, an inactive location and GBP revenue of a
    # month without a rate (error; its deadline 2025-10-01 waits for the
    # rate, set on night 30).
    PartnerSpec(
        "3100002", "Isarblick Solutions GmbH", "DE", RESELLER, D(2021, 4, 12),
        (
            LocationSpec("7200021", D(2021, 4, 12), "EUR", every_month("300", cents="0.005")),
            LocationSpec("7200022", D(2021, 4, 12), "USD", every_month("200"), inactive=True),
            LocationSpec("7200023", D(2021, 10, 5), "GBP", every_month("250")),
        ),
    ),
    # A large reseller, ready for direct bill under both policies (but for
    # one day in October, before that month's import).
    PartnerSpec(
        "3100003", "Jadebusen Cloud KG", "DE", RESELLER, D(2020, 9, 14),
        (
            LocationSpec("7200031", D(2020, 9, 14), "USD", every_month("60000")),
            LocationSpec("7200032", D(2021, 10, 25), "USD", every_month("30000")),
        ),
        agreement_signed_on=D(2020, 10, 1),
        designations=("modern-work",),
        contracts=(("asfp", "A-3103-25", D(2025, 2, 1), D(2026, 1, 31), D(2025, 1, 20)),),
    ),
    # A reseller onboarded a year before: its first anniversary month is
    # 2025-10-01; a line on night 21 takes it over the threshold in time.
    PartnerSpec(
        "3100004", "Kranich IT e.K.", "DE", RESELLER, D(2024, 10, 14),
        (LocationSpec("7200041", D(2024, 10, 14), "USD", every_month("80", since=D(2024, 10, 1))),),
    ),
    # A suspended reseller: not applicable.
    PartnerSpec(
        "3100005", "Lindenhof Systemhaus GmbH", "AT", RESELLER, D(2022, 2, 1),
        (LocationSpec("7200051", D(2022, 2, 1), "USD", every_month("500")),),
        status="suspended",
    ),
    # A reseller in CHF; a line dated 2025-10-20 is entered on night 38
    # before the October rate exists (outlook unknown, then error until the
    # rate is set on night 52); deadline 2025-11-01.
    PartnerSpec(
        "3100006", "Moorland Reseller AG", "CH", RESELLER, D(2023, 11, 15),
        (
            LocationSpec(
                "7200061", D(2023, 11, 15), "CHF", every_month("100", since=D(2023, 11, 1))
            ),
        ),
    ),
)  # fmt: skip

#: Enrolled on night 31 (reseller_enrol), onboarded that day.
NEW_PARTNER = ("3100007", "Nordlicht Digital GmbH", "7200071")


def _locations() -> dict[str, LocationSpec]:
    return {loc.location_id: loc for spec in PORTFOLIO for loc in spec.locations}


def build_portfolio():
    """Create the portfolio through the product's services (partners,
    locations, contacts, support contracts, exchange rates, revenue
    history up to August 2025). Returns the account manager."""
    from partners import services as ps
    from partners.models import Designation, Location
    from partners.revenue import RevenueLine, revenue_lines_upsert
    from tests.factories import StaffUserFactory

    manager = StaffUserFactory(username="equivalence-manager", email="manager@example.com")
    for currency in sorted(RATE_BASE):
        for month in RATE_MONTHS:
            if (currency, month) not in MISSING_RATES:
                ps.exchange_rate_set(
                    currency=currency, month=month, usd_per_unit=rate(currency, month)
                )
    designations = {d.code: d for d in Designation.objects.all()}
    lines = []
    for spec in PORTFOLIO:
        partner = ps.partner_create(
            partner_id=spec.partner_id,
            name=spec.name,
            country=spec.country,
            onboarded_on=spec.onboarded_on,
            billing_model=spec.billing_model,
            account_manager=manager,
            agreement_signed_on=spec.agreement_signed_on,
            designations=[designations[code] for code in spec.designations],
            status=spec.status,
            user=manager,
        )
        ps.contact_create(
            partner=partner,
            name=f"Contact {spec.partner_id}",
            email=f"compliance@{spec.partner_id}.example",
            language="de" if spec.country in ("DE", "AT", "CH") else "en",
            user=manager,
        )
        for plan_type, number, start, end, paid_on in spec.contracts:
            ps.support_contract_create(
                partner=partner,
                plan_type=plan_type,
                contract_number=number,
                start_date=start,
                end_date=end,
                paid_on=paid_on,
                amount=Decimal("12000.00"),
                currency="USD",
                user=manager,
            )
        for loc in spec.locations:
            location = ps.location_create(
                partner=partner,
                location_id=loc.location_id,
                country=spec.country,
                onboarded_on=loc.onboarded_on,
                user=manager,
            )
            for month in HISTORY_MONTHS:
                amount = loc.monthly(month)
                if amount:
                    lines.append(
                        RevenueLine(
                            location.pk,
                            month.replace(day=20),
                            amount,
                            loc.currency,
                            f"PC-{month:%Y-%m}-{loc.location_id}",
                        )
                    )
            for day, amount, suffix in loc.extra:
                lines.append(
                    RevenueLine(
                        location.pk,
                        day,
                        Decimal(amount),
                        loc.currency,
                        f"INV-{loc.location_id}-{suffix}",
                    )
                )
    revenue_lines_upsert(lines=lines, source="import", user=manager, reason="history")
    for loc in _locations().values():
        if loc.inactive:
            location = Location.objects.get(location_id=loc.location_id)
            ps.location_deauthorise(location=location, on=D(2025, 6, 30), user=manager)
    return manager


# --- The nights --------------------------------------------------------------------


class _Nights:
    """The writes of the scenario, each through the service the product
    uses for it, and the runs (a full run is the nightly's engine)."""

    def __init__(self, start: datetime.date) -> None:
        from django.contrib.auth.models import User

        self.start = start
        self.manager = User.objects.get(username="equivalence-manager")
        self.log: list[str] = []

    def day(self, number: int) -> datetime.date:
        return night(number, self.start)

    # Lookups by business id.
    @staticmethod
    def partner(partner_id: str):
        from partners.models import Partner

        return Partner.objects.get(partner_id=partner_id)

    @staticmethod
    def location(location_id: str):
        from partners.models import Location

        return Location.objects.get(location_id=location_id)

    def note(self, day: datetime.date, text: str) -> None:
        self.log.append(f"{day.isoformat()} {text}")

    # Runs.
    def full(self, day: datetime.date) -> None:
        from compliance.services import evaluation_run

        summary = evaluation_run(as_of=day)
        self.note(day, f"full run {summary.counts()}")

    def partial(self, day: datetime.date, *partner_ids: str) -> None:
        from compliance.services import partners_reevaluate

        pks = {self.partner(pid).pk for pid in partner_ids}
        result = partners_reevaluate(partner_pks=pks, when=day)
        if not result.ok:
            raise RuntimeError(str(result))
        self.note(day, f"re-evaluated {', '.join(sorted(partner_ids))}")

    def everyone(self, day: datetime.date) -> None:
        from compliance.services import partners_reevaluate_all

        result = partners_reevaluate_all(when=day)
        if not result.ok:
            raise RuntimeError(str(result))
        self.note(day, "re-evaluated every partner")

    # Writes.
    def revenue(self, day, location_id: str, revenue_date, amount: str, currency: str = "USD"):
        """A manual revenue line, then the re-evaluation every door asks for."""
        from partners import services as ps

        location = self.location(location_id)
        ps.revenue_record_create(
            location=location,
            revenue_date=revenue_date,
            amount=Decimal(amount),
            currency=currency,
            reference=f"MAN-{location_id}-{revenue_date:%Y%m%d}",
            user=self.manager,
        )
        self.note(day, f"revenue {amount} {currency} dated {revenue_date} at {location_id}")
        return location.partner.partner_id

    def partner_center_import(self, day: datetime.date, month: datetime.date) -> set[str]:
        """The month's lines of every location with monthly revenue (except
        the inactive one), dated the 20th, through the one revenue upsert;
        importing the same file again changes nothing. Returns the partners
        whose revenue changed."""
        from partners.models import Location
        from partners.revenue import RevenueLine, revenue_lines_upsert

        specs = _locations()
        locations = Location.objects.filter(location_id__in=list(specs), is_active=True)
        lines = []
        for location in sorted(locations, key=lambda loc: loc.location_id):
            spec = specs[location.location_id]
            amount = spec.monthly(month)
            if amount:
                lines.append(
                    RevenueLine(
                        location.pk,
                        month.replace(day=20),
                        amount,
                        spec.currency,
                        f"PC-{month:%Y-%m}-{location.location_id}",
                    )
                )
        first = revenue_lines_upsert(lines=lines, source="import", user=self.manager, reason="PC")
        again = revenue_lines_upsert(lines=lines, source="import", user=self.manager, reason="PC")
        if again.created or again.updated:
            raise RuntimeError("importing the same file again changed something")
        partner_ids = set(
            Location.objects.filter(pk__in=first.location_pks).values_list(
                "partner__partner_id", flat=True
            )
        )
        self.note(day, f"imported {month:%Y-%m}: {first.created} lines")
        return partner_ids


def run_nights(start: datetime.date = START) -> list[str]:
    """The 60 nights from ``start`` (the portfolio is built around
    :data:`START`; another start is another, unrecorded scenario). Every
    night runs the nightly engine (``evaluation_run``, deciding deadlines)
    except three that are skipped and caught up; writes come between runs
    with the re-evaluation (``partners_reevaluate``, deciding nothing) that
    follows them, on the same day, before or after that night's run.
    Returns what happened, one line each.

    The nights (n: date):

    - 1 (09-05): the first run decides nine deadlines of the past (catch-up);
    - 4: a manual line, re-evaluated before the run; 5: nothing changes;
    - 10-12: the job does not run (on 11, a renewal date, a write is
      re-evaluated anyway); night 13 catches them up in order, then runs;
    - 15: a support plan renewed (paid) after the run, re-evaluated;
    - 18: the September import (and the same file again: no change);
    - 20: the same day twice: a run, a credit and its re-evaluation, a run;
    - 21: a line that takes a location over the threshold before its deadline;
    - 26/27: csp-direct-2021 ends, csp-direct-fy26 starts; anniversary deadlines;
    - 30: the missing GBP rate is set (the deadline waiting for it is decided);
    - 31: a reseller enrolled; 33: a case done after the run (the partner
      moves to the indirect model); 34: the new reseller's first revenue;
    - 35: the reseller threshold raised, everyone re-evaluated before the run;
    - 38: a CHF line dated ahead of its month's rate; 40: after the run,
      night 25's date is evaluated again; 45: a large line flips an outlook;
    - 48: the October import; 50: a case done (location de-authorised) and a
      line after the run; 52: the CHF rate set, everyone re-evaluated after
      the run; 58 (11-01): anniversary deadlines; 59: a re-evaluation that
      changes nothing.
    """
    from compliance.cases import followup_case_move
    from compliance.models import FollowUpCase, Policy, PolicyRequirement
    from partners import services as ps

    n = _Nights(start)
    day = n.day
    skipped = {10, 11, 12}
    for number in range(1, NIGHTS + 1):
        today = day(number)
        if number == 4:
            # A manual line, re-evaluated before the night's run.
            n.partial(today, n.revenue(today, "7100021", D(2025, 9, 5), "8000.50"))
        elif number == 5:
            pass  # a night without any change
        elif number == 11:
            # The nightly job is down (nights 10-12); a write is re-evaluated
            # anyway, so this day has some rows before its (late) full run.
            n.partial(today, n.revenue(today, "7200021", D(2025, 9, 12), "250.00", "EUR"))
        elif number == 13:
            for missed in sorted(skipped):
                n.full(day(missed))  # caught up in order, then tonight's run
        elif number == 15:
            n.full(today)
            ps.support_contract_create(
                partner=n.partner("4100003"),
                plan_type="psfp",
                contract_number="P-3003-25",
                start_date=D(2025, 9, 22),
                end_date=D(2026, 9, 21),
                paid_on=today,
                amount=Decimal("15000.00"),
                currency="EUR",
                user=n.manager,
            )
            n.note(today, "support plan P-3003-25 renewed (paid)")
            n.partial(today, "4100003")  # after the night's run
            continue
        elif number == 18:
            n.partial(today, *sorted(n.partner_center_import(today, IMPORT_MONTHS[0])))
        elif number == 20:
            # The same day twice: a run, a credit, its re-evaluation, a run.
            n.full(today)
            n.partial(today, n.revenue(today, "7200012", D(2025, 9, 23), "-300.00"))
        elif number == 21:
            n.partial(today, n.revenue(today, "7200041", D(2025, 9, 24), "150.00"))
        elif number == 30:
            ps.exchange_rate_set(
                currency="GBP", month=D(2025, 7, 1), usd_per_unit=rate("GBP", D(2025, 7, 1))
            )
            n.note(today, "rate GBP 2025-07 set")
        elif number == 31:
            partner_id, name, location_id = NEW_PARTNER
            ps.reseller_enrol(
                partner_id=partner_id,
                name=name,
                country="DE",
                onboarded_on=today,
                location_id=location_id,
                contact_name="Contact 3100007",
                contact_email="compliance@3100007.example",
                contact_language="de",
                account_manager=n.manager,
                user=n.manager,
            )
            n.note(today, f"enrolled {partner_id}")
            n.partial(today, partner_id)
        elif number == 33:
            n.full(today)
            case = FollowUpCase.objects.get(partner__partner_id="4100002")
            followup_case_move(case=case, state="done", user=n.manager, on=today)
            n.note(today, "case of 4100002 done: moved to the indirect model")
            n.partial(today, "4100002")  # after the night's run
            continue
        elif number == 34:
            n.partial(today, n.revenue(today, "7200071", D(2025, 10, 6), "500.00"))
        elif number == 35:
            # What the admin's save of a requirement does, then everyone.
            requirement = PolicyRequirement.objects.get(
                policy=Policy.objects.get(code="csp-indirect-reseller-2024"), code="revenue"
            )
            requirement.threshold_usd = Decimal("1100.00")
            requirement.full_clean()
            requirement.save()
            n.note(today, "reseller threshold USD 1,000 -> 1,100")
            n.everyone(today)
        elif number == 38:
            n.partial(today, n.revenue(today, "7200061", D(2025, 10, 20), "40.00", "CHF"))
        elif number == 45:
            n.partial(today, n.revenue(today, "7100041", D(2025, 10, 17), "500000.00"))
        elif number == 48:
            n.partial(today, *sorted(n.partner_center_import(today, IMPORT_MONTHS[1])))
        elif number == 50:
            case = FollowUpCase.objects.get(location__location_id="7200011")
            followup_case_move(case=case, state="done", user=n.manager, on=today)
            n.note(today, "case of 7200011 done: location de-authorised")
            n.partial(today, "3100001")
            n.full(today)
            n.partial(today, n.revenue(today, "7200012", D(2025, 10, 23), "400.00"))
            continue
        elif number == 52:
            n.full(today)
            ps.exchange_rate_set(
                currency="CHF", month=D(2025, 10, 1), usd_per_unit=rate("CHF", D(2025, 10, 1))
            )
            n.note(today, "rate CHF 2025-10 set")
            n.everyone(today)  # after the night's run
            continue
        elif number == 59:
            n.full(today)
            n.partial(today, "3100003", "4100001")  # nothing changed: a page's "re-evaluate"
            continue

        if number in skipped:
            n.note(today, "nightly job did not run")
            continue
        n.full(today)
        if number == 40:
            # The past again, after the data changed: night 25's date.
            n.full(day(25))
    return n.log


# --- Reading back ----------------------------------------------------------------------


def _cents(amount: Decimal | None) -> str | None:
    from core.formatting import cents_text

    return cents_text(amount)


MONEY_FIELDS = (
    "ttm_revenue_usd",
    "threshold_usd",
    "shortfall_usd",
    "secured_usd",
    "rolling_off_usd",
    "needed_usd",
    "pace_usd",
    "projected_usd",
)
KEY_FIELDS = ("as_of", "subject_type", "subject_id", "policy", "purpose")
ROW_FIELDS = (
    "subject_type",
    "subject_id",
    "partner",
    "location",
    "policy",
    "purpose",
    "as_of",
    "status",
    *MONEY_FIELDS,
    "requirements",
    "unmet",
    "deadline",
    "days_to_deadline",
    "outlook",
    "error",
    "explanation",
    "explanation_de",
)


def row_key(row: dict) -> tuple:
    return tuple(row[name] for name in KEY_FIELDS)


def day_rows() -> list[dict]:
    """Every stored evaluation as plain values, sorted by (as_of, subject
    type, subject id, policy code, purpose). Read through
    ``Evaluation.objects`` with ordinary field access only."""
    from compliance.models import Evaluation

    rows = []
    for e in Evaluation.objects.select_related("partner", "location", "policy"):
        row = {
            "subject_type": e.subject_type,
            "subject_id": e.subject_id,
            "partner": e.partner.partner_id,
            "location": e.location.location_id if e.location is not None else None,
            "policy": e.policy.code,
            "purpose": e.purpose,
            "as_of": e.as_of.isoformat(),
            "status": e.status,
            **{name: _cents(getattr(e, name)) for name in MONEY_FIELDS},
            "requirements": dict(e.requirements),
            "unmet": list(e.unmet),
            "deadline": e.deadline.isoformat() if e.deadline else None,
            "days_to_deadline": e.days_to_deadline,
            "outlook": e.outlook,
            "error": e.error,
            "explanation": e.explanation,
            "explanation_de": e.explanation_de,
        }
        rows.append(row)
    rows.sort(key=row_key)
    return rows


OUTCOME_KEY = ("subject_type", "subject_id", "policy", "deadline")


def outcome_key(row: dict) -> tuple:
    return tuple(row[name] for name in OUTCOME_KEY)


def outcome_rows() -> list[dict]:
    """Every decided deadline (and its follow-up case) as plain values."""
    from compliance.models import DeadlineOutcome, FollowUpCase

    cases = {
        case.outcome_id: case for case in FollowUpCase.objects.all()
    }  # one query, not one per outcome
    rows = []
    for o in DeadlineOutcome.objects.select_related("policy"):
        case = cases.get(o.pk)
        rows.append(
            {
                "subject_type": o.subject_type,
                "subject_id": o.subject_id,
                "policy": o.policy.code,
                "deadline": o.deadline.isoformat(),
                "result": o.result,
                "decided_on": o.decided_on.isoformat(),
                "ttm_revenue_usd": _cents(o.ttm_revenue_usd),
                "unmet": list(o.unmet),
                "case": None if case is None else f"{case.kind}/{case.state}",
            }
        )
    rows.sort(key=outcome_key)
    return rows


def scenario_result() -> dict:
    return {"rows": day_rows(), "outcomes": outcome_rows()}


def run_scenario() -> dict:
    """Build, run the nights and read back (inside the caller's database)."""
    build_portfolio()
    run_nights(START)
    return scenario_result()


# --- The expectations file ---------------------------------------------------------------


def _line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dumps(result: dict) -> str:
    """Compact JSON with one row per line (diffs stay readable)."""
    parts = ["{"]
    for index, name in enumerate(("rows", "outcomes")):
        parts.append(f'"{name}":[')
        parts.append(",\n".join(_line(row) for row in result[name]))
        parts.append("]," if index == 0 else "]")
    parts.append("}")
    return "\n".join(parts) + "\n"


def load_expectations(path: Path | None = None) -> dict:
    return json.loads((path or EXPECTATIONS).read_text(encoding="utf-8"))


def _main(argv: list[str]) -> int:
    """Run the scenario in a fresh test database (the test settings; set
    DATABASE_URL for PostgreSQL) and write the expectations (``--write``) or
    print them (``--print``) or compare them (default)."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m tests.compliance.equivalence_scenario")
    parser.add_argument("--write", action="store_true", help="write the expectations file")
    parser.add_argument("--out", type=Path, help="write to this file instead")
    parser.add_argument("--print-log", action="store_true", help="print what each night did")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with transaction.atomic():  # as in a test: nothing is committed
            build_portfolio()
            log = run_nights(START)
            result = scenario_result()
            transaction.set_rollback(True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    if args.print_log:
        print("\n".join(log))
    text = dumps(result)
    if args.write or args.out:
        target = args.out or EXPECTATIONS
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"{len(result['rows'])} rows, {len(result['outcomes'])} outcomes -> {target}")
        return 0
    expected = EXPECTATIONS.read_text(encoding="utf-8") if EXPECTATIONS.exists() else ""
    same = expected == text
    print("identical to the expectations" if same else "differs from the expectations")
    return 0 if same else 1


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
