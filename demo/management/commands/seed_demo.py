"""``seed_demo``: realistic, deterministic demo data and the demo logins."""

from __future__ import annotations

import argparse
import datetime
import zoneinfo

from django.conf import settings
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)
from django.db import transaction
from django.utils import timezone

from demo.reset import demo_reset
from demo.seed import DemoDataExists, DemoSeedError, DemoSummary, demo_seed
from demo.users import DEFAULT_PASSWORD


def _iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a date in the form YYYY-MM-DD"
        ) from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not a positive number")
    return number


EPILOG = """\
what you get: partners (DACH-heavy; about 9 in 10 indirect resellers, the rest
  direct-bill partners onboarded before 2020-10-01) with 1-3 locations,
  contacts (German for DE/AT/CH), 1-4 revenue lines a month per location in
  its currency, exchange rates for every month, support contracts, Solutions
  Partner designations and account managers. Against the programme policies
  most partners and locations are compliant, some are at risk with the
  deadline weeks away and some have just missed one.

logins: admin (superuser), manager (account manager of a share of the
  partners), partner1 (a partner at risk) and partner2 (a compliant partner);
  password portal-demo unless --password.

examples:
  manage.py seed_demo                     60 partners, 24 months, as of today
  manage.py seed_demo --reset --seed 2    replace the demo data
  manage.py seed_demo --partners 10000 --as-of 2026-11-27 --reset
                                          a large data set
  manage.py seed_demo --partners 50000 --months 36 --lines-per-month 5
                                          the largest benchmark data set (~10M lines)
"""


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class Command(BaseCommand):
    help = (
        "Fill an empty portal with realistic demo data and the demo logins; the same\n"
        "seed and as-of date give the same data. Refused unless PORTAL_ALLOW_DEMO_USERS\n"
        "is on (development and test settings). Also the benchmarks' data generator."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        kwargs.setdefault("formatter_class", HelpFormatter)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = EPILOG
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--partners",
            type=_positive,
            default=60,
            metavar="N",
            help="number of partners to create, at least 2 (default: %(default)s)",
        )
        parser.add_argument(
            "--months",
            type=_positive,
            default=24,
            metavar="M",
            help=(
                "months of revenue up to the day before the as-of date, at most 120 "
                "(default: %(default)s; the scenarios need 24 to show as designed)"
            ),
        )
        parser.add_argument(
            "--lines-per-month",
            type=_positive,
            default=None,
            metavar="N",
            help=(
                "revenue lines per location in every month with sales, at most 50 "
                "(default: 1-4 by amount); denser data for benchmarks"
            ),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=1,
            metavar="S",
            help="random seed; the same seed and as-of date give the same data (default: %(default)s)",
        )
        parser.add_argument(
            "--as-of",
            type=_iso_date,
            default=None,
            metavar="YYYY-MM-DD",
            help="the day the data is generated for (default: today in TIME_ZONE)",
        )
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            metavar="P",
            help="password of the demo logins (default: %(default)s)",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help=(
                "first delete existing partners, locations, contacts, revenue, support "
                "contracts, exchange rates and demo logins (policies, currencies, "
                "designations and groups stay); without it the command refuses to run "
                "when partners exist"
            ),
        )

    def handle(self, *args, **options) -> None:
        if not settings.PORTAL_ALLOW_DEMO_USERS:
            raise CommandError(
                "Production settings refuse to create demo logins (PORTAL_ALLOW_DEMO_USERS is "
                "off); run seed_demo with development settings only."
            )
        as_of = options["as_of"] or timezone.localdate(
            timezone=zoneinfo.ZoneInfo(settings.TIME_ZONE)
        )
        verbosity = options["verbosity"]
        progress = self.stdout.write if verbosity >= 2 else None
        try:
            with transaction.atomic():
                if options["reset"]:
                    deleted = demo_reset()
                    if verbosity >= 1:
                        gone = ", ".join(f"{n:,} {label}" for label, n in deleted.items() if n)
                        self.stdout.write(f"Deleted {gone or 'nothing'}.")
                summary = demo_seed(
                    partners=options["partners"],
                    months=options["months"],
                    seed=options["seed"],
                    as_of=as_of,
                    password=options["password"],
                    progress=progress,
                    lines_per_month=options["lines_per_month"],
                )
        except DemoDataExists as exc:
            raise CommandError(
                f"{exc} Run again with --reset to delete partners, locations, contacts, "
                "revenue, support contracts, exchange rates and the demo logins first "
                "(policies, currencies, designations and groups stay)."
            ) from exc
        except DemoSeedError as exc:
            raise CommandError(str(exc)) from exc
        if verbosity >= 1:
            self._report(summary)

    def _report(self, summary: DemoSummary) -> None:
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                f"Demo data as of {summary.as_of} (seed {summary.seed}, {summary.months} "
                f"months of revenue) written in {summary.seconds:.1f} s:"
            )
        )
        width = max(len(label) for label in summary.counts)
        for label, count in summary.counts.items():
            write(f"  {label:<{width}}  {count:>12,}")
        write("Scenarios:")
        for label, count in summary.scenarios.items():
            write(f"  {count:>8,}  {label}")
        write(f"Demo logins (password: {summary.password}):")
        for login in summary.logins:
            partner = f" - {login.partner_name} ({login.partner_id})" if login.partner_id else ""
            write(f"  {login.username:<9} {login.role}{partner}")
