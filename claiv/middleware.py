"""Request ids, usage metering, and the body size limit applied before any view parses a body."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from claiv.errors import error_response

logger = logging.getLogger("claiv.request")
# `<str:event_id>` in a route becomes `{event_id}` in the endpoint name, as in the OpenAPI paths.
_ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
# Accept a client's id only if it is short and plain, so it is safe to echo and log.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CLIENT_REQUEST_ID = _CLIENT_REQUEST_ID  # also used by claiv.asgi's refusals


class RequestIdMiddleware:
    """Echo `X-Request-ID` (or make one), report the server time in `Server-Timing`, and
    log one line per request with ids and timing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _CLIENT_REQUEST_ID.match(given) else str(uuid.uuid4())
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["X-Request-ID"] = request.request_id
        # The server's own share of the latency a client sees (W3C Server-Timing), after
        # any metric a view set (e.g. recall's cache hit or miss).
        timing = f"app;dur={elapsed_ms:.2f}"
        given_timing = response.get("Server-Timing")
        response["Server-Timing"] = f"{given_timing}, {timing}" if given_timing else timing
        logger.info(
            "request_id=%s method=%s path=%s status=%s ms=%.1f tenant=%s",
            request.request_id,
            request.method,
            request.path,
            response.status_code,
            elapsed_ms,
            getattr(request, "tenant_id", "-"),
        )
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies over `MAX_BODY_BYTES` with 413 before anything reads them.

    Under the ASGI server, claiv.asgi.RequestGuard has already read the body (chunked
    included) and set its true Content-Length; this check covers WSGI and the test client.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "chunked" in request.META.get(
            "HTTP_TRANSFER_ENCODING", ""
        ).lower() and not request.META.get("CONTENT_LENGTH"):
            # WSGI hands Django no body without a length: refuse rather than read it as empty.
            return error_response(
                request,
                "length_required",
                "Chunked request bodies need the ASGI server (claiv.asgi); send Content-Length.",
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, "invalid_request", "Content-Length is not a number.")
        if length > settings.MAX_BODY_BYTES:
            return error_response(
                request,
                "payload_too_large",
                f"Request bodies are limited to {settings.MAX_BODY_BYTES} bytes.",
                {"limit_bytes": settings.MAX_BODY_BYTES},
            )
        return self.get_response(request)


class UsageMiddleware:
    """Meter every authenticated API request: endpoint, status class, latency, bytes.

    Runs outside the view so the latency and the response size are the ones the client got;
    views add tokens and ingested events with `claiv.api.meter`. Recording never fails the
    request (see memory.metering).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # App code: loaded once apps are ready.
        from memory.access import fact_accesses_deferred
        from memory.audit import audit_rows_push
        from memory.metering import usage_record_queue

        started = time.perf_counter()
        # The view's audit entries wait here (memory.api.audit.audit_request) and go to
        # Redis with the usage count in one round trip instead of one each.
        deferred: list[dict[str, object]] = []
        request.audit_deferred = deferred  # type: ignore[attr-defined]
        # Other writes that ride on the same pipeline (the recall cache's write of a miss:
        # memory.recall.cache): functions that queue a command on it. Best effort: if
        # Redis fails they are lost, as they would be when sent on their own.
        queued: list[Callable[[object], None]] = []
        request.redis_deferred = queued.append  # type: ignore[attr-defined]
        # A recall's fact accesses (memory.access) ride on the same pipeline too; what Redis
        # does not count is written to the rows directly after it (`settle`), never lost.
        with fact_accesses_deferred() as accesses:
            response = self.get_response(request)
        usage: dict[str, object] | None = None
        tenant_id = getattr(request, "tenant_id", None)
        match = getattr(request, "resolver_match", None)
        if tenant_id and match is not None and match.route:
            try:
                route = _ROUTE_PARAM.sub(r"{\1}", match.route)
                usage = {
                    "tenant_id": tenant_id,
                    "endpoint": f"{request.method} /{route}",
                    "status": response.status_code,
                    "latency_ms": (time.perf_counter() - started) * 1000,
                    "request_bytes": int(request.META.get("CONTENT_LENGTH") or 0),
                    "response_bytes": 0 if response.streaming else len(response.content),
                    "ingest_events": getattr(request, "usage_ingest_events", 0),
                    "tokens": getattr(request, "usage_tokens", 0),
                }
            except Exception:  # bookkeeping must never turn a served request into a 500
                logger.exception(
                    "usage metering failed request_id=%s", getattr(request, "request_id", "-")
                )
        if usage is None and not deferred and not queued and not accesses.pending:
            return response
        counted = usage

        def queue_usage(pipe: object) -> None:
            accesses.queue(pipe)  # `settle` reads its commands' results by position
            for queue in queued:
                try:
                    queue(pipe)
                except Exception:  # a cache write is never worth a 500
                    logger.exception(
                        "deferred redis write failed request_id=%s",
                        getattr(request, "request_id", "-"),
                    )
            if counted is None:
                return
            try:
                usage_record_queue(pipe, **counted)
            except Exception:  # as above: never a 500 for bookkeeping
                logger.exception(
                    "usage metering failed request_id=%s", getattr(request, "request_id", "-")
                )

        # Audit entries are not bookkeeping: if Redis is down they are inserted directly,
        # and a failure of that fails the request as it did when the view wrote them.
        pushed = audit_rows_push(deferred, also=queue_usage, then=accesses.settle)
        if not pushed and usage is not None:
            logger.warning(
                "usage not recorded: redis unavailable tenant=%s endpoint=%s",
                tenant_id,
                usage["endpoint"],
            )
        return response
