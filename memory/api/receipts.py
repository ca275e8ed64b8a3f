"""Forget receipts (API.md §5): list, one receipt, the chain's signed head, and the public
key that verifies them.

A receipt's JSON carries every field its digest covers, verbatim, so a third party can
recompute the digest and check the signature without the database (README: "Verifying
forget receipts").
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from claiv.api import TenantScopedAPIView, api_doc
from keys.models import SCOPE_FORGET
from memory import receipts
from memory.api import schema, serializers
from memory.forget import receipt_payload
from memory.models import DeletionReceipt
from memory.receipt_head import receipt_head_document, receipt_head_get
from memory.selectors import receipt_get, receipt_list


def receipt_document(receipt: DeletionReceipt) -> dict[str, Any]:
    """The signed content (`receipt_payload`) plus digest, signature and key id."""
    return {
        **receipt_payload(receipt),
        "digest": receipt.digest,
        "signature": receipt.signature,
        "key_id": receipt.key_id,
        "algorithm": receipts.ALGORITHM,
    }


class ReceiptListView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    @api_doc(
        response=schema.ReceiptListSerializer,
        summary="Receipts, newest first",
        operation_id="v1_deletion_receipts_list",
        parameters=[serializers.ReceiptListQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        query = serializers.ReceiptListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page, total = receipt_list(
            tenant=self.tenant,
            user_id=params.get("user_id"),
            limit=params["limit"],
            offset=params["offset"],
        )
        return Response(
            {
                "receipts": [receipt_document(r) for r in page],
                "total": total,
                "limit": params["limit"],
                "offset": params["offset"],
            }
        )


class ReceiptDetailView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    @api_doc(
        response=schema.ReceiptSerializer,
        errors=(404,),
        summary="One receipt",
        parameters=[OpenApiParameter("receipt_id", str, OpenApiParameter.PATH)],
    )
    def get(self, request: Request, receipt_id: str) -> Response:
        return Response(receipt_document(receipt_get(tenant=self.tenant, receipt_id=receipt_id)))


class ReceiptPublicKeyView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    @api_doc(response=schema.PublicKeySerializer, summary="The key that verifies receipts")
    def get(self, request: Request) -> Response:
        return Response(
            {
                "key_id": receipts.key_id(),
                "algorithm": receipts.ALGORITHM,
                "public_key": receipts.public_key_b64(),
            }
        )


class ReceiptHeadView(TenantScopedAPIView):
    required_scope = SCOPE_FORGET

    @api_doc(
        response=schema.ReceiptHeadSerializer,
        summary="The chain's signed head: how many receipts, and the newest one's digest",
        description="Save it: later, the chain must still hold `sequence` receipts with "
        "`digest` at that sequence (README: Verifying forget receipts).",
    )
    def get(self, request: Request) -> Response:
        return Response(receipt_head_document(receipt_head_get(tenant=self.tenant)))
