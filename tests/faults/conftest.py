"""Real processes for the fault tests: Celery workers and beats on the
configured broker (the filesystem transport, or Redis when
``CELERY_BROKER_URL`` is set, as in CI), an SMTP server on loopback, and the
data of one night with every kind of row the nightly run writes."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from django.conf import settings
from django.db import connection

from bench import load
from compliance.models import DeadlineOutcome, Evaluation, FollowUpCase, JobRun
from notifications.models import Notification
from partners import services as ps
from partners.models import BillingModel, PlanType
from tests.factories import StaffUserFactory
from tests.notifications.conftest import SmtpHandler, direct_partner
from tests.reference import restore_reference_data

D = datetime.date
#: The night of the fault tests. Partner 1000001's deadline (2022-09-01)
#: was missed four days before: an outcome, a follow-up case and a
#: missed-deadline email. Partner 1000002 has 26 days left: the 30-day
#: reminder in English and German (the 90- and 60-day ones recorded as
#: skipped). Reseller 3100001 has no policy in force yet; it is checked for
#: direct-bill readiness.
NIGHT = D(2022, 9, 5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database, for processes started by a test."""
    return load.database_url(connection.settings_dict)


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, logs=()) -> object:
    """Poll ``condition`` until it is truthy; on timeout fail with the logs
    of the processes involved."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name} ---\n{p.output()[-4000:]}" for p in logs)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


@pytest.fixture(autouse=True)
def _portal_is_the_current_celery_app():
    """A ``Celery()`` made elsewhere in the session (the producer of
    tests/compliance/test_nightly.py) becomes Celery's current app, and
    shared tasks then resolve to it, not eager: put ours back."""
    from portal.celery import app

    app.set_current()


# --- data --------------------------------------------------------------------------


def seed_policies() -> None:
    """A transactional test empties every table when it ends: put the data
    migrations' rows back (idempotent)."""
    restore_reference_data()


@pytest.fixture
def policies():
    seed_policies()


@pytest.fixture(scope="package", autouse=True)
def _policies_back_after_the_faults(django_db_blocker):
    """Leave the policies in place for the tests that run after these."""
    yield
    with django_db_blocker.unblock():
        seed_policies()


def one_night_of_data() -> None:
    manager = StaffUserFactory(
        username="maria", first_name="Maria", last_name="Huber", email="maria@distributor.example"
    )
    direct_partner(partner_id="1000001", manager=manager)
    partner = ps.partner_create(
        partner_id="1000002", name="Bergsee Cloud GmbH", country="DE",
        onboarded_on=D(2019, 3, 10), billing_model=BillingModel.DIRECT_BILL,
        account_manager=manager,
    )  # fmt: skip
    ps.location_create(
        partner=partner, location_id="6000002", country="DE", onboarded_on=D(2019, 3, 10)
    )
    ps.support_contract_create(
        partner=partner, plan_type=PlanType.ASFP, contract_number="ASFP-1000002",
        start_date=D(2021, 10, 1), end_date=D(2022, 9, 30), paid_on=D(2021, 9, 20),
    )  # fmt: skip
    ps.contact_create(partner=partner, name="Bernd Maier", email="bernd@bergsee.example",
                      language="de")  # fmt: skip
    ps.contact_create(partner=partner, name="Bea Kurz", email="bea@bergsee.example",
                      language="en")  # fmt: skip
    reseller = ps.partner_create(
        partner_id="3100001", name="Donau Cloud GmbH", country="AT", onboarded_on=D(2021, 5, 2)
    )
    ps.location_create(
        partner=reseller, location_id="8100001", country="AT", onboarded_on=D(2021, 5, 2)
    )


def night_rows(as_of: datetime.date = NIGHT) -> dict:
    """What one night left in the database, in a form two runs can be
    compared by (ids and timestamps left out)."""
    return {
        "evaluations": sorted(
            Evaluation.objects.filter(as_of=as_of).values_list(
                "subject_id", "policy__code", "purpose", "status"
            )
        ),
        "outcomes": sorted(DeadlineOutcome.objects.values_list("subject_id", "deadline", "result")),
        "cases": sorted(FollowUpCase.objects.values_list("partner__partner_id", "kind", "state")),
        "notifications": sorted(
            Notification.objects.values_list(
                "subject_id", "kind", "offset", "language", "status", "attempts"
            )
        ),
        "job_runs": JobRun.objects.count(),
    }


def forget_the_night() -> None:
    """Back to the state before the night (for a second run of it)."""
    Notification.objects.all().delete()
    FollowUpCase.objects.all().delete()
    DeadlineOutcome.objects.all().delete()
    Evaluation.objects.all().delete()
    JobRun.objects.all().delete()


def recipients(messages) -> Counter:
    """One entry per (message, recipient) of locmem messages or SMTP envelopes."""
    counter: Counter = Counter()
    for m in messages:
        addresses = m.rcpt_tos if hasattr(m, "rcpt_tos") else m.recipients()
        counter.update(sorted(addresses))
    return counter


# --- SMTP ----------------------------------------------------------------------------


@dataclass
class Smtp:
    """aiosmtpd on a fixed loopback port, which can go down and come back."""

    port: int = field(default_factory=free_port)
    handler: SmtpHandler = field(default_factory=SmtpHandler)
    controller: Controller | None = None

    def start(self) -> Smtp:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self):
        return self.handler.received


@pytest.fixture
def smtp():
    """An SMTP server (started by the test when it wants it up)."""
    server = Smtp()
    try:
        yield server
    finally:
        server.stop()


# --- a Redis of our own -------------------------------------------------------------------


class RedisServer:
    """A private ``redis-server`` on a free loopback port, which a test can
    start late (a broker that is down, then back on the same URL)."""

    executable = shutil.which("redis-server")

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.popen: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        import redis

        self.popen = subprocess.Popen(  # noqa: S603 - a fixed local command
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=20, what="redis-server to start")
        return self

    def stop(self) -> None:
        if self.popen is not None:
            self.popen.terminate()
            self.popen.wait(timeout=20)
            self.popen = None


@pytest.fixture
def redis_server(tmp_path):
    """A private Redis (not started), or None where redis-server is not installed."""
    if RedisServer.executable is None:
        yield None
        return
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


# --- Celery processes ------------------------------------------------------------------


@dataclass
class Process:
    """A Celery worker or beat of this project, started through
    ``tests.faults.worker`` so that faults can be injected."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        self._log = self.log.open("w")
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.faults.worker", *self.args],
            env=self.env, cwd=settings.BASE_DIR, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> int:
        """SIGKILL: no shutdown handler, no acknowledgement, no rollback by us."""
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        self._log.close()


@dataclass
class Celeryd:
    """Start workers and beats on one broker and send them tasks."""

    broker_url: str
    broker_dir: Path
    tmp_path: Path
    processes: list[Process] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def env(self, **faults: object) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.faults.worker_settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_FILESYSTEM_DIR": str(self.broker_dir),
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
        env.update({f"FAULTS_{k.upper()}": str(v) for k, v in faults.items()})
        return env

    def worker(self, name: str, **faults: object) -> Process:
        args = [
            "worker", "--pool=solo", "--without-mingle", "--without-gossip",
            "--without-heartbeat", "--loglevel=INFO", "-n", f"{name}-{os.getpid()}@%h",
        ]  # fmt: skip
        return self._start(name, args, faults)

    def beat(self, name: str, **faults: object) -> Process:
        args = ["beat", "--loglevel=INFO", f"--pidfile={self.tmp_path / f'{name}.pid'}"]
        return self._start(name, args, faults)

    def _start(self, name: str, args: list[str], faults: dict) -> Process:
        process = Process(name, args, self.env(**faults), self.tmp_path / f"{name}.log")
        self.processes.append(process)
        return process.start()

    def producer(self) -> Celery:
        """A client bound to the same broker, as the web process or beat is."""
        producer = Celery("portal-faults", broker=self.broker_url, set_as_current=False)
        producer.conf.task_serializer = "json"
        if self.broker_url.startswith("filesystem://"):
            producer.conf.broker_transport_options = {
                "data_folder_in": str(self.broker_dir / "queue"),
                "data_folder_out": str(self.broker_dir / "queue"),
                "control_folder": str(self.broker_dir / "control"),
            }
        return producer

    def send(self, task: str, **kwargs) -> str:
        result = self.producer().send_task(task, kwargs=kwargs)
        self.sent.append(result.id)
        return result.id

    def close(self) -> None:
        processes, self.processes = self.processes, []
        for process in processes:
            process.close()
        if processes and self.broker_url.startswith(("redis://", "rediss://")):
            self._drop_unacked()

    def _drop_unacked(self) -> None:
        """A killed worker leaves its task in Redis' unacknowledged set, to be
        redelivered after the visibility timeout (hours): remove ours, so
        that no later run on this Redis receives them."""
        import redis

        client = redis.Redis.from_url(self.broker_url)
        try:
            unacked = client.hgetall("unacked")
        except redis.ConnectionError:  # a broker that is gone holds nothing
            return
        for tag, payload in unacked.items():
            try:
                task_id = json.loads(payload)[0]["headers"]["id"]
            except (ValueError, KeyError, IndexError, TypeError):
                continue
            if task_id in self.sent:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)


@pytest.fixture
def celeryd(tmp_path, redis_server):
    """Workers and beats, stopped at the end before a private Redis is."""
    broker_dir = tmp_path / "broker"
    for sub in ("queue", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    runner = Celeryd(
        broker_url=os.environ.get("CELERY_BROKER_URL", "filesystem://"),
        broker_dir=broker_dir,
        tmp_path=tmp_path,
    )
    if runner.broker_url.startswith("redis://"):
        # A shared broker (CI's) may still hold an unacknowledged message of
        # an earlier test's killed worker; a short visibility timeout would
        # hand it to this test's worker. Each fault test starts empty.
        import redis

        redis.Redis.from_url(runner.broker_url).flushdb()
    try:
        yield runner
    finally:
        runner.close()
