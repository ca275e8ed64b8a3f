"""ASGI entry point for the API server (gunicorn's `asgi` worker, see claiv.gunicorn_conf).

Three layers, outermost first:
- `RequestGuard`: the rules every request obeys before any app sees it — URI and header
  sizes (414/431), a body that must arrive within `REQUEST_BODY_TIMEOUT` seconds (408) and
  stay under `MAX_BODY_BYTES` whatever its framing (413, chunked included). It hands the
  app the whole body at once with a true `Content-Length`, so Django and DRF read chunked
  bodies like any other.
- `PathRouter`: sends a path prefix to its own ASGI app (the MCP server at `/mcp`,
  claiv.mcp.http), everything else to Django. It answers the lifespan protocol itself,
  since Django's handler does not speak it, and runs the mounted apps' lifespans in it.
- Django's ASGI handler.

Refusals are in the API's error envelope, with an `X-Request-ID` like every response.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "claiv.settings")
# Under ASGI each request's sync code runs in a thread of its own, so a persistent
# connection would last one request: the server borrows connections from a pool instead
# (settings.DATABASES). Celery and management commands keep persistent connections.
os.environ.setdefault("DB_POOL", "true")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RequestLimits:
    max_body_bytes: int
    body_timeout_s: float
    max_uri_bytes: int
    max_header_bytes: int  # one `name: value` line


class _Refusal(Exception):
    def __init__(
        self, code: str, status: int, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message
        self.details = details or {}


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _request_id(scope: Scope) -> str:
    from claiv.middleware import CLIENT_REQUEST_ID

    given = (_header(scope, b"x-request-id") or b"").decode("latin-1")
    return given if CLIENT_REQUEST_ID.match(given) else str(uuid.uuid4())


async def _send_refusal(send: Send, refusal: _Refusal, request_id: str) -> None:
    from claiv.errors import error_body

    body = json.dumps(
        error_body(refusal.code, refusal.message, request_id, refusal.details)
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                # The rest of a refused body may still be on the wire: never reuse the connection.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AdmissionGuard:
    """Admission control (claiv.admission) at the door, in the event loop: a request over its
    lane's limit of requests in flight gets 503 `unavailable` with `Retry-After` at once,
    before Django and the thread hop every Django request costs. Inside RequestGuard, so a
    slow upload holds no place. The connection stays usable (the body was read)."""

    def __init__(self, app: ASGIApp) -> None:
        from claiv.admission import lanes_build

        self.app = app
        self.lanes = lanes_build()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from claiv.admission import ADMITTED_SCOPE_KEY, lane_of, refusal_details

        name = lane_of(scope["path"]) if scope["type"] == "http" else None
        if name is None:
            await self.app(scope, receive, send)
            return
        lane = self.lanes[name]
        started = time.perf_counter()
        if not lane.try_enter():
            message, details = refusal_details(lane)
            await _send_unavailable(send, message, details, _request_id(scope), started)
            return
        scope[ADMITTED_SCOPE_KEY] = True
        held = True

        async def send_then_leave(message: Message) -> None:
            # The place is given back with the response's last byte, not when the app
            # returns: Django's handler still runs its request_finished clean-up after that,
            # while a keep-alive client already sends its next request (which was refused
            # at normal load when the place was held through the clean-up).
            nonlocal held
            await send(message)
            if held and message["type"] == "http.response.body" and not message.get("more_body"):
                held = False
                lane.leave()

        try:
            await self.app(scope, receive, send_then_leave)
        finally:
            if held:
                lane.leave()


async def _send_unavailable(
    send: Send, message: str, details: dict[str, Any], request_id: str, started: float
) -> None:
    from claiv.errors import error_body

    body = json.dumps(error_body("unavailable", message, request_id, details)).encode()
    elapsed_ms = (time.perf_counter() - started) * 1000
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"retry-after", str(details["retry_after"]).encode()),
                (b"server-timing", f"app;dur={elapsed_ms:.2f}".encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Checks sizes and reads the whole body (bounded in bytes and time) before `app` runs."""

    def __init__(self, app: ASGIApp, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_head(scope)
            body = await self._read_body(scope, receive)
        except _Refusal as refusal:
            await _send_refusal(send, refusal, _request_id(scope))
            return
        if body is None:  # the client went away before sending all of it
            return
        await self.app(self._framed(scope, len(body)), _replay(body, receive), send)

    def _check_head(self, scope: Scope) -> None:
        limits = self.limits
        uri_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope.get("query_string") or b""
        )
        if uri_bytes > limits.max_uri_bytes:
            raise _Refusal(
                "uri_too_long",
                414,
                f"Request URIs are limited to {limits.max_uri_bytes} bytes.",
                {"limit_bytes": limits.max_uri_bytes},
            )
        for name, value in scope["headers"]:
            if len(name) + 2 + len(value) > limits.max_header_bytes:
                raise _Refusal(
                    "headers_too_large",
                    431,
                    f"Each request header is limited to {limits.max_header_bytes} bytes.",
                    {
                        "limit_bytes": limits.max_header_bytes,
                        "header": bytes(name[:64]).decode("latin-1"),
                    },
                )
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.isdigit():
                raise _Refusal("invalid_request", 400, "Content-Length is not a number.")
            if int(length) > limits.max_body_bytes:
                raise self._too_large()

    def _too_large(self) -> _Refusal:
        return _Refusal(
            "payload_too_large",
            413,
            f"Request bodies are limited to {self.limits.max_body_bytes} bytes.",
            {"limit_bytes": self.limits.max_body_bytes},
        )

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None on disconnect. A slow or lying client (a Content-Length
        longer than what it sends) gets 408 once the deadline passes, so it holds no
        thread, no connection from the pool and no lock for longer than that."""
        deadline = time.monotonic() + self.limits.body_timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                raise _Refusal(
                    "request_timeout",
                    408,
                    f"The request body did not arrive within {self.limits.body_timeout_s:g}"
                    " seconds; check that Content-Length matches the body.",
                    {"timeout_seconds": self.limits.body_timeout_s},
                ) from None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:  # chunked: no length to check up front
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _framed(scope: Scope, length: int) -> Scope:
        """The scope as if the body had come with a Content-Length (Django's WSGI-era
        request code and DRF read no body without one)."""
        headers = [
            (k, v)
            for k, v in scope["headers"]
            if k not in (b"content-length", b"transfer-encoding")
        ]
        if length or _header(scope, b"content-length") is not None:
            headers.append((b"content-length", str(length).encode()))
        return {**scope, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that returns the buffered body once, then the server's own messages
    (Django waits on them for the client's disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class PathRouter:
    """Routes by path prefix: `mounts` first (longest prefix first), then `default`.

    A mounted app sees the full path with the prefix in `root_path`, as Starlette's `Mount`
    does. Lifespan events are answered here: `lifespans` (e.g. MCP's session manager) are
    entered at startup, in order, and exited at shutdown.
    """

    def __init__(
        self,
        default: ASGIApp,
        mounts: dict[str, ASGIApp] | None = None,
        lifespans: Sequence[Callable[[], AbstractAsyncContextManager[None]]] = (),
    ) -> None:
        self.default = default
        self.mounts = sorted((mounts or {}).items(), key=lambda item: -len(item[0]))
        self.lifespans = tuple(lifespans)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope.get("path", "")
        for prefix, app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                await app(
                    {**scope, "root_path": scope.get("root_path", "") + prefix}, receive, send
                )
                return
        if scope["type"] != "http":  # Django speaks HTTP only
            await send({"type": "websocket.close", "code": 1000})
            return
        await self.default(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # One task from startup to shutdown: task groups entered here (MCP's) exit here.
        async with AsyncExitStack() as stack:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        for lifespan in self.lifespans:
                            await stack.enter_async_context(lifespan())
                    except Exception as exc:
                        await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await stack.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return


class SyncChainHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the view run as ONE synchronous
    call in the request's thread.

    Django's own handler builds an async chain: a sync-only middleware (all of claiv's) then
    sits between async-capable ones (Django's), so every request crossed from its thread to
    the event loop and back twice more than needed (async_to_sync around the inner
    middleware, sync_to_async around the sync view). Each crossing waits for the event loop
    and for the GIL; with several requests in flight per process those waits were most of a
    single ingest's time (BENCHMARKS.md "Ingest at rate: one thread hop per request").
    Every view here is synchronous, so nothing is lost: requests still run concurrently, one
    thread each (Django's ThreadSensitiveContext per request), and the event loop still owns
    the sockets (idle and slow connections hold no thread)."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the thread of this request's ThreadSensitiveContext, where the
        # request_started receivers ran (its database connections are that thread's).
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


class OneHopHandler(SyncChainHandler):
    """`SyncChainHandler` with a request on `hop_paths` served in ONE hop to a thread of a
    persistent pool: request_started, the request object, the middleware chain and the view,
    the response's content and close (request_finished: the database connection goes back
    to the pool) all run there; the event loop only reads the body and sends the answer.

    Django's own per-request work around the chain costs three thread↔loop crossings
    (request_started, the chain, response.close), two asyncio tasks (the view and a
    disconnect listener) and a new OS thread per request (its ThreadSensitiveContext). On the
    hot ingest endpoints that was a quarter of a web worker's CPU per single ingest
    (BENCHMARKS.md "Ingest at rate: one hop per request"). Everything the request goes
    through is the same code as on other paths (middleware, DRF view, error envelope), so
    its answers are the same, byte for byte except ids and timings
    (tests/claiv/test_one_hop_handler.py).

    What differs, and why it is safe on these paths: the view is not cancelled when the
    client goes away (a sync view never was; its thread ran to the end), the response goes
    out after request_finished instead of before (the connection's return to the pool is
    microseconds), and the response must not stream (these views return JSON; a streaming
    one would be read whole in the thread). Threads: `threads` (get_asgi_application: the
    admission limits of the paths' lanes added up, so an admitted request never waits for
    a thread; 32 for an unlimited lane, over which requests queue in arrival order)."""

    def __init__(self, hop_paths: frozenset[str], threads: int) -> None:
        super().__init__()
        self.hop_paths = hop_paths
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="claiv-hop")

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Mapping[str, Any]]],
        send: Callable[[Mapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["path"] not in self.hop_paths:
            await super().__call__(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:  # under RequestGuard: one message with the whole body
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # as Django: nothing ran, nothing to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        loop = asyncio.get_running_loop()
        # The loop's context (asgiref Locals: script prefix, urlconf) travels with the call.
        status, headers, content = await loop.run_in_executor(
            self.pool, contextvars.copy_context().run, self._serve, scope, b"".join(chunks)
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _serve(self, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """What Django's `handle` does for one request, synchronously, in this thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, refused = self.create_request(scope, io.BytesIO(body))
        response: HttpResponseBase
        if request is None:  # an undecodable request line: Django's own 400
            response = cast(HttpResponseBase, refused)
        else:
            response = self.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
        try:
            if response.streaming:
                content = b"".join(cast(Iterable[bytes], response))
            else:
                content = cast(HttpResponse, response).content
            headers = [
                (header.encode("ascii"), value.encode("latin1"))
                for header, value in response.items()
            ]
            headers.extend(
                (b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
                for cookie in response.cookies.values()
            )
            return response.status_code, headers, content
        finally:
            response.close()  # request_finished: this thread's connections go back


def get_asgi_application() -> SyncChainHandler:
    """As `django.core.asgi.get_asgi_application`, with `OneHopHandler` for the ingest
    endpoints (`settings.ONE_HOP_PATHS`) and `SyncChainHandler` for every other path."""
    import django

    django.setup(set_prefix=False)
    from django.conf import settings

    from claiv.admission import lane_of

    paths = frozenset(p for p in settings.ONE_HOP_PATHS if p)
    if not paths:
        return SyncChainHandler()
    # As many threads as the paths' admission lanes let in at once: an admitted request
    # never waits for one. A lane without a limit (0) gets a fixed 32.
    lanes = {lane_of(p) or "" for p in paths}  # "" (never refused): no limit
    limits = [int(settings.ADMISSION_LIMITS.get(lane, 0)) for lane in lanes]
    threads = sum(limits) if all(limits) else 32
    return OneHopHandler(paths, threads=threads)


def application_build() -> ASGIApp:
    """The server's ASGI app, configured from Django settings."""
    # Django's handler is an ASGI app; its stub types __call__ more narrowly than ASGIApp.
    django_app = cast(ASGIApp, get_asgi_application())
    from django.conf import settings

    limits = RequestLimits(
        max_body_bytes=settings.MAX_BODY_BYTES,
        body_timeout_s=settings.REQUEST_BODY_TIMEOUT,
        max_uri_bytes=settings.MAX_URI_BYTES,
        max_header_bytes=settings.MAX_HEADER_BYTES,
    )
    from claiv.mcp.http import MOUNT_PATH, McpApp

    mcp_app = McpApp()
    router = PathRouter(
        cast(ASGIApp, django_app), mounts={MOUNT_PATH: mcp_app}, lifespans=[mcp_app.lifespan]
    )
    return RequestGuard(AdmissionGuard(router), limits)


application = application_build()
