"""Writing documents and collections: upload (parse, embed, store atomically), replace,
the derived rows a delete or forget removes, and collection membership.

A re-upload of the same `document_id` replaces the document in one transaction: the old
sections, spans and distillations are deleted and the new ones written under the row lock
of the document, so a reader (which reads documents in one snapshot, see
memory.recall.documents) sees the old document or the new one, never a mix. Parsing and
embedding happen before the transaction, so the lock is held only for the writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from claiv.errors import Conflict, NotFound
from memory.documents import parse
from memory.documents.models import (
    Collection,
    CollectionMembership,
    Document,
    DocumentDistillation,
    DocumentSection,
    DocumentSpan,
    DocumentStatus,
)
from memory.embedding import LocalEmbedder, OnnxEmbedder, embedder
from memory.versioning import user_memory_changed
from tenants.models import Tenant

# Spans embedded per call: the embedder batches by length inside; this bounds memory.
EMBED_BATCH = 64


@dataclass(frozen=True)
class UploadResult:
    document: Document
    sections: list[DocumentSection]
    collection: Collection | None


def span_embedding_text(heading: str, text: str) -> str:
    # The section path in front: "Installation > Linux: …" says what a bare step is about.
    return f"{heading}: {text}" if heading else text


def spans_embed(texts: list[str]) -> list[list[float]]:
    """Vectors of span texts (`span_embedding_text`), in calls of EMBED_BATCH. The local
    models (torch or ONNX-only) embed long texts their own way: in batches sized for them,
    over EMBEDDING_PASSAGE_THREADS threads (same vectors as `embed`)."""
    model = embedder()
    embed = model.embed_passages if isinstance(model, LocalEmbedder | OnnxEmbedder) else model.embed
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        vectors.extend(embed(texts[start : start + EMBED_BATCH]))
    return vectors


def document_upload(
    *,
    tenant: Tenant,
    user_id: str,
    project_id: str,
    name: str,
    content: str,
    document_id: str | None = None,
    collection_id: str | None = None,
    position: int | None = None,
    chunk_tokens: int | None = None,
    overlap_tokens: int | None = None,
) -> UploadResult:
    """Store (or replace) a document with its sections and embedded spans; status
    `processing` until the distil stage has run. Another user's document or collection of
    the same id: Conflict / NotFound (ids are per tenant; a user never touches another's)."""
    tree = parse.sections_of(content)
    cuts = parse.spans_of(
        content,
        tree,
        chunk_tokens=chunk_tokens or parse.DEFAULT_CHUNK_TOKENS,
        overlap_tokens=(parse.DEFAULT_OVERLAP_TOKENS if overlap_tokens is None else overlap_tokens),
    )
    paths = [node.path for node in tree]
    texts = [content[c.start : c.end] for c in cuts]
    vectors = spans_embed(
        [span_embedding_text(paths[c.section], texts[i]) for i, c in enumerate(cuts)]
    )

    with transaction.atomic():
        collection = None
        if collection_id is not None:
            collection = _collection_of_user(
                tenant=tenant, user_id=user_id, collection_id=collection_id, lock=True
            )
        document = _document_claim(
            tenant=tenant, user_id=user_id, external_id=document_id or str(uuid.uuid4())
        )
        document.project_id = project_id
        document.name = name
        document.content = content
        document.byte_size = len(content.encode())
        document.status = DocumentStatus.PROCESSING
        document.error = None
        document.distill_attempts = 0
        document.spans_created = len(cuts)
        document.state_changed_at = timezone.now()
        document.save()

        sections = [
            DocumentSection(
                id=uuid.uuid4(),
                tenant=tenant,
                document=document,
                ordinal=node.ordinal,
                level=node.level,
                title=node.title,
                path=node.path,
                start=node.start,
                end=node.end,
                body_end=node.body_end,
            )
            for node in tree
        ]
        for section, node in zip(sections, tree, strict=True):
            section.parent = sections[node.parent] if node.parent is not None else None
        DocumentSection.objects.bulk_create(sections, batch_size=500)
        DocumentSpan.objects.bulk_create(
            [
                DocumentSpan(
                    tenant=tenant,
                    user_id=user_id,
                    document=document,
                    section=sections[cut.section],
                    ordinal=i,
                    start=cut.start,
                    end=cut.end,
                    heading=paths[cut.section],
                    text=texts[i],
                    embedding=vectors[i],
                )
                for i, cut in enumerate(cuts)
            ],
            batch_size=500,
        )
        if collection is not None:
            _membership_put(collection=collection, document=document, position=position)
        # Cached recalls of the user may hold the old text: a new version stales them.
        user_memory_changed(tenant_id=tenant.pk, user_id=user_id)
    return UploadResult(document=document, sections=sections, collection=collection)


def _document_claim(*, tenant: Tenant, user_id: str, external_id: str) -> Document:
    """The document row to (re)write, locked; an existing one loses its derived rows."""
    existing = (
        Document.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    )
    if existing is None:
        try:
            with transaction.atomic():  # a concurrent first upload of the same id
                return Document.objects.create(
                    tenant=tenant,
                    external_id=external_id,
                    user_id=user_id,
                    name="",
                    content="",
                    byte_size=0,
                )
        except IntegrityError:
            existing = Document.objects.select_for_update().get(
                tenant=tenant, external_id=external_id
            )
    if existing.user_id != user_id:
        raise Conflict(
            "This document_id belongs to another user of the tenant.",
            details={"document_id": external_id},
        )
    derived_rows_delete([existing.pk])
    existing.generation += 1
    return existing


def derived_rows_delete(document_ids: list[uuid.UUID]) -> dict[str, int]:
    """Delete the spans, distillations and sections of these documents (not the rows
    themselves, nor memberships) -> counts by kind."""
    spans = DocumentSpan.objects.filter(document_id__in=document_ids)
    counts = {
        "spans": spans.count(),
        "embeddings": spans.filter(embedding__isnull=False).count(),
    }
    spans.delete()
    counts["distillations"] = DocumentDistillation.objects.filter(
        document_id__in=document_ids
    ).delete()[0]
    # Children before parents is not needed: the self-reference cascades in one delete.
    counts["sections"] = DocumentSection.objects.filter(document_id__in=document_ids).delete()[0]
    return counts


def documents_delete(documents: list[Document]) -> tuple[dict[str, int], list[str]]:
    """Delete documents with everything derived from them, inside the caller's
    transaction -> (counts, ids of deleted rows for a receipt digest)."""
    ids = [d.pk for d in documents]
    span_ids = list(DocumentSpan.objects.filter(document_id__in=ids).values_list("id", flat=True))
    counts = derived_rows_delete(ids)
    counts["memberships"] = CollectionMembership.objects.filter(document_id__in=ids).delete()[0]
    Document.objects.filter(pk__in=ids).delete()
    counts["documents"] = len(ids)
    deleted = [f"document:{i}" for i in ids] + [f"span:{i}" for i in span_ids]
    return counts, deleted


def document_of_tenant(*, tenant: Tenant, document_id: str, lock: bool = False) -> Document:
    """The tenant's document by its client id; anything else is NotFound."""
    documents = Document.objects.filter(tenant=tenant, external_id=document_id)
    if lock:
        documents = documents.select_for_update()
    document = documents.defer("content").first()
    if document is None:
        raise NotFound("No such document.")
    return document


# --- Collections ----------------------------------------------------------------------------


def _collection_of_user(
    *, tenant: Tenant, user_id: str | None, collection_id: str, lock: bool = False
) -> Collection:
    collections = Collection.objects.filter(tenant=tenant, external_id=collection_id)
    if user_id is not None:
        collections = collections.filter(user_id=user_id)
    if lock:
        collections = collections.select_for_update()
    collection = collections.first()
    if collection is None:
        raise NotFound("No such collection.")
    return collection


def collection_get(*, tenant: Tenant, user_id: str | None, collection_id: str) -> Collection:
    return _collection_of_user(tenant=tenant, user_id=user_id, collection_id=collection_id)


def collection_create(
    *,
    tenant: Tenant,
    user_id: str,
    project_id: str,
    name: str,
    ordered: bool = False,
    collection_id: str | None = None,
) -> Collection:
    """Create a collection; the same stable id again for the same user updates its name,
    project and order flag (creating at start-up is idempotent). Another user's id: 409."""
    external_id = collection_id or str(uuid.uuid4())
    with transaction.atomic():
        existing = (
            Collection.objects.select_for_update()
            .filter(tenant=tenant, external_id=external_id)
            .first()
        )
        if existing is not None and existing.user_id != user_id:
            raise Conflict(
                "This collection_id belongs to another user of the tenant.",
                details={"collection_id": external_id},
            )
        if existing is None:
            try:
                with transaction.atomic():
                    return Collection.objects.create(
                        tenant=tenant,
                        external_id=external_id,
                        user_id=user_id,
                        project_id=project_id,
                        name=name,
                        ordered=ordered,
                    )
            except IntegrityError as exc:
                raise Conflict(
                    "This collection_id is being created concurrently.",
                    details={"collection_id": external_id},
                ) from exc
        existing.project_id, existing.name, existing.ordered = project_id, name, ordered
        existing.save(update_fields=["project_id", "name", "ordered"])
        return existing


def collection_delete(*, tenant: Tenant, user_id: str | None, collection_id: str) -> None:
    """Delete the collection and its memberships; its documents stay."""
    with transaction.atomic():
        collection = _collection_of_user(
            tenant=tenant, user_id=user_id, collection_id=collection_id, lock=True
        )
        collection.delete()
        user_memory_changed(tenant_id=tenant.pk, user_id=collection.user_id)


def collection_add(
    *,
    tenant: Tenant,
    user_id: str,
    collection_id: str,
    document_id: str,
    position: int | None = None,
) -> None:
    """Put the user's document in the user's collection (again: moves it to `position`)."""
    with transaction.atomic():
        collection = _collection_of_user(
            tenant=tenant, user_id=user_id, collection_id=collection_id, lock=True
        )
        document = document_of_tenant(tenant=tenant, document_id=document_id)
        if document.user_id != user_id:
            raise NotFound("No such document.")
        _membership_put(collection=collection, document=document, position=position)
        user_memory_changed(tenant_id=tenant.pk, user_id=user_id)


def _membership_put(*, collection: Collection, document: Document, position: int | None) -> None:
    if position is None:
        # Appended: after the last positioned document.
        last = (
            CollectionMembership.objects.filter(collection=collection, position__isnull=False)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        existing = CollectionMembership.objects.filter(
            collection=collection, document=document
        ).first()
        if existing is not None:
            return
        position = 0 if last is None else last + 1
    CollectionMembership.objects.update_or_create(
        collection=collection, document=document, defaults={"position": position}
    )


def collection_remove(*, tenant: Tenant, collection_id: str, document_id: str) -> None:
    """Take a document out of a collection (the document stays). The SDK sends no user:
    the collection and the document must be of one user of this tenant."""
    with transaction.atomic():
        collection = _collection_of_user(
            tenant=tenant, user_id=None, collection_id=collection_id, lock=True
        )
        removed = CollectionMembership.objects.filter(
            collection=collection,
            document__tenant=tenant,
            document__external_id=document_id,
        ).delete()[0]
        if not removed:
            raise NotFound("No such document in this collection.")
        user_memory_changed(tenant_id=tenant.pk, user_id=collection.user_id)
