"""POST /v1/ingest/batch: up to 500 events, validated one by one, stored in one transaction.

A bad item gets the error envelope in its slot; the other items are still stored. Each
item is validated as POST /v1/ingest validates it (`memory.api.ingest_items` for a valid
item, the same serializer otherwise, so a bad item's error is the same) and stored by the
same rules
(`enrichment.services.events_ingest_and_enqueue`: one transaction, one duplicate check,
one publish for the whole batch).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import ItemValidator, TenantScopedAPIView, api_doc, meter, validated
from claiv.errors import exception_envelope, request_id_of
from enrichment.services import events_ingest_and_enqueue
from keys.models import SCOPE_WRITE
from memory.api import schema, serializers
from memory.api.audit import audit_request
from memory.api.ingest_items import ingest_item_fast
from memory.ingest import IngestResult


class BatchIngestView(TenantScopedAPIView):
    required_scope = SCOPE_WRITE
    quota_metrics = ("requests", "ingest_events", "work_units")

    @api_doc(
        request=serializers.BatchIngestSerializer,
        response=schema.BatchIngestResponseSerializer,
        summary="Store 1–500 events; per-item results in input order",
    )
    def post(self, request: Request) -> Response:
        items = validated(serializers.BatchIngestSerializer, request.data)["events"]
        request_id = request_id_of(request)
        slots: list[dict[str, Any] | None] = []  # None: valid, its result comes below
        valid: list[dict[str, Any]] = []
        item_validated = ItemValidator(serializers.IngestSerializer)
        for item in items:
            try:
                # An item's document_id tags its event inside the batch's transaction.
                # The shortcut answers for valid items; any other goes to the serializer,
                # whose error the slot gets.
                fast = ingest_item_fast(item)
                valid.append(fast if fast is not None else item_validated(item))
            except Exception as exc:  # noqa: BLE001 - any failure stays in its own slot
                slots.append(exception_envelope(exc, request_id)[1])
                continue
            slots.append(None)
        outcomes = iter(events_ingest_and_enqueue(tenant=self.tenant, items=valid))
        results: list[dict[str, Any]] = []
        stored = 0
        for slot in slots:
            if slot is not None:
                results.append(slot)
                continue
            outcome = next(outcomes)
            if isinstance(outcome, IngestResult):
                stored += 0 if outcome.deduped else 1
                results.append({"event_id": str(outcome.event.id), "deduped": outcome.deduped})
            else:
                results.append(exception_envelope(outcome, request_id)[1])
        meter(request, ingest_events=stored)
        audit_request(
            request, action="ingest_batch", counts={"events": len(items), "stored": stored}
        )
        return Response({"results": results})
