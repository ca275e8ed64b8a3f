"""BodySizeLimitMiddleware, for requests that do not come through claiv.asgi (WSGI servers,
the test client): a chunked body is refused with 411 rather than read as empty."""

from __future__ import annotations

import json

from django.test import Client

from memory.models import Event


def test_a_chunked_body_without_length_is_refused_with_411(api_key: tuple[object, str]) -> None:
    body = json.dumps(
        {"user_id": "u1", "type": "message", "content": "hi", "conversation_id": "c1"}
    )
    response = Client().post(
        "/v6/ingest",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key[1]}",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (411, "length_required")
    assert Event.objects.count() == 0


def test_a_body_over_the_limit_is_refused_with_413(api_key: tuple[object, str]) -> None:
    response = Client().post(
        "/v6/ingest",
        data="x" * (1024 * 1024 + 1),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key[1]}",
    )
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (413, "payload_too_large")
    assert error["details"] == {"limit_bytes": 1024 * 1024}
    assert Event.objects.count() == 0
