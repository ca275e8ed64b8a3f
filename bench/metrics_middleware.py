"""Per-request cost of claiv.metrics' request middleware, measured in-process.

    .venv/bin/python -m bench.metrics_middleware [--requests 20000]

Runs the middleware around a view that returns at once, in multiprocess mode (a temporary
PROMETHEUS_MULTIPROC_DIR, as deployed), against the same loop without it; prints the
difference per request. No server, database or broker is involved.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="claiv-bench-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        _measure(args.requests, args.rounds)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _measure(requests: int, rounds: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://bench@127.0.0.1:1/none")
    import django

    django.setup()
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from claiv.metrics.middleware import RequestMetricsMiddleware

    request = RequestFactory().get("/v1/events/evt_123")
    request.resolver_match = resolve("/v1/events/evt_123")
    response = HttpResponse(b"{}", status=200)
    response["Server-Timing"] = "cache;desc=hit"

    def view(_request: object) -> HttpResponse:
        return response

    wrapped = RequestMetricsMiddleware(view)
    per_request: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            view(request)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(requests):
            wrapped(request)
        per_request.append((time.perf_counter() - started - bare) / requests * 1e6)
    print(
        f"metrics middleware: median {statistics.median(per_request):.1f} µs per request "
        f"(rounds: {', '.join(f'{value:.1f}' for value in per_request)}; "
        f"{requests} requests each)"
    )


if __name__ == "__main__":
    main()
