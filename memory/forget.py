"""Forget: delete everything derived from a user's matching events, in one transaction,
and record a signed, hash-chained receipt.

Derived data = candidates, facts (any fact with a source among the events), episodes that
summarised any of them, embeddings, time notes, and the user's cached recalls. Raw events
are kept (marked forgotten, their embedding and time notes cleared, never recalled again)
unless `erase_events` deletes them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from memory import receipts
from memory.access import fact_accesses_drop
from memory.documents.models import Document
from memory.documents.store import documents_delete
from memory.documents.tags import document_tagged_events
from memory.locks import retry_on_lock_conflict, users_lock
from memory.models import Candidate, DeletionReceipt, Episode, Event, Fact, FactSource, Passage
from memory.portability_jobs import portability_exports_drop
from memory.recall.cache import recall_cache_drop
from memory.receipt_head import receipt_head_advance
from memory.versioning import user_memory_changed, user_memory_version_drop
from tenants.models import Tenant

COUNT_KEYS = ("events", "facts", "episodes", "embeddings", "chunks", "claims", "open_loops")


@dataclass(frozen=True)
class ForgetScope:
    user_id: str
    conversation_id: str | None = None
    project_id: str | None = None
    from_time: datetime | None = None
    to_time: datetime | None = None
    erase_events: bool = False
    # One document (its client id): its derived rows and the facts tagged with it only.
    document_id: str | None = None

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "user_id": self.user_id,
            "conversation_id": self.conversation_id,
            "project_id": self.project_id,
            "from_time": self.from_time.isoformat() if self.from_time else None,
            "to_time": self.to_time.isoformat() if self.to_time else None,
            "erase_events": self.erase_events,
        }
        if self.document_id is not None:  # absent otherwise: older receipts keep their shape
            body["document_id"] = self.document_id
        return body

    @property
    def covers_documents(self) -> bool:
        """Whole documents match: the scope is a user, a project of a user, or a document
        (a conversation or a time window does not contain a document)."""
        return self.conversation_id is None and self.from_time is None and self.to_time is None


def _matching_documents(*, tenant: Tenant, scope: ForgetScope):  # -> QuerySet[Document]
    if not scope.covers_documents:
        return Document.objects.none()
    documents = Document.objects.filter(tenant=tenant, user_id=scope.user_id)
    if scope.project_id is not None:
        documents = documents.filter(project_id=scope.project_id)
    if scope.document_id is not None:
        documents = documents.filter(external_id=scope.document_id)
    return documents.defer("content")


def _matching_events(*, tenant: Tenant, scope: ForgetScope):  # -> QuerySet[Event]
    events = Event.objects.filter(tenant=tenant, user_id=scope.user_id)
    if scope.document_id is not None:
        # Events tagged with the document at ingest (memory.documents.tags).
        events = events.filter(pk__in=document_tagged_events(tenant=tenant, scope=scope))
    if scope.conversation_id is not None:
        events = events.filter(conversation_id=scope.conversation_id)
    if scope.project_id is not None:
        events = events.filter(project_id=scope.project_id)
    if scope.from_time is not None:
        events = events.filter(event_time__gte=scope.from_time)
    if scope.to_time is not None:
        events = events.filter(event_time__lte=scope.to_time)
    return events


def memory_forget(*, tenant: Tenant, scope: ForgetScope) -> DeletionReceipt:
    """Delete derived data of the matching events and return the stored receipt.

    Takes its locks in the order of `memory.locks` (tenant row, events, the user's advisory
    lock, derived rows, version row), the order enrichment stages take theirs in; should
    Postgres still abort it for a deadlock or serialisation failure (another writer of the
    same rows, such as the tier beat), the whole transaction runs again."""
    return retry_on_lock_conflict(partial(_forget, tenant=tenant, scope=scope))


def _forget(*, tenant: Tenant, scope: ForgetScope) -> DeletionReceipt:
    requested_at = timezone.now()
    with transaction.atomic():
        # The tenant row lock serialises receipts, so the chain has no forks. NO KEY: a
        # plain FOR UPDATE also blocks the FOR KEY SHARE lock every insert into the tenant
        # takes for its foreign key, so a stage holding an event forget waits for, then
        # writing a fact, waited for forget in turn: a deadlock (tests/memory/
        # test_forget_locks.py), and every ingest of the tenant waited for the forget.
        Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        # Lock the events, in id order: a concurrent enrichment stage waits, then sees them
        # forgotten; one that holds an event already finishes first.
        events = _matching_events(tenant=tenant, scope=scope).select_for_update().order_by("id")
        event_rows = list(events.values_list("id", "embedding"))
        event_ids = [row[0] for row in event_rows]
        # The user's advisory lock, as Gate and Embed take it before touching facts and
        # episodes: stages on the user's other events (outside the scope) do not interleave
        # their fact writes with these deletes.
        users_lock({(str(tenant.pk), scope.user_id)})

        fact_ids = set(
            FactSource.objects.filter(event_id__in=event_ids).values_list("fact_id", flat=True)
        )
        fact_ids |= set(
            Fact.objects.filter(tenant=tenant, source_event_id__in=event_ids).values_list(
                "id", flat=True
            )
        )
        facts = Fact.objects.filter(tenant=tenant, id__in=fact_ids)
        fact_embeddings = facts.filter(embedding__isnull=False).count()
        episodes = Episode.objects.filter(tenant=tenant, events__id__in=event_ids).distinct()
        episode_ids = list(episodes.values_list("id", flat=True))
        episode_embeddings = Episode.objects.filter(
            id__in=episode_ids, embedding__isnull=False
        ).count()
        event_embeddings = sum(1 for _, embedding in event_rows if embedding is not None)

        Candidate.objects.filter(event_id__in=event_ids).delete()
        # Copies of the content, with a vector each (a 1 MiB event has up to ~1,800): counted
        # with the embeddings the receipt says were deleted.
        _, deleted = Passage.objects.filter(event_id__in=event_ids).delete()
        passage_embeddings = deleted.get(Passage._meta.label, 0)
        # Superseded links into deleted facts are cleared by SET_NULL.
        facts.delete()
        # Their counted accesses waiting in Redis go too (once the delete is committed).
        transaction.on_commit(partial(fact_accesses_drop, fact_ids))
        Episode.objects.filter(id__in=episode_ids).delete()
        if scope.erase_events:
            Event.objects.filter(id__in=event_ids).delete()
        else:
            Event.objects.filter(id__in=event_ids).update(
                forgotten_at=requested_at,
                embedding=None,
                time_notes=None,
                status="skipped",
                state_changed_at=requested_at,
            )

        # Documents of the scope go whole: spans, distillations, sections, memberships.
        documents = list(_matching_documents(tenant=tenant, scope=scope).select_for_update())
        document_counts, document_ids = documents_delete(documents) if documents else ({}, [])

        counts = dict.fromkeys(COUNT_KEYS, 0)
        counts.update(
            {
                "events": len(event_ids) if scope.erase_events else 0,
                "facts": len(fact_ids),
                "episodes": len(episode_ids),
                "embeddings": fact_embeddings
                + episode_embeddings
                + event_embeddings
                + passage_embeddings
                + document_counts.get("embeddings", 0),
                "chunks": document_counts.get("spans", 0),
            }
        )
        deleted_ids = (
            [f"fact:{i}" for i in fact_ids]
            + [f"episode:{i}" for i in episode_ids]
            + [f"event:{i}" for i in event_ids]
            + document_ids
        )
        receipt = _receipt_append(
            tenant=tenant,
            scope=scope,
            counts=counts,
            deleted_ids=[str(i) for i in deleted_ids],
            requested_at=requested_at,
        )
        if (
            scope.erase_events
            and not Event.objects.filter(tenant=tenant, user_id=scope.user_id).exists()
        ):
            # Nothing of the user is left: neither is their version row (no user id stays
            # behind). Its absence stales cached recalls as a bump would (memory.versioning).
            user_memory_version_drop(tenant_id=tenant.pk, user_id=scope.user_id)
        else:
            user_memory_changed(tenant_id=tenant.pk, user_id=scope.user_id)
        # The bump already makes the user's cached recalls unservable; this deletes their
        # text from Redis too, once the forget is committed.
        transaction.on_commit(
            partial(recall_cache_drop, tenant_id=tenant.pk, user_id=scope.user_id)
        )
    return receipt


def receipt_payload(receipt: DeletionReceipt) -> dict[str, object]:
    """The canonical content a receipt's digest covers (see memory.receipts)."""
    return {
        "tenant": str(receipt.tenant_id),
        "receipt_id": str(receipt.id),
        "sequence": receipt.sequence,
        "user_id": receipt.user_id,
        "scope": receipt.scope,
        "deleted_counts": receipt.deleted_counts,
        "deleted_ids_digest": receipt.deleted_ids_digest,
        "requested_at": receipt.requested_at.isoformat(),
        "completed_at": receipt.completed_at.isoformat(),
        "prev_digest": receipt.prev_digest,
    }


def _receipt_append(
    *,
    tenant: Tenant,
    scope: ForgetScope,
    counts: dict[str, int],
    deleted_ids: list[str],
    requested_at: datetime,
) -> DeletionReceipt:
    previous = DeletionReceipt.objects.filter(tenant=tenant).order_by("-sequence").first()
    receipt = DeletionReceipt(
        tenant=tenant,
        sequence=(previous.sequence + 1) if previous else 1,
        user_id=scope.user_id,
        scope=scope.as_json(),
        requested_at=requested_at,
        completed_at=timezone.now(),
        deleted_counts=counts,
        deleted_ids_digest=receipts.ids_digest(deleted_ids),
        prev_digest=previous.digest if previous else "",
        key_id=receipts.key_id(),
    )
    receipt.digest = receipts.receipt_digest(receipt_payload(receipt))
    receipt.signature = receipts.sign(receipt.digest)
    receipt.save(force_insert=True)
    # Same transaction: removing this receipt later leaves the signed head past the chain.
    receipt_head_advance(tenant=tenant, receipt=receipt)
    # Every forget and memory delete comes here: exported files that may hold what was
    # deleted are not downloadable any more.
    portability_exports_drop(tenant=tenant, user_id=scope.user_id)
    return receipt
