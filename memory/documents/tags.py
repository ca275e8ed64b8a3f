"""Events tagged with a document at ingest (`document_id` / `document_name` of the SDK's
IngestRequest). A tag names a client document id, whether or not such a document was
uploaded; forgetting the document forgets what was derived from its tagged events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from memory.documents.models import DocumentTag

if TYPE_CHECKING:
    from memory.forget import ForgetScope
    from memory.models import Event
    from tenants.models import Tenant


def document_tags_insert(*, tagged: Sequence[tuple[Event, str, str]]) -> None:
    """Tag saved events with (document id, document name) in one INSERT, inside the
    caller's transaction (memory.ingest writes the tags with the events)."""
    if tagged:
        DocumentTag.objects.bulk_create(
            [
                DocumentTag(
                    tenant_id=event.tenant_id,
                    event=event,
                    user_id=event.user_id,
                    document_id=document_id,
                    document_name=document_name,
                )
                for event, document_id, document_name in tagged
            ]
        )


def document_tagged_events(*, tenant: Tenant, scope: ForgetScope) -> QuerySet[DocumentTag, Any]:
    """Ids of the user's events tagged with the scope's document (a subquery)."""
    return DocumentTag.objects.filter(
        tenant=tenant, user_id=scope.user_id, document_id=scope.document_id
    ).values("event_id")
