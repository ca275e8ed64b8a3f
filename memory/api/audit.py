"""GET /v1/audit: the tenant's audit trail, newest first, by cursor (memory.audit).

Scope memory:forget, as for deletion receipts: the trail says who read and changed whose
memory, which a read-only key should not see.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, api_doc
from keys.models import SCOPE_FORGET
from memory.api import schema, serializers
from memory.audit import audit_as_dict, audit_list


class AuditListView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    @api_doc(response=schema.AuditListSerializer, summary="The audit trail, newest first",
             parameters=[serializers.AuditQuerySerializer])
    def get(self, request: Request) -> Response:
        query = serializers.AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, cursor = audit_list(tenant=self.tenant, **query.validated_data)
        return Response({"entries": [audit_as_dict(e) for e in page], "next_cursor": cursor})
