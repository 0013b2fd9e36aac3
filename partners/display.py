"""Stored English values as the reader's language shows them.

The services store some values in English on purpose - history change
reasons, import kinds - so that they stay stable (the admin, the API and
exports show them as stored). Pages show them through these functions, in
the active language. Formatting only; no queries.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Import kinds by the value of the upload form (``ingestion.imports.UPLOAD_KINDS``:
# the kind, and ":<format>" for another file format than the simple CSV).
IMPORT_KINDS = {
    "partners": gettext_lazy("partners"),
    "locations": gettext_lazy("locations"),
    "contacts": gettext_lazy("contacts"),
    "revenue": gettext_lazy("revenue"),
    "revenue:partner-center": gettext_lazy("revenue (Partner Center)"),
    "support-contracts": gettext_lazy("support contracts"),
    "fx-rates": gettext_lazy("exchange rates"),
}


def import_kind_label(kind: str, file_format: str = "simple") -> str:
    """``revenue`` -> "Umsatz"; a kind and format this module does not know
    as it is."""
    if file_format and file_format != "simple":
        kind = f"{kind}:{file_format}"
    label = IMPORT_KINDS.get(kind) or IMPORT_KINDS.get(kind.partition(":")[0])
    return str(label) if label else kind


# What an import run's summary says about the file: the CSV dialect
# (``ingestion.files.COMMA`` / ``SEMICOLON``) and the Partner Center layout.
_IMPORT_TERMS = {
    "comma-separated, decimal point": gettext_lazy("comma-separated, decimal point"),
    "semicolon-separated, decimal comma": gettext_lazy("semicolon-separated, decimal comma"),
    "new-commerce": gettext_lazy("new commerce"),
    "legacy": gettext_lazy("legacy, license-based"),
}


def import_term(value: str) -> str:
    """A dialect or layout of an import run's summary; unknown ones as they are."""
    label = _IMPORT_TERMS.get(value)
    return str(label) if label else value


# Change reasons the services store with a history row
# (``instance._change_reason``). A reason staff typed (an override) is shown
# as typed.
_REASONS = {
    "decided by the evaluation run": gettext_lazy("decided by the evaluation run"),
    "de-authorised": gettext_lazy("de-authorised"),
    "moved to the indirect model": gettext_lazy("moved to the indirect model"),
}
_CASE_DONE = re.compile(r"follow-up case (?P<case>\d+) done")
# "import <kind> <file name>" (ingestion.imports; the Partner Center import
# names its kind "revenue (Partner Center)").
_IMPORT_REASON_KINDS = {
    "revenue (Partner Center)": "revenue:partner-center",
    **{kind: kind for kind in IMPORT_KINDS if ":" not in kind},
}
_IMPORT = re.compile(
    r"import (?P<kind>{})(?: (?P<file>.+))?".format(
        "|".join(re.escape(kind) for kind in _IMPORT_REASON_KINDS)
    )
)


def change_reason_display(reason: str) -> str:
    """A stored change reason in the active language."""
    if reason in _REASONS:
        return str(_REASONS[reason])
    if match := _CASE_DONE.fullmatch(reason):
        return _("follow-up case %(case)s done") % {"case": match["case"]}
    if match := _IMPORT.fullmatch(reason):
        kind = import_kind_label(_IMPORT_REASON_KINDS[match["kind"]])
        if match["file"]:
            return _("import of %(kind)s (%(file)s)") % {"kind": kind, "file": match["file"]}
        return _("import of %(kind)s") % {"kind": kind}
    return reason
