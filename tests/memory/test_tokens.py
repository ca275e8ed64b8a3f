"""The line-wise token count is the exact count of the whole text (memory.tokens)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from memory.recall.packing import Block, pack
from memory.tokens import count_tokens_by_lines, encoding

# Pieces chosen for the places where cl100k's pre-tokenizer could join a line to the
# next: ends in punctuation, digits, spaces and tabs, blank and whitespace-only lines,
# indented code, CRLF, non-ASCII letters, emoji and special-token text.
PIECES = [
    "I moved to Vancouver last month.",
    "- Caroline: I went to the LGBTQ support group yesterday!",
    "Known facts (date stated or happened):",
    "8 May 2023:",
    "Monday, 8 May 2023:",
    "def f(x):\n    return x + 1\n",
    "    indented line",
    "\t\ttabbed",
    "trailing spaces   ",
    "",
    "   ",
    "1234567",
    "costs $12.50, or 3/4 of it...",
    "naïve café — résumé",
    "日本語のテキスト",
    "🙂 ok",
    "line with CRLF\r",
    "<|endoftext|>",
    "'s 're 've",
    "-",
    "--- dashes ---",
    "a\n\n\nb",
]


def _random_text(rng: random.Random) -> str:
    lines = [rng.choice(PIECES) for _ in range(rng.randint(1, 40))]
    return "\n".join(lines) + rng.choice(["", "\n", "\n\n", " "])


def test_the_sum_of_line_counts_is_the_whole_count() -> None:
    rng = random.Random(7)
    whole = encoding()
    for _ in range(2000):
        text = _random_text(rng)
        assert count_tokens_by_lines(text) == len(whole.encode(text, disallowed_special=()))


def test_a_packed_context_counts_exactly() -> None:
    rng = random.Random(11)
    start = datetime(2023, 5, 8, tzinfo=UTC)
    blocks = [
        Block(
            type=rng.choice(["fact", "event", "event", "episode"]),
            content=" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6))),
            source_ids=[str(i)],
            score=1.0 - i / 400,
            event_time=start + timedelta(hours=rng.randint(0, 24 * 90)),
        )
        for i in range(400)
    ]
    for budget in (200, 500, 1000, 2000):
        text, admitted, tokens = pack(list(blocks), budget)
        assert len(admitted) > 3
        assert tokens == len(encoding().encode(text, disallowed_special=())) <= budget
