"""Standing instructions to the assistant: what the offline extractor reads as one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrichment.extraction.offline import OfflineExtractor
from enrichment.propositions import ExtractionInput
from memory.vocabulary.predicates import predicate_get


def _instructions(text: str, role: str = "user") -> list[str]:
    result = OfflineExtractor().extract(
        ExtractionInput(
            content=text,
            event_type="message",
            role=role,
            event_time=datetime(2024, 5, 1, tzinfo=UTC),
        )
    )
    return [p.object_text for p in result.propositions if p.predicate == "assistant_instruction"]


def test_the_catalog_has_a_set_valued_instruction_kind() -> None:
    predicate = predicate_get("assistant_instruction")
    assert (predicate.kind, predicate.cardinality) == ("instruction", "set")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please always answer me in short bullet points.",
            ["always answer me in short bullet points"],
        ),
        ("Please reply in German from now on.", ["reply in German"]),
        ("Call me by my first name, not Mr. Patel.", ["call me by my first name, not Mr. Patel"]),
        ("Please don't suggest gym workouts, I have a bad knee.", ["don't suggest gym workouts"]),
        (
            "Can you keep your answers under 100 words from now on?",
            ["keep your answers under 100 words"],
        ),
        ("I like your answers short and to the point.", ["answers short and to the point"]),
    ],
)
def test_standing_instructions_are_facts(text: str, expected: list[str]) -> None:
    assert _instructions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Don't give up on your dreams!",
        "Keep pushing and never forget how awesome you are.",
        "Don't be afraid to seek help if you need it.",
        "Explain quantum computing.",
        "Can you give me a recipe for dinner?",
        "Check out this cool pic I snapped last week in the country.",
    ],
)
def test_encouragement_and_one_off_requests_are_not_instructions(text: str) -> None:
    assert _instructions(text) == []


def test_an_assistant_turn_gives_no_instruction() -> None:
    assert _instructions("Always reply in Spanish.", role="assistant") == []


# Object spans (issue #15): a clause tail is not part of the object, an initial's
# period does not end it.
@pytest.mark.parametrize(
    ("text", "predicate", "obj"),
    [
        ("I live in Toronto with my two cats.", "lives_in", "Toronto"),
        ("I currently live in St. Louis.", "lives_in", "St. Louis"),
        ("I use Obsidian for all my notes.", "uses_tool", "Obsidian"),
        ("I quit my job at the bank to go freelance.", "works_at", "bank"),
    ],
)
def test_object_spans_stop_at_clause_tails_not_abbreviations(
    text: str, predicate: str, obj: str
) -> None:
    result = OfflineExtractor().extract(
        ExtractionInput(
            content=text,
            event_type="message",
            role="user",
            event_time=datetime(2024, 5, 1, tzinfo=UTC),
        )
    )
    assert [(p.predicate, p.object_text) for p in result.propositions] == [(predicate, obj)]
