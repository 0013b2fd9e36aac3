"""python -m bench.load: the locust scenario against gunicorn on loopback.

Starts gunicorn (``gunicorn.conf.py``, production settings with a throw-away
secret key, static files collected into ``var/load-static``) on a free
loopback port against a database that ``seed_demo`` filled, runs
``bench/locustfile.py`` headless (account managers, partner users, one
import) and prints p50/p95 per request type. ``make load`` runs it against
the development data (``DATABASE_URL`` or ``db.sqlite3``; ``make run``
seeds it). The import adds a few USD 1.00 revenue lines (references
``LOAD-…``) on every run.

Also the toolbox of ``python -m bench`` and ``tests/load``: collecting
static files, starting and stopping gunicorn, running locust, reading its
samples.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
SCENARIO = ("AccountManager", "PartnerUser", "Importer")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """A ``DATABASE_URL`` for the database Django is connected to (the test
    database during tests)."""
    engine, name = settings_dict["ENGINE"], str(settings_dict["NAME"])
    if engine.endswith("sqlite3"):
        return f"sqlite:///{name}"
    if engine.endswith(("postgresql", "postgis")):
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{quote(name, safe='')}"
    raise ValueError(f"No DATABASE_URL for {engine}")


def collect_static(root: Path) -> Path:
    """``collectstatic`` into ``root`` with a plain manifest (what production's
    compressed manifest storage reads), without compressing every file (which
    takes a minute). Needs Django set up; returns ``root``."""
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, STATIC_ROOT=root):
        call_command("collectstatic", "--noinput", "--clear", verbosity=0)
    return root


def server_env(database: str, static_root: Path, **extra: str) -> dict[str, str]:
    """Production settings for plain HTTP on loopback: a throw-away secret,
    this host only, no redirect to HTTPS (the readiness check asks plainly);
    the locust users play the TLS proxy (LOAD_TLS_PROXY) and send the secure
    cookies back over HTTP."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DATABASE_URL": database,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(static_root),
        "LOG_LEVEL": "WARNING",
        # The harness logs staff in through the password form; their second
        # factor is tested in tests/test_second_factor.py, not under load.
        "STAFF_MFA_REQUIRED": "false",
        **extra,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int = 3, threads: int = 2, log: Path | None = None
) -> Iterator[str]:
    """gunicorn with ``gunicorn.conf.py`` on a free loopback port; yields the
    base URL once the login page answers, stops it afterwards."""
    port = free_port()
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
    }
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        # No control socket: several servers (tests, benchmarks) may run at once.
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--no-control-socket", "portal.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}" + _tail(log))
            try:
                with urllib.request.urlopen(f"{url}/accounts/login/", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 60 s" + _tail(log))
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()


def _tail(log: Path | None) -> str:
    if not log or not log.exists():
        return ""
    return "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])


@dataclass
class Sample:
    time: float
    method: str
    name: str
    ms: float
    ok: bool


def run_locust(
    url: str,
    classes: tuple[str, ...],
    *,
    users: int,
    seconds: int,
    spawn_rate: float = 10,
    env: dict[str, str] | None = None,
    workdir: Path,
) -> tuple[list[Sample], str]:
    """Locust headless; returns every request (time, name, ms, ok) and
    locust's own output (its summary and any failures)."""
    samples = workdir / "samples.csv"
    run_env = {
        **os.environ,
        "LOAD_TLS_PROXY": "1",
        "LOAD_SAMPLES": str(samples),
        **(env or {}),
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "20",
        "--only-summary",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    result = subprocess.run(
        command,
        cwd=workdir,
        env=run_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 120,
    )
    output = result.stdout + result.stderr
    if not samples.exists():
        raise RuntimeError(f"locust wrote no samples (exit {result.returncode}):\n{output}")
    with samples.open(encoding="utf-8") as handle:
        rows = [
            Sample(float(r["time"]), r["method"], r["name"], float(r["ms"]), r["ok"] == "True")
            for r in csv.DictReader(handle)
        ]
    return rows, output


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Stat:
    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    mean: float


def summarise(samples: list[Sample], since: float = 0.0) -> list[Stat]:
    """Per request name (sorted by path) over the samples that
    started at or after ``since`` (seconds since the epoch)."""
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        if sample.time - sample.ms / 1000 >= since:
            by_name.setdefault(f"{sample.method} {sample.name}", []).append(sample)
    return [
        Stat(
            name=name,
            requests=len(rows),
            failures=sum(not s.ok for s in rows),
            p50=percentile([s.ms for s in rows], 50),
            p95=percentile([s.ms for s in rows], 95),
            mean=statistics.fmean(s.ms for s in rows),
        )
        for name, rows in sorted(by_name.items(), key=lambda item: item[0].split(" ", 1)[::-1])
    ]


def table(stats: list[Stat]) -> str:
    lines = [
        "| request | requests | failures | p50 ms | p95 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {s.name} | {s.requests:,} | {s.failures:,} | {s.p50:,.0f} | {s.p95:,.0f} |"
        for s in stats
    ]
    total = sum(s.requests for s in stats)
    failed = sum(s.failures for s in stats)
    lines.append(f"| all | {total:,} | {failed:,} | | |")
    return "\n".join(lines)


def scenario(
    database: str,
    *,
    users: int,
    seconds: int,
    spawn_rate: float = 10,
    workers: int = 3,
    threads: int = 2,
    static_root: Path,
    password: str = "portal-demo",  # noqa: S107 - seed_demo's documented demo password
) -> tuple[list[Stat], str]:
    """The issue-8 scenario against gunicorn on ``database``; Django must be
    set up (for collecting the static files)."""
    collect_static(static_root)
    with tempfile.TemporaryDirectory(prefix="portal-load-") as tmp:
        workdir = Path(tmp)
        # Uploads and (unused) broker files in the temporary folder, not in var/.
        env = server_env(
            database,
            static_root,
            MEDIA_ROOT=str(workdir / "media"),
            CELERY_FILESYSTEM_DIR=str(workdir / "celery"),
        )
        with gunicorn(env, workers=workers, threads=threads, log=workdir / "gunicorn.log") as url:
            samples, output = run_locust(
                url,
                SCENARIO,
                users=users,
                seconds=seconds,
                spawn_rate=spawn_rate,
                env={"LOAD_PASSWORD": password},
                workdir=workdir,
            )
        log = (workdir / "gunicorn.log").read_text(errors="replace")
    return summarise(samples), output + ("\n" + log if "Traceback" in log else "")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=None,
        help="the seeded database (default: DATABASE_URL, else the development db.sqlite3)",
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (gthread)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--password", default="portal-demo", help="of the seed_demo logins")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.dev")
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    import django

    django.setup()
    from django.db import connection

    database = database_url(connection.settings_dict)
    static_root = ROOT / "var" / "load-static"
    print(f"{args.users} users for {args.seconds} s against gunicorn on {connection.vendor} …")
    stats, output = scenario(
        database,
        users=args.users,
        seconds=args.seconds,
        spawn_rate=args.spawn_rate,
        workers=args.workers,
        threads=args.threads,
        static_root=static_root,
        password=args.password,
    )
    shutil.rmtree(static_root, ignore_errors=True)
    print(table(stats))
    failures = sum(s.failures for s in stats)
    if failures:
        print(output)
        sys.exit(1)


if __name__ == "__main__":
    main()
