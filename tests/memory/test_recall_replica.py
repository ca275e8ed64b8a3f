"""Recall on a real streaming replica (memory.recall.replica): served from the replica when
it has replayed the user's memory version, from the primary when it has not (replay paused
after a forget or an enrichment) and when it is down, never a stale answer or an error."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections

from claiv.embedded import EmbeddedReplica, replica_start
from memory.models import Event, Fact
from memory.recall import replica as routing
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.factories import enrich, ingest, ingest_enriched
from tests.plugins.services import postgres_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]
RECALL = {"user_id": "u1", "task": "Where does the user live and work?", "token_budget": 1000}
# Generous bounds for a loaded machine; every wait polls a condition.
CATCH_UP_SECONDS = 120.0


@pytest.fixture(scope="module")
def standby(django_db_setup: None, django_db_blocker: Any) -> Iterator[EmbeddedReplica]:
    """A streaming replica of the test database, registered as Django's `replica` alias (a
    mirror of the test database, so test teardown never flushes it). The base backup is
    taken after pytest-django created the test database, so the replica has it."""
    root = Path(tempfile.mkdtemp(prefix="claiv-replica-"))
    server = replica_start(postgres_server(), data_dir=root / "pgdata")
    try:
        settings = copy.deepcopy(connections["default"].settings_dict)
        settings.update(HOST="127.0.0.1", PORT=str(server.port), USER="postgres", PASSWORD="")
        settings["TEST"] = {**settings.get("TEST", {}), "MIRROR": "default"}
        connections.settings[routing.REPLICA] = settings
        yield server
    finally:
        with django_db_blocker.unblock():
            if routing.REPLICA in connections.settings:
                connections[routing.REPLICA].close()
                del connections[routing.REPLICA]
                del connections.settings[routing.REPLICA]
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _primary() -> psycopg.Connection[Any]:
    name = connections["default"].settings_dict["NAME"]
    return psycopg.connect(
        postgres_server().server.get_uri(name),  # type: ignore[attr-defined]
        autocommit=True,
    )


def _replica(server: EmbeddedReplica) -> psycopg.Connection[Any]:
    return psycopg.connect(
        server.url(connections["default"].settings_dict["NAME"]), autocommit=True
    )


def _caught_up(server: EmbeddedReplica) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    with _primary() as primary:
        lsn = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    with _replica(server) as standby_conn:
        wait_for(
            lambda: standby_conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]
            ).fetchone()[0],  # type: ignore[index]
            timeout=CATCH_UP_SECONDS,
            interval=0.05,
        )


@pytest.fixture
def replay_paused(standby: EmbeddedReplica) -> Iterator[None]:
    """The replica's replay paused (it keeps receiving WAL but applies none); resumed after."""
    _caught_up(standby)
    with _replica(standby) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        wait_for(
            lambda: (
                conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused"
            ),
            timeout=CATCH_UP_SECONDS,
            interval=0.05,
        )  # type: ignore[index]
    try:
        yield
    finally:
        with _replica(standby) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture(autouse=True)
def replica_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test starts with the replica eligible (a failure elsewhere sets a retry pause).
    monkeypatch.setattr(routing, "_replica_down_until", 0.0)
    # Every recall here runs its vector statements on a second connection (a long
    # history's way, routing.beside), so the routing and the failures cover it too.
    monkeypatch.setattr(routing, "SECOND_CONNECTION", True)
    monkeypatch.setattr(routing, "SECOND_CONNECTION_ROWS", 0)


class Statements:
    """SQL statements Django sent, per alias, while counting."""

    def __init__(self) -> None:
        self.sql: dict[str, list[str]] = {"default": [], routing.REPLICA: []}

    def __call__(self, alias: str) -> Any:
        def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            self.sql[alias].append(sql)
            return execute(sql, params, many, context)

        return wrapper


def _recall(
    api: Api, path: str = "/v1/recall", request: dict[str, Any] = RECALL
) -> tuple[dict[str, Any], Statements]:
    seen = Statements()
    with (
        connections["default"].execute_wrapper(seen("default")),
        connections[routing.REPLICA].execute_wrapper(seen(routing.REPLICA)),
    ):
        response = api.post(path, request)
    assert response.status_code == 200
    assert response["Server-Timing"].startswith("cache;desc=miss")
    return json.loads(response.content), seen


def _reads_memory(statements: list[str]) -> list[str]:
    tables = (Event._meta.db_table, Fact._meta.db_table)
    return [sql for sql in statements if any(table in sql for table in tables)]


def test_recall_is_served_by_the_replica(
    standby: EmbeddedReplica, api: Api, tenant: Tenant
) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    _caught_up(standby)
    body, seen = _recall(api)
    assert "Lisbon" in body["system_context"]
    # Every read of the user's memory went to the replica; the primary answered only the
    # version read (and the request's key / limiter statements).
    assert _reads_memory(seen.sql["default"]) == []
    assert len(_reads_memory(seen.sql[routing.REPLICA])) >= 5
    # ...and that connection is a server in recovery: the real standby.
    with connections[routing.REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (True,)


def test_forget_is_never_missed_while_replay_is_paused(
    standby: EmbeddedReplica, api: Api, tenant: Tenant, request: pytest.FixtureRequest
) -> None:
    lisbon = ingest_enriched(tenant, "I live in Lisbon.")
    ingest_enriched(tenant, "I work at Acme Robotics.", minutes=1)
    assert "Lisbon" in _recall(api)[0]["system_context"]
    request.getfixturevalue("replay_paused")
    assert api.post("/v1/forget", {"user_id": "u1", "erase_events": True}).status_code == 200
    assert not Event.objects.filter(pk=lisbon.pk, forgotten_at__isnull=True).exists()
    # The replica still holds the forgotten turn: reading from it would resurrect it.
    with _replica(standby) as conn:
        assert conn.execute(
            f"SELECT count(*) FROM {Event._meta.db_table} WHERE id = %s AND forgotten_at IS NULL",
            [lisbon.pk],
        ).fetchone() == (1,)
    body, seen = _recall(api)
    assert "Lisbon" not in json.dumps(body)
    # The replica answered the freshness check only; the recall ran on the primary.
    assert len(seen.sql[routing.REPLICA]) == 1
    assert _reads_memory(seen.sql["default"]) != []


def test_enrichment_is_never_missed_while_replay_is_paused(
    standby: EmbeddedReplica, api: Api, tenant: Tenant, request: pytest.FixtureRequest
) -> None:
    event = ingest(tenant, "I work at Acme Robotics as a welder.")
    request.getfixturevalue("replay_paused")
    enrich(event)
    facts = list(Fact.objects.filter(tenant=tenant, user_id="u1").values_list("id", flat=True))
    assert facts
    with _replica(standby) as conn:  # the replica has the event, not what enrichment made
        assert conn.execute(
            f"SELECT count(*) FROM {Fact._meta.db_table} WHERE tenant_id = %s", [tenant.pk]
        ).fetchone() == (0,)
    # v6 lists the facts themselves (v1 leaves out a fact whose turn it already shows).
    body, seen = _recall(api, "/v6/recall", {"user_id": "u1", "query": "Where does the user work?"})
    answered = {
        fact["fact_id"]
        for fact in body["answer_facts"] + body["supporting_facts"] + body["background_context"]
    }
    assert answered == {str(fact_id) for fact_id in facts}
    assert len(seen.sql[routing.REPLICA]) == 1


def test_replica_down_recall_uses_the_primary(
    standby: EmbeddedReplica, api: Api, tenant: Tenant
) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    _caught_up(standby)
    standby.stop()
    try:
        body, seen = _recall(api)
        assert "Lisbon" in body["system_context"]
        assert _reads_memory(seen.sql["default"]) != []
        assert _reads_memory(seen.sql[routing.REPLICA]) == []
    finally:
        connections[routing.REPLICA].close()
        standby.start()
