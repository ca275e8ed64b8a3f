"""POST /v1/ingest/batch: up to 500 events, each validated and stored on its own.

A bad item gets the error envelope in its slot; the other items are still stored. Each
item runs through the same serializer and service as POST /v1/ingest.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, api_doc, meter, validated
from claiv.errors import exception_envelope, request_id_of
from enrichment.services import event_ingest_and_enqueue
from keys.models import SCOPE_WRITE
from memory.api import schema, serializers
from memory.api.audit import audit_request


class BatchIngestView(TenantScopedAPIView):
    required_scope = SCOPE_WRITE
    quota_metrics = ("requests", "ingest_events", "work_units")

    @api_doc(request=serializers.BatchIngestSerializer,
             response=schema.BatchIngestResponseSerializer,
             summary="Store 1–500 events; per-item results in input order")
    def post(self, request: Request) -> Response:
        items = validated(serializers.BatchIngestSerializer, request.data)["events"]
        request_id = request_id_of(request)
        results: list[dict[str, Any]] = []
        stored = 0
        for item in items:
            try:
                data = validated(serializers.IngestSerializer, item)
                outcome = event_ingest_and_enqueue(tenant=self.tenant, **data)
            except Exception as exc:  # noqa: BLE001 - any failure stays in its own slot
                _status, body, _headers = exception_envelope(exc, request_id)
                results.append(body)
                continue
            stored += 0 if outcome.deduped else 1
            results.append({"event_id": str(outcome.event.id), "deduped": outcome.deduped})
        meter(request, ingest_events=stored)
        audit_request(request, action="ingest_batch",
                     counts={"events": len(items), "stored": stored})
        return Response({"results": results})
