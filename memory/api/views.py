"""The memory API: thin views that validate, call one service or selector, and format."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from claiv.api import StrictSerializer, TenantScopedAPIView, api_doc, meter, validated
from enrichment.services import event_ingest_and_enqueue
from keys.models import SCOPE_FORGET, SCOPE_READ, SCOPE_WRITE
from memory.api import schema, serializers
from memory.api.audit import audit_request
from memory.api.ingest_items import ingest_item_fast
from memory.audit import audit_user_forget
from memory.forget import ForgetScope, memory_forget
from memory.recall.cache import CachedRecall, recall_cached
from memory.recall.engine import RecallResult, memory_recall
from memory.selectors import event_fact_ids, event_get


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def json_rendered(body: dict[str, Any]) -> bytes:
    """The bytes DRF's JSONRenderer would send for `body` (compact, UTF-8, no NaN)."""
    return json.dumps(
        body, cls=JSONEncoder, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()


class CachedRecallView(TenantScopedAPIView):
    """A recall endpoint whose answers go through the recall cache (memory.recall.cache)
    as the JSON bytes DRF would render: a hit neither retrieves nor renders ~20-40 KB of
    JSON again. Server-Timing (W3C) tells hits from misses; RequestIdMiddleware adds the
    server's duration."""

    required_scope = SCOPE_READ
    quota_metrics = ("requests", "tokens")
    cache_kind: ClassVar[str]  # names the response format: endpoints never share entries

    def recall_post(
        self, request: Request, serializer_class: type[StrictSerializer]
    ) -> HttpResponse:
        data = validated(serializer_class, request.data)
        cached, hit = recall_cached(
            tenant_id=self.tenant.pk,
            user_id=data["user_id"],
            kind=self.cache_kind,
            request=data,
            compute=lambda: self.rendered(data),
            # UsageMiddleware's end-of-request pipeline (None without it: written here).
            defer=getattr(request._request, "redis_deferred", None),
        )
        meter(request, tokens=cached.tokens)
        audit_request(
            request,
            action="recall",
            user_id=data["user_id"],
            counts={"tokens": cached.tokens, "cache_hit": int(hit)},
        )
        response = HttpResponse(cached.body, content_type="application/json")
        response["Server-Timing"] = "cache;desc=hit" if hit else "cache;desc=miss"
        return response

    def rendered(self, data: dict[str, Any]) -> CachedRecall:
        """Compute the answer to validated `data`."""
        raise NotImplementedError


class IngestView(TenantScopedAPIView):
    required_scope = SCOPE_WRITE
    require_conversation = False
    quota_metrics = ("requests", "ingest_events", "work_units")

    @api_doc(
        request=serializers.IngestSerializer,
        response=schema.IngestResponseSerializer,
        errors=(409,),
        summary="Store one event",
    )
    def post(self, request: Request) -> Response:
        # The serializer's answer without running it for a valid body; any other body goes
        # to the serializer, whose error the client gets (memory.api.ingest_items).
        data = ingest_item_fast(request.data, require_conversation=self.require_conversation)
        if data is None:
            data = validated(
                serializers.IngestSerializer,
                request.data,
                require_conversation=self.require_conversation,
            )
        # A document_id in `data` tags the event in the ingest's own transaction.
        result = event_ingest_and_enqueue(tenant=self.tenant, **data)
        meter(request, ingest_events=0 if result.deduped else 1)
        audit_request(
            request,
            action="ingest",
            user_id=data["user_id"],
            counts={"events": 0 if result.deduped else 1},
        )
        return Response({"event_id": str(result.event.id), "deduped": result.deduped})


class EventDetailView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(
        response=schema.EventDetailSerializer,
        errors=(404,),
        summary="An event and its enrichment state",
        parameters=[OpenApiParameter("event_id", str, OpenApiParameter.PATH)],
    )
    def get(self, request: Request, event_id: str) -> Response:
        event = event_get(tenant=self.tenant, event_id=event_id)
        return Response(
            {
                "event_id": str(event.id),
                "user_id": event.user_id,
                "conversation_id": event.conversation_id or None,
                "type": event.type,
                "role": event.role or None,
                "content": event.content,
                "event_time": _iso(event.event_time),
                "metadata": event.metadata,
                "project_id": event.project_id or None,
                "scope": event.scope,
                "created_at": _iso(event.created_at),
                "status": event.status,
                "stage": event.stage or None,
                "fact_ids": [str(i) for i in event_fact_ids(tenant=self.tenant, event=event)],
                "error": event.error,
            }
        )


class RecallV1View(CachedRecallView):
    cache_kind = "v1-json"

    @api_doc(
        request=serializers.RecallV1Serializer,
        response=schema.RecallV1ResponseSerializer,
        summary="Token-budgeted recall",
    )
    def post(self, request: Request) -> HttpResponse:
        return self.recall_post(request, serializers.RecallV1Serializer)

    def rendered(self, data: dict[str, Any]) -> CachedRecall:
        result = memory_recall(
            tenant=self.tenant,
            user_id=data["user_id"],
            query=data["task"],
            token_budget=data["token_budget"],
            conversation_id=data.get("conversation_id"),
            min_confidence=data.get("min_confidence"),
        )
        return CachedRecall(
            tokens=result.token_estimate,
            body=json_rendered(self._body(result)),
            clock_dependent=result.clock_dependent,
        )

    def _body(self, result: RecallResult) -> dict[str, Any]:
        return {
            "system_context": result.system_context,
            "memory_blocks": [
                {
                    "type": b.type,
                    "content": b.content,
                    "source_ids": b.source_ids,
                    "score": b.score,
                    "tier": b.tier,
                    "event_time": _iso(b.event_time),
                }
                for b in result.blocks
            ],
            "citations": result.citations,
            "token_estimate": result.token_estimate,
        }


class ForgetView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    @api_doc(
        request=serializers.ForgetSerializer,
        response=schema.ForgetResponseSerializer,
        summary="Forget everything derived from matching events; signed receipt",
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.ForgetSerializer, request.data)
        receipt = memory_forget(tenant=self.tenant, scope=ForgetScope(**data))
        audit_request(
            request, action="forget", user_id=data["user_id"], counts=receipt.deleted_counts
        )
        if set(data) <= {"user_id", "erase_events"}:  # the whole user: no id stays
            audit_user_forget(tenant=self.tenant, user_id=data["user_id"])
        return Response({"receipt_id": str(receipt.id), "deleted_counts": receipt.deleted_counts})
