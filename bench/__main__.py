"""python -m bench: build a PostgreSQL data set and measure side by side."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent

BASELINE_SQL = """
SELECT r.location_id,
       SUM(CASE WHEN r.currency_id = 'USD' THEN r.amount ELSE r.amount * fx.usd_per_unit END)
  FROM partners_revenuerecord r
  LEFT JOIN partners_exchangerate fx
    ON fx.currency_id = r.currency_id AND fx.month = date_trunc('month', r.revenue_date)::date
 WHERE r.revenue_date BETWEEN %s AND %s
 GROUP BY r.location_id
"""


def _manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def _recreate(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    import psycopg2

    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench")
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--keep", action="store_true", help="reuse the seeded database")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "portal.settings.dev",
        "DEBUG": "false",
    }
    as_of = args.as_of or datetime.date.today().isoformat()  # noqa: DTZ011
    seed_seconds = None
    if not args.keep:
        _recreate(args.database_url)
        _manage(env, "migrate", "--noinput", "-v0")
        started = time.perf_counter()
        _manage(env, "seed_demo", "--partners", str(args.partners), "--months",
                str(args.months), "--seed", "1", "--as-of", as_of)  # fmt: skip
        seed_seconds = time.perf_counter() - started

    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from compliance.rules import ttm_window
    from partners.models import Partner, RevenueRecord

    day = datetime.date.fromisoformat(as_of)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    # First evaluation decides the deadlines of the data set (catch-up);
    # the measured runs are ordinary nights.
    call_command("evaluate_eligibility", "--as-of", as_of, stdout=open(os.devnull, "w"))  # noqa: SIM115

    # Each measured run is a new night (the next day): every evaluation row
    # is inserted, as in production. The baseline sums the same window.
    ours, base = [], []
    for i in range(1, args.runs + 1):
        night = day + datetime.timedelta(days=i)
        window = ttm_window(night)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL, [window.start, window.end])
            cursor.fetchall()
        base.append(time.perf_counter() - started)
        started = time.perf_counter()
        call_command("evaluate_eligibility", "--as-of", night.isoformat(), "--json",
                     stdout=open(os.devnull, "w"))  # noqa: SIM115  # fmt: skip
        ours.append(time.perf_counter() - started)

    ours_m, base_m = statistics.median(ours), statistics.median(base)
    rows = RevenueRecord.objects.count()
    lines = [
        f"# Benchmark {datetime.date.today().isoformat()}",  # noqa: DTZ011
        "",
        f"Machine: {platform.node() and 'this machine'}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL {connection.pg_version // 10000}",
        f"Data: {Partner.objects.count():,} partners, {rows:,} revenue rows, "
        f"{args.months} months, as of {as_of}"
        + (f"; seed_demo took {seed_seconds:.1f} s" if seed_seconds else ""),
        "",
        f"| measure (median of {args.runs}) | seconds | ratio |",
        "| --- | ---: | ---: |",
        f"| bare SQL TTM `SUM … GROUP BY location` | {base_m:.3f} | 1.00 |",
        f"| `evaluate_eligibility --json`, a new night (evaluate, decide, insert every row) | {ours_m:.3f} "
        f"| {ours_m / base_m:.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / f"{datetime.date.today().isoformat()}.md"  # noqa: DTZ011
    out.write_text(text)
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
