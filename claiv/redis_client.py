"""The process's shared Redis client for the request path's bookkeeping: rate limits, usage
counters, fact accesses and the recall cache; and `redis_connect`, which every Redis user
goes through so that each deployment shape works:

- `redis://host:6379/0`, `rediss://…`, `unix://…`: one server (or a managed endpoint);
- `redis+cluster://host:6379` (or `rediss+cluster://`): Redis Cluster, any node as seed.
  Every multi-key operation keeps its keys in one hash slot with a `{…}` hash tag
  (tests/claiv/test_redis_fleet.py checks each script's and transaction's keys);
- `redis+sentinel://[:password@]host1:26379,host2:26379/<service>/<db>`: behind Sentinel,
  following the master through failovers. Kombu's own form for the broker,
  `sentinel://host1:26379;sentinel://host2:26379` with CELERY_BROKER_MASTER_NAME, is
  understood too (the queue-depth exporter and the health checks read the broker).

The broker (CELERY_BROKER_URL) may be another deployment than REDIS_URL; Celery's broker
cannot be a Redis Cluster (kombu does not support it), the bookkeeping store can.

Short timeouts: on a sick Redis a request must not wait long for its bookkeeping; each
caller serves the request without it (and logs) on `redis.RedisError`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings

REDIS_TIMEOUT_SECONDS = 0.5

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
SENTINEL_SCHEMES = {"redis+sentinel", "rediss+sentinel", "sentinel"}


def redis_url_kind(url: str) -> str:
    """`single`, `cluster` or `sentinel`, from the URL's scheme."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in CLUSTER_SCHEMES:
        return "cluster"
    if scheme in SENTINEL_SCHEMES:
        return "sentinel"
    return "single"


def sentinel_parse(url: str, *, master_name: str | None = None) -> dict[str, Any]:
    """Hosts, service name, database and password of a Sentinel URL (either form above)."""
    hosts: list[tuple[str, int]] = []
    password = None
    service = master_name or ""
    db = 0
    for part in url.split(";"):
        split = urlsplit(part.strip())
        if split.password:
            password = unquote(split.password)
        netloc = split.netloc.rsplit("@", 1)[-1]
        for host in netloc.split(","):
            name, _, port = host.partition(":")
            hosts.append((name, int(port or 26379)))
        segments = [s for s in split.path.split("/") if s]
        if segments and not master_name:
            service = segments[0]
        if len(segments) > 1:
            db = int(segments[1])
    if not service:
        raise ValueError("a Sentinel URL needs the master's service name (…/<service>/<db>)")
    return {
        "hosts": hosts,
        "service": service,
        "db": db,
        "password": password,
        "tls": url.lower().startswith("rediss+"),
    }


def redis_connect(url: str, *, master_name: str | None = None, **options: Any) -> Any:
    """A client for `url` (see the module docstring); `options` are redis-py's (timeouts).
    Cluster clients contact a seed node at once to learn the slots; the others connect on
    first use."""
    kind = redis_url_kind(url)
    if kind == "cluster":
        from redis.cluster import RedisCluster

        scheme, rest = url.split("://", 1)
        return RedisCluster.from_url(f"{CLUSTER_SCHEMES[scheme.lower()]}://{rest}", **options)
    if kind == "sentinel":
        from redis.sentinel import Sentinel

        parsed = sentinel_parse(url, master_name=master_name)
        connection = {"password": parsed["password"], "ssl": parsed["tls"], **options}
        sentinel = Sentinel(
            parsed["hosts"],
            sentinel_kwargs={
                key: value for key, value in options.items() if key.startswith("socket_")
            },
            **connection,
        )
        return sentinel.master_for(parsed["service"], db=parsed["db"])
    return redis.Redis.from_url(url, **options)


@lru_cache(maxsize=1)
def redis_client() -> Any:
    """A shared client (its connection pool is thread-safe and reconnects by itself)."""
    return redis_connect(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


def broker_client(**options: Any) -> Any:
    """A plain Redis client on Celery's broker (queue depth, health), Sentinel included."""
    transport = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    return redis_connect(
        settings.CELERY_BROKER_URL, master_name=transport.get("master_name"), **options
    )
