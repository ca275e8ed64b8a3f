"""The single event's message written straight to the broker (enrichment.publish) is the one
Celery stores, its outstanding record rides in the same round trip, a failed push leaves
the event to reconciliation, and every case the lean message could differ from Celery's
falls back to Celery's path. A real worker consuming the lean message end to end:
tests/enrichment/test_worker_pipeline.py (its ingests take this path)."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis
from celery import current_app
from django.conf import settings

from enrichment import outstanding, publish, workflows
from enrichment.workflows import enrichment_enqueue
from memory.models import Event
from tenants.models import Tenant
from tests.factories import ingest


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@pytest.fixture
def private_route() -> Iterator[publish.LeanRoute]:
    """The real route with its list renamed: no worker of the session consumes it."""
    route = publish.lean_route()
    assert route is not None, "the test settings' broker is plain Redis: the lean path applies"
    key = f"test-publish:{uuid.uuid4()}"
    yield dataclasses.replace(route, key=key)
    _redis().delete(key)


def _decoded(raw: bytes) -> dict[str, Any]:
    message = json.loads(raw)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return dict(message)


def _celery_stored(event_ids: list[str], task_id: str) -> tuple[bytes, bytes]:
    """(list key, message) as Celery's apply_async stores them, captured at the LPUSH
    instead of sent (no worker may receive these ids)."""
    pushed: list[tuple[bytes, bytes]] = []

    def lpush(client: Any, key: Any, value: Any) -> int:
        pushed.append((key.encode() if isinstance(key, str) else key, value.encode()))
        return 1

    with mock.patch.object(redis.Redis, "lpush", lpush):
        workflows.enrichment_signature(event_ids).apply_async(
            task_id=task_id, argsrepr=f"({event_ids!r},)", kwargsrepr="{}"
        )
    ((key, value),) = pushed
    return key, value


@pytest.mark.parametrize(
    "event_ids", [[str(uuid.uuid4())], [str(uuid.uuid4()), str(uuid.uuid4())], ['it\'s "q"']]
)
def test_the_message_is_the_one_celery_stores(db: None, event_ids: list[str]) -> None:
    task_id = str(uuid.uuid4())
    key, celery_raw = _celery_stored(event_ids, task_id)
    route = publish.lean_route()
    assert route is not None
    assert route.key.encode() == key
    ours, theirs = (
        _decoded(publish.events_message(route, event_ids, task_id)),
        _decoded(celery_raw),
    )
    # A fresh delivery tag per message, as kombu draws one; everything else is equal.
    assert uuid.UUID(ours["properties"].pop("delivery_tag"))
    theirs["properties"].pop("delivery_tag")
    assert ours == theirs
    assert ours["body"][0] == [event_ids]
    assert ours["headers"]["argsrepr"] == f"({event_ids!r},)"


def test_record_and_message_in_one_round_trip(db: None, private_route: publish.LeanRoute) -> None:
    event_id = str(uuid.uuid4())
    round_trips: list[Any] = []
    execute = redis.client.Pipeline.execute

    def counted(pipe: Any, *args: Any, **kwargs: Any) -> Any:
        round_trips.append([command[0][0] for command in pipe.command_stack])
        return execute(pipe, *args, **kwargs)

    with (
        mock.patch.object(publish, "lean_route", return_value=private_route),
        mock.patch.object(redis.client.Pipeline, "execute", counted),
        mock.patch.object(redis.Redis, "execute_command", side_effect=AssertionError("alone")),
    ):
        enrichment_enqueue(event_id)
    assert round_trips == [["ZADD", "LPUSH"]]  # the record first: a receipt comes after it
    (stored,) = _redis().lrange(private_route.key, 0, -1)
    assert _decoded(stored)["body"][0] == [[event_id]]
    assert _redis().zscore(outstanding.QUEUED_KEY, event_id) is not None
    outstanding.chain_send_failed(event_id)


def test_a_failed_push_is_not_recorded_as_queued(
    tenant: Tenant, db: None, private_route: publish.LeanRoute, caplog: Any
) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    _redis().set(private_route.key, "not a list")  # the LPUSH fails (WRONGTYPE)
    with mock.patch.object(publish, "lean_route", return_value=private_route):
        enrichment_enqueue(str(event.id))  # logs and returns: ingest still succeeds
    assert _redis().zscore(outstanding.QUEUED_KEY, str(event.id)) is None
    assert "reconciliation will retry" in caplog.text
    assert Event.objects.get(pk=event.pk).status == "pending"


def test_an_unreachable_broker_leaves_the_event_pending(
    tenant: Tenant, db: None, private_route: publish.LeanRoute
) -> None:
    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Oslo.")
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    with (
        mock.patch.object(publish, "lean_route", return_value=private_route),
        mock.patch.object(publish, "_client", return_value=dead),
    ):
        enrichment_enqueue(str(event.id))
    assert _redis().zscore(outstanding.QUEUED_KEY, str(event.id)) is None
    assert Event.objects.get(pk=event.pk).status == "pending"


def test_another_broker_records_then_pushes(db: None, private_route: publish.LeanRoute) -> None:
    """A broker that is not REDIS_URL: the record goes to the bookkeeping Redis first, the
    message to the broker after it (two round trips, same order)."""
    event_id = str(uuid.uuid4())
    order: list[str] = []
    sending = outstanding.chain_sending
    route = dataclasses.replace(private_route, same_redis=False)
    client = publish._client()

    def lpush(key: str, value: bytes) -> Any:
        order.append("push")
        return redis.Redis.lpush(client, key, value)

    with (
        mock.patch.object(
            outstanding,
            "chain_sending",
            side_effect=lambda *ids: (order.append("record"), sending(*ids)),
        ),
        mock.patch.object(client, "lpush", side_effect=lpush),
    ):
        publish.events_publish(route, [event_id])
    assert order == ["record", "push"]
    assert _redis().llen(private_route.key) == 1
    assert _redis().zscore(outstanding.QUEUED_KEY, event_id) is not None
    outstanding.chain_send_failed(event_id)


def test_celery_sends_whenever_the_message_could_differ(db: None, settings: Any) -> None:
    assert publish.lean_route() is not None
    current_app.conf.task_always_eager = True
    try:
        assert publish.lean_route() is None
    finally:
        current_app.conf.task_always_eager = False
    # Inside a worker's task Celery sets the parent and root ids.
    app_class = type(current_app._get_current_object())
    with mock.patch.object(app_class, "current_worker_task", new_callable=mock.PropertyMock):
        assert publish.lean_route() is None
    for name, value in [
        ("CELERY_BROKER_URL", "sentinel://127.0.0.1:26379"),
        ("CELERY_BROKER_URL", "amqp://guest@127.0.0.1//"),
        ("CELERY_BROKER_TRANSPORT_OPTIONS", {"global_keyprefix": "x:"}),
    ]:
        publish._route.cache_clear()
        original = getattr(settings, name)
        try:
            setattr(settings, name, value)
            assert publish.lean_route() is None, name
        finally:
            setattr(settings, name, original)
            publish._route.cache_clear()
    assert publish.lean_route() is not None


def test_the_celery_path_still_publishes_when_lean_is_off(db: None) -> None:
    """With lean_route None (e.g. a Sentinel broker) the message goes through apply_async,
    recorded first as before."""
    event_id = str(uuid.uuid4())
    with (
        mock.patch.object(publish, "lean_route", return_value=None),
        mock.patch("enrichment.workflows.enrichment_signature") as signature,
    ):
        enrichment_enqueue(event_id)
    signature.return_value.apply_async.assert_called_once()
    assert _redis().zscore(outstanding.QUEUED_KEY, event_id) is not None
    outstanding.chain_send_failed(event_id)
