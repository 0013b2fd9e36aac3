"""Shared data and a real SMTP server on loopback for the notification tests."""

from __future__ import annotations

import datetime
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from partners import services as ps
from partners.models import BillingModel, Language, PlanType
from tests.factories import StaffUserFactory

D = datetime.date
#: Example 1's support plan: ASfP paid 2021-09-01..2022-08-31, so the
#: deadline (renewal date) is 2022-09-01 for every date up to it.
DEADLINE = D(2022, 9, 1)


def direct_partner(
    *,
    partner_id: str = "1000001",
    name: str = "Alpenblick IT GmbH",
    manager=None,
    contacts: tuple[tuple[str, str, str], ...] = (
        ("Anna Berger", "anna@alpenblick.example", "en"),
    ),
):
    """A direct-bill partner with no revenue and a paid ASfP plan: ``at_risk``
    (revenue unmet) against csp-direct-2021 until 2022-09-01."""
    partner = ps.partner_create(
        partner_id=partner_id, name=name, country="DE", onboarded_on=D(2019, 3, 10),
        billing_model=BillingModel.DIRECT_BILL, account_manager=manager,
    )  # fmt: skip
    ps.location_create(
        partner=partner, location_id=str(int(partner_id) + 5_000_000), country="DE",
        onboarded_on=D(2019, 3, 10),
    )  # fmt: skip
    ps.support_contract_create(
        partner=partner, plan_type=PlanType.ASFP, contract_number=f"ASFP-{partner_id}",
        start_date=D(2021, 9, 1), end_date=D(2022, 8, 31), paid_on=D(2021, 8, 25),
    )  # fmt: skip
    for contact_name, email, language in contacts:
        ps.contact_create(partner=partner, name=contact_name, email=email, language=language)
    return partner


@pytest.fixture
def manager():
    return StaffUserFactory(
        username="maria", first_name="Maria", last_name="Huber", email="maria@distributor.example"
    )


@pytest.fixture
def partner(manager):
    return direct_partner(manager=manager)


@pytest.fixture
def run_day(django_capture_on_commit_callbacks):
    """Evaluate a day and plan its notifications as the nightly job does;
    deliveries run (eagerly) when the transaction commits."""
    from compliance.services import evaluation_run
    from notifications.services import reminders_plan

    def run(day: datetime.date, *, evaluate: bool = True):
        if evaluate:
            evaluation_run(as_of=day)
        with django_capture_on_commit_callbacks(execute=True):
            return reminders_plan(as_of=day)

    return run


# --- a real SMTP server on loopback ----------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise AssertionError(f"no {content_type} part")


@dataclass
class SmtpHandler:
    """Accepts every message, or answers ``reply`` to the next ``refuse``
    messages (e.g. "451 4.3.0 Try again later")."""

    received: list[Received] = field(default_factory=list)
    refuse: int = 0
    reply: str = "451 4.3.0 Mailbox temporarily unavailable, try again later"
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse:
                self.refuse -= 1
                self.refused += 1
                return self.reply
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """aiosmtpd on 127.0.0.1 and Django's SMTP backend pointed at it."""
    handler = SmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "CSP Compliance <compliance@distributor.example>"
    settings.COMPLIANCE_REPLY_TO = ["csp-team@distributor.example"]
    try:
        yield handler
    finally:
        controller.stop()


__all__ = ["DEADLINE", "Language", "direct_partner"]


# --- compliant today, short at the deadline (PRODUCT 4.9's example) ---------------

#: As of 2025-11-20 the location's deadline is 2026-02-01 (73 days); offsets
#: of csp-indirect-reseller-2024: 90/60/30.
SHORT_AS_OF = D(2025, 11, 20)
SHORT_DEADLINE = D(2026, 2, 1)


def short_location(
    *,
    manager=None,
    partner_id: str = "3100001",
    location_id: str = "8100001",
    contacts: tuple[tuple[str, str, str], ...] = (("Eva Gruber", "eva@donau.example", "en"),),
    extra: tuple[tuple[datetime.date, str], ...] = (),
):
    """A reseller location with PRODUCT 4.9's figures on 2025-11-20: TTM USD
    1,250.00 (compliant), of which USD 700.00 (2024-12-15) is dated before
    the deadline's window 2025-02-01..2026-01-31 and rolls off; secured USD
    550.00; pace August-October USD 184.00 / 92 days = USD 2.00 a day;
    projected USD 696.00: short. On 2025-12-15 the USD 700.00 leaves today's
    window too and the location turns ``at_risk``. ``extra`` adds revenue
    lines (date, USD)."""
    from decimal import Decimal

    partner = ps.partner_create(
        partner_id=partner_id, name="Donau Cloud GmbH", country="AT",
        onboarded_on=D(2023, 2, 10), account_manager=manager,
    )  # fmt: skip
    location = ps.location_create(
        partner=partner, location_id=location_id, country="AT", onboarded_on=D(2023, 2, 10)
    )
    lines = [
        (D(2024, 3, 1), "300.00"),  # the deadline 2025-02-01 was met (USD 1,000.00)
        (D(2024, 12, 15), "700.00"),
        (D(2025, 3, 10), "366.00"),
        (D(2025, 8, 10), "60.00"),
        (D(2025, 9, 10), "62.00"),
        (D(2025, 10, 10), "62.00"),
        *extra,
    ]
    for n, (day, amount) in enumerate(lines):
        ps.revenue_record_create(
            location=location, revenue_date=day, amount=Decimal(amount), currency="USD",
            reference=f"INV-{location_id}-{n}",
        )  # fmt: skip
    for contact_name, email, language in contacts:
        ps.contact_create(partner=partner, name=contact_name, email=email, language=language)
    return location
