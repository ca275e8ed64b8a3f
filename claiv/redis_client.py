"""The process's shared Redis client for the request path's bookkeeping: rate limits, usage
counters, fact accesses and the recall cache.

Short timeouts: on a sick Redis a request must not wait long for its bookkeeping; each
caller serves the request without it (and logs) on `redis.RedisError`.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings

REDIS_TIMEOUT_SECONDS = 0.5


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    """A shared client (its connection pool is thread-safe and reconnects by itself)."""
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
