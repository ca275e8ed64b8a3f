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
        start = _resume(text, max(start + 1, end - PASSAGE_OVERLAP_CHARS))
    return spans


def _cut(text: str, start: int, end: int) -> int:
    """The last sentence break (else whitespace) in the second half of the window."""
    window = text[start:end]
    breaks = [m.end() for m in _BREAK.finditer(window) if m.end() > len(window) // 2]
    if breaks:
        return start + breaks[-1]
    space = window.rfind(" ", len(window) // 2)
    return start + space + 1 if space > 0 else end


def _resume(text: str, at: int) -> int:
    """Start the next passage at a word boundary at or after `at`."""
    while 0 < at < len(text) and not text[at - 1].isspace():
        at += 1
    return at
