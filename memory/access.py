"""Recall's fact accesses, which feed tiering (hot facts are the ones recalls use).

Counted in Redis on the recall path, one pipelined round trip, and moved into
`Fact.access_count` / `last_accessed_at` by beat every minute (`fact_accesses_flush`, the
pattern of usage metering). Updating the fact rows inside each recall cost ~3 ms of every
recall that packed facts (a transaction with an UPDATE of ~30 rows) and left that many
dead tuples behind, on the busiest rows of the table.

Inside an API request (`fact_accesses_deferred`, entered by claiv.middleware.UsageMiddleware)
the count is not sent on its own: it rides on the request's end-of-request pipeline with the
audit entries and the usage count (one Redis round trip fewer per recall).

Nothing is lost: when Redis is unavailable (or refuses the deferred count) the rows are
updated directly, and a flush whose database write fails gives the counts back to Redis.
Forget drops the pending accesses of the facts it deletes (`fact_accesses_drop`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import redis
from django.db import connection, transaction
from django.utils import timezone

from memory.metering import KEY_PREFIX, usage_redis
from memory.models import Fact

logger = logging.getLogger("claiv.recall")

# KEY_PREFIX carries the usage hash tag: the count script and the flush's MULTI touch both
# keys, which Redis Cluster allows only within one hash slot.
COUNTS_KEY = f"{KEY_PREFIX}:fact-access:n"  # hash: fact id -> accesses since the last flush
LATEST_KEY = f"{KEY_PREFIX}:fact-access:at"  # hash: fact id -> unix time of the latest one

Accesses = dict[str, tuple[int, datetime]]  # fact id -> (count, latest access)


class DeferredAccesses:
    """The fact accesses of one request, waiting for the request's end-of-request pipeline.

    `queue` puts one count script per access time on a pipeline; `settle` gets that
    pipeline's results (None if it failed as a whole) and writes directly to the rows
    whatever Redis did not count, as `facts_accessed` does when Redis is down."""

    def __init__(self) -> None:
        self.pending: list[tuple[list[str], datetime]] = []
        self._queued: list[tuple[int, list[str], datetime]] = []  # (pipeline index, ids, at)

    def add(self, fact_ids: Sequence[str], at: datetime) -> None:
        self.pending.append((list(fact_ids), at))

    def queue(self, pipe: Any) -> None:
        for fact_ids, at in self.pending:
            self._queued.append((len(pipe), fact_ids, at))
            # EVAL, not EVALSHA (a pipeline would first ask whether the script exists), as
            # a raw command (redis-py's cluster pipeline refuses `.eval()`, routes EVAL by
            # its keys, which share the usage hash tag).
            pipe.execute_command(
                "EVAL", _COUNT_LUA, 2, COUNTS_KEY, LATEST_KEY, *_count_args(fact_ids, 1, at)
            )
        self.pending = []

    def settle(self, results: Sequence[Any] | None) -> None:
        lost: Accesses = {}
        for index, fact_ids, at in self._queued:
            if results is None or index >= len(results) or isinstance(results[index], Exception):
                for fact_id in fact_ids:
                    count, latest = lost.get(fact_id, (0, at))
                    lost[fact_id] = (count + 1, max(latest, at))
        self._queued = []
        if lost:
            logger.warning("fact accesses written directly: redis did not count them")
            _accesses_write(lost)


_deferred: ContextVar[DeferredAccesses | None] = ContextVar("fact_accesses_deferred", default=None)


@contextmanager
def fact_accesses_deferred() -> Iterator[DeferredAccesses]:
    """While inside, `facts_accessed` in this context only collects the accesses; the caller
    must `queue` them on a pipeline and `settle` with its results (or count them itself)."""
    accesses = DeferredAccesses()
    token = _deferred.set(accesses)
    try:
        yield accesses
    finally:
        _deferred.reset(token)


def facts_accessed(fact_ids: Sequence[str], *, at: datetime | None = None) -> None:
    """Count one access of each fact at `at` (now); inside `fact_accesses_deferred`, on the
    request's end-of-request pipeline."""
    if not fact_ids:
        return
    moment = at or timezone.now()
    deferred = _deferred.get()
    if deferred is not None:
        deferred.add(fact_ids, moment)
        return
    try:
        _count(usage_redis(), fact_ids, count=1, at=moment)
    except redis.RedisError:
        logger.warning("fact accesses written directly: redis unavailable")
        _accesses_write({fact_id: (1, moment) for fact_id in fact_ids})


def fact_accesses_flush() -> int:
    """Move the counted accesses into the fact rows. Returns how many facts were updated
    (facts deleted meanwhile are skipped)."""
    client = usage_redis()
    pipe = client.pipeline(transaction=True)  # MULTI: read and delete as one step
    pipe.hgetall(COUNTS_KEY)
    pipe.hgetall(LATEST_KEY)
    pipe.delete(COUNTS_KEY, LATEST_KEY)
    counts, latest, _ = pipe.execute()
    if not counts:
        return 0
    now = timezone.now().timestamp()
    accesses = {
        raw.decode(): (int(n), datetime.fromtimestamp(float(latest.get(raw, now)), UTC))
        for raw, n in counts.items()
    }
    try:
        return _accesses_write(accesses)
    except Exception:
        _give_back(client, accesses)
        raise


def fact_accesses_drop(fact_ids: Iterable[object]) -> None:
    """Forget the pending accesses of deleted facts (best effort: a flush skips facts that
    no longer exist anyway)."""
    ids = [str(fact_id) for fact_id in fact_ids]
    if not ids:
        return
    pipe = usage_redis().pipeline(transaction=False)
    pipe.hdel(COUNTS_KEY, *ids)
    pipe.hdel(LATEST_KEY, *ids)
    try:
        pipe.execute()
    except redis.RedisError:
        logger.warning("pending fact accesses not dropped: redis unavailable")


def _accesses_write(accesses: Accesses) -> int:
    values = ", ".join(["(%s::uuid, %s::integer, %s::timestamptz)"] * len(accesses))
    params: list[object] = []
    for fact_id, (count, moment) in accesses.items():
        params += [fact_id, count, moment]
    with transaction.atomic(), connection.cursor() as cursor:
        # Access counts only steer tiering: losing the last few on a crash is harmless,
        # and not waiting for the WAL flush keeps the write cheap.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            f"UPDATE {Fact._meta.db_table} AS f SET access_count = f.access_count + v.n, "
            "last_accessed_at = greatest(f.last_accessed_at, v.at) "
            f"FROM (VALUES {values}) AS v(id, n, at) WHERE f.id = v.id",
            params,
        )
        return cursor.rowcount


# Adds ARGV[2] accesses at unix time ARGV[1] to each fact id ARGV[3..]: one round trip, and
# the latest time kept is the greatest seen (two recalls may finish out of order).
_COUNT_LUA = """
local at = tonumber(ARGV[1])
for i = 3, #ARGV do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[2])
  local seen = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  if at > seen then redis.call('HSET', KEYS[2], ARGV[i], ARGV[1]) end
end
"""


def _count_args(fact_ids: Sequence[str], count: int, at: datetime) -> list[str | int]:
    return [repr(at.timestamp()), count, *fact_ids]


def _count(client: redis.Redis, fact_ids: Sequence[str], *, count: int, at: datetime) -> None:
    script = client.register_script(_COUNT_LUA)  # EVALSHA, loading the script if needed
    script(keys=[COUNTS_KEY, LATEST_KEY], args=_count_args(fact_ids, count, at))


def _give_back(client: redis.Redis, accesses: Accesses) -> None:
    try:
        for fact_id, (count, moment) in accesses.items():
            _count(client, [fact_id], count=count, at=moment)
    except redis.RedisError:
        logger.error(
            "fact accesses lost: redis unavailable while giving back %d facts", len(accesses)
        )
