"""A single event's enrichment message written straight to the Redis broker: the message
Celery would send, in one LPUSH, with the outstanding record (`enrichment.outstanding`) in
the same round trip when the broker is the bookkeeping Redis.

Why: Celery's `apply_async` cost ~0.5-0.8 ms of a web worker's CPU per single ingest for a
~70 us LPUSH (BENCHMARKS.md "Ingest at rate"): the producer pool, a new `redis.Redis` per
publish in kombu's channel, routing, `maybe_declare`, the retry wrapper. Here the headers
and body come from Celery's own `as_task_v2` and kombu's serializer; the envelope and the
queue key are kombu's Redis transport's (`prepare_message`, `_inplace_augment_message`,
`_q_for_pri`), written out; `tests/enrichment/test_publish.py` compares the stored message
with the one Celery stores, field by field, ids aside.

The failure rule is unchanged (`enrichment.workflows.enrichment_enqueue`): any error, or an
uncertain outcome, leaves the event pending in Postgres for reconciliation to re-send, and
a duplicate message costs work, never data.

`lean_route()` is None, and callers use Celery's own path, whenever the message would not be
the same: a broker that is not plain Redis (another transport, Sentinel), kombu's
`global_keyprefix`, a routed queue on a non-direct exchange, eager mode, or a publish from
inside a worker task (Celery then sets the parent and root ids).
"""

from __future__ import annotations

import base64
import bisect
import functools
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from celery import current_app
from django.conf import settings
from kombu.serialization import dumps as kombu_serialize
from kombu.transport.redis import PRIORITY_STEPS, Channel
from kombu.utils.json import dumps as kombu_json
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from claiv.redis_client import broker_client, redis_url_kind
from enrichment import outstanding

logger = logging.getLogger("claiv.enrichment")

EVENTS_TASK = outstanding.EVENTS_TASK
# As Celery's publish retry policy (settings.CELERY_TASK_PUBLISH_RETRY_POLICY): a couple of
# quick reconnects, then the event is left to reconciliation.
_RETRIES = 2


@dataclass(frozen=True)
class LeanRoute:
    """Where and how Celery would send an `enrichment.events` message."""

    key: str  # the Redis list (queue name, plus kombu's priority suffix)
    routing_key: str
    priority: int
    delivery_mode: int
    ignore_result: bool
    same_redis: bool  # the broker is REDIS_URL: the outstanding record rides along


@functools.cache
def _route() -> LeanRoute | None:
    app = current_app
    conf = app.conf
    broker = settings.CELERY_BROKER_URL
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {})
    if (
        not broker.startswith(("redis://", "rediss://", "unix://"))
        or redis_url_kind(broker) != "single"
        or options.get("global_keyprefix")
        or options.get("master_name")
        or conf.task_protocol != 2
        or conf.task_serializer != "json"
        or conf.task_compression
    ):
        return None
    task = app.tasks[EVENTS_TASK]
    # As Celery's send_task routes it (with the task instance, which its stubs mistype).
    routed = app.amqp.router.route({}, EVENTS_TASK, (), {}, cast(Any, task))
    queue = routed.get("queue")
    if queue is None or routed.get("exchange") or routed.get("routing_key"):
        return None
    exchange = queue.exchange
    if exchange is not None and exchange.type != "direct":
        return None
    priority = task.priority if task.priority is not None else 0
    steps = options.get("priority_steps", PRIORITY_STEPS)
    separator = options.get("sep", Channel.sep)
    # kombu's Channel._q_for_pri and priority(): the step at or below the priority (clamped
    # to 0-9 as _get_message_priority does); step 0 is the bare queue name.
    step = steps[bisect.bisect(steps, max(min(priority, 9), 0)) - 1]
    key = f"{queue.name}{separator}{step}" if step else queue.name
    delivery_mode = (exchange.delivery_mode if exchange is not None else None) or 2
    return LeanRoute(
        key=key,
        routing_key=queue.name,
        priority=priority,
        delivery_mode=delivery_mode,
        ignore_result=bool(task.ignore_result),
        same_redis=broker == settings.REDIS_URL,
    )


def lean_route() -> LeanRoute | None:
    """The route of a lean publish from this thread now, or None to use Celery's path."""
    app = current_app
    if app.conf.task_always_eager or app.current_worker_task is not None:
        return None
    return _route()


@functools.cache
def _client() -> Any:
    transport = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    return broker_client(
        socket_connect_timeout=transport.get("socket_connect_timeout", 2),
        socket_timeout=transport.get("socket_timeout", 5),
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.2), _RETRIES),
    )


def events_message(route: LeanRoute, event_ids: Sequence[str], task_id: str) -> bytes:
    """The JSON kombu's Redis transport stores for Celery's `enrichment.events` message of
    `event_ids` (argsrepr/kwargsrepr given as `enrichment_enqueue` gives them)."""
    app = current_app
    ids = list(event_ids)
    argsrepr = f"({ids!r},)"
    headers, properties, body, _ = app.amqp.as_task_v2(
        task_id,
        EVENTS_TASK,
        (ids,),
        {},
        reply_to=app.thread_oid,
        ignore_result=route.ignore_result,
        argsrepr=argsrepr,
        kwargsrepr="{}",
    )
    content_type, content_encoding, data = kombu_serialize(body, serializer="json")
    # Producer.publish: apply_async's extra options become message properties, then the
    # delivery mode; Channel.prepare_message and _inplace_augment_message complete them.
    properties.update(argsrepr=argsrepr, kwargsrepr="{}", delivery_mode=route.delivery_mode)
    properties["delivery_info"] = {"exchange": "", "routing_key": route.routing_key}
    properties["priority"] = route.priority
    properties["body_encoding"] = "base64"
    properties["delivery_tag"] = str(uuid.uuid4())
    raw = data if isinstance(data, bytes) else data.encode(content_encoding)
    message = {
        "body": base64.b64encode(raw).decode("ascii"),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": headers,
        "properties": properties,
    }
    return kombu_json(message).encode()


def events_publish(route: LeanRoute, event_ids: Sequence[str]) -> None:
    """Record the events as queued and push their message, in that order; one round trip
    when the broker is the bookkeeping Redis. Raises when the message may not have been
    stored (the caller then undoes the record and leaves the events to reconciliation);
    a failed record alone is logged, as `outstanding.chain_sending` does."""
    message = events_message(route, event_ids, str(uuid.uuid4()))
    if not route.same_redis:
        outstanding.chain_sending(*event_ids)
        _client().lpush(route.key, message)
        return
    pipe = _client().pipeline(transaction=False)
    pipe.zadd(outstanding.QUEUED_KEY, dict.fromkeys(event_ids, time.time()))
    pipe.lpush(route.key, message)
    recorded, pushed = pipe.execute(raise_on_error=False)
    if isinstance(pushed, Exception):
        raise pushed
    if isinstance(recorded, Exception):
        logger.info("outstanding record not written events=%d: %s", len(event_ids), recorded)
