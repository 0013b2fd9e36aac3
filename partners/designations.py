"""Solutions Partner designations by any of their names (PRODUCT section 7).

A designation is accepted by its code (``modern-work``), by its short name
("Modern Work") and by the name Microsoft uses ("Solutions Partner for
Modern Work"), in any case and with any run of spaces. Every door that takes
a designation as text - the partners import, the API - resolves it here, so
they accept the same spellings and refuse the rest with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.translation import gettext

from .models import Designation

#: How Microsoft names every designation: "Solutions Partner for <short name>".
MICROSOFT_PREFIX = "Solutions Partner for "

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` for comparison: case folded, spaces collapsed, ends stripped."""
    return _SPACES.sub(" ", text).strip().casefold()


def microsoft_name(designation: Designation) -> str:
    """The name Microsoft uses, e.g. "Solutions Partner for Modern Work"."""
    return f"{MICROSOFT_PREFIX}{designation.name}"


class UnknownDesignation(ValueError):
    """A text that names no designation; ``str()`` is the message for the user."""


class DesignationLookup:
    """The designations by every accepted spelling. Build it once per request
    or file (:meth:`load`, one query) and resolve as many values as needed."""

    def __init__(self, designations: Iterable[Designation]) -> None:
        self.designations = sorted(designations, key=lambda d: d.name.casefold())
        self._by_spelling: dict[str, Designation] = {}
        for designation in self.designations:
            for spelling in (designation.code, designation.name, microsoft_name(designation)):
                self._by_spelling.setdefault(normalise(spelling), designation)

    @classmethod
    def load(cls) -> DesignationLookup:
        return cls(Designation.objects.only("pk", "code", "name"))

    def resolve(self, text: str) -> Designation:
        """The designation ``text`` names; :class:`UnknownDesignation` (whose
        message names the value and lists the accepted ones) if none."""
        designation = self._by_spelling.get(normalise(text))
        if designation is None:
            raise UnknownDesignation(self.unknown_message(text))
        return designation

    def unknown_message(self, text: str) -> str:
        shown = text.strip()
        shown = repr(shown if len(shown) <= 40 else shown[:37] + "...")
        return gettext(
            "unknown designation %(value)s; use one of %(names)s, also as "
            '"%(prefix)s..." or by code (%(codes)s), in any case'
        ) % {
            "value": shown,
            "names": ", ".join(d.name for d in self.designations) or "-",
            "prefix": MICROSOFT_PREFIX,
            "codes": ", ".join(d.code for d in self.designations) or "-",
        }
