"""Passages: a long event split into overlapping windows, each searchable on its own.

A turn of a few hundred tokens is one document for BM25 and one MiniLM vector. A long
message (a pasted document, tool output, a long answer) is not: BM25's length
normalisation buries it, and MiniLM reads only its first 256 word pieces. So the embed
stage splits an event longer than PASSAGE_MIN_CHARS into passages of about
PASSAGE_CHARS characters (~200 cl100k tokens of English prose at ~4 characters a token),
cut at sentence or word boundaries, each overlapping the previous one by about
PASSAGE_OVERLAP_CHARS so a sentence cut in two is whole in one of them. Recall searches
passages in their own keyword and vector channels; a hit ranks its event, and the event
is shown as an excerpt of the passage that matched, cited as the event.
"""

from __future__ import annotations

import re

PASSAGE_MIN_CHARS = 2000
PASSAGE_CHARS = 800
PASSAGE_OVERLAP_CHARS = 160
_BREAK = re.compile(r"(?<=[.!?])\s+|\n\s*\n")

# Content is limited only by the 1 MiB body (API.md §1), 1,300-1,800 passages. The steps that
# read an event whole are bounded to its first WHOLE_TEXT_CHARS characters (the old
# per-event limit, so every event accepted before is handled exactly as before): the
# event's own keyword vector (a Postgres tsvector holds at most 1 MB and positions up to
# 16,383) and embedding, the offline extractor (~60 s on 1 MiB of prose, superlinear),
# the v6 conversation history and the text recall shows when no passage matched. The
# rest of a long event is reached through its passages.
WHOLE_TEXT_CHARS = 32_000


def passage_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of `text`'s passages; [] when it is short enough to
    be one document. Every character is in some passage; consecutive passages overlap."""
    if len(text) <= PASSAGE_MIN_CHARS:
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + PASSAGE_CHARS)
        if end < len(text):
            end = _cut(text, start, end)
        spans.append((start, end))
        if end >= len(text):
            break
        start = _resume(text, max(start + 1, end - PASSAGE_OVERLAP_CHARS), end)
    return spans


def _cut(text: str, start: int, end: int) -> int:
    """The last sentence break (else whitespace) in the second half of the window."""
    window = text[start:end]
    breaks = [m.end() for m in _BREAK.finditer(window) if m.end() > len(window) // 2]
    if breaks:
        return start + breaks[-1]
    space = window.rfind(" ", len(window) // 2)
    return start + space + 1 if space > 0 else end


def _resume(text: str, at: int, end: int) -> int:
    """Start the next passage at a word boundary at or after `at`, before `end` (text
    without whitespace resumes at `at`: the walk must not skip what is left)."""
    resume = at
    while 0 < resume < end and not text[resume - 1].isspace():
        resume += 1
    return resume if resume < end else at


def bounded_prefix(text: str, limit: int = WHOLE_TEXT_CHARS) -> str:
    """`text` when it has at most `limit` characters, else its first `limit` cut at the
    last sentence break (else whitespace) in the last quarter, so no half sentence ends
    it. Starts at 0: offsets into the prefix are offsets into `text`."""
    if len(text) <= limit:
        return text
    tail = max(0, limit - limit // 4)
    breaks = [m.end() for m in _BREAK.finditer(text, tail, limit)]
    if breaks:
        return text[: breaks[-1]]
    space = text.rfind(" ", tail, limit)
    return text[: space + 1] if space > 0 else text[:limit]
