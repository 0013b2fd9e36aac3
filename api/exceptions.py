"""The API's exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

DRF's own handler, plus a JSON answer for the request limits Django enforces
while DRF reads the body, which would otherwise reach Django's generic HTML
400 page: a body above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413, too many
form fields or files a 400. Nothing else is changed."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import status, views
from rest_framework.exceptions import APIException, ParseError


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
            "send the data in smaller requests."
        )
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = ParseError(str(exc))
    return views.exception_handler(exc, context)
