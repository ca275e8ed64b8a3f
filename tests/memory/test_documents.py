"""Documents and collections (API.md §8, issue #18) through the HTTP API: parsing, upload,
listing, collections, the recall strategies, replace, isolation, delete and forget."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from enrichment.documents import document_distil
from memory.documents import parse
from memory.models import (
    Collection,
    CollectionMembership,
    DeletionReceipt,
    Document,
    DocumentDistillation,
    DocumentSection,
    DocumentSpan,
    DocumentTag,
    Event,
    Fact,
    KeywordCorpus,
)
from memory.tokens import count_tokens
from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import enrich
from tests.support.manual import MANUAL


def _upload(api: Api, **fields: Any) -> Any:
    body = {
        "user_id": "u1",
        "project_id": "p1",
        "document_name": "Skyline Manual",
        "document_id": "manual",
        "content": MANUAL,
    } | fields
    return api.post("/v6/documents", body)


def _distil(document_id: str = "manual") -> None:
    document = Document.objects.get(external_id=document_id)
    assert document_distil(str(document.pk), document.generation) == "done"


def _recall(api: Api, query: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/v6/recall", {"user_id": "u1", "query": query} | fields)
    assert response.status_code == 200, response.content
    return response.json()


# --- Parsing ------------------------------------------------------------------------------


def test_sections_follow_the_heading_tree_and_spans_are_verbatim_slices() -> None:
    sections = parse.sections_of(MANUAL)
    titles = [(s.level, s.title) for s in sections]
    assert titles[:4] == [
        (1, "Skyline Router Manual"),
        (2, "Installation"),
        (3, "Requirements"),
        (3, "Steps"),
    ]
    installation = sections[1]
    assert sections[2].parent == installation.ordinal == sections[3].parent
    assert sections[3].path == "Skyline Router Manual > Installation > Steps"
    # The installation section ends where "## Configuration" starts.
    assert MANUAL[installation.end :].startswith("## Configuration")
    spans = parse.spans_of(MANUAL, sections)
    assert spans and all(MANUAL[s.start : s.end].strip() for s in spans)
    assert any("fifteen seconds" in MANUAL[s.start : s.end] for s in spans)


def test_plain_text_is_cut_by_blank_lines_and_long_text_into_overlapping_spans() -> None:
    text = "First block line one.\nline two.\n\n\nSecond block.\n\nThird."
    sections = parse.sections_of(text)
    assert [text[s.start : s.end] for s in sections] == [
        "First block line one.\nline two.",
        "Second block.",
        "Third.",
    ]
    assert all(s.title is None for s in sections)
    long = " ".join(f"Sentence number {i} says something about topic {i % 9}." for i in range(400))
    cuts = parse.spans_of(long, parse.sections_of(long), chunk_tokens=100, overlap_tokens=20)
    assert len(cuts) > 5
    assert all(count_tokens(long[c.start : c.end]) < 200 for c in cuts)
    for before, after in zip(cuts, cuts[1:], strict=False):
        assert after.start < before.end  # overlap
    assert cuts[0].start == 0 and cuts[-1].end == len(long)


def test_headings_inside_fenced_code_are_not_sections() -> None:
    text = "# Title\n\nIntro text here.\n\n```\n# not a heading\n```\n\n## Real\n\nBody text.\n"
    assert [s.title for s in parse.sections_of(text)] == ["Title", "Real"]


# --- Upload, list, status -----------------------------------------------------------------


@pytest.mark.django_db
def test_upload_answers_sections_and_spans_and_lists_the_document(api: Api) -> None:
    response = _upload(api, collection_id=None)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["document_id"] == "manual" and body["status"] == "processing"
    assert body["collection_id"] is None and body["project_id"] == "p1"
    assert [s["title"] for s in body["sections"]][:2] == ["Skyline Router Manual", "Installation"]
    assert body["spans_created"] == DocumentSpan.objects.count() > 0
    assert DocumentSpan.objects.filter(embedding__isnull=True).count() == 0
    corpus = KeywordCorpus.objects.get(kind="docspan", user_id="u1")
    assert corpus.documents == body["spans_created"]

    listing = api.get("/v6/documents", user_id="u1").json()
    assert listing["total"] == 1 and (listing["limit"], listing["offset"]) == (20, 0)
    item = listing["documents"][0]
    assert item["document_name"] == "Skyline Manual"
    assert item["byte_size"] == len(MANUAL.encode())
    assert item["document_status"] == {
        "status": "processing",
        "spans_created": body["spans_created"],
        "error_message": None,
    }
    assert api.get("/v6/documents", user_id="u2").json()["total"] == 0
    status = api.get("/v6/documents/manual/status").json()
    assert status["status"] == "processing"
    _distil()
    assert api.get("/v6/documents/manual/status").json()["status"] == "ready"
    assert DocumentDistillation.objects.filter(section__isnull=True).count() == 1


@pytest.mark.django_db
def test_a_web_process_embeds_every_span_before_answering_with_the_onnx_runtime(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Web processes hold only the ONNX embedder (EMBEDDING_RUNTIME=onnx): the upload embeds
    the spans with its passage path, in two threads, before it answers. The stored vectors
    are the int8 graph's (EMBEDDING_SPAN_PRECISION default): the same as a worker's
    (torch process) passage path, and within cosine 0.99 of the float32 model's (the space
    recall embeds queries in); with `float32` they are the float32 model's."""
    import numpy as np

    from memory import embedding
    from memory.documents import store

    local = embedding.embedder()  # the tests' process: the torch model, graph exported
    assert isinstance(local, embedding.LocalEmbedder) and local._onnx is not None
    onnx_only = embedding.OnnxEmbedder.load(cache_dir=local._onnx.path.parent)
    assert onnx_only is not None
    calls: list[int] = []
    passages = onnx_only.embed_passages
    monkeypatch.setattr(onnx_only, "embed_passages", lambda t: calls.append(len(t)) or passages(t))
    monkeypatch.setattr(onnx_only, "embed", lambda t: pytest.fail("spans took the query path"))
    monkeypatch.setattr(store, "embedder", lambda: onnx_only)
    monkeypatch.setattr(embedding, "PASSAGE_THREADS", 2)
    monkeypatch.setattr(embedding, "SPAN_PRECISION", "int8")
    assert onnx_only._passages is not None

    body = _upload(api).json()

    spans = list(DocumentSpan.objects.order_by("ordinal"))
    assert sum(calls) == body["spans_created"] == len(spans) > 0
    texts = [store.span_embedding_text(span.heading, span.text) for span in spans]
    reference = local._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    stored = np.array([list(span.embedding) for span in spans])
    cosine = (stored * reference).sum(axis=1)
    assert cosine.min() >= 0.99 and cosine.max() < 0.99999  # int8, close to float32
    assert (stored * np.array(local.embed_passages(texts))).sum(axis=1).min() >= 0.99999

    monkeypatch.setattr(embedding, "SPAN_PRECISION", "float32")
    _upload(api)
    stored = np.array([list(span.embedding) for span in DocumentSpan.objects.order_by("ordinal")])
    assert (stored * reference).sum(axis=1).min() >= 0.999


@pytest.mark.django_db
def test_upload_is_strict_but_takes_the_v63_fields_and_large_content(api: Api) -> None:
    unknown = _upload(api, colour="red")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"]["unknown_fields"] == ["colour"]
    assert _upload(api, content="   ").status_code == 400
    assert _upload(api, project_id=None).status_code == 400
    assert Document.objects.count() == 0
    too_big = _upload(api, content="a" * (1024 * 1024 + 1))
    assert too_big.status_code == 413
    big = "Paragraph about routers and cables. " * 1_100  # over the 32,000-char event limit
    accepted = _upload(
        api, content=big, chunk_size=400, chunk_overlap=40, scope="project", conversation_id="c"
    )
    assert accepted.status_code == 200, accepted.content
    assert Document.objects.get().byte_size == len(big)


@pytest.mark.django_db
def test_re_upload_replaces_the_document_whole(api: Api) -> None:
    _upload(api)
    _distil()
    first_generation = Document.objects.get().generation
    replaced = _upload(api, content="# Other\n\nEntirely new text about kayaks.\n")
    assert replaced.status_code == 200
    document = Document.objects.get()
    assert document.generation == first_generation + 1 and document.status == "processing"
    texts = list(DocumentSpan.objects.values_list("text", flat=True))
    assert texts == ["Entirely new text about kayaks."]
    assert DocumentDistillation.objects.count() == 0
    assert set(DocumentSection.objects.values_list("title", flat=True)) == {"Other"}
    # A distil message of the replaced generation does nothing.
    assert document_distil(str(document.pk), first_generation) == "stale"


# --- Recall strategies --------------------------------------------------------------------


@pytest.mark.django_db
def test_section_strategy_returns_the_whole_named_section_in_reading_order(api: Api) -> None:
    _upload(api)
    body = _recall(api, "show me the installation section", document_id="manual")
    assert body["documents"]["strategy"] == "section"
    text = body["llm_context"]["text"]
    order = [
        "Unpack the router",
        "draws at most 12 watts",
        "Connect the grey WAN cable",
        "solid blue",
        "password printed under the router",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert "passphrase" not in text and "fifteen seconds" not in text  # other sections
    cited = {c["section"] for c in body["documents"]["citations"]}
    assert "Skyline Router Manual > Installation" in cited
    assert all(c["document_id"] == "manual" for c in body["documents"]["citations"])
    assert all(f["document_name"] == "Skyline Manual" for f in body["answer_facts"])


@pytest.mark.django_db
def test_document_strategy_returns_distillations(api: Api) -> None:
    _upload(api)
    _distil()
    body = _recall(api, "summarise this document", document_id="manual")
    assert body["documents"]["strategy"] == "document"
    kinds = [f["kind"] for f in body["answer_facts"]]
    assert kinds[0] == "document_distillation"
    whole = DocumentDistillation.objects.get(section__isnull=True).text
    assert whole and whole in body["llm_context"]["text"]
    assert "summary of Skyline Manual" in body["llm_context"]["text"]


@pytest.mark.django_db
def test_local_strategy_returns_the_spans_that_answer_the_question(api: Api) -> None:
    _upload(api)
    body = _recall(
        api, "how do I restore factory settings with the reset button?", document_id="manual"
    )
    assert body["documents"]["strategy"] == "local"
    assert "fifteen seconds" in body["answer_facts"][0]["source_text"]
    assert "fifteen seconds" in body["llm_context"]["text"]
    assert body["answer_facts"][0]["section"] == "Skyline Router Manual > Troubleshooting"
    few = _recall(api, "router light", document_id="manual", limits={"document_chunks": 1})
    assert len(few["answer_facts"]) + len(few["supporting_facts"]) == 1
    bad = api.post(
        "/v6/recall",
        {"user_id": "u1", "query": "x", "document_id": "manual", "limits": {"document_chunks": 0}},
    )
    assert bad.status_code == 400


@pytest.mark.django_db
def test_budgets_are_never_exceeded(api: Api) -> None:
    _upload(api)
    _distil()
    for query in ("show me the installation section", "summarise this document", "reset"):
        for budget in (200, 300, 1000):
            body = _recall(api, query, document_id="manual", token_budget=budget)
            assert body["token_estimate"] == count_tokens(body["llm_context"]["text"]) <= budget
    v1 = api.post(
        "/v1/recall", {"user_id": "u1", "task": "factory reset button", "token_budget": 200}
    ).json()
    assert v1["token_estimate"] <= 200


@pytest.mark.django_db
def test_documents_join_ordinary_v6_and_v1_recall_when_the_query_matches(api: Api) -> None:
    _upload(api)
    body = _recall(api, "how long does the warranty last?")
    assert "two years" in body["llm_context"]["text"]
    assert body["documents"]["citations"][0]["document_id"] == "manual"
    v1 = api.post(
        "/v1/recall", {"user_id": "u1", "task": "warranty duration", "token_budget": 500}
    ).json()
    assert "two years" in v1["system_context"]
    assert "manual" in v1["citations"]
    assert any(b["type"] == "chunk" for b in v1["memory_blocks"])
    # A query that matches nothing in the document brings none of it.
    assert "From the user's documents" not in _recall(api, "zebra")["llm_context"]["text"]


@pytest.mark.django_db
def test_joined_spans_are_ranked_with_the_query_vector_recall_already_has(api: Api) -> None:
    """The spans' vector rank reuses the recall's query embedding (a second embedding of
    the same query cost ~15 ms for every user with documents)."""
    _upload(api)
    with mock.patch(
        "memory.recall.documents.embed_query", side_effect=AssertionError("embedded twice")
    ):
        v6 = _recall(api, "warranty two years, how long?")
        v1 = api.post(
            "/v1/recall", {"user_id": "u1", "task": "the warranty's length", "token_budget": 500}
        )
    assert "two years" in v6["llm_context"]["text"]
    assert v1.status_code == 200 and "two years" in v1.json()["system_context"]


@pytest.mark.django_db
def test_collections_round_trip_and_ordered_collection_recall(api: Api) -> None:
    created = api.post(
        "/v6/collections",
        {
            "user_id": "u1",
            "project_id": "p1",
            "name": "Guides",
            "ordered": True,
            "collection_id": "guides",
        },
    )
    assert created.status_code == 200, created.content
    row = created.json()["collection"]
    assert row["collection_id"] == "guides" and row["ordered"] is True
    assert row["tenant_id"] == "acme" or row["tenant_id"]  # the tenant's public slug
    second = "# Kayak Guide\n\n## Safety\n\nAlways wear a life jacket on the water.\n"
    _upload(
        api,
        document_id="kayak",
        document_name="Kayak",
        content=second,
        collection_id="guides",
        position=0,
    )
    _upload(api, collection_id="guides", position=1)
    listed = api.get("/v6/collections", user_id="u1").json()["collections"]
    assert [(c["collection_id"], c["document_count"]) for c in listed] == [("guides", 2)]
    got = api.get("/v6/collections/guides", user_id="u1").json()
    assert [d["document_id"] for d in got["documents"]] == ["kayak", "manual"]
    assert api.get("/v6/collections/guides", user_id="u2").status_code == 404
    docs = api.get("/v6/documents", user_id="u1", collection_id="guides").json()
    assert docs["total"] == 2 and docs["documents"][0]["collection_ids"] == ["guides"]

    body = _recall(api, "wear a life jacket or unplug the router?", collection_id="guides")
    assert body["documents"]["strategy"] == "collection"
    ids = [f["document_id"] for f in body["answer_facts"]]
    assert ids[0] == "kayak" and "manual" in ids
    assert ids == sorted(ids, key=["kayak", "manual"].index)  # collection order

    moved = api.post(
        "/v6/collections/guides/documents", {"document_id": "kayak", "user_id": "u1", "position": 5}
    )
    assert moved.json() == {"added": True, "collection_id": "guides", "document_id": "kayak"}
    got = api.get("/v6/collections/guides", user_id="u1").json()
    assert [d["document_id"] for d in got["documents"]] == ["manual", "kayak"]
    removed = api.client.delete(
        "/v6/collections/guides/documents/kayak",
        headers={"Authorization": f"Bearer {api.raw_key}"},
    )
    assert removed.json() == {"removed": True, "collection_id": "guides", "document_id": "kayak"}
    deleted = api.client.delete(
        "/v6/collections/guides?user_id=u1", headers={"Authorization": f"Bearer {api.raw_key}"}
    )
    assert deleted.json() == {"deleted": True, "collection_id": "guides"}
    assert Collection.objects.count() == CollectionMembership.objects.count() == 0
    assert Document.objects.count() == 2  # documents stay


# --- Isolation, delete, forget ------------------------------------------------------------


def _delete(api: Api, path: str) -> Any:
    return api.client.delete(path, headers={"Authorization": f"Bearer {api.raw_key}"})


@pytest.mark.django_db
def test_another_tenant_sees_nothing(api: Api, other_api: Api) -> None:
    _upload(api)
    api.post(
        "/v6/collections", {"user_id": "u1", "project_id": "p", "name": "C", "collection_id": "c1"}
    )
    assert other_api.get("/v6/documents", user_id="u1").json()["total"] == 0
    assert other_api.get("/v6/documents/manual/status").status_code == 404
    assert _delete(other_api, "/v6/documents/manual").status_code == 404
    assert other_api.get("/v6/collections/c1", user_id="u1").status_code == 404
    assert other_api.get("/v6/collections", user_id="u1").json()["collections"] == []
    assert _delete(other_api, "/v6/collections/c1?user_id=u1").status_code == 404
    assert (
        other_api.post(
            "/v6/collections/c1/documents", {"document_id": "manual", "user_id": "u1"}
        ).status_code
        == 404
    )
    missing = other_api.post(
        "/v6/recall", {"user_id": "u1", "query": "reset", "document_id": "manual"}
    )
    assert missing.status_code == 404
    joined = other_api.post("/v6/recall", {"user_id": "u1", "query": "warranty two years"})
    assert "two years" not in joined.json()["llm_context"]["text"]
    # The other tenant may use the same client id for a document of its own.
    assert _upload(other_api).status_code == 200
    assert Document.objects.count() == 2


@pytest.mark.django_db
def test_delete_leaves_no_derived_rows_and_appends_a_signed_receipt(api: Api) -> None:
    _upload(api, collection_id=None)
    api.post(
        "/v6/collections", {"user_id": "u1", "project_id": "p", "name": "C", "collection_id": "c1"}
    )
    api.post("/v6/collections/c1/documents", {"document_id": "manual", "user_id": "u1"})
    _distil()
    tagged = api.post(
        "/v6/ingest",
        {
            "user_id": "u1",
            "type": "message",
            "role": "user",
            "conversation_id": "c",
            "content": "I live in Lisbon",
            "document_id": "manual",
            "document_name": "Skyline",
        },
    )
    event = Event.objects.get(pk=tagged.json()["event_id"])
    enrich(event)
    assert Fact.objects.filter(source_event=event).exists()
    lisbon = _recall(api, "where do I live?", conversation_id="c")
    facts = [f for f in lisbon["answer_facts"] if f["source_event_id"] == str(event.id)]
    assert facts and facts[0]["document_id"] == "manual"
    assert facts[0]["document_name"] == "Skyline"
    batch = api.post(
        "/v1/ingest/batch",
        {
            "events": [
                {
                    "user_id": "u1",
                    "type": "message",
                    "role": "user",
                    "thread_id": "b",
                    "content": "I work as a nurse",
                    "document_id": "manual",
                },
                {
                    "user_id": "u1",
                    "type": "message",
                    "role": "user",
                    "thread_id": "b",
                    "content": "I like tea",
                },
            ]
        },
    )
    assert [r.get("event_id") is not None for r in batch.json()["results"]] == [True, True]
    assert DocumentTag.objects.filter(document_id="manual").count() == 2

    response = _delete(api, "/v6/documents/manual")
    assert response.status_code == 200
    assert response.json()["deleted"] is True and response.json()["document_id"] == "manual"
    for model in (
        Document,
        DocumentSection,
        DocumentSpan,
        DocumentDistillation,
        CollectionMembership,
    ):
        assert model.objects.count() == 0, model
    assert not Fact.objects.filter(source_event=event).exists()
    assert KeywordCorpus.objects.get(kind="docspan", user_id="u1").documents == 0
    receipt = DeletionReceipt.objects.get(pk=response.json()["receipt_id"])
    assert receipt.scope["document_id"] == "manual" and receipt.deleted_counts["chunks"] > 0
    assert receipt.signature
    assert _delete(api, "/v6/documents/manual").status_code == 404
    assert "fifteen" not in _recall(api, "factory reset fifteen seconds")["llm_context"]["text"]


@pytest.mark.django_db
def test_forget_by_document_id_and_by_user_removes_documents(api: Api) -> None:
    _upload(api)
    _upload(api, document_id="second")
    forgot = api.post("/v6/forget", {"user_id": "u1", "document_id": "second"}).json()
    assert forgot["deleted_counts"]["chunks"] > 0
    assert list(Document.objects.values_list("external_id", flat=True)) == ["manual"]
    # A conversation-narrowed forget does not touch documents.
    api.post("/v1/forget", {"user_id": "u1", "thread_id": "t"})
    assert Document.objects.count() == 1
    everything = api.post("/v1/forget", {"user_id": "u1"}).json()
    assert everything["deleted_counts"]["chunks"] > 0
    assert Document.objects.count() == DocumentSpan.objects.count() == 0
    assert DocumentSection.objects.count() == 0


@pytest.mark.django_db
def test_another_users_ids_are_conflicts_or_not_found(api: Api, tenant: Tenant) -> None:
    _upload(api)
    assert _upload(api, user_id="u2").status_code == 409
    assert (
        api.post(
            "/v6/collections/none/documents", {"document_id": "manual", "user_id": "u1"}
        ).status_code
        == 404
    )
    api.post(
        "/v6/collections", {"user_id": "u2", "project_id": "p", "name": "C", "collection_id": "c2"}
    )
    assert (
        api.post(
            "/v6/collections/c2/documents", {"document_id": "manual", "user_id": "u2"}
        ).status_code
        == 404
    )
    assert _upload(api, document_id="x", collection_id="c2").status_code == 404
    assert not Document.objects.filter(external_id="x").exists()
