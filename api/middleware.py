"""``NulCharacterMiddleware``: a NUL character that reached a database query
is a 400, not a 500 (site-wide; in ``api`` with the other request guards)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponseBadRequest
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

#: Both psycopg 2 and 3 name the character so in their ValueError.
NUL_ERROR = "NUL (0x00)"


def is_nul_error(exception: BaseException) -> bool:
    return isinstance(exception, ValueError) and NUL_ERROR in str(exception)


class NulCharacterMiddleware:
    """PostgreSQL cannot store or compare text with a NUL character, and the
    driver refuses such a query parameter with a ValueError before sending
    anything. Our forms and serializers refuse NULs at the field; this turns
    one that got further (a filter of the admin, a parameter read by hand)
    into a 400 instead of a server error. Nothing was written by that query;
    services are atomic, so no change is half-done. Other errors pass."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not is_nul_error(exception):
            return None
        logger.info("refused a NUL character in %s %s", request.method, request.path)
        return HttpResponseBadRequest(
            _("The request contains a NUL character, which no field accepts."),
            content_type="text/plain; charset=utf-8",
        )
