"""Which sentences of an event deserve a place in an episode summary, and how much.

Pure functions of an event's content and its admitted facts' spans; the episodes module
pools and folds what they return. No database access, no Celery.
"""

from __future__ import annotations

import re
from typing import Any

from enrichment.extraction.sentences import sentence_spans
from memory.models import Event, EventType, Role
from memory.passages import bounded_prefix

# A sentence of fewer words with no fact in it is a greeting or an aside ("Wow, cool!").
MIN_WORDS = 4

_WORD_RE = re.compile(r"[A-Za-z0-9][\w'’-]*")
# A token of prose: a word, maybe quoted or bracketed, maybe followed by punctuation. Log
# lines ("21:29:27 INFO species_lookup_table: batch size=855 in 2546ms") and code lines
# ("const rows = Object.fromEntries(...)") are mostly other tokens: identifiers, numbers,
# operators. They score well on numbers and capitals but tell a summary nothing; on the
# long user-assistant set (bench/assistant_long.py) 199 of the 489 sentences the session
# summaries quoted were such lines, crowding out the problem, diagnosis and fix.
_PROSE_TOKEN_RE = re.compile(
    r"[\"'“‘(\[]*(?:[A-Za-z][a-z'’-]*|[A-Z]{2,}s?|[$£€]?\d+(?:[.,]\d+)*%?)[\"'”’)\].,;:!?]*"
)
# A log line starts with a clock time to the second.
_LOG_LINE_RE = re.compile(r"\s*\[?\d{1,2}:\d\d:\d\d")
# A sentence is prose when at least this share of its whitespace tokens are prose tokens
# (LoCoMo turns: nearly all; a log or code line: well under half).
MIN_PROSE_SHARE = 0.6


def is_prose(text: str) -> bool:
    """Whether `text` reads as prose rather than a log line, code or a config line."""
    if _LOG_LINE_RE.match(text):
        return False
    tokens = text.split()
    prose = sum(1 for token in tokens if _PROSE_TOKEN_RE.fullmatch(token))
    return bool(tokens) and prose >= MIN_PROSE_SHARE * len(tokens)


def sentence_score(*, text: str, fact_utility: float, role: str) -> float:
    """fact utility + 0.1 per name (≤3) + 0.1 with a number + 0.02 per word (≤20); ×0.5 for
    the assistant. 0 for a short sentence, a log line or code (`is_prose`) with no fact."""
    words = _WORD_RE.findall(text)
    if fact_utility <= 0 and (len(words) < MIN_WORDS or not is_prose(text)):
        return 0.0
    # Capitalised words after the first are names more often than not ("I" excluded).
    names = sum(1 for w in words[1:] if w[0].isupper() and w != "I")
    score = (
        fact_utility
        + 0.1 * min(names, 3)
        + 0.1 * any(c.isdigit() for c in text)
        + 0.02 * min(len(words), 20)
    )
    if role == Role.ASSISTANT:
        score *= 0.5  # assistant turns are long and mostly about the assistant's help
    return round(score, 4)


def event_highlights(*, event: Event, facts: list[tuple[int, int, float]]) -> list[dict[str, Any]]:
    """The event's sentences worth a place in a summary, scored. `facts` holds the
    (start, end, utility) of its admitted candidates."""
    if event.type != EventType.MESSAGE:
        return []  # tool payloads and app events are JSON: facts yes, summary prose no
    out = []
    # Over the part the extractor read (memory.passages.bounded_prefix): its facts are
    # there, and 1 MiB would give ~15k scored sentences for a pool of a few.
    for start, end in sentence_spans(bounded_prefix(event.content)):
        utility = sum(u for s, e, u in facts if s >= start and e <= end)
        text = event.content[start:end]
        score = sentence_score(text=text, fact_utility=utility, role=event.role)
        if score > 0:
            out.append(
                {
                    "event": str(event.id),
                    "time": event.event_time.isoformat(),
                    "start": start,
                    "text": text,
                    "score": score,
                }
            )
    return out
