"""Documents and collections (API.md §8, what the official SDK 0.6.4 sends and expects).
Thin views over memory.documents; the distil stage is sent through enrichment.documents.

Scopes: upload and collection changes memory:write, reads memory:read, deleting a document
memory:forget (it is a forget with a signed receipt). Another tenant's ids are 404.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import StrictCharField, StrictSerializer, api_doc, validated
from enrichment.documents import distil_enqueue
from keys.models import SCOPE_FORGET, SCOPE_READ, SCOPE_WRITE
from memory.api.audit import audit_request
from memory.api.memories import MethodScopedView
from memory.documents import selectors, store
from memory.forget import ForgetScope, memory_forget


def _opaque_id(**kwargs: Any) -> StrictCharField:
    return StrictCharField(min_length=1, max_length=255, trim_whitespace=False, **kwargs)


# --- Request shapes -------------------------------------------------------------------------


class DocumentUploadSerializer(StrictSerializer):
    user_id = _opaque_id()
    # Any length up to the 1 MiB body limit (checked by the middleware): not the event limit.
    content = StrictCharField(trim_whitespace=False)
    document_name = StrictCharField(min_length=1, max_length=1000)
    project_id = _opaque_id()
    document_id = _opaque_id(required=False, allow_null=True)
    collection_id = _opaque_id(required=False, allow_null=True)
    position = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=1_000_000
    )
    # V6.3 fields, accepted (API.md §8 Decision): chunk size and overlap are honoured, in tokens.
    chunk_size = serializers.IntegerField(
        required=False, allow_null=True, min_value=50, max_value=2000
    )
    chunk_overlap = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=1000
    )
    scope = serializers.ChoiceField(
        choices=["global", "project", "conversation"],
        required=False,
        allow_null=True,
        help_text="Accepted for V6.3 clients; documents are visible to their user.",
    )
    conversation_id = _opaque_id(
        required=False, allow_null=True, help_text="Accepted for V6.3 clients; ignored."
    )

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("content must not be empty.")
        return value


class DocumentListQuerySerializer(serializers.Serializer):
    user_id = serializers.CharField(min_length=1, max_length=255, trim_whitespace=False)
    project_id = serializers.CharField(
        min_length=1, max_length=255, required=False, trim_whitespace=False
    )
    collection_id = serializers.CharField(
        min_length=1, max_length=255, required=False, trim_whitespace=False
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)


class CollectionCreateSerializer(StrictSerializer):
    user_id = _opaque_id()
    project_id = _opaque_id()
    name = StrictCharField(min_length=1, max_length=1000)
    ordered = serializers.BooleanField(required=False, default=False)
    collection_id = _opaque_id(required=False, allow_null=True)


class CollectionListQuerySerializer(serializers.Serializer):
    user_id = serializers.CharField(min_length=1, max_length=255, trim_whitespace=False)
    project_id = serializers.CharField(
        min_length=1, max_length=255, required=False, trim_whitespace=False
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)


class UserQuerySerializer(serializers.Serializer):
    user_id = serializers.CharField(min_length=1, max_length=255, trim_whitespace=False)


class OptionalUserQuerySerializer(serializers.Serializer):
    user_id = serializers.CharField(
        min_length=1, max_length=255, required=False, trim_whitespace=False
    )


class CollectionAddSerializer(StrictSerializer):
    document_id = _opaque_id()
    user_id = _opaque_id()
    position = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=1_000_000
    )


# --- Response shapes (OpenAPI only) ---------------------------------------------------------


class SectionSerializer(serializers.Serializer):
    node_id = serializers.UUIDField()
    title = serializers.CharField(allow_null=True)


class DocumentUploadResponseSerializer(serializers.Serializer):
    document_id = serializers.CharField()
    document_name = serializers.CharField()
    project_id = serializers.CharField()
    collection_id = serializers.CharField(allow_null=True)
    sections = SectionSerializer(many=True)
    spans_created = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["processing"])


class DocumentStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["processing", "ready", "error"])
    spans_created = serializers.IntegerField()
    error_message = serializers.CharField(allow_null=True)


class DocumentStatusResponseSerializer(DocumentStatusSerializer):
    document_id = serializers.CharField()


class DocumentItemSerializer(serializers.Serializer):
    document_id = serializers.CharField()
    document_name = serializers.CharField()
    project_id = serializers.CharField(allow_blank=True)
    user_id = serializers.CharField()
    byte_size = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    collection_ids = serializers.ListField(child=serializers.CharField())
    document_status = DocumentStatusSerializer()


class DocumentListResponseSerializer(serializers.Serializer):
    documents = DocumentItemSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class DocumentDeleteResponseSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()
    document_id = serializers.CharField()
    receipt_id = serializers.UUIDField()


class CollectionRowSerializer(serializers.Serializer):
    collection_id = serializers.CharField()
    tenant_id = serializers.CharField()
    user_id = serializers.CharField()
    project_id = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    ordered = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    document_count = serializers.IntegerField()


class CollectionResponseSerializer(serializers.Serializer):
    collection = CollectionRowSerializer()


class CollectionListResponseSerializer(serializers.Serializer):
    collections = CollectionRowSerializer(many=True)


class CollectionDocumentSerializer(serializers.Serializer):
    document_id = serializers.CharField()
    document_name = serializers.CharField()
    position = serializers.IntegerField(allow_null=True)
    added_at = serializers.DateTimeField()


class CollectionGetResponseSerializer(serializers.Serializer):
    collection = CollectionRowSerializer()
    documents = CollectionDocumentSerializer(many=True)


class CollectionDeleteResponseSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()
    collection_id = serializers.CharField()


class CollectionAddResponseSerializer(serializers.Serializer):
    added = serializers.BooleanField()
    collection_id = serializers.CharField()
    document_id = serializers.CharField()


class CollectionRemoveResponseSerializer(serializers.Serializer):
    removed = serializers.BooleanField()
    collection_id = serializers.CharField()
    document_id = serializers.CharField()


_DOCUMENT_ID = OpenApiParameter("document_id", str, OpenApiParameter.PATH)
_COLLECTION_ID = OpenApiParameter("collection_id", str, OpenApiParameter.PATH)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


# --- Views ----------------------------------------------------------------------------------


class DocumentsView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"POST": SCOPE_WRITE, "GET": SCOPE_READ}
    quota_metrics = ("requests",)

    @api_doc(
        request=DocumentUploadSerializer,
        response=DocumentUploadResponseSerializer,
        errors=(404, 409),
        summary="Upload (or replace) a document: sections and embedded spans at once, "
        "distillations in the background",
    )
    def post(self, request: Request) -> Response:
        data = validated(DocumentUploadSerializer, request.data)
        result = store.document_upload(
            tenant=self.tenant,
            user_id=data["user_id"],
            project_id=data["project_id"],
            name=data["document_name"],
            content=data["content"],
            document_id=data.get("document_id"),
            collection_id=data.get("collection_id"),
            position=data.get("position"),
            chunk_tokens=data.get("chunk_size"),
            overlap_tokens=data.get("chunk_overlap"),
        )
        distil_enqueue(result.document)
        audit_request(
            request,
            action="document_upload",
            user_id=data["user_id"],
            counts={"spans": result.document.spans_created},
        )
        return Response(
            {
                "document_id": result.document.external_id,
                "document_name": result.document.name,
                "project_id": result.document.project_id,
                "collection_id": result.collection.external_id if result.collection else None,
                "sections": selectors.section_items(result.sections),
                "spans_created": result.document.spans_created,
                "status": "processing",
            }
        )

    @api_doc(
        response=DocumentListResponseSerializer,
        summary="A user's documents, newest first",
        parameters=[DocumentListQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        query = _query(DocumentListQuerySerializer, request)
        items, total = selectors.document_page(tenant=self.tenant, **query)
        return Response(
            {"documents": items, "total": total, "limit": query["limit"], "offset": query["offset"]}
        )


class DocumentDetailView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"DELETE": SCOPE_FORGET}

    @api_doc(
        response=DocumentDeleteResponseSerializer,
        errors=(404,),
        summary="Delete a document with its spans, distillations, memberships and tagged "
        "facts; signed receipt",
        parameters=[_DOCUMENT_ID],
    )
    def delete(self, request: Request, document_id: str) -> Response:
        document = store.document_of_tenant(tenant=self.tenant, document_id=document_id)
        receipt = memory_forget(
            tenant=self.tenant,
            scope=ForgetScope(user_id=document.user_id, document_id=document_id),
        )
        audit_request(
            request, action="forget", user_id=document.user_id, counts=receipt.deleted_counts
        )
        return Response(
            {"deleted": True, "document_id": document_id, "receipt_id": str(receipt.id)}
        )


class DocumentStatusView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"GET": SCOPE_READ}

    @api_doc(
        response=DocumentStatusResponseSerializer,
        errors=(404,),
        summary="A document's processing status",
        parameters=[_DOCUMENT_ID],
    )
    def get(self, request: Request, document_id: str) -> Response:
        document = store.document_of_tenant(tenant=self.tenant, document_id=document_id)
        return Response({"document_id": document_id, **selectors.document_status(document)})


class CollectionsView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"POST": SCOPE_WRITE, "GET": SCOPE_READ}

    @api_doc(
        request=CollectionCreateSerializer,
        response=CollectionResponseSerializer,
        errors=(409,),
        summary="Create a collection (the same collection_id again updates it)",
    )
    def post(self, request: Request) -> Response:
        data = validated(CollectionCreateSerializer, request.data)
        collection = store.collection_create(tenant=self.tenant, **data)
        return Response({"collection": selectors.collection_row(collection)})

    @api_doc(
        response=CollectionListResponseSerializer,
        summary="A user's collections",
        parameters=[CollectionListQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        query = _query(CollectionListQuerySerializer, request)
        return Response({"collections": selectors.collection_list(tenant=self.tenant, **query)})


class CollectionDetailView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"GET": SCOPE_READ, "DELETE": SCOPE_WRITE}

    @api_doc(
        response=CollectionGetResponseSerializer,
        errors=(404,),
        summary="A collection with its documents in collection order",
        parameters=[_COLLECTION_ID, UserQuerySerializer],
    )
    def get(self, request: Request, collection_id: str) -> Response:
        query = _query(UserQuerySerializer, request)
        collection = store.collection_get(
            tenant=self.tenant, user_id=query["user_id"], collection_id=collection_id
        )
        return Response(
            {
                "collection": selectors.collection_row(collection),
                "documents": selectors.collection_documents(collection),
            }
        )

    @api_doc(
        response=CollectionDeleteResponseSerializer,
        errors=(404,),
        summary="Delete a collection (its documents stay)",
        parameters=[_COLLECTION_ID, OptionalUserQuerySerializer],
    )
    def delete(self, request: Request, collection_id: str) -> Response:
        query = _query(OptionalUserQuerySerializer, request)
        store.collection_delete(
            tenant=self.tenant, user_id=query.get("user_id"), collection_id=collection_id
        )
        return Response({"deleted": True, "collection_id": collection_id})


class CollectionDocumentsView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"POST": SCOPE_WRITE}

    @api_doc(
        request=CollectionAddSerializer,
        response=CollectionAddResponseSerializer,
        errors=(404,),
        summary="Add a document to a collection (at a position when given)",
        parameters=[_COLLECTION_ID],
    )
    def post(self, request: Request, collection_id: str) -> Response:
        data = validated(CollectionAddSerializer, request.data)
        store.collection_add(tenant=self.tenant, collection_id=collection_id, **data)
        return Response(
            {"added": True, "collection_id": collection_id, "document_id": data["document_id"]}
        )


class CollectionDocumentView(MethodScopedView):
    method_scopes: ClassVar[dict[str, str]] = {"DELETE": SCOPE_WRITE}

    @api_doc(
        response=CollectionRemoveResponseSerializer,
        errors=(404,),
        summary="Take a document out of a collection (the document stays)",
        parameters=[_COLLECTION_ID, _DOCUMENT_ID],
    )
    def delete(self, request: Request, collection_id: str, document_id: str) -> Response:
        store.collection_remove(
            tenant=self.tenant, collection_id=collection_id, document_id=document_id
        )
        return Response(
            {"removed": True, "collection_id": collection_id, "document_id": document_id}
        )
