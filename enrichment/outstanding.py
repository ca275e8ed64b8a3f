"""Which events have an enrichment chain message outstanding, so reconciliation can tell an
event that waits in the broker queue from one whose message was lost.

Why a record in Redis and not the broker's queue depth or a publish time in Postgres:
- A time in Postgres survives the broker losing its data, so it cannot tell "queued behind
  a long backlog" from "the queue was lost"; the issue this solves is exactly that.
- The queue depth says how many messages wait, not whose; reading the messages themselves
  to find an event id costs O(backlog) on every sweep.
- This record lives in the broker's own Redis (one `REDIS_URL`), so it is lost together
  with the queue it describes: after an empty Valkey restart nothing is recorded and every
  stuck event is re-sent, which is what must happen.

Two sorted sets, event id → Unix time:
- `queued`: the event's (first) message was published and no worker has received it yet.
  Written *before* the publish (and removed again if the publish fails), so a worker's
  receipt always comes after it. An entry older than ENRICH_QUEUED_MAX_SECONDS is no longer
  trusted (e.g. the process died between the record and the publish).
- `delivered`: a worker received that message at that time (Celery's
  `task_received`, in the worker's main process, prefetch included). A worker killed hard
  while holding it leaves the entry to age: after the grace period the event is re-sent.

Later stages are not recorded: their messages jump ahead of first stages in the broker
(enrichment.tasks.STAGE_PRIORITY), so they do not wait behind a backlog, and an event that
is not moving after its first message was delivered is re-sent after the grace period as
before. Everything here is best effort: when Redis cannot be reached nothing is recorded
and reconciliation errs towards re-sending (stages are idempotent, a duplicate costs work,
never data).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import redis
from django.conf import settings

from claiv.redis_client import redis_client

logger = logging.getLogger("claiv.enrichment")

# One hash tag: their pipelines stay one round trip to one node on Redis Cluster.
QUEUED_KEY = "claiv:{enrich}:queued"
DELIVERED_KEY = "claiv:{enrich}:delivered"
FIRST_STAGE_TASK = "enrichment.extract"
# The whole-pipeline message (enrichment.workflows.EVENTS_TASK): its first argument is a
# list of event ids.
EVENTS_TASK = "enrichment.events"


def chain_sending(*event_ids: str) -> None:
    """Record that the events' chains are about to be published (one round trip for a
    batch's). Call before the publish."""
    now = time.time()
    try:
        redis_client().zadd(QUEUED_KEY, dict.fromkeys(event_ids, now))
    except redis.RedisError:
        logger.info("outstanding record not written events=%d: redis unavailable", len(event_ids))


def chain_send_failed(*event_ids: str) -> None:
    """Undo `chain_sending` after a failed publish: nothing waits in the queue."""
    try:
        redis_client().zrem(QUEUED_KEY, *event_ids)
    except redis.RedisError:
        pass  # the entries then age out after ENRICH_QUEUED_MAX_SECONDS


def chain_delivered(*event_ids: str) -> None:
    """A worker received the events' first message: from now on they are in no queue."""
    if not event_ids:
        return
    pipe = redis_client().pipeline(transaction=False)
    pipe.zrem(QUEUED_KEY, *event_ids)
    pipe.zadd(DELIVERED_KEY, dict.fromkeys(event_ids, time.time()))
    try:
        pipe.execute()
    except redis.RedisError:
        logger.info("delivery not recorded events=%d: redis unavailable", len(event_ids))


def events_waiting(
    event_ids: Iterable[str], *, grace_seconds: float, now: float | None = None
) -> set[str]:
    """Those of `event_ids` whose chain message is still in the queue, or was delivered to a
    worker less than `grace_seconds` ago; reconciliation leaves these alone. Also drops
    entries too old to mean anything. Empty when Redis cannot be reached."""
    ids = list(event_ids)
    if not ids:
        return set()
    moment = now if now is not None else time.time()
    client = redis_client()
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(QUEUED_KEY, "-inf", moment - settings.ENRICH_QUEUED_MAX_SECONDS)
    pipe.zremrangebyscore(DELIVERED_KEY, "-inf", moment - grace_seconds)
    pipe.zmscore(QUEUED_KEY, ids)
    pipe.zmscore(DELIVERED_KEY, ids)
    try:
        _, _, queued, delivered = pipe.execute()
    except redis.RedisError:
        logger.warning("outstanding chains unknown: redis unavailable; re-sending all stuck")
        return set()
    return {
        event_id
        for event_id, q, d in zip(ids, queued, delivered, strict=True)
        if q is not None or d is not None
    }


def on_task_received(request: object, **kwargs: object) -> None:
    """Celery `task_received` receiver (worker main process)."""
    name = getattr(request, "name", None)
    if name not in (FIRST_STAGE_TASK, EVENTS_TASK):
        return
    args = getattr(request, "args", None) or ()
    if not args:
        return
    if name == EVENTS_TASK:
        chain_delivered(*(str(event_id) for event_id in args[0]))
    else:
        chain_delivered(str(args[0]))
