"""Admission control (claiv.admission): per-lane limits of requests in flight, refused at once
with 503 `unavailable`. Concurrency is real (threads inside one process, as under gunicorn
gthread); ordering comes from Events, never from timing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, RequestFactory, override_settings

import memory.api.views
from claiv.admission import AdmissionMiddleware, lane_of
from memory.recall.cache import CachedRecall
from tests.conftest import Api

# Generous bound for a blocked thread to arrive on a busy machine; never reached when correct.
ARRIVAL_TIMEOUT = 60
LIMITS = {"recall": 2, "ingest": 1, "forget": 1, "other": 1}


class GatedView:
    """A stand-in for the rest of the chain: records arrivals; blocks paths listed in `gated`
    until `release` is set."""

    def __init__(self, gated: set[str]) -> None:
        self.gated = gated
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.calls.append(request.path)
        if request.path in self.gated:
            self.arrived.release()
            assert self.release.wait(ARRIVAL_TIMEOUT)
        if request.path == "/v1/forget":
            raise RuntimeError("the view failed")
        return JsonResponse({"ok": True})


def _run(
    middleware: AdmissionMiddleware, path: str, results: list[HttpResponse]
) -> threading.Thread:
    def call() -> None:
        results.append(middleware(RequestFactory().post(path)))

    thread = threading.Thread(target=call)
    thread.start()
    return thread


@pytest.fixture
def gate() -> Iterator[GatedView]:
    view = GatedView(gated={"/v1/recall", "/v6/recall", "/v1/ingest"})
    yield view
    view.release.set()  # never leave a thread blocked, even when an assertion failed


@override_settings(ADMISSION_LIMITS=LIMITS, ADMISSION_RETRY_AFTER_SECONDS=3)
def test_a_full_lane_refuses_at_once_and_other_lanes_still_serve(gate: GatedView) -> None:
    middleware = AdmissionMiddleware(gate)
    results: list[HttpResponse] = []
    threads = [_run(middleware, "/v1/recall", results), _run(middleware, "/v6/recall", results)]
    for _ in threads:
        assert gate.arrived.acquire(timeout=ARRIVAL_TIMEOUT)
    assert middleware.lanes["recall"].in_flight == 2

    refused = middleware(RequestFactory().post("/v2/recall"))
    assert refused.status_code == 503
    assert refused["Retry-After"] == "3"
    error = json.loads(refused.content)["error"]
    assert (error["code"], error["details"]) == (
        "unavailable",
        {"retry_after": 3, "lane": "recall"},
    )
    assert "/v2/recall" not in gate.calls  # refused before anything else ran

    # The recall lane is full; the others are not affected by it.
    assert middleware(RequestFactory().get("/v1/usage/summary")).status_code == 200
    assert middleware(RequestFactory().get("/healthz")).status_code == 200

    gate.release.set()
    for thread in threads:
        thread.join(ARRIVAL_TIMEOUT)
    assert [r.status_code for r in results] == [200, 200]
    assert middleware.lanes["recall"].in_flight == 0
    assert middleware(RequestFactory().post("/v1/recall")).status_code == 200


@override_settings(ADMISSION_LIMITS=LIMITS)
def test_an_ingest_flood_does_not_starve_recall(gate: GatedView) -> None:
    middleware = AdmissionMiddleware(gate)
    results: list[HttpResponse] = []
    thread = _run(middleware, "/v1/ingest", results)
    assert gate.arrived.acquire(timeout=ARRIVAL_TIMEOUT)
    assert [
        middleware(RequestFactory().post(p)).status_code
        for p in ("/v1/ingest", "/v6/ingest", "/v1/ingest/batch")
    ] == [503, 503, 503]
    gate.gated.clear()  # recalls pass straight through now
    assert middleware(RequestFactory().post("/v1/recall")).status_code == 200
    gate.release.set()
    thread.join(ARRIVAL_TIMEOUT)
    assert [r.status_code for r in results] == [200]


@override_settings(ADMISSION_LIMITS=LIMITS)
def test_a_failing_view_gives_its_place_back(gate: GatedView) -> None:
    middleware = AdmissionMiddleware(gate)
    for _ in range(3):  # the forget lane holds 1: a leaked place would refuse the 2nd
        with pytest.raises(RuntimeError):
            middleware(RequestFactory().post("/v1/forget"))
    assert middleware.lanes["forget"].in_flight == 0
    assert gate.calls == ["/v1/forget"] * 3


@override_settings(ADMISSION_LIMITS={"recall": 0, "ingest": 0, "forget": 0, "other": 0})
def test_zero_means_unlimited(gate: GatedView) -> None:
    middleware = AdmissionMiddleware(gate)
    results: list[HttpResponse] = []
    threads = [_run(middleware, "/v1/recall", results) for _ in range(5)]
    for _ in threads:
        assert gate.arrived.acquire(timeout=ARRIVAL_TIMEOUT)
    assert middleware.lanes["recall"].in_flight == 5
    gate.release.set()
    for thread in threads:
        thread.join(ARRIVAL_TIMEOUT)
    assert [r.status_code for r in results] == [200] * 5


def test_lanes_of_paths() -> None:
    assert [
        lane_of(p)
        for p in (
            "/v1/recall",
            "/v2/recall",
            "/v6/recall",
            "/v1/ingest/batch",
            "/v6/ingest",
            "/v2/forget",
            "/v1/deletion-receipts",
            "/console/",
            "/healthz",
            "/readyz",
        )
    ] == ["recall", "recall", "recall", "ingest", "ingest", "forget", "other", "other", None, None]


@pytest.mark.django_db(transaction=True)
@override_settings(ADMISSION_LIMITS={"recall": 1, "ingest": 0, "forget": 0, "other": 0})
def test_through_the_url_a_refused_recall_is_an_envelope_and_ingest_still_works(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole stack (one Django handler, as in one server process): a recall blocked in its
    view holds the recall lane; a second recall is refused, an ingest is stored."""
    release, arrived = threading.Event(), threading.Event()

    def blocked(self: Any, data: dict[str, Any]) -> CachedRecall:
        arrived.set()
        assert release.wait(ARRIVAL_TIMEOUT)
        return CachedRecall(tokens=0, body=b'{"blocked": true}', clock_dependent=False)

    monkeypatch.setattr(memory.api.views.RecallV1View, "rendered", blocked)
    client = Client()
    shared = Api(client=client, raw_key=api.raw_key)
    assert shared.get("/healthz").status_code == 200  # builds the handler once, before threads
    body = {"user_id": "u1", "task": "where do I live?", "token_budget": 500}
    first: list[Any] = []

    def recall() -> None:
        try:
            first.append(shared.post("/v1/recall", body))
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=recall)
    thread.start()
    try:
        assert arrived.wait(ARRIVAL_TIMEOUT)
        refused = shared.post(
            "/v1/recall", {**body, "task": "anything else?"}, headers={"X-Request-ID": "busy-1"}
        )
        assert refused.status_code == 503
        assert refused["Retry-After"] == "1"
        assert refused.json() == {
            "error": {
                "code": "unavailable",
                "message": "The server is at capacity for recall requests; retry shortly.",
                "request_id": "busy-1",
                "details": {"retry_after": 1, "lane": "recall"},
            }
        }
        stored = shared.post(
            "/v6/ingest",
            {
                "user_id": "u1",
                "type": "message",
                "content": "I live in Porto.",
                "conversation_id": "c1",
            },
        )
        assert stored.status_code == 200
    finally:
        release.set()
        thread.join(ARRIVAL_TIMEOUT)
    assert first[0].status_code == 200
    assert first[0].json() == {"blocked": True}
