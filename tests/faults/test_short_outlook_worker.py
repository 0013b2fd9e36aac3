"""A real worker, a real broker and a real SMTP server deliver the
reminders of a subject that is compliant today but short at its deadline
(PRODUCT 4.9 and 5): exactly one email per offset and language, through
the nightly task, over re-runs and a status change within an offset.

Not a fault: it lives here for the harness (workers, broker, SMTP, the
policies put back after transactional tests)."""

from __future__ import annotations

import datetime
import re
from collections import Counter

import pytest

from compliance.models import Evaluation, Outlook, Status
from notifications.models import OPEN_STATUSES, Notification, NotificationStatus
from tests.factories import StaffUserFactory
from tests.notifications.conftest import SHORT_AS_OF, short_location

from .conftest import recipients, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = datetime.date
PLANNED = re.compile(r"Task notifications\.plan_reminders\[[0-9a-f-]+\] succeeded")
#: The nights, and the offset whose reminder each one sends (None: nothing).
#: 2025-12-03 is compliant and short; on 2025-12-16 the USD 700.00 of
#: 2024-12-15 leaves today's window too and the location is at_risk, still
#: inside the 60-day band; 2026-01-02 is at_risk at 30 days.
NIGHTS = [
    (SHORT_AS_OF, 90),
    (SHORT_AS_OF + datetime.timedelta(days=1), None),
    (D(2025, 12, 3), 60),
    (D(2025, 12, 16), None),
    (D(2026, 1, 2), 30),
    (D(2026, 1, 3), None),
]


def test_compliant_but_short_subject_gets_one_email_per_offset_over_real_smtp(
    policies, celeryd, smtp
):
    manager = StaffUserFactory(
        username="maria", first_name="Maria", last_name="Huber", email="maria@distributor.example"
    )
    short_location(
        manager=manager,
        contacts=(
            ("Eva Gruber", "eva@donau.example", "en"),
            ("Bernd", "bernd@donau.example", "de"),
        ),
    )
    smtp.start()
    worker = celeryd.worker("worker", smtp_port=smtp.port)
    planned = 0
    for night, offset in NIGHTS:
        # The night as beat triggers it, then the same trigger again (a
        # second beat, a retry): the JobRun skips it. Then planning once
        # more on its own (``send_reminders``' task): nothing new.
        celeryd.send("compliance.evaluate_all", as_of=night.isoformat())
        celeryd.send("compliance.evaluate_all", as_of=night.isoformat())
        celeryd.send("notifications.plan_reminders", as_of=night.isoformat())
        planned += 2

        def night_done(target=planned) -> bool:
            return (
                len(PLANNED.findall(worker.output())) >= target
                and not Notification.objects.filter(status__in=OPEN_STATUSES).exists()
            )

        wait_for(night_done, timeout=120, what=f"the night of {night}", logs=[worker])
        sent = Notification.objects.filter(status=NotificationStatus.SENT)
        expected = [o for _n, o in NIGHTS[: NIGHTS.index((night, offset)) + 1] if o]
        assert sorted(set(sent.values_list("offset", flat=True)), reverse=True) == expected
        assert len(smtp.received) == 2 * len(expected), night

    assert Evaluation.objects.get(as_of=D(2025, 12, 3), subject_id="8100001").outlook == (
        Outlook.SHORT
    )
    assert Evaluation.objects.get(as_of=D(2025, 12, 16), subject_id="8100001").status == (
        Status.AT_RISK
    )
    rows = Notification.objects.filter(status=NotificationStatus.SENT)
    assert Counter(rows.values_list("offset", "language")) == {
        (90, "en"): 1, (90, "de"): 1, (60, "en"): 1, (60, "de"): 1, (30, "en"): 1, (30, "de"): 1,
    }  # fmt: skip
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert recipients(smtp.received) == {
        "eva@donau.example": 3,
        "bernd@donau.example": 3,
        "maria@distributor.example": 6,
    }
    messages = [r.message for r in smtp.received]
    assert len({m["Message-ID"] for m in messages}) == 6
    subjects = sorted(str(m["Subject"]) for m in messages if m["Content-Language"] == "en")
    assert [("short at the deadline" in s) for s in subjects] == [False, True, True]
    assert "30 days left to meet" in subjects[0]
    first = next(r for r in smtp.received if "(73 days left)" in str(r.message["Subject"]))
    text = first.part("text/plain")
    assert "USD 1,250.00 today, but by the deadline USD 700.00 of it will have rolled off" in text
    assert "Already counts for the deadline: USD 550.00." in text
    assert "Still needed by the deadline: USD 450.00 of USD 1,000.00." in text
    assert "Outlook: short." in text
    german = next(r for r in smtp.received if "(noch 73 Tage)" in str(r.message["Subject"]))
    assert "Ausblick: zu wenig." in german.part("text/plain")
