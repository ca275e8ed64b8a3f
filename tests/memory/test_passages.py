"""Splitting long events into passages (memory.passages)."""

from __future__ import annotations

from memory.passages import PASSAGE_CHARS, PASSAGE_MIN_CHARS, PASSAGE_OVERLAP_CHARS, passage_spans


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
