"""A standalone exporter for pods that serve no HTTP (Celery workers, beat).

`python -m claiv.metrics.server [--port 9808]` serves `GET /metrics` from the same
`PROMETHEUS_MULTIPROC_DIR` the worker processes write to (in Kubernetes: a sidecar sharing
an emptyDir), under the same rule as the API: only with `CLAIV_METRICS_TOKEN` set and
presented as a bearer token, 404 otherwise. Broker queue depth is the API's to export.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

DEFAULT_PORT = 9808
_NOT_FOUND = b'{"error":{"code":"not_found","message":"Not found.","request_id":"","details":{}}}'


def exporter_app(token: str, multiproc_dir: str) -> Callable[..., Iterable[bytes]]:
    """A WSGI app answering the scrape; `token` empty means it answers nothing."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from claiv.metrics.exposition import metrics_token_valid

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != "/metrics"
            or environ.get("REQUEST_METHOD") != "GET"
            or not metrics_token_valid(environ.get("HTTP_AUTHORIZATION", ""), token)
        ):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [_NOT_FOUND]
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiproc_dir)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(registry)]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per scrape is noise
        pass


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    from django.conf import settings

    from claiv.metrics.registry import MULTIPROC_DIR

    if not MULTIPROC_DIR:
        raise SystemExit("PROMETHEUS_MULTIPROC_DIR must name the workers' metrics directory")
    app = exporter_app(settings.CLAIV_METRICS_TOKEN, MULTIPROC_DIR)
    make_server(args.host, args.port, app, handler_class=_QuietHandler).serve_forever()


if __name__ == "__main__":
    main()
