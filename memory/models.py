"""Memory rows: events (raw, the source of truth), candidates, facts, episodes, receipts.

Every row carries its tenant; every read goes through selectors/services that take it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Left
from django.utils import timezone
from pgvector.django import VectorField

from memory.passages import WHOLE_TEXT_CHARS, passage_spans
from tenants.models import Tenant

# Postgres full-text configuration used by the keyword channel (stemming, stop words).
FTS_CONFIG = "english"


class EventType(models.TextChoices):
    MESSAGE = "message"
    TOOL_CALL = "tool_call"
    APP_EVENT = "app_event"


class Role(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class Scope(models.TextChoices):
    GLOBAL = "global"
    PROJECT = "project"
    CONVERSATION = "conversation"


class EnrichmentStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    ENRICHED = "enriched"
    SKIPPED = "skipped"
    FAILED = "failed"


class Event(models.Model):
    """One ingested event plus its enrichment state (status, last stage done, attempts)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events")
    user_id = models.CharField(max_length=255)
    conversation_id = models.CharField(max_length=255, blank=True, default="")
    project_id = models.CharField(max_length=255, blank=True, default="")
    type = models.CharField(max_length=16, choices=EventType.choices)
    role = models.CharField(max_length=16, choices=Role.choices, blank=True, default="")
    content = models.TextField()
    event_time = models.DateTimeField()
    metadata = models.JSONField(default=dict, blank=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.GLOBAL)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # SHA-256 of the canonical request body: detects retries and idempotency-key misuse.
    body_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(
        max_length=16, choices=EnrichmentStatus.choices, default=EnrichmentStatus.PENDING
    )
    stage = models.CharField(max_length=16, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(null=True, blank=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    extractor = models.CharField(max_length=16, blank=True, default="")
    tokens_used = models.PositiveIntegerField(default=0)
    candidate_count = models.PositiveIntegerField(default=0)
    gated_count = models.PositiveIntegerField(default=0)
    # When the last stage committed: enrichment lag is enriched_at - created_at.
    enriched_at = models.DateTimeField(null=True, blank=True)

    # Set by forget without erase: the raw event stays for audit but is never recalled.
    forgotten_at = models.DateTimeField(null=True, blank=True)
    # [expression, resolved date] pairs for the relative time expressions of the content
    # ("yesterday" -> "7 May 2023"), stored by Extract so that recall never runs dateparser
    # (memory.time_notes). null: not computed yet; []: none.
    time_notes = models.JSONField(null=True, blank=True)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    # Of the first WHOLE_TEXT_CHARS characters: a tsvector holds at most 1 MB (1 MiB of
    # distinct short tokens made the INSERT fail) and positions up to 16,383; the rest of a
    # long event is searched through its passages (memory.passages).
    search = models.GeneratedField(
        expression=SearchVector(Left("content", WHOLE_TEXT_CHARS), config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        indexes = [
            # The user's timeline (memory.recall.locality reads ~8 turns on each side of up
            # to 200 hits per recall): the id orders equal times and the included columns
            # are the visibility filter's, so each side is one index-only range scan with
            # no sort (at 100k events: 2,400 -> 1,600 buffers, p50 15 -> 9 ms, BENCHMARKS.md
            # "Bounded channels"). It replaced (tenant, user_id, event_time).
            models.Index(
                fields=["tenant", "user_id", "event_time", "id"],
                name="event_user_time_id",
                include=["conversation_id", "scope", "project_id", "forgotten_at", "role"],
            ),
            models.Index(
                fields=["tenant", "user_id", "conversation_id", "event_time"],
                name="event_conversation_time",
            ),
            # The turns with time notes (memory.time_notes), by time: the temporal channel
            # reads those said near its window from here, and the turns said inside it
            # from event_user_time_id alone (memory.recall.channels.temporal_events_send).
            models.Index(
                fields=["tenant", "user_id", "event_time"],
                name="event_user_time_noted",
                condition=~Q(time_notes=[]),
            ),
            models.Index(
                fields=["tenant", "idempotency_key"],
                name="event_idempotency",
                condition=Q(idempotency_key__isnull=False),
            ),
            models.Index(fields=["tenant", "body_hash", "created_at"], name="event_body_hash"),
            models.Index(
                fields=["status", "state_changed_at"],
                name="event_enrich_state",
                condition=Q(status__in=["pending", "processing"]),
            ),
            # Events waiting for a stage: a stage task takes on a backlog in batches.
            models.Index(
                fields=["tenant", "stage", "created_at"],
                name="event_stage_waiting",
                condition=Q(status__in=["pending", "processing"]),
            ),
            GinIndex(fields=["search"], name="event_search_gin"),
            # Its vector index (HNSW or IVFFlat) is memory.vector_index's, not Meta's.
        ]

    def __str__(self) -> str:
        return f"event {self.id}"


class FactStatus(models.TextChoices):
    CURRENT = "current"
    SUPERSEDED = "superseded"
    CONTRADICTED = "contradicted"


class Tier(models.TextChoices):
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class Candidate(models.Model):
    """A proposition extracted from one event, on its way through Map and Gate.

    Kept so each stage is re-runnable from stored state; `fact` is set once admitted.
    Enrichment writes it, but it lives in memory's models: it holds user content, and
    forget (memory.forget) erases it with the event in the same transaction.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="candidates")
    ordinal = models.PositiveIntegerField()
    subject = models.CharField(max_length=255)
    relation_phrase = models.CharField(max_length=255)
    object_text = models.TextField()
    source_text = models.TextField()
    source_start = models.PositiveIntegerField()
    source_end = models.PositiveIntegerField()
    predicate = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=32, blank=True, default="")
    negated = models.BooleanField(default=False)
    confidence = models.FloatField(default=0.8)
    temporal = models.JSONField(default=list, blank=True)
    utility = models.FloatField(null=True, blank=True)
    admitted = models.BooleanField(null=True)
    resolution = models.CharField(max_length=16, blank=True, default="")
    fact = models.ForeignKey(
        "Fact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "ordinal"], name="candidate_event_ordinal")
        ]


class Fact(models.Model):
    """A structured, deduplicated statement about a subject, with its history and sources."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="facts")
    user_id = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    kind = models.CharField(max_length=32)
    predicate = models.CharField(max_length=64)
    relation_phrase = models.CharField(max_length=255)
    object_text = models.TextField()
    negated = models.BooleanField(default=False)
    source_text = models.TextField()
    source_event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="facts")
    source_start = models.PositiveIntegerField(default=0)
    source_end = models.PositiveIntegerField(default=0)
    source_role = models.CharField(max_length=16, blank=True, default="")
    event_time = models.DateTimeField()
    temporal = models.JSONField(default=list, blank=True)
    conversation_id = models.CharField(max_length=255, blank=True, default="")
    project_id = models.CharField(max_length=255, blank=True, default="")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.GLOBAL)

    confidence = models.FloatField(default=0.8)
    importance = models.FloatField(default=0.5)
    mention_count = models.PositiveIntegerField(default=1)
    tier = models.CharField(max_length=8, choices=Tier.choices, default=Tier.WARM)
    status = models.CharField(max_length=16, choices=FactStatus.choices, default=FactStatus.CURRENT)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    # For a `contradicted` fact: the current fact it contradicts (which stayed current).
    contradicts = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="contradicted_by"
    )
    access_count = models.PositiveIntegerField(default=0)
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # "extracted" by enrichment, or "explicit": written directly (memory.memories), with
    # the decision's rationale when it is one.
    origin = models.CharField(max_length=16, default="extracted", db_default="extracted")
    rationale = models.TextField(blank=True, default="", db_default="")

    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    search = models.GeneratedField(
        expression=SearchVector(
            "subject", "relation_phrase", "object_text", "source_text", config=FTS_CONFIG
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "user_id", "subject", "predicate"], name="fact_user_predicate"
            ),
            models.Index(fields=["tenant", "user_id", "status"], name="fact_user_status"),
            # GET /v1/memories: a user's memories newest first, by cursor.
            models.Index(
                fields=["tenant", "user_id", "-created_at", "-id"], name="fact_user_created"
            ),
            GinIndex(fields=["search"], name="fact_search_gin"),
            # Recall pins the user's current instructions first (memory.recall.engine
            # with_instructions): without it that query walked every current fact of the
            # user (fact_user_status) looking for the few instructions.
            models.Index(
                fields=["tenant", "user_id", "-event_time", "-created_at"],
                condition=Q(kind="instruction", status="current"),
                name="fact_user_instructions",
            ),
            # Recall's predicate channel (memory.recall.channels.predicate_facts_send): a
            # user's current facts of one predicate, best first, read backwards and
            # stopped after the channel's depth, however many the user has.
            models.Index(
                fields=[
                    "tenant",
                    "user_id",
                    "predicate",
                    "confidence",
                    "event_time",
                    "-created_at",
                    "-id",
                ],
                condition=Q(status="current"),
                name="fact_user_predicate_rank",
            ),
            # Its vector index (HNSW or IVFFlat) is memory.vector_index's, not Meta's.
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.predicate} {self.object_text}"


class FactSource(models.Model):
    """Every event that stated a fact (dedup reinforces a fact and keeps all its sources)."""

    fact = models.ForeignKey(Fact, on_delete=models.CASCADE, related_name="sources")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="fact_sources")
    source_text = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fact", "event"], name="fact_source_unique")]


class Episode(models.Model):
    """A running summary of one conversation (or one session of it), citing its events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="episodes")
    user_id = models.CharField(max_length=255)
    conversation_id = models.CharField(max_length=255, blank=True, default="")
    session_key = models.CharField(max_length=64, blank=True, default="")
    summary = models.TextField(default="")
    events = models.ManyToManyField(Event, related_name="episodes", blank=True)
    event_count = models.PositiveIntegerField(default=0)
    first_event_time = models.DateTimeField(null=True, blank=True)
    last_event_time = models.DateTimeField(null=True, blank=True)
    # The scored sentence pool the summary is drawn from (enrichment.episodes), so that an
    # arriving event updates the summary without re-reading the whole conversation.
    highlights = models.JSONField(default=list, blank=True)
    summarizer = models.CharField(max_length=16, blank=True, default="")  # extractive | llm
    updated_at = models.DateTimeField(auto_now=True)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    # The summary changed while a backlog waited and its vector was left for later (the
    # previous vector stays searchable meanwhile); see enrichment.episodes.
    embedding_stale = models.BooleanField(default=False)
    search = models.GeneratedField(
        expression=SearchVector("summary", config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user_id", "conversation_id", "session_key"],
                name="episode_unique",
            )
        ]
        indexes = [
            GinIndex(fields=["search"], name="episode_search_gin"),
            # Not on updated_at: an indexed column that changes with every update
            # would rule out HOT updates of a row rewritten with every event.
            models.Index(
                fields=["tenant"], name="episode_stale", condition=Q(embedding_stale=True)
            ),
            # Its vector index (HNSW or IVFFlat) is memory.vector_index's, not Meta's.
        ]


class DeletionReceipt(models.Model):
    """A signed, hash-chained record of one forget. Deleted ids live only inside `digest`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="receipts")
    sequence = models.PositiveIntegerField()
    user_id = models.CharField(max_length=255)
    scope = models.JSONField()
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField()
    deleted_counts = models.JSONField()
    # SHA-256 over the sorted ids of every deleted row; the ids themselves are not kept.
    deleted_ids_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)
    prev_digest = models.CharField(max_length=64, blank=True, default="")
    signature = models.TextField()
    key_id = models.CharField(max_length=32)

    class Meta:
        ordering = ["-sequence"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sequence"], name="receipt_chain_position")
        ]
        indexes = [models.Index(fields=["tenant", "user_id", "sequence"], name="receipt_user")]


class DeletionReceiptHead(models.Model):
    """The signed head of a tenant's receipt chain: its length and the newest receipt's digest.

    Rewritten in the transaction that appends each receipt (memory.receipt_head). A chain
    whose newest receipts were deleted ends before its head, which no one can re-sign
    without the private key; a head saved by a third party pins the chain up to it.
    """

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="receipt_head"
    )
    sequence = models.PositiveIntegerField()
    receipt_id = models.UUIDField(null=True)  # null only in the unsaved empty head
    digest = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    head_digest = models.CharField(max_length=64)
    signature = models.TextField()
    key_id = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"receipt head {self.tenant_id} at {self.sequence}"


class UserMemoryVersion(models.Model):
    """Bumped whenever a user's derived memory changes; a cached recall is served only at
    the version it was computed at."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=255)
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user_id"], name="user_memory_version_unique")
        ]


# --- Usage metering (API.md §6) -----------------------------------------------------------

# Upper bounds (ms) of the latency histogram buckets; one more open-ended bucket follows.
# Spaced so p50/p95 of a recall (tens to hundreds of ms) fall inside a bucket, not at an edge.
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class UsageCounter(models.Model):
    """Request totals of one tenant, one UTC day, one endpoint (e.g. "POST /v6/recall").

    Requests are counted in Redis on the hot path and added here by `memory.metering.usage_flush`;
    there is no row per request. Latency is kept as a fixed histogram so p50/p95 stay cheap.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    endpoint = models.CharField(max_length=100)
    requests = models.BigIntegerField(default=0)
    errors_4xx = models.BigIntegerField(default=0)
    errors_5xx = models.BigIntegerField(default=0)
    latency_ms_sum = models.FloatField(default=0)
    # Counts per LATENCY_BUCKETS_MS bucket, plus the open-ended last one.
    latency_buckets = ArrayField(models.BigIntegerField(), default=list)
    request_bytes = models.BigIntegerField(default=0)
    response_bytes = models.BigIntegerField(default=0)
    ingest_events = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "endpoint"], name="usage_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} on {self.day}: {self.requests} requests"


class WorkUnitCounter(models.Model):
    """Events that reached `enriched`, per tenant and UTC day.

    Incremented by a database trigger on `memory_event` (migration 0002_usage), so the count
    is exact whichever code path enriches, and survives a later forget or erase of the event.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    work_units = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="work_unit_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.work_units} work units on {self.day}"


class UsagePlan(models.Model):
    """A tenant's plan name, billing cycle and quotas. No row: unlimited, cycle day 1."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="+")
    plan = models.CharField(max_length=50, default="self-hosted")
    # Capped at 28 so every month has the day.
    billing_cycle_day = models.PositiveSmallIntegerField(default=1)
    # Per billing cycle; null means unlimited.
    requests_quota = models.BigIntegerField(null=True, blank=True)
    tokens_quota = models.BigIntegerField(null=True, blank=True)
    work_units_quota = models.BigIntegerField(null=True, blank=True)
    ingest_events_quota = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"plan {self.plan}"


# --- Audit trail (memory.audit) -----------------------------------------------------------


class AuditEntry(models.Model):
    """Who did what, when: every write, forget, key action and recall served. Never content:
    an endpoint, the user id, counts. Buffered in Redis on the request path and inserted
    in batches (memory.audit); kept CLAIV_AUDIT_RETENTION_DAYS days."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    action = models.CharField(max_length=32)
    endpoint = models.CharField(max_length=100, blank=True, default="")
    # The API key prefix, or for a key action the console user / interface that acted.
    actor = models.CharField(max_length=150, blank=True, default="")
    # Pseudonymised ("forgotten:<hmac>") by a whole-user forget.
    user_id = models.CharField(max_length=255, blank=True, default="")
    counts = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit trail"
        indexes = [
            models.Index(fields=["tenant", "-at", "-id"], name="audit_tenant_at"),
            models.Index(fields=["tenant", "user_id", "-at"], name="audit_tenant_user"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor} at {self.at}"


# --- Export and import (memory.portability) -----------------------------------------------


class ForeignReceipt(models.Model):
    """A deletion receipt that came in with an import: kept verbatim for the record (its
    signature is the exporting deployment's), never part of this tenant's signed chain."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    receipt_id = models.UUIDField()
    record = models.JSONField()
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "receipt_id"], name="foreign_receipt_unique")
        ]


class PortabilityJobKind(models.TextChoices):
    EXPORT = "export"
    IMPORT = "import"


class PortabilityJobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PortabilityJob(models.Model):
    """An export or import asked for through the API (memory.portability_jobs), run by a
    worker. Holds the import's file until it ran, and the export's file until it expires
    or a forget of the tenant makes it stale."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=PortabilityJobKind.choices)
    status = models.CharField(
        max_length=16, choices=PortabilityJobStatus.choices, default=PortabilityJobStatus.QUEUED
    )
    # Export: only this end user (blank: the whole tenant).
    user_id = models.CharField(max_length=255, blank=True, default="")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # SHA-256 of the request's parameters: a repeated idempotency key must repeat them.
    request_digest = models.CharField(max_length=64)
    # Who asked (key prefix) and the request's id, for the audit trail.
    actor = models.CharField(max_length=150, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    endpoint = models.CharField(max_length=100, blank=True, default="")
    # Import: the JSONL to import (cleared once the job finished). Export: the JSONL made.
    payload = models.TextField(blank=True, default="")
    output = models.TextField(blank=True, default="")
    output_dropped_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    reembedded = models.BooleanField(null=True, blank=True)
    # The error envelope's code, message and details when the job failed.
    error = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="portability_job_idempotency",
            )
        ]
        indexes = [
            models.Index(fields=["status", "state_changed_at"], name="portability_job_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"


# --- Embedding space (memory.embedding_space) ---------------------------------------------


class EmbeddingSpace(models.Model):
    """The embedding model and dimension every stored vector was made with: one row, written
    by migrate (or the first start-up check) and moved by `manage.py reembed`. Web and worker
    processes refuse to start when their configured model differs."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    model = models.CharField(max_length=255)
    dimension = models.PositiveIntegerField()
    # Set while `reembed` fills the shadow columns for another model; blank otherwise.
    target_model = models.CharField(max_length=255, blank=True, default="")
    target_dimension = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.model} ({self.dimension})"


class KeywordCorpus(models.Model):
    """BM25 corpus statistics of one user's rows of one kind (event, fact, episode):
    how many documents and their total length (distinct lexemes, `length(search)`).

    Maintained by statement-level triggers on the three tables (migration
    0006_recall_keyword_corpus), so a recall reads one row instead of aggregating every
    row of the user (at 100k facts that aggregate was most of a recall). Counted rows:
    events not forgotten and not `system`, current facts, every episode — visibility by
    scope and `min_confidence` is not applied (memory.recall.bm25 says what that changes).
    Never written by application code."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=8)
    documents = models.BigIntegerField(default=0)
    total_length = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user_id", "kind"], name="keyword_corpus_unique"
            )
        ]


class KeywordTerm(models.Model):
    """BM25 document frequency of one lexeme among one user's rows of one kind: how many
    of the rows KeywordCorpus counts hold it. Maintained by the same kind of statement-level
    triggers (migration 0018_keyword_postings), so a recall reads one indexed row per query
    term instead of counting the term's rows. Never written by application code.

    The tenant is a plain column (no foreign-key constraint): the rows go when the rows
    they count are deleted, by the triggers, as a tenant's deletion does."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    user_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=8)
    lexeme = models.TextField()
    documents = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user_id", "kind", "lexeme"], name="keyword_term_unique"
            )
        ]


class KeywordPosting(models.Model):
    """One (row, lexeme) of a user's keyword corpus with its BM25 term impact (the term's
    weight without the idf, memory.recall.bm25.IMPACT_AVGDL), kept by triggers with
    KeywordTerm. Read by the index keyword_posting_top: a query term's top postings by
    impact are an index range scan with a LIMIT, whatever the user's history. Never
    written by application code."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    user_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=8)
    lexeme = models.TextField()
    impact = models.FloatField()
    row_id = models.UUIDField()

    class Meta:
        indexes = [
            # row_id included: a term's top postings are read from the index alone
            # (index-only scan), not from one heap page of this table per posting.
            models.Index(
                fields=["tenant", "user_id", "kind", "lexeme", "-impact"],
                name="keyword_posting_top",
                include=["row_id"],
            ),
            models.Index(fields=["row_id"], name="keyword_posting_row"),
        ]


class Passage(models.Model):
    """One window of a long event (memory.passages), searchable by keyword and vector.
    Visible exactly when its event is; deleted with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=255)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="passages")
    ordinal = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.TextField()
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    search = models.GeneratedField(
        expression=SearchVector("text", config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "ordinal"], name="passage_unique")]
        indexes = [
            models.Index(fields=["tenant", "user_id"], name="passage_user"),
            GinIndex(fields=["search"], name="passage_search_gin"),
            # Its vector index (HNSW or IVFFlat) is memory.vector_index's, not Meta's.
        ]

    @classmethod
    def of_events(cls, events: Iterable[Event]) -> list[Passage]:
        """The unsaved, unembedded passages of `events` (memory.passages.passage_spans):
        none for an event short enough to be one document."""
        return [
            cls(
                tenant_id=e.tenant_id,
                user_id=e.user_id,
                event_id=e.pk,
                ordinal=i,
                start=start,
                end=end,
                text=e.content[start:end],
            )
            for e in events
            for i, (start, end) in enumerate(passage_spans(e.content))
        ]


# --- Documents and collections (memory.documents) ------------------------------------------
# Defined in their own module; imported here so Django registers them in this app.
from memory.documents.models import (  # noqa: E402, F401
    Collection,
    CollectionMembership,
    Document,
    DocumentDistillation,
    DocumentSection,
    DocumentSpan,
    DocumentStatus,
    DocumentTag,
)
