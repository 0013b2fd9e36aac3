"""python -m bench: PostgreSQL data sets at three sizes, measured side by side.

For every size (partners; 1-3 locations each, ``--months`` of revenue with
``--lines-per-month`` lines per location and month with sales) one database
``<name>_<size>`` is built with ``seed_demo`` (or reused with ``--keep``), and
measured, each time figure the median of ``--runs``:

- the nightly evaluation of every subject (``evaluate_eligibility --json``,
  a new night each run) next to the bare SQL TTM ``SUM ... GROUP BY`` over
  the same tables in the same run (ratio ours/baseline), and its peak memory
  (max RSS of one more night run as a process of its own);
- the policy simulation of the same night (``simulate_policy --json`` of
  each policy in force, threshold raised by half) next to the nightly: the
  slowest policy, and all of them one after the other;
- queries per page (Django's test client in this process) of the dashboard,
  the partner list and partner pages as the staff user ``manager`` and the
  own dashboard of ``partner1``;
- the same pages under load: gunicorn with production settings on loopback,
  locust with ``--users`` users for ``--load-seconds`` (bench/locustfile.py),
  p50/p95 from the requests after every user has logged in.

Once, on ``<name>_imports_10000`` (10,000 partners): the revenue import next to a
bare ``COPY`` of the same file (``bench.imports``).

The table goes to ``bench/results/<date>.md`` (``<date>-quick.md`` with
``--quick``) and to standard output.
``--quick``: the smallest size, fewer runs, shorter load, a smaller import
file; a few minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from bench.report import IMPORT_PARTNERS, PARTNER_SAMPLE, admin_url, report

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1_000, 10_000, 50_000)
LINES_PER_MONTH = 6  # ~200 revenue rows per partner over 36 months: ~10M at 50,000
STATIC_ROOT = ROOT / "var" / "bench-static"

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
    import psycopg2

    conn = psycopg2.connect(admin_url(url))
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def _partners_in(url: str) -> int | None:
    """Partners in the database at ``url``; None when it or its tables are missing."""
    import psycopg2

    try:
        conn = psycopg2.connect(url)
    except psycopg2.OperationalError:
        return None
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM partners_partner")
            return cursor.fetchone()[0]
    except psycopg2.Error:
        return None
    finally:
        conn.close()


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "portal.settings.dev",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        # Page caches in local memory: nothing shared to prepare, nothing to flush.
        "REDIS_URL": "",
        "STATIC_ROOT": str(STATIC_ROOT),
        "LOG_LEVEL": "WARNING",
    }


def _bench_redis() -> str:
    """A Redis database of its own for the load test's page caches
    (emptied first), or "" when no Redis answers."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.flushdb()
    except Exception:  # no Redis: local memory, as before
        return ""
    return url


def _size_url(base: str, suffix: str) -> str:
    parsed = urlparse(base)
    return parsed._replace(path=f"/{parsed.path.lstrip('/') or 'portal_bench'}_{suffix}").geturl()


def _log(message: str) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"[bench {now} UTC] {message}", file=sys.stderr, flush=True)


def build(url: str, *, partners: int, months: int, lines: int | None, as_of: str, keep: bool):
    """Create, migrate and seed the database unless ``keep`` and it holds
    ``partners`` partners already. Returns the seconds seed_demo took, or None."""
    env = _env(url)
    existing = _partners_in(url) if keep else None
    if existing == partners:
        _log(f"{url.rsplit('/', 1)[1]}: reusing {partners:,} partners")
        _manage(env, "migrate", "--noinput", "-v0")
        return None
    _log(f"{url.rsplit('/', 1)[1]}: building {partners:,} partners x {months} months")
    _recreate(url)
    _manage(env, "migrate", "--noinput", "-v0")
    started = time.perf_counter()
    args = ["--partners", str(partners), "--months", str(months), "--seed", "1", "--as-of", as_of]
    if lines:
        args += ["--lines-per-month", str(lines)]
    _manage(env, "seed_demo", *args, "-v0")
    return time.perf_counter() - started


# --- one database, measured in a process of its own ------------------------------------


#: Starts the command and prints its max RSS (kilobytes on Linux) from
#: wait4. A process of its own: Linux carries a process's peak RSS over an
#: exec, so a child forked straight from this (large) process would report
#: this process's size at the fork when its own is smaller.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_pid, status, usage = os.wait4(p.pid, 0)\n"
    "print(usage.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _peak_rss_mb(command: list[str], env: dict) -> tuple[float, float]:
    """Run ``command``; (seconds, its max RSS in MB) from wait4."""
    started = time.perf_counter()
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if launched.returncode:
        raise RuntimeError(f"{' '.join(command)} exited with {launched.returncode}")
    return seconds, int(launched.stdout.split()[-1]) / 1024


def _page(client, path: str) -> tuple[int, int, float, float]:
    """Queries and milliseconds of one request with an empty page cache,
    then of the next one (cached)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm the process: content types, translations, templates
    cache.clear()  # this process's local memory (REDIS_URL is off here)
    counts, times = [], []
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        counts.append(len(captured))
    return counts[0], counts[1], times[0], times[1]


def what_ifs(night: datetime.date) -> list[tuple[str, object]]:
    """(policy code, threshold x 1.5) of every policy in force on ``night``."""
    from decimal import Decimal

    from compliance.selectors import policies_in_force

    return [
        (policy.code, (spec.threshold_usd or Decimal(1000)) * Decimal("1.5"))
        for policy, spec in policies_in_force(night)
    ]


def _history_nights(args, night: datetime.date, result: dict) -> datetime.date:
    """``args.history_nights`` more nights; then the storage of the history
    (periods and evaluated days, with their indexes) next to what one row
    per (subject, policy, day) with both explanations would take: a day of
    the view materialised in that shape, its words worded on read, times
    the days (docs/decisions/0014)."""
    from django.db import connection

    from compliance import services
    from compliance.models import Evaluation

    for _ in range(args.history_nights):
        night += datetime.timedelta(days=1)
        services.evaluation_run(as_of=night)
    days = Evaluation.objects.values("as_of").distinct().count()
    day_rows = Evaluation.objects.count()
    sample = list(Evaluation.objects.filter(as_of=night))
    columns = (
        "subject_type, subject_id, partner_id, location_id, policy_id, purpose, as_of, status, "
        "ttm_revenue_usd, threshold_usd, shortfall_usd, requirements, unmet, deadline, "
        "days_to_deadline, secured_usd, rolling_off_usd, needed_usd, "
        "(pace_total_usd / pace_days)::numeric(30, 12) AS pace_usd, "
        "(secured_usd + pace_total_usd * days_to_deadline / pace_days)::numeric(30, 12) "
        "AS projected_usd, outlook, error, computed_at"
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_day_rows")
        cursor.execute(
            f"CREATE TABLE bench_day_rows AS SELECT id, {columns}, ''::text AS explanation, "  # noqa: S608
            "''::text AS explanation_de FROM compliance_evaluation WHERE as_of = %s",
            [night],
        )
        cursor.execute("CREATE INDEX bench_day_rows_id ON bench_day_rows (id)")
        cursor.executemany(
            "UPDATE bench_day_rows SET explanation = %s, explanation_de = %s WHERE id = %s",
            [(e.explanation, e.explanation_de, e.pk) for e in sample],
        )
        cursor.execute(
            "CREATE UNIQUE INDEX ON bench_day_rows "
            "(subject_type, subject_id, policy_id, purpose, as_of)"
        )
        cursor.execute("CREATE INDEX ON bench_day_rows (as_of, purpose, status)")
        cursor.execute("CREATE INDEX ON bench_day_rows (partner_id, as_of DESC)")
        cursor.execute("DROP INDEX bench_day_rows_id")  # the day rows had no such index
        cursor.execute("VACUUM ANALYZE bench_day_rows")
        cursor.execute("SELECT pg_total_relation_size('bench_day_rows')")
        one_day = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_day_rows")
        cursor.execute("VACUUM ANALYZE compliance_evaluationperiod")
        cursor.execute(
            "SELECT pg_total_relation_size('compliance_evaluationperiod') "
            "+ pg_total_relation_size('compliance_evaluatedday'), "
            "(SELECT count(*) FROM compliance_evaluationperiod)"
        )
        stored, periods = cursor.fetchone()
    result["history"] = {
        "nights": days,
        "day_rows": day_rows,
        "periods": periods,
        "stored_bytes": stored,
        "day_row_bytes": one_day * day_rows / max(len(sample), 1),
    }
    _log(f"history after {days} nights: {periods:,} periods for {day_rows:,} day rows")
    return night


def measure_one(args) -> dict:
    """Every figure for the database in DATABASE_URL (Django set up here)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max
    from django.test import Client

    from bench import load
    from compliance.models import Evaluation
    from compliance.rules import ttm_window
    from partners.models import Location, Partner, RevenueRecord

    load.collect_static(STATIC_ROOT)  # the pages need the manifest under production settings
    devnull = open(os.devnull, "w")  # noqa: SIM115
    result: dict = {}
    last_day = RevenueRecord.objects.aggregate(last=Max("revenue_date"))["last"]
    as_of = last_day + datetime.timedelta(days=1)  # seed_demo's as-of date
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if args.fresh else "ANALYZE")
        cursor.execute("SELECT count(*) FROM partners_revenuerecord")
        result["rows"] = cursor.fetchone()[0]
    result["partners"] = Partner.objects.count()
    result["locations"] = Location.objects.count()

    # The first evaluation decides the deadlines of the data set (catch-up);
    # the measured runs are ordinary nights after the last one evaluated.
    latest = Evaluation.objects.aggregate(last=Max("as_of"))["last"]
    if latest is None:
        _log("catch-up evaluation")
        started = time.perf_counter()
        call_command("evaluate_eligibility", "--as-of", as_of.isoformat(), stdout=devnull)
        result["catch_up_s"] = time.perf_counter() - started
        latest = as_of

    # Each measured run is a new night (the next day), as in production: the
    # history records what changed (periods, docs/decisions/0014). The
    # baseline sums the same window. Then the same night's engine alone
    # (nothing written), with and without the deadline outlook (PRODUCT 4.9),
    # so that the outlook's cost is measured side by side.
    from contextlib import ExitStack
    from unittest import mock

    from django.db import transaction

    from compliance import revenue_sums, services
    from compliance.models import EvaluationPeriod

    totals = revenue_sums.revenue_totals

    def without_outlook() -> ExitStack:
        """The engine as it was before the outlook: no outlooks, and a TTM
        scan that sums neither the pace months nor the rolling off."""
        stack = ExitStack()
        stack.enter_context(mock.patch.object(services, "deadline_outlooks", return_value={}))
        stack.enter_context(mock.patch.object(services, "rolling_off_cuts", return_value={}))
        stack.enter_context(
            mock.patch.object(
                revenue_sums,
                "revenue_totals",
                lambda window, partner_pks=None, **_parts: totals(window, partner_pks),
            )
        )
        return stack

    class Rollback(Exception):
        pass

    def night_after(night: datetime.date) -> float:
        """A whole night (``evaluate_eligibility --json``, written) two days
        on, after the night before it was run the same way, so that it
        compares with a history of its own kind; all rolled back."""
        took = 0.0
        try:
            with transaction.atomic():
                for offset in (1, 2):
                    started = time.perf_counter()
                    day = (night + datetime.timedelta(days=offset)).isoformat()
                    call_command("evaluate_eligibility", "--as-of", day, "--json", stdout=devnull)
                    took = time.perf_counter() - started
                raise Rollback
        except Rollback:
            pass
        return took

    ours, base, plain, engine, written, findings = [], [], [], [], [], []
    whole, whole_plain = [], []
    simulated: dict[str, list[float]] = {}
    night = latest
    for _i in range(1, args.runs + 1):
        night = night + datetime.timedelta(days=1)
        window = ttm_window(night)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL, [window.start, window.end])
            cursor.fetchall()
        base.append(time.perf_counter() - started)
        periods_before = EvaluationPeriod.objects.count()
        started = time.perf_counter()
        call_command("evaluate_eligibility", "--as-of", night.isoformat(), "--json", stdout=devnull)
        ours.append(time.perf_counter() - started)
        inserted = EvaluationPeriod.objects.count() - periods_before
        closed = EvaluationPeriod.objects.filter(valid_to=night).count()
        written.append(inserted + closed)
        findings.append(Evaluation.objects.filter(as_of=night).count())
        _log(
            f"night {night}: baseline {base[-1]:.3f} s, evaluate_eligibility {ours[-1]:.3f} s, "
            f"{written[-1]:,} rows written for {findings[-1]:,} findings"
        )
        # The what-if of the same night (PRODUCT 8): every policy in force,
        # its threshold raised by half, every subject it covers; writes nothing.
        for code, threshold in what_ifs(night):
            started = time.perf_counter()
            call_command(
                "simulate_policy",
                "--policy",
                code,
                "--threshold",
                str(threshold),
                "--as-of",
                night.isoformat(),
                "--json",
                stdout=devnull,
            )
            simulated.setdefault(code, []).append(time.perf_counter() - started)
            _log(f"night {night}: simulate_policy --policy {code} {simulated[code][-1]:.3f} s")
        # with and without, in turn first (the first of two runs warms the
        # caches of the second)
        for outlook in (True, False) if _i % 2 else (False, True):
            with ExitStack() if outlook else without_outlook():
                started = time.perf_counter()
                services.evaluation_run(as_of=night, save=False)
                (engine if outlook else plain).append(time.perf_counter() - started)
                (whole if outlook else whole_plain).append(night_after(night))
        _log(
            f"night {night}: engine alone {engine[-1]:.3f} s, without the outlook {plain[-1]:.3f} s; "
            f"a whole night {whole[-1]:.3f} s, without the outlook {whole_plain[-1]:.3f} s"
        )
    outlook_night = night
    result["baseline_s"], result["nightly_s"] = statistics.median(base), statistics.median(ours)
    result["baseline_all"], result["nightly_all"] = base, ours
    result["no_outlook_s"], result["no_outlook_all"] = statistics.median(plain), plain
    result["engine_s"], result["engine_all"] = statistics.median(engine), engine
    result["whole_s"], result["whole_all"] = statistics.median(whole), whole
    result["whole_plain_s"], result["whole_plain_all"] = statistics.median(whole_plain), whole_plain
    result["written_all"], result["findings_all"] = written, findings
    evaluated = Evaluation.objects.filter(as_of=outlook_night, purpose="compliance").exclude(
        status="not_applicable"
    )
    result["subjects"] = evaluated.count()
    result["compliant_short"] = evaluated.filter(status="compliant", outlook="short").count()
    if args.history_nights:
        night = _history_nights(args, night, result)
    latest = night
    if simulated:
        # "A simulation": the policy that covers the most subjects (the
        # slowest); and every policy in force one after the other.
        medians = {code: statistics.median(times) for code, times in simulated.items()}
        result["simulation_policy"] = max(medians, key=medians.__getitem__)
        result["simulation_s"] = medians[result["simulation_policy"]]
        result["simulation_every_s"] = sum(medians.values())
        result["simulation_all"] = simulated

    night = latest + datetime.timedelta(days=1)
    seconds, peak = _peak_rss_mb(
        [
            sys.executable,
            "manage.py",
            "evaluate_eligibility",
            "--as-of",
            night.isoformat(),
            "--json",
        ],
        os.environ.copy(),
    )
    result["process_s"], result["peak_mb"] = seconds, peak
    _log(f"night {night} as a process: {seconds:.1f} s, peak RSS {peak:,.0f} MB")

    # What the nightly task does after the run (evaluate_eligibility does not).
    from compliance.services import statistics_refresh

    statistics_refresh()

    # Queries per page, warm, as the staff user and as partner1.
    user_model = get_user_model()
    rng = random.Random(1)
    partner_ids = list(Partner.objects.order_by("pk").values_list("partner_id", flat=True))
    sample = rng.sample(partner_ids, min(PARTNER_SAMPLE, len(partner_ids)))
    staff = Client()
    staff.force_login(
        user_model.objects.get(username="manager"),
        backend="django.contrib.auth.backends.ModelBackend",
    )
    partner = Client()
    partner.force_login(
        user_model.objects.get(username="partner1"),
        backend="django.contrib.auth.backends.ModelBackend",
    )
    pages = {
        "/": [_page(staff, "/")],
        "/partners/": [_page(staff, "/partners/")],
        "/partners/[id]/": [_page(staff, f"/partners/{pid}/") for pid in sample[:5]],
        "/ (partner dashboard)": [_page(partner, "/")],
    }
    for n, key in enumerate(("queries_uncached", "queries", "ms_uncached", "ms")):
        result[key] = {page: [figures[n] for figures in rows] for page, rows in pages.items()}
    _log(f"queries and ms per page (empty cache, then cached): {pages}")

    if args.load_seconds > 0:
        result["load"] = _load(args, sample)
    devnull.close()
    return result


def _load(args, sample: list[str]) -> dict:
    """p50/p95 per page under load, after every user has logged in."""
    from django.db import connection

    from bench import load

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        workdir = Path(tmp)
        # Page caches shared by the workers, as in production (Redis, which the
        # nightly task warms); local memory per worker only without a Redis.
        shared = _bench_redis()
        env = load.server_env(
            load.database_url(connection.settings_dict),
            STATIC_ROOT,
            **({"REDIS_URL": shared} if shared else {}),
        )
        out["cache"] = "Redis (shared)" if shared else "local memory per worker"
        log = workdir / "gunicorn.log"
        with load.gunicorn(env, workers=args.workers, threads=args.threads, log=log) as url:
            for classes, seconds in (
                (("BenchStaffPages",), args.load_seconds),
                (("BenchPartnerDashboard",), max(5, args.load_seconds // 2)),
            ):
                _log(f"locust {classes[0]}: {args.users} users, {seconds} s after logging in")
                samples, output = load.run_locust(
                    url,
                    classes,
                    users=args.users,
                    # logging in (PBKDF2) takes a few seconds for all users; not measured
                    seconds=seconds + args.warm_up,
                    spawn_rate=args.users,
                    env={"LOAD_PARTNER_IDS": ",".join(sample)},
                    workdir=workdir,
                )
                logins = [s.time for s in samples if "/accounts/login/" in s.name]
                since = max(logins, default=0.0)
                for stat in load.summarise(samples, since=since):
                    if "/accounts/login/" in stat.name:
                        continue
                    out[stat.name.split(" ", 1)[1]] = {
                        "requests": stat.requests,
                        "failures": stat.failures,
                        "p50": stat.p50,
                        "p95": stat.p95,
                        "window_s": max(s.time for s in samples) - since,
                    }
                failed = sum(not s.ok for s in samples)
                if failed:
                    _log(f"{failed} failed requests:\n{output[-3000:]}")
    return out


def measure_import(args) -> None:
    """The import figures through ``bench.imports.measure`` (JSON to
    --result-file), or its command when that function is not there."""
    from bench import imports

    measure = getattr(imports, "measure", None)
    if measure is None:
        Path(args.result_file).write_text(json.dumps({"rows": None}))
        subprocess.run(
            [sys.executable, "-m", "bench.imports", "--keep", "--rows", str(args.import_rows),
             "--database-url", os.environ["DATABASE_URL"]],
            cwd=ROOT, check=True,
        )  # fmt: skip
        return
    rows = measure(os.environ["DATABASE_URL"], args.import_rows, seed=1)
    Path(args.result_file).write_text(json.dumps({"rows": rows}, default=str))


# --- the report ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/portal_bench",
        help="base URL: the databases are <name>_<size> and <name>_imports_10000, dropped and "
        "re-created unless --keep (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="smallest size, 3 runs, short load")
    parser.add_argument(
        "--sizes", default=None, help="partners per data set (default: 1000,10000,50000)"
    )
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--lines-per-month", type=int, default=LINES_PER_MONTH)
    parser.add_argument(
        "--runs", type=int, default=None, help="nights per size (default 5; quick 3)"
    )
    parser.add_argument("--as-of", default=None, help="seed date (default: today)")
    parser.add_argument(
        "--history-nights",
        type=int,
        default=0,
        help="after the measured nights, this many more, then the history's storage",
    )
    parser.add_argument("--keep", action="store_true", help="reuse the seeded databases")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--load-seconds", type=int, default=None, help="default 30; quick 10; 0: no load"
    )
    parser.add_argument(
        "--warm-up", type=int, default=10, help="seconds for logging in, not measured"
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--import-rows", type=int, default=None, help="default 1,000,000; quick 100,000; 0: none"
    )
    # internal: one database measured in a process of its own
    parser.add_argument("--measure-one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure-import", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")] if args.sizes else list(SIZES)
    args.size_list = [min(sizes)] if quick and not args.sizes else sizes
    args.runs = args.runs or (3 if quick else 5)
    if args.load_seconds is None:
        args.load_seconds = 10 if quick else 30
    if args.import_rows is None:
        args.import_rows = 100_000 if quick else 1_000_000
    return args


def _child(args, flag: str, url: str, **extra) -> dict:
    """Run this module with ``flag`` against ``url`` in a new process."""
    with tempfile.NamedTemporaryFile(prefix="bench-", suffix=".json", delete=False) as handle:
        result_file = Path(handle.name)
    command = [
        sys.executable, "-m", "bench", flag, "--result-file", str(result_file),
        "--runs", str(args.runs), "--users", str(args.users),
        "--load-seconds", str(args.load_seconds), "--warm-up", str(args.warm_up),
        "--workers", str(args.workers), "--threads", str(args.threads),
        "--import-rows", str(args.import_rows), "--history-nights", str(args.history_nights),
    ]  # fmt: skip
    if extra.get("fresh"):
        command.append("--fresh")
    try:
        subprocess.run(command, cwd=ROOT, env=_env(url), check=True)
        return json.loads(result_file.read_text())
    finally:
        result_file.unlink(missing_ok=True)


def main() -> None:
    args = parse_args()
    if args.measure_one:
        Path(args.result_file).write_text(json.dumps(measure_one(args)))
        return
    if args.measure_import:
        measure_import(args)
        return

    started, load1 = time.monotonic(), os.getloadavg()[0]
    as_of = args.as_of or datetime.date.today().isoformat()  # noqa: DTZ011
    sizes = []
    for size in args.size_list:
        url = _size_url(args.database_url, str(size))
        seed_s = build(
            url,
            partners=size,
            months=args.months,
            lines=args.lines_per_month,
            as_of=as_of,
            keep=args.keep,
        )
        _log(f"measuring {size:,} partners")
        result = _child(args, "--measure-one", url, fresh=seed_s is not None)
        result["seed_s"] = seed_s
        sizes.append(result)

    imported = None
    if args.import_rows:
        url = _size_url(args.database_url, f"imports_{IMPORT_PARTNERS}")
        build(url, partners=IMPORT_PARTNERS, months=1, lines=None, as_of=as_of, keep=args.keep)
        _log(f"import of {args.import_rows:,} lines")
        imported = _child(args, "--measure-import", url)

    text = report(args, sizes, imported, started, load1)
    print(text)
    # A quick run does not replace the table of a full one.
    name = datetime.date.today().isoformat() + ("-quick" if args.quick else "")  # noqa: DTZ011
    out = ROOT / "bench" / "results" / f"{name}.md"
    out.write_text(text, encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
