"""Verification of a tenant's forget receipts: every digest, signature and chain link, and
the chain against its signed head (memory.receipt_head) or a head saved by a third party.

Used by `manage.py verify_receipts` and the console's receipts page. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memory import receipts
from memory.forget import receipt_payload
from memory.models import DeletionReceipt, DeletionReceiptHead
from memory.receipt_head import receipt_head_document
from tenants.models import Tenant

# The fields of a head document that its head_digest covers (memory.receipt_head).
HEAD_FIELDS = ("tenant", "sequence", "receipt_id", "digest", "signed_at")


@dataclass(frozen=True)
class ReceiptCheck:
    receipt: DeletionReceipt
    digest_ok: bool
    signature_ok: bool
    chain_ok: bool

    @property
    def ok(self) -> bool:
        return self.digest_ok and self.signature_ok and self.chain_ok

    @property
    def problem(self) -> str:
        if not self.digest_ok:
            return "content does not match its digest (altered after signing)"
        if not self.signature_ok:
            return "signature does not verify with the public key"
        if not self.chain_ok:
            return "prev_digest does not match the previous receipt (chain broken)"
        return ""


def receipts_verify(*, tenant: Tenant, public_key: str | None = None) -> list[ReceiptCheck]:
    """Check every receipt of the tenant in chain order (oldest first)."""
    key = public_key or receipts.public_key_b64()
    checks: list[ReceiptCheck] = []
    previous_digest = ""
    expected_sequence = 1
    for receipt in DeletionReceipt.objects.filter(tenant=tenant).order_by("sequence"):
        recomputed = receipts.receipt_digest(receipt_payload(receipt))
        checks.append(
            ReceiptCheck(
                receipt=receipt,
                digest_ok=recomputed == receipt.digest,
                signature_ok=receipts.signature_valid(
                    digest=receipt.digest, signature=receipt.signature, public_key=key
                ),
                chain_ok=(
                    receipt.prev_digest == previous_digest and receipt.sequence == expected_sequence
                ),
            )
        )
        previous_digest = receipt.digest
        expected_sequence = receipt.sequence + 1
    return checks


def receipt_head_problem(
    *, tenant: Tenant, checks: list[ReceiptCheck], public_key: str | None = None
) -> str:
    """Why the tenant's signed head disagrees with its chain (`checks`, oldest first), or "".

    The head is what catches the removal of the newest receipts: the chain is intact up to
    its new end, but the head, which cannot be re-signed without the private key, is past it.
    """
    key = public_key or receipts.public_key_b64()
    head = DeletionReceiptHead.objects.filter(tenant=tenant).first()
    newest = checks[-1].receipt if checks else None
    if head is None:
        return (
            "the chain has receipts but no signed head (its head was deleted)"
            if newest is not None
            else ""
        )
    problem = _head_signature_problem(receipt_head_document(head), key)
    if problem:
        return problem
    length = newest.sequence if newest is not None else 0
    if head.sequence > length:
        return (
            f"the signed head is at sequence {head.sequence} but the chain ends at "
            f"{length}: the newest {head.sequence - length} receipt(s) were removed"
        )
    if head.sequence < length:
        return (
            f"the chain has receipts past its signed head (sequence {head.sequence}, "
            f"chain ends at {length}): added without the head, or the head was rolled back"
        )
    if newest is not None and head.digest != newest.digest:
        return (
            f"the newest receipt (sequence {length}) is not the one the signed head names "
            "(replaced after signing)"
        )
    return ""


def saved_head_problem(
    *, saved: dict[str, Any], checks: list[ReceiptCheck], public_key: str | None = None
) -> str:
    """Why the chain no longer holds a head saved earlier (its API document), or "".

    A saved head pins the chain: it must still hold at least `sequence` receipts, with
    the saved `digest` at that sequence.
    """
    key = public_key or receipts.public_key_b64()
    problem = _head_signature_problem(saved, key)
    if problem:
        return f"saved head: {problem}"
    sequence = int(saved["sequence"])
    if sequence == 0:
        return ""
    at = next((c.receipt for c in checks if c.receipt.sequence == sequence), None)
    if at is None:
        return (
            f"the chain no longer holds sequence {sequence} of the saved head: "
            "receipts were removed since it was saved"
        )
    if at.digest != saved["digest"]:
        return f"the receipt at sequence {sequence} differs from the saved head's digest"
    return ""


def _head_signature_problem(document: dict[str, Any], public_key: str) -> str:
    """A head document's digest and signature, checked as a third party would."""
    payload = {name: document.get(name) for name in HEAD_FIELDS}
    if receipts.receipt_digest(payload) != document.get("head_digest"):
        return "the head's content does not match its head_digest (altered after signing)"
    if not receipts.signature_valid(
        digest=str(document["head_digest"]),
        signature=str(document.get("signature", "")),
        public_key=public_key,
    ):
        return "the head's signature does not verify with the public key"
    return ""
