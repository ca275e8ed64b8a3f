"""The long user–assistant development set (bench/assistant_long.py) is deterministic,
has the shape it claims, and every question's evidence names messages that hold it."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.assistant_long import MAX_CHARS, build


@pytest.fixture(scope="module")
def conversations():
    return build()


def test_same_seed_same_set_other_seed_other_set(conversations) -> None:
    again = build()
    assert [t.content for c in again for t in c.turns] == [
        t.content for c in conversations for t in c.turns
    ]
    assert [q for c in again for q in c.questions] == [
        q for c in conversations for q in c.questions
    ]
    other = build(seed=15)
    assert [t.content for t in other[0].turns] != [t.content for t in conversations[0].turns]


def test_shape(conversations) -> None:
    assert len(conversations) >= 4
    assert sum(len(c.questions) for c in conversations) >= 200
    kinds = Counter(q.kind for c in conversations for q in c.questions)
    assert set(kinds) == {
        "fact",
        "update",
        "contradiction",
        "ordering",
        "summary",
        "instruction",
        "preference",
    }
    for conv in conversations:
        chars = sum(len(t.content) for t in conv.turns)
        assert chars > 350_000  # ~100k+ cl100k tokens at ~3.5-4 characters a token
        assert max(len(t.content) for t in conv.turns) <= MAX_CHARS
        assert set(conv.roles.values()) == {"user", "assistant"}
        times = [t.time for t in conv.turns]
        assert times == sorted(times)
        assert len({t.session for t in conv.turns}) >= 15


def test_evidence_exists_and_long_messages_hold_some(conversations) -> None:
    long_evidence = 0
    for conv in conversations:
        by_id = {t.dia_id: t for t in conv.turns}
        for q in conv.questions:
            assert q.evidence and all(e in by_id for e in q.evidence)
            long_evidence += sum(len(by_id[e].content) > 2000 for e in q.evidence)
    assert long_evidence >= 100  # evidence in the middle of long messages, not only short turns
