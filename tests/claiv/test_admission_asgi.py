"""The admission door of the ASGI server (claiv.asgi.AdmissionGuard): over a lane's limit a
request is refused in the event loop, before Django; other lanes and probes still pass; a
place is given back when the app finishes, failed or not; Django's middleware does not count
an admitted request twice. No timing: requests are held on events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.test import RequestFactory, override_settings

from claiv.admission import ADMITTED_SCOPE_KEY, AdmissionMiddleware
from claiv.asgi import AdmissionGuard

T = TypeVar("T")


def _run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run in a thread of its own: an earlier test of the session may leave an event
    loop running in this one (as Playwright's sync API does), and asyncio.run won't nest."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


LIMITS = {"recall": 1, "ingest": 1, "forget": 1, "other": 1}


class _HeldApp:
    """An ASGI app that answers 200 once its path's event is set."""

    def __init__(self) -> None:
        self.release: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = {}
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        self.entered.setdefault(scope["path"], asyncio.Event()).set()
        await self.release.setdefault(scope["path"], asyncio.Event()).wait()
        if scope["path"] == "/v6/ingest":
            raise RuntimeError("the app failed")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "POST", "headers": []}
    try:
        await app(scope, receive, send)
    except RuntimeError:
        return 500, {}, b""
    headers = {k.decode(): v.decode() for k, v in sent[0].get("headers", [])}
    return sent[0]["status"], headers, sent[1]["body"]


@override_settings(ADMISSION_LIMITS=LIMITS, ADMISSION_RETRY_AFTER_SECONDS=2)
def test_over_the_limit_is_refused_at_the_door_and_other_lanes_pass() -> None:
    async def scenario() -> list[Any]:
        inner = _HeldApp()
        guard = AdmissionGuard(inner)
        first = asyncio.create_task(_call(guard, "/v1/recall"))
        await inner.entered.setdefault("/v1/recall", asyncio.Event()).wait()
        refused = await _call(guard, "/v6/recall")  # same lane, full
        probe = asyncio.create_task(_call(guard, "/healthz"))  # never refused
        ingest = asyncio.create_task(_call(guard, "/v1/ingest"))  # another lane
        inner.release.setdefault("/healthz", asyncio.Event()).set()
        inner.release.setdefault("/v1/ingest", asyncio.Event()).set()
        inner.release["/v1/recall"].set()
        results = [refused, await probe, await ingest, await first]
        inner.release.setdefault("/v6/recall", asyncio.Event()).set()
        results.append(await _call(guard, "/v6/recall"))  # the place was given back
        results.append([s.get(ADMITTED_SCOPE_KEY) for s in inner.scopes])
        return results

    refused, probe, ingest, first, again, admitted = _run(scenario)
    status, headers, body = refused
    assert status == 503
    assert headers["retry-after"] == "2"
    assert headers["server-timing"].startswith("app;dur=")
    error = json.loads(body)["error"]
    assert (error["code"], error["details"]) == (
        "unavailable",
        {"retry_after": 2, "lane": "recall"},
    )
    assert [probe[0], ingest[0], first[0], again[0]] == [200, 200, 200, 200]
    # The probe passed without a lane; the three admitted through one were marked.
    assert admitted == [True, None, True, True]


@override_settings(ADMISSION_LIMITS=LIMITS)
def test_a_failing_app_gives_its_place_back() -> None:
    async def scenario() -> tuple[int, int]:
        inner = _HeldApp()
        guard = AdmissionGuard(inner)
        inner.release.setdefault("/v6/ingest", asyncio.Event()).set()
        failed = await _call(guard, "/v6/ingest")
        return failed[0], guard.lanes["ingest"].in_flight

    assert _run(scenario) == (500, 0)


@override_settings(ADMISSION_LIMITS=LIMITS)
def test_django_middleware_does_not_count_a_request_the_door_admitted() -> None:
    calls: list[str] = []
    middleware = AdmissionMiddleware(lambda request: calls.append(request.path) or "ok")  # type: ignore[arg-type,func-returns-value]
    middleware.lanes["recall"].in_flight = 1  # full: a request from elsewhere is refused
    plain = RequestFactory().post("/v1/recall")
    assert middleware(plain).status_code == 503
    admitted = RequestFactory().post("/v1/recall")
    admitted.scope = {ADMITTED_SCOPE_KEY: True}  # type: ignore[attr-defined]
    assert middleware(admitted) == "ok"  # the view's answer, not a refusal
    assert calls == ["/v1/recall"]


pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@override_settings(ADMISSION_LIMITS=LIMITS)
def test_the_place_is_given_back_with_the_last_byte_not_after_the_apps_clean_up() -> None:
    async def scenario() -> tuple[int, int, int]:
        cleanup = asyncio.Event()
        answered = asyncio.Event()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            answered.set()
            await cleanup.wait()  # Django's request_finished work, after the response

        guard = AdmissionGuard(app)
        first = asyncio.create_task(_call(guard, "/v1/recall"))
        await answered.wait()
        second = await _call_until_answered(guard, "/v1/recall", cleanup)
        cleanup.set()
        return (await first)[0], second, guard.lanes["recall"].in_flight

    assert _run(scenario) == (200, 200, 0)


async def _call_until_answered(app: Any, path: str, cleanup: asyncio.Event) -> int:
    """The second request's status; its own clean-up is released once it has answered."""
    task = asyncio.create_task(_call(app, path))
    while not task.done():
        await asyncio.sleep(0)  # let the request run up to its clean-up wait
        if not task.done():
            cleanup.set()
    return (await task)[0]


def test_the_default_ingest_lane_admits_eight_keep_alive_clients_on_one_process() -> None:
    """A closed-loop client has one ingest in flight, and its keep-alive connection stays on
    the worker that accepted it (gunicorn does not spread connections evenly): with the
    default limits one process must admit 8 such clients at once, all of `make dev`'s and
    bench.ingest_rate's 8 on one of the 2 workers. A 9th in flight is still refused."""

    async def scenario() -> tuple[list[int], int]:
        inner = _HeldApp()
        guard = AdmissionGuard(inner)
        held = [asyncio.create_task(_call(guard, "/v1/ingest")) for _ in range(8)]
        # Each task is either inside the app (admitted) or done (refused at the door).
        while len(inner.scopes) + sum(task.done() for task in held) < len(held):
            await asyncio.sleep(0)
        ninth = await _call(guard, "/v1/ingest")
        inner.release.setdefault("/v1/ingest", asyncio.Event()).set()
        return [status for status, _, _ in await asyncio.gather(*held)], ninth[0]

    admitted, ninth = _run(scenario)
    assert admitted == [200] * 8
    assert ninth == 503
