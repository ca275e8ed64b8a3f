"""Encryption at rest for secrets stored from the console (e.g. a backend API key).

Fernet (AES-128-CBC + HMAC-SHA256) with `CLAIV_CONSOLE_ENCRYPTION_KEY`; production refuses
to boot without that key, elsewhere it is derived from SECRET_KEY (see settings).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    return Fernet(settings.CLAIV_CONSOLE_ENCRYPTION_KEY)


def secret_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def secret_decrypt(token: str) -> str | None:
    """The plaintext, or None when the token was made with another key or was altered."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def secret_mask(plain: str) -> str:
    """What the console shows of a stored secret: its recognisable start only."""
    if plain.startswith("ck_") and len(plain) > 12:
        return f"{plain[:12]}…"  # ck_ + the key's public prefix + "_"
    return f"{plain[:4]}…" if len(plain) > 8 else "…"
