"""Request shapes of the memory API (strict: unknown fields are rejected)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import serializers

from claiv.api import FlexibleDateTimeField, StrictCharField, StrictSerializer
from claiv.errors import InvalidRequest, PayloadTooLarge
from memory.audit import ACTIONS as AUDIT_ACTIONS
from memory.models import EventType, Role, Scope

# Queries, tasks and explicit memories (a memory is one statement, not a document).
MAX_CONTENT_CHARS = 32_000
MAX_METADATA_BYTES = 8 * 1024
MAX_BATCH_EVENTS = 500
# Keys the official SDK (claiv-memory 0.6.4) sends for documents, which this server does not
# have: accepted so SDK calls keep working, then dropped.
SDK_IGNORED = "Accepted for compatibility with the official SDK; ignored."


def _opaque_id(**kwargs: Any) -> StrictCharField:
    return StrictCharField(min_length=1, max_length=255, trim_whitespace=False, **kwargs)


def _merge_alias(attrs: dict[str, Any], name: str, alias: str) -> None:
    """`thread_id` is the v1 name of `conversation_id`; both accepted, they must agree."""
    primary, other = attrs.get(name), attrs.pop(alias, None)
    if primary is not None and other is not None and primary != other:
        raise InvalidRequest(f"{name} and {alias} disagree.", details={"fields": [name, alias]})
    if primary is None and other is not None:
        attrs[name] = other


class IngestSerializer(StrictSerializer):
    user_id = _opaque_id()
    type = serializers.ChoiceField(choices=EventType.choices)
    # Limited by the 1 MiB body (long content is split into passages, memory.passages), or
    # by the operator's EVENT_CONTENT_MAX_CHARS, checked in validate_content: 413, not 400.
    content = StrictCharField(trim_whitespace=False, allow_blank=True)
    conversation_id = _opaque_id(required=False, allow_null=True)
    thread_id = _opaque_id(required=False, allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_null=True)
    event_time = FlexibleDateTimeField(required=False, allow_null=True)
    idempotency_key = _opaque_id(required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    project_id = _opaque_id(required=False, allow_null=True)
    scope = serializers.ChoiceField(choices=Scope.choices, required=False, allow_null=True)
    document_id = _opaque_id(
        required=False,
        allow_null=True,
        help_text="Tags the event with a document: forgetting the document forgets its facts.",
    )
    document_name = StrictCharField(
        required=False, allow_null=True, max_length=1000, help_text="The tagged document's name."
    )

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("content must not be empty.")
        limit = settings.EVENT_CONTENT_MAX_CHARS
        if limit and len(value) > limit:
            raise PayloadTooLarge(
                f"content is limited to {limit} characters.",
                details={"field": "content", "limit": limit},
            )
        return value

    def validate_metadata(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise serializers.ValidationError("metadata must be an object.")
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
            raise PayloadTooLarge(
                f"metadata is limited to {MAX_METADATA_BYTES} bytes.",
                details={"field": "metadata", "limit": MAX_METADATA_BYTES},
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # document_id / document_name stay: memory.ingest writes the tag with the event.
        _merge_alias(attrs, "conversation_id", "thread_id")
        if self.context.get("require_conversation") and not attrs.get("conversation_id"):
            raise serializers.ValidationError({"conversation_id": ["This field is required."]})
        if attrs.get("scope") == Scope.PROJECT and not attrs.get("project_id"):
            raise serializers.ValidationError({"project_id": ["Required when scope is project."]})
        if attrs.get("scope") == Scope.CONVERSATION and not attrs.get("conversation_id"):
            raise serializers.ValidationError(
                {"conversation_id": ["Required when scope is conversation."]}
            )
        return {key: value for key, value in attrs.items() if value is not None}


class RecallV1Serializer(StrictSerializer):
    user_id = _opaque_id()
    task = StrictCharField(min_length=1, max_length=MAX_CONTENT_CHARS)
    token_budget = serializers.IntegerField(min_value=200, max_value=8000)
    thread_id = _opaque_id(required=False, allow_null=True)
    conversation_id = _opaque_id(required=False, allow_null=True)
    min_confidence = serializers.FloatField(
        min_value=0, max_value=1, required=False, allow_null=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _merge_alias(attrs, "conversation_id", "thread_id")
        return {key: value for key, value in attrs.items() if value is not None}


class ForgetSerializer(StrictSerializer):
    user_id = _opaque_id()
    conversation_id = _opaque_id(required=False, allow_null=True)
    thread_id = _opaque_id(required=False, allow_null=True)
    project_id = _opaque_id(required=False, allow_null=True)
    from_time = FlexibleDateTimeField(required=False, allow_null=True)
    to_time = FlexibleDateTimeField(required=False, allow_null=True)
    erase_events = serializers.BooleanField(required=False, default=False)
    document_id = _opaque_id(
        required=False,
        allow_null=True,
        help_text="Forget one document (API.md §8): its spans, distillations, memberships "
        "and the facts of events tagged with it.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _merge_alias(attrs, "conversation_id", "thread_id")
        start, end = attrs.get("from_time"), attrs.get("to_time")
        if start and end and start > end:
            raise serializers.ValidationError({"to_time": ["to_time is before from_time."]})
        return {key: value for key, value in attrs.items() if value is not None}


class RecallLimitsSerializer(StrictSerializer):
    answer_facts = serializers.IntegerField(
        min_value=0, max_value=50, required=False, allow_null=True
    )
    supporting_facts = serializers.IntegerField(
        min_value=0, max_value=50, required=False, allow_null=True
    )
    background_facts = serializers.IntegerField(
        min_value=0, max_value=50, required=False, allow_null=True
    )
    max_list_items = serializers.IntegerField(
        required=False, allow_null=True, help_text=SDK_IGNORED
    )
    document_chunks = serializers.IntegerField(
        min_value=1,
        max_value=50,
        required=False,
        allow_null=True,
        help_text="Document spans of a LOCAL recall (default 5).",
    )


class RecallIncludeSerializer(StrictSerializer):
    debug = serializers.BooleanField(required=False, allow_null=True)
    pending_plan = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Accepted for SDK compatibility; `pending_plan` is always in the response.",
    )


# API.md §4 defaults of the v6 recall limits.
RECALL_V6_LIMITS = {"answer_facts": 12, "supporting_facts": 12, "background_facts": 8}


class RecallV6Serializer(StrictSerializer):
    user_id = _opaque_id()
    query = StrictCharField(min_length=1, max_length=MAX_CONTENT_CHARS)
    conversation_id = _opaque_id(required=False, allow_null=True)
    thread_id = _opaque_id(required=False, allow_null=True)
    project_id = _opaque_id(required=False, allow_null=True)
    reference_time = FlexibleDateTimeField(required=False, allow_null=True)
    token_budget = serializers.IntegerField(
        min_value=200, max_value=8000, required=False, allow_null=True
    )
    limits = RecallLimitsSerializer(required=False, allow_null=True)
    include = RecallIncludeSerializer(required=False, allow_null=True)
    document_id = _opaque_id(
        required=False, allow_null=True, help_text="Recall from this document only."
    )
    collection_id = _opaque_id(
        required=False, allow_null=True, help_text="Recall from this collection's documents."
    )
    mode_hint = StrictCharField(
        required=False,
        allow_null=True,
        max_length=100,
        help_text="Accepted for SDK compatibility; ignored.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _merge_alias(attrs, "conversation_id", "thread_id")
        limits = dict(RECALL_V6_LIMITS)
        limits.update(
            {
                k: v
                for k, v in (attrs.get("limits") or {}).items()
                if k in RECALL_V6_LIMITS and v is not None
            }
        )
        include = attrs.get("include") or {}
        return {
            "user_id": attrs["user_id"],
            "query": attrs["query"],
            "conversation_id": attrs.get("conversation_id"),
            "project_id": attrs.get("project_id"),
            "reference_time": attrs.get("reference_time"),
            "token_budget": attrs.get("token_budget") or 2000,
            "limits": limits,
            "include_debug": bool(include.get("debug")),
            "document_id": attrs.get("document_id"),
            "collection_id": attrs.get("collection_id"),
            "document_chunks": (attrs.get("limits") or {}).get("document_chunks") or 5,
        }


class BatchIngestSerializer(StrictSerializer):
    """The outer shape only: each item is validated on its own, so one bad item fails alone."""

    events = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        help_text=f"1–{MAX_BATCH_EVENTS} ingest bodies (as for POST /v1/ingest).",
    )

    def validate_events(self, value: list[Any]) -> list[Any]:
        if len(value) > MAX_BATCH_EVENTS:
            raise PayloadTooLarge(
                f"A batch holds at most {MAX_BATCH_EVENTS} events.",
                details={"field": "events", "limit": MAX_BATCH_EVENTS},
            )
        return value


class ReceiptListQuerySerializer(serializers.Serializer):
    """Query string of GET /v1/deletion-receipts (the SDK sends numbers as strings)."""

    user_id = serializers.CharField(
        min_length=1, max_length=255, required=False, trim_whitespace=False
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)


class UsageRangeQuerySerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=["7d", "30d", "month", "today"], default="7d")


# --- Memories one by one (memory.memories) ------------------------------------------------

MEMORY_KINDS = ("note", "decision")
MAX_RATIONALE_CHARS = 4_000


class _MemoryContentMixin:
    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("content must not be empty.")
        if len(value) > MAX_CONTENT_CHARS:
            raise PayloadTooLarge(
                f"content is limited to {MAX_CONTENT_CHARS} characters.",
                details={"field": "content", "limit": MAX_CONTENT_CHARS},
            )
        return value


class MemoryAddSerializer(_MemoryContentMixin, StrictSerializer):
    user_id = _opaque_id()
    content = StrictCharField(trim_whitespace=False)
    kind = serializers.ChoiceField(choices=MEMORY_KINDS, required=False, default="note")
    conversation_id = _opaque_id(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, allow_null=True)
    rationale = StrictCharField(
        required=False, allow_null=True, max_length=MAX_RATIONALE_CHARS, trim_whitespace=False
    )

    def validate_metadata(self, value: Any) -> Any:
        return IngestSerializer.validate_metadata(self, value)  # type: ignore[arg-type]


class MemoryCorrectSerializer(_MemoryContentMixin, StrictSerializer):
    content = StrictCharField(trim_whitespace=False)
    rationale = StrictCharField(
        required=False, allow_null=True, max_length=MAX_RATIONALE_CHARS, trim_whitespace=False
    )


class MemorySupersedeSerializer(_MemoryContentMixin, StrictSerializer):
    """Exactly one of `content` (a new memory replaces this one) and `superseded_by`
    (an existing current memory of the same user does)."""

    content = StrictCharField(trim_whitespace=False, required=False)
    superseded_by = serializers.UUIDField(required=False, format="hex_verbose")
    kind = serializers.ChoiceField(choices=MEMORY_KINDS, required=False)
    rationale = StrictCharField(
        required=False, allow_null=True, max_length=MAX_RATIONALE_CHARS, trim_whitespace=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("content" in attrs) == ("superseded_by" in attrs):
            raise InvalidRequest(
                "Give exactly one of content and superseded_by.",
                details={"fields": ["content", "superseded_by"]},
            )
        if "superseded_by" in attrs:
            attrs["superseded_by"] = str(attrs["superseded_by"])
        return attrs


class MemoryListQuerySerializer(serializers.Serializer):
    """Query string of GET /v1/memories."""

    user_id = serializers.CharField(min_length=1, max_length=255, trim_whitespace=False)
    status = serializers.ChoiceField(choices=["current", "superseded", "all"], default="current")
    kind = serializers.CharField(min_length=1, max_length=32, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    cursor = serializers.CharField(
        min_length=1,
        max_length=200,
        required=False,
        help_text="`next_cursor` of the previous page.",
    )


class SearchSerializer(StrictSerializer):
    user_id = _opaque_id()
    query = StrictCharField(min_length=1, max_length=MAX_CONTENT_CHARS)
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    conversation_id = _opaque_id(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in attrs.items() if value is not None}


class ExportCreateSerializer(StrictSerializer):
    """POST /v1/exports: the whole tenant, or one end user."""

    user_id = _opaque_id(required=False, allow_null=True)
    idempotency_key = _opaque_id(
        required=False, allow_null=True, help_text="A repeat returns the first job."
    )


class ImportCreateSerializer(StrictSerializer):
    """POST /v1/imports: an export file (JSONL, as `GET /v1/exports/{id}/download` gives
    it) as one JSON string, within the 1 MiB body limit."""

    jsonl = StrictCharField(trim_whitespace=False)
    idempotency_key = _opaque_id(
        required=False, allow_null=True, help_text="A repeat returns the first job."
    )


class AuditQuerySerializer(serializers.Serializer):
    """Query string of GET /v1/audit."""

    user_id = serializers.CharField(
        min_length=1, max_length=255, required=False, trim_whitespace=False
    )
    action = serializers.ChoiceField(
        choices=list(AUDIT_ACTIONS),
        required=False,
    )
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    cursor = serializers.CharField(min_length=1, max_length=100, required=False)
