"""Usage endpoints (API.md §6): thin wrappers over the `memory.usage` selectors."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, api_doc
from keys.models import SCOPE_READ
from memory.api import schema, serializers
from memory.usage import usage_breakdown, usage_limits, usage_summary


def _range(request: Request) -> str:
    query = serializers.UsageRangeQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return str(query.validated_data["range"])


class UsageSummaryView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(
        response=schema.UsageSummarySerializer,
        summary="Totals and daily usage",
        parameters=[serializers.UsageRangeQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        return Response(usage_summary(tenant=self.tenant, range=_range(request)))


class UsageBreakdownView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(
        response=schema.UsageBreakdownSerializer,
        summary="Usage per endpoint",
        parameters=[serializers.UsageRangeQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        return Response(usage_breakdown(tenant=self.tenant, range=_range(request)))


class UsageLimitsView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(response=schema.UsageLimitsSerializer, summary="Plan, billing cycle, quotas")
    def get(self, request: Request) -> Response:
        return Response(usage_limits(tenant=self.tenant))
