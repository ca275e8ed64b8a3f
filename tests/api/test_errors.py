"""The error envelope for every failure, including routes that do not exist here."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v3/ingest"),
        ("post", "/v3/recall"),
        ("post", "/v3/forget"),
        ("post", "/v3/recall/r1/feedback"),
        ("post", "/v6/recall/r1/feedback"),
        # The document routes exist now (API.md §8); a path under them that does not is 404.
        ("get", "/v6/documents/d1/sections"),
        ("get", "/v1/ingest/"),
        ("get", "/nothing"),
    ],
)
def test_routes_the_sdk_knows_but_we_do_not_are_404_envelopes(
    api: Api, method: str, path: str
) -> None:
    client = Client()
    response = getattr(client, method)(
        path, headers={"Authorization": f"Bearer {api.raw_key}", "X-Request-ID": "r-404"}
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "Not found.",
            "request_id": "r-404",
            "details": {},
        }
    }


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda a: a.get("/v6/ingest"), 405, "method_not_allowed"),
        (
            lambda a: a.client.post(
                "/v6/recall",
                "user_id=u1",
                content_type="application/x-www-form-urlencoded",
                headers=a._headers(None),
            ),
            415,
            "unsupported_media_type",
        ),
        (lambda a: a.post("/v6/recall", "{not json"), 400, "invalid_request"),
        (
            lambda a: a.post("/v6/recall", '{"user_id": "u\\u0000", "query": "q"}'),
            400,
            "invalid_request",
        ),
        (
            lambda a: a.post("/v6/ingest", '{"user_id": "u", "metadata": {"x": 1e400}}'),
            400,
            "invalid_request",
        ),
        (lambda a: a.post("/v1/ingest/batch", "x" * (1024 * 1024 + 1)), 413, "payload_too_large"),
        (lambda a: Client().get("/v1/usage/summary"), 401, "unauthorized"),
    ],
)
def test_failures_use_the_envelope(api: Api, call: object, status: int, code: str) -> None:
    response = call(api)  # type: ignore[operator]
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "request_id", "details"}
    assert error["request_id"] == response["X-Request-ID"]


def test_an_unexpected_exception_is_a_500_envelope_without_a_trace(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(**kwargs: object) -> None:
        raise RuntimeError("secret internals /srv/app.py line 12")

    monkeypatch.setattr("memory.api.views.event_get", explode)
    response = api.get("/v1/events/e1", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Internal server error.",
            "request_id": "boom-1",
            "details": {},
        }
    }
    assert b"secret" not in response.content and b"Traceback" not in response.content
    assert "unhandled error request_id=boom-1" in caplog.text


def test_a_failure_outside_the_api_views_is_also_an_envelope(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("claiv.health._check_postgres", explode)
    response = Client(raise_request_exception=False).get(
        "/readyz", headers={"X-Request-ID": "boom-2"}
    )
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "Internal server error.",
        "request_id": "boom-2",
        "details": {},
    }


def test_request_id_is_echoed_and_in_the_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="claiv.request"):
        response = api.get("/v1/usage/limits", headers={"X-Request-ID": "trace-77"})
    assert response["X-Request-ID"] == "trace-77"
    lines = [r.getMessage() for r in caplog.records if r.name == "claiv.request"]
    assert len(lines) == 1 and lines[0].startswith(
        "request_id=trace-77 method=GET path=/v1/usage/limits status=200 "
    )
