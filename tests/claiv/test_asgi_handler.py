"""The server's Django handler (claiv.asgi.SyncChainHandler): the middleware chain and the
view are one synchronous call in the request's thread, requests still run at the same time
(one thread each), and an ingest through it behaves as through Django's own handler (status,
envelope, X-Request-ID, Server-Timing, the stored row). No timing: the concurrency test
holds one request until the other has run, and fails if they cannot overlap."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings
from django.urls import path

from claiv.asgi import SyncChainHandler
from keys.models import ApiKey
from memory.models import Event
from tests.support.asgi import asgi_call, held_view, run_in_thread, two_held_requests

# Bounds a wait that only a broken handler would reach (the test then fails, not hangs).


_run = run_in_thread


async def _call(
    app: Any,
    method: str,
    route: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    status, response_headers, content = await asgi_call(app, method, route, body, headers, query)
    return status, dict(response_headers), content


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


urlpatterns = [path("held", held_view)]


@override_settings(ROOT_URLCONF=__name__)
def test_requests_in_flight_run_at_the_same_time_one_thread_each() -> None:
    first, second = two_held_requests(SyncChainHandler())
    assert first["met"] is True  # the second ran while the first was still in its view
    assert first["thread"] != second["thread"]
