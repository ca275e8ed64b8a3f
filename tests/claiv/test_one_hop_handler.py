"""The ingest endpoints' one-hop path (claiv.asgi.OneHopHandler) answers as the path every
other endpoint takes (claiv.asgi.SyncChainHandler): the same status, headers and body for
valid and invalid requests, apart from what differs per request (ids, timings, the rate
limit's count); requests still overlap; other paths are served as before."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import path

from claiv.asgi import OneHopHandler, SyncChainHandler, get_asgi_application
from keys.models import ApiKey
from keys.services import api_key_create
from memory.models import Event
from tests.support.asgi import (
    asgi_call,
    held_release,
    held_view,
    run_in_thread,
    two_held_requests,
)

INGEST_PATHS = frozenset({"/v1/ingest", "/v6/ingest", "/v1/ingest/batch"})
# Differ from one request to the next whatever serves them.
PER_REQUEST_HEADERS = {
    "x-request-id",
    "server-timing",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
}


_run = run_in_thread
_call = asgi_call


def _comparable(answer: tuple[int, list[tuple[str, str]], bytes]) -> tuple[Any, ...]:
    """The answer without what differs per request: header values named above, and the
    body's request_id and (for a new event) event_id."""
    status, headers, content = answer
    kept = sorted((name, "*" if name in PER_REQUEST_HEADERS else value) for name, value in headers)
    names = sorted(name for name, _ in headers)
    body = _masked(json.loads(content)) if content else None
    return status, names, kept, body


def _masked(value: Any) -> Any:
    """Request ids and new events' ids as `*`, wherever they are in a body."""
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _masked(v) for k, v in value.items()}
    if out.get("request_id"):
        out["request_id"] = "*"
    if out.get("deduped") is False:
        out["event_id"] = "*"
    return out


def _event(content: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": "u1", "type": "message", "role": "user", "content": content, **extra}


def _cases(raw_key: str, tag: str) -> list[tuple[str, str, str, bytes, dict[str, str]]]:
    auth = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}

    def j(value: Any) -> bytes:
        return json.dumps(value).encode()

    return [
        ("valid v1", "POST", "/v1/ingest", j(_event(f"I moved to Lisbon. {tag}")), auth),
        (
            "valid v6",
            "POST",
            "/v6/ingest",
            j(_event(f"I work as a nurse. {tag}", conversation_id="c2")),
            auth,
        ),
        (
            "valid, every field",
            "POST",
            "/v1/ingest",
            j(
                _event(
                    f"We met in Porto. {tag}",
                    conversation_id="c1",
                    event_time="2024-05-01T10:00:00Z",
                    metadata={"source": "chat"},
                    scope="conversation",
                )
            ),
            auth | {"X-Request-ID": "client-id-1"},
        ),
        (
            "repeat of an idempotency key",
            "POST",
            "/v1/ingest",
            j(_event("a", idempotency_key="k1")),
            auth,
        ),
        (
            "key reused, other body",
            "POST",
            "/v1/ingest",
            j(_event("b", idempotency_key="k1")),
            auth,
        ),
        ("not JSON", "POST", "/v1/ingest", b"{not json", auth),
        ("not an object", "POST", "/v1/ingest", b"[1, 2]", auth),
        ("unknown field", "POST", "/v1/ingest", j(_event("x", colour="red")), auth),
        ("missing content", "POST", "/v1/ingest", j({"user_id": "u1", "type": "message"}), auth),
        ("wrong type", "POST", "/v6/ingest", j(_event("x", type="shout")), auth),
        ("blank content", "POST", "/v1/ingest", j(_event("   ")), auth),
        ("bad event_time", "POST", "/v1/ingest", j(_event("x", event_time="yesterday")), auth),
        ("NUL in content", "POST", "/v1/ingest", j(_event("a\x00b")), auth),
        (
            "not JSON media type",
            "POST",
            "/v1/ingest",
            j(_event("x")),
            {"Authorization": auth["Authorization"], "Content-Type": "text/plain"},
        ),
        ("no key", "POST", "/v1/ingest", j(_event("x")), {"Content-Type": "application/json"}),
        (
            "unknown key",
            "POST",
            "/v1/ingest",
            j(_event("x")),
            {"Authorization": "Bearer ck_nope_nope", "Content-Type": "application/json"},
        ),
        ("GET", "GET", "/v1/ingest", b"", auth),
        (
            "batch, valid and invalid items",
            "POST",
            "/v1/ingest/batch",
            j({"events": [_event(f"c {tag}"), {"user_id": "u1"}]}),
            auth,
        ),
        ("batch, not a list", "POST", "/v1/ingest/batch", j({"events": 3}), auth),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_ingest_endpoints_answer_as_through_the_usual_handler(
    api_key: tuple[ApiKey, str],
) -> None:
    cases = _cases(api_key[1], "usual")
    hop_cases = _cases(api_key[1], "one-hop")  # the same requests, other contents (no dedupe)
    first = json.dumps(_event("a", idempotency_key="k1")).encode()
    auth = {"Authorization": f"Bearer {api_key[1]}", "Content-Type": "application/json"}

    async def scenario() -> tuple[list[Any], list[Any]]:
        usual, one_hop = SyncChainHandler(), OneHopHandler(INGEST_PATHS, threads=4)
        created = await _call(usual, "POST", "/v1/ingest", first, auth)
        assert created[0] == 200, created
        old = [await _call(usual, m, r, b, h) for _, m, r, b, h in cases]
        new = [await _call(one_hop, m, r, b, h) for _, m, r, b, h in hop_cases]
        return old, new

    old, new = _run(scenario)
    for (name, *_), before, after in zip(cases, old, new, strict=True):
        assert _comparable(after) == _comparable(before), name
    statuses = {name: answer[0] for (name, *_), answer in zip(cases, new, strict=True)}
    # The cases cover what they say (a 200 for a bad body would compare equal too).
    assert statuses["valid v1"] == statuses["valid v6"] == 200
    assert statuses["key reused, other body"] == 409
    assert statuses["not JSON"] == statuses["unknown field"] == 400
    assert statuses["not JSON media type"] == 415
    assert statuses["no key"] == statuses["unknown key"] == 401
    assert statuses["GET"] == 405
    assert json.loads(new[3][2])["deduped"] is True
    assert dict(new[2][1])["x-request-id"] == "client-id-1"
    # Each valid ingest stored its event through each handler: none was lost.
    tenant = api_key[0].tenant
    for tag in ("usual", "one-hop"):
        for content in ("I moved to Lisbon.", "I work as a nurse.", "We met in Porto.", "c"):
            assert Event.objects.filter(tenant=tenant, content=f"{content} {tag}").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_on_the_next_request(api_key: tuple[ApiKey, str]) -> None:
    from keys.services import api_key_revoke

    key, raw = api_key
    other, other_raw = api_key_create(tenant=key.tenant, name="other")
    body = json.dumps(_event("x")).encode()

    async def scenario(raw_key: str) -> int:
        app = OneHopHandler(INGEST_PATHS, threads=2)
        headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
        return (await _call(app, "POST", "/v1/ingest", body, headers))[0]

    assert _run(lambda: scenario(raw)) == 200
    api_key_revoke(key=key)
    assert _run(lambda: scenario(raw)) == 401
    assert _run(lambda: scenario(other_raw)) == 200


urlpatterns = [path("held", held_view), path("other", held_view)]


@override_settings(ROOT_URLCONF=__name__)
def test_requests_on_one_hop_paths_still_overlap() -> None:
    first, second = two_held_requests(OneHopHandler(frozenset({"/held"}), threads=2))
    assert first["met"] is True  # the second ran while the first was still in its view
    assert first["thread"] != second["thread"]
    assert first["name"].startswith("claiv-hop") and second["name"].startswith("claiv-hop")


@override_settings(ROOT_URLCONF=__name__)
def test_other_paths_take_the_usual_way() -> None:
    held_release()

    async def scenario() -> tuple[int, list[tuple[str, str]], bytes]:
        app = OneHopHandler(frozenset({"/held"}), threads=1)
        return await _call(app, "GET", "/other", query=b"role=second")

    status, _, content = _run(scenario)
    assert status == 200
    # Not one of the pool's threads: Django's thread of the request's own context.
    assert not json.loads(content)["name"].startswith("claiv-hop")


def test_the_server_serves_the_ingest_endpoints_in_one_hop() -> None:
    app = get_asgi_application()
    assert isinstance(app, OneHopHandler)
    assert app.hop_paths == frozenset(settings.ONE_HOP_PATHS) == INGEST_PATHS
    # One thread for every ingest request admission lets in (all three are that lane).
    assert app.pool._max_workers == settings.ADMISSION_LIMITS["ingest"]
    with override_settings(ADMISSION_LIMITS={**settings.ADMISSION_LIMITS, "ingest": 0}):
        assert cast(OneHopHandler, get_asgi_application()).pool._max_workers == 32
    with override_settings(ONE_HOP_PATHS=[]):
        assert not isinstance(get_asgi_application(), OneHopHandler)
