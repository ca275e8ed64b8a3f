"""The v6 trio (API.md §3–§5): ingest needs a conversation, recall is fact-centred, forget is
the v1 forget. Thin views: validate, call the service, format."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import api_doc
from memory.api import schema, serializers
from memory.api.views import CachedRecallView, IngestView, json_rendered
from memory.recall.cache import CachedRecall
from memory.recall.v6 import memory_recall_v6


class IngestV6View(IngestView):
    require_conversation = True

    @api_doc(
        request=serializers.IngestSerializer,
        response=schema.IngestResponseSerializer,
        errors=(409,),
        summary="Store one event (conversation_id required)",
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class RecallV6View(CachedRecallView):
    cache_kind = "v6-json"

    @api_doc(
        request=serializers.RecallV6Serializer,
        response=schema.RecallV6ResponseSerializer,
        errors=(404,),  # an unknown document_id or collection_id (API.md §8)
        summary="Fact-centred recall with an LLM-ready context",
    )
    def post(self, request: Request) -> HttpResponse:
        return self.recall_post(request, serializers.RecallV6Serializer)

    def rendered(self, data: dict[str, Any]) -> CachedRecall:
        result = memory_recall_v6(tenant=self.tenant, **data)
        # Anchored on the server's clock, the answer returns that moment as reference_time.
        return CachedRecall(
            tokens=int(result.get("token_estimate") or 0),
            body=json_rendered(result),
            clock_dependent=result["llm_context"]["anchor_source"] == "server_now",
        )
