"""Reminders name the qualifying plans by the model's plan names, and fall
back to the rules' default qualifying plans - no list of their own."""

import pytest

from compliance import rules
from notifications.content import render, sample_facts
from notifications.models import Kind


def _reminder(language: str, qualifying: list[str]) -> str:
    deadline, offset, facts = sample_facts(Kind.REMINDER, language)
    facts["qualifying_plan_types"] = qualifying
    return render(
        kind=Kind.REMINDER, language=language, deadline=deadline, offset=offset, facts=facts
    ).text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "An active, paid support plan is missing (Unified Support or Other)."),
        ("de", "Es fehlt ein aktiver, bezahlter Supportplan (Unified Support oder Sonstige)."),
    ],
)
def test_every_plan_type_has_its_name(language, expected):
    assert expected in " ".join(_reminder(language, ["unified", "other"]).split())


def test_no_list_means_the_rules_default_qualifying_plans(monkeypatch):
    monkeypatch.setattr(rules, "DEFAULT_QUALIFYING_PLAN_TYPES", ("psfp",))
    text = " ".join(_reminder("en", []).split())
    assert "support plan is missing (Premier Support for Partners (PSfP))." in text
