"""/metrics: closed unless a token is configured and presented; every process counts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from claiv.metrics.registry import MULTIPROC_DIR, embedding_call_record, metrics_process_dead

TOKEN = "metrics-test-token-0123456789"


def _scrape(client: Client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def _sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def _assert_not_found(response: object) -> None:
    assert response.status_code == 404  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"] == "Not found."
    assert b"claiv_" not in response.content  # type: ignore[attr-defined]


def test_multiprocess_mode_is_on_in_tests() -> None:
    assert MULTIPROC_DIR and MULTIPROC_DIR == os.environ["PROMETHEUS_MULTIPROC_DIR"]


@override_settings(CLAIV_METRICS_TOKEN="")
def test_no_token_configured_is_404_even_with_a_bearer() -> None:
    client = Client()
    _assert_not_found(client.get("/metrics"))
    _assert_not_found(client.get("/metrics", headers={"Authorization": "Bearer "}))
    _assert_not_found(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}))


@override_settings(CLAIV_METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ck_not_the_metrics_token",
    ],
)
def test_wrong_or_missing_token_is_the_same_404(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    _assert_not_found(Client().get("/metrics", headers=headers))


@override_settings(CLAIV_METRICS_TOKEN=TOKEN)
def test_post_with_the_token_is_404() -> None:
    _assert_not_found(Client().post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}))


@override_settings(CLAIV_METRICS_TOKEN=TOKEN)
def test_request_histogram_labels_the_route_pattern_not_the_path(db: None) -> None:
    client = Client()
    before = (
        _sample(
            _scrape(client),
            "claiv_http_request_duration_seconds_count",
            {"method": "GET", "route": "healthz", "status_class": "2xx"},
        )
        or 0.0
    )
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    secret_id = f"user-{uuid.uuid4().hex}"
    assert client.get(f"/v1/events/{secret_id}").status_code == 401
    assert client.get(f"/nowhere/{secret_id}").status_code == 404

    text = _scrape(client)
    assert (
        _sample(
            text,
            "claiv_http_request_duration_seconds_count",
            {"method": "GET", "route": "healthz", "status_class": "2xx"},
        )
        == before + 3
    )
    assert (
        _sample(
            text,
            "claiv_http_request_duration_seconds_count",
            {"method": "GET", "route": "v1/events/<str:event_id>", "status_class": "4xx"},
        )
        >= 1
    )
    assert (
        _sample(
            text,
            "claiv_http_request_duration_seconds_count",
            {"method": "GET", "route": "<unmatched>", "status_class": "4xx"},
        )
        >= 1
    )
    assert secret_id not in text
    # The broker is read at scrape time: the default queue is there and empty-or-more.
    assert _sample(text, "claiv_broker_up", {}) == 1.0
    assert _sample(text, "claiv_queue_depth", {"queue": "enrichment"}) is not None


_CHILD = """
import os
import sys
from claiv.metrics.registry import WORKER_PROCESSES, embedding_call_record
for _ in range(3):
    embedding_call_record(provider=sys.argv[1], texts=10)
WORKER_PROCESSES.set(1)
print(os.getpid(), flush=True)
"""


@override_settings(CLAIV_METRICS_TOKEN=TOKEN)
def test_scrape_sums_every_process_and_forgets_dead_ones_live_gauges() -> None:
    provider = f"test-{uuid.uuid4().hex[:8]}"
    embedding_call_record(provider=provider, texts=1)
    embedding_call_record(provider=provider, texts=1)
    before = _sample(_scrape(Client()), "claiv_worker_processes", {}) or 0.0

    child = subprocess.run(
        [sys.executable, "-c", _CHILD, provider],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=True,
    )
    pid = int(child.stdout.strip())

    text = _scrape(Client())
    assert (
        _sample(text, "claiv_embedding_calls_total", {"provider": provider, "outcome": "ok"}) == 5.0
    )
    assert _sample(text, "claiv_embedding_texts_total", {"provider": provider}) == 32.0
    assert _sample(text, "claiv_worker_processes", {}) == before + 1

    # The child has exited; once marked dead its live gauge leaves the sum, its counts stay.
    metrics_process_dead(pid)
    text = _scrape(Client())
    assert _sample(text, "claiv_worker_processes", {}) in (None, before)
    assert (
        _sample(text, "claiv_embedding_calls_total", {"provider": provider, "outcome": "ok"}) == 5.0
    )


def test_worker_exporter_follows_the_same_token_rule() -> None:
    from claiv.metrics.server import exporter_app

    provider = f"test-{uuid.uuid4().hex[:8]}"
    embedding_call_record(provider=provider, texts=4)

    def call(app: object, path: str, authorization: str | None) -> tuple[str, bytes]:
        status: list[str] = []
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
        if authorization is not None:
            environ["HTTP_AUTHORIZATION"] = authorization
        body = b"".join(app(environ, lambda s, h: status.append(s)))  # type: ignore[operator]
        return status[0], body

    closed = exporter_app("", MULTIPROC_DIR)
    assert call(closed, "/metrics", f"Bearer {TOKEN}")[0] == "404 Not Found"
    app = exporter_app(TOKEN, MULTIPROC_DIR)
    status, body = call(app, "/metrics", "Bearer nope")
    assert status == "404 Not Found" and b"not_found" in body and b"claiv_" not in body
    assert call(app, "/other", f"Bearer {TOKEN}")[0] == "404 Not Found"
    status, body = call(app, "/metrics", f"Bearer {TOKEN}")
    assert status == "200 OK"
    assert _sample(body.decode(), "claiv_embedding_texts_total", {"provider": provider}) == 4.0


def test_queue_depth_sums_the_priority_lists_of_each_queue(redis_service: str) -> None:
    import redis
    from django.conf import settings

    from claiv.metrics.queues import QueueDepthCollector, priority_list_names

    queue = f"depth-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    names = priority_list_names(queue, range(10))
    assert names[:2] == [queue, f"{queue}\x06\x161"] and len(names) == 10
    try:
        client.rpush(names[0], "m1", "m2")
        client.rpush(names[7], "m3")
        collector = QueueDepthCollector(
            client=client, queues=[queue, f"{queue}-empty"], steps=range(10)
        )
        families = {family.name: family for family in collector.collect()}
        depths = {s.labels["queue"]: s.value for s in families["claiv_queue_depth"].samples}
        assert depths == {queue: 3.0, f"{queue}-empty": 0.0}
        assert families["claiv_broker_up"].samples[0].value == 1.0
    finally:
        client.delete(*names)
        client.close()
    down = QueueDepthCollector(
        client=redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1),
        queues=[queue],
        steps=[0],
    )
    families = {family.name: family for family in down.collect()}
    assert list(families) == ["claiv_broker_up"]
    assert families["claiv_broker_up"].samples[0].value == 0.0
