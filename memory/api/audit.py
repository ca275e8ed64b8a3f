"""GET /v1/audit: the tenant's audit trail, newest first, by cursor (memory.audit).

Scope memory:forget, as for deletion receipts: the trail says who read and changed whose
memory, which a read-only key should not see.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, api_doc
from claiv.errors import request_id_of
from keys.models import SCOPE_FORGET, ApiKey
from memory.api import schema, serializers
from memory.audit import audit_as_dict, audit_list, audit_record

# The hot paths' entries wait for the usage count's round trip: nothing later in the same
# request reads the trail (a whole-user forget flushes and rewrites it, so its entry must
# be in the buffer first: written at once).
DEFERRED_ACTIONS = frozenset({"ingest", "ingest_batch", "recall"})


def audit_request(
    request: Request, *, action: str, user_id: str = "", counts: dict[str, int] | None = None
) -> None:
    """`memory.audit.audit_record` for the request's key, method, path and request id."""
    key: ApiKey = request.auth
    raw = request._request
    audit_record(
        key=key,
        action=action,
        endpoint=f"{raw.method} {raw.path}",
        request_id=request_id_of(raw),
        user_id=user_id,
        counts=counts,
        # Pushed by claiv.middleware.UsageMiddleware with the request's usage count, in
        # one round trip, before the response leaves; None without that middleware.
        defer_to=getattr(raw, "audit_deferred", None) if action in DEFERRED_ACTIONS else None,
    )


class AuditListView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    @api_doc(
        response=schema.AuditListSerializer,
        summary="The audit trail, newest first",
        parameters=[serializers.AuditQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        query = serializers.AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, cursor = audit_list(tenant=self.tenant, **query.validated_data)
        return Response({"entries": [audit_as_dict(e) for e in page], "next_cursor": cursor})
