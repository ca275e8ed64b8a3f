"""Export and import carry documents, sections, spans (with their vectors), distillations,
collections, memberships and document tags (memory.portability_documents): recall with
`document_id` or `collection_id` answers the same after a round trip into another tenant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError

from enrichment.documents import document_distil
from memory.documents.store import collection_add, collection_create, document_upload
from memory.ingest import event_ingest
from memory.models import (
    Collection,
    CollectionMembership,
    Document,
    DocumentDistillation,
    DocumentSection,
    DocumentSpan,
    DocumentTag,
    KeywordCorpus,
)
from memory.recall.v6 import memory_recall_v6
from tenants.models import Tenant
from tenants.services import tenant_ensure
from tests.memory.test_portability import _export, _import
from tests.support.manual import MANUAL

pytestmark = pytest.mark.django_db

DERIVED = (Document, DocumentSection, DocumentSpan, DocumentDistillation, Collection)
QUERIES = (
    "how do I restore factory settings?",
    "show me the installation section",
    "summarise this document",
    "what does the warranty cover?",
)


def _documents(tenant: Tenant, user_id: str = "u1") -> None:
    for external_id, name, content in (
        ("manual", "Skyline Manual", MANUAL),
        ("notes", "Boiler notes", "# Boiler\n\nThe boiler is serviced every October.\n"),
    ):
        document = document_upload(
            tenant=tenant,
            user_id=user_id,
            project_id="p1",
            name=name,
            content=content,
            document_id=f"{external_id}-{user_id}" if user_id != "u1" else external_id,
        ).document
        assert document_distil(str(document.pk), document.generation) == "done"
    if user_id == "u1":
        collection_create(
            tenant=tenant,
            user_id="u1",
            project_id="p1",
            name="Home",
            ordered=True,
            collection_id="home",
        )
        for position, document_id in enumerate(("notes", "manual")):
            collection_add(
                tenant=tenant,
                user_id="u1",
                collection_id="home",
                document_id=document_id,
                position=position,
            )


def _answers(tenant: Tenant, **target: str) -> list[Any]:
    """What recall answers from the documents, without the ids that differ per tenant."""
    out = []
    for query in QUERIES:
        body = memory_recall_v6(tenant=tenant, user_id="u1", query=query, **target)
        out.append(
            (
                body["routing"]["kinds"],
                [
                    (
                        f["kind"],
                        f["document_id"],
                        f["document_name"],
                        f["section"],
                        f["object_text"],
                        f["char_start"],
                        f["char_end"],
                        f["importance"],
                    )
                    for f in body["answer_facts"]
                ],
                body["llm_context"]["text"],
            )
        )
    return out


def _counts(tenant: Tenant) -> dict[str, int]:
    counts = {m.__name__: m.objects.filter(tenant=tenant).count() for m in DERIVED}
    counts["memberships"] = CollectionMembership.objects.filter(collection__tenant=tenant).count()
    counts["tags"] = DocumentTag.objects.filter(tenant=tenant).count()
    return counts


def test_round_trip_into_another_tenant_gives_the_same_document_recall(
    tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    _documents(tenant)
    event_ingest(
        tenant=tenant,
        user_id="u1",
        type="message",
        role="user",
        content="I keep the router in the hall.",
        document_id="manual",
        document_name="Skyline Manual",
    )
    text = _export(tenant)
    kinds = [json.loads(line)["record"] for line in text.splitlines()]
    assert {"document", "section", "span", "distillation", "collection", "membership"} <= set(kinds)
    report = _import(other_tenant, text, tmp_path)
    mine = _counts(tenant)
    assert _counts(other_tenant) == mine
    assert (
        f"{mine['Document']} documents, {mine['DocumentSection']} sections, "
        f"{mine['DocumentSpan']} spans, {mine['DocumentDistillation']} distillations, "
        f"1 collections, 2 memberships, 1 document_tags" in report
    )
    assert report.endswith("vectors reused")
    for target in ({"document_id": "manual"}, {"collection_id": "home"}):
        theirs = _answers(other_tenant, **target)
        assert theirs == _answers(tenant, **target)
        assert any(facts for _, facts, _ in theirs)
    assert "fifteen seconds" in _answers(other_tenant, document_id="manual")[0][2]
    # The spans' vectors came along exactly; the keyword index counts the new spans.
    vectors = {
        (s.document.external_id, s.ordinal): np.asarray(s.embedding)
        for s in DocumentSpan.objects.select_related("document")
    }
    for span in DocumentSpan.objects.filter(tenant=other_tenant).select_related("document"):
        assert span.embedding is not None
        assert np.array_equal(
            np.asarray(span.embedding), vectors[(span.document.external_id, span.ordinal)]
        )
    corpus = KeywordCorpus.objects.get(tenant=other_tenant, kind="docspan", user_id="u1")
    assert corpus.documents == mine["DocumentSpan"]
    # The same file again adds nothing.
    assert _import(other_tenant, text, tmp_path).startswith(
        "imported into globex: 0 events, 0 facts, 0 episodes, 0 sources, 0 documents, "
        "0 sections, 0 spans, 0 distillations, 0 collections, 0 memberships, 0 document_tags"
    )
    assert _counts(other_tenant) == mine


def test_another_model_in_the_header_recomputes_the_span_vectors(
    tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    _documents(tenant)
    lines = _export(tenant).splitlines()
    header = json.loads(lines[0])
    header["embedding"] = {"model": "openai:text-embedding-3-large", "dimension": 3072}
    rows = [json.loads(line) for line in lines[1:]]
    for row in rows:
        row.pop("embedding", None)
    text = "\n".join(json.dumps(r) for r in [header, *rows])
    assert _import(other_tenant, text, tmp_path).endswith("vectors recomputed")
    mine = {s.text: np.asarray(s.embedding) for s in DocumentSpan.objects.filter(tenant=tenant)}
    theirs = DocumentSpan.objects.filter(tenant=other_tenant)
    assert theirs.count() == len(mine)
    for span in theirs:
        assert float(np.dot(np.asarray(span.embedding), mine[span.text])) > 0.999
    assert _answers(other_tenant, document_id="manual") == _answers(tenant, document_id="manual")


def test_a_user_export_holds_only_that_users_documents(tenant: Tenant) -> None:
    _documents(tenant)
    _documents(tenant, user_id="bob")
    rows = [json.loads(line) for line in _export(tenant, "bob").splitlines()[1:]]
    documents = [r for r in rows if r["record"] == "document"]
    assert sorted(d["external_id"] for d in documents) == ["manual-bob", "notes-bob"]
    ids = {d["id"] for d in documents}
    assert all(
        r["document"] in ids for r in rows if r["record"] in ("section", "span", "distillation")
    )
    assert not [r for r in rows if r["record"] in ("collection", "membership")]


def test_a_document_id_of_another_user_or_a_crossed_reference_refuses_the_file(
    tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    _documents(tenant)
    text = _export(tenant)
    document_upload(
        tenant=other_tenant,
        user_id="someone-else",
        project_id="p",
        name="Theirs",
        content="Their own text.",
        document_id="manual",
    )
    before = _counts(other_tenant)
    with pytest.raises(CommandError, match="document id 'manual' belongs to another user"):
        _import(other_tenant, text, tmp_path)
    assert _counts(other_tenant) == before

    # A span moved under a section of the other document.
    rows = [json.loads(line) for line in text.splitlines()]
    sections = {r["id"]: r["document"] for r in rows if r["record"] == "section"}
    span = next(r for r in rows if r["record"] == "span")
    span["section"] = next(s for s, d in sections.items() if d != span["document"])
    crossed = "\n".join(json.dumps(r) for r in rows)
    with pytest.raises(CommandError, match="the span's section is not of its document"):
        _import(tenant_ensure(slug="third")[0], crossed, tmp_path)
