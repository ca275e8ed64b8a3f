"""Tests for the LoCoMo loader quirks and the retrieval metrics (no DB, no model)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.locomo_data import clean_evidence, load_locomo, parse_session_time
from bench.locomo_metrics import (
    Scoreboard,
    all_evidence,
    answer_contained,
    answer_part_contained,
    evidence_recall,
    normalise_answer,
    percentile,
)

TINY_LOCOMO = [
    {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bob",
            "session_2_date_time": "9:00 am on 2 June, 2023",
            "session_2": [
                {"speaker": "Bob", "dia_id": "D2:1", "text": "Back from Paris!"},
            ],
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "Hi Bob!"},
                {
                    "speaker": "Bob",
                    "dia_id": "D1:2",
                    "text": "Look at this.",
                    "blip_caption": "a photo of a red bicycle",
                    "img_url": ["http://example.invalid/x.jpg"],
                },
                {"speaker": "Ann", "dia_id": "D1:3", "text": "Nice!"},
            ],
            # A date without a session, as in one real conversation: must be ignored.
            "session_3_date_time": "10:00 am on 1 July, 2023",
        },
        "qa": [
            {"question": "q1", "answer": 2022, "evidence": ["D1:2; D2:1"], "category": 2},
            {"question": "q2", "answer": "a", "evidence": ["D1:3 D2:1", "D"], "category": 1},
            {"question": "q3", "answer": "b", "evidence": ["D:11:26", "D1:01"], "category": 4},
            {"question": "q4", "answer": "c", "evidence": ["D9:9"], "category": 3},
            {
                "question": "q5",
                "adversarial_answer": "blue",
                "evidence": ["D1:2"],
                "category": 5,
            },
        ],
    }
]


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    path = tmp_path / "locomo_tiny.json"
    path.write_text(json.dumps(TINY_LOCOMO), encoding="utf-8")
    return path


def test_loader_sessions_times_and_captions(tiny_path: Path) -> None:
    [conv] = load_locomo(tiny_path)
    assert (conv.sample_id, conv.speaker_a, conv.speaker_b) == ("conv-x", "Ann", "Bob")
    assert [t.dia_id for t in conv.turns] == ["D1:1", "D1:2", "D1:3", "D2:1"]
    assert [t.session for t in conv.turns] == [1, 1, 1, 2]
    first, photo, third, _ = conv.turns
    assert first.time == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    # One minute per turn inside a session keeps the order strict.
    assert third.time == datetime(2023, 5, 8, 13, 58, tzinfo=UTC)
    assert first.blip_caption is None and first.content == "Ann: Hi Bob!"
    assert photo.blip_caption == "a photo of a red bicycle"
    assert photo.content == "Bob: Look at this. [shares a photo: a photo of a red bicycle]"


def test_loader_questions_and_evidence_cleaning(tiny_path: Path) -> None:
    [conv] = load_locomo(tiny_path)
    q1, q2, q3, q4, q5 = conv.questions
    assert q1.answer == "2022" and q1.category == 2
    assert q1.evidence == ["D1:2", "D2:1"]
    assert q2.evidence == ["D1:3", "D2:1"]
    assert q3.evidence == ["D1:1"]  # "D:11:26" dropped, zero padding removed
    assert q4.evidence == []  # names no turn of the conversation
    assert q5.answer == "" and q5.adversarial_answer == "blue" and q5.category == 5


def test_clean_evidence_without_known_ids() -> None:
    assert clean_evidence(["D8:6; D9:17", "D8:6 D9:17", "D", "D30:05"]) == [
        "D8:6",
        "D9:17",
        "D30:5",
    ]


def test_parse_session_time() -> None:
    assert parse_session_time("12:09 am on 13 September, 2023") == datetime(
        2023, 9, 13, 0, 9, tzinfo=UTC
    )


def test_normalise_answer() -> None:
    assert normalise_answer("The  Quick, brown fox!") == "quick brown fox"
    assert normalise_answer("An apple a day") == "apple day"
    assert normalise_answer("May 1, 2023") == "1 may 2023"
    assert normalise_answer("24June, 2022") == "24 june 2022"
    assert normalise_answer("[2023-05-08 13:56] Ann: hi") == "8 may 2023 13 56 ann hi"


def test_answer_contained() -> None:
    context = "[2023-05-08 13:56] Ann: I adopted Luna, a black cat!"
    assert answer_contained("a black cat", context)
    assert answer_contained("8 May 2023", context)
    assert answer_contained("May 8, 2023", context)
    assert answer_contained("May 2023", context)
    assert answer_contained("2023", context)
    assert not answer_contained("7 May 2023", context)
    # Whole words only, and an empty answer is never contained.
    assert not answer_contained("lun", context)
    assert not answer_contained("", context)
    assert not answer_contained("no", "I know")
    # Relative temporal answers must appear verbatim.
    assert not answer_contained("The week before 8 May 2023", context)


def test_answer_part_contained() -> None:
    assert answer_part_contained("Toronto, Canada", "I moved to Toronto.")
    assert answer_part_contained("pottery and painting", "painting is fun")
    assert not answer_part_contained("Toronto, Canada", "I moved to Paris.")


def test_evidence_recall_and_all_evidence() -> None:
    assert evidence_recall(["D1:1", "D1:2"], ["D1:2", "D3:3"]) == 0.5
    assert evidence_recall(["D1:1"], ["D1:1"]) == 1.0
    assert all_evidence(["D1:1", "D1:2"], ["D1:2", "D1:1", "D9:9"])
    assert not all_evidence(["D1:1", "D1:2"], ["D1:2"])
    with pytest.raises(ValueError):
        evidence_recall([], ["D1:1"])


def test_percentile() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(range(101)), 95) == 95.0
    assert math.isnan(percentile([], 50))


def test_scoreboard_summaries_and_render() -> None:
    board = Scoreboard()
    common = {"system": "bm25", "budget": 500, "context": "Ann: I like red bikes", "tokens": 7}
    board.add(category=4, answer="red bikes", evidence=["D1:1"], cited=["D1:1"], **common)
    board.add(category=4, answer="blue", evidence=["D1:2"], cited=["D1:1"], **common)
    board.add(category=1, answer="Ann", evidence=["D1:1", "D1:2"], cited=["D1:1"], **common)
    board.add(category=3, answer="x", evidence=[], cited=[], latency_ms=4.0, **common)
    board.add(
        category=5,
        answer="",
        evidence=["D1:1"],
        cited=[],
        adversarial_answer="red bikes",
        latency_ms=2.0,
        **common,
    )

    single = board.summary("bm25", 500, [4])
    assert single["evidence_recall"] == 50.0
    assert single["all_evidence"] == 50.0
    assert single["contained"] == 50.0
    overall = board.summary("bm25", 500)  # categories 1–4; category 3 has no evidence
    assert overall["questions"] == 4
    assert overall["evidence_recall"] == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert overall["mean_tokens"] == 7
    assert overall["p50_ms"] == 4.0
    adversarial = board.summary("bm25", 500, [5])
    assert adversarial["contained"] == 100.0 and adversarial["evidence_recall"] == 0.0

    table = board.render()
    assert "| bm25 | 500 |" in table
    assert "n=446" not in table and "n=1" in table
    assert table.count("| bm25 | 500 |") == 2  # one row per table


def test_server_timing_parse() -> None:
    from bench.locomo import ServerTiming

    assert ServerTiming.parse("cache;desc=hit, app;dur=2.07") == ServerTiming(2.07, "hit")
    assert ServerTiming.parse("app;dur=0.50") == ServerTiming(0.5, None)
    assert ServerTiming.parse("") == ServerTiming(None, None)
