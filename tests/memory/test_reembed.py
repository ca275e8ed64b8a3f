"""`manage.py reembed`: the stored model moves with the data, a killed run resumes, a
dimension change changes the column; the start-up check names the command.

Rows are made by the real pipeline with the local MiniLM, then moved to "models" served by
the OpenAI-compatible stand-in (`seed_by_model`: each model name has its own vectors)."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import numpy as np
import openai
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from memory.embedding_space import (
    column_dimension,
    embedding_space_get,
    embedding_space_mismatch,
    embedding_space_verify,
)
from memory.memories import memory_add
from memory.models import EmbeddingSpace, Episode, Event, Fact
from memory.reembed import TABLES, reembed_run
from tenants.models import Tenant
from tests.factories import ingest_enriched
from tests.support.openai_stub import EmbeddingReply, OpenAIStub, model_text, stub_embedding

pytestmark = pytest.mark.django_db(transaction=True)  # reembed builds indexes CONCURRENTLY

STATEMENTS = [
    "I live in Berlin.",
    "My sister Anna is a nurse.",
    "I am allergic to peanuts.",
    "I started learning the cello last spring.",
]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(seed_by_model=True) as server:
        yield server


def _use(settings: Any, stub: OpenAIStub, model: str, dimension: int = 384) -> None:
    settings.EMBEDDING_PROVIDER = "openai"
    settings.EMBEDDING_BASE_URL = stub.base_url
    settings.EMBEDDING_API_KEY = "test"
    settings.EMBEDDING_MODEL = model
    settings.EMBEDDING_DIM = dimension


def _texts(table: str) -> dict[str, str]:
    """id -> the text each vector row of `table` is embedded from (reembed's own SQL)."""
    spec = next(t for t in TABLES if t.table == table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id::text, {spec.text_sql} FROM {table} WHERE embedding IS NOT NULL")
        return dict(cursor.fetchall())


def _vectors(model: Any) -> dict[str, np.ndarray]:
    return {
        str(pk): np.asarray(vector)
        for pk, vector in model.objects.filter(embedding__isnull=False).values_list(
            "id", "embedding"
        )
    }


def _assert_all_made_with(model: str, dimension: int) -> int:
    """Every stored vector is the stub's for `model`; returns how many were checked."""
    checked = 0
    for table, orm in (("memory_event", Event), ("memory_fact", Fact), ("memory_episode", Episode)):
        texts = _texts(table)
        vectors = _vectors(orm)
        assert set(vectors) == set(texts)
        for pk, text in texts.items():
            expected = stub_embedding(model_text(model, text), dimension)
            assert np.allclose(vectors[pk], expected, atol=1e-6), (table, text)
            checked += 1
    return checked


def _shadow_columns() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname || '.' || a.attname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid AND c.relkind = 'r' "
            "WHERE a.attname IN ('embedding_next', 'embedding_prev') "
            "AND NOT a.attisdropped"
        )
        return sorted(row[0] for row in cursor.fetchall())


def _hnsw_on_embedding() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE indexname LIKE '%embedding_hnsw%' ORDER BY indexname"
        )
        return [
            f"{name}: {'(embedding vector_cosine_ops)' in definition}"
            for name, definition in cursor.fetchall()
        ]


@pytest.fixture
def loaded(tenant: Tenant) -> int:
    """Events, extracted facts, an explicit memory and episodes, embedded by local MiniLM."""
    # The flush after the previous transactional test emptied the table: record it again.
    assert embedding_space_get().model == "local:all-MiniLM-L6-v2"
    for minutes, text in enumerate(STATEMENTS):
        ingest_enriched(tenant, text, minutes=minutes)
    memory_add(tenant=tenant, user_id="u1", content="Prefers tea over coffee", kind="note")
    counts = [
        Event.objects.filter(embedding__isnull=False).count(),
        Fact.objects.filter(embedding__isnull=False).count(),
        Episode.objects.filter(embedding__isnull=False).count(),
    ]
    assert counts[0] == len(STATEMENTS) + 1 and counts[1] >= 2 and counts[2] >= 1
    return sum(counts)


def test_a_model_change_is_refused_then_reembedded_resuming_after_a_failure(
    settings: Any, stub: OpenAIStub, loaded: int
) -> None:
    assert embedding_space_mismatch() is None
    before = _vectors(Event)

    _use(settings, stub, "model-b")
    with pytest.raises(ImproperlyConfigured, match=r"Run `python manage.py reembed`"):
        embedding_space_verify()

    # The run dies at its second embedding call (a provider error; a kill is the same: the
    # shadow column holds what was done).
    stub.script_embeddings([EmbeddingReply(), EmbeddingReply(status=400)])
    with pytest.raises(openai.BadRequestError):
        reembed_run(batch=2)
    # Nothing live changed: the old vectors serve, the space is still the old model.
    assert all(np.array_equal(before[pk], vector) for pk, vector in _vectors(Event).items())
    space = EmbeddingSpace.objects.get()
    assert (space.model, space.target_model) == ("local:all-MiniLM-L6-v2", "openai:model-b")
    assert Event.objects.extra(where=["embedding_next IS NOT NULL"]).count() == 2

    first_run_inputs = sum(len(r.json["input"]) for r in stub.embedding_requests)
    assert first_run_inputs == 2 + 2  # the first batch, then the failed one
    out = StringIO()
    call_command("reembed", "--batch", "3", stdout=out)

    second_run = stub.embedding_requests[2:]
    assert sum(len(r.json["input"]) for r in second_run) == loaded - 2  # resumed, not redone
    assert "memory_event: 5/5" in out.getvalue() and "now in use" in out.getvalue()
    assert _assert_all_made_with("model-b", 384) == loaded
    space = EmbeddingSpace.objects.get()
    assert (space.model, space.dimension, space.target_model) == ("openai:model-b", 384, "")
    assert embedding_space_mismatch() is None
    assert _shadow_columns() == []
    assert _hnsw_on_embedding() == [
        "docspan_embedding_hnsw: True",
        "episode_embedding_hnsw: True",
        "event_embedding_hnsw: True",
        "fact_embedding_hnsw: True",
        "passage_embedding_hnsw: True",
    ]

    # Again with the same settings: nothing to do, no embedding call.
    out = StringIO()
    call_command("reembed", stdout=out)
    assert "nothing to do" in out.getvalue()
    assert len(stub.embedding_requests) == 2 + len(second_run)


def test_a_vector_rewritten_after_the_fill_is_embedded_again(
    settings: Any, stub: OpenAIStub, loaded: int
) -> None:
    _use(settings, stub, "model-b")
    reembed_run(swap=False)
    # A worker on the old settings re-embeds an episode after the fill: the trigger clears
    # its shadow vector, so the swap embeds it again instead of keeping a stale one.
    episode = Episode.objects.first()
    assert episode is not None
    Episode.objects.filter(pk=episode.pk).update(embedding=[0.5] * 384)
    assert (
        Episode.objects.extra(where=["embedding_next IS NULL"]).filter(pk=episode.pk).count() == 1
    )

    report = reembed_run()

    assert report.swapped
    assert report.embedded == {
        "memory_event": 0,
        "memory_fact": 0,
        "memory_episode": 1,
        "memory_passage": 0,
        "memory_documentspan": 0,
    }
    assert _assert_all_made_with("model-b", 384) == loaded


def test_a_dimension_change_changes_the_column_type(
    settings: Any, stub: OpenAIStub, loaded: int
) -> None:
    _use(settings, stub, "model-c", dimension=256)
    assert "(256 dimensions" in (embedding_space_mismatch() or "")
    try:
        reembed_run(batch=64)
        assert column_dimension("memory_event") == 256
        assert column_dimension("memory_fact") == 256
        assert column_dimension("memory_episode") == 256
        assert _assert_all_made_with("model-c", 256) == loaded
        assert embedding_space_mismatch() is None
        assert _hnsw_on_embedding() == [
            "docspan_embedding_hnsw: True",
            "episode_embedding_hnsw: True",
            "event_embedding_hnsw: True",
            "fact_embedding_hnsw: True",
            "passage_embedding_hnsw: True",
        ]
    finally:
        # Put the schema back at 384 for the rest of the session (the rows are flushed).
        _use(settings, stub, "model-restore", dimension=384)
        reembed_run(batch=64)
        assert column_dimension("memory_event") == 384


def test_going_back_to_the_stored_model_abandons_a_started_run(
    settings: Any, stub: OpenAIStub
) -> None:
    assert embedding_space_get().model == "local:all-MiniLM-L6-v2"
    _use(settings, stub, "model-b")
    reembed_run(swap=False)
    assert _shadow_columns() == [
        "memory_documentspan.embedding_next",
        "memory_episode.embedding_next",
        "memory_event.embedding_next",
        "memory_fact.embedding_next",
        "memory_passage.embedding_next",
    ]

    settings.EMBEDDING_PROVIDER = "local"
    report = reembed_run()

    assert (report.embedded, report.swapped) == ({}, False)
    assert _shadow_columns() == []
    space = EmbeddingSpace.objects.get()
    assert (space.model, space.target_model, space.target_dimension) == (
        "local:all-MiniLM-L6-v2",
        "",
        None,
    )
    assert stub.embedding_requests == []
