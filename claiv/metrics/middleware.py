"""Request metrics: one histogram sample per request, labelled by route pattern.

The label is the URL pattern that matched (`v1/events/<str:event_id>`), never the raw path,
so no user or event id becomes a label value; requests that matched nothing share
`<unmatched>`. Recall cache hits and misses are read from the `Server-Timing` metric the
recall views already set (`cache;desc=hit|miss`), so the recall code needs no hook.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from claiv.metrics import registry
from claiv.metrics.pool import db_pool_sample

UNMATCHED_ROUTE = "<unmatched>"


class RequestMetricsMiddleware:
    """Outermost middleware (first in MIDDLEWARE), so the time is the whole stack's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else UNMATCHED_ROUTE
        registry.request_observe(
            method=request.method or "",
            route=route,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        timing = response.get("Server-Timing", "")
        if "cache;desc=" in timing:
            registry.recall_cache_record(hit="cache;desc=hit" in timing)
        db_pool_sample()
        return response
