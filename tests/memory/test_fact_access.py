"""Recall counts fact accesses in Redis; the flush moves them into the fact rows, gives
them back if the database refuses, and forget drops the pending ones of deleted facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import redis
from django.db import DatabaseError

from memory import access
from memory.forget import ForgetScope, memory_forget
from memory.metering import usage_redis
from memory.models import Fact
from memory.recall.channels import RecallScope
from memory.recall.engine import Retrieval, memory_recall
from tenants.models import Tenant
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db(transaction=True)  # forget's on_commit must run

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_pending_accesses() -> None:
    usage_redis().delete(access.COUNTS_KEY, access.LATEST_KEY)


def _lisbon(tenant: Tenant) -> Fact:
    ingest_enriched(tenant, "I live in Lisbon.")
    return Fact.objects.get(tenant=tenant, predicate="lives_in")


def test_recall_counts_accesses_and_the_flush_moves_them_into_the_fact(tenant: Tenant) -> None:
    fact = _lisbon(tenant)
    # A retrieval that ranks only the fact, so the packed context holds it (a real one
    # would show the turn that stated it and skip the fact).
    ranked = Retrieval(
        scope=RecallScope(tenant=tenant, user_id="u1"),
        query="Where?",
        reference_time=AT,
        anchor_source="request",
        routing=None,
        fused=[(("fact", fact.id), 1.0)],
        facts={fact.id: fact},
    )
    with mock.patch("memory.recall.engine.retrieve", return_value=ranked):
        result = memory_recall(tenant=tenant, user_id="u1", query="Where?", token_budget=500)
    assert [b.item_id for b in result.blocks] == [str(fact.id)]
    fact.refresh_from_db()
    assert fact.access_count == 0  # counted in Redis, not yet in the row

    access.facts_accessed([str(fact.id)], at=AT)
    assert access.fact_accesses_flush() == 1
    fact.refresh_from_db()
    assert fact.access_count == 2
    assert fact.last_accessed_at > AT  # the recall's access is the latest
    assert access.fact_accesses_flush() == 0  # nothing counted twice


def test_an_older_access_never_moves_last_accessed_back(tenant: Tenant) -> None:
    fact = _lisbon(tenant)
    access.facts_accessed([str(fact.id)], at=AT)
    access.fact_accesses_flush()
    access.facts_accessed([str(fact.id)], at=AT - timedelta(days=3))
    access.fact_accesses_flush()
    fact.refresh_from_db()
    assert (fact.access_count, fact.last_accessed_at) == (2, AT)


def test_without_redis_the_row_is_written_directly(tenant: Tenant) -> None:
    fact = _lisbon(tenant)
    nowhere = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    with mock.patch.object(access, "usage_redis", return_value=nowhere):
        access.facts_accessed([str(fact.id)], at=AT)
    fact.refresh_from_db()
    assert (fact.access_count, fact.last_accessed_at) == (1, AT)


def test_a_flush_the_database_refuses_gives_the_counts_back(tenant: Tenant) -> None:
    fact = _lisbon(tenant)
    access.facts_accessed([str(fact.id)], at=AT)
    access.facts_accessed([str(fact.id)], at=AT)
    with (
        mock.patch.object(access, "_accesses_write", side_effect=DatabaseError("down")),
        pytest.raises(DatabaseError),
    ):
        access.fact_accesses_flush()
    assert access.fact_accesses_flush() == 1
    fact.refresh_from_db()
    assert (fact.access_count, fact.last_accessed_at) == (2, AT)


def test_forget_drops_the_pending_accesses_of_the_facts_it_deletes(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine, theirs = _lisbon(tenant), _lisbon(other_tenant)
    access.facts_accessed([str(mine.id), str(theirs.id)], at=AT)
    memory_forget(tenant=tenant, scope=ForgetScope(user_id="u1"))
    pending = usage_redis().hgetall(access.COUNTS_KEY)
    assert pending == {str(theirs.id).encode(): b"1"}


def test_inside_a_request_the_accesses_wait_for_the_end_pipeline(tenant: Tenant) -> None:
    fact = _lisbon(tenant)
    with access.fact_accesses_deferred() as deferred:
        access.facts_accessed([str(fact.id)], at=AT)
    assert not usage_redis().exists(access.COUNTS_KEY)  # nothing sent on its own
    pipe = usage_redis().pipeline(transaction=False)
    pipe.ping()
    deferred.queue(pipe)
    deferred.settle(pipe.execute(raise_on_error=False))
    assert usage_redis().hgetall(access.COUNTS_KEY) == {str(fact.id).encode(): b"1"}
    assert access.fact_accesses_flush() == 1
    fact.refresh_from_db()
    assert (fact.access_count, fact.last_accessed_at) == (1, AT)


@pytest.mark.parametrize("outcome", ["pipeline failed", "command refused"])
def test_accesses_redis_did_not_count_are_written_directly(tenant: Tenant, outcome: str) -> None:
    fact = _lisbon(tenant)
    with access.fact_accesses_deferred() as deferred:
        access.facts_accessed([str(fact.id)], at=AT - timedelta(days=1))
        access.facts_accessed([str(fact.id)], at=AT)
    pipe = usage_redis().pipeline(transaction=False)
    deferred.queue(pipe)
    pipe.reset()  # never sent
    if outcome == "pipeline failed":
        deferred.settle(None)
    else:
        deferred.settle([redis.ResponseError("refused"), redis.ResponseError("refused")])
    fact.refresh_from_db()
    assert (fact.access_count, fact.last_accessed_at) == (2, AT)
    assert not usage_redis().exists(access.COUNTS_KEY)
