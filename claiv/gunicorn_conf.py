"""gunicorn settings shared by `make dev`, the Docker image and the benchmarks.

Every caller runs `python -m gunicorn --config python:claiv.gunicorn_conf --bind HOST:PORT
--workers N`; the app and the worker class live here.

gunicorn's own ASGI worker: an event loop per process, so idle, half-sent or slow
connections cost a socket each and hold no worker (the sync workers they used to freeze
read without a timeout). claiv.asgi bounds how long a body may take and answers oversize
URIs and headers in the error envelope.
"""

import gc
import json
import logging
import os
import sys
from typing import Any

wsgi_app = "claiv.asgi:application"
worker_class = "asgi"
# Heartbeat: a worker whose event loop is blocked this long is restarted.
timeout = 120
# Seconds an idle keep-alive connection stays open between requests (ingest clients reuse
# connections); a load balancer in front should keep its own idle timeout above this.
keepalive = 5
# Backstops only: claiv.asgi refuses URIs over 4096 bytes and header lines over 8190 in the
# envelope (settings.MAX_URI_BYTES / MAX_HEADER_BYTES); gunicorn's plain-text refusal is
# left for requests even larger than that.
limit_request_line = 8190
limit_request_field_size = 16384
accesslog = "-"

# gunicorn's own refusals (a malformed request line, a line or header past the limits above)
# are plain text; every answer of this API is in the error envelope, so they are too.
_PROTOCOL_CODES = {
    400: "invalid_request",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
}
_PROTOCOL_MESSAGES = {
    400: "The request is not valid HTTP.",
    408: "The request did not arrive in time.",
    413: "The request is too large.",
    414: "The request line is too long.",
    431: "The request's header fields are too large.",
}


def _envelope_protocol_error(
    protocol: Any, status: int, message: str, extra_headers: Any = ()
) -> None:
    """Stands in for gunicorn's ASGIProtocol._send_error_response. gunicorn's message can
    quote the request, so a fixed sentence per status goes to the client instead."""
    code = _PROTOCOL_CODES.get(status, "invalid_request" if status < 500 else "internal_error")
    body = json.dumps(
        {
            "error": {
                "code": code,
                "message": _PROTOCOL_MESSAGES.get(status, "Bad request."),
                "request_id": "",
                "details": {},
            }
        }
    ).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
    head = (
        f"HTTP/1.1 {status} {protocol._get_reason_phrase(status)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\n\r\n"
    )
    protocol._safe_write(head.encode("latin-1"))
    protocol._safe_write(body)


def on_starting(server: Any) -> None:
    """Runs in the master before any worker forks, so every worker inherits the patch and
    the read-only models (`_models_load`)."""
    from gunicorn.asgi.protocol import ASGIProtocol

    ASGIProtocol._send_error_response = _envelope_protocol_error
    try:
        _models_load(server)
    except Exception:
        # The workers then load what they need themselves (post_worker_init), as before.
        server.log.exception("loading the models in the master failed; workers load their own")


def _models_load(server: Any) -> None:
    """Load the query embedder, the token counter and the date parser once, in the master.

    Workers inherit them over fork and share their pages copy-on-write: each worker used to
    load its own copy after the fork (~580 MB private each, torch included). Web processes
    embed only queries, so they run the model on ONNX Runtime alone and never import torch
    (EMBEDDING_RUNTIME=onnx; the graph is exported once in a child process if missing). A
    replacement worker is ready as soon as it is forked. Nothing here opens a database
    connection or starts a thread, so the fork inherits neither."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
    # As claiv.asgi sets it, before settings are read here for the first time.
    os.environ.setdefault("DB_POOL", "true")
    os.environ.setdefault("EMBEDDING_RUNTIME", "onnx")
    # The Rust tokenizer's thread pool must not exist before fork (it would be disabled in
    # the children with a warning anyway).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import django

    django.setup()
    from django.db import connections

    from memory.embedding import embedder_warm, onnx_graph_ensure
    from memory.recall.routing import routing_warm
    from memory.tokens import encoding

    if os.environ["EMBEDDING_RUNTIME"] == "onnx":
        onnx_graph_ensure()
    embedder_warm()
    encoding()
    routing_warm()
    connections.close_all()
    # Everything loaded so far (the model, Django: hundreds of thousands of objects) lives
    # as long as the workers. Left to the collector, each full collection walked all of it
    # (one took 328 ms in the middle of a recall; frozen, 7 ms) and, after fork, wrote to
    # every object's header, un-sharing the pages.
    gc.collect()
    gc.freeze()
    server.log.info("master warm: embedder, tokenizer and date parser loaded before fork")


def post_worker_init(worker: Any) -> None:
    """Check the embedding space, and warm what the master did not (idempotent: loaded
    before fork, these are cache hits)."""
    from memory.embedding import embedder_warm
    from memory.embedding_space import embedding_space_verify_or_exit
    from memory.recall.routing import routing_warm
    from memory.tokens import encoding

    # The configured model must match the stored vectors; exit 3 (WORKER_BOOT_ERROR) makes
    # the master halt instead of forking replacements forever.
    embedding_space_verify_or_exit(exit_code=3)
    _switch_interval_apply()
    embedder_warm()
    encoding()
    routing_warm()
    _heap_freeze()
    worker.log.info("worker %s warm: embedder, tokenizer and date parser loaded", worker.pid)


def _switch_interval_apply() -> None:
    """Set this worker's GIL switch interval from `settings.GIL_SWITCH_INTERVAL_MS` (0: leave
    Python's 5 ms). A worker's event loop and request threads take turns at one GIL; a
    thread back from a socket waits for the holder to release it, at the latest after this
    interval. Measured on the loaded 2-core machine, 0.5 ms did not shorten the time request
    threads spend blocked (BENCHMARKS.md "Ingest at rate: where a single ingest's server
    time goes"), so it stays a knob to measure with on a deployment's own machine."""
    from django.conf import settings

    if settings.GIL_SWITCH_INTERVAL_MS > 0:
        sys.setswitchinterval(settings.GIL_SWITCH_INTERVAL_MS / 1000)


def _heap_freeze() -> None:
    """Freeze what the worker loaded after the fork, as the master froze what it loaded.

    The app is imported in each worker (gunicorn loads `wsgi_app` after the fork): Django's
    URLconf, DRF, the views, the MCP server and their libraries, ~50k objects the master's
    freeze never saw. Every full collection walked all of them again, in the middle of
    whichever request tripped it: one recall in ~50 paid 80-300 ms on a loaded machine
    (BENCHMARKS.md, "The tail of a small user's recall"). Frozen, a full collection walks
    only what requests leave alive."""
    gc.collect()
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    """A worker's metrics files stay (its counts still count); its live gauges leave the sum."""
    from claiv.metrics.registry import metrics_process_dead

    metrics_process_dead(worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    """The worker leaves with `os._exit`, after its own clean-up, keeping its exit status.

    Runs in the worker once its loop has ended (the ASGI lifespan shut down, "Worker
    exiting" logged), while the `SystemExit` gunicorn raised to end it is in flight. A
    normal interpreter exit would then run the exit handlers of ONNX Runtime, which the
    worker inherited over fork from the master (`_models_load`): they tear down state
    belonging to the master's threads, and the worker died of SIGABRT or hung in
    pthread_cond_destroy. Only the master, which loaded the model, runs them. The master
    also calls this hook for a worker it found already gone: it does nothing there."""
    if worker.pid != os.getpid():
        return
    leaving = sys.exc_info()[1]
    if not isinstance(leaving, SystemExit):
        return  # not gunicorn's way out: leave it to the interpreter
    code = leaving.code
    status = 0 if code is None else code if isinstance(code, int) else 1
    _worker_cleanup()
    os._exit(status & 0xFF)


def _worker_cleanup() -> None:
    """What the skipped interpreter exit would have done that matters: close the database
    connections and their pools (Postgres then sees a clean goodbye, not a reset), flush
    logs and the standard streams. Metrics need nothing: their files are shared mappings."""
    try:
        from django.db import connections

        for connection in connections.all():
            connection.close()
            # Only a pool that exists: `connection.pool` would create one to close it.
            if connection.alias in getattr(connection, "_connection_pools", {}):
                connection.close_pool()  # type: ignore[attr-defined]  # postgresql backend
    except Exception:
        logging.getLogger("claiv.gunicorn").exception("closing database connections at exit")
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
