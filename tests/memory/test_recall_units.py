"""Pure pieces of recall: BM25 over tsvector text, RRF fusion, excerpts, packing."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime

import pytest

from memory.recall import engine
from memory.recall.bm25 import bm25_rank, parse_tsvector
from memory.recall.channels import uuid_array, vector_literal
from memory.recall.engine import Ranks, excerpt
from memory.recall.fusion import rrf_fuse
from memory.recall.packing import Block, pack
from memory.tokens import count_tokens


def test_vector_literal_round_trips_every_float() -> None:
    # float32 values (what the embedder returns, widened) and a float64 one: each is
    # written so that parsing it back gives the same number.
    values = [struct.unpack("f", struct.pack("f", x))[0] for x in (0.1, -0.033, 1e-8)]
    values.append(0.30000000000000004)
    text = vector_literal(values)
    assert text.startswith("[") and text.endswith("]")
    assert [float(part) for part in text[1:-1].split(",")] == values
    assert vector_literal([]) == "[]"


def test_uuid_array_is_postgres_array_text() -> None:
    ids = [uuid.UUID(int=1), uuid.UUID(int=2**128 - 1)]
    assert uuid_array(ids) == (
        "{00000000-0000-0000-0000-000000000001,ffffffff-ffff-ffff-ffff-ffffffffffff}"
    )
    assert uuid_array([]) == "{}"


def test_ranks_are_each_channels_positions_built_when_read() -> None:
    a, b, c = ("event", uuid.UUID(int=1)), ("fact", uuid.UUID(int=2)), ("event", uuid.UUID(int=3))
    rankings = {"vector_events": [a, c], "keyword_facts": [b], "conversation": []}
    ranks = Ranks(rankings)
    assert list(ranks) == ["vector_events", "keyword_facts", "conversation"]
    assert len(ranks) == 3
    assert ranks["vector_events"] == {a: 1, c: 2}
    assert dict(ranks.items()) == {
        "vector_events": {a: 1, c: 2},
        "keyword_facts": {b: 1},
        "conversation": {},
    }
    assert "temporal" not in ranks
    # Fusion reads a channel's ranks in rank order, as it reads the ranking itself.
    assert rrf_fuse(ranks, {}) == rrf_fuse(rankings, {})  # type: ignore[arg-type]


def test_parse_tsvector_counts_positions() -> None:
    # Length is the number of distinct lexemes, as Postgres's length(tsvector).
    assert parse_tsvector("'group':6 'it''s':2 'support':5,9") == (
        {"group": 1, "it's": 1, "support": 2},
        3,
    )


def test_bm25_prefers_rare_terms_over_common_ones() -> None:
    documents = [
        ("common", "'melani':1 'said':2"),
        ("rare", "'melani':1 'sunris':4"),
        ("other", "'melani':1 'paint':3"),
    ]
    ranked = bm25_rank(
        terms=["melani", "sunris"], documents=documents, total_docs=50, avg_length=2.0
    )
    assert [doc for doc, _ in ranked] == ["rare", "common", "other"]


def test_rrf_weights_and_order() -> None:
    fused = rrf_fuse({"a": ["x", "y"], "b": ["y", "z"]}, {"a": 1.0, "b": 0.5}, k=5)
    assert [item for item, _ in fused] == ["y", "x", "z"]
    assert round(fused[0][1], 4) == round(1 / 7 + 0.5 / 6, 4)


def test_rrf_group_takes_the_best_channel_not_the_sum() -> None:
    # "long" is found by an event channel and that event's passage channel (one reader,
    # twice); "short" by the event channel and another reader. Grouped, "long" takes its
    # best share only, so the agreement of two readers ranks first.
    rankings = {"ev": ["long", "short"], "pas": ["long"], "other": ["short"]}
    weights = {"ev": 1.0, "pas": 1.0, "other": 1.0}
    plain = rrf_fuse(rankings, weights, k=5)
    assert [item for item, _ in plain] == ["long", "short"]
    grouped = rrf_fuse(rankings, weights, k=5, groups={"ev": "g", "pas": "g"})
    assert [item for item, _ in grouped] == ["short", "long"]
    assert round(dict(grouped)["long"], 4) == round(1 / 6, 4)
    assert round(dict(grouped)["short"], 4) == round(1 / 7 + 1 / 6, 4)


def test_excerpt_keeps_speaker_and_relevant_sentences() -> None:
    text = (
        "Caroline: Thanks so much! The weather was lovely and we walked a lot. "
        "I finally painted the sunrise over the lake last week. "
        "My kids loved the trip and we ate ice cream every single day of it."
    )
    cut = excerpt(text, focus={"paint", "sunrise"}, max_tokens=22)
    # The matching sentence is kept; the rest of the room goes to what still fits.
    assert (
        cut == "Caroline: Thanks so much! … I finally painted the sunrise over the lake "
        "last week. …"
    )
    assert count_tokens(cut) <= 22 + 2
    assert excerpt("Short line.", focus=set(), max_tokens=22) == "Short line."


def test_an_excerpt_of_one_endless_sentence_is_cut_to_the_limit() -> None:
    # A log or a table without full stops: its one "sentence" is taken, then cut.
    text = " ".join(f"row{i} value{i * 3}" for i in range(5_000))
    cut = excerpt(text, focus={"row7"}, max_tokens=40)
    assert cut.startswith("row0 value0") and cut.endswith("…")
    assert count_tokens(cut) <= 40


def _block(i: int, kind: str = "event", words: int = 10) -> Block:
    return Block(
        type=kind,
        content=f"item {i} " + "word " * words,
        source_ids=[f"e{i}"],
        score=1.0 / (i + 1),
        event_time=datetime(2024, 5, 1 + i % 3, tzinfo=UTC),
        item_id=f"i{i}",
    )


def test_pack_is_exact_grouped_by_day_and_skips_what_does_not_fit() -> None:
    blocks = [_block(0, "fact"), _block(1, words=400), *(_block(i) for i in range(2, 30))]
    text, admitted, tokens = pack(blocks, 200)
    assert tokens == count_tokens(text) <= 200
    assert "item 1 " not in text  # too long for the budget, skipped
    assert admitted[0].item_id == "i0" and all(b.content in text for b in admitted)
    assert text.count("Wednesday, 1 May 2024:") <= 1
    assert text.startswith("Known facts")


def test_a_small_context_is_filled_by_the_exact_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # The per-line estimates are upper bounds; up to FILL_MAX_BUDGET the room they leave
    # is filled with the next blocks that fit by the exact count (render's headers then
    # without weekdays, up to SHORT_DAYS_MAX_BUDGET).
    from memory.recall import packing
    from memory.recall.packing import FILL_MAX_BUDGET, render

    blocks = [_block(i, words=6) for i in range(0, 60, 3)]  # one day: no day headers
    budget = 150
    assert budget <= FILL_MAX_BUDGET
    text, admitted, tokens = pack(blocks, budget)
    assert tokens == count_tokens(text) <= budget
    left = [b for b in blocks if b not in admitted]
    assert left and all(count_tokens(render([*admitted, b], weekdays=False)) > budget for b in left)
    # ... and its day headers leave out the weekday (~2 tokens a day).
    assert "\n1 May 2024:\n" in text and "Wednesday" not in text
    # So is a 2,000-token context (the budget LoCoMo's figures are taken at), within
    # FILL_TRIES more blocks ...
    many = [_block(i, words=6) for i in range(0, 1200, 3)]
    text, admitted, tokens = pack(many, 2000)
    assert tokens == count_tokens(text) <= 2000 and "Wednesday" not in text
    monkeypatch.setattr(packing, "FILL_MAX_BUDGET", 0)
    unfilled = pack([_block(i, words=6) for i in range(0, 1200, 3)], 2000)[1]
    assert len(unfilled) < len(admitted) <= len(unfilled) + packing.FILL_TRIES
    monkeypatch.undo()
    # ... but larger ones keep the estimate's packing and full headers.
    text, admitted, tokens = pack(many, 3000)
    assert tokens <= 3000 and len(admitted) < len(many)
    assert "Wednesday, 1 May 2024:" in text


def test_relative_dates_are_resolved_against_the_turn_time() -> None:
    from memory.time_notes import relative_dates

    spoken = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert relative_dates("I went to a support group yesterday.", spoken) == (
        ("yesterday", "7 May 2023"),
    )
    assert relative_dates("Next month we go camping", spoken) == (("Next month", "June 2023"),)
    assert relative_dates("On 7 May 2023 I went out", spoken) == ()


def test_relative_gate_skips_dateparser_only_for_text_without_relative_expressions() -> None:
    from unittest import mock

    from memory.time_notes import relative_dates_uncached

    spoken = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)  # a Monday
    with mock.patch("memory.time_notes.temporal_resolve") as resolve:
        # Time words, but none relative to the moment of speaking: no dateparser.
        assert relative_dates_uncached("This is the Friday of 7 May 2023, at 5 pm.", spoken) == ()
    resolve.assert_not_called()
    assert relative_dates_uncached(
        "Two days ago I ran; last fri I swam, and the weekend was calm.", spoken
    ) == (("Two days ago", "6 May 2023"), ("last fri", "5 May 2023"), ("the weekend", "6 May 2023"))


def test_large_contexts_weigh_the_fact_channels_more() -> None:
    small, large = engine.channel_weights(500), engine.channel_weights(2000)
    assert small == engine.CHANNEL_WEIGHTS
    assert engine.channel_weights(engine.WIDE_FACTS_MIN_BUDGET) == large
    for channel in ("keyword_facts", "vector_facts"):
        assert large[channel] == engine.WIDE_FACT_WEIGHT > small[channel]
    # Every other channel weighs the same at both sizes.
    assert {c: w for c, w in large.items() if "facts" not in c} == {
        c: w for c, w in small.items() if "facts" not in c
    }


def test_excerpt_sentences_are_memoised_only_for_short_texts_and_agree() -> None:
    from memory.recall import engine

    text = (
        "Melanie: I painted a sunrise last week. It took three days! Then the lake [shares "
        "a photo of a lake]. Would you like to paint with me?"
    )
    assert engine._sentences(text) == engine._split_sentences(text)
    assert [s for s, _ in engine._sentences(text)][1] == "It took three days!"
    assert engine._sentences(text)[0][1] >= {"paint", "sunrise", "melanie"}
    before = engine._sentences_cached.cache_info().currsize
    long_text = "A sentence about painting. " * (engine.SENTENCES_CACHED_CHARS // 20)
    assert engine._sentences(long_text) == engine._split_sentences(long_text)
    assert engine._sentences_cached.cache_info().currsize == before  # not kept
    # The same excerpt whether the split came from the memo or not.
    engine._sentences_cached.cache_clear()
    first = excerpt(text, focus={"lake"}, max_tokens=20)
    assert excerpt(text, focus={"lake"}, max_tokens=20) == first and "lake" in first
