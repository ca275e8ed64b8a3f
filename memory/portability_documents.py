"""The document part of an export file (memory.portability): documents with their sections,
spans and distillations, collections with their memberships, and the document tags of
events. Same rules as the rest of the file (ids, idempotence, references inside the file,
one transaction); in addition:

- A document or collection is also matched by its client id (`external_id`, unique per
  tenant): when the target tenant already has that id, its row stays as it is, the file's
  version (with its sections, spans and distillations) is skipped, and the file's
  memberships point at the existing row. The id held by another user of the tenant
  refuses the file (as an upload of it would: 409 there, 400 here).
- Span vectors travel like the others (base64 float32) and are reused when the header's
  model is this server's, else recomputed from the span's text and section path as an
  upload embeds them.
- A section, span or distillation must belong to a document of the file, a span to a
  section of its own document; memberships and tags carry no id of their own (their
  natural keys make them idempotent).

Record kinds, in file order: document, section, span, distillation, collection,
membership, document_tag (all after the events they may refer to).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memory.documents.models import (
    Collection,
    CollectionMembership,
    Document,
    DocumentDistillation,
    DocumentSection,
    DocumentSpan,
    DocumentTag,
)
from memory.documents.store import span_embedding_text, spans_embed
from memory.models import Event
from tenants.models import Tenant

if TYPE_CHECKING:
    from memory.portability import _Ids

DOCUMENT_KINDS = (
    "document",
    "section",
    "span",
    "distillation",
    "collection",
    "membership",
    "document_tag",
)
# Count keys of an import, in report order.
COUNT_KEYS = (
    "documents",
    "sections",
    "spans",
    "distillations",
    "collections",
    "memberships",
    "document_tags",
)


# --- Export --------------------------------------------------------------------------------


def documents_export(*, tenant: Tenant, user_id: str | None) -> Iterator[dict[str, Any]]:
    """The rows of the document kinds, in file order (lines made by the caller)."""
    from memory.portability import _plain, _row_out

    mine: dict[str, Any] = {"tenant": tenant} | ({"user_id": user_id} if user_id else {})
    by_document: dict[str, Any] = {f"document__{k}": v for k, v in mine.items()}
    for document in Document.objects.filter(**mine).order_by("created_at", "id").iterator(100):
        yield _row_out("document", document)
    for section in DocumentSection.objects.filter(**by_document).order_by("document_id", "ordinal"):
        yield _row_out("section", section)
    spans = DocumentSpan.objects.filter(**by_document).defer("search")
    for span in spans.order_by("document_id", "ordinal").iterator(500):
        yield _row_out("span", span)
    for distillation in DocumentDistillation.objects.filter(**by_document).order_by("id"):
        yield _row_out("distillation", distillation)
    for collection in Collection.objects.filter(**mine).order_by("created_at", "id"):
        yield _row_out("collection", collection)
    memberships = CollectionMembership.objects.filter(
        **{f"collection__{k}": v for k, v in mine.items()}
    ).order_by("id")
    for membership in memberships:
        yield {
            "record": "membership",
            "collection": str(membership.collection_id),
            "document": str(membership.document_id),
            "position": membership.position,
            "added_at": _plain(membership.added_at),
        }
    for tag in DocumentTag.objects.filter(**mine).order_by("id"):
        yield {
            "record": "document_tag",
            "event": str(tag.event_id),
            "user_id": tag.user_id,
            "document_id": tag.document_id,
            "document_name": tag.document_name,
        }


# --- Import --------------------------------------------------------------------------------


@dataclass
class DocumentsImport:
    """What the document part of an import will write, built before any write."""

    documents: list[Document] = field(default_factory=list)
    sections: list[DocumentSection] = field(default_factory=list)
    spans: list[DocumentSpan] = field(default_factory=list)
    distillations: list[DocumentDistillation] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    memberships: list[CollectionMembership] = field(default_factory=list)
    tags: list[DocumentTag] = field(default_factory=list)

    @property
    def users(self) -> set[str]:
        return {d.user_id for d in self.documents} | {c.user_id for c in self.collections}


MODELS = (Document, DocumentSection, DocumentSpan, DocumentDistillation, Collection)


def documents_plan_ids(ids: _Ids, rows: dict[str, list[tuple[int, dict]]]) -> None:
    """Map the file's ids of the document kinds that have ids (see memory.portability)."""
    from memory.portability import _row_id

    for model, kind in zip(MODELS, DOCUMENT_KINDS, strict=False):
        ids.plan(model, {_row_id(row, line=n) for n, row in rows[kind]})


def _by_external_id(
    model: Any,
    tenant: Tenant,
    kind: str,
    items: list[tuple[int, dict]],
    ids: _Ids,
    reuse: bool,
) -> list[Any]:
    """New rows of `model` (documents or collections); a client id the tenant already has
    maps the file's row onto the existing one (same user) or refuses the file."""
    from memory.portability import _bad, _new, _row_id

    existing = {
        external_id: (pk, user_id)
        for pk, external_id, user_id in model.objects.filter(tenant=tenant).values_list(
            "id", "external_id", "user_id"
        )
    }
    new = []
    for line, row, obj in _new(model, tenant, kind, items, ids, reuse, set()):
        held = existing.get(obj.external_id)
        if held is not None:
            if held[1] != obj.user_id:
                raise _bad(line, f"{kind} id {obj.external_id!r} belongs to another user")
            ids.maps[model][_row_id(row, line=line)] = held[0]
            continue
        existing[obj.external_id] = (obj.pk, obj.user_id)
        new.append(obj)
    return new


def documents_import(
    *,
    tenant: Tenant,
    rows: dict[str, list[tuple[int, dict]]],
    ids: _Ids,
    reuse: bool,
) -> DocumentsImport:
    """Unsaved rows of the document kinds (validated, references mapped); vectors set."""
    from memory.portability import _bad, _new, _values

    plan = DocumentsImport()
    plan.documents = _by_external_id(Document, tenant, "document", rows["document"], ids, reuse)
    owners = {d.pk: d.user_id for d in plan.documents}  # only new documents get children
    section_documents: dict[uuid.UUID, uuid.UUID] = {}
    section_lines: dict[uuid.UUID, int] = {}
    for line, _, section in _new(
        DocumentSection, tenant, "section", rows["section"], ids, reuse, set()
    ):
        section.document_id = ids.get(Document, section.document_id, line=line, what="document")
        section.parent_id = ids.get(DocumentSection, section.parent_id, line=line, what="section")
        section_documents[section.pk] = section.document_id
        section_lines[section.pk] = line
        if section.document_id in owners:
            plan.sections.append(section)
    for section in plan.sections:
        if section.parent_id is not None and (
            section_documents.get(section.parent_id) != section.document_id
        ):
            raise _bad(section_lines[section.pk], "the section's parent is not of its document")
    for line, _, span in _new(DocumentSpan, tenant, "span", rows["span"], ids, reuse, set()):
        span.document_id = ids.get(Document, span.document_id, line=line, what="document")
        span.section_id = ids.get(DocumentSection, span.section_id, line=line, what="section")
        if span.document_id not in owners:
            continue
        if section_documents.get(span.section_id) != span.document_id:
            raise _bad(line, "the span's section is not of its document")
        if span.user_id != owners[span.document_id]:
            raise _bad(line, "the span's user is not its document's")
        plan.spans.append(span)
    for line, _, distillation in _new(
        DocumentDistillation, tenant, "distillation", rows["distillation"], ids, reuse, set()
    ):
        distillation.document_id = ids.get(
            Document, distillation.document_id, line=line, what="document"
        )
        distillation.section_id = ids.get(
            DocumentSection, distillation.section_id, line=line, what="section"
        )
        if distillation.document_id not in owners:
            continue
        if distillation.section_id is not None and (
            section_documents.get(distillation.section_id) != distillation.document_id
        ):
            raise _bad(line, "the distillation's section is not of its document")
        plan.distillations.append(distillation)
    plan.collections = _by_external_id(
        Collection, tenant, "collection", rows["collection"], ids, reuse
    )
    users = _users_of(tenant, ids)
    users[Document].update(owners)
    users[Collection].update({c.pk: c.user_id for c in plan.collections})
    for line, row in rows["membership"]:
        values = _values(CollectionMembership, row, line=line, extra=set())
        values.pop("id", None)
        collection = ids.get(Collection, values.pop("collection_id"), line=line, what="collection")
        document = ids.get(Document, values.pop("document_id"), line=line, what="document")
        if users[Collection].get(collection) != users[Document].get(document):
            raise _bad(line, "a collection holds documents of its own user only")
        plan.memberships.append(
            CollectionMembership(collection_id=collection, document_id=document, **values)
        )
    for line, row in rows["document_tag"]:
        values = _values(DocumentTag, row, line=line, extra=set())
        values.pop("id", None)
        event = ids.get(Event, values.pop("event_id"), line=line, what="event")
        plan.tags.append(DocumentTag(tenant=tenant, event_id=event, **values))
    if not reuse:
        _reembed(plan.spans)
    return plan


def _users_of(tenant: Tenant, ids: _Ids) -> dict[Any, dict[uuid.UUID, str]]:
    """The user of each (mapped) document and collection id of the file, from the target
    tenant's rows and the rows about to be written."""
    out: dict[Any, dict[uuid.UUID, str]] = {}
    for model in (Document, Collection):
        mapped = set(ids.maps[model].values())
        out[model] = dict(
            model.objects.filter(tenant=tenant, pk__in=mapped).values_list("id", "user_id")
        )
    return out


def _reembed(spans: list[DocumentSpan]) -> None:
    """This server's vectors for spans whose file vectors came from another model."""
    vectors = spans_embed([span_embedding_text(s.heading, s.text) for s in spans])
    for span, vector in zip(spans, vectors, strict=True):
        span.embedding = vector


def documents_save(plan: DocumentsImport) -> dict[str, int]:
    """Write the planned rows (inside the import's transaction) -> counts by COUNT_KEYS."""
    times: list[tuple[Any, list[Any], list[str]]] = [
        (Document, plan.documents, ["created_at", "state_changed_at", "updated_at"]),
        (DocumentSection, plan.sections, []),
        (DocumentSpan, plan.spans, []),
        (DocumentDistillation, plan.distillations, ["created_at"]),
        (Collection, plan.collections, ["created_at"]),
    ]
    for model, objs, auto in times:
        # auto_now(_add) columns take the current time on insert: restore the file's.
        kept = [[getattr(o, name) for name in auto] for o in objs]
        model.objects.bulk_create(objs, batch_size=500)
        if auto:
            for obj, values in zip(objs, kept, strict=True):
                for name, value in zip(auto, values, strict=True):
                    if value is not None:
                        setattr(obj, name, value)
            model.objects.bulk_update(objs, auto, batch_size=500)
    # Memberships and tags have no id of their own: one the tenant has is left as it is.
    held = set(
        CollectionMembership.objects.filter(
            collection_id__in={m.collection_id for m in plan.memberships}
        ).values_list("collection_id", "document_id")
    )
    memberships = list(
        {
            (m.collection_id, m.document_id): m
            for m in plan.memberships
            if (m.collection_id, m.document_id) not in held
        }.values()
    )
    added_at = [m.added_at for m in memberships]
    CollectionMembership.objects.bulk_create(memberships, batch_size=500)
    for membership, value in zip(memberships, added_at, strict=True):
        if value is not None:
            membership.added_at = value
    CollectionMembership.objects.bulk_update(memberships, ["added_at"], batch_size=500)
    tagged = set(
        DocumentTag.objects.filter(event_id__in={t.event_id for t in plan.tags}).values_list(
            "event_id", flat=True
        )
    )
    tags = list({t.event_id: t for t in plan.tags if t.event_id not in tagged}.values())
    DocumentTag.objects.bulk_create(tags, batch_size=500)
    return {
        "documents": len(plan.documents),
        "sections": len(plan.sections),
        "spans": len(plan.spans),
        "distillations": len(plan.distillations),
        "collections": len(plan.collections),
        "memberships": len(memberships),
        "document_tags": len(tags),
    }
