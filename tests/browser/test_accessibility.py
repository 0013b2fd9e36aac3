"""Accessibility: every page passes axe-core's WCAG 2.1 A and AA rules in
Chromium with no ``serious`` or ``critical`` violation, in English and in
German: the staff pages, a partner user's pages, the pages before login, the
error pages, the admin and the API documentation. Every chart (a
``<canvas>``) is an image with a name and has the figures as a table beside
it.

The pages are the ones tests/pages.py finds with the data of its
``build_world`` (every named URL a user can open: dashboards, lists, detail
pages, every form, the imports, the email previews), plus the partner list
with filters and the pages its walker leaves out. axe-core comes from npm
(package.json's devDependencies; the portal does not serve it).

How axe gets into the page: the strict Content-Security-Policy
(``script-src 'self'``) refuses ``page.add_script_tag``, which adds an inline
``<script>`` with the file's text (the first test shows it). ``page.evaluate``
goes through the DevTools protocol (Runtime.evaluate), which the page's
policy does not govern, so the file's source runs in the page's main world
with the policy in force: axe checks the page as it is served, no
``bypass_csp``.

What is not ours: Django's admin templates and the Swagger UI bundle have
violations of their own. They are listed below by rule (KNOWN_ADMIN,
KNOWN_SWAGGER_UI) with the reason; any other violation on those pages fails.

Each test writes what it found to test-artifacts/axe-<name>.json (the count
of failing elements per page, and the violations).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from tests.pages import build_world, portal_pages

from .conftest import PASSWORD, SCREENSHOTS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

AXE = Path(settings.NODE_MODULES) / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = ("serious", "critical")
# axe's best practices (one main landmark, all content in landmarks, a level
# one heading, headings in order, no empty table header...) fail at any
# impact on the portal's pages, but for the email previews (an email is no
# web page); on the admin and the API docs only serious and critical count.
BEST_PRACTICE = "best-practice"
EMAIL_BODIES = ("/email/", "/notifications/preview/")
LANGUAGES = ("en", "de")
ARTIFACTS = SCREENSHOTS.parent

# Serious violations of Django's own admin (Django 5.2 templates, CSS and its
# bundled select2), none from our admin classes or templates (we have none).
KNOWN_ADMIN = {
    # tabular inlines: a column header, no <label>, for each cell's field
    "label": "tabular inline fields are labelled by their column header only",
    "select-name": "tabular inline selects, likewise",
    # (a best practice) the changelist's search box is labelled by an icon,
    # a tabular inline's field by its title
    "label-title-only": "the search box and tabular inline fields",
    # select2 (autocomplete_fields) renders a combobox span without a name
    "aria-input-field-name": "select2's combobox of autocomplete fields",
    # filter_horizontal's search icon: a <span> with aria-label and no role
    "aria-prohibited-attr": "filter_horizontal's help icon",
    # the breadcrumbs: white links in light-blue text, told apart by colour
    "link-in-text-block": "the admin's breadcrumb links",
}
# Serious violations inside Swagger UI's own markup (#swagger-ui): its
# method colours (white on #61affe, #49cc90, ...) and its operation headers,
# a button holding more buttons. Our page around it is checked in full.
KNOWN_SWAGGER_UI = {
    "color-contrast": "Swagger UI's method badges and version stamps",
    "nested-interactive": "Swagger UI's operation summaries",
}

RUN_AXE = """async ([tags, outside]) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  const within = (node) => outside && node.target.length === 1
    && document.querySelector(node.target[0])?.closest(outside) != null;
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    best_practice: v.tags.includes("best-practice"),
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
    // the first check's message: e.g. the colours and the contrast ratio
    details: v.nodes.map((n) => [...n.any, ...n.all, ...n.none].map((c) => c.message)[0] || ""),
    third_party: v.nodes.map(within),
  }));
}"""

# A chart is an image with a name, and the figures are on the page as text:
# a table in the same card (or figure), e.g. portal/_revenue_chart.html's,
# or the table its aria-details names.
CHARTS_WITHOUT_ALTERNATIVE = """() => [...document.querySelectorAll("canvas")].filter((c) => {
  const box = c.closest(".card, figure, section") || c.parentElement;
  const details = document.getElementById(c.getAttribute("aria-details") || "");
  const table = box.querySelector("table")
    || (details && (details.matches("table") ? details : details.querySelector("table")));
  return c.getAttribute("role") !== "img" || !(c.getAttribute("aria-label") || "").trim() || !table;
}).map((c) => c.outerHTML)"""


def axe_violations(page, third_party: str | None = None) -> list[dict]:
    """axe's WCAG 2.1 A/AA and best-practice violations of the page as it
    is now; nodes inside ``third_party`` (a selector) are marked as such."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(RUN_AXE, [[*WCAG_21_AA, BEST_PRACTICE], third_party])


def describe(found: dict[str, list[dict]]) -> str:
    lines = []
    for where, violations in found.items():
        for v in violations:
            targets = ", ".join(v["targets"][:5])
            more = f" (+{len(v['targets']) - 5} more)" if len(v["targets"]) > 5 else ""
            lines.append(f"{where}: [{v['impact']}] {v['id']}: {v['help']} -> {targets}{more}")
            lines.append(f"    {v['details'][0]}")
    return "\n".join(lines)


class Walk:
    """Opens pages in one browser context and runs axe on each: ``found``
    maps '[language] url' to its failing violations (serious and critical;
    best practices at any impact where ``best_practice``), ``counts`` to the
    number of elements concerned, ``charts`` to charts without their text."""

    def __init__(self, page, language: str, *, best_practice: bool = True):
        self.page = page
        self.language = language
        self.best_practice = best_practice
        self.found: dict[str, list[dict]] = {}
        self.counts: dict[str, int] = {}
        self.charts: dict[str, list[str]] = {}

    def check(self, url: str, *, status: int = 200, third_party: str | None = None) -> None:
        response = self.page.goto(url)
        assert response.status == status, (url, response.status)
        self.page.wait_for_load_state("networkidle")
        self.record(url, third_party=third_party)

    def check_errors(self, url: str) -> None:
        """The form at ``url`` sent empty: the page again, with its errors."""
        self.page.goto(url)
        with self.page.expect_navigation():
            self.page.locator("main form[method=post] button[type=submit]").first.click()
        self.page.wait_for_load_state("networkidle")
        assert self.page.locator(".invalid-feedback, .alert-danger").count(), url
        self.record(f"{url} (sent empty)")

    def record(self, label: str, *, third_party: str | None = None) -> None:
        key = f"[{self.language}] {label}"
        strict = self.best_practice and not any(part in label for part in EMAIL_BODIES)
        violations = [
            v
            for v in axe_violations(self.page, third_party)
            if v["impact"] in FAILING or (strict and v["best_practice"])
        ]
        self.counts[key] = sum(len(v["targets"]) for v in violations)
        if violations:
            self.found[key] = violations
        charts = self.page.evaluate(CHARTS_WITHOUT_ALTERNATIVE)
        if charts:
            self.charts[key] = charts

    def ours(self) -> dict[str, list[dict]]:
        """The violations outside third-party markup."""
        found = {}
        for key, violations in self.found.items():
            kept = []
            for v in violations:
                nodes = [i for i, third in enumerate(v["third_party"]) if not third]
                if nodes:
                    kept.append(
                        v
                        | {
                            "targets": [v["targets"][i] for i in nodes],
                            "details": [v["details"][i] for i in nodes],
                        }
                    )
            if kept:
                found[key] = kept
        return found

    def third_party_rules(self) -> set[str]:
        return {v["id"] for vs in self.found.values() for v in vs if any(v["third_party"])}

    def report(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        data = {
            key: {"count": count, "violations": self.found.get(key, [])}
            for key, count in self.counts.items()
        }
        (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(data, indent=2))


def _context(browser, live_server, language: str, **options):
    context = browser.new_context(
        base_url=live_server.url,
        locale="de-DE" if language == "de" else "en-US",
        timezone_id="Europe/Berlin",
        **({"viewport": {"width": 1280, "height": 900}} | options),
    )
    context.set_default_timeout(10_000)
    _choose_language(context, live_server, language)
    return context


def _choose_language(context, live_server, language: str) -> None:
    context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )


def _log_in(page, live_server, username: str, language: str) -> None:
    """Through the login form (in the page's language); the language cookie
    is set again after it, as a partner user's login chooses their
    contact's language."""
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    _choose_language(page.context, live_server, language)


def _walk(
    browser,
    live_server,
    language: str,
    username: str | None,
    steps,
    *,
    best_practice=True,
    **context_options,
) -> Walk:
    context = _context(browser, live_server, language, **context_options)
    try:
        page = context.new_page()
        if username:
            _log_in(page, live_server, username, language)
        walk = Walk(page, language, best_practice=best_practice)
        steps(walk)
        return walk
    finally:
        context.close()


def _assert_clean(walk: Walk) -> None:
    found = walk.ours()
    assert not found, "axe violations:\n" + describe(found)
    assert not walk.charts, f"charts without role=img, a name or a table: {walk.charts}"


@pytest.fixture
def world(reference_data, client):
    return build_world(client)


def test_axe_runs_under_the_content_security_policy(page, live_server):
    assert AXE.exists(), f"{AXE} is missing: `make install` (npm ci) installs axe-core"
    response = page.goto("/accounts/login/")
    assert "script-src 'self'" in response.header_value("content-security-policy")
    # Playwright's script tag is an inline script: the policy refuses it...
    with pytest.raises(Exception, match="violates the following Content Security Policy"):
        page.add_script_tag(path=str(AXE))
    assert page.evaluate("typeof axe") == "undefined"
    # ...the DevTools protocol's evaluate is no script of the page's
    violations = axe_violations(page)
    assert page.evaluate("typeof axe.run") == "function"
    assert isinstance(violations, list)


@pytest.mark.parametrize("language", LANGUAGES)
def test_staff_pages(browser, live_server, client, world, language, screenshot):
    pages = portal_pages(client, world["manager"], world)
    assert len(pages) > 30, pages
    name = world["own"].name

    def steps(walk: Walk) -> None:
        for url in pages:
            walk.check(url)
        # the partner list filtered, and with values the filter refuses
        walk.check(f"/partners/?status=at_risk&billing_model=reseller&q={name[:5]}")
        walk.check("/partners/?status=bogus&mine=on&sort=-name")
        # the forms with their errors
        own = world["own"].partner_id
        for url in (
            "/partners/new/",
            f"/partners/{own}/revenue/new/",
            f"/partners/{own}/contracts/new/",
            f"/partners/{own}/contacts/new/",
            "/imports/new/",
        ):
            walk.check_errors(url)
        # the chart's figures as a table, opened
        walk.page.goto("/")
        walk.page.locator("[data-chart-alternative] summary").click()
        walk.record("/ (the chart's table open)")
        screenshot(walk.page, f"a11y-staff-dashboard-{language}")
        walk.page.goto(f"/partners/{world['own'].partner_id}/")
        screenshot(walk.page, f"a11y-partner-detail-{language}")

    walk = _walk(browser, live_server, language, "manager", steps)
    walk.report(f"staff-{language}")
    _assert_clean(walk)


@pytest.mark.parametrize("language", LANGUAGES)
def test_partner_user_pages(browser, live_server, client, world, language):
    pages = portal_pages(client, world["partner_user"], world)
    assert len(pages) > 8, pages

    def steps(walk: Walk) -> None:
        for url in pages:
            walk.check(url)

    walk = _walk(browser, live_server, language, "partner1", steps)
    walk.report(f"partner-{language}")
    _assert_clean(walk)


ANONYMOUS = [
    "/accounts/login/",
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",  # a link that is not valid (any more)
    "/accounts/reset/done/",
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_pages_before_login_and_error_pages(browser, live_server, world, language):
    def steps(walk: Walk) -> None:
        for url in ANONYMOUS:
            walk.check(url)
        walk.check("/no-such-page/", status=404)
        _log_in(walk.page, live_server, "partner1", language)
        walk.check("/imports/", status=403)  # a staff page
        walk.check("/partners/9999999/", status=404)

    walk = _walk(browser, live_server, language, None, steps)
    walk.report(f"anonymous-{language}")
    _assert_clean(walk)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_phone_sized_window_with_the_menu_open(browser, live_server, world, language):
    """At 390 px the navigation folds into the menu button."""
    own = world["own"].partner_id

    def steps(walk: Walk) -> None:
        for url in ("/", f"/partners/{own}/", "/partners/"):
            walk.page.goto(url)
            walk.page.wait_for_load_state("networkidle")
            walk.page.locator(".navbar-toggler").click()
            walk.page.locator("#nav.show").wait_for()
            walk.record(f"{url} (390 px, menu open)")

    walk = _walk(
        browser,
        live_server,
        language,
        "manager",
        steps,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    walk.report(f"phone-{language}")
    _assert_clean(walk)


@pytest.mark.parametrize("language", LANGUAGES)
def test_admin_pages(browser, live_server, world, language):
    """Django's admin: nothing but the known violations of its own
    templates (KNOWN_ADMIN); the counts are in the report."""
    own = world["own"]

    def steps(walk: Walk) -> None:
        walk.check("/admin/")
        walk.check("/admin/partners/partner/")
        walk.check(f"/admin/partners/partner/{own.pk}/change/")
        walk.check("/admin/partners/revenuerecord/")

    walk = _walk(browser, live_server, language, "manager", steps, best_practice=False)
    walk.report(f"admin-{language}")
    unknown = {
        key: [v for v in violations if v["id"] not in KNOWN_ADMIN]
        for key, violations in walk.found.items()
    }
    unknown = {key: vs for key, vs in unknown.items() if vs}
    assert not unknown, "axe violations in the admin:\n" + describe(unknown)


@pytest.mark.parametrize("language", LANGUAGES)
def test_api_docs(browser, live_server, world, language):
    """Swagger UI and Redoc: our pages around them are clean; inside Swagger
    UI's own markup only its known violations (KNOWN_SWAGGER_UI)."""

    def steps(walk: Walk) -> None:
        walk.page.goto("/api/docs/")
        walk.page.locator(".opblock").first.wait_for()
        walk.record("/api/docs/", third_party="#swagger-ui")
        walk.page.goto("/api/docs/redoc/")
        walk.page.get_by_text("CSP Partner Compliance Portal API").first.wait_for()
        walk.record("/api/docs/redoc/", third_party="redoc")

    walk = _walk(browser, live_server, language, "manager", steps, best_practice=False)
    walk.report(f"api-docs-{language}")
    _assert_clean(walk)
    assert walk.third_party_rules() <= set(KNOWN_SWAGGER_UI), walk.third_party_rules()
