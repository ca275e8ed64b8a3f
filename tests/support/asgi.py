"""Driving an ASGI application in-process, one request at a time, as a server would."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.http import HttpRequest, JsonResponse

T = TypeVar("T")


def run_in_thread(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run in a thread of its own (an earlier test may leave a loop in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


async def asgi_call(
    app: Any,
    method: str,
    route: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: bytes = b"",
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One HTTP request through `app`: status, response headers (names lower-cased, in
    order) and the body. The client never disconnects."""
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
    response_headers = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], response_headers, content


# Two requests in flight at once: the first waits in `held_view` until the second has
# arrived (in another thread), bounded by HELD_GUARD_SECONDS, which only a handler that
# serialises requests would reach. Route it as "held" in a test module's urlpatterns.
HELD_GUARD_SECONDS = 30
_arrived = threading.Event()


def held_view(request: HttpRequest) -> JsonResponse:
    """The first request waits here until the second (`?role=second`) has arrived."""
    here = {"thread": threading.get_ident(), "name": threading.current_thread().name}
    if request.GET.get("role") == "second":
        _arrived.set()
        return JsonResponse(here)
    return JsonResponse({**here, "met": _arrived.wait(HELD_GUARD_SECONDS)})


def held_release() -> None:
    """Let a lone first request through `held_view` at once."""
    _arrived.set()


def two_held_requests(app: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """GET /held twice at once through `app`; both answers' JSON (each asserted 200)."""
    _arrived.clear()

    async def scenario() -> list[tuple[int, list[tuple[str, str]], bytes]]:
        first = asyncio.create_task(asgi_call(app, "GET", "/held"))
        second = asyncio.create_task(asgi_call(app, "GET", "/held", query=b"role=second"))
        return list(await asyncio.gather(first, second))

    (s1, _, b1), (s2, _, b2) = run_in_thread(scenario)
    assert (s1, s2) == (200, 200)
    return json.loads(b1), json.loads(b2)
