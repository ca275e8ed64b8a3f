"""The signed head of each tenant's forget-receipt chain: advance it, read it, render it.

The head's `head_digest` is SHA-256 over the canonical JSON (as in memory.receipts) of
`{"tenant", "sequence", "receipt_id", "digest", "signed_at"}`: the number of receipts, the
newest one's id and digest, and when the head was signed. `signature` is the base64 Ed25519
signature of `head_digest`'s hex string, with the receipts' key. Checking it against the
chain is in memory.receipt_chain.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from memory import receipts
from memory.models import DeletionReceipt, DeletionReceiptHead
from tenants.models import Tenant


def receipt_head_payload(head: DeletionReceiptHead) -> dict[str, Any]:
    """The canonical content a head's `head_digest` covers."""
    return {
        "tenant": str(head.tenant_id),
        "sequence": head.sequence,
        "receipt_id": str(head.receipt_id) if head.receipt_id else None,
        "digest": head.digest,
        "signed_at": head.signed_at.isoformat(),
    }


def _signed(head: DeletionReceiptHead) -> DeletionReceiptHead:
    head.head_digest = receipts.receipt_digest(receipt_head_payload(head))
    head.signature = receipts.sign(head.head_digest)
    head.key_id = receipts.key_id()
    return head


def receipt_head_advance(*, tenant: Tenant, receipt: DeletionReceipt) -> DeletionReceiptHead:
    """Point the tenant's head at `receipt`, just appended.

    Precondition: called inside the transaction that stored `receipt`, with the tenant row
    locked (memory.forget), so the head and the chain commit together or not at all.
    """
    head = _signed(
        DeletionReceiptHead(
            tenant=tenant,
            sequence=receipt.sequence,
            receipt_id=receipt.id,
            digest=receipt.digest,
            signed_at=timezone.now(),
        )
    )
    head.save()  # an UPDATE of the existing row, else an INSERT
    return head


def receipt_head_get(*, tenant: Tenant) -> DeletionReceiptHead:
    """The stored head; for a tenant without receipts, an empty head signed now."""
    head = DeletionReceiptHead.objects.filter(tenant=tenant).first()
    if head is not None:
        return head
    return _signed(
        DeletionReceiptHead(
            tenant=tenant, sequence=0, receipt_id=None, digest="", signed_at=timezone.now()
        )
    )


def receipt_head_document(head: DeletionReceiptHead) -> dict[str, Any]:
    """What the API publishes: the signed content plus its digest, signature and key id."""
    return {
        **receipt_head_payload(head),
        "head_digest": head.head_digest,
        "signature": head.signature,
        "key_id": head.key_id,
        "algorithm": receipts.ALGORITHM,
    }
