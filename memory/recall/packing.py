"""Pack ranked memory blocks into `system_context` within a cl100k token budget.

Blocks are admitted greedily in rank order while they fit, then rendered grouped: facts
first (in rank order), then raw turns in time order. The exact token count of the final
text is checked, and the lowest-ranked blocks are dropped until it fits, so
`token_estimate` is exact and never above the budget. Only admitted blocks are returned,
so citations name exactly what the text contains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from memory.tokens import count_tokens

FACTS_HEADER = "Known facts about the user and their world:"
EVENTS_HEADER = "Relevant conversation excerpts (UTC):"


@dataclass
class Block:
    type: str  # "fact" | "event" | "episode"
    content: str
    source_ids: list[str]
    score: float
    event_time: datetime
    tier: str | None = None
    item_id: str = ""
    tokens: int = field(default=0)


def render(blocks: list[Block]) -> str:
    facts = [b for b in blocks if b.type != "event"]
    events = sorted((b for b in blocks if b.type == "event"), key=lambda b: b.event_time)
    sections: list[str] = []
    if facts:
        sections.append("\n".join([FACTS_HEADER, *(f"- {b.content}" for b in facts)]))
    if events:
        sections.append("\n".join([EVENTS_HEADER, *(b.content for b in events)]))
    return "\n\n".join(sections)


def pack(ranked: list[Block], budget: int) -> tuple[str, list[Block], int]:
    """-> (system_context, admitted blocks in rank order, exact token count)."""
    # Section headers and separators cost a few tokens; reserve them up front.
    overhead = {"fact": count_tokens(FACTS_HEADER) + 2, "event": count_tokens(EVENTS_HEADER) + 2}
    admitted: list[Block] = []
    used = 0
    opened: set[str] = set()
    for block in ranked:
        section = "event" if block.type == "event" else "fact"
        block.tokens = block.tokens or count_tokens(block.content) + 2
        cost = block.tokens + (overhead[section] if section not in opened else 0)
        if used + cost > budget:
            continue  # a smaller, lower-ranked block may still fit
        admitted.append(block)
        opened.add(section)
        used += cost
    text = render(admitted)
    tokens = count_tokens(text)
    while tokens > budget and admitted:  # estimates are per line; the exact count decides
        admitted.pop()
        text = render(admitted)
        tokens = count_tokens(text)
    return text, admitted, tokens
