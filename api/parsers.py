"""Request body parsers of the API (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``)."""

from __future__ import annotations

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r} in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, stricter. These are a 400 that says what is wrong:

    - a key twice in one object (the plain parser keeps the last value, so
      what was stored would depend on the client's JSON library);
    - ``NaN``, ``Infinity`` and ``-Infinity``;
    - a body that is not text in its charset (UTF-8 unless the
      ``Content-Type`` names another);
    - nesting deeper than Python's recursion limit (a 500 otherwise).

    Django has already refused a body above ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    when this runs (see ``api.exceptions``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        body = stream.read()
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"JSON parse error - the body is not {encoding} text "
                f"(invalid byte at position {exc.start})"
            ) from None
        try:
            return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
