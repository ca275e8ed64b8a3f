"""`GET /metrics`: the Prometheus text exposition, behind a bearer token.

Served only when `CLAIV_METRICS_TOKEN` is set, and then only to `Authorization: Bearer
<token>` (compared in constant time). Everything else — no token configured, no header, a
wrong token — gets the same 404 `not_found` envelope as any unknown URL, so an unauthorised
caller cannot even tell the endpoint exists (never open by default).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from claiv.errors import error_response
from claiv.metrics.queues import queue_depth_collector
from claiv.metrics.registry import MULTIPROC_DIR


def metrics_token_valid(authorization: str, token: str) -> bool:
    """True when `authorization` is `Bearer <token>` and a token is configured."""
    if not token:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def metrics_registry() -> CollectorRegistry:
    """Every process's samples (multiprocess mode) or this one's, plus the broker's queues."""
    if MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessRegistry())
    registry.register(queue_depth_collector())
    return registry


class _ProcessRegistry(Collector):
    """The default registry's metrics, registered into a per-scrape registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method != "GET" or not metrics_token_valid(
        request.headers.get("Authorization", ""), settings.CLAIV_METRICS_TOKEN
    ):
        return error_response(request, "not_found", "Not found.")
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
