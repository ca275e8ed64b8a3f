"""Verification of a tenant's forget receipts: every digest, signature and chain link.

Used by `manage.py verify_receipts` and the console's receipts page. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass

from memory import receipts
from memory.forget import receipt_payload
from memory.models import DeletionReceipt
from tenants.models import Tenant


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
        checks.append(ReceiptCheck(
            receipt=receipt,
            digest_ok=recomputed == receipt.digest,
            signature_ok=receipts.signature_valid(digest=receipt.digest,
                                                  signature=receipt.signature, public_key=key),
            chain_ok=(receipt.prev_digest == previous_digest
                      and receipt.sequence == expected_sequence),
        ))
        previous_digest = receipt.digest
        expected_sequence = receipt.sequence + 1
    return checks
