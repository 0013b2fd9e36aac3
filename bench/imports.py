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

The ratio is our time over the bare COPY's (the target is at most 2.00:
at least half the speed of a bare COPY). The table is printed and written
to ``bench/results/<date>-import.md``; ``--json`` prints the figures as JSON
instead. :func:`measure` runs the same in a subprocess against an existing
seeded database (for ``python -m bench``), and removes what it imported.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.__main__ import ROOT, _manage, _recreate

REEVALUATED = re.compile(
    r"re-evaluated (?P<partners>\d+) partners? for \S+ in (?P<seconds>[\d.]+) s"
)

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


#: The references of the generated lines (``G<invoice>/<order>/<digest>``):
#: what a measurement removes before and after it runs, and nothing else.
BENCH_REFERENCES = r"^G[0-9]{9}/[0-9a-f]{12}/"

BARE_RUNS = 3
LABELS = {
    "bare": f"bare `COPY` of the file into a plain text table (median of {BARE_RUNS})",
    "new": "`import_data revenue --format partner-center`, new rows",
    "again": "the same file again (every row unchanged)",
    "dry": "`--dry-run` of the same file",
}


def measure(database_url: str, rows: int, seed: int = 1) -> list[dict]:
    """The import next to a bare COPY, on an already seeded database.

    Runs ``python -m bench.imports --keep --json`` in a subprocess (its own
    Django settings, its own peak memory) and returns one dict per measure:
    ``measure`` (a label), ``rows``, ``seconds``, ``rows_per_s`` and
    ``ratio`` (seconds over the bare COPY's seconds). The generated lines
    and the import runs that recorded them are removed again, so the
    database is left as it was.
    """
    result = subprocess.run(
        [sys.executable, "-m", "bench.imports", "--database-url", database_url,
         "--rows", str(rows), "--seed", str(seed), "--keep", "--json"],
        cwd=ROOT, check=False, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode:
        raise RuntimeError(f"python -m bench.imports failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["measures"]


def _remove_bench_lines(cursor, tables: list[str]) -> None:
    for table in tables:
        cursor.execute(
            f"DELETE FROM {table} WHERE source = 'import' AND reference ~ %s",  # noqa: S608
            [BENCH_REFERENCES],
        )


def _run(rows: int, seed: int) -> dict[str, Any]:
    """Generate the file and measure (Django is set up for the database)."""
    from django.core.management import call_command
    from django.db import connection

    from ingestion.models import ImportRun
    from partners.models import Location, RevenueRecord

    tables = [RevenueRecord._meta.db_table, RevenueRecord.history.model._meta.db_table]
    resellers = sorted(Location.objects.values_list("location_id", flat=True))
    # Earlier (interrupted) runs: start from none of the generated lines.
    # Plain SQL: delete() would load a million objects and write their history.
    with connection.cursor() as cursor:
        _remove_bench_lines(cursor, tables)
        cursor.execute("VACUUM ANALYZE")
    runs_before = ImportRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        path = Path(tmp) / "reconciliation.csv"
        started = time.perf_counter()
        generate(path, rows=rows, resellers=resellers, seed=seed)
        generated = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6

        # The bare COPY is short and its time varies most on a shared
        # machine: the median of BARE_RUNS runs.
        columns = ", ".join(f'"{name}" text' for name in COLUMNS)
        bare = []
        for _ in range(BARE_RUNS):
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS bench_bare_copy")
                cursor.execute(f"CREATE TABLE bench_bare_copy ({columns})")
            started = time.perf_counter()
            with path.open(encoding="utf-8") as handle, connection.cursor() as cursor:
                cursor.cursor.copy_expert(
                    "COPY bench_bare_copy FROM STDIN WITH (FORMAT csv, HEADER true)", handle
                )
            bare.append(time.perf_counter() - started)
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE bench_bare_copy")
        timings = {"bare": statistics.median(bare)}

        reevaluation: dict[str, Any] = {}
        for key, extra in (("new", []), ("again", []), ("dry", ["--dry-run"])):
            out = io.StringIO()
            started = time.perf_counter()
            call_command("import_data", "revenue", str(path), "--format", "partner-center",
                         *extra, stdout=out)  # fmt: skip
            timings[key] = time.perf_counter() - started
            # "re-evaluated N partners for D in S s": the import's own re-evaluation
            if key == "new" and (found := REEVALUATED.search(out.getvalue())):
                reevaluation = {
                    "partners": int(found["partners"]),
                    "seconds": float(found["seconds"]),
                    "share": round(float(found["seconds"]) / timings[key], 3),
                }
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {tables[0]} WHERE source = 'import' AND reference ~ %s",  # noqa: S608
            [BENCH_REFERENCES],
        )
        (imported,) = cursor.fetchone()
        _remove_bench_lines(cursor, tables)
    ImportRun.objects.filter(pk__gt=runs_before, file_name=path.name).delete()

    bare = timings["bare"]
    return {
        "measures": [
            {
                "measure": LABELS[key],
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_s": round(rows / seconds),
                "ratio": round(seconds / bare, 2),
            }
            for key, seconds in timings.items()
        ],
        "meta": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": connection.pg_version // 10000,
            "size_mb": round(size_mb),
            "columns": len(COLUMNS),
            "resellers": len(resellers),
            "seed": seed,
            "generated_s": round(generated, 1),
            "imported": imported,
            "peak_mb": round(peak_mb),
            "reevaluation": reevaluation,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_import"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=2_000, help="seed_demo --partners")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="reuse the seeded database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
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
    if args.json:
        import logging

        logging.disable(logging.INFO)  # stdout carries the JSON only
    result = _run(args.rows, args.seed)
    if args.json:
        print(json.dumps(result))
        return

    meta = result["meta"]
    today = datetime.date.today().isoformat()  # noqa: DTZ011
    lines = [
        f"## Partner Center import, {today}",
        "",
        f"Machine: {meta['cores']} cores, Python {meta['python']}, "
        f"PostgreSQL {meta['postgresql']}; file: {args.rows:,} lines, "
        f"{meta['size_mb']:,} MB, {meta['columns']} columns, {meta['resellers']:,} reseller "
        f"locations, seed {args.seed} (generated in {meta['generated_s']:.1f} s); "
        f"{meta['imported']:,} records imported; peak memory of the process "
        f"{meta['peak_mb']:,} MB",
        "",
        "| measure | rows | seconds | rows/s | ratio vs bare COPY |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {m['measure']} | {m['rows']:,} | {m['seconds']:.2f} | {m['rows_per_s']:,} "
        f"| {m['ratio']:.2f} |"
        for m in result["measures"]
    ]
    if again := meta["reevaluation"]:
        lines += [
            "",
            f"Of the new rows' import, the re-evaluation of the {again['partners']:,} partners "
            f"it touched took {again['seconds']:.2f} s ({again['share']:.0%} of the import).",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results" / f"{today}-import.md"
    out.write_text(text, encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
