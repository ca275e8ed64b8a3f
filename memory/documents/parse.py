"""Sections and spans of a document's text. Pure functions, no database.

Sections: Markdown ATX headings (`#` … `######`, outside fenced code) make a tree; the
text before the first heading is an untitled section of level 0. A text without any
heading is plain text: each block separated by blank lines is an untitled section.

Spans: each section's own text (its heading to the next heading of any level) is cut into
windows of about `chunk_tokens` cl100k tokens (taken as 4 characters a token, as in
memory.passages), at sentence or word boundaries, each overlapping the previous by about
`overlap_tokens`. Offsets are into the original text, so a span is always a verbatim slice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
DEFAULT_CHUNK_TOKENS = 300
DEFAULT_OVERLAP_TOKENS = 50
MIN_CHUNK_TOKENS = 50
MAX_CHUNK_TOKENS = 2000

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BLANK_BLOCK = re.compile(r"\n[ \t]*\n+")
_BREAK = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)")


@dataclass
class SectionNode:
    ordinal: int
    level: int  # 1-6 for a heading, 0 for untitled text
    title: str | None
    parent: int | None  # ordinal of the parent section
    path: str  # titles from the root, " > " between them
    start: int
    end: int  # end of the whole section, subsections included
    body_end: int  # end of its own text (before the next heading of any level)


@dataclass(frozen=True)
class SpanCut:
    section: int  # ordinal of its section
    start: int
    end: int


def sections_of(text: str) -> list[SectionNode]:
    """The section tree of `text` in reading order (see the module docstring)."""
    headings = _headings(text)
    if not headings:
        return _blocks(text)
    nodes: list[SectionNode] = []
    if text[: headings[0][0]].strip():
        nodes.append(SectionNode(0, 0, None, None, "", 0, headings[0][0], headings[0][0]))
    stack: list[SectionNode] = []
    for i, (start, level, title) in enumerate(headings):
        body_end = headings[i + 1][0] if i + 1 < len(headings) else len(text)
        while stack and stack[-1].level >= level:
            stack.pop()
        parent = stack[-1] if stack else None
        path = f"{parent.path} > {title}" if parent and parent.path else title
        node = SectionNode(
            len(nodes),
            level,
            title,
            parent.ordinal if parent else None,
            path,
            start,
            len(text),
            body_end,
        )
        # The section ends where the next heading of the same or a higher level starts.
        for later_start, later_level, _ in headings[i + 1 :]:
            if later_level <= level:
                node.end = later_start
                break
        nodes.append(node)
        stack.append(node)
    return nodes


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, title) of each ATX heading outside fenced code blocks."""
    found: list[tuple[int, int, str]] = []
    offset, fenced = 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line.rstrip("\r\n"))):
            title = match.group(2).strip()
            if title:
                found.append((offset, len(match.group(1)), title[:1000]))
        offset += len(line)
    return found


def _blocks(text: str) -> list[SectionNode]:
    """Plain text: one untitled section per blank-line-separated block."""
    nodes: list[SectionNode] = []
    position = 0
    for gap in [*_BLANK_BLOCK.finditer(text), None]:
        end = gap.start() if gap else len(text)
        if text[position:end].strip():
            nodes.append(SectionNode(len(nodes), 0, None, None, "", position, end, end))
        if gap:
            position = gap.end()
    return nodes


def spans_of(
    text: str,
    sections: list[SectionNode],
    *,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[SpanCut]:
    """Overlapping windows of each section's own text, in reading order; a section with
    nothing but its heading gets no span (its text is under its subsections)."""
    size = max(MIN_CHUNK_TOKENS, min(MAX_CHUNK_TOKENS, chunk_tokens)) * CHARS_PER_TOKEN
    overlap = max(0, min(overlap_tokens * CHARS_PER_TOKEN, size // 2))
    cuts: list[SpanCut] = []
    for node in sections:
        start, end = node.start, node.body_end
        if node.title is not None:
            # The heading line is not in the spans: it is in the search text (the section
            # path) of every span below it. A heading alone makes no span.
            heading_end = text.find("\n", start, end)
            start = end if heading_end < 0 else heading_end + 1
        start, end = _trimmed(text, start, end)
        for a, b in _windows(text, start, end, size, overlap):
            cuts.append(SpanCut(node.ordinal, a, b))
    return cuts


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _windows(text: str, start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    if end - start <= size + size // 4:  # a little over one window is kept whole
        return [(start, end)] if end > start else []
    windows: list[tuple[int, int]] = []
    at = start
    while at < end:
        stop = min(end, at + size)
        if stop < end:
            stop = _cut(text, at, stop)
        windows.append(_trimmed(text, at, stop))
        if stop >= end:
            break
        at = _resume(text, max(at + 1, stop - overlap), end)
    return [w for w in windows if w[1] > w[0]]


def _cut(text: str, start: int, end: int) -> int:
    """The last sentence, paragraph or list-item break (else whitespace) in the second
    half of the window."""
    window = text[start:end]
    breaks = [m.end() for m in _BREAK.finditer(window) if m.end() > len(window) // 2]
    if breaks:
        return start + breaks[-1]
    space = window.rfind(" ", len(window) // 2)
    return start + space + 1 if space > 0 else end


def _resume(text: str, at: int, end: int) -> int:
    """Start the next window at a word boundary at or after `at`."""
    while 0 < at < end and not text[at - 1].isspace():
        at += 1
    return at
