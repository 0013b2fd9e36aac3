"""python -m bench.imports: the Partner Center import next to a bare COPY.

Builds (or, with ``--keep``, reuses) a seeded PostgreSQL database as
``python -m bench`` does, writes a new-commerce reconciliation file of
``--rows`` lines deterministically (``--seed``) for the seeded reseller
locations, then measures in the same run:

- bare ``COPY`` of the same file (every column as text) into a plain table;
- ``import_data revenue --format partner-center`` of new rows (parse, check,
  resolve, COPY into staging, set-based merge);
- the same file again (every row unchanged: a no-op);
- ``--dry-run`` of the same file.

The table is printed and appended to ``bench/results/<date>-import.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import random
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.__main__ import ROOT, _manage, _recreate

COLUMNS = [
    "PartnerId",
    "CustomerId",
    "CustomerName",
    "CustomerDomainName",
    "CustomerCountry",
    "InvoiceNumber",
    "MpnId",
    "ResellerMpnId",
    "OrderId",
    "OrderDate",
    "ProductId",
    "SkuId",
    "AvailabilityId",
    "SkuName",
    "ProductName",
    "ChargeType",
    "UnitPrice",
    "Quantity",
    "Subtotal",
    "TaxTotal",
    "Total",
    "Currency",
    "PriceAdjustmentDescription",
    "PublisherName",
    "PublisherId",
    "SubscriptionDescription",
    "SubscriptionId",
    "ChargeStartDate",
    "ChargeEndDate",
    "TermAndBillingCycle",
    "EffectiveUnitPrice",
    "UnitType",
    "AlternateId",
    "BillableQuantity",
    "BillingFrequency",
    "PricingCurrency",
    "PCToBCExchangeRate",
    "PCToBCExchangeRateDate",
    "MeterDescription",
    "ReservationOrderId",
    "CreditReasonCode",
    "SubscriptionStartDate",
    "SubscriptionEndDate",
    "ReferenceId",
    "ProductQualifiers",
    "PromotionId",
    "ProductCategory",
]
PRODUCTS = [
    ("CFQ7TTC0LFLZ", "0002", "Microsoft 365 E3", Decimal("33.60")),
    ("CFQ7TTC0LH18", "0001", "Microsoft 365 Business Basic", Decimal("5.60")),
    ("CFQ7TTC0LDPB", "0001", "Microsoft 365 Business Standard", Decimal("11.70")),
    ("CFQ7TTC0LHSF", "0003", "Microsoft Teams Premium", Decimal("9.60")),
    ("DZH318Z0BQ3Q", "0001", "Windows Server 2022 Standard", Decimal("1069.00")),
]
CHARGES = ["cycleCharge"] * 8 + ["new", "renew", "addQuantity", "removeQuantity", "cancelImmediate"]
CURRENCIES = ["EUR"] * 6 + ["USD", "CHF", "GBP"]


def generate(path: Path, *, rows: int, resellers: list[str], seed: int) -> None:
    """A new-commerce reconciliation file, the same for the same arguments."""
    rng = random.Random(seed)
    partner = "3c4b9f1e-8a2d-4c55-9b7e-0f1d2a3b4c5d"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for n in range(rows):
            reseller = resellers[rng.randrange(len(resellers))]
            product, sku, name, price = PRODUCTS[rng.randrange(len(PRODUCTS))]
            charge = CHARGES[rng.randrange(len(CHARGES))]
            quantity = rng.randint(1, 200)
            if charge in ("removeQuantity", "cancelImmediate"):
                quantity = -quantity
            subtotal = price * quantity
            tax = (subtotal * Decimal("0.19")).quantize(Decimal("0.01"))
            day = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(365))
            customer = rng.randrange(50_000)
            currency = CURRENCIES[customer % len(CURRENCIES)]
            start = day.isoformat() + "T00:00:00"
            writer.writerow(
                [
                    partner,
                    f"c0ffee00-{customer:04x}-4a5b-8c9d-{customer:012x}"[:36],
                    f"Customer {customer} GmbH",
                    f"customer{customer}.onmicrosoft.com",
                    "DE",
                    f"G{n // 5000:09d}",
                    "1234567",
                    reseller,
                    f"{n:012x}",
                    start,
                    product,
                    sku,
                    "CFQ7TTC0LFK5",
                    name,
                    name,
                    charge,
                    price,
                    quantity,
                    subtotal,
                    tax,
                    subtotal + tax,
                    currency,
                    "",
                    "Microsoft Corporation",
                    "",
                    name,
                    f"a0b1c2d3-{n % 65536:04x}-4e5f-8a9b-{n:012x}",
                    start
                    if rng.random() < 0.7
                    else f"{day.month}/{day.day}/{day.year} 12:00:00 AM",
                    (day + datetime.timedelta(days=30)).isoformat() + "T00:00:00",
                    "1 Year - Monthly Billing",
                    price,
                    "",
                    f"{n:012x}",
                    quantity,
                    "Monthly",
                    currency,
                    "1",
                    start,
                    "",
                    "",
                    "",
                    "2024-01-01T00:00:00",
                    "2024-12-31T00:00:00",
                    "",
                    "",
                    "",
                    "Microsoft 365",
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_import"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=2_000, help="seed_demo --partners")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="reuse the seeded database")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "portal.settings.dev",
        "DEBUG": "false",
    }
    if not args.keep:
        _recreate(args.database_url)
        _manage(env, "migrate", "--noinput", "-v0")
        _manage(env, "seed_demo", "--partners", str(args.partners), "--months", "1",
                "--seed", str(args.seed))  # fmt: skip

    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from partners.models import Location, RevenueRecord, RevenueSource

    resellers = sorted(Location.objects.values_list("location_id", flat=True))
    # Earlier runs with --keep: start from no imported revenue (new rows).
    # Plain SQL: delete() would load a million objects and write their history.
    with connection.cursor() as cursor:
        for table in (RevenueRecord._meta.db_table, RevenueRecord.history.model._meta.db_table):
            cursor.execute(f"DELETE FROM {table} WHERE source = %s", [RevenueSource.IMPORT])  # noqa: S608
        cursor.execute("VACUUM ANALYZE")

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        path = Path(tmp) / "reconciliation.csv"
        started = time.perf_counter()
        generate(path, rows=args.rows, resellers=resellers, seed=args.seed)
        generated = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6

        columns = ", ".join(f'"{name}" text' for name in COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_bare_copy")
            cursor.execute(f"CREATE TABLE bench_bare_copy ({columns})")
        started = time.perf_counter()
        with path.open(encoding="utf-8") as handle, connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                "COPY bench_bare_copy FROM STDIN WITH (FORMAT csv, HEADER true)", handle
            )
        bare = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_bare_copy")

        timings = []
        for label, extra in (
            ("`import_data revenue --format partner-center`, new rows", []),
            ("the same file again (every row unchanged)", []),
            ("`--dry-run` of the same file", ["--dry-run"]),
        ):
            started = time.perf_counter()
            call_command("import_data", "revenue", str(path), "--format", "partner-center",
                         *extra, stdout=open(os.devnull, "w"))  # noqa: SIM115  # fmt: skip
            timings.append((label, time.perf_counter() - started))
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        imported = RevenueRecord.objects.filter(source=RevenueSource.IMPORT).count()

    today = datetime.date.today().isoformat()  # noqa: DTZ011
    lines = [
        f"## Partner Center import, {today}",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {connection.pg_version // 10000}; file: {args.rows:,} lines, "
        f"{size_mb:,.0f} MB, {len(COLUMNS)} columns, {len(resellers):,} reseller locations, "
        f"seed {args.seed} (generated in {generated:.1f} s); {imported:,} records imported; "
        f"peak memory of the process {peak_mb:,.0f} MB",
        "",
        "| measure | rows | seconds | rows/s | ratio vs bare COPY |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| bare `COPY` of the file into a plain text table | {args.rows:,} | {bare:.2f} "
        f"| {args.rows / bare:,.0f} | 1.00 |",
    ]
    lines += [
        f"| {label} | {args.rows:,} | {seconds:.2f} | {args.rows / seconds:,.0f} "
        f"| {seconds / bare:.2f} |"
        for label, seconds in timings
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results" / f"{today}-import.md"
    with out.open("a", encoding="utf-8") as handle:
        handle.write(("\n" if out.exists() and out.stat().st_size else "") + text)
    print(f"appended to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
