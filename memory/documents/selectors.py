"""Reads of documents and collections for the API, the console and the MCP tools.
Every function takes the tenant; the dict shapes are those of API.md §8."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, QuerySet

from memory.documents.models import (
    Collection,
    CollectionMembership,
    Document,
    DocumentSection,
    DocumentSpan,
)
from tenants.models import Tenant


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def documents_of_user(
    *,
    tenant: Tenant,
    user_id: str,
    project_id: str | None = None,
    collection_id: str | None = None,
) -> QuerySet[Document]:
    documents = Document.objects.filter(tenant=tenant, user_id=user_id)
    if project_id is not None:
        documents = documents.filter(project_id=project_id)
    if collection_id is not None:
        documents = documents.filter(
            memberships__collection__tenant=tenant,
            memberships__collection__external_id=collection_id,
        )
    return documents.defer("content")


def document_page(
    *,
    tenant: Tenant,
    user_id: str,
    project_id: str | None = None,
    collection_id: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the user's documents, newest first, as list items, and the total."""
    documents = documents_of_user(
        tenant=tenant, user_id=user_id, project_id=project_id, collection_id=collection_id
    )
    total = documents.count()
    page = list(documents.order_by("-created_at", "id")[offset : offset + limit])
    memberships: dict[Any, list[str]] = {}
    for document_pk, external in CollectionMembership.objects.filter(document__in=page).values_list(
        "document_id", "collection__external_id"
    ):
        memberships.setdefault(document_pk, []).append(external)
    return [document_item(d, memberships.get(d.pk, [])) for d in page], total


def document_status(document: Document) -> dict[str, Any]:
    return {
        "status": document.status,
        "spans_created": document.spans_created,
        "error_message": document.error,
    }


def document_item(document: Document, collection_ids: list[str]) -> dict[str, Any]:
    return {
        "document_id": document.external_id,
        "document_name": document.name,
        "project_id": document.project_id,
        "user_id": document.user_id,
        "byte_size": document.byte_size,
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
        "collection_ids": sorted(collection_ids),
        "document_status": document_status(document),
    }


def section_items(sections: list[DocumentSection]) -> list[dict[str, Any]]:
    return [{"node_id": str(s.id), "title": s.title} for s in sections]


def collection_row(collection: Collection, *, document_count: int | None = None) -> dict[str, Any]:
    if document_count is None:
        document_count = collection.memberships.count()
    return {
        "collection_id": collection.external_id,
        "tenant_id": collection.tenant.slug,
        "user_id": collection.user_id,
        "project_id": collection.project_id or None,
        "name": collection.name,
        "ordered": collection.ordered,
        "created_at": _iso(collection.created_at),
        "document_count": document_count,
    }


def collection_list(
    *,
    tenant: Tenant,
    user_id: str,
    project_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    collections = Collection.objects.filter(tenant=tenant, user_id=user_id)
    if project_id is not None:
        collections = collections.filter(project_id=project_id)
    page = (
        collections.select_related("tenant")
        .annotate(documents=Count("memberships"))
        .order_by("created_at", "id")[offset : offset + limit]
    )
    return [collection_row(c, document_count=c.documents) for c in page]


def collection_documents(collection: Collection) -> list[dict[str, Any]]:
    """The collection's documents in collection order (positioned first, then by time)."""
    memberships = (
        CollectionMembership.objects.filter(collection=collection)
        .select_related("document")
        .defer("document__content")
        .order_by("position", "added_at", "id")
    )
    return [
        {
            "document_id": m.document.external_id,
            "document_name": m.document.name,
            "position": m.position,
            "added_at": _iso(m.added_at),
        }
        for m in memberships
    ]


def document_sections(document: Document) -> list[DocumentSection]:
    return list(DocumentSection.objects.filter(document=document).order_by("ordinal"))


def document_spans(document: Document, limit: int = 500) -> list[DocumentSpan]:
    return list(
        DocumentSpan.objects.filter(document=document)
        .defer("embedding", "search")
        .order_by("ordinal")[:limit]
    )
