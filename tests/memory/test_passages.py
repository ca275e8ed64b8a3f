"""Splitting long events into passages (memory.passages)."""

from __future__ import annotations

from memory.passages import (
    PASSAGE_CHARS,
    PASSAGE_MIN_CHARS,
    PASSAGE_OVERLAP_CHARS,
    bounded_prefix,
    passage_spans,
)


def test_a_short_event_is_one_document() -> None:
    assert passage_spans("I moved to Lisbon.") == []
    assert passage_spans("x " * (PASSAGE_MIN_CHARS // 2)) == []


def test_passages_cover_the_text_overlap_and_cut_at_sentences() -> None:
    text = " ".join(f"Sentence {i} tells one thing about topic {i % 7}." for i in range(300))
    spans = passage_spans(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (start, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert end - start <= PASSAGE_CHARS
        assert next_start < end  # overlap: a sentence cut in two is whole in one of them
        assert end - next_start <= PASSAGE_OVERLAP_CHARS + 40
        assert text[end - 2] == "."  # cut after a sentence, not inside a word
        assert text[next_start - 1] == " "  # resumed at a word boundary
    deep = text.index("Sentence 250 tells")
    holding = [text[s:e] for s, e in spans if s <= deep and deep + 40 <= e]
    assert holding and "Sentence 250 tells one thing about topic 5." in holding[0]


def test_text_without_sentence_breaks_is_cut_at_words() -> None:
    text = " ".join(f"word{i}" for i in range(1000))
    spans = passage_spans(text)
    assert all(text[e - 1] == " " or e == len(text) for _, e in spans)
    assert all(text[s - 1] == " " for s, _ in spans[1:])


def test_text_without_whitespace_is_covered_to_its_end() -> None:
    # A base64 blob or a minified line: no sentence or word to cut at. Every character is
    # still in a passage (the resume walk once ran to the end and dropped the rest).
    text = "QUJD" * 2_000
    spans = passage_spans(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (start, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert end - start <= PASSAGE_CHARS
        assert start < next_start < end


def test_a_mebibyte_is_cut_into_about_1300_passages() -> None:
    sentence = "The backup job copied the archive to the second disk at night. "
    text = (sentence * (1024 * 1024 // len(sentence) + 1))[: 1024 * 1024]
    spans = passage_spans(text)
    assert 1_200 <= len(spans) <= 1_700
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(
        next_start < end for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False)
    )


def test_a_bounded_prefix_ends_at_a_sentence() -> None:
    text = " ".join(f"Sentence {i} tells one thing." for i in range(5_000))
    assert bounded_prefix("Short.", 100) == "Short."
    prefix = bounded_prefix(text, 32_000)
    assert text.startswith(prefix)
    assert 24_000 <= len(prefix) <= 32_000
    assert prefix.rstrip().endswith("thing.")
    assert bounded_prefix("x" * 50_000, 32_000) == "x" * 32_000
