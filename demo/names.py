"""Names of the demo portfolio: partner names with a legal form of their
country, contact people and their email addresses, end customers on the
revenue lines. Pure functions of a ``random.Random`` and reference data."""

from __future__ import annotations

import functools
import random
import unicodedata

from partners.models import Language

from .helpers import weighted

GERMAN_SPEAKING = frozenset({"DE", "AT", "CH", "LI"})

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


@functools.cache
def _ascii(text: str) -> str:
    for src, dst in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ł", "l")):
        text = text.replace(src, dst).replace(src.upper(), dst.capitalize())
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


@functools.cache
def slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in _ascii(text).lower())
    return "-".join(part for part in out.split("-") if part)


def partner_name(rng: random.Random, country: str, used: set[str]) -> str:
    """A company name of ``country`` not in ``used`` (which it joins)."""
    prefixes, cores, forms, core_first = NAME_PARTS[country]
    people = PEOPLE[PEOPLE_BY_COUNTRY[country]][1]
    for attempt in range(8):
        form = weighted(rng, forms)
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
        if name not in used:
            break
    else:
        name = f"{base} {len(used)} {form}"
    used.add(name)
    return name


def location_name(rng: random.Random, partner_name: str, country: str) -> str:
    """The partner's short name and a city of ``country``."""
    short = partner_name.split(" ")[0]
    return f"{short} {rng.choice(CITIES[country])}"


def contacts(
    rng: random.Random, *, partner_name: str, country: str, at_least_one: bool
) -> list[tuple[str, str, str, bool]]:
    """(name, email, language, receives notices) of a partner's contacts:
    none to three, at an email domain made of the partner's name."""
    count = int(weighted(rng, (("0", 6), ("1", 45), ("2", 35), ("3", 14))))
    if at_least_one:
        count = max(count, 1)
    firsts, lasts = PEOPLE[PEOPLE_BY_COUNTRY[country]]
    domain = "-".join(slug(partner_name).split("-")[:2]) + ".example"
    emails = set()
    people = []
    for n in range(count):
        first, last = rng.choice(firsts), rng.choice(lasts)
        local = f"{slug(first)}.{slug(last).replace('-', '')}"
        email = f"{local}@{domain}"
        if email in emails:
            email = f"{local}{n}@{domain}"
        emails.add(email)
        language = Language.ENGLISH
        if country in GERMAN_SPEAKING and rng.random() < 0.93:
            language = Language.GERMAN
        receives = n == 0 or rng.random() < 0.7
        if n == 0 and rng.random() < 0.05 and count > 1:
            receives = False
        people.append((f"{first} {last}", email, language, receives))
    return people


def customers(rng: random.Random, country: str) -> list[str]:
    """Three to twelve end customers of a partner in ``country``."""
    group = PEOPLE_BY_COUNTRY[country]
    templates = CUSTOMER_TEMPLATES[group]
    surnames = PEOPLE[group][1]
    cities = CITIES[country]
    names = []
    for _ in range(rng.randint(3, 12)):
        template = rng.choice(templates)
        names.append(
            template.format(s=rng.choice(surnames), s2=rng.choice(surnames), c=rng.choice(cities))
        )
    return names
