"""Database pool use (Django's psycopg pool, when OPTIONS["pool"] turns it on).

Sampled from the request path at most once a second per process: `get_stats()` takes the
pool's lock, and a scrape only ever sees the last value anyway. Without a pool this is a
dictionary lookup and nothing is exported.
"""

from __future__ import annotations

import time
from typing import Any

from claiv.metrics.registry import DB_POOL_CONNECTIONS

SAMPLE_INTERVAL_SECONDS = 1.0
_last_sample = 0.0


def db_pool_sample() -> None:
    """Publish this process's pool size, idle connections and waiting requests."""
    global _last_sample
    now = time.monotonic()
    if now - _last_sample < SAMPLE_INTERVAL_SECONDS:
        return
    _last_sample = now
    from django.db.backends.postgresql.base import DatabaseWrapper

    # The class-level dict of pools Django has opened; reading `connection.pool` instead
    # would create a pool where none was wanted.
    pools: dict[str, Any] = getattr(DatabaseWrapper, "_connection_pools", {})
    if not pools:
        return
    size = available = waiting = 0
    for pool in pools.values():
        stats = pool.get_stats()
        size += stats.get("pool_size", 0)
        available += stats.get("pool_available", 0)
        waiting += stats.get("requests_waiting", 0)
    DB_POOL_CONNECTIONS.labels("open").set(size)
    DB_POOL_CONNECTIONS.labels("idle").set(available)
    DB_POOL_CONNECTIONS.labels("waiting").set(waiting)
