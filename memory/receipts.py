"""Forget receipts: canonical digest, hash chain and Ed25519 signature.

A receipt's `digest` is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of:
`{"tenant", "receipt_id", "sequence", "user_id", "scope", "deleted_counts",
"deleted_ids_digest", "requested_at", "completed_at", "prev_digest"}`, where
`deleted_ids_digest` is SHA-256 over the sorted deleted row ids joined by "\\n".
`signature` is the base64 Ed25519 signature of the digest's hex string (ASCII).
Anyone with the public key can recompute the digest from the receipt and check the chain
(`prev_digest` equals the previous receipt's `digest`, "" for the first).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

ALGORITHM = "Ed25519"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def ids_digest(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def receipt_digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


@lru_cache(maxsize=4)
def _private_key(material: str, secret_key: str) -> Ed25519PrivateKey:
    if material:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(material))
    # Development and tests only (production refuses to boot without a key): a stable key
    # derived from SECRET_KEY, so receipts stay verifiable across restarts.
    seed = hashlib.sha256(b"claiv-receipts\x00" + secret_key.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey:
    return _private_key(settings.RECEIPT_SIGNING_KEY, settings.SECRET_KEY)


def public_key_b64(key: Ed25519PublicKey | None = None) -> str:
    public = key or signing_key().public_key()
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def key_id(key: Ed25519PublicKey | None = None) -> str:
    raw = base64.b64decode(public_key_b64(key))
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(digest: str) -> str:
    return base64.b64encode(signing_key().sign(digest.encode())).decode()


def signature_valid(*, digest: str, signature: str, public_key: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        key.verify(base64.b64decode(signature), digest.encode())
        return True
    except (InvalidSignature, ValueError):
        return False


def generate_signing_key() -> str:
    """A new private key as base64 of its 32-byte seed (for CLAIV_RECEIPT_SIGNING_KEY)."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class ChainBreak:
    receipt_id: str
    sequence: int
    reason: str
