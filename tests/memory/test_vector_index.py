"""Filtered top-k at a modest size: a user's vector search through the index returns k
rows although most of the table is other users' (pgvector iterative scans, HNSW and
IVFFlat), the exact fallback covers an index that comes back short, and the vector index
can be switched between the two methods (`manage.py vector_index`)."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings

from memory import vector_index
from memory.recall import channels
from memory.recall.channels import RecallScope
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

K = 100
MINE = 200  # the user's rows among ...
OTHERS = 2800  # ... other users' rows of the same tenant


def _fill(tenant: Tenant) -> None:
    """MINE events of user "me" and OTHERS of 28 other users, random unit vectors."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(MINE + OTHERS, 384))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    users = ["me"] * MINE + [f"other-{i % 28}" for i in range(OTHERS)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO memory_event (id, tenant_id, user_id, conversation_id, project_id, "
            "type, role, content, event_time, metadata, scope, body_hash, created_at, status, "
            "stage, attempts, state_changed_at, extractor, tokens_used, candidate_count, "
            "gated_count, time_notes, embedding) "
            "SELECT gen_random_uuid(), %s, u.user_id, 'c1', '', 'message', 'user', "
            "'turn ' || u.n, now() - u.n * interval '1 minute', '{}', 'global', "
            "md5(u.n::text) || md5(u.n::text), now(), 'enriched', '', 0, now(), 'offline', "
            "0, 0, 0, '[]', u.v::vector "
            "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS u(user_id, v, n)",
            [
                tenant.pk,
                users,
                ["[" + ",".join(f"{x:.5f}" for x in v) + "]" for v in vectors],
            ],
        )
        # Fire the deferred foreign-key checks now: a pending one forbids CREATE INDEX.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ANALYZE memory_event")


@pytest.fixture
def crowded(tenant: Tenant) -> Iterator[RecallScope]:
    _fill(tenant)
    yield RecallScope(tenant=tenant, user_id="me")


def _query() -> list[float]:
    v = np.random.default_rng(11).normal(size=384)
    return [float(x) for x in v / np.linalg.norm(v)]


def _index_scan(scope: RecallScope, *, iterative: bool) -> list[object]:
    """The vector index's answer alone: the filtered ORDER BY ... LIMIT k with sorting
    disabled, so the planner must take the index (the only ordered path)."""
    rows = channels.visible("event", scope)
    sql, params = rows.select("r.id", "r.embedding IS NOT NULL")
    text = "[" + ",".join(repr(x) for x in _query()) + "]"
    with transaction.atomic(), connection.cursor() as cursor:
        channels.iterative_scan(K)
        if not iterative:
            cursor.execute(
                "SELECT set_config('hnsw.iterative_scan', 'off', true), "
                "set_config('ivfflat.iterative_scan', 'off', true)"
            )
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(
            f"EXPLAIN {sql} ORDER BY r.embedding <=> %s::vector LIMIT %s", [*params, text, K]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "embedding_hnsw" in plan or "embedding_ivfflat" in plan, plan
        cursor.execute(f"{sql} ORDER BY r.embedding <=> %s::vector LIMIT %s", [*params, text, K])
        return [row[0] for row in cursor.fetchall()]


def _mine(scope: RecallScope) -> set[object]:
    rows = channels.visible("event", scope)
    sql, params = rows.select("r.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _exact(scope: RecallScope) -> list[object]:
    rows = channels.visible("event", scope)
    sql, params = rows.select("r.id", "r.embedding IS NOT NULL")
    text = "[" + ",".join(repr(x) for x in _query()) + "]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"{sql} ORDER BY (r.embedding <=> %s::vector) + 0 LIMIT %s", [*params, text, K]
        )
        return [row[0] for row in cursor.fetchall()]


# IVFFlat with one probe (of 10 lists) finds ~20 of the user's rows without iterating.
@override_settings(VECTOR_IVFFLAT_PROBES=1, VECTOR_IVFFLAT_MAX_PROBES=10)
@pytest.mark.parametrize("method", ["hnsw", "ivfflat"])
def test_a_filtered_index_scan_returns_k_rows_for_a_user_among_many(
    crowded: RecallScope, method: str
) -> None:
    vector_index.build(method, concurrently=False)
    assert {kind: methods for kind, methods in vector_index.present().items()} == {
        kind: [method] for kind in vector_index.TABLES
    }
    # Without iterative scans the index's candidates are mostly other users' rows.
    assert len(_index_scan(crowded, iterative=False)) < K
    found = _index_scan(crowded, iterative=True)
    assert len(found) == len(set(found)) == K
    assert set(found) <= _mine(crowded)


@override_settings(VECTOR_IVFFLAT_PROBES=1, VECTOR_IVFFLAT_MAX_PROBES=10)
@pytest.mark.parametrize("method", ["hnsw", "ivfflat"])
def test_the_vector_channel_returns_k_rows_exact_or_through_either_index(
    crowded: RecallScope, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    vector_index.build(method, concurrently=False)
    rows = channels.visible("event", crowded)
    query = _query()
    exact = [("event", i) for i in _exact(crowded)]
    with transaction.atomic():
        assert channels.vector("event", rows, query, K) == exact  # a small user: exact
    monkeypatch.setattr(channels, "EXACT_ROWS", 0)  # every user through the index
    with transaction.atomic():
        connection.cursor().execute("SET LOCAL enable_sort = off")
        found = channels.vector("event", rows, query, K)
    assert len(found) == len(set(found)) == K
    assert {item_id for _, item_id in found} <= _mine(crowded)
    # An index that comes back short (iterative scans off) is made up by the exact search.
    monkeypatch.setattr(
        channels,
        "iterative_scan",
        lambda depth: channels.send(
            "SELECT set_config('hnsw.iterative_scan', 'off', true), "
            "set_config('ivfflat.iterative_scan', 'off', true), "
            "set_config('ivfflat.probes', '1', true)",
            [],
        ),
    )
    with transaction.atomic():
        connection.cursor().execute("SET LOCAL enable_sort = off")
        assert channels.vector("event", rows, query, K) == exact


def test_the_vector_index_command_switches_methods_and_recall_works_with_either(
    crowded: RecallScope,
) -> None:
    from memory.recall.engine import retrieve

    out = StringIO()
    call_command("vector_index", "--method", "ivfflat", "--blocking", stdout=out)
    assert "event_embedding_ivfflat: built" in out.getvalue()
    assert set(vector_index.present()["fact"]) == {"ivfflat"}
    ivfflat = retrieve(crowded, "turn 7", budget=2000).fused
    out = StringIO()
    call_command("vector_index", "--method", "ivfflat", "--blocking", stdout=out)
    assert "nothing to do" in out.getvalue()
    call_command("vector_index", "--method", "hnsw", "--blocking", stdout=StringIO())
    assert set(vector_index.present()["event"]) == {"hnsw"}
    hnsw = retrieve(crowded, "turn 7", budget=2000).fused
    assert ivfflat and [key for key, _ in ivfflat] == [key for key, _ in hnsw]


def _planned_index(sql: str, params: list[object]) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_document_spans_follow_the_vector_index_switch(tenant: Tenant) -> None:
    from memory.documents.store import document_upload
    from memory.recall.documents import document_recall
    from tests.support.manual import MANUAL

    for user in ("me", "other"):
        document_upload(
            tenant=tenant,
            user_id=user,
            project_id="p",
            name="Skyline Manual",
            content=MANUAL,
            document_id=f"manual-{user}",
        )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # CREATE INDEX after the inserts
    nearest = (
        "SELECT id FROM memory_documentspan WHERE tenant_id = %s AND user_id = %s "
        "ORDER BY embedding <=> %s::vector LIMIT 5"
    )
    params = [tenant.pk, "me", "[" + ",".join(repr(x) for x in _query()) + "]"]
    answers = {}
    for method in ("ivfflat", "hnsw"):
        out = StringIO()
        call_command("vector_index", "--method", method, "--blocking", stdout=out)
        assert f"docspan_embedding_{method}: built" in out.getvalue()
        assert vector_index.present()["docspan"] == [method]
        assert f"docspan_embedding_{method}" in _planned_index(nearest, params)
        found = document_recall(
            tenant=tenant,
            user_id="me",
            query="how long do I hold the reset button?",
            document_id="manual-me",
        )
        answers[method] = [hit.text for hit in found.hits]
        assert any("fifteen seconds" in text for text in answers[method])
