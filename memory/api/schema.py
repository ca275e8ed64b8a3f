"""Response shapes of the memory API, for the OpenAPI description (API.md §3–§6).

The views build plain dicts; these serializers only describe them. Fields marked
`required=False` are the ones a response may omit. `contract_postprocess` adds what the
generator cannot see: the unauthenticated health probes and the strictness of request bodies.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class IngestResponseSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    deduped = serializers.BooleanField()


@extend_schema_field(
    {
        "oneOf": [
            {"$ref": "#/components/schemas/IngestResponse"},
            {"$ref": "#/components/schemas/Error"},
        ]
    }
)
class BatchSlotField(serializers.JSONField):
    pass


class BatchIngestResponseSerializer(serializers.Serializer):
    results = serializers.ListField(
        child=BatchSlotField(),
        help_text="One slot per input event, in input order: the ingest result, or the error "
        "envelope of that item alone.",
    )


class EventDetailSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    user_id = serializers.CharField()
    conversation_id = serializers.CharField(allow_null=True)
    project_id = serializers.CharField(allow_null=True)
    scope = serializers.ChoiceField(choices=["global", "project", "conversation"])
    type = serializers.ChoiceField(choices=["message", "tool_call", "app_event"])
    role = serializers.ChoiceField(choices=["user", "assistant", "system", "tool"], allow_null=True)
    content = serializers.CharField()
    event_time = serializers.DateTimeField()
    metadata = serializers.DictField()
    created_at = serializers.DateTimeField()
    status = serializers.ChoiceField(
        choices=["pending", "processing", "enriched", "skipped", "failed"]
    )
    stage = serializers.CharField(allow_null=True, help_text="The last enrichment stage done.")
    fact_ids = serializers.ListField(child=serializers.UUIDField())
    error = serializers.CharField(allow_null=True)


class MemoryBlockSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["fact", "episode", "event", "contradiction"])
    content = serializers.CharField(allow_blank=True)
    source_ids = serializers.ListField(child=serializers.CharField())
    score = serializers.FloatField()
    tier = serializers.CharField(allow_null=True)
    event_time = serializers.DateTimeField(allow_null=True)


class RecallV1ResponseSerializer(serializers.Serializer):
    system_context = serializers.CharField(allow_blank=True)
    memory_blocks = MemoryBlockSerializer(many=True)
    citations = serializers.ListField(child=serializers.CharField())
    token_estimate = serializers.IntegerField(min_value=0)


class TemporalMatchSerializer(serializers.Serializer):
    ts_start = serializers.CharField(allow_null=True)
    ts_end = serializers.CharField(allow_null=True)
    raw_expression = serializers.CharField(allow_null=True, allow_blank=True)
    granularity = serializers.CharField(allow_null=True)
    anchor_time = serializers.CharField(allow_null=True, required=False)
    date_type = serializers.CharField(allow_null=True, required=False)


class RecallFactSerializer(serializers.Serializer):
    fact_id = serializers.CharField()
    subject = serializers.CharField(allow_blank=True)
    kind = serializers.CharField(allow_blank=True)
    predicate = serializers.CharField(allow_blank=True)
    object = serializers.JSONField(required=False, help_text="The SDK's name; = object_text.")
    object_text = serializers.CharField(allow_blank=True)
    relation_phrase = serializers.CharField(allow_blank=True)
    source_text = serializers.CharField(
        allow_blank=True, help_text="A verbatim slice of the source event."
    )
    confidence = serializers.FloatField()
    importance = serializers.FloatField()
    tier = serializers.CharField(allow_null=True, required=False)
    created_at = serializers.CharField(allow_null=True)
    valid_from = serializers.CharField(allow_null=True, required=False)
    valid_to = serializers.CharField(allow_null=True, required=False)
    source_event_id = serializers.CharField(allow_null=True, required=False)
    temporal_matches = TemporalMatchSerializer(many=True)
    document_id = serializers.CharField(allow_null=True, required=False)
    document_name = serializers.CharField(allow_null=True, required=False)


class HistoryTurnSerializer(serializers.Serializer):
    role = serializers.CharField(allow_null=True, allow_blank=True)
    content = serializers.CharField(allow_blank=True)
    event_time = serializers.CharField(allow_null=True)


class LlmContextSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, help_text="Put this in the system prompt.")
    reference_time = serializers.CharField(allow_null=True)
    anchor_source = serializers.ChoiceField(choices=["request", "conversation_event", "server_now"])
    conversation_history = HistoryTurnSerializer(many=True)
    fact_ids = serializers.ListField(child=serializers.CharField())


class RoutingSerializer(serializers.Serializer):
    mode = serializers.CharField()
    kinds = serializers.ListField(child=serializers.CharField())
    predicates = serializers.ListField(child=serializers.CharField())
    temporal_intent = serializers.JSONField(allow_null=True)


class RecallV6ResponseSerializer(serializers.Serializer):
    answer_facts = RecallFactSerializer(many=True)
    supporting_facts = RecallFactSerializer(many=True)
    background_context = RecallFactSerializer(many=True)
    llm_context = LlmContextSerializer()
    working_memory = serializers.DictField(
        allow_null=True,
        help_text="focus, pending_confirmation, last_plan, turn_summary; "
        "null without a conversation_id.",
    )
    pending_plan = serializers.DictField(allow_null=True)
    routing = RoutingSerializer()
    token_estimate = serializers.IntegerField(min_value=0)
    debug = serializers.DictField(required=False, help_text="Only with include.debug.")
    documents = serializers.DictField(
        required=False,
        help_text="Recall over documents (API.md §8): `strategy` (local, section, document, "
        "collection; null when documents only joined ordinary recall) and `citations` "
        "[{document_id, document_name, section, node_id, item_id, kind}] of what the "
        "context holds.",
    )


class DeletedCountsSerializer(serializers.Serializer):
    events = serializers.IntegerField(min_value=0)
    facts = serializers.IntegerField(min_value=0)
    episodes = serializers.IntegerField(min_value=0)
    embeddings = serializers.IntegerField(min_value=0)
    chunks = serializers.IntegerField(min_value=0)
    claims = serializers.IntegerField(min_value=0)
    open_loops = serializers.IntegerField(min_value=0)


class ForgetResponseSerializer(serializers.Serializer):
    receipt_id = serializers.UUIDField()
    deleted_counts = DeletedCountsSerializer()


class ReceiptScopeSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    conversation_id = serializers.CharField(allow_null=True)
    project_id = serializers.CharField(allow_null=True)
    from_time = serializers.CharField(allow_null=True)
    to_time = serializers.CharField(allow_null=True)
    erase_events = serializers.BooleanField()


class ReceiptScopeWithMemorySerializer(ReceiptScopeSerializer):
    memory_id = serializers.UUIDField(
        required=False, help_text="Only in the receipt of DELETE /v1/memories/{memory_id}."
    )


class ReceiptSerializer(serializers.Serializer):
    """A signed receipt. The first ten fields, verbatim, are what `digest` covers."""

    tenant = serializers.UUIDField()
    receipt_id = serializers.UUIDField()
    sequence = serializers.IntegerField(min_value=1)
    user_id = serializers.CharField()
    scope = ReceiptScopeWithMemorySerializer()
    deleted_counts = DeletedCountsSerializer()
    deleted_ids_digest = serializers.CharField(help_text="SHA-256 of the sorted deleted ids.")
    requested_at = serializers.CharField()
    completed_at = serializers.CharField(allow_null=True)
    prev_digest = serializers.CharField(
        allow_blank=True, help_text='"" for the first receipt of a tenant.'
    )
    digest = serializers.CharField()
    signature = serializers.CharField(help_text="Base64 Ed25519 signature of `digest` (ASCII).")
    key_id = serializers.CharField()
    algorithm = serializers.ChoiceField(choices=["Ed25519"])


class ReceiptListSerializer(serializers.Serializer):
    receipts = ReceiptSerializer(many=True)
    total = serializers.IntegerField(min_value=0)
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class ReceiptHeadSerializer(serializers.Serializer):
    """The signed head of the tenant's receipt chain. The first five fields, verbatim, are
    what `head_digest` covers (canonical JSON, as for a receipt's `digest`)."""

    tenant = serializers.UUIDField()
    sequence = serializers.IntegerField(min_value=0, help_text="Receipts in the chain.")
    receipt_id = serializers.UUIDField(allow_null=True, help_text="The newest receipt.")
    digest = serializers.CharField(
        allow_blank=True, help_text='The newest receipt\'s digest; "" when none.'
    )
    signed_at = serializers.CharField()
    head_digest = serializers.CharField()
    signature = serializers.CharField(
        help_text="Base64 Ed25519 signature of `head_digest` (ASCII)."
    )
    key_id = serializers.CharField()
    algorithm = serializers.ChoiceField(choices=["Ed25519"])


class PublicKeySerializer(serializers.Serializer):
    key_id = serializers.CharField()
    algorithm = serializers.ChoiceField(choices=["Ed25519"])
    public_key = serializers.CharField(help_text="Base64 of the raw 32-byte Ed25519 key.")


class UsageTotalsSerializer(serializers.Serializer):
    requests = serializers.IntegerField(min_value=0)
    ingest_requests = serializers.IntegerField(min_value=0)
    recall_requests = serializers.IntegerField(min_value=0)
    forget_requests = serializers.IntegerField(min_value=0)
    ingest_events = serializers.IntegerField(min_value=0)
    tokens = serializers.IntegerField(min_value=0)
    work_units = serializers.IntegerField(min_value=0)
    errors = serializers.IntegerField(min_value=0)
    request_bytes = serializers.IntegerField(min_value=0)
    response_bytes = serializers.IntegerField(min_value=0)


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    requests = serializers.IntegerField(min_value=0)
    ingest_events = serializers.IntegerField(min_value=0)
    tokens = serializers.IntegerField(min_value=0)
    work_units = serializers.IntegerField(min_value=0)
    errors = serializers.IntegerField(min_value=0)


class UsageSummarySerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=["7d", "30d", "month", "today"])
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    totals = UsageTotalsSerializer()
    daily = UsageDaySerializer(many=True)


class UsageEndpointSerializer(serializers.Serializer):
    endpoint = serializers.CharField(help_text='Method and path, e.g. "POST /v6/recall".')
    requests = serializers.IntegerField(min_value=0)
    errors = serializers.IntegerField(min_value=0)
    error_rate = serializers.FloatField(min_value=0, max_value=1)
    avg_latency_ms = serializers.FloatField(min_value=0)
    p50_latency_ms = serializers.FloatField(min_value=0)
    p95_latency_ms = serializers.FloatField(min_value=0)


class UsageBreakdownSerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=["7d", "30d", "month", "today"])
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    endpoints = UsageEndpointSerializer(many=True)


class QuotaSerializer(serializers.Serializer):
    used = serializers.IntegerField(min_value=0)
    limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    remaining = serializers.IntegerField(allow_null=True)
    percentage_used = serializers.FloatField(min_value=0)


class QuotasSerializer(serializers.Serializer):
    requests = QuotaSerializer()
    tokens = QuotaSerializer()
    work_units = QuotaSerializer()
    ingest_events = QuotaSerializer()


class UsageLimitsSerializer(serializers.Serializer):
    plan = serializers.CharField()
    billing_cycle_day = serializers.IntegerField(min_value=1, max_value=28)
    reset_date = serializers.DateField()
    is_within_quota = serializers.BooleanField()
    limits = QuotasSerializer()


_HEALTH_PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness (no auth, touches no dependency)",
            "tags": ["health"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The process serves.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["ok"],
                                "properties": {"ok": {"type": "boolean", "enum": [True]}},
                            }
                        }
                    },
                }
            },
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "summary": "Readiness: Postgres and Redis answer (no auth)",
            "tags": ["health"],
            "security": [],
            "responses": {
                code: {
                    "description": text,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["ok", "checks"],
                                "properties": {
                                    "ok": {"type": "boolean"},
                                    "checks": {
                                        "type": "object",
                                        "required": ["postgres", "redis"],
                                        "properties": {
                                            "postgres": {"type": "string"},
                                            "redis": {"type": "string"},
                                        },
                                    },
                                },
                            }
                        }
                    },
                }
                for code, text in (
                    ("200", "Both dependencies answer."),
                    ("503", "A dependency failed; its check holds the reason."),
                )
            },
        }
    },
}


class MemorySerializer(serializers.Serializer):
    """One memory: a fact, written explicitly or extracted by enrichment."""

    id = serializers.UUIDField()
    user_id = serializers.CharField()
    kind = serializers.CharField()
    text = serializers.CharField(help_text="How the memory reads on its own.")
    content = serializers.CharField(allow_blank=True)
    rationale = serializers.CharField(allow_null=True)
    origin = serializers.ChoiceField(choices=["explicit", "extracted"])
    status = serializers.ChoiceField(choices=["current", "superseded", "contradicted"])
    predicate = serializers.CharField()
    subject = serializers.CharField()
    conversation_id = serializers.CharField(allow_null=True)
    metadata = serializers.DictField()
    confidence = serializers.FloatField()
    tier = serializers.CharField()
    valid_from = serializers.CharField()
    valid_to = serializers.CharField(allow_null=True)
    superseded_by_id = serializers.UUIDField(allow_null=True)
    source_event_id = serializers.UUIDField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()


class MemorySourceSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    source_text = serializers.CharField(allow_blank=True)
    event_time = serializers.CharField(allow_null=True)
    explicit = serializers.BooleanField(help_text="The backing event of an explicit write.")


class MemoryDetailSerializer(MemorySerializer):
    supersedes = MemorySerializer(many=True, help_text="The versions this one replaced.")
    superseded_by = MemorySerializer(allow_null=True, help_text="The version that replaced it.")
    sources = MemorySourceSerializer(many=True)


class MemoryListSerializer(serializers.Serializer):
    memories = MemorySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class MemoryDeleteResponseSerializer(serializers.Serializer):
    receipt_id = serializers.UUIDField()
    deleted_counts = DeletedCountsSerializer()


class SearchItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=["fact", "event", "episode"])
    text = serializers.CharField(allow_blank=True)
    kind = serializers.CharField()
    score = serializers.FloatField(help_text="Fused score; the first item is 1.0.")
    channels = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()


class SearchResponseSerializer(serializers.Serializer):
    items = SearchItemSerializer(many=True)


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Opaque; a key action's starts with `key-`.")
    at = serializers.CharField()
    action = serializers.CharField()
    endpoint = serializers.CharField(allow_blank=True)
    actor = serializers.CharField(allow_blank=True, help_text="Key prefix, or who acted on a key.")
    user_id = serializers.CharField(
        allow_null=True, help_text="forgotten:<hmac> after a whole-user forget."
    )
    counts = serializers.DictField()
    request_id = serializers.CharField(allow_null=True)


class AuditListSerializer(serializers.Serializer):
    entries = AuditEntrySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="As in the error envelope: invalid_request, ...")
    message = serializers.CharField()
    details = serializers.DictField(help_text="`line`: the file's line that was refused.")


class PortabilityJobSerializer(serializers.Serializer):
    """An export or import job (memory.portability_jobs)."""

    job_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=["export", "import"])
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Rows exported (events, facts, episodes, receipts) or added by the import "
        "(rows already there are not counted).",
    )
    error = JobErrorSerializer(allow_null=True, help_text="Why a failed job failed.")


class ExportJobSerializer(PortabilityJobSerializer):
    user_id = serializers.CharField(allow_null=True)
    download_available = serializers.BooleanField(
        help_text="False until it succeeded, and after a forget in the tenant dropped the file."
    )


class ImportJobSerializer(PortabilityJobSerializer):
    reembedded = serializers.BooleanField(
        allow_null=True, help_text="Vectors recomputed (the file's model differs from ours)."
    )


def contract_postprocess(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular hook: health probes, and request bodies that refuse unknown keys."""
    result["paths"] = {**_HEALTH_PATHS, **result.get("paths", {})}
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
