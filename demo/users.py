"""The demo logins: ``admin`` (superuser), ``manager`` (an account manager),
``partner1`` and ``partner2`` (partner users bound to a contact of the first
two partners), and further account managers without a usable password who
share the portfolio with ``manager``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import models

from partners.models import Contact

if TYPE_CHECKING:
    from .plans import PartnerPlan

ACCOUNT_MANAGERS_GROUP = "Account managers"
DEFAULT_PASSWORD = "portal-demo"  # noqa: S105 - documented demo password (PRODUCT section 6)
STAFF_EMAIL_DOMAIN = "distributor.example"

DEMO_LOGINS = ("admin", "manager", "partner1", "partner2")
# Further account managers (unusable passwords): the portfolio is shared
# round-robin between ``manager`` and the first few of these.
DEMO_ACCOUNT_MANAGERS = (
    ("anna.becker", "Anna", "Becker"),
    ("lukas.gruber", "Lukas", "Gruber"),
    ("sophie.meier", "Sophie", "Meier"),
    ("james.whitfield", "James", "Whitfield"),
    ("claire.dubois", "Claire", "Dubois"),
    ("jonas.keller", "Jonas", "Keller"),
    ("eva.hofmann", "Eva", "Hofmann"),
    ("pieter.devries", "Pieter", "de Vries"),
)
DEMO_USERNAMES = DEMO_LOGINS + tuple(u for u, _, _ in DEMO_ACCOUNT_MANAGERS)


def _save_user(username: str, *, encoded_password: str | None, **fields) -> models.Model:
    user_model = get_user_model()
    user = user_model._default_manager.filter(username=username).first()
    if user is None:
        user = user_model(username=username)
    for name, value in fields.items():
        setattr(user, name, value)
    user.is_active = True
    if encoded_password is None:
        user.set_unusable_password()
    else:
        user.password = encoded_password
    user.save()
    return user


def demo_users(*, password: str, partners: int) -> tuple[dict[str, models.Model], list]:
    """The four demo logins and the extra account managers (created or reset)."""
    encoded = make_password(password)  # one hash for all four: hashing is slow on purpose
    group, _ = Group.objects.get_or_create(name=ACCOUNT_MANAGERS_GROUP)
    logins = {
        "admin": _save_user(
            "admin",
            encoded_password=encoded,
            first_name="Ada",
            last_name="Admin",
            email=f"admin@{STAFF_EMAIL_DOMAIN}",
            is_staff=True,
            is_superuser=True,
        ),
        "manager": _save_user(
            "manager",
            encoded_password=encoded,
            first_name="Maria",
            last_name="Lehner",
            email=f"manager@{STAFF_EMAIL_DOMAIN}",
            is_staff=True,
            is_superuser=False,
        ),
    }
    for username in ("partner1", "partner2"):
        # Name and email come from the bound contact (bind_partner_login).
        logins[username] = _save_user(
            username, encoded_password=encoded, is_staff=False, is_superuser=False
        )
    extra = min(len(DEMO_ACCOUNT_MANAGERS), max(2, 1 + partners // 1_500))
    staff = [
        _save_user(
            username,
            encoded_password=None,
            first_name=first,
            last_name=last,
            email=f"{username}@{STAFF_EMAIL_DOMAIN}",
            is_staff=True,
            is_superuser=False,
        )
        for username, first, last in DEMO_ACCOUNT_MANAGERS[:extra]
    ]
    group.user_set.add(logins["manager"], *staff)
    for username in ("admin", "partner1", "partner2"):
        logins[username].groups.clear()
    return logins, [logins["manager"], *staff]


def bind_partner_login(user, plan: PartnerPlan) -> None:
    contact = Contact.objects.filter(partner__partner_id=plan.partner_id).order_by("pk").first()
    contact.user = user
    contact.save(update_fields=["user"])
    first, _, last = contact.name.partition(" ")
    user.first_name, user.last_name, user.email = first, last, contact.email
    user.save(update_fields=["first_name", "last_name", "email"])
