"""Fault: the broker (Redis) is down when the reminders of a night are
committed.

Expected: planning still commits its notification rows and exits cleanly;
the failed enqueue loses nothing and rolls nothing back (the rows stay
``planned``, unattempted). When the broker is back, the sweeper (a beat
task, every 5 minutes in production, every second here) finds the rows
overdue and enqueues them; each email arrives exactly once, however many
sweeps follow.

The same path with the enqueue patched to raise is covered in process by
``tests/notifications/test_delivery.py::test_broker_down_at_commit_then_the_sweeper_delivers``;
this test uses real processes and a real unreachable broker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings

from compliance.services import evaluation_run
from notifications.models import Notification, NotificationStatus

from .conftest import NIGHT, database_url, free_port, one_night_of_data, recipients, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXPECTED_RECIPIENTS = {
    "anna@alpenblick.example": 1,
    "bea@bergsee.example": 1,
    "bernd@bergsee.example": 1,
    "maria@distributor.example": 3,
}


@pytest.fixture
def broker(celeryd, redis_server):
    """A broker that can be down and come back on the same URL: a private
    redis-server when one is installed (CI has it); otherwise the suite's
    broker plays "back" for an unreachable URL."""
    url = redis_server.url if redis_server else f"redis://127.0.0.1:{free_port()}/0"

    def comes_back() -> None:
        if redis_server is not None:
            redis_server.start()
            celeryd.broker_url = url

    yield url, comes_back


def test_broker_down_at_commit_then_the_sweeper_delivers_exactly_once(
    policies, celeryd, smtp, broker
):
    """``send_reminders`` with the broker unreachable: exit 0, rows committed
    and left planned; broker back, worker and beat started: the sweeper
    delivers every planned email once."""
    down_url, broker_comes_back = broker
    one_night_of_data()
    evaluation_run(as_of=NIGHT)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": down_url,  # nothing listens there
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    started = time.monotonic()
    planned = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "send_reminders", "--as-of", NIGHT.isoformat()],
        env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert planned.returncode == 0, planned.stderr
    assert "queued 3 email(s), 4 skipped, 3 newly recorded" in planned.stdout
    assert "broker unavailable" in planned.stderr and "left for the sweeper" in planned.stderr
    assert elapsed < 60  # the command gives up on the broker, it does not hang

    rows = Notification.objects.order_by("pk")
    assert rows.count() == 7  # committed, not rolled back
    waiting = rows.filter(status=NotificationStatus.PLANNED)
    assert waiting.count() == 3 and set(waiting.values_list("attempts", flat=True)) == {0}
    assert rows.filter(status=NotificationStatus.SKIPPED).count() == 4

    broker_comes_back()
    smtp.start()
    faults = {"smtp_port": smtp.port, "sweep_grace_seconds": 2, "sweep_every_seconds": 1}
    worker = celeryd.worker("worker", **faults)
    beat = celeryd.beat("beat", **faults)

    def delivered() -> bool:
        return rows.filter(status=NotificationStatus.SENT).count() == 3

    wait_for(delivered, timeout=90, what="the sweeper to deliver", logs=[worker, beat])
    sweeps_then = worker.output().count("Task notifications.sweep[")
    wait_for(
        lambda: worker.output().count("Task notifications.sweep[") >= sweeps_then + 6,
        timeout=60,
        what="three more sweeps",
        logs=[worker, beat],
    )
    assert len(smtp.received) == 3
    assert recipients(smtp.received) == EXPECTED_RECIPIENTS
    assert set(rows.filter(status=NotificationStatus.SENT).values_list("attempts", flat=True)) == {
        1
    }
    assert "sweeper re-enqueued 3 notification(s)" in worker.output()
