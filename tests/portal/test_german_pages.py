"""German pages speak German throughout: every page a staff user and a
partner user open (tests/pages.py), rendered with German chosen, shows none
of the portal's English phrases - policy names, stored change reasons,
explanations, labels. Text marked as another language (``lang="en"``: the
language switcher's "English", the English email previews) is left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings

from tests.pages import build_world, portal_pages

pytestmark = pytest.mark.django_db

# The portal's own English, as the pages showed it before they spoke German
# throughout (whole words, case as shown).
ENGLISH = [
    # policy names (Policy.name; German pages show Policy.name_de)
    "CSP direct bill partner requirements (2021)",
    "CSP direct bill partner requirements (FY26)",
    "CSP indirect reseller revenue requirement (2024)",
    # change reasons stored by the services
    "decided by the evaluation run",
    "follow-up case",
    "moved to the indirect model",
    "de-authorised",
    "import",
    # import kinds and what a run found (stored in English)
    "revenue",
    "contacts",
    "revenue (Partner Center)",
    "comma-separated, decimal point",
    "new-commerce",
    # explanations and labels
    "TTM revenue",
    "required",
    "short",
    "shortfall",
    "Deadline",
    "deadline",
    "days left",
    "Days left",
    "Partner level",
    "Partner-level",
    "partner level",
    "What is missing",
    "Support plan",
    "At risk",
    "at risk",
    "Compliant",
    "Non-compliant",
    "Not evaluated",
    "Log out",
    "Dashboard",
    "Revenue",
    "Contacts",
    "Location",
    "Change history",
    "created",
    "changed",
]
# Money written the English way ("USD 1,000.00"); German is "1.000,00 USD".
ENGLISH_MONEY = re.compile(r"USD[ \u00a0]-?\d")

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
SHOWN_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


class _Text(HTMLParser):
    """The text a reader sees (and the attributes a screen reader says),
    without scripts, styles and elements in another language than German."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    @property
    def hidden(self) -> bool:
        return any(hide for _tag, hide in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = attrs.get("lang")
        hide = tag in ("script", "style") or (lang is not None and not lang.startswith("de"))
        if not hide and not self.hidden:
            self.parts += [attrs[a] for a in SHOWN_ATTRIBUTES if attrs.get(a)]
        if tag not in VOID:
            self.stack.append((tag, hide))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.parts.append(data.strip())


def shown_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def english_on(text: str) -> list[str]:
    found = [p for p in ENGLISH if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", text)]
    found += ENGLISH_MONEY.findall(text)
    return found


def test_the_checker_sees_english_and_leaves_marked_languages_alone():
    html = (
        '<html lang="de"><body><p title="Stichtag">Frist: USD 1,000.00 short</p>'
        '<button lang="en">English <b>Log out</b></button><br><input placeholder="Suche">'
        "<script>var deadline = 1;</script><p>Abmelden</p></body></html>"
    )
    text = shown_text(html)
    assert text.split("\n") == ["Stichtag", "Frist: USD 1,000.00 short", "Suche", "Abmelden"]
    assert english_on(text) == ["short", "USD 1"]
    assert english_on(shown_text('<html lang="en"><p>deadline</p></html>')) == []


@pytest.fixture
def world(client):
    return build_world(client)


@pytest.mark.parametrize("who", ["manager", "partner_user"])
def test_every_page_speaks_german(client, world, who):
    user = world[who]
    pages = portal_pages(client, user, world)
    assert len(pages) > (30 if user.is_staff else 8), pages
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    leaks = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'lang="de"' in html or 'lang="en"' in html, url
        found = english_on(shown_text(html))
        if found:
            leaks[url] = sorted(set(found))
    assert not leaks, "English on German pages:\n" + "\n".join(
        f"{url}: {found}" for url, found in sorted(leaks.items())
    )
