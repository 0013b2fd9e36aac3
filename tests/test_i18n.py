"""The German catalogue is complete, compiled, and actually used by the pages."""

import ast
import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"
PO_FILE = CATALOGUE / "django.po"
MO_FILE = CATALOGUE / "django.mo"


def _parse_po(path: Path) -> list[dict]:
    """A small .po reader: one dict per entry, with msgctxt, msgid, msgid_plural,
    msgstr (a dict of index -> text; index 0 for singular entries) and flags.
    Obsolete entries (``#~``) are ignored."""
    entries: list[dict] = []
    entry: dict | None = None
    field: tuple[str, int] | None = None

    def start() -> dict:
        new = {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}, "flags": set()}
        entries.append(new)
        return new

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                entry = field = None
            continue
        if line.startswith("#,"):
            entry = entry or start()
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            assert entry is not None and field is not None, f"stray line: {raw!r}"
            text = ast.literal_eval(line)
            key, index = field
            if key == "msgstr":
                entry["msgstr"][index] += text
            else:
                entry[key] += text
            continue
        keyword, _, value = line.partition(" ")
        text = ast.literal_eval(value)
        if entry is None or (keyword in ("msgctxt", "msgid") and entry["msgid"] is not None):
            entry = start()
        if keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            entry["msgstr"][index] = text
            field = ("msgstr", index)
        else:
            entry[keyword] = text
            field = (keyword, 0)
    return [e for e in entries if e["msgid"] is not None]


@pytest.fixture(scope="module")
def po_entries() -> list[dict]:
    entries = _parse_po(PO_FILE)
    assert entries and entries[0]["msgid"] == "", "the header entry comes first"
    return entries[1:]


def _label(entry: dict) -> str:
    return repr(entry["msgid"][:70])


def test_every_entry_is_translated_and_none_is_fuzzy(po_entries):
    assert len(po_entries) > 100
    empty = [_label(e) for e in po_entries if not all(e["msgstr"].values())]
    fuzzy = [_label(e) for e in po_entries if "fuzzy" in e["flags"]]
    plurals_incomplete = [
        _label(e)
        for e in po_entries
        if e["msgid_plural"] is not None and sorted(e["msgstr"]) != [0, 1]
    ]
    problems = [f"untranslated: {label}" for label in empty]
    problems += [f"fuzzy (check, fix, remove the flag): {label}" for label in fuzzy]
    problems += [f"needs two plural forms: {label}" for label in plurals_incomplete]
    assert not problems, "run makemessages, then translate:\n" + "\n".join(problems)


def test_compiled_catalogue_matches_the_po_file(po_entries):
    with MO_FILE.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    expected = {}
    for e in po_entries:
        msgid = e["msgid"] if e["msgctxt"] is None else f"{e['msgctxt']}\x04{e['msgid']}"
        if e["msgid_plural"] is None:
            expected[msgid] = e["msgstr"][0]
        else:
            for index, text in e["msgstr"].items():
                expected[(msgid, index)] = text
    compiled = {key: value for key, value in catalog.items() if key != ""}
    stale = sorted(repr(k)[:80] for k in expected.keys() ^ compiled.keys())
    assert not stale, "django.mo is out of date; run compilemessages:\n" + "\n".join(stale)
    differing = sorted(repr(k)[:80] for k in expected if expected[k] != compiled[k])
    assert not differing, "django.mo is out of date; run compilemessages:\n" + "\n".join(differing)


# (English, German) pairs per page: the English text must be on the English page
# and gone from the German one, and the other way round.
PAGES = {
    "/": [
        ("Compliance dashboard", "Compliance-Übersicht"),
        ("Dashboard", "Übersicht"),
        ("Log out", "Abmelden"),
        ("All partners", "Alle Partner"),
        ("Deadlines in 30 days", "Stichtage in 30 Tagen"),
    ],
    "/partners/": [
        ("Log out", "Abmelden"),
        ("Billing model", "Abrechnungsmodell"),
        ("Reset", "Zurücksetzen"),
        ("My partners only", "Nur meine Partner"),
        ("Export CSV", "CSV exportieren"),
    ],
}


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_user("i18n-staff", password="x", is_staff=True)
    client.force_login(user)
    return client


def _page(client, path: str, language: str) -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


@pytest.mark.parametrize("path", list(PAGES))
def test_staff_pages_speak_the_chosen_language(staff_client, path):
    english_page = _page(staff_client, path, "en")
    german_page = _page(staff_client, path, "de")
    assert 'lang="de"' in german_page
    for english, german in PAGES[path]:
        assert english in english_page and german not in english_page, english
        assert german in german_page and english not in german_page, german


@pytest.mark.django_db
def test_login_page_speaks_german_after_choosing_the_language(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": "/"})
    assert response.status_code == 302
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert "Anmelden" in html and "Passwort vergessen?" in html
    assert "Log in" not in html and "Forgot your password?" not in html


@pytest.mark.django_db
def test_login_page_stays_english_by_default(client):
    html = client.get(reverse("login")).content.decode()
    assert "Log in" in html and "Anmelden" not in html
