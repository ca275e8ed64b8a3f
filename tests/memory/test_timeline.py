"""The user's timeline: session breaks found from time gaps alone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from memory.timeline import SESSION_GAP, same_session, session_breaks, sessions

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_session_breaks_are_gaps_of_thirty_minutes_or_more() -> None:
    times = [at(0), at(5), at(34), at(64), at(65), at(24 * 60)]
    # 34 -> 64 is exactly the gap: a new session; 5 -> 34 (29 minutes) is not.
    assert SESSION_GAP == timedelta(minutes=30)
    assert session_breaks(times) == [0, 3, 5]
    assert session_breaks([]) == []
    assert session_breaks(times, gap=timedelta(minutes=10)) == [0, 2, 3, 5]


def test_sessions_do_not_depend_on_the_order_items_come_in() -> None:
    items = [(at(m), name) for m, name in [(0, "a"), (3, "b"), (50, "c"), (52, "d"), (600, "e")]]
    expected = [["a", "b"], ["c", "d"], ["e"]]
    assert sessions(items) == expected
    for seed in range(5):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        assert sessions(shuffled) == expected


def test_same_session_keeps_the_neighbours_up_to_the_first_break() -> None:
    chain = [("b1", at(-2)), ("b2", at(-4)), ("b3", at(-300)), ("b4", at(-301))]
    assert same_session(at(0), chain) == ("b1", "b2")
    assert same_session(at(0), [("a1", at(40))]) == ()
    assert same_session(at(0), []) == ()
