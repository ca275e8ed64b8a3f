"""The error envelope: every non-2xx body is `{"error": {code, message, request_id, details}}`.

Services raise `ApplicationError` subclasses; the DRF exception handler and Django's own
404/500 handlers render them. A 500 never carries a stack trace.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

import redis
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerOperationalError
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger("claiv.errors")

STATUS_CODES: dict[str, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "conflict": 409,
    "length_required": 411,
    "payload_too_large": 413,
    "uri_too_long": 414,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "headers_too_large": 431,
    "quota_exceeded": 429,
    "internal_error": 500,
    "unavailable": 503,
}


class ApplicationError(Exception):
    """A failure the client should see, with a stable machine-readable code."""

    code = "invalid_request"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code

    @property
    def status(self) -> int:
        return STATUS_CODES[self.code]


class InvalidRequest(ApplicationError):
    code = "invalid_request"


class NotFound(ApplicationError):
    code = "not_found"


class Forbidden(ApplicationError):
    code = "forbidden"


class Conflict(ApplicationError):
    code = "conflict"


class PayloadTooLarge(ApplicationError):
    code = "payload_too_large"


class RateLimited(ApplicationError):
    code = "rate_limited"


# A dependency that cannot be reached (Postgres down or restarting, Redis where the request
# needs it): 503 `unavailable` with Retry-After, so monitors and clients can tell an outage
# from a bug. Where Redis is optional (rate limits, cache, metering) its errors are caught
# before they get here and the request is served as usual.
DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseOperationalError,
    DatabaseInterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    BrokerOperationalError,
)
UNAVAILABLE_RETRY_AFTER_SECONDS = 5


def _dependency_down(exc: BaseException | None) -> bool:
    return isinstance(exc, DEPENDENCY_ERRORS)


def error_chain(exc: BaseException | None) -> str:
    """What a log line may say of an error: the classes of the error and its causes, and
    the SQLSTATE of a database error, e.g. `OperationalError<DeadlockDetected
    sqlstate=40P01`. Never the messages: a database error's detail can quote row values."""
    parts: list[str] = []
    sqlstate = None
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 5:
        parts.append(type(seen).__name__)
        state = getattr(seen, "sqlstate", None)
        if sqlstate is None and isinstance(state, str):
            sqlstate = state
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    chain = "<".join(parts)
    return f"{chain} sqlstate={sqlstate}" if sqlstate else chain


def _unavailable() -> tuple[str, str, dict[str, Any]]:
    return (
        "unavailable",
        "A service this request needs is unavailable; retry shortly.",
        {"retry_after": UNAVAILABLE_RETRY_AFTER_SECONDS},
    )


def request_id_of(request: HttpRequest | None) -> str:
    return getattr(request, "request_id", "") if request is not None else ""


def error_body(
    code: str, message: str, request_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "request_id": request_id,
            "details": details or {},
        }
    }


def error_response(
    request: HttpRequest | None, code: str, message: str, details: dict[str, Any] | None = None
) -> JsonResponse:
    """A plain Django JSON response in the envelope (for middleware and handler404/500)."""
    return JsonResponse(
        error_body(code, message, request_id_of(request), details), status=STATUS_CODES[code]
    )


def _drf_error(exc: drf_exceptions.APIException) -> tuple[str, str, dict[str, Any]]:
    if isinstance(exc, drf_exceptions.ValidationError):
        return "invalid_request", "The request body is invalid.", {"fields": exc.detail}
    if isinstance(exc, drf_exceptions.ParseError):
        return "invalid_request", str(exc.detail), {}
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        return "unauthorized", str(exc.detail), {}
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return "forbidden", str(exc.detail), {}
    if isinstance(exc, drf_exceptions.NotFound):
        return "not_found", "Not found.", {}
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return "method_not_allowed", str(exc.detail), {}
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return "unsupported_media_type", "Requests must be application/json.", {}
    if isinstance(exc, drf_exceptions.Throttled):
        return "rate_limited", str(exc.detail), {"retry_after": exc.wait}
    return "invalid_request", str(exc.detail), {}


def exception_envelope(
    exc: Exception, request_id: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of the envelope for any exception; logs unexpected ones."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        code, message, details = exc.code, exc.message, exc.details
    elif isinstance(exc, drf_exceptions.APIException):
        code, message, details = _drf_error(exc)
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
    elif _dependency_down(exc):
        logger.warning(
            "dependency unavailable request_id=%s error=%s", request_id, error_chain(exc)
        )
        code, message, details = _unavailable()
    else:
        logger.exception("unhandled error request_id=%s error=%s", request_id, error_chain(exc))
        code, message, details = "internal_error", "Internal server error.", {}
    # The official SDK reads only details.retry_after; HTTP clients read the header.
    if (
        code in ("rate_limited", "quota_exceeded", "unavailable")
        and details.get("retry_after") is not None
    ):
        headers["Retry-After"] = str(max(1, math.ceil(float(details["retry_after"]))))
    return STATUS_CODES[code], error_body(code, message, request_id, details), headers


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: renders every failure in the envelope."""
    status, body, headers = exception_envelope(exc, request_id_of(context.get("request")))
    return Response(body, status=status, headers=headers)


def _console_page(request: HttpRequest, status: int) -> HttpResponse | None:
    """The browser console gets an HTML page instead of the API's JSON envelope."""
    if not request.path.startswith("/console/"):
        return None
    from django.shortcuts import render

    return render(request, f"console/{status}.html", status=status)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _console_page(request, 404) or error_response(request, "not_found", "Not found.")


def handler500(request: HttpRequest) -> JsonResponse:
    """Django's last resort (non-DRF views, middleware). It is called while the exception
    is being handled, so `sys.exc_info` tells an unreachable dependency from a bug."""
    exc = sys.exc_info()[1]
    if _dependency_down(exc):
        logger.warning(
            "dependency unavailable request_id=%s error=%s",
            request_id_of(request),
            error_chain(exc),
        )
        code, message, details = _unavailable()
        response = error_response(request, code, message, details)
        response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
        return response
    return error_response(request, "internal_error", "Internal server error.")


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(request, "invalid_request", "Bad request.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _console_page(request, 403) or error_response(request, "forbidden", "Forbidden.")
