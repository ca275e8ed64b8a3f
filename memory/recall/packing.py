"""Pack ranked memory blocks into `system_context` within a cl100k token budget.

Blocks are admitted greedily in rank order while they fit (a block that does not fit is
skipped and smaller, lower-ranked ones are still tried). The text is then rendered
compactly: facts first (in rank order), episode summaries, then raw turns in time order
under one date header per day instead of a timestamp on every line, so the budget holds
more evidence. The exact token count of the final text is checked and the lowest-ranked
blocks dropped until it fits, so `token_estimate` is exact and never above the budget.
Up to FILL_MAX_BUDGET tokens the room the (upper-bound) estimates left is then filled,
by the exact count, with the next blocks in rank order that fit.
Only admitted blocks are returned: citations name exactly what the text contains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from memory.tokens import count_tokens, count_tokens_by_lines

FACTS_HEADER = "Known facts (date stated or happened):"
EPISODES_HEADER = "Conversation summaries:"
EVENTS_HEADER = "Conversation excerpts, by day (UTC):"
# Document passages (memory.recall.documents), in the order they were ranked: for a whole
# section or a collection that order is reading order.
DOCUMENTS_HEADER = "From the user's documents:"
_SECTION_OVERHEAD = 12  # header line + blank line, a safe upper bound in cl100k tokens
# Up to FILL_MAX_BUDGET tokens, the room the per-line estimates left (they are upper
# bounds: ~40 of 500 tokens went unused) is filled with the next blocks in rank order
# that still fit by the exact count, at most FILL_TRIES tries; measured up to 2,000
# tokens only. A try's exact count is a sum of memoised line counts
# (memory.tokens.count_tokens_by_lines), not an encoding of the whole text. See
# BENCHMARKS.md ("LoCoMo all ten: filling a 500-token context" and "... at 2,000 tokens
# too").
FILL_MAX_BUDGET = 2000
FILL_TRIES = 8
# Up to SHORT_DAYS_MAX_BUDGET tokens a day header leaves out the weekday ("8 May 2023:"),
# ~2 tokens a day; the turns' relative dates are already resolved to dates
# (memory.time_notes). See the same BENCHMARKS.md sections.
SHORT_DAYS_MAX_BUDGET = 2000


@dataclass
class Block:
    type: str  # "fact" | "event" | "episode" | "chunk" (a document passage)
    content: str
    source_ids: list[str]
    score: float
    event_time: datetime
    tier: str | None = None
    item_id: str = ""
    tokens: int = 0


def day_header(moment: datetime, *, weekday: bool = True) -> str:
    return _day_text(moment.astimezone(UTC).date(), weekday)


# A pack asks for the header of every ranked turn and every render (~100 per recall at
# 2,000 tokens); strftime was the largest single cost of packing.
@lru_cache(maxsize=4096)
def _day_text(day: date, weekday: bool) -> str:
    return day.strftime("%A, %-d %B %Y:" if weekday else "%-d %B %Y:")


def render(blocks: list[Block], *, weekdays: bool = True) -> str:
    facts = [b for b in blocks if b.type == "fact"]
    episodes = [b for b in blocks if b.type == "episode"]
    events = sorted((b for b in blocks if b.type == "event"), key=lambda b: b.event_time)
    chunks = [b for b in blocks if b.type == "chunk"]
    sections: list[str] = []
    if chunks:
        sections.append("\n".join([DOCUMENTS_HEADER, *(f"- {b.content}" for b in chunks)]))
    if facts:
        sections.append("\n".join([FACTS_HEADER, *(f"- {b.content}" for b in facts)]))
    if episodes:
        sections.append("\n".join([EPISODES_HEADER, *(f"- {b.content}" for b in episodes)]))
    if events:
        lines = [EVENTS_HEADER]
        current_day = ""
        for block in events:
            header = day_header(block.event_time, weekday=weekdays)
            if header != current_day:
                lines.append(header)
                current_day = header
            lines.append(f"- {block.content}")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def pack(ranked: list[Block], budget: int) -> tuple[str, list[Block], int]:
    """-> (system_context, admitted blocks in rank order, exact token count)."""
    admitted: list[Block] = []
    used = 0
    opened: set[str] = set()
    days: set[str] = set()
    weekdays = budget > SHORT_DAYS_MAX_BUDGET
    for block in ranked:
        block.tokens = block.tokens or count_tokens(block.content) + 2
        cost = block.tokens
        if block.type not in opened:
            cost += _SECTION_OVERHEAD
        day = day_header(block.event_time, weekday=weekdays) if block.type == "event" else ""
        if day and day not in days:
            cost += count_tokens(day) + 1
        if used + cost > budget:
            continue
        admitted.append(block)
        opened.add(block.type)
        if day:
            days.add(day)
        used += cost
    text = render(admitted, weekdays=weekdays)
    tokens = count_tokens_by_lines(text)
    while tokens > budget and admitted:  # per-line estimates; the exact count decides
        admitted.pop()
        text = render(admitted, weekdays=weekdays)
        tokens = count_tokens_by_lines(text)
    if budget <= FILL_MAX_BUDGET:
        text, admitted, tokens = _fill(ranked, admitted, text, tokens, budget, weekdays)
    return text, admitted, tokens


def _fill(
    ranked: list[Block],
    admitted: list[Block],
    text: str,
    tokens: int,
    budget: int,
    weekdays: bool,
) -> tuple[str, list[Block], int]:
    """Add the not yet admitted blocks of `ranked`, in rank order, that fit in the room
    `text` (`tokens` long, exactly) leaves in `budget`, by the exact count of the
    rendered result. A line costs at least its content, so longer ones are not tried.
    The admitted blocks stay in rank order."""
    taken = {id(block) for block in admitted}
    tries = 0
    for block in ranked:
        if tries >= FILL_TRIES or budget - tokens < 4:
            break
        if id(block) in taken or block.tokens - 2 > budget - tokens:
            continue
        tries += 1
        trial = [*admitted, block]
        trial_text = render(trial, weekdays=weekdays)
        trial_tokens = count_tokens_by_lines(trial_text)
        if trial_tokens <= budget:
            admitted, text, tokens = trial, trial_text, trial_tokens
            taken.add(id(block))
    order = {id(block): i for i, block in enumerate(ranked)}
    admitted.sort(key=lambda block: order[id(block)])
    return text, admitted, tokens
