"""Recall response cache in Redis: one entry per (tenant, user, request).

An entry holds the rendered JSON body, zlib-compressed, behind a header with the user's
memory version it was computed at (memory.versioning: kept in Postgres, bumped in the same
transaction as every enrichment commit and forget) and its token count. A hit is served
only when that version is still the user's current one, so a memory change is visible on
the very next recall even if Redis missed something or was restored from an older
append-only file. A recomputed answer overwrites the stale entry in place.

Each user's entry keys are also listed in a sorted set scored by expiry, so that
`recall_cache_drop` (called by forget) deletes the cached text itself rather than only
making it unreachable: forget removes derived data from caches too (SECURITY.md). The set
is trimmed of expired members on each write. A user's keys share one hash tag, so the
scripts that touch several of them stay on one slot of a Redis Cluster.

Redis being down only disables the cache (logged).
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis

from claiv.redis_client import redis_client
from memory.recall.replica import recall_reads
from memory.versioning import user_memory_version

logger = logging.getLogger("claiv.recall")

RECALL_CACHE_SECONDS = 600
# An answer that depends on the server's clock (a time resolved from "now", or "now" itself
# returned as the reference time) is served for a minute at most.
CLOCK_DEPENDENT_CACHE_SECONDS = 60
# zlib level 1: a ~23 KB LoCoMo recall body becomes ~6 KB (3.6x less Redis memory and
# append-only file) for ~0.16 ms on a miss and ~0.07 ms on a hit; higher levels gained
# little more at several times the cost.
COMPRESSION_LEVEL = 1
# Entry value: format byte, memory version (u64), tokens (u32), then the compressed body.
_FORMAT = b"z"
_HEADER = struct.Struct(">QI")

# The index lives as long as its longest-lived entry (TTL is -1/-2 without expiry/key).
_WRITE = """
local now = tonumber(redis.call('TIME')[1])
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
return 1
"""
# Deletes every entry the user's index lists (DEL in chunks: Lua's unpack is bounded).
_DROP = """
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys
"""


@dataclass(frozen=True)
class CachedRecall:
    """A rendered recall response: its JSON body, the tokens it packed (for metering), and
    whether it depends on the server's clock (then it is cached for a shorter time)."""

    tokens: int
    body: bytes
    clock_dependent: bool = False

    @property
    def ttl_seconds(self) -> int:
        return CLOCK_DEPENDENT_CACHE_SECONDS if self.clock_dependent else RECALL_CACHE_SECONDS


def _user_tag(tenant_id: uuid.UUID | str, user_id: str) -> str:
    # Hashed: user ids are opaque client strings; the digest keeps keys short and plain.
    user = hashlib.sha256(user_id.encode()).hexdigest()[:32]
    return f"claiv:recall:{{{tenant_id}:{user}}}"


def _index_key(tenant_id: uuid.UUID | str, user_id: str) -> str:
    return f"{_user_tag(tenant_id, user_id)}:index"


def _entry_key(tenant_id: uuid.UUID | str, user_id: str, kind: str, request: dict[str, Any]) -> str:
    material = json.dumps([kind, request], sort_keys=True, default=str)
    return f"{_user_tag(tenant_id, user_id)}:{hashlib.sha256(material.encode()).hexdigest()}"


def _encode(version: int, value: CachedRecall) -> bytes:
    return (
        _FORMAT + _HEADER.pack(version, value.tokens) + zlib.compress(value.body, COMPRESSION_LEVEL)
    )


def _decode(raw: bytes, version: int) -> CachedRecall | None:
    """The entry if it was computed at `version`, else None (stale or unknown format)."""
    if raw[:1] != _FORMAT or len(raw) < 1 + _HEADER.size:
        return None
    stored_version, tokens = _HEADER.unpack_from(raw, 1)
    if stored_version != version:
        return None
    return CachedRecall(tokens=tokens, body=zlib.decompress(raw[1 + _HEADER.size :]))


@lru_cache(maxsize=1)
def _scripts() -> tuple[Any, Any]:
    client = redis_client()
    return client.register_script(_WRITE), client.register_script(_DROP)


def recall_cached(
    *,
    tenant_id: uuid.UUID | str,
    user_id: str,
    kind: str,
    request: dict[str, Any],
    compute: Callable[[], CachedRecall],
    defer: Callable[[Callable[[Any], None]], None] | None = None,
) -> tuple[CachedRecall, bool]:
    """The response for this request and whether it came from the cache.

    `kind` names the response format, so two endpoints rendering the same request
    differently never share an entry. With `defer`, a miss's cache write is handed to it
    as a function that queues the write on a pipeline (claiv.middleware.UsageMiddleware
    sends it with the request's audit entries and usage count: one round trip fewer);
    a lost write only costs a later miss.
    """
    # Read before computing: if the memory changes while we compute, the entry we store
    # carries the older version and is never served.
    version = user_memory_version(tenant_id=tenant_id, user_id=user_id)
    key = _entry_key(tenant_id, user_id, kind, request)
    client = redis_client()
    try:
        raw = client.get(key)
    except redis.RedisError:
        logger.warning("recall cache unavailable")
        raw = None
    if raw is not None:
        hit = _decode(raw, version)
        if hit is not None:
            return hit, True
    # On a replica only if it has replayed this version (memory.recall.replica).
    value = recall_reads(tenant_id=tenant_id, user_id=user_id, version=version, compute=compute)
    keys = [key, _index_key(tenant_id, user_id)]
    args = [_encode(version, value), value.ttl_seconds]
    if defer is not None:
        # EVAL, not EVALSHA: on a pipeline redis-py would first ask whether the script
        # exists (a round trip); Redis caches the compiled script by its hash anyway. As a
        # raw command: redis-py's cluster pipeline refuses `.eval()` but routes EVAL by
        # its keys.
        defer(lambda pipe: pipe.execute_command("EVAL", _WRITE, len(keys), *keys, *args))
        return value, False
    write, _ = _scripts()
    try:
        write(keys=keys, args=args, client=client)
    except redis.RedisError:
        logger.warning("recall cache unavailable")
    return value, False


def recall_cache_drop(*, tenant_id: uuid.UUID | str, user_id: str) -> int:
    """Delete every cached recall of this user; returns how many entries were listed.

    Correctness does not depend on it (the version bump already makes the entries
    unservable); it removes the cached text. If Redis is down the entries expire within
    RECALL_CACHE_SECONDS (logged).
    """
    _, drop = _scripts()
    try:
        return int(drop(keys=[_index_key(tenant_id, user_id)], client=redis_client()))
    except redis.RedisError:
        logger.warning("recall cache not dropped: redis unavailable tenant=%s", tenant_id)
        return 0
