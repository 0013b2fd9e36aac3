"""Stored English values (change reasons, import kinds) read in the
reader's language; what the portal does not know is shown as stored."""

import pytest
from django.utils import translation

from partners.display import change_reason_display, import_kind_label, import_term

REASONS = [
    ("decided by the evaluation run", "vom Bewertungslauf entschieden"),
    ("de-authorised", "deautorisiert"),
    ("moved to the indirect model", "in das indirekte Modell überführt"),
    ("follow-up case 12 done", "Folgefall 12 erledigt"),
    ("import contacts kontakte.csv", "Import: Kontakte (kontakte.csv)"),
    ("import revenue (Partner Center) April.csv", "Import: Umsatz (Partner Center) (April.csv)"),
    ("import support-contracts", "Import: Supportverträge"),
    # typed by staff, or not the portal's: as stored
    ("Microsoft granted an exception", "Microsoft granted an exception"),
    ("API", "API"),
    ("", ""),
]


@pytest.mark.parametrize(("stored", "german"), REASONS)
def test_change_reasons_in_german(stored, german):
    with translation.override("de"):
        assert change_reason_display(stored) == german


def test_change_reasons_stay_as_stored_in_english():
    with translation.override("en"):
        assert change_reason_display("follow-up case 12 done") == "follow-up case 12 done"
        assert change_reason_display("import contacts x.csv") == "import of contacts (x.csv)"
        assert change_reason_display("decided by the evaluation run") == (
            "decided by the evaluation run"
        )


def test_import_kinds_and_terms():
    with translation.override("de"):
        assert import_kind_label("revenue") == "Umsatz"
        assert import_kind_label("revenue", "partner-center") == "Umsatz (Partner Center)"
        assert import_kind_label("revenue:partner-center") == "Umsatz (Partner Center)"
        assert import_kind_label("fx-rates") == "Wechselkurse"
        assert import_kind_label("something-new") == "something-new"
        assert import_term("semicolon-separated, decimal comma") == (
            "Semikolon als Trennzeichen, Dezimalkomma"
        )
        assert import_term("legacy") == "Legacy, lizenzbasiert"
        assert import_term("odd") == "odd"
    with translation.override("en"):
        assert import_kind_label("support-contracts") == "support contracts"
