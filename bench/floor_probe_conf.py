"""gunicorn settings for `bench.recall_floor http --probe`: the product's settings
(`claiv.gunicorn_conf`) plus per-stage timings of every request, written by each worker to
`$FLOOR_PROBE_DIR/<pid>.jsonl` (one JSON line per request, keyed by its X-Request-ID).

Nothing here is product code: the probes wrap module attributes in the worker after the app
is loaded. Stages (ms from the ASGI call unless said):
- `django_in`: Django's first middleware starts (thread hop + request_started signal +
  building the request), `django_out`: it returns; `sent`: the response's last byte is
  handed to the server; `done`: the ASGI call returns (Django's request_finished clean-up).
- durations: `auth`, `ratelimit`, `quota`, `validate`, `version`, `compute` (the recall and
  its JSON), `recall_cached` (version + cache get + compute + cache write), `engine` (v1
  `memory_recall` / `memory_recall_v6`), `retrieve`, `channels`, `embed_query`, `locality`,
  `hydrate`, `joined_hits`, `blocks`, `instructions`, `pack`, `facts_accessed`, `render`,
  `audit_push` (audit + usage, one Redis round trip), `gc` (collector pauses during the
  request, any generation) and `gc_n`.
"""

from __future__ import annotations

import contextvars
import gc
import json
import os
import time
from collections.abc import Callable
from typing import Any

from claiv.gunicorn_conf import *  # noqa: F403 - the product's settings, then ours
from claiv.gunicorn_conf import post_worker_init as _product_post_worker_init

wsgi_app = "bench.floor_probe_conf:application"

_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "floor_probe", default=None
)
_gc_started: list[float] = [0.0]
_out: list[Any] = [None]
_served: list[int] = [0]


def _now_ms(record: dict[str, Any]) -> float:
    return (time.perf_counter() - record["_t0"]) * 1000


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        record = _current.get()
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if record is not None:
                record[name] = record.get(name, 0.0) + (time.perf_counter() - started) * 1000

    return wrapper


def _gc_callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    record = _current.get()
    if record is not None:
        record["gc"] = record.get("gc", 0.0) + (time.perf_counter() - _gc_started[0]) * 1000
        record["gc_n"] = record.get("gc_n", 0) + 1
        record[f"gc{info['generation']}"] = record.get(f"gc{info['generation']}", 0) + 1


async def application(scope: Any, receive: Any, send: Any) -> None:
    from claiv.asgi import application as product

    if scope["type"] != "http" or "/recall" not in scope.get("path", ""):
        await product(scope, receive, send)
        return
    record: dict[str, Any] = {"_t0": time.perf_counter(), "path": scope["path"]}
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            record["id"] = value.decode()
    token = _current.set(record)

    async def timed_send(message: Any) -> None:
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            record["sent"] = _now_ms(record)

    try:
        await product(scope, receive, timed_send)
    finally:
        record["done"] = _now_ms(record)
        _current.reset(token)
        _served[0] += 1
        if _served[0] % 50 == 1:  # the collector's share of the heap, now and then
            record["heap_unfrozen"] = len(gc.get_objects())
            record["heap_frozen"] = gc.get_freeze_count()
        if os.environ.get("FLOOR_PROBE_HEAP") and _served[0] == int(os.environ["FLOOR_PROBE_HEAP"]):
            import collections

            objects = gc.get_objects()
            kinds = collections.Counter(
                f"{type(o).__module__}.{type(o).__qualname__}" for o in objects
            )
            record["heap_types"] = kinds.most_common(60)
            record["heap_gen_counts"] = gc.get_count()
        record.pop("_t0")
        _out[0].write(json.dumps(record) + "\n")
        _out[0].flush()


def _install() -> None:
    import claiv.api
    import claiv.middleware
    import keys.authentication
    import memory.api.v6
    import memory.api.views
    import memory.audit
    import memory.recall.cache
    import memory.recall.engine as engine
    import memory.recall.v6
    import memory.usage
    from memory.recall import documents, locality

    keys.authentication.api_key_authenticate = _timed(
        "auth", keys.authentication.api_key_authenticate
    )
    keys.authentication.api_key_touch = _timed("auth_touch", keys.authentication.api_key_touch)
    claiv.api.rate_limit_hit = _timed("ratelimit", claiv.api.rate_limit_hit)
    memory.usage.usage_quota_check = _timed("quota", memory.usage.usage_quota_check)
    memory.api.views.validated = _timed("validate", memory.api.views.validated)
    memory.recall.cache.user_memory_version = _timed(
        "version", memory.recall.cache.user_memory_version
    )
    memory.recall.cache.recall_reads = _timed("compute", memory.recall.cache.recall_reads)
    memory.api.views.recall_cached = _timed("recall_cached", memory.api.views.recall_cached)
    memory.api.views.json_rendered = _timed("render", memory.api.views.json_rendered)
    memory.api.v6.json_rendered = _timed("render", memory.api.v6.json_rendered)
    memory.api.views.memory_recall = _timed("engine", memory.api.views.memory_recall)
    memory.api.v6.memory_recall_v6 = _timed("engine", memory.api.v6.memory_recall_v6)
    memory.audit.audit_rows_push = _timed("audit_push", memory.audit.audit_rows_push)
    engine.retrieve = _timed("retrieve", engine.retrieve)
    memory.recall.v6.retrieve = _timed("retrieve", memory.recall.v6.retrieve)
    locality.turns_around = _timed("locality", locality.turns_around)
    documents.joined_hits = _timed("joined_hits", documents.joined_hits)
    for name, label in (
        ("blocks_from", "blocks"),
        ("with_instructions", "instructions"),
        ("pack", "pack"),
        ("facts_accessed", "facts_accessed"),
        ("_hydrate", "hydrate"),
    ):
        setattr(engine, name, _timed(label, getattr(engine, name)))
    v6 = memory.recall.v6
    for name, label in (
        ("facts_accessed", "facts_accessed"),
        ("pack", "pack"),
        ("blocks_from", "blocks"),
        ("with_instructions", "instructions"),
        ("_supporting_and_background", "v6_supporting"),
        ("_history", "v6_history"),
    ):
        setattr(v6, name, _timed(label, getattr(v6, name)))
    documents.document_tags = _timed("v6_tags", documents.document_tags)
    observe = engine._channel_observe

    def observed(channel: str, started: float) -> None:
        record = _current.get()
        if record is not None and channel in ("channels", "embed_query"):
            record[channel] = record.get(channel, 0.0) + (time.perf_counter() - started) * 1000
        observe(channel, started)

    engine._channel_observe = observed  # type: ignore[assignment]

    middleware_call = claiv.middleware.RequestIdMiddleware.__call__

    def request_id_call(self: Any, request: Any) -> Any:
        record = _current.get()
        if record is not None:
            record["django_in"] = _now_ms(record)
        try:
            return middleware_call(self, request)
        finally:
            if record is not None:
                record["django_out"] = _now_ms(record)

    claiv.middleware.RequestIdMiddleware.__call__ = request_id_call  # type: ignore[method-assign]


def post_worker_init(worker: Any) -> None:
    # gunicorn loaded `application` above, which imports the product's app lazily: import
    # it now, so the product's post_worker_init sees the worker as the product's own
    # config leaves it (the app loaded after the fork, before post_worker_init).
    import claiv.asgi  # noqa: F401

    _product_post_worker_init(worker)
    directory = os.environ["FLOOR_PROBE_DIR"]
    _out[0] = open(os.path.join(directory, f"{os.getpid()}.jsonl"), "a")  # noqa: SIM115
    _install()
    gc.callbacks.append(_gc_callback)
