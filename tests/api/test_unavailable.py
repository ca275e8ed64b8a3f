"""Postgres down: every endpoint that needs it answers 503 `unavailable` in the envelope,
with Retry-After, authentication included; nothing is stored; back to normal once it is up."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory

from claiv.errors import handler500
from memory.models import Event
from tests.conftest import Api, wait_for
from tests.plugins.services import postgres_server

pytestmark = pytest.mark.slow


def _database_answers() -> bool:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - the old connection died with the server
        pass
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except OperationalError:
        return False


REQUESTS: list[tuple[str, str, Any]] = [
    (
        "post",
        "/v1/ingest",
        {"user_id": "u1", "type": "message", "role": "user", "content": "I live in Oslo."},
    ),
    (
        "post",
        "/v1/ingest/batch",
        {
            "events": [
                {
                    "user_id": "u1",
                    "type": "message",
                    "role": "user",
                    "content": "I work at Equinor.",
                }
            ]
        },
    ),
    ("post", "/v1/recall", {"user_id": "u1", "task": "Where do I live?", "token_budget": 200}),
    ("post", "/v1/forget", {"user_id": "u1"}),
    ("get", "/v1/usage/summary", None),
    ("get", "/v1/usage/limits", None),
]


def _call(api: Api, method: str, path: str, body: Any) -> Any:
    return api.post(path, body) if method == "post" else api.get(path)


def test_postgres_down_is_503_unavailable_then_normal(transactional_db: None, api: Api) -> None:
    server = postgres_server()
    server.stop()
    try:
        for method, path, body in REQUESTS:
            response = _call(api, method, path, body)
            assert response.status_code == 503, (path, response.content)
            error = response.json()["error"]
            assert (error["code"], error["details"]) == ("unavailable", {"retry_after": 5})
            assert error["request_id"] == response["X-Request-ID"]
            assert response["Retry-After"] == "5"
        # A wrong secret: still 503, the lookup that would tell could not be made (not 401).
        assert api.raw_key is not None
        stranger = Api(client=api.client, raw_key=api.raw_key[:-4] + "zzzz")
        assert _call(stranger, *REQUESTS[0]).status_code == 503
    finally:
        server.start()
        wait_for(_database_answers, timeout=120)
    assert Event.objects.count() == 0  # nothing was stored while it was down
    for method, path, body in REQUESTS:
        assert _call(api, method, path, body).status_code == 200, path
    assert Event.objects.count() == 2


def test_handler500_tells_a_database_outage_from_a_bug() -> None:
    request = RequestFactory().get("/console/")
    request.request_id = "r1"
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        assert sys.exc_info()[0] is OperationalError
        response = handler500(request)
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = handler500(request)
    assert response.status_code == 500
    assert b'"internal_error"' in response.content
