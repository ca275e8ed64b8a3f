"""The raw key format and its keyed hash.

Format: `ck_<8-char public prefix>_<43-char secret>` (the secret is 32 random bytes in
URL-safe base64: 256 bits). Keys are high-entropy, so a fast keyed hash (HMAC-SHA256
with a server pepper) is as safe as bcrypt here and costs microseconds per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from django.conf import settings

PREFIX_ALPHABET = string.ascii_lowercase + string.digits
PREFIX_LENGTH = 8
SECRET_LENGTH = 43
RAW_KEY_LENGTH = 3 + PREFIX_LENGTH + 1 + SECRET_LENGTH


def key_generate() -> tuple[str, str]:
    """A new (prefix, raw key)."""
    prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return prefix, f"ck_{prefix}_{secrets.token_urlsafe(32)}"


def key_parse_prefix(raw: str) -> str | None:
    """The public prefix of a well-formed raw key, else None."""
    if len(raw) != RAW_KEY_LENGTH or not raw.startswith("ck_") or raw[3 + PREFIX_LENGTH] != "_":
        return None
    prefix = raw[3 : 3 + PREFIX_LENGTH]
    if any(ch not in PREFIX_ALPHABET for ch in prefix):
        return None
    return prefix


def key_hash(raw: str) -> str:
    return hmac.new(settings.KEY_PEPPER.encode(), raw.encode(), hashlib.sha256).hexdigest()


def key_matches(raw: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(raw), stored_hash)
