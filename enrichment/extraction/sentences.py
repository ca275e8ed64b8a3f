"""Sentences and clauses with character offsets: how the extractors and the episode
summaries cut a text, so that both quote the same sentences.

`sentence_spans` gives every sentence of a content line by line; `clauses` cuts a
sentence where a new subject starts ("..., and I ...").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_CLAUSE_SPLIT_RE = re.compile(
    r"\s*[;–—]\s*|\s+-\s+|\s*\.\.\.\s*"
    r"|,?\s+(?:and|but|so|because|cause|since|although|though|while|whereas|plus|as)\s+"
    r"(?=(?:(?:now|then|also|still)\s+)?(?:i|i'm|i've|i'll|we|we're|we've|my|he|she|they|you|your|"
    r"he's|she's|they're|you're)\b)"
    r"|,\s+(?=(?:i|i'm|i've|i'll|we|we're|we've|my|you|your|you're|he|she|they|he's|she's)\b)",
    re.IGNORECASE,
)

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof inc ltd co vs etc e.g i.e u.s mt ave no approx dept apt rd "
    "blvd ln hwy ste fl bldg".split()
)
_SENTENCE_END_RE = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n+")


def lines(content: str) -> Iterator[tuple[int, int]]:
    start = 0
    for line in content.split("\n"):
        yield start, start + len(line)
        start += len(line) + 1


def sentences(content: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(start, end) offsets of the sentences in content[start:end], whitespace-trimmed."""
    cursor = start
    for match in _SENTENCE_END_RE.finditer(content, start, end):
        word = re.search(
            r"([\w.]+)\.$", content[max(start, match.start() - 12) : match.start() + 1]
        )
        if match.group(0).startswith(".") and len(match.group(0)) == 1 and word:
            token = word.group(1).lower().rstrip(".")
            # "Dr. Smith", "St. Mary's", "J. K. Rowling": not a sentence end.
            # "J.P. Morgan", "a B.Sc. in": a dotted initialism, or a period before a
            # lower-case word, does not end a sentence either.
            following = content[match.end() : match.end() + 2].strip()
            if (
                token in _ABBREVIATIONS
                or len(token) == 1
                or re.fullmatch(r"(?:[a-z]{1,2}\.)+[a-z]{1,2}", token)
                or following[:1].islower()
            ):
                continue
        yield from trimmed(content, cursor, match.end())
        cursor = match.end()
    yield from trimmed(content, cursor, end)


def sentence_spans(content: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence of `content`, line by line; used by episode summaries
    so that they quote the same sentences the extractor read."""
    return [
        span
        for line_start, line_end in lines(content)
        for span in sentences(content, line_start, line_end)
    ]


def trimmed(content: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and content[start].isspace():
        start += 1
    while end > start and content[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


# A bare noun phrase before "and I": the first half of a coordinated subject.
_SUBJECT_NP_RE = re.compile(
    r"(?:my|our|his|her)\s+(?:[\w'-]+\s+)?[\w'-]+|(?!I\b)(?-i:[A-Z])[a-z][\w'-]*", re.IGNORECASE
)


def clauses(sentence: str) -> list[str]:
    parts: list[str] = []
    cursor = 0
    for match in _CLAUSE_SPLIT_RE.finditer(sentence):
        if re.fullmatch(r"\s+and\s+", match.group(0)) and _SUBJECT_NP_RE.fullmatch(
            sentence[cursor : match.start()]
        ):
            continue  # "Sam and I broke up", "My husband and I own…": one subject
        parts.append(sentence[cursor : match.start()])
        cursor = match.end()
    parts.append(sentence[cursor:])
    return [part.strip(" ,.!") for part in parts if part.strip(" ,.!")]
