"""The server's Django handler (claiv.asgi.SyncChainHandler): the middleware chain and the
view are one synchronous call in the request's thread, requests still run at the same time
(one thread each), and an ingest through it behaves as through Django's own handler (status,
envelope, X-Request-ID, Server-Timing, the stored row). No timing: the concurrency test
holds one request until the other has run, and fails if they cannot overlap."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, JsonResponse
from django.test import override_settings
from django.urls import path

from claiv.asgi import SyncChainHandler
from keys.models import ApiKey
from memory.models import Event

T = TypeVar("T")
# Bounds a wait that only a broken handler would reach (the test then fails, not hangs).
GUARD_SECONDS = 30


def _run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run in a thread of its own (an earlier test may leave a loop in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


async def _call(
    app: Any,
    method: str,
    route: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []
    delivered = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never.wait()  # Django's disconnect listener, cancelled after the response
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw_headers = [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query,
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], response_headers, content


def test_the_middleware_chain_is_synchronous() -> None:
    # Django's handler starts an async chain (a thread↔loop crossing around each sync part);
    # this one a plain function, called once per request from the event loop.
    assert asyncio.iscoroutinefunction(ASGIHandler()._middleware_chain)
    assert not asyncio.iscoroutinefunction(SyncChainHandler()._middleware_chain)


@pytest.mark.django_db(transaction=True)
def test_an_ingest_through_the_handler(api_key: tuple[ApiKey, str]) -> None:
    body = json.dumps(
        {"user_id": "u1", "type": "message", "role": "user", "content": "I moved to Lisbon."}
    ).encode()
    auth = {"Authorization": f"Bearer {api_key[1]}", "Content-Type": "application/json"}

    async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
        app = SyncChainHandler()
        return [
            await _call(app, "POST", "/v1/ingest", body, auth | {"X-Request-ID": "req-1"}),
            await _call(app, "POST", "/v1/ingest", body, {"Authorization": "Bearer nope"}),
        ]

    (status, headers, content), (bad_status, _, bad_content) = _run(scenario)
    assert status == 200, content
    assert headers["x-request-id"] == "req-1"
    assert "app;dur=" in headers["server-timing"]
    event_id = json.loads(content)["event_id"]
    assert Event.objects.filter(pk=event_id, tenant=api_key[0].tenant).exists()
    assert bad_status == 401
    assert json.loads(bad_content)["error"]["code"]


_arrived = threading.Event()


def _held_view(request: HttpRequest) -> JsonResponse:
    """The first request waits here until the second has arrived in its own thread."""
    if request.GET.get("role") == "second":
        _arrived.set()
        return JsonResponse({"thread": threading.get_ident()})
    met = _arrived.wait(GUARD_SECONDS)
    return JsonResponse({"thread": threading.get_ident(), "met": met})


urlpatterns = [path("held", _held_view)]


@override_settings(ROOT_URLCONF=__name__)
def test_requests_in_flight_run_at_the_same_time_one_thread_each() -> None:
    _arrived.clear()

    async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
        app = SyncChainHandler()
        first = asyncio.create_task(_call(app, "GET", "/held"))
        second = asyncio.create_task(_call(app, "GET", "/held", query=b"role=second"))
        return list(await asyncio.gather(first, second))

    (s1, _, b1), (s2, _, b2) = _run(scenario)
    assert (s1, s2) == (200, 200)
    first, second = json.loads(b1), json.loads(b2)
    assert first["met"] is True  # the second ran while the first was still in its view
    assert first["thread"] != second["thread"]
