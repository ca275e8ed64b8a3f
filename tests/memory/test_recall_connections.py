"""Recall's statements on two connections (memory.recall.replica.beside, switched on
here): the vector statements go out on a second connection when the caller holds no
transaction, the answer
is the one a single connection gives, a committed forget is seen by both, and inside the
caller's transaction everything stays on its connection (its uncommitted rows are visible
there only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from memory.models import Event
from memory.recall import engine, replica
from memory.recall.channels import RecallScope
from tenants.models import Tenant
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db(transaction=True)

TURNS = [
    "I live in Lisbon near the river.",
    "I work at Acme Robotics as a firmware engineer.",
    "My daughter Mia plays the cello.",
    "I'm training for the Berlin marathon in September.",
    "My favourite food is ramen with extra egg.",
]
QUESTION = "Where does the user live?"
# The vector statements (channels.nearest_sql) and the other channels' (bm25.bm25_sql).
VECTOR = "WITH small AS MATERIALIZED"


def _recorder(into: list[str]) -> Callable[..., Any]:
    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        into.append(sql)
        return execute(sql, params, many, context)

    return record


@pytest.fixture
def second() -> Iterator[BaseDatabaseWrapper]:
    """This thread's second connection, made ahead so statements on it can be watched."""
    wrapper = replica._second(replica.alias())
    yield wrapper
    wrapper.close()


def _fused(scope: RecallScope) -> list[tuple[tuple[str, object], float]]:
    return engine.retrieve(scope, QUESTION, budget=2000).fused


def test_vector_statements_run_on_a_second_connection_with_the_same_answer(
    tenant: Tenant, second: BaseDatabaseWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replica, "SECOND_CONNECTION", True)
    monkeypatch.setattr(replica, "SECOND_CONNECTION_ROWS", 0)  # a small user here
    events = [ingest_enriched(tenant, text, minutes=i) for i, text in enumerate(TURNS)]
    scope = RecallScope(tenant=tenant, user_id="u1")
    first_sql: list[str] = []
    second_sql: list[str] = []
    with connection.execute_wrapper(_recorder(first_sql)):
        with second.execute_wrapper(_recorder(second_sql)):
            two = _fused(scope)
    assert sum(VECTOR in sql for sql in second_sql) == 4  # events, facts, episodes, passages
    assert not any(VECTOR in sql for sql in first_sql)
    # The keyword channels stay (the whole-history plan of a small user).
    assert any(sql.startswith("WITH few AS MATERIALIZED") for sql in first_sql)
    assert not connection.in_atomic_block and second.connection is not None

    monkeypatch.setattr(replica, "SECOND_CONNECTION", False)
    second_sql.clear()
    with second.execute_wrapper(_recorder(second_sql)):
        one = _fused(scope)
    assert second_sql == []
    assert one == two
    # Nor for a user up to SECOND_CONNECTION_ROWS rows of every kind.
    monkeypatch.setattr(replica, "SECOND_CONNECTION", True)
    monkeypatch.setattr(replica, "SECOND_CONNECTION_ROWS", 1_000)
    with second.execute_wrapper(_recorder(second_sql)):
        assert _fused(scope) == two
    assert second_sql == []
    assert two[0][0] == ("event", events[0].id)

    # A forget committed before the recall: neither connection returns the turn.
    monkeypatch.setattr(replica, "SECOND_CONNECTION", True)
    Event.objects.filter(id=events[0].id).update(forgotten_at=timezone.now())
    assert ("event", events[0].id) not in {key for key, _ in _fused(scope)}


def test_inside_the_callers_transaction_one_connection_sees_its_uncommitted_rows(
    tenant: Tenant, second: BaseDatabaseWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replica, "SECOND_CONNECTION", True)
    monkeypatch.setattr(replica, "SECOND_CONNECTION_ROWS", 0)
    for i, text in enumerate(TURNS[1:]):
        ingest_enriched(tenant, text, minutes=i)
    scope = RecallScope(tenant=tenant, user_id="u1")
    second_sql: list[str] = []
    with second.execute_wrapper(_recorder(second_sql)), transaction.atomic():
        lisbon = ingest_enriched(tenant, TURNS[0], minutes=10)  # not committed
        fused = _fused(scope)
    assert second_sql == []
    assert fused[0][0] == ("event", lisbon.id)
