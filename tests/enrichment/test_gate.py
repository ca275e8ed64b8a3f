"""Utility scoring for the Gate stage."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from enrichment.extraction.offline import OfflineExtractor
from enrichment.gate import DEFAULT_GATE_THRESHOLD, utility_score
from enrichment.propositions import USER_SUBJECT, ExtractionInput, Proposition
from memory.vocabulary.predicates import FALLBACK_PREDICATE, predicate_get

DATA = Path(__file__).parent / "data" / "statements.jsonl"


def _proposition(
    object_text: str, *, subject: str = USER_SUBJECT, confidence: float = 0.8
) -> Proposition:
    return Proposition(
        subject=subject,
        relation_phrase="x",
        object_text=object_text,
        source_text=object_text,
        start=0,
        end=len(object_text),
        confidence=confidence,
    )


def _score(object_text: str, predicate: str, **kwargs: object) -> float:
    return utility_score(
        proposition=_proposition(object_text, **kwargs), predicate=predicate_get(predicate)
    )  # type: ignore[arg-type]


def test_score_is_in_range() -> None:
    for text in ("", "it", "Oslo", "a 2018 Toyota Corolla with a roof rack and winter tyres"):
        for name in ("lives_in", "opinion", FALLBACK_PREDICATE.name):
            assert 0.0 <= _score(text, name) <= 1.0


def test_specific_beats_vague() -> None:
    assert _score("Stripe", "works_at") > _score("a company", "works_at")
    assert _score("2018 Toyota Corolla", "owns") > _score("car", "owns")


def test_durable_beats_transient() -> None:
    assert _score("Oslo", "lives_in") > _score("Oslo", "visited_place")
    assert _score("vegetarian", "diet") > _score("vegetarian food is overrated", "opinion")


def test_about_the_user_beats_a_stranger() -> None:
    assert _score("Rome", "lives_in") > _score("Rome", "lives_in", subject="someone")


def test_fallback_predicate_scores_lower() -> None:
    proposition = _proposition("the Berlin marathon")
    assert utility_score(proposition=proposition, predicate=FALLBACK_PREDICATE) < utility_score(
        proposition=proposition, predicate=predicate_get("goal")
    )


def test_filler_is_below_the_threshold() -> None:
    for text, name in (
        ("thanks", FALLBACK_PREDICATE.name),
        ("it", "likes"),
        ("a good time", "plans_to"),
        ("stuff", "owns"),
    ):
        assert _score(text, name) < DEFAULT_GATE_THRESHOLD


def test_labelled_facts_pass_the_threshold() -> None:
    extractor = OfflineExtractor()
    scores = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row["expected"]:
            continue
        item = ExtractionInput(
            row["content"],
            row["type"],
            row["role"],
            datetime.fromisoformat(row["event_time"].replace("Z", "+00:00")),
        )
        for proposition in extractor.extract(item).propositions:
            predicate = (
                predicate_get(proposition.predicate)
                if proposition.predicate
                else FALLBACK_PREDICATE
            )
            scores.append(utility_score(proposition=proposition, predicate=predicate))
    kept = sum(score >= DEFAULT_GATE_THRESHOLD for score in scores)
    assert len(scores) > 200
    assert kept / len(scores) >= 0.98
