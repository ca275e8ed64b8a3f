"""The pipeline against the local OpenAI-protocol stub: LLM extraction and summaries with
their fallbacks recorded on the event, and the OpenAI embeddings provider (dimensions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest
from django.db import connection

from enrichment.extraction.llm import LLMExtractor
from enrichment.extraction.offline import OfflineExtractor
from enrichment.extractors import extractor, summarizer
from enrichment.pipeline import fact_embedding_text
from enrichment.summaries import ExtractiveSummarizer, LLMSummarizer
from memory.embedding import OpenAIEmbedder, embedder
from memory.models import Episode, Fact
from tenants.models import Tenant
from tests.factories import ingest_enriched
from tests.support.openai_stub import (
    CHAT_PATH,
    ChatReply,
    EmbeddingReply,
    OpenAIStub,
    stub_embedding,
)

pytestmark = pytest.mark.django_db

LIVES = {
    "subject": "I",
    "relation_phrase": "live in",
    "object_text": "Berlin",
    "source_text": "I live in Berlin",
    "predicate": "lives_in",
    "confidence": 0.9,
}
SUMMARY = ChatReply(content="The user lives in Berlin.", usage=(40, 8))


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as running:
        yield running


@pytest.fixture
def llm(settings: Any, stub: OpenAIStub) -> OpenAIStub:
    # Changing these settings rebuilds the extractor and summarizer (setting_changed).
    settings.EXTRACTOR = "llm"
    settings.LLM_BASE_URL = stub.base_url
    settings.LLM_API_KEY = "sk-test"
    settings.LLM_MODEL = "stub-model"
    settings.LLM_TIMEOUT = 0.5
    settings.LLM_MAX_RETRIES = 1
    return stub


def test_providers_follow_the_settings(settings: Any, llm: OpenAIStub) -> None:
    assert isinstance(extractor(), LLMExtractor)
    assert isinstance(summarizer(), LLMSummarizer)
    settings.EXTRACTOR = "offline"
    assert isinstance(extractor(), OfflineExtractor)
    assert isinstance(summarizer(), ExtractiveSummarizer)


def test_llm_extraction_and_abstractive_summaries_are_recorded(
    llm: OpenAIStub, tenant: Tenant
) -> None:
    llm.script_chat(
        [
            ChatReply(content=json.dumps({"propositions": [LIVES]}), usage=(100, 20)),
            SUMMARY,
            SUMMARY,
        ]
    )
    event = ingest_enriched(tenant, "I live in Berlin and I love it here.")

    assert (event.status, event.extractor) == ("enriched", "llm")
    assert event.tokens_used == 120 + 48 + 48  # extraction, then two summaries
    fact = Fact.objects.get(source_event=event)
    assert (fact.predicate, fact.object_text, fact.confidence, fact.source_text) == (
        "lives_in",
        "Berlin",
        0.9,
        "I live in Berlin",
    )
    assert sorted(Episode.objects.filter(tenant=tenant).values_list("summary", "summarizer")) == [
        ("Conversation on 2024-05-01: The user lives in Berlin.", "llm"),
        ("Session 2024-05-01 09:00 UTC: The user lives in Berlin.", "llm"),
    ]
    requests = llm.chat_requests
    assert [r.json["model"] for r in requests] == ["stub-model"] * 3
    assert requests[0].json["response_format"] == {"type": "json_object"}
    # The summary request carries the highlight sentence, not the raw event metadata.
    assert requests[1].json["messages"][1]["content"] == "- I live in Berlin and I love it here."


FAILURES = {
    "malformed": (
        [
            ChatReply(content="Sure! Here you go:", usage=(10, 2)),
            ChatReply(content="{not json", usage=(10, 2)),
        ],
        24,
    ),
    "rate_limited": ([ChatReply(status=429, headers={"retry-after": "0"})] * 2, 0),
    "server_error": ([ChatReply(status=500, headers={"retry-after": "0"})] * 2, 0),
    "slow": ([ChatReply(delay=3.0, content=json.dumps({"propositions": [LIVES]}))] * 2, 0),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_provider_failure_falls_back_to_the_offline_extractor(
    llm: OpenAIStub, tenant: Tenant, failure: str
) -> None:
    replies, extraction_tokens = FAILURES[failure]
    llm.script_chat([*replies, SUMMARY, SUMMARY])
    event = ingest_enriched(tenant, "I live in Berlin.")

    assert (event.status, event.extractor) == ("enriched", "offline")
    assert event.tokens_used == extraction_tokens + 96
    assert len(llm.requests_to(CHAT_PATH)) == 4  # one retry each, then two summaries
    fact = Fact.objects.get(source_event=event)
    assert (fact.predicate, fact.object_text, fact.confidence) == ("lives_in", "Berlin", 0.8)


def test_summarizer_failure_falls_back_to_extractive(llm: OpenAIStub, tenant: Tenant) -> None:
    llm.script_chat(
        [
            ChatReply(content=json.dumps({"propositions": [LIVES]}), usage=(100, 20)),
            ChatReply(status=400),
            ChatReply(status=400),
        ]
    )
    event = ingest_enriched(tenant, "I live in Berlin.")
    assert (event.extractor, event.tokens_used) == ("llm", 120)
    assert sorted(Episode.objects.filter(tenant=tenant).values_list("summary", "summarizer")) == [
        ("Conversation on 2024-05-01: I live in Berlin.", "extractive"),
        ("Session 2024-05-01 09:00 UTC: I live in Berlin.", "extractive"),
    ]


@pytest.fixture
def openai_embeddings(settings: Any, stub: OpenAIStub) -> OpenAIStub:
    settings.EMBEDDING_PROVIDER = "openai"
    settings.EMBEDDING_BASE_URL = stub.base_url
    settings.EMBEDDING_API_KEY = "sk-test"
    settings.EMBEDDING_MODEL = "text-embedding-3-small"
    return stub


def f32(vector: Any) -> list[float]:
    """A vector as float32 values: Postgres prints float4 in its shortest form, so what
    comes back is the same float32, not the same float64."""
    return np.asarray(vector, dtype=np.float32).tolist()


def test_openai_embeddings_fill_every_vector(
    openai_embeddings: OpenAIStub, settings: Any, tenant: Tenant
) -> None:
    assert isinstance(embedder(), OpenAIEmbedder)
    event = ingest_enriched(tenant, "I live in Lisbon.")
    fact = Fact.objects.get(source_event=event)
    dim = settings.EMBEDDING_DIM
    assert f32(event.embedding) == f32(stub_embedding("I live in Lisbon.", dim))
    assert f32(fact.embedding) == f32(stub_embedding(fact_embedding_text(fact), dim))
    for episode in Episode.objects.filter(tenant=tenant):
        body = episode.summary.split(": ", 1)[1]
        assert f32(episode.embedding) == f32(stub_embedding(body, dim))
    (request,) = openai_embeddings.embedding_requests  # one call for the whole stage
    assert {k: request.json[k] for k in ("model", "dimensions", "encoding_format")} == {
        "model": "text-embedding-3-small",
        "dimensions": dim,
        "encoding_format": "float",
    }
    assert request.json["input"] == [
        "I live in Lisbon.",
        "I live in Lisbon",
        "I live in Lisbon.",
        "I live in Lisbon.",
    ]


def test_openai_embedder_asks_for_its_dimension(stub: OpenAIStub) -> None:
    client = OpenAIEmbedder(base_url=stub.base_url, api_key="sk-test", model="m", dimension=64)
    assert client.embed(["a", "b"]) == [stub_embedding("a", 64), stub_embedding("b", 64)]
    assert stub.embedding_requests[0].json["dimensions"] == 64
    assert client.embed([]) == []
    assert len(stub.embedding_requests) == 1


def test_openai_embedder_rejects_vectors_of_another_dimension(stub: OpenAIStub) -> None:
    body = {
        "object": "list",
        "model": "m",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
        "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}],
    }
    stub.script_embeddings([EmbeddingReply(raw_body=json.dumps(body))])
    client = OpenAIEmbedder(base_url=stub.base_url, api_key="sk-test", model="m", dimension=64)
    with pytest.raises(ValueError, match="wrong dimension"):
        client.embed(["a"])


def _vector_columns(cursor: Any) -> dict[str, str]:
    cursor.execute(
        "SELECT c.relname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE a.attname = 'embedding' "
        "AND c.relname IN ('memory_event', 'memory_fact', 'memory_episode')"
    )
    return dict(cursor.fetchall())


def test_vector_columns_have_the_configured_dimension(settings: Any) -> None:
    with connection.cursor() as cursor:
        assert _vector_columns(cursor) == dict.fromkeys(
            ["memory_event", "memory_fact", "memory_episode"], f"vector({settings.EMBEDDING_DIM})"
        )


def test_migrations_create_vector_columns_of_embedding_dim() -> None:
    """A fresh database migrated with EMBEDDING_DIM=64 gets vector(64) columns."""
    url = urlsplit(os.environ["DATABASE_URL"])
    fresh = urlunsplit(url._replace(path="/claiv_dim64"))
    admin = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS claiv_dim64")
        conn.execute("CREATE DATABASE claiv_dim64")
    try:
        with psycopg.connect(fresh, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        root = Path(__file__).resolve().parents[2]
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(
                os.environ, DATABASE_URL=fresh, EMBEDDING_DIM="64", EMBEDDING_PROVIDER="openai"
            ),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        with psycopg.connect(fresh) as conn, conn.cursor() as cursor:
            assert _vector_columns(cursor) == dict.fromkeys(
                ["memory_event", "memory_fact", "memory_episode"], "vector(64)"
            )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS claiv_dim64 WITH (FORCE)")
