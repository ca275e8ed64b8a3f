"""Document rows: the document (its original text is the source of every offset), its
section tree, its spans, its distillations, and collections with ordered membership.

Every row carries its tenant. Clients name documents and collections by their own stable
ids (`external_id`, unique per tenant): the SDK deletes a document by id alone.
Imported by memory.models so Django registers them in the memory app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import VectorField

from tenants.models import Tenant

FTS_CONFIG = "english"  # memory.models.FTS_CONFIG (not imported: that module imports this)


class DocumentStatus(models.TextChoices):
    PROCESSING = "processing"  # spans searchable, distillations being made
    READY = "ready"
    ERROR = "error"


class Document(models.Model):
    """One uploaded document. `generation` grows with every re-upload: a distillation made
    for an older generation is thrown away, so a late worker never mixes versions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=255)
    user_id = models.CharField(max_length=255)
    project_id = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=1000)
    content = models.TextField()
    byte_size = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PROCESSING
    )
    error = models.TextField(null=True, blank=True)
    generation = models.PositiveIntegerField(default=1)
    distill_attempts = models.PositiveIntegerField(default=0)
    spans_created = models.PositiveIntegerField(default=0)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="document_external")
        ]
        indexes = [
            models.Index(fields=["tenant", "user_id", "created_at"], name="document_user"),
            models.Index(fields=["status", "state_changed_at"], name="document_status"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.name})"


class DocumentSection(models.Model):
    """A node of the heading tree, in reading order (`ordinal`). [start, end) covers the
    heading and everything under it, subsections included; [start, body_end) is the
    heading and its own text up to the next heading of any level."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="sections")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    ordinal = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=1000, null=True, blank=True)
    path = models.TextField(blank=True, default="")  # "Manual > Installation > Linux"
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    body_end = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="section_unique")
        ]

    def __str__(self) -> str:
        return self.path or self.title or f"section {self.ordinal}"


class DocumentSpan(models.Model):
    """A passage of a few hundred tokens inside one section, overlapping its neighbours;
    [start, end) are character offsets into the document's content. Searchable by keyword
    (with its section path) and by vector."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=255)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="spans")
    section = models.ForeignKey(DocumentSection, on_delete=models.CASCADE, related_name="spans")
    ordinal = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    heading = models.TextField(blank=True, default="")
    text = models.TextField()
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    search = models.GeneratedField(
        expression=SearchVector("heading", "text", config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="docspan_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "user_id"], name="docspan_user"),
            GinIndex(fields=["search"], name="docspan_search_gin"),
            # The vector index (HNSW or IVFFlat) is memory.vector_index's business, as for
            # the other vector columns: `docspan_embedding_<method>`.
        ]

    def __str__(self) -> str:
        return f"span {self.ordinal} [{self.start}:{self.end}]"


class DocumentDistillation(models.Model):
    """A summary of one section (`section` set) or of the whole document (`section`
    null), written by the distil stage for one generation of the document."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="distillations")
    section = models.ForeignKey(
        DocumentSection,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="distillations",
    )
    text = models.TextField()
    summarizer = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"distillation of {self.document_id}"


class Collection(models.Model):
    """A named group of a user's documents; `ordered` means recall follows positions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=255)
    user_id = models.CharField(max_length=255)
    project_id = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=1000)
    ordered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="collection_external")
        ]
        indexes = [models.Index(fields=["tenant", "user_id"], name="collection_user")]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.name})"


class CollectionMembership(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="memberships")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="memberships")
    position = models.IntegerField(null=True, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "document"], name="collection_membership_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.collection_id} ∋ {self.document_id}"


class DocumentTag(models.Model):
    """An ingested event tagged with a document (the SDK's ingest `document_id`): the facts
    derived from it are "facts tagged with the document", forgotten with it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    event = models.OneToOneField(
        "memory.Event", on_delete=models.CASCADE, related_name="document_tag"
    )
    user_id = models.CharField(max_length=255)
    document_id = models.CharField(max_length=255)
    document_name = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "user_id", "document_id"], name="document_tag_doc")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.document_id}"
