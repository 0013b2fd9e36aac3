"""The kinds of the simple CSV imports: one :class:`KindSpec` each (its
columns, how a row becomes field values, its key, how it is stored), and
:data:`KINDS`."""

from __future__ import annotations

import datetime
import textwrap
from collections import defaultdict
from collections.abc import Hashable, Sequence
from functools import cached_property
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from core.bulk import INSERT_BATCH_SIZE, UPDATE_BATCH_SIZE, in_chunks
from ingestion.files import shown
from ingestion.report import ImportConflict, ImportReport
from partners import selectors as partner_selectors
from partners.dates import AGREEMENT, ONBOARDING, REVENUE
from partners.designations import DesignationLookup, UnknownDesignation
from partners.models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    BillingModel,
    Contact,
    Currency,
    ExchangeRate,
    Language,
    Location,
    Partner,
    PlanType,
    RevenueRecord,
    RevenueSource,
    SupportContract,
)
from partners.revenue import RevenueLine, revenue_currency_codes, revenue_lines_upsert

from .reading import FLAG_WORDS, TRUE_WORDS, Row, choice_map, parse_date

#: The stored values of one record, by attribute name ("pk" included).
Stored = dict[str, Any]


# --- Looking things up in chunks ----------------------------------------------------------


def resolve_mpn_references(
    rows: Sequence[Row], *, column: str, model: type[Partner] | type[Location], attname: str
) -> None:
    """Turn the MPN id in ``row.refs[column]`` into ``row.values[attname]``
    (the primary key of the partner or location), or an error."""
    id_field = "partner_id" if model is Partner else "location_id"
    wanted = sorted({row.refs[column] for row in rows if row.refs.get(column)})
    found: dict[str, int] = {}
    for chunk in in_chunks(wanted):
        found.update(model.objects.filter(**{f"{id_field}__in": chunk}).values_list(id_field, "pk"))
    label = model._meta.verbose_name
    for row in rows:
        reference = row.refs.get(column)
        if not reference:
            continue
        if reference in found:
            row.values[attname] = found[reference]
        else:
            row.error(column, f"unknown {label} {reference}")


# --- Kinds -----------------------------------------------------------------------------


class ImportContext:
    """Reference data an import reads at most once."""

    @cached_property
    def currencies(self) -> set[str]:
        return set(Currency.objects.values_list("code", flat=True))

    @cached_property
    def revenue_currencies(self) -> set[str]:
        """The codes revenue may be in (``partners.revenue``)."""
        return revenue_currency_codes()

    @cached_property
    def designations(self) -> DesignationLookup:
        return DesignationLookup.load()

    @cached_property
    def today(self) -> datetime.date:
        """The day the dates of the file are checked against (``partners.dates``)."""
        return timezone.localdate()


class KindSpec:
    """How one kind of file maps onto one model. Subclasses set the class
    attributes and write :meth:`parse`; the rest has sensible defaults."""

    kind: ClassVar[str]
    model: ClassVar[type[models.Model]]
    #: Columns of the file, all required in the header (in any order).
    columns: ClassVar[tuple[str, ...]]
    #: Model attributes an update may change.
    fields: ClassVar[tuple[str, ...]]
    #: Model attributes that identify a record; the file may hold each key once.
    key_fields: ClassVar[tuple[str, ...]]
    #: The file column(s) of the key, for messages about duplicates.
    key_columns: ClassVar[tuple[str, ...]]
    #: Leading key fields filtered with ``__in`` to find existing records.
    lookup_fields: ClassVar[tuple[str, ...] | None] = None
    #: Further stored fields that :meth:`check_existing` looks at.
    also_load: ClassVar[tuple[str, ...]] = ()
    #: One line for ``--help`` about what the columns accept.
    notes: ClassVar[str] = ""
    #: True: the checked rows (each key once) go to :meth:`store`, a domain
    #: service that plans or writes them itself, instead of :meth:`existing`
    #: and :meth:`write`.
    stores_itself: ClassVar[bool] = False

    def __init__(self, context: ImportContext) -> None:
        self.context = context

    def parse(self, row: Row) -> None:
        """Fill ``row.values`` / ``row.refs`` / ``row.extra`` from the cells."""
        raise NotImplementedError

    def resolve(self, rows: Sequence[Row]) -> None:
        """Turn the references of all rows into foreign keys, in bulk."""

    def key(self, row: Row) -> tuple[Hashable, ...] | None:
        key = tuple(row.values.get(name) for name in self.key_fields)
        return None if any(part is None or part == "" for part in key) else key

    def stored_key(self, stored: Stored) -> tuple[Hashable, ...]:
        return tuple(stored[name] for name in self.key_fields)

    def existing(self, keys: set[tuple[Hashable, ...]]) -> dict[tuple, list[Stored]]:
        """The stored values of the records with these keys, as dicts (cheaper
        than model instances for 100,000 rows); a key should match one."""
        lookup = self.lookup_fields or self.key_fields
        size = len(lookup)
        prefixes = sorted({key[:size] for key in keys})
        names = list(dict.fromkeys(["pk", *self.key_fields, *self.fields, *self.also_load]))
        queryset = self.model._default_manager.values(*names)
        found: dict[tuple, list[Stored]] = defaultdict(list)
        for chunk in in_chunks(prefixes):
            filters = {
                f"{name}__in": {prefix[i] for prefix in chunk} for i, name in enumerate(lookup)
            }
            for stored in queryset.filter(**filters):
                key = self.stored_key(stored)
                if key in keys:
                    found[key].append(stored)
        return found

    def check_existing(self, row: Row, stored: Stored) -> None:
        """Errors that depend on the stored record (e.g. a different owner)."""

    def differs(self, row: Row, stored: Stored) -> bool:
        return any(stored[name] != value for name, value in row.values.items())

    def store(
        self,
        rows: Sequence[Row],
        report: ImportReport,
        *,
        write: bool,
        user: User | None,
        reason: str,
    ) -> None:
        """Plan (``write=False``) or write ``rows`` (checked, keys unique) and
        fill the counts of ``report``; see :attr:`stores_itself`."""
        raise NotImplementedError

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        """The partners whose evaluation ``rows`` (written) may change; by
        default those of the rows' ``partner_id`` foreign key."""
        return {pk for row in rows if (pk := row.values.get("partner_id")) is not None}

    def build(self, row: Row) -> models.Model:
        return self.model(**row.values)

    @cached_property
    def _has_updated_at(self) -> bool:
        return any(f.name == "updated_at" for f in self.model._meta.concrete_fields)

    def write(
        self,
        created: Sequence[Row],
        updated: Sequence[tuple[Row, int]],
        *,
        user: User | None,
        now: datetime.datetime,
        reason: str,
    ) -> list[tuple[Row, models.Model]]:
        """Insert the new records and update the changed ones (given by primary
        key), in bulk and with history rows; returns what was written."""
        history = {"default_user": user, "default_change_reason": reason, "default_date": now}
        new = [(row, self.build(row)) for row in created]
        if new:
            bulk_create_with_history(
                [obj for _, obj in new], self.model, batch_size=INSERT_BATCH_SIZE, **history
            )

        # Django's bulk_update() costs time per object and field, so objects
        # are grouped by the fields that really changed (usually one or two).
        changed = []
        by_fields: dict[tuple[str, ...], list[models.Model]] = defaultdict(list)
        for chunk in in_chunks(updated):
            objs = self.model._default_manager.in_bulk([pk for _, pk in chunk])
            for row, pk in chunk:
                if (obj := objs.get(pk)) is None:
                    raise ImportConflict(f"{self.model._meta.verbose_name} {pk} was deleted")
                names = [n for n, value in row.values.items() if getattr(obj, n) != value]
                for name in names:
                    setattr(obj, name, row.values[name])
                if self._has_updated_at:
                    obj.updated_at = now  # type: ignore[attr-defined]  # the model has it (checked)
                    names.append("updated_at")
                by_fields[tuple(self.model._meta.get_field(n).name for n in names)].append(obj)
                changed.append((row, obj))
        for fields, group in by_fields.items():
            bulk_update_with_history(
                group, self.model, list(fields), batch_size=UPDATE_BATCH_SIZE, **history
            )
        return [*new, *changed]


class PartnerSpec(KindSpec):
    kind = "partners"
    model = Partner
    columns = (
        "partner_id",
        "name",
        "country",
        "billing_model",
        "onboarded_on",
        "account_manager_email",
        "agreement_signed_on",
        "designations",
    )
    fields = (
        "name",
        "country",
        "billing_model",
        "onboarded_on",
        "account_manager_id",
        "agreement_signed_on",
    )
    key_fields = ("partner_id",)
    key_columns = ("partner_id",)
    notes = (
        "billing_model direct_bill or indirect_reseller (empty: indirect_reseller for a new "
        "partner, unchanged for an existing one); account_manager_email empty or the email of "
        "an active staff user; designations separated by |, by code, short name (Modern Work) or "
        "Microsoft's name (Solutions Partner for Modern Work), in any case; onboarded_on and "
        "agreement_signed_on not after today"
    )
    billing_models = choice_map(BillingModel)

    def parse(self, row: Row) -> None:
        values = row.values
        values["partner_id"] = row.mpn_id("partner_id")
        values["name"] = row.text("name", max_length=200)
        values["country"] = row.country("country")
        billing_model = row.choice("billing_model", self.billing_models, required=False)
        if billing_model:
            values["billing_model"] = billing_model
        today = self.context.today
        values["onboarded_on"] = row.date("onboarded_on", limit=ONBOARDING, today=today)
        values["agreement_signed_on"] = row.date(
            "agreement_signed_on", required=False, limit=AGREEMENT, today=today
        )
        if email := row.raw("account_manager_email"):
            row.refs["account_manager_email"] = email.lower()
        else:
            values["account_manager_id"] = None
        designations = set()
        for name in row.raw("designations").split("|"):
            if not name.strip():
                continue
            try:
                designations.add(self.context.designations.resolve(name).pk)
            except UnknownDesignation as exc:
                row.error("designations", str(exc))
        row.extra["designations"] = frozenset(designations)

    def resolve(self, rows: Sequence[Row]) -> None:
        user_model = get_user_model()
        email_field = user_model.get_email_field_name()
        wanted = sorted({email for r in rows if (email := r.refs.get("account_manager_email"))})
        users: dict[str, list[tuple[int, bool]]] = defaultdict(list)
        for chunk in in_chunks(wanted):
            matches = (
                user_model._default_manager.annotate(email_lower=Lower(email_field))
                .filter(email_lower__in=chunk)
                .values_list("email_lower", "pk", "is_staff", "is_active")
            )
            for email, pk, is_staff, is_active in matches:
                users[email].append((pk, is_staff and is_active))
        for row in rows:
            if not (email := row.refs.get("account_manager_email")):
                continue
            staff = [pk for pk, is_staff in users.get(email, []) if is_staff]
            if email not in users:
                row.error("account_manager_email", f"no user has the email {email}")
            elif not staff:
                row.error("account_manager_email", f"{email} is not an active staff user")
            elif len(staff) > 1:
                row.error("account_manager_email", f"several staff users have the email {email}")
            else:
                row.values["account_manager_id"] = staff[0]

    def existing(self, keys: set[tuple[Hashable, ...]]) -> dict[tuple, list[Stored]]:
        found = super().existing(keys)
        # designation id -> id of the link row, per existing partner
        self.links: dict[int, dict[int, int]] = defaultdict(dict)
        through = Partner.designations.through
        pks = sorted(stored["pk"] for matches in found.values() for stored in matches)
        for chunk in in_chunks(pks):
            links = through.objects.filter(partner_id__in=chunk)
            for link_id, partner_pk, designation_pk in links.values_list(
                "id", "partner_id", "designation_id"
            ):
                self.links[partner_pk][designation_pk] = link_id
        return found

    def differs(self, row: Row, stored: Stored) -> bool:
        designations = set(self.links[stored["pk"]])
        return super().differs(row, stored) or row.extra["designations"] != designations

    def write(
        self,
        created: Sequence[Row],
        updated: Sequence[tuple[Row, int]],
        *,
        user: User | None,
        now: datetime.datetime,
        reason: str,
    ) -> list[tuple[Row, models.Model]]:
        written = super().write(created, updated, user=user, now=now, reason=reason)
        self._write_designations(written, now=now)
        return written

    def _write_designations(
        self, written: Sequence[tuple[Row, models.Model]], *, now: datetime.datetime
    ) -> None:
        """Bring the designation links in line with the file, then copy them
        into the history rows just written (what simple_history does for a
        single save, but in bulk)."""
        through = Partner.designations.through
        stale: list[int] = []
        # Rows of the through model Django makes for the many-to-many field,
        # a class that exists only at run time.
        new_links: list[Any] = []
        for row, partner in written:
            current = self.links[partner.pk]
            wanted = row.extra["designations"]
            stale.extend(link for designation, link in current.items() if designation not in wanted)
            new_links.extend(
                through(partner_id=partner.pk, designation_id=designation)
                for designation in sorted(wanted - set(current))
            )
        for chunk in in_chunks(stale):
            through.objects.filter(id__in=chunk).delete()
        through.objects.bulk_create(new_links, batch_size=INSERT_BATCH_SIZE)

        history_model = Partner.history.model
        link_history_model = history_model.designations.model
        final: dict[int, dict[int, int]] = {}
        for row, partner in written:
            current = self.links[partner.pk]
            final[partner.pk] = {d: current[d] for d in row.extra["designations"] if d in current}
        for link in new_links:
            final[link.partner_id][link.designation_id] = link.pk
        history_rows: list[models.Model] = []
        for chunk in in_chunks(sorted(final)):
            snapshots = history_model.objects.filter(id__in=chunk, history_date=now)
            for history_id, partner_pk in snapshots.values_list("history_id", "id"):
                history_rows.extend(
                    link_history_model(
                        history_id=history_id,
                        id=link_id,
                        partner_id=partner_pk,
                        designation_id=designation,
                    )
                    for designation, link_id in sorted(final[partner_pk].items())
                )
        link_history_model.objects.bulk_create(history_rows, batch_size=INSERT_BATCH_SIZE)

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        partner_ids = [row.values["partner_id"] for row in rows]
        return set(Partner.objects.filter(partner_id__in=partner_ids).values_list("pk", flat=True))


class LocationSpec(KindSpec):
    kind = "locations"
    model = Location
    columns = ("location_id", "partner_id", "country", "onboarded_on")
    fields = ("country", "onboarded_on")
    key_fields = ("location_id",)
    key_columns = ("location_id",)
    also_load = ("partner_id",)
    notes = (
        "partner_id must exist; a location cannot move to another partner; onboarded_on not "
        "after today"
    )

    def parse(self, row: Row) -> None:
        row.values["location_id"] = row.mpn_id("location_id")
        if partner_id := row.mpn_id("partner_id"):
            row.refs["partner_id"] = partner_id
        row.values["country"] = row.country("country")
        row.values["onboarded_on"] = row.date(
            "onboarded_on", limit=ONBOARDING, today=self.context.today
        )

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="partner_id", model=Partner, attname="partner_id")

    def existing(self, keys: set[tuple[Hashable, ...]]) -> dict[tuple, list[Stored]]:
        found = super().existing(keys)
        owners = sorted({stored["partner_id"] for matches in found.values() for stored in matches})
        self.owner_ids: dict[int, str] = {}
        for chunk in in_chunks(owners):
            self.owner_ids.update(
                Partner.objects.filter(pk__in=chunk).values_list("pk", "partner_id")
            )
        return found

    def check_existing(self, row: Row, stored: Stored) -> None:
        partner_pk = row.values.get("partner_id")
        if partner_pk is not None and stored["partner_id"] != partner_pk:
            row.error(
                "partner_id",
                f"location {stored['location_id']} already belongs to partner "
                f"{self.owner_ids[stored['partner_id']]}",
            )


class ContactSpec(KindSpec):
    kind = "contacts"
    model = Contact
    columns = ("partner_id", "name", "email", "language", "receives_notices")
    fields = ("name", "email", "language", "receives_notices")
    key_fields = ("partner_id", "email")
    key_columns = ("partner_id", "email")
    lookup_fields = ("partner_id",)  # emails match in any case, so filter by partner only
    notes = (
        "one contact per partner and email (any case); language en or de; receives_notices yes/no"
    )
    languages = choice_map(Language)

    def parse(self, row: Row) -> None:
        if partner_id := row.mpn_id("partner_id"):
            row.refs["partner_id"] = partner_id
        row.values["name"] = row.text("name", max_length=200)
        row.values["email"] = row.email("email")
        row.values["language"] = row.choice("language", self.languages)
        row.values["receives_notices"] = row.flag("receives_notices")

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="partner_id", model=Partner, attname="partner_id")

    def key(self, row: Row) -> tuple[Hashable, ...] | None:
        key = super().key(row)
        return None if key is None else (key[0], str(key[1]).lower())

    def stored_key(self, stored: Stored) -> tuple[Hashable, ...]:
        return (stored["partner_id"], stored["email"].lower())

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        return set()  # no evaluation depends on contacts


class RevenueSpec(KindSpec):
    kind = "revenue"
    model = RevenueRecord
    columns = ("location_id", "date", "amount", "currency", "reference", "customer")
    key_fields = ("location_id", "reference")
    key_columns = ("location_id", "reference")
    notes = (
        "stored with source 'import'; reference is unique per location, so a re-import "
        "changes nothing; negative amounts are credits; customer may be empty; date at most "
        "the last day of next month"
    )

    #: Stored by the one revenue upsert (``partners.revenue``), like the API's
    #: lines and Partner Center files: on PostgreSQL COPY into a staging
    #: table and one merge, elsewhere the portable engine.
    stores_itself = True
    #: False: the portable engine on PostgreSQL too (the tests compare them).
    set_based: ClassVar[bool] = True

    def parse(self, row: Row) -> None:
        if location_id := row.mpn_id("location_id"):
            row.refs["location_id"] = location_id
        row.values["revenue_date"] = row.date("date", limit=REVENUE, today=self.context.today)
        row.values["amount"] = row.decimal(
            "amount", max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES
        )
        row.values["currency_id"] = row.currency("currency", self.context.revenue_currencies)
        row.values["reference"] = row.text("reference", max_length=200)
        row.values["customer"] = row.text("customer", max_length=200, required=False)
        for column in ("reference", "customer"):
            if "\x00" in row.raw(column):
                row.error(column, "contains a NUL character")

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="location_id", model=Location, attname="location_id")

    def store(
        self,
        rows: Sequence[Row],
        report: ImportReport,
        *,
        write: bool,
        user: User | None,
        reason: str,
    ) -> None:
        result = revenue_lines_upsert(
            lines=[
                RevenueLine(
                    values["location_id"],
                    values["revenue_date"],
                    values["amount"],
                    values["currency_id"],
                    values["reference"],
                    values["customer"],
                )
                for row in rows
                for values in (row.values,)
            ],
            source=RevenueSource.IMPORT,
            user=user,
            reason=reason,
            write=write,
            # An import running at the same time stored some lines first:
            # theirs stand (the same lines), ours are unchanged.
            keep_concurrent=True,
            # A lost import is imported again: it is idempotent.
            synchronous_commit=False,
            portable=not self.set_based,
        )
        report.created, report.updated, report.unchanged = (
            result.created,
            result.updated,
            result.unchanged,
        )

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        return partner_selectors.partner_pks_of_locations(row.values["location_id"] for row in rows)


class SupportContractSpec(KindSpec):
    kind = "support-contracts"
    model = SupportContract
    columns = (
        "partner_id",
        "plan_type",
        "contract_number",
        "start_date",
        "end_date",
        "paid",
        "amount",
        "currency",
    )
    fields = ("plan_type", "start_date", "end_date", "is_paid", "paid_on", "amount", "currency_id")
    key_fields = ("partner_id", "contract_number")
    key_columns = ("partner_id", "contract_number")
    notes = (
        "plan_type asfp, psfp, unified or other; paid is the date it was paid or yes/no "
        "(empty = no); amount and currency may be empty, but an amount needs a currency"
    )
    plan_types = choice_map(PlanType, advanced="asfp", premier="psfp")

    def parse(self, row: Row) -> None:
        values = row.values
        if partner_id := row.mpn_id("partner_id"):
            row.refs["partner_id"] = partner_id
        values["plan_type"] = row.choice("plan_type", self.plan_types)
        values["contract_number"] = row.text("contract_number", max_length=100)
        values["start_date"] = start = row.date("start_date")
        values["end_date"] = end = row.date("end_date")
        if start and end and end < start:
            row.error("end_date", f"the end date {end} is before the start date {start}")
        paid = row.raw("paid")
        paid_on = parse_date(paid, german=row.dialect.german_dates) if paid else None
        values["paid_on"] = paid_on
        if paid_on is not None:
            values["is_paid"] = True
        elif paid.lower() in FLAG_WORDS:
            values["is_paid"] = paid.lower() in TRUE_WORDS
        else:
            row.error("paid", f"{shown(paid)} is neither a date (paid on) nor yes or no")
        values["amount"] = amount = row.decimal(
            "amount", max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, required=False
        )
        values["currency_id"] = row.currency(
            "currency", self.context.currencies, required=amount is not None
        )

    def resolve(self, rows: Sequence[Row]) -> None:
        resolve_mpn_references(rows, column="partner_id", model=Partner, attname="partner_id")


class ExchangeRateSpec(KindSpec):
    kind = "fx-rates"
    model = ExchangeRate
    columns = ("currency", "month", "usd_per_unit")
    fields = ("usd_per_unit",)
    key_fields = ("currency_id", "month")
    key_columns = ("currency", "month")
    notes = "month YYYY-MM; usd_per_unit greater than 0 (USD itself is 1)"

    def parse(self, row: Row) -> None:
        row.values["currency_id"] = currency = row.currency("currency", self.context.currencies)
        row.values["month"] = row.month("month")
        row.values["usd_per_unit"] = rate = row.decimal(
            "usd_per_unit", max_digits=18, decimal_places=8
        )
        if rate is not None and rate <= 0:
            row.error("usd_per_unit", "must be greater than 0")
        elif rate is not None and currency == "USD" and rate != 1:
            row.error("usd_per_unit", "USD is 1 USD per unit")

    def touched_partner_pks(self, rows: Sequence[Row]) -> set[int]:
        return partner_selectors.partner_pks_with_revenue_in(
            (row.values["currency_id"], row.values["month"]) for row in rows
        )


KINDS: dict[str, type[KindSpec]] = {
    spec.kind: spec
    for spec in (
        PartnerSpec,
        LocationSpec,
        ContactSpec,
        RevenueSpec,
        SupportContractSpec,
        ExchangeRateSpec,
    )
}


def describe_kinds() -> str:
    """The kinds, their columns and what they accept (for ``--help`` and the UI)."""
    lines = ["kinds and their columns:"]
    for kind, spec in KINDS.items():
        lines.append(f"  {kind}")
        lines.append(f"      {','.join(spec.columns)}")
        lines.append(
            textwrap.fill(spec.notes, width=78, initial_indent=" " * 6, subsequent_indent=" " * 6)
        )
    return "\n".join(lines)
