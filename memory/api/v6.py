"""The v6 trio (API.md §3–§5): ingest needs a conversation, recall is fact-centred, forget is
the v1 forget. Thin views: validate, call the service, format."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, api_doc, meter, validated
from keys.models import SCOPE_READ
from memory.api import schema, serializers
from memory.api.views import IngestView
from memory.recall.v6 import memory_recall_v6


class IngestV6View(IngestView):
    require_conversation = True

    @api_doc(request=serializers.IngestSerializer, response=schema.IngestResponseSerializer,
             errors=(409,), summary="Store one event (conversation_id required)")
    def post(self, request: Request) -> Response:
        return super().post(request)


class RecallV6View(TenantScopedAPIView):
    required_scope = SCOPE_READ
    quota_metrics = ("requests", "tokens")

    @api_doc(request=serializers.RecallV6Serializer, response=schema.RecallV6ResponseSerializer,
             summary="Fact-centred recall with an LLM-ready context")
    def post(self, request: Request) -> Response:
        data = validated(serializers.RecallV6Serializer, request.data)
        result = memory_recall_v6(tenant=self.tenant, **data)
        meter(request, tokens=int(result.get("token_estimate") or 0))
        return Response(result)
