"""Django's Redis cache backend, with one client object per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache call;
each construction fills a ~170-entry response-callback table (~0.15 ms). The recall
cache, the rate limiter and the request path make several calls per request, so that was
~0.5 ms of a ~4 ms cached recall. A `redis.Redis` is thread-safe over its pool, so one
per pool is enough.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            from claiv.redis_client import redis_connect, redis_url_kind

            # Django's RedisCacheClient keeps these (untyped) attributes.
            url = self._servers[index]  # type: ignore[attr-defined]
            if redis_url_kind(url) != "single":
                # Cluster or Sentinel (claiv.redis_client): Django's pool cannot speak them.
                client = redis_connect(url, **self._pool_options)  # type: ignore[attr-defined]
            else:
                client = self._client(connection_pool=self._get_connection_pool(write))
            self._clients[index] = client
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusingClient
