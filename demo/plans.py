"""Demo data: a realistic, deterministic portfolio for local use and benchmarks.

``demo_seed`` fills an empty portal with partners, locations, contacts,
revenue, support contracts, exchange rates and the demo logins; ``demo_reset``
removes them again. The ``seed_demo`` management command is the interface.

Deterministic: every random choice comes from ``random.Random(seed)`` (each
partner from its own child generator, so chunk sizes change nothing) and every
date is relative to ``as_of``; the generator never looks at the clock. Only the
row timestamps (``created_at``) are the time of writing, as with any insert.

The scenarios are designed around the programme policies (PRODUCT section 2)
and the default of 24 months of revenue, which covers the window of the last
decided deadline of every subject:

* reseller locations: most comfortably above USD 1,000 TTM; some at risk (first
  onboarding anniversary weeks away, a few hundred dollars so far); some past a
  missed deadline (anniversary month began a few weeks before ``as_of``,
  almost no revenue); some without any revenue; a few large ones that would
  qualify for direct bill;
* direct-bill partners: most compliant (USD 100k-150k a month, paid ASfP/PSfP,
  designation, agreement); some at risk (revenue fell below USD 1M TTM, or the
  support plan expired and the renewal is unpaid, deadline weeks away); some
  past a missed deadline (one requirement missing); some simply below.

Exchange rates: one per month from the first revenue month to the as-of month
for EUR, CHF and GBP (drifting smoothly within realistic bands) and for USD at
exactly 1, so that code looking up every currency's rate finds one.

Density: by default a location has 1-4 invoice lines in a month with sales
(more for larger amounts); ``lines_per_month`` gives every such month that
many lines instead (no more lines than dollars), shaped by the same monthly
amounts: the benchmarks' data sets of millions of rows.

Writes are bulk only: on PostgreSQL ``COPY`` for every table (revenue streamed
to the server while it is generated, its secondary indexes and constraints
rebuilt once at the end, as pg_restore does), elsewhere ``bulk_create``.
Partners are generated and written in chunks, so memory stays bounded
whatever ``--partners`` says. No history rows (django-simple-history) are
written for the generated data.
"""

# ruff: noqa: S311 - pseudo-random on purpose: reproducible demo data, no secrets.
from __future__ import annotations

import bisect
import calendar
import contextlib
import datetime
import functools
import itertools
import math
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.utils import timezone

from core.bulk import LineReader, copy_from, copy_sql, copy_value
from partners.models import (
    BillingModel,
    Contact,
    Designation,
    ExchangeRate,
    Language,
    Location,
    Partner,
    PartnerStatus,
    PlanType,
    RevenueRecord,
    RevenueSource,
    SupportContract,
)

ACCOUNT_MANAGERS_GROUP = "Account managers"
DEFAULT_PASSWORD = "portal-demo"  # noqa: S105 - documented demo password (PRODUCT section 6)
# New direct-bill enrolments stopped on this day (PRODUCT section 2).
DIRECT_BILL_CUTOFF = datetime.date(2020, 10, 1)
EARLIEST_ONBOARDING = datetime.date(2014, 1, 1)
CHUNK_PARTNERS = 500
# ``lines_per_month``: the densest data set the benchmarks ask for and more.
MAX_LINES_PER_MONTH = 50
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


class DemoSeedError(Exception):
    """The demo data cannot be created (wrong settings, data present, bad sizes)."""


class DemoDataExists(DemoSeedError):
    """Partners exist already; ``demo_reset`` first."""


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    partner_id: str | None = None
    partner_name: str | None = None


@dataclass
class DemoSummary:
    as_of: datetime.date
    seed: int
    months: int
    counts: dict[str, int]
    scenarios: dict[str, int]
    logins: list[DemoLogin]
    password: str
    seconds: float = 0.0


# --- reference data ----------------------------------------------------------------

CURRENCY_BY_COUNTRY = {
    **dict.fromkeys(("DE", "AT", "NL", "FR", "BE", "LU", "IE", "IT", "ES"), "EUR"),
    "CH": "CHF",
    "LI": "CHF",
    "GB": "GBP",
}  # anything else bills in USD

# (country, weight): DACH-heavy.
COUNTRY_WEIGHTS = (
    ("DE", 34),
    ("AT", 11),
    ("CH", 11),
    ("GB", 12),
    ("NL", 8),
    ("FR", 6),
    ("US", 7),
    ("BE", 3),
    ("IE", 2),
    ("IT", 2),
    ("ES", 2),
    ("PL", 1),
    ("LU", 0.5),
    ("LI", 0.5),
)
NEIGHBOURS = {
    "DE": ("AT", "CH", "NL", "PL"),
    "AT": ("DE", "CH"),
    "CH": ("DE", "AT", "LI"),
    "LI": ("CH", "AT"),
    "GB": ("IE", "NL"),
    "IE": ("GB",),
    "NL": ("BE", "DE"),
    "BE": ("NL", "FR", "LU"),
    "LU": ("BE", "DE", "FR"),
    "FR": ("BE", "CH", "LU"),
    "US": ("GB",),
    "IT": ("CH", "AT"),
    "ES": ("FR",),
    "PL": ("DE",),
}
GERMAN_SPEAKING = frozenset({"DE", "AT", "CH", "LI"})

# USD per unit: (low, high) of a realistic band; the monthly series drifts smoothly.
RATE_BANDS = {
    "EUR": (1.05, 1.12),
    "CHF": (1.10, 1.20),
    "GBP": (1.22, 1.32),
}

_DE_PREFIXES = (
    "Alpenblick", "Nordlicht", "Bergquelle", "Donautal", "Rheinblick", "Schwarzwald",
    "Elbufer", "Isartal", "Bodensee", "Zugspitz", "Edelweiss", "Sonnenhang", "Lindenhof",
    "Falkenstein", "Adlerhorst", "Kranich", "Hansetor", "Mainufer", "Spreewald", "Weserland",
    "Tannenberg", "Eichenwald", "Ostsee", "Nordsee", "Harzblick", "Moselblick", "Neckartal",
    "Wendelstein", "Fichtelberg", "Allgäu", "Frankenwald", "Taunus", "Odenwald", "Lahntal",
    "Sternwarte", "Leuchtturm", "Brückenkopf", "Silberstreif", "Blautanne", "Feldberg",
)  # fmt: skip
_AT_PREFIXES = ("Wachau", "Tauern", "Arlberg", "Dachstein", "Semmering", "Donauwelle",
                "Kahlenberg", "Wienerwald", "Salzkammergut", "Großglockner", "Zillertal")  # fmt: skip
_CH_PREFIXES = ("Matterhorn", "Säntis", "Pilatus", "Gotthard", "Rigi", "Jungfrau", "Limmat",
                "Aare", "Engadin", "Eiger", "Seeland", "Bernina")  # fmt: skip
_DE_CORES = ("IT", "Systems", "Datentechnik", "Cloud Solutions", "Netzwerke", "Software",
             "Digital", "Consulting", "IT-Service", "EDV-Service", "Systemhaus", "Computer",
             "Technologies", "IT-Solutions", "Informationstechnik")  # fmt: skip
_DE_SURNAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Braun", "Zimmermann", "Hofmann", "Hartmann", "Krüger", "Lange", "Werner",
    "Huber", "Gruber", "Bauer", "Steiner", "Moser", "Mayer", "Keller", "Frei", "Brunner",
    "Baumann", "Gerber", "Widmer", "Vogel", "Lehmann", "Berger", "Winkler",
)  # fmt: skip
_DE_FIRST = (
    "Anna", "Lena", "Laura", "Julia", "Sarah", "Katharina", "Sabine", "Petra", "Claudia",
    "Miriam", "Johanna", "Franziska", "Lukas", "Jonas", "Felix", "Maximilian", "Tobias",
    "Stefan", "Thomas", "Michael", "Andreas", "Florian", "Matthias", "Jürgen", "Markus",
    "Sebastian", "Daniel", "Christian", "Ursula", "Reto", "Urs", "Beat", "Nina", "Martina",
)  # fmt: skip
_GB_PREFIXES = ("Thames", "Pennine", "Cotswold", "Severn", "Highland", "Albion", "Kestrel",
                "Oakridge", "Mersey", "Tyne", "Wessex", "Northgate", "Harbour", "Redbrick",
                "Ashdown", "Chiltern", "Solent", "Lakeland", "Saxon", "Kingfisher")  # fmt: skip
_US_PREFIXES = ("Bluegrass", "Cascade", "Redwood", "Lone Star", "Great Lakes", "Sierra",
                "Keystone", "Liberty", "Summit", "Granite", "Prairie", "Evergreen",
                "Magnolia", "Hudson", "Mesa", "Appalachian")  # fmt: skip
_EN_CORES = ("Cloud", "IT", "Systems", "Technology", "Networks", "Digital", "Solutions",
             "Computing", "Consulting", "IT Services", "Data")  # fmt: skip
_EN_SURNAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas",
                "Roberts", "Walker", "Wright", "Harrison", "Clarke", "Hughes", "Whitmore",
                "Bennett", "Carter", "Mitchell", "Turner", "Cooper", "Murphy", "O'Brien",
                "Kelly", "Walsh", "Miller", "Davis", "Anderson", "Johnson")  # fmt: skip
_EN_FIRST = ("Oliver", "Harry", "George", "Jack", "Emily", "Sophie", "Olivia", "Amelia",
             "James", "William", "Charlotte", "Grace", "Thomas", "Hannah", "Daniel", "Chloe",
             "Michael", "Jessica", "Ryan", "Aoife", "Sean", "Ciara", "Ethan", "Madison")  # fmt: skip
_NL_PREFIXES = ("Polder", "Zeeland", "Amstel", "Duinrand", "Tulp", "Noorderlicht", "Maas",
                "Wadden", "Molenwerf", "Veluwe", "Brabant", "Schelde", "Kempen", "Vlaanderen")  # fmt: skip
_NL_CORES = ("IT", "ICT", "Cloud", "Systemen", "Automatisering", "Digitaal", "Netwerken")
_NL_SURNAMES = ("de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Meijer",
                "de Boer", "Mulder", "Peeters", "Janssens", "Maes", "Willems", "Claes")  # fmt: skip
_NL_FIRST = ("Daan", "Sem", "Lotte", "Emma", "Sanne", "Bram", "Thijs", "Femke", "Pieter",
             "Ruben", "Anouk", "Lieke", "Wout", "Jolien")  # fmt: skip
_FR_PREFIXES = ("Azur", "Lumière", "Bretagne", "Provence", "Loire", "Alpes", "Mistral",
                "Atlantique", "Horizon", "Étoile", "Normandie", "Pyrénées", "Seine",
                "Rhône", "Moselle", "Ardennes")  # fmt: skip
_FR_CORES = ("Informatique", "Systèmes", "Cloud", "Numérique", "Réseaux", "Solutions", "Conseil")
_FR_SURNAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
                "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel")  # fmt: skip
_FR_FIRST = ("Camille", "Léa", "Manon", "Chloé", "Julie", "Hugo", "Louis", "Lucas", "Nicolas",
             "Julien", "Mathieu", "Céline", "Élodie", "Antoine")  # fmt: skip
_IE_PREFIXES = ("Liffey", "Shannon", "Emerald", "Celtic", "Burren", "Connemara", "Wicklow")
_IT_PREFIXES = ("Dolomiti", "Adriatica", "Vesuvio", "Toscana", "Laguna", "Appennino", "Etna")
_IT_CORES = ("Informatica", "Sistemi", "Cloud", "Digitale", "Reti")
_IT_SURNAMES = ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo")
_IT_FIRST = ("Giulia", "Francesca", "Chiara", "Marco", "Luca", "Alessandro", "Matteo")
_ES_PREFIXES = ("Iberia", "Mediterráneo", "Sierra Nevada", "Levante", "Cantábrico", "Meseta")
_ES_CORES = ("Sistemas", "Informática", "Cloud", "Digital", "Redes")
_ES_SURNAMES = ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez")
_ES_FIRST = ("Lucía", "María", "Carmen", "Javier", "Alejandro", "Pablo", "Sergio")
_PL_PREFIXES = ("Wisła", "Tatry", "Bałtyk", "Mazury", "Karkonosze", "Warta")
_PL_CORES = ("IT", "Systemy", "Cloud", "Informatyka", "Sieci")
_PL_SURNAMES = ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski")
_PL_FIRST = ("Anna", "Katarzyna", "Agnieszka", "Piotr", "Tomasz", "Paweł", "Marek")

# country -> (prefixes, cores, legal forms with weights, "core first" share)
NAME_PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, int], ...], float]] = {
    "DE": (_DE_PREFIXES, _DE_CORES,
           (("GmbH", 60), ("AG", 8), ("GmbH & Co. KG", 15), ("UG (haftungsbeschränkt)", 5), ("e.K.", 7)), 0.0),
    "AT": (_AT_PREFIXES + _DE_PREFIXES[:15], _DE_CORES,
           (("GmbH", 70), ("KG", 10), ("OG", 8), ("e.U.", 8), ("AG", 4)), 0.0),
    "CH": (_CH_PREFIXES + _DE_PREFIXES[:10], (*_DE_CORES, "Informatik"),
           (("AG", 55), ("GmbH", 40), ("Sàrl", 5)), 0.0),
    "LI": (_CH_PREFIXES, _DE_CORES, (("AG", 70), ("Anstalt", 30)), 0.0),
    "GB": (_GB_PREFIXES, _EN_CORES, (("Ltd", 80), ("Limited", 10), ("LLP", 5), ("plc", 5)), 0.0),
    "IE": (_IE_PREFIXES, _EN_CORES, (("Ltd", 85), ("DAC", 15)), 0.0),
    "US": (_US_PREFIXES, _EN_CORES, (("Inc.", 50), ("LLC", 40), ("Corp.", 10)), 0.0),
    "NL": (_NL_PREFIXES, _NL_CORES, (("B.V.", 95), ("N.V.", 5)), 0.0),
    "BE": (_NL_PREFIXES[-4:] + _FR_PREFIXES[-2:], _NL_CORES, (("BV", 60), ("SRL", 30), ("NV", 10)), 0.0),
    "FR": (_FR_PREFIXES, _FR_CORES, (("SAS", 60), ("SARL", 30), ("SA", 10)), 0.6),
    "LU": ((*_FR_PREFIXES[-2:], "Moselle", "Éislek"), _FR_CORES + _EN_CORES[:3],
           (("S.à r.l.", 70), ("S.A.", 30)), 0.3),
    "IT": (_IT_PREFIXES, _IT_CORES, (("S.r.l.", 80), ("S.p.A.", 20)), 0.5),
    "ES": (_ES_PREFIXES, _ES_CORES, (("S.L.", 80), ("S.A.", 20)), 0.5),
    "PL": (_PL_PREFIXES, _PL_CORES, (("sp. z o.o.", 90), ("S.A.", 10)), 0.0),
}  # fmt: skip
PEOPLE = {
    "de": (_DE_FIRST, _DE_SURNAMES),
    "en": (_EN_FIRST, _EN_SURNAMES),
    "nl": (_NL_FIRST, _NL_SURNAMES),
    "fr": (_FR_FIRST, _FR_SURNAMES),
    "it": (_IT_FIRST, _IT_SURNAMES),
    "es": (_ES_FIRST, _ES_SURNAMES),
    "pl": (_PL_FIRST, _PL_SURNAMES),
}
PEOPLE_BY_COUNTRY = {
    **dict.fromkeys(("DE", "AT", "CH", "LI"), "de"),
    **dict.fromkeys(("GB", "IE", "US"), "en"),
    **dict.fromkeys(("NL", "BE"), "nl"),
    **dict.fromkeys(("FR", "LU"), "fr"),
    "IT": "it",
    "ES": "es",
    "PL": "pl",
}
CITIES = {
    "DE": ("Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Düsseldorf",
           "Leipzig", "Dresden", "Nürnberg", "Hannover", "Bremen", "Freiburg", "Münster"),
    "AT": ("Wien", "Graz", "Linz", "Salzburg", "Innsbruck", "Klagenfurt", "St. Pölten"),
    "CH": ("Zürich", "Bern", "Basel", "Luzern", "St. Gallen", "Winterthur", "Zug"),
    "LI": ("Vaduz", "Schaan"),
    "GB": ("London", "Manchester", "Birmingham", "Leeds", "Bristol", "Glasgow", "Reading"),
    "IE": ("Dublin", "Cork", "Galway", "Limerick"),
    "US": ("Seattle", "Chicago", "Austin", "Boston", "Denver", "Atlanta", "New York"),
    "NL": ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Den Haag", "Groningen"),
    "BE": ("Brussel", "Antwerpen", "Gent", "Leuven", "Liège"),
    "FR": ("Paris", "Lyon", "Strasbourg", "Lille", "Nantes", "Toulouse", "Bordeaux"),
    "LU": ("Luxembourg", "Esch-sur-Alzette"),
    "IT": ("Milano", "Torino", "Bologna", "Bolzano", "Roma"),
    "ES": ("Madrid", "Barcelona", "Valencia", "Bilbao"),
    "PL": ("Warszawa", "Kraków", "Wrocław", "Poznań"),
}  # fmt: skip
# End-customer names for revenue lines; "{s}" a surname, "{c}" a city.
CUSTOMER_TEMPLATES = {
    "de": ("{s} Maschinenbau GmbH", "Praxis Dr. {s}", "Kanzlei {s} & {s2}", "Bäckerei {s}",
           "Autohaus {s}", "Steuerbüro {s}", "{s} Logistik GmbH", "Zahnarztpraxis {s}",
           "Landgasthof {s}", "{s} Bau GmbH", "Elektro {s}", "Stadtwerke {c}",
           "{s} Immobilien GmbH", "Architekturbüro {s}"),
    "en": ("{s} & Sons Ltd", "{s} Dental Practice", "{s} Logistics", "{c} Veterinary Clinic",
           "{s} Accountants LLP", "{s} Estate Agents", "{c} Primary School", "{s} Engineering",
           "{s} & {s2} Solicitors", "{c} Medical Centre", "{s} Construction"),
    "nl": ("{s} Bouw B.V.", "Tandartspraktijk {s}", "Advocatenkantoor {s}", "{s} Transport",
           "Gemeente {c}", "{s} Installatietechniek", "Bakkerij {s}"),
    "fr": ("Cabinet {s}", "Boulangerie {s}", "{s} Transports SARL", "Mairie de {c}",
           "Clinique {s}", "{s} & Associés", "Garage {s}"),
    "it": ("Studio {s}", "{s} Costruzioni S.r.l.", "Farmacia {s}", "Comune di {c}"),
    "es": ("Clínica {s}", "{s} Construcciones S.L.", "Asesoría {s}", "Ayuntamiento de {c}"),
    "pl": ("Kancelaria {s}", "{s} Budownictwo", "Apteka {s}", "Urząd Miasta {c}"),
}  # fmt: skip

CONTRACT_FIELDS = (
    "plan_type",
    "contract_number",
    "start_date",
    "end_date",
    "is_paid",
    "paid_on",
    "amount",
    "currency",
)
SUPPORT_LIST_PRICE_USD = {
    PlanType.ASFP: 6_000,
    PlanType.PSFP: 48_000,
    PlanType.UNIFIED: 25_000,
    PlanType.OTHER: 2_500,
}

# --- small helpers -------------------------------------------------------------------


def _month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> datetime.date:
    return datetime.date(index // 12, index % 12 + 1, 1)


def _days_in_month(index: int) -> int:
    return calendar.monthrange(index // 12, index % 12 + 1)[1]


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@functools.cache
def _table(pairs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], list[float], float]:
    keys = tuple(key for key, _ in pairs)
    cumulative = list(itertools.accumulate(weight for _, weight in pairs))
    return keys, cumulative, cumulative[-1]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    """A key of ``pairs`` ((key, weight), ...) drawn by weight."""
    keys, cumulative, total = _table(pairs)
    return keys[bisect.bisect(cumulative, rng.random() * total)]


@functools.cache
def _ascii(text: str) -> str:
    for src, dst in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ł", "l")):
        text = text.replace(src, dst).replace(src.upper(), dst.capitalize())
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


@functools.cache
def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in _ascii(text).lower())
    return "-".join(part for part in out.split("-") if part)


def _cents(value: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def _random_day(rng: random.Random, start: datetime.date, end: datetime.date) -> datetime.date:
    span = (end - start).days
    return start + datetime.timedelta(days=rng.randint(0, max(span, 0)))


# --- the plan ------------------------------------------------------------------------


@dataclass
class _LocationPlan:
    location_id: str
    name: str
    country: str
    currency: str
    onboarded_on: datetime.date
    profile: str
    # (month index, generator) -> USD for that month; None: no revenue at all.
    monthly_usd: Callable[[int, random.Random], float] | None
    is_active: bool = True
    stop_index: int | None = None  # no revenue after this month (offboarded partner)


@dataclass
class _PartnerPlan:
    partner_id: str
    name: str
    country: str
    billing_model: str
    onboarded_on: datetime.date
    profile: str
    rng: random.Random
    status: str = PartnerStatus.ACTIVE
    account_manager_id: int | None = None
    agreement_signed_on: datetime.date | None = None
    designations: list[int] = field(default_factory=list)
    locations: list[_LocationPlan] = field(default_factory=list)
    contacts: list[tuple[str, str, str, bool]] = field(default_factory=list)
    contracts: list[dict] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)


# Profiles of the first partners, so even a tiny portfolio shows every case:
# (billing model, profile, country, number of locations)
GUARANTEED = (
    (BillingModel.INDIRECT_RESELLER, "reseller_at_risk", "DE", 1),  # partner1's partner
    (BillingModel.INDIRECT_RESELLER, "reseller_strong", "GB", 2),  # partner2's partner
    (BillingModel.INDIRECT_RESELLER, "reseller_missed", "AT", 1),
    (BillingModel.DIRECT_BILL, "direct_compliant", "DE", 2),
    (BillingModel.DIRECT_BILL, "direct_at_risk_revenue", "CH", 1),
    (BillingModel.DIRECT_BILL, "direct_missed", "DE", 1),
    (BillingModel.INDIRECT_RESELLER, "reseller_no_revenue", "NL", 1),
    (BillingModel.INDIRECT_RESELLER, "reseller_typical", "US", 1),
    (BillingModel.DIRECT_BILL, "direct_at_risk_support", "GB", 1),
    (BillingModel.INDIRECT_RESELLER, "reseller_large", "DE", 3),
    (BillingModel.INDIRECT_RESELLER, "reseller_small", "CH", 1),
)
RESELLER_PROFILES = (
    ("reseller_strong", 34),
    ("reseller_typical", 30),
    ("reseller_small", 12),
    ("reseller_at_risk", 8),
    ("reseller_missed", 6),
    ("reseller_no_revenue", 4),
    ("reseller_new", 4),
    ("reseller_large", 2),
)
# Further locations of a reseller: the scenario profiles only where the
# partner's own onboarding date allows it (see _reseller_location).
EXTRA_LOCATION_PROFILES = (
    ("reseller_strong", 35),
    ("reseller_typical", 35),
    ("reseller_small", 15),
    ("reseller_at_risk", 5),
    ("reseller_missed", 5),
    ("reseller_no_revenue", 5),
)
# What the summary calls each scenario, in the order it lists them.
SCENARIO_LABELS = {
    "reseller_strong": "reseller locations selling USD 2,500-12,000 a month",
    "reseller_typical": "reseller locations selling USD 600-2,500 a month",
    "reseller_small": "reseller locations selling USD 150-400 a month",
    "reseller_large": "reseller locations selling USD 80k-160k a month (direct-bill ready)",
    "reseller_new": "reseller locations onboarded in the last five months",
    "reseller_at_risk": "reseller locations at risk: under USD 1,000, first anniversary in weeks",
    "reseller_missed": "reseller locations that missed their anniversary a few weeks ago",
    "reseller_no_revenue": "reseller locations without any revenue",
    "direct_compliant": "direct-bill partners meeting every requirement",
    "direct_at_risk_revenue": "direct-bill partners at risk: revenue fell below USD 1M",
    "direct_at_risk_support": "direct-bill partners at risk: support plan expired, renewal unpaid",
    "direct_missed": "direct-bill partners that missed their anniversary (a requirement short)",
    "direct_below": "direct-bill partners well below USD 1M",
    "partner_suspended": "suspended partners",
    "partner_offboarded": "offboarded partners (locations inactive)",
}
DIRECT_PROFILES = (
    ("direct_compliant", 55),
    ("direct_at_risk_revenue", 10),
    ("direct_at_risk_support", 10),
    ("direct_missed", 15),
    ("direct_below", 10),
)


class _Generator:
    """Plans partners one at a time from per-partner random generators."""

    def __init__(
        self,
        *,
        seed: int,
        as_of: datetime.date,
        months: int,
        account_manager_ids: list[int],
        designation_ids: list[int],
        lines_per_month: int | None = None,
    ) -> None:
        self.master = random.Random(seed)
        # None: 1-4 invoice lines a month by amount (the default data set);
        # a number: that many lines in every month with sales (benchmarks).
        self.lines_per_month = lines_per_month
        self.ids_rng = random.Random(self.master.getrandbits(64))
        self.names_rng = random.Random(self.master.getrandbits(64))
        self.rates_rng = random.Random(self.master.getrandbits(64))
        self.as_of = as_of
        self.last_day = as_of - datetime.timedelta(days=1)  # revenue up to the day before
        self.last_index = _month_index(self.last_day)
        self.first_index = self.last_index - months + 1
        self.rate_indices = range(self.first_index, max(self.last_index, _month_index(as_of)) + 1)
        self.account_manager_ids = account_manager_ids
        self.designation_ids = designation_ids
        self.used_ids: set[str] = set()
        self.used_names: set[str] = set()
        self.rates = self._rates()
        self.float_rates = {
            code: {index: float(value) for index, value in series.items()}
            for code, series in self.rates.items()
        }
        self.month_keys = {
            index: f"{index // 12:04d}{index % 12 + 1:02d}" for index in self.rate_indices
        }
        # Precomputed ISO dates per revenue month (the revenue loop is the hot path).
        self.month_days = {
            index: [
                _month_start(index).replace(day=d).isoformat()
                for d in range(1, _days_in_month(index) + 1)
            ]
            for index in range(self.first_index, self.last_index + 1)
        }

    # -- exchange rates

    def _rates(self) -> dict[str, dict[int, Decimal]]:
        rates: dict[str, dict[int, Decimal]] = {"USD": dict.fromkeys(self.rate_indices, Decimal(1))}
        for code, (low, high) in RATE_BANDS.items():
            rng = self.rates_rng
            mid, amp = (low + high) / 2, (high - low) / 2
            period = rng.uniform(20, 40)
            phase = rng.uniform(0, 2 * math.pi)
            walk = 0.0
            series = {}
            for index in self.rate_indices:
                walk = max(-0.25, min(0.25, walk + rng.gauss(0, 0.06)))
                value = mid + amp * (0.7 * math.sin(2 * math.pi * index / period + phase) + walk)
                value = max(low, min(high, value))
                series[index] = Decimal(f"{value:.4f}")
            rates[code] = series
        return rates

    def usd_per_unit(self, currency: str, index: int) -> float:
        return self.float_rates[currency][index]

    # -- identifiers and names

    def new_id(self) -> str:
        while True:
            candidate = str(self.ids_rng.randrange(10_000_000_000, 100_000_000_000))
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate

    def partner_name(self, rng: random.Random, country: str) -> str:
        prefixes, cores, forms, core_first = NAME_PARTS[country]
        people = PEOPLE[PEOPLE_BY_COUNTRY[country]][1]
        for attempt in range(8):
            form = _weighted(rng, forms)
            if rng.random() < 0.15:
                base = f"{rng.choice(people)} {rng.choice(cores)}"
                if rng.random() < 0.4:
                    one, two = rng.sample(people, 2)
                    base = f"{one} & {two} {rng.choice(cores)}"
            elif rng.random() < core_first:
                base = f"{rng.choice(cores)} {rng.choice(prefixes)}"
            else:
                base = f"{rng.choice(prefixes)} {rng.choice(cores)}"
            if attempt >= 4:
                base = f"{base} {rng.choice(CITIES[country])}"
            name = f"{base[0].upper()}{base[1:]} {form}"  # "de Vries IT" -> "De Vries IT"
            if name not in self.used_names:
                break
        else:
            name = f"{base} {len(self.used_names)} {form}"
        self.used_names.add(name)
        return name

    # -- dates

    def past_onboarding(self, rng: random.Random) -> datetime.date:
        years = _weighted(rng, (("0-1", 10), ("1-3", 35), ("3-6", 35), ("6-10", 20)))
        low, high = (float(x) for x in years.split("-"))
        low = max(low, 0.2)
        day = self.as_of - datetime.timedelta(days=int(365.25 * rng.uniform(low, high)))
        return max(day, EARLIEST_ONBOARDING)

    def direct_onboarding(self, rng: random.Random) -> datetime.date:
        latest = min(DIRECT_BILL_CUTOFF - datetime.timedelta(days=1), _add_years(self.as_of, -1))
        earliest = min(EARLIEST_ONBOARDING, _add_years(latest, -3))
        return _random_day(rng, earliest, latest)

    def upcoming_deadline(self, rng: random.Random) -> datetime.date:
        """The first day of a month two to ten weeks after as_of."""
        candidates = []
        for ahead in (1, 2, 3):
            start = _month_start(_month_index(self.as_of) + ahead)
            if 14 <= (start - self.as_of).days <= 70:
                candidates.append(start)
        return rng.choice(candidates)

    def recent_deadline(self, rng: random.Random) -> datetime.date:
        """The first day of a month one to six weeks before as_of."""
        candidates = []
        for back in (0, 1):
            start = _month_start(_month_index(self.as_of) - back)
            if 7 <= (self.as_of - start).days <= 45:
                candidates.append(start)
        return rng.choice(candidates)

    def onboarding_for_anniversary(
        self,
        rng: random.Random,
        deadline: datetime.date,
        *,
        earliest: datetime.date,
        latest: datetime.date,
        years: Iterable[int],
    ) -> datetime.date | None:
        """A day in the anniversary month of ``deadline`` some years earlier."""
        options = []
        for n in years:
            start = _add_years(deadline, -n)
            end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
            start, end = max(start, earliest), min(end, latest)
            if start <= end:
                options.append((start, end))
        if not options:
            return None
        start, end = rng.choice(options)
        return _random_day(rng, start, end)

    # -- revenue shapes (USD per month)

    def steady(self, rng: random.Random, low: float, high: float, noise: float = 0.2):
        base = math.exp(rng.uniform(math.log(low), math.log(high)))
        trend = rng.uniform(-0.008, 0.015)
        season = rng.uniform(0.0, 0.12)
        offset = self.last_index
        return lambda i, r: (
            base
            * (1 + trend) ** (i - offset)
            * (1 + season * math.sin(2 * math.pi * i / 12))
            * r.uniform(1 - noise, 1 + noise)
        )

    @staticmethod
    def flat(base: float, noise: float):
        return lambda i, r: base * r.uniform(1 - noise, 1 + noise)

    # -- partners

    def plan_partner(self, number: int) -> _PartnerPlan:
        rng = random.Random(self.master.getrandbits(64))
        if number < len(GUARANTEED):
            billing_model, profile, country, n_locations = GUARANTEED[number]
        else:
            billing_model = (
                BillingModel.DIRECT_BILL if rng.random() < 0.09 else BillingModel.INDIRECT_RESELLER
            )
            profiles = (
                DIRECT_PROFILES if billing_model == BillingModel.DIRECT_BILL else RESELLER_PROFILES
            )
            profile = _weighted(rng, profiles)
            country = _weighted(rng, COUNTRY_WEIGHTS)
            n_locations = int(_weighted(rng, (("1", 62), ("2", 26), ("3", 12))))
            if profile in ("reseller_at_risk", "reseller_missed", "reseller_new"):
                n_locations = 1  # a newcomer or a struggling single-site reseller
        plan = _PartnerPlan(
            partner_id=self.new_id(),
            name=self.partner_name(self.names_rng, country),
            country=country,
            billing_model=billing_model,
            onboarded_on=self.as_of,
            profile=profile,
            rng=rng,
        )
        if number >= len(GUARANTEED):
            plan.status = _weighted(
                rng,
                (
                    (PartnerStatus.ACTIVE, 97),
                    (PartnerStatus.SUSPENDED, 2),
                    (PartnerStatus.OFFBOARDED, 1),
                ),
            )
        if billing_model == BillingModel.DIRECT_BILL:
            self._plan_direct(rng, plan, n_locations)
        else:
            # partner2's partner (number 1) is established and compliant everywhere.
            self._plan_reseller(rng, plan, n_locations, established=number == 1)
        self._plan_contacts(rng, plan, at_least_one=number < len(GUARANTEED))
        plan.customers = self._customers(rng, country)
        if self.account_manager_ids:
            # partner1's and partner2's partners belong to ``manager`` (index 0).
            am_index = 0 if number < 2 else number % len(self.account_manager_ids)
            plan.account_manager_id = self.account_manager_ids[am_index]
        if plan.status == PartnerStatus.OFFBOARDED:
            stop = self.last_index - rng.randint(2, 10)
            for location in plan.locations:
                location.is_active = False
                location.stop_index = stop
        return plan

    def _location(
        self,
        rng: random.Random,
        plan: _PartnerPlan,
        profile: str,
        onboarded_on: datetime.date,
        monthly_usd,
        *,
        first: bool,
    ) -> _LocationPlan:
        country = plan.country
        if not first and rng.random() < 0.3:
            country = rng.choice(NEIGHBOURS.get(plan.country, (plan.country,)))
        short = plan.name.split(" ")[0]
        location = _LocationPlan(
            location_id=self.new_id(),
            name=f"{short} {rng.choice(CITIES[country])}",
            country=country,
            currency=CURRENCY_BY_COUNTRY.get(country, "USD"),
            onboarded_on=onboarded_on,
            profile=profile,
            monthly_usd=monthly_usd,
        )
        plan.locations.append(location)
        return location

    def _reseller_location(
        self,
        rng: random.Random,
        plan: _PartnerPlan,
        profile: str,
        *,
        first: bool,
        established: bool = False,
    ) -> None:
        as_of = self.as_of
        earliest = EARLIEST_ONBOARDING if first else plan.onboarded_on
        latest = as_of - datetime.timedelta(days=400 if established else 30)
        onboarded: datetime.date | None = None
        if profile == "reseller_at_risk":
            # First anniversary weeks away; a slow start: USD 20-60 a month.
            deadline = self.upcoming_deadline(rng)
            onboarded = self.onboarding_for_anniversary(
                rng, deadline, earliest=earliest, latest=latest, years=[1]
            )
            shape = self.flat(rng.uniform(20, 60), 0.25)
        elif profile == "reseller_missed":
            # The anniversary month began a few weeks ago; next to nothing sold.
            deadline = self.recent_deadline(rng)
            onboarded = self.onboarding_for_anniversary(
                rng, deadline, earliest=earliest, latest=latest, years=range(1, 6)
            )

            def shape(i, r):
                return r.uniform(15, 60) if r.random() < 0.15 else 0.0

        elif profile == "reseller_new":
            onboarded = as_of - datetime.timedelta(days=rng.randint(20, 150))
            shape = self.flat(rng.uniform(50, 300), 0.3)
        elif profile == "reseller_no_revenue":
            shape = None
        elif profile == "reseller_large":
            shape = self.steady(rng, 80_000, 160_000, 0.1)
        elif profile == "reseller_strong":
            shape = self.steady(rng, 2_500, 12_000)
        elif profile == "reseller_typical":
            shape = self.steady(rng, 600, 2_500)
        else:  # reseller_small: USD 110-400 a month, still above USD 1,000 a year
            profile = "reseller_small"
            shape = self.steady(rng, 150, 400, 0.15)
        if onboarded is None:
            if profile in ("reseller_at_risk", "reseller_missed"):
                # The dates do not fit this partner's history: an ordinary location.
                profile = "reseller_typical"
                shape = self.steady(rng, 600, 2_500)
            if first:
                onboarded = min(self.past_onboarding(rng), latest)
            else:
                onboarded = _random_day(rng, plan.onboarded_on, max(plan.onboarded_on, latest))
        if first:
            plan.onboarded_on = onboarded
        self._location(rng, plan, profile, onboarded, shape, first=first)

    def _plan_reseller(
        self, rng: random.Random, plan: _PartnerPlan, n_locations: int, *, established: bool
    ) -> None:
        self._reseller_location(rng, plan, plan.profile, first=True, established=established)
        for _ in range(n_locations - 1):
            if plan.profile == "reseller_large" or established:
                extra = plan.profile
            else:
                extra = _weighted(rng, EXTRA_LOCATION_PROFILES)
            self._reseller_location(rng, plan, extra, first=False, established=established)
        if plan.profile == "reseller_large":
            signed_from = max(plan.onboarded_on, datetime.date(2019, 3, 1))
            plan.agreement_signed_on = _random_day(
                rng, signed_from, max(signed_from, self.last_day)
            )
            if self.designation_ids and rng.random() < 0.5:
                plan.designations = rng.sample(self.designation_ids, 1)

    def _plan_direct(self, rng: random.Random, plan: _PartnerPlan, n_locations: int) -> None:
        as_of = self.as_of
        profile = plan.profile
        latest = min(DIRECT_BILL_CUTOFF - datetime.timedelta(days=1), _add_years(as_of, -1))
        missing = None
        deadline = None
        if profile.startswith("direct_at_risk"):
            deadline = self.upcoming_deadline(rng)
        elif profile == "direct_missed":
            deadline = self.recent_deadline(rng)
            missing = _weighted(
                rng, (("revenue", 35), ("designation", 25), ("agreement", 15), ("support", 25))
            )
            if missing == "designation" and not self.designation_ids:
                missing = "revenue"
        onboarded = None
        if deadline is not None:
            onboarded = self.onboarding_for_anniversary(
                rng,
                deadline,
                earliest=min(EARLIEST_ONBOARDING, latest),
                latest=latest,
                years=range(1, 14),
            )
        plan.onboarded_on = onboarded or self.direct_onboarding(rng)

        # Revenue of the whole partner per month, shared between its locations.
        if profile == "direct_compliant" or missing in ("designation", "agreement"):
            total = self.flat(rng.uniform(100_000, 150_000), 0.08)
        elif profile == "direct_at_risk_support":
            total = self.flat(rng.uniform(100_000, 140_000), 0.08)
        elif profile == "direct_at_risk_revenue":
            # Sales fell below the threshold since the last (met) deadline.
            high = rng.uniform(100_000, 110_000)
            low = rng.uniform(45_000, 60_000)
            turn = _month_index(deadline) - 12

            def total(i, r, high=high, low=low, turn=turn):
                return (high if i < turn else low) * r.uniform(0.95, 1.05)

        elif missing == "revenue":
            total = self.flat(rng.uniform(50_000, 75_000), 0.05)
        elif missing == "support":
            total = self.flat(rng.uniform(95_000, 140_000), 0.05)
        else:  # direct_below: USD 30k-60k a month
            total = self.flat(rng.uniform(30_000, 60_000), 0.15)
        weights = [rng.uniform(0.5, 1.0) for _ in range(n_locations)]
        share_sum = sum(weights)
        for n, weight in enumerate(weights):
            share = weight / share_sum

            def shape(i, r, share=share):
                return total(i, r) * share

            # Further locations joined early enough to count in full for the
            # last deadline's window (24 months).
            onboarded_on = plan.onboarded_on
            if n:
                last = min(_add_years(plan.onboarded_on, 4), _add_years(as_of, -2))
                onboarded_on = _random_day(rng, plan.onboarded_on, max(plan.onboarded_on, last))
            self._location(rng, plan, profile, onboarded_on, shape, first=n == 0)

        if missing != "agreement":
            signed_from = max(plan.onboarded_on, datetime.date(2019, 3, 1))
            plan.agreement_signed_on = min(
                _random_day(rng, signed_from, signed_from + datetime.timedelta(days=540)),
                as_of - datetime.timedelta(days=1),
            )
        if self.designation_ids and missing != "designation" and profile != "direct_below":
            plan.designations = rng.sample(
                self.designation_ids, min(len(self.designation_ids), rng.choice((1, 1, 2, 3)))
            )
        elif self.designation_ids and profile == "direct_below" and rng.random() < 0.5:
            plan.designations = rng.sample(self.designation_ids, 1)
        self._plan_support(rng, plan, missing=missing, deadline=deadline)

    def _contract(
        self,
        rng: random.Random,
        plan: _PartnerPlan,
        plan_type: str,
        start: datetime.date,
        *,
        paid: bool,
    ) -> None:
        end = _add_years(start, 1) - datetime.timedelta(days=1)
        currency = CURRENCY_BY_COUNTRY.get(plan.country, "USD")
        rate = self.usd_per_unit(currency, self.rate_indices[-1])
        price = SUPPORT_LIST_PRICE_USD[plan_type] * rng.uniform(0.95, 1.3) / rate
        numbers = {c["contract_number"] for c in plan.contracts}
        while True:
            number = f"{plan_type.upper()}-{start.year}-{rng.randrange(100_000, 1_000_000)}"
            if number not in numbers:
                break
        paid_on = None
        if paid:
            # Paid ahead of the term: a renewal counts from its first day (a
            # plan paid only after a deadline does not meet it).
            paid_on = min(start - datetime.timedelta(days=rng.randint(0, 25)), self.last_day)
        plan.contracts.append(
            {
                "plan_type": plan_type,
                "contract_number": number,
                "start_date": start,
                "end_date": end,
                "is_paid": paid,
                "paid_on": paid_on,
                "amount": Decimal(round(price, -1)).quantize(Decimal("0.01")),
                "currency": currency,
            }
        )

    def _plan_support(
        self,
        rng: random.Random,
        plan: _PartnerPlan,
        *,
        missing: str | None,
        deadline: datetime.date | None,
    ) -> None:
        as_of = self.as_of
        qualifying = _weighted(rng, ((PlanType.ASFP, 75), (PlanType.PSFP, 25)))
        if plan.profile == "direct_at_risk_support":
            # Paid term expired a few weeks ago, renewal recorded but unpaid.
            end = as_of - datetime.timedelta(days=rng.randint(5, 40))
            start = _add_years(end + datetime.timedelta(days=1), -1)
            self._contract(rng, plan, qualifying, _add_years(start, -1), paid=True)
            self._contract(rng, plan, qualifying, start, paid=True)
            self._contract(rng, plan, qualifying, end + datetime.timedelta(days=1), paid=False)
        elif missing == "support":
            # Lapsed before the deadline: either not renewed at all, or only a
            # non-qualifying Unified contract is current.
            assert deadline is not None  # noqa: S101 - set for direct_missed
            end = deadline - datetime.timedelta(days=rng.randint(20, 120))
            start = _add_years(end + datetime.timedelta(days=1), -1)
            self._contract(rng, plan, qualifying, _add_years(start, -1), paid=True)
            self._contract(rng, plan, qualifying, start, paid=True)
            if rng.random() < 0.5:
                self._contract(
                    rng, plan, PlanType.UNIFIED, end + datetime.timedelta(days=1), paid=True
                )
        elif plan.profile == "direct_below" and rng.random() < 0.4:
            start = as_of - datetime.timedelta(days=rng.randint(400, 700))
            self._contract(rng, plan, qualifying, start, paid=True)  # expired, not renewed
        else:
            # Current paid term plus the term it renewed: continuous cover.
            start = as_of - datetime.timedelta(days=rng.randint(10, 350))
            self._contract(rng, plan, qualifying, _add_years(start, -1), paid=True)
            self._contract(rng, plan, qualifying, start, paid=True)
            if rng.random() < 0.15:
                extra = rng.choice((PlanType.UNIFIED, PlanType.OTHER))
                self._contract(rng, plan, extra, start + datetime.timedelta(days=30), paid=True)

    def _plan_contacts(self, rng: random.Random, plan: _PartnerPlan, *, at_least_one: bool) -> None:
        count = int(_weighted(rng, (("0", 6), ("1", 45), ("2", 35), ("3", 14))))
        if at_least_one:
            count = max(count, 1)
        firsts, lasts = PEOPLE[PEOPLE_BY_COUNTRY[plan.country]]
        domain = "-".join(_slug(plan.name).split("-")[:2]) + ".example"
        emails = set()
        for n in range(count):
            first, last = rng.choice(firsts), rng.choice(lasts)
            local = f"{_slug(first)}.{_slug(last).replace('-', '')}"
            email = f"{local}@{domain}"
            if email in emails:
                email = f"{local}{n}@{domain}"
            emails.add(email)
            language = Language.ENGLISH
            if plan.country in GERMAN_SPEAKING and rng.random() < 0.93:
                language = Language.GERMAN
            receives = n == 0 or rng.random() < 0.7
            if n == 0 and rng.random() < 0.05 and count > 1:
                receives = False
            plan.contacts.append((f"{first} {last}", email, language, receives))

    def _customers(self, rng: random.Random, country: str) -> list[str]:
        group = PEOPLE_BY_COUNTRY[country]
        templates = CUSTOMER_TEMPLATES[group]
        surnames = PEOPLE[group][1]
        cities = CITIES[country]
        customers = []
        for _ in range(rng.randint(3, 12)):
            template = rng.choice(templates)
            customers.append(
                template.format(
                    s=rng.choice(surnames), s2=rng.choice(surnames), c=rng.choice(cities)
                )
            )
        return customers

    # -- revenue

    def revenue_lines(
        self, plan: _PartnerPlan, location: _LocationPlan
    ) -> Iterator[tuple[str, str, str, str, str]]:
        """(date, amount, currency, reference, customer) for one location.

        The hot path of a large seed: plain ``random()`` draws, no helpers."""
        shape = location.monthly_usd
        if shape is None:
            return
        rng = plan.rng
        draw = rng.random
        currency = location.currency
        rates = self.float_rates[currency]
        customers = plan.customers
        n_customers = len(customers)
        onboarded = location.onboarded_on
        onboarded_index = _month_index(onboarded)
        start = max(self.first_index, onboarded_index)
        stop = self.last_index if location.stop_index is None else location.stop_index
        density = self.lines_per_month
        for index in range(start, stop + 1):
            usd = shape(index, rng)
            if usd <= 0:
                continue
            days = self.month_days[index]
            low = onboarded.day if index == onboarded_index else 1
            high = self.last_day.day if index == self.last_index else len(days)
            if low > high:
                continue
            span = high - low + 1
            base = low - 1
            total = round(usd * 100 / rates[index])
            if total <= 0:
                continue
            invoice = f"INV-{self.month_keys[index]}-{location.location_id}-"
            if density is not None:
                lines = max(1, min(density, total // 100))  # no more lines than dollars
            elif total < 10_000:
                lines = 1
            else:
                r = draw()
                lines = 1 if r < 0.35 else 2 if r < 0.65 else 3 if r < 0.85 else 4
            if lines == 1:
                amounts = [total]
            else:
                weights = [0.3 + 0.7 * draw() for _ in range(lines)]
                weight_sum = sum(weights)
                amounts = [round(total * w / weight_sum) for w in weights[:-1]]
                amounts.append(total - sum(amounts))
            for n, amount in enumerate(amounts, 1):
                yield (
                    days[base + int(draw() * span)],
                    _cents(amount),
                    currency,
                    f"{invoice}{n}",
                    customers[int(draw() * n_customers)],
                )
            if total >= 20_000 and draw() < 0.02:
                # A credit note: part of an earlier invoice refunded.
                yield (
                    days[base + int(draw() * span)],
                    _cents(-round(total * (0.03 + 0.17 * draw()))),
                    currency,
                    f"CN-{self.month_keys[index]}-{location.location_id}-1",
                    customers[int(draw() * n_customers)],
                )


# --- writing -------------------------------------------------------------------------
#
# PostgreSQL: COPY for every table (ids taken from the tables' sequences
# first, so foreign keys can be filled in without a round trip per row).
# Other databases: bulk_create.

COPY_BATCH_ROWS = 50_000


def _copy(model: type[models.Model], fields: Iterable[str], lines: Iterable[str]) -> None:
    """COPY tab-separated text lines into ``model``'s table, streaming."""
    copy_from(copy_sql(model, list(fields)), LineReader(lines))


def _next_ids(model: type[models.Model], count: int) -> list[int]:
    opts = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [opts.db_table, opts.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _insert(
    model: type[models.Model], fields: tuple[str, ...], rows: list[tuple], *, ids: bool = False
) -> list[int]:
    """Insert ``rows`` (values in the order of ``fields``; foreign keys as
    ids) and return the new primary keys when ``ids`` is true."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        new_ids: list[int] = []
        if ids:
            new_ids = _next_ids(model, len(rows))
            fields = (model._meta.pk.name, *fields)
            rows = [(pk, *row) for pk, row in zip(new_ids, rows, strict=True)]
        _copy(model, fields, ("\t".join(map(copy_value, row)) + "\n" for row in rows))
        return new_ids
    attnames = [model._meta.get_field(name).attname for name in fields]
    objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
    model._base_manager.bulk_create(objs, batch_size=1_000)
    return [obj.pk for obj in objs]


_CONSTRAINTS_SQL = """
    SELECT c.conname, pg_get_constraintdef(c.oid)
    FROM pg_constraint c
    WHERE c.conrelid = %s::regclass AND c.contype IN ('u', 'f')
      AND NOT EXISTS (  -- a unique key that a foreign key elsewhere relies on stays
        SELECT 1 FROM pg_constraint f
        WHERE f.contype = 'f' AND c.contype = 'u' AND f.conindid = c.conindid
      )
    ORDER BY c.contype DESC, c.conname
"""
_INDEXES_SQL = """
    SELECT i.relname, pg_get_indexdef(i.oid)
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
      AND NOT EXISTS (
        SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid
      )
    ORDER BY i.relname
"""


@contextlib.contextmanager
def _postgres_bulk_load(model: type[models.Model]) -> Iterator[None]:
    """Load an empty table the way pg_restore does: drop its secondary indexes,
    unique and foreign-key constraints, let the caller COPY, then re-create
    them (building an index once is several times faster than maintaining it
    row by row, and one validation query beats a trigger per row). Everything
    happens in the caller's transaction: on any error it all rolls back."""
    table = model._meta.db_table
    quote = connection.ops.quote_name
    # ALTER TABLE refuses to run while deferred foreign-key checks are pending
    # on the tables involved: run them now (Django's loaddata does the same).
    connection.check_constraints()
    with connection.cursor() as cursor:
        cursor.execute(_CONSTRAINTS_SQL, [table])
        constraints = cursor.fetchall()
        cursor.execute(_INDEXES_SQL, [table])
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")
    yield
    connection.check_constraints()
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in reversed(constraints):  # unique keys before foreign keys
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute(_CONSTRAINTS_SQL, [table])
        restored = cursor.fetchall()
        cursor.execute(_INDEXES_SQL, [table])
        if sorted(restored) != sorted(constraints) or cursor.fetchall() != indexes:
            raise RuntimeError(f"Could not restore the indexes and constraints of {table}.")


REVENUE_FIELDS = (
    "location",
    "revenue_date",
    "amount",
    "currency",
    "source",
    "reference",
    "customer",
    "created_at",
)


def _write_revenue(
    gen: _Generator, plans: list[_PartnerPlan], location_ids: list[int], now: datetime.datetime
) -> int:
    """Generate and write the revenue of ``plans``; returns the number of rows."""
    source = RevenueSource.IMPORT.value
    written = 0

    def rows() -> Iterator[tuple]:
        nonlocal written
        location_pks = iter(location_ids)
        for plan in plans:
            for loc in plan.locations:
                pk = next(location_pks)
                for line in gen.revenue_lines(plan, loc):
                    written += 1
                    yield pk, line

    if connection.vendor == "postgresql":
        stamp = now.isoformat()
        _copy(
            RevenueRecord,
            REVENUE_FIELDS,
            (
                f"{pk}\t{day}\t{amount}\t{currency}\t{source}\t{reference}\t{customer}\t{stamp}\n"
                for pk, (day, amount, currency, reference, customer) in rows()
            ),
        )
    else:
        batch: list[tuple] = []
        for pk, (day, amount, currency, reference, customer) in rows():
            day, amount = datetime.date.fromisoformat(day), Decimal(amount)
            batch.append((pk, day, amount, currency, source, reference, customer, now))
            if len(batch) >= COPY_BATCH_ROWS:
                _insert(RevenueRecord, REVENUE_FIELDS, batch)
                batch = []
        _insert(RevenueRecord, REVENUE_FIELDS, batch)
    return written


def _write_chunk(gen: _Generator, plans: list[_PartnerPlan], now: datetime.datetime) -> int:
    """Write ``plans`` and their revenue; returns the number of revenue rows."""
    partner_ids = _insert(
        Partner,
        (
            "partner_id",
            "name",
            "country",
            "billing_model",
            "onboarded_on",
            "account_manager",
            "agreement_signed_on",
            "status",
            "created_at",
            "updated_at",
        ),
        [
            (
                p.partner_id,
                p.name,
                p.country,
                p.billing_model,
                p.onboarded_on,
                p.account_manager_id,
                p.agreement_signed_on,
                p.status,
                now,
                now,
            )
            for p in plans
        ],
        ids=True,
    )
    pairs = list(zip(partner_ids, plans, strict=True))
    _insert(
        Partner.designations.through,
        ("partner", "designation"),
        [(pk, designation) for pk, plan in pairs for designation in plan.designations],
    )
    location_ids = _insert(
        Location,
        (
            "location_id",
            "partner",
            "name",
            "country",
            "onboarded_on",
            "is_active",
            "created_at",
            "updated_at",
        ),
        [
            (loc.location_id, pk, loc.name, loc.country, loc.onboarded_on, loc.is_active, now, now)
            for pk, plan in pairs
            for loc in plan.locations
        ],
        ids=True,
    )
    _insert(
        Contact,
        ("partner", "name", "email", "language", "receives_notices", "created_at", "updated_at"),
        [(pk, *contact, now, now) for pk, plan in pairs for contact in plan.contacts],
    )
    _insert(
        SupportContract,
        (*CONTRACT_FIELDS, "partner", "created_at", "updated_at"),
        [
            (*(contract[name] for name in CONTRACT_FIELDS), pk, now, now)
            for pk, plan in pairs
            for contract in plan.contracts
        ],
    )
    return _write_revenue(gen, plans, location_ids, now)


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


def _demo_users(*, password: str, partners: int) -> tuple[dict[str, models.Model], list]:
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
        # Name and email come from the bound contact (see demo_seed).
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


def _bind_partner_login(user, plan: _PartnerPlan) -> None:
    contact = Contact.objects.filter(partner__partner_id=plan.partner_id).order_by("pk").first()
    contact.user = user
    contact.save(update_fields=["user"])
    first, _, last = contact.name.partition(" ")
    user.first_name, user.last_name, user.email = first, last, contact.email
    user.save(update_fields=["first_name", "last_name", "email"])


# --- the interface -------------------------------------------------------------------

DEMO_MODELS = (Partner, Location, Contact, RevenueRecord, SupportContract, ExchangeRate)


@transaction.atomic
def demo_seed(
    *,
    partners: int,
    months: int,
    seed: int,
    as_of: datetime.date,
    password: str = DEFAULT_PASSWORD,
    progress: Callable[[str], None] | None = None,
    lines_per_month: int | None = None,
) -> DemoSummary:
    """Fill an empty portal with demo data for ``as_of`` and create the demo
    logins. Raises ``DemoSeedError`` when settings forbid demo logins, when
    partners exist already (``demo_reset`` first) or for nonsensical sizes."""
    if not settings.PORTAL_ALLOW_DEMO_USERS:
        raise DemoSeedError(
            "Production settings refuse to create demo logins (PORTAL_ALLOW_DEMO_USERS is "
            "off); demo data is for development and test databases only."
        )
    if partners < 2:
        raise DemoSeedError("Use at least 2 partners: partner1 and partner2 need one each.")
    if not 1 <= months <= 120:
        raise DemoSeedError("Use between 1 and 120 months of revenue.")
    if not password:
        raise DemoSeedError("The demo password must not be empty.")
    if lines_per_month is not None and not 1 <= lines_per_month <= MAX_LINES_PER_MONTH:
        raise DemoSeedError(
            f"Use between 1 and {MAX_LINES_PER_MONTH} revenue lines per location and month."
        )
    existing = Partner.objects.count()
    if existing:
        raise DemoDataExists(
            f"The database already holds {existing:,} {'partner' if existing == 1 else 'partners'}; "
            "demo data only goes into an empty portal."
        )
    started = time.monotonic()
    logins, account_managers = _demo_users(password=password, partners=partners)
    gen = _Generator(
        seed=seed,
        as_of=as_of,
        months=months,
        account_manager_ids=[user.pk for user in account_managers],
        designation_ids=list(Designation.objects.order_by("code").values_list("pk", flat=True)),
        lines_per_month=lines_per_month,
    )
    ExchangeRate.objects.bulk_create(
        [
            ExchangeRate(currency_id=code, month=_month_start(index), usd_per_unit=value)
            for code, series in gen.rates.items()
            for index, value in series.items()
        ],
        ignore_conflicts=True,  # keep rates someone imported before
    )
    counts: Counter[str] = Counter()
    scenarios: Counter[str] = Counter()
    login_plans: list[_PartnerPlan] = []
    now = timezone.now()  # row timestamps only; the data depends on as_of
    on_postgres = connection.vendor == "postgresql"
    bulk_load = _postgres_bulk_load(RevenueRecord) if on_postgres else contextlib.nullcontext()
    with bulk_load:
        for chunk_start in range(0, partners, CHUNK_PARTNERS):
            plans = [
                gen.plan_partner(number)
                for number in range(chunk_start, min(partners, chunk_start + CHUNK_PARTNERS))
            ]
            counts["revenue records"] += _write_chunk(gen, plans, now)
            for plan in plans:
                counts["partners"] += 1
                counts["locations"] += len(plan.locations)
                counts["contacts"] += len(plan.contacts)
                counts["support contracts"] += len(plan.contracts)
                counts["partner designations"] += len(plan.designations)
                counts[f"managed by {plan.account_manager_id}"] += 1
                if plan.billing_model == BillingModel.DIRECT_BILL:
                    scenarios[plan.profile] += 1
                else:
                    scenarios.update(loc.profile for loc in plan.locations)
                if plan.status != PartnerStatus.ACTIVE:
                    scenarios[f"partner_{plan.status}"] += 1
            if chunk_start == 0:
                login_plans = plans[:2]
            if progress:
                progress(f"{counts['partners']:,} of {partners:,} partners planned and written")
        if progress and on_postgres:
            progress("Re-creating the revenue indexes and constraints")
    if on_postgres:
        # Fresh statistics, so the first queries (and benchmarks) get good plans.
        with connection.cursor() as cursor:
            for model in DEMO_MODELS:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    _bind_partner_login(logins["partner1"], login_plans[0])
    _bind_partner_login(logins["partner2"], login_plans[1])

    manager_share = counts.pop(f"managed by {logins['manager'].pk}", 0)
    summary_counts = {
        "partners": counts["partners"],
        "locations": counts["locations"],
        "contacts": counts["contacts"],
        "revenue records": counts["revenue records"],
        "support contracts": counts["support contracts"],
        "partner designations": counts["partner designations"],
        "exchange rates": sum(len(series) for series in gen.rates.values()),
        "users": 4 + len(account_managers) - 1,
    }
    p1, p2 = login_plans
    return DemoSummary(
        as_of=as_of,
        seed=seed,
        months=months,
        counts=summary_counts,
        scenarios={
            label: scenarios[key] for key, label in SCENARIO_LABELS.items() if scenarios[key]
        },
        logins=[
            DemoLogin("admin", "superuser (admin site)"),
            DemoLogin("manager", f"account manager of {manager_share:,} partners"),
            DemoLogin("partner1", "partner user, at risk", p1.partner_id, p1.name),
            DemoLogin("partner2", "partner user, compliant", p2.partner_id, p2.name),
        ],
        password=password,
        seconds=time.monotonic() - started,
    )


class _Purger:
    """Deletes querysets together with every row that refers to them (through
    PROTECT too), in bulk and without signals; SET_NULL references are
    cleared. So models of other apps that point at partners or locations
    (evaluations, outcomes, cases, notifications) go with them, and a million
    revenue rows do not pass through ``Model.delete`` one by one."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        # A model whose table is not there yet (migration pending) has no rows.
        self.tables = set(connection.introspection.table_names())

    def _exists(self, model: type[models.Model]) -> bool:
        return model._meta.db_table in self.tables

    def purge(self, queryset: models.QuerySet, depth: int = 0) -> None:
        model = queryset.model
        if depth > 10:
            raise RuntimeError(f"Reference cycle while deleting {model.__name__}")
        db = queryset.db
        for rel in model._meta.get_fields(include_hidden=True):
            if not rel.auto_created or rel.concrete or not self._exists(rel.related_model):
                continue
            if rel.many_to_many:
                if rel.through._meta.auto_created and self._exists(rel.through):
                    name = rel.field.m2m_reverse_field_name()
                    rel.through._base_manager.filter(**{f"{name}__in": queryset})._raw_delete(db)
                continue
            if rel.on_delete is models.DO_NOTHING:
                continue
            related = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": queryset})
            if rel.on_delete is models.SET_NULL:
                related.update(**{rel.field.name: None})
            else:
                self.purge(related, depth + 1)
        for m2m in model._meta.many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created and self._exists(through):
                name = m2m.m2m_field_name()
                through._base_manager.filter(**{f"{name}__in": queryset})._raw_delete(db)
        self.counts[model._meta.label] += queryset._raw_delete(db)


@transaction.atomic
def demo_reset() -> dict[str, int]:
    """Delete the demo domain: partners and everything that refers to them,
    exchange rates, their history rows and the demo users. Policies,
    currencies, designations and groups stay. Returns rows deleted per kind."""
    purger = _Purger()
    purger.purge(Partner._base_manager.all())
    purger.purge(ExchangeRate._base_manager.all())
    counts = purger.counts
    result = {
        str(model._meta.verbose_name_plural): counts.pop(model._meta.label, 0)
        for model in DEMO_MODELS
    }
    for label, count in counts.items():  # rows of other models that referred to partners
        result[str(apps.get_model(label)._meta.verbose_name_plural)] = count
    history = _Purger()
    for model in DEMO_MODELS:
        history.purge(model.history.model._base_manager.all())
    result["history rows"] = sum(history.counts.values())
    result["demo users"] = 0
    for user in get_user_model()._default_manager.filter(username__in=DEMO_USERNAMES):
        try:
            with transaction.atomic():
                user.delete()
        except (models.ProtectedError, models.RestrictedError):
            continue  # still referenced (an audit trail, say): demo_seed takes it over
        result["demo users"] += 1
    return result
