"""`manage.py reembed` computes in SQL the text each vector was made from; it must be the text
the writers embed (enrichment's fact triple, an explicit memory's event text, an episode's
body), or a re-embed would move every vector to a different sentence."""

from __future__ import annotations

from django.db import connection

from enrichment.episodes import _old_body
from enrichment.pipeline.stages.embed import fact_embedding_text
from memory.documents.store import document_upload, span_embedding_text
from memory.memories import memory_add
from memory.models import DocumentSpan, Episode, Event, Fact
from memory.passages import WHOLE_TEXT_CHARS
from memory.reembed import TABLES
from tenants.models import Tenant
from tests.factories import ingest_enriched

STATEMENTS = [
    "I live in Berlin.",
    "My sister Anna is a nurse.",
    "I don't eat meat.",
    "Caroline went to the support group on Friday.",
]


def _sql_texts(table: str) -> dict[str, str]:
    spec = next(t for t in TABLES if t.table == table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id::text, {spec.text_sql} FROM {table}")
        return dict(cursor.fetchall())


def test_the_sql_texts_are_the_writers_texts(tenant: Tenant) -> None:
    for minutes, text in enumerate(STATEMENTS):
        ingest_enriched(tenant, text, minutes=minutes, conversation_id="c1")
    memory_add(
        tenant=tenant, user_id="u1", content="Prefers tea", kind="note", rationale="said twice"
    )

    facts = list(Fact.objects.all())
    explicit = [f for f in facts if f.origin == "explicit"]
    extracted = [f for f in facts if f.origin != "explicit"]
    assert len(explicit) == 1 and len(extracted) >= 3
    assert any(f.negated for f in extracted)
    assert _sql_texts("memory_fact") == (
        {str(f.id): fact_embedding_text(f) for f in extracted}
        | {str(f.id): Event.objects.get(pk=f.source_event_id).content for f in explicit}
    )

    episodes = list(Episode.objects.all())
    assert episodes
    assert _sql_texts("memory_episode") == {str(e.id): _old_body(e) or e.summary for e in episodes}
    # A long event's vector is of its first WHOLE_TEXT_CHARS characters.
    ingest_enriched(tenant, "Line of a long log. " * 2_000, minutes=9)  # 40,000 characters
    assert _sql_texts("memory_event") == {
        str(e.id): e.content[:WHOLE_TEXT_CHARS] for e in Event.objects.all()
    }

    upload = document_upload(
        tenant=tenant,
        user_id="u1",
        project_id="p",
        name="Notes",
        content="Untitled first block.\n\n# Title\n\nText under the title.\n",
    )
    assert upload.document.spans_created == 2
    assert _sql_texts("memory_documentspan") == {
        str(s.id): span_embedding_text(s.heading, s.text) for s in DocumentSpan.objects.all()
    }
