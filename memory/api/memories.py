"""Memories one by one (issue #17): add, list, get with history, correct, supersede,
delete with a signed receipt, and search. Thin views over memory.memories.

Scopes: writes memory:write, reads memory:read, delete memory:forget (it is a forget and
appends to the receipt chain). Another tenant's memory id answers 404 like a missing one.
"""

from __future__ import annotations

from typing import ClassVar, cast

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import HasScope, TenantScopedAPIView, api_doc, validated
from keys.models import SCOPE_FORGET, SCOPE_READ, SCOPE_WRITE, ApiKey
from memory import memories
from memory.api import schema, serializers
from memory.api.audit import audit_request

_MEMORY_ID = OpenApiParameter("memory_id", str, OpenApiParameter.PATH)


class MethodScopedView(TenantScopedAPIView):
    """One path, several methods, a scope per method (`method_scopes`)."""

    method_scopes: ClassVar[dict[str, str]] = {}

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)  # a key of this tenant, not rate limited
        required = self.method_scopes.get(request.method or "", SCOPE_WRITE)
        key = cast(ApiKey, request.auth)
        if required not in key.scopes:
            self.permission_denied(request, message=HasScope.message)


class MemoriesView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"POST": SCOPE_WRITE, "GET": SCOPE_READ}

    @api_doc(
        request=serializers.MemoryAddSerializer,
        response=schema.MemorySerializer,
        success=201,
        summary="Store one explicit memory, recallable at once",
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.MemoryAddSerializer, request.data)
        fact = memories.memory_add(tenant=self.tenant, **data)
        audit_request(request, action="memory_add", user_id=fact.user_id, counts={"memories": 1})
        return Response(memories.memory_as_dict(fact), status=201)

    @api_doc(
        response=schema.MemoryListSerializer,
        summary="A user's memories, newest first, by cursor",
        parameters=[serializers.MemoryListQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        query = serializers.MemoryListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, cursor = memories.memory_list(tenant=self.tenant, **query.validated_data)
        return Response(
            {"memories": [memories.memory_as_dict(f) for f in page], "next_cursor": cursor}
        )


class MemoryDetailView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {
        "GET": SCOPE_READ,
        "PATCH": SCOPE_WRITE,
        "DELETE": SCOPE_FORGET,
    }

    @api_doc(
        response=schema.MemoryDetailSerializer,
        errors=(404,),
        summary="One memory with its history and sources",
        parameters=[_MEMORY_ID],
    )
    def get(self, request: Request, memory_id: str) -> Response:
        return Response(memories.memory_get(tenant=self.tenant, memory_id=memory_id))

    @api_doc(
        request=serializers.MemoryCorrectSerializer,
        response=schema.MemorySerializer,
        errors=(404,),
        parameters=[_MEMORY_ID],
        summary="Correct a memory: a new current version; the old one stays in history",
    )
    def patch(self, request: Request, memory_id: str) -> Response:
        data = validated(serializers.MemoryCorrectSerializer, request.data)
        fact = memories.memory_correct(tenant=self.tenant, memory_id=memory_id, **data)
        audit_request(
            request, action="memory_correct", user_id=fact.user_id, counts={"memories": 1}
        )
        return Response(memories.memory_as_dict(fact))

    @api_doc(
        response=schema.MemoryDeleteResponseSerializer,
        errors=(404,),
        parameters=[_MEMORY_ID],
        summary="Delete a memory with its history; signed receipt, as forget",
    )
    def delete(self, request: Request, memory_id: str) -> Response:
        receipt = memories.memory_delete(tenant=self.tenant, memory_id=memory_id)
        audit_request(
            request, action="memory_delete", user_id=receipt.user_id, counts=receipt.deleted_counts
        )
        return Response({"receipt_id": str(receipt.id), "deleted_counts": receipt.deleted_counts})


class MemorySupersedeView(TenantScopedAPIView):
    required_scope = SCOPE_WRITE

    @api_doc(
        request=serializers.MemorySupersedeSerializer,
        response=schema.MemorySerializer,
        errors=(404,),
        parameters=[_MEMORY_ID],
        summary="Supersede a memory by new content or by another memory",
    )
    def post(self, request: Request, memory_id: str) -> Response:
        data = validated(serializers.MemorySupersedeSerializer, request.data)
        fact = memories.memory_supersede(tenant=self.tenant, memory_id=memory_id, **data)
        audit_request(
            request, action="memory_supersede", user_id=fact.user_id, counts={"memories": 1}
        )
        return Response(memories.memory_as_dict(fact))


class SearchView(TenantScopedAPIView):
    required_scope = SCOPE_READ

    @api_doc(
        request=serializers.SearchSerializer,
        response=schema.SearchResponseSerializer,
        summary="The ranked items of recall without packing, with scores and channels",
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.SearchSerializer, request.data)
        return Response({"items": memories.memory_search(tenant=self.tenant, **data)})
