"""Admission control: refuse work the process cannot start now, instead of queueing it.

Beside the per-key rate limit (claiv.ratelimit), which bounds what one client may ask for,
this bounds what one server process takes on at once. Each request belongs to a lane (recall,
ingest, forget, or "other"); each lane has a limit of requests in flight per process
(`ADMISSION_LIMITS`). A request over its lane's limit is answered at once with 503
`unavailable`, `Retry-After` and `details.retry_after`, before authentication or any database
or Redis work, so a refusal costs well under a millisecond of server time. Separate lanes mean
a flood of ingests cannot take the threads recalls need, and the reverse.

The counters are per process and thread-safe: several requests of one process are in flight
at once. Under the ASGI server the door is `claiv.asgi.AdmissionGuard`, in the event loop
before Django: a refusal there costs no thread hop and no middleware (on a 2-core host under a
10x burst the refusals' own CPU was what slowed the admitted requests); this middleware then
only counts requests that came another way (WSGI, the test client). Liveness and readiness are never
refused: a monitor must see a busy server as up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from claiv.errors import error_response

# Path → lane. Everything not listed (receipts, usage, events, the console, docs) is "other".
LANE_OF_PATH: Mapping[str, str] = {
    "/v1/recall": "recall",
    "/v2/recall": "recall",
    "/v6/recall": "recall",
    "/v1/ingest": "ingest",
    "/v6/ingest": "ingest",
    "/v1/ingest/batch": "ingest",
    "/v1/forget": "forget",
    "/v2/forget": "forget",
    "/v6/forget": "forget",
}
OTHER = "other"
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})


def lane_of(path: str) -> str | None:
    """The lane a request path is admitted through; None for paths never refused."""
    if path in UNLIMITED_PATHS:
        return None
    return LANE_OF_PATH.get(path, OTHER)


class Lane:
    """A counter of requests in flight with an upper bound; safe across threads."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit  # 0 = unlimited
        self.in_flight = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        """Take a place if one is free; never waits."""
        with self._lock:
            if self.limit and self.in_flight >= self.limit:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def lanes_build() -> dict[str, Lane]:
    """The process's lanes with their limits from settings."""
    limits: Mapping[str, int] = settings.ADMISSION_LIMITS
    return {
        name: Lane(name, int(limits.get(name, 0))) for name in ("recall", "ingest", "forget", OTHER)
    }


def refusal_details(lane: Lane) -> tuple[str, dict[str, object]]:
    """(message, details) of a refusal: the same from the ASGI door and from Django."""
    retry_after = int(settings.ADMISSION_RETRY_AFTER_SECONDS)
    return (
        f"The server is at capacity for {lane.name} requests; retry shortly.",
        {"retry_after": retry_after, "lane": lane.name},
    )


# Set in the ASGI scope by claiv.asgi.AdmissionGuard once it admitted the request, so the
# middleware below does not count it a second time.
ADMITTED_SCOPE_KEY = "claiv.admitted"


class AdmissionMiddleware:
    """Early middleware: admit a request into its lane or refuse it with 503 at once.

    One instance per process (Django builds the middleware chain once), so its lanes are the
    process's counters.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.lanes = lanes_build()
        self.retry_after = int(settings.ADMISSION_RETRY_AFTER_SECONDS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = lane_of(request.path)
        scope = getattr(request, "scope", None)  # an ASGI request's
        if name is None or (scope is not None and scope.get(ADMITTED_SCOPE_KEY)):
            return self.get_response(request)
        lane = self.lanes[name]
        if not lane.try_enter():
            return self._refused(request, lane)
        try:
            return self.get_response(request)
        finally:
            lane.leave()

    def _refused(self, request: HttpRequest, lane: Lane) -> HttpResponse:
        message, details = refusal_details(lane)
        response = error_response(request, "unavailable", message, details)
        response["Retry-After"] = str(self.retry_after)
        return response
