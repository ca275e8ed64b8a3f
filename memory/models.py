"""Memory rows: events (raw, the source of truth), candidates, facts, episodes, receipts.

Every row carries its tenant; every read goes through selectors/services that take it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

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

    status = models.CharField(max_length=16, choices=EnrichmentStatus.choices,
                              default=EnrichmentStatus.PENDING)
    stage = models.CharField(max_length=16, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(null=True, blank=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    extractor = models.CharField(max_length=16, blank=True, default="")
    tokens_used = models.PositiveIntegerField(default=0)
    candidate_count = models.PositiveIntegerField(default=0)
    gated_count = models.PositiveIntegerField(default=0)

    # Set by forget without erase: the raw event stays for audit but is never recalled.
    forgotten_at = models.DateTimeField(null=True, blank=True)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    search = models.GeneratedField(
        expression=SearchVector("content", config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "user_id", "event_time"], name="event_user_time"),
            models.Index(fields=["tenant", "user_id", "conversation_id", "event_time"],
                         name="event_conversation_time"),
            models.Index(fields=["tenant", "idempotency_key"], name="event_idempotency",
                         condition=Q(idempotency_key__isnull=False)),
            models.Index(fields=["tenant", "body_hash", "created_at"], name="event_body_hash"),
            models.Index(fields=["status", "state_changed_at"], name="event_enrich_state",
                         condition=Q(status__in=["pending", "processing"])),
            GinIndex(fields=["search"], name="event_search_gin"),
            HnswIndex(name="event_embedding_hnsw", fields=["embedding"], m=16,
                      ef_construction=64, opclasses=["vector_cosine_ops"]),
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
    fact = models.ForeignKey("Fact", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "ordinal"],
                                               name="candidate_event_ordinal")]


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
    status = models.CharField(max_length=16, choices=FactStatus.choices,
                              default=FactStatus.CURRENT)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="supersedes")
    access_count = models.PositiveIntegerField(default=0)
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    search = models.GeneratedField(
        expression=SearchVector("subject", "relation_phrase", "object_text", "source_text",
                                config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "user_id", "subject", "predicate"],
                         name="fact_user_predicate"),
            models.Index(fields=["tenant", "user_id", "status"], name="fact_user_status"),
            GinIndex(fields=["search"], name="fact_search_gin"),
            HnswIndex(name="fact_embedding_hnsw", fields=["embedding"], m=16,
                      ef_construction=64, opclasses=["vector_cosine_ops"]),
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
    updated_at = models.DateTimeField(auto_now=True)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    search = models.GeneratedField(
        expression=SearchVector("summary", config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["tenant", "user_id", "conversation_id", "session_key"],
            name="episode_unique")]
        indexes = [GinIndex(fields=["search"], name="episode_search_gin"),
                   HnswIndex(name="episode_embedding_hnsw", fields=["embedding"], m=16,
                             ef_construction=64, opclasses=["vector_cosine_ops"])]


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
        constraints = [models.UniqueConstraint(fields=["tenant", "sequence"],
                                               name="receipt_chain_position")]
        indexes = [models.Index(fields=["tenant", "user_id", "sequence"], name="receipt_user")]


class UserMemoryVersion(models.Model):
    """Bumped whenever a user's derived memory changes; part of every recall cache key."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=255)
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user_id"],
                                               name="user_memory_version_unique")]
