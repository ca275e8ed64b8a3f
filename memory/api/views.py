"""The memory API: thin views that validate, call one service or selector, and format."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, validated
from keys.models import SCOPE_FORGET, SCOPE_READ, SCOPE_WRITE
from memory.api import serializers
from memory.forget import ForgetScope, memory_forget
from memory.ingest import event_ingest
from memory.recall.engine import memory_recall
from memory.selectors import event_get, event_fact_ids


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class IngestView(TenantScopedAPIView):
    required_scope = SCOPE_WRITE
    require_conversation = False

    def post(self, request: Request) -> Response:
        data = validated(serializers.IngestSerializer, request.data,
                         require_conversation=self.require_conversation)
        result = event_ingest(tenant=self.tenant, **data)
        return Response({"event_id": str(result.event.id), "deduped": result.deduped})


class EventDetailView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    def get(self, request: Request, event_id: str) -> Response:
        event = event_get(tenant=self.tenant, event_id=event_id)
        return Response({
            "event_id": str(event.id), "user_id": event.user_id,
            "conversation_id": event.conversation_id or None, "type": event.type,
            "role": event.role or None, "content": event.content,
            "event_time": _iso(event.event_time), "metadata": event.metadata,
            "project_id": event.project_id or None, "scope": event.scope,
            "created_at": _iso(event.created_at), "status": event.status,
            "stage": event.stage or None,
            "fact_ids": [str(i) for i in event_fact_ids(tenant=self.tenant, event=event)],
            "error": event.error,
        })


class RecallV1View(TenantScopedAPIView):
    required_scope = SCOPE_READ

    def post(self, request: Request) -> Response:
        data = validated(serializers.RecallV1Serializer, request.data)
        result = memory_recall(tenant=self.tenant, user_id=data["user_id"], query=data["task"],
                               token_budget=data["token_budget"],
                               conversation_id=data.get("conversation_id"),
                               min_confidence=data.get("min_confidence"))
        return Response({
            "system_context": result.system_context,
            "memory_blocks": [
                {"type": b.type, "content": b.content, "source_ids": b.source_ids,
                 "score": b.score, "tier": b.tier, "event_time": _iso(b.event_time)}
                for b in result.blocks
            ],
            "citations": result.citations,
            "token_estimate": result.token_estimate,
        })


class ForgetView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    def post(self, request: Request) -> Response:
        data = validated(serializers.ForgetSerializer, request.data)
        receipt = memory_forget(tenant=self.tenant, scope=ForgetScope(**data))
        return Response({"receipt_id": str(receipt.id), "deleted_counts": receipt.deleted_counts})
