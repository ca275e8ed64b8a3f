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
            ["answer me in short bullet points"],
        ),
        ("Please reply in German from now on.", ["reply in German"]),
        (
            "Always show the code first and explain after.",
            ["show the code first and explain after"],
        ),
        ("Please use the metric system with me.", ["use the metric system"]),
        (
            "Please don't give me medical advice, just point me to a doctor.",
            ["don't give me medical advice"],
        ),
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


# Standing rules in general form (issue #15): an imperative or a norm about the assistant's
# work with a marker that makes it standing. Written for this test, not taken from a
# benchmark set.
@pytest.mark.parametrize(
    "text",
    [
        "Always use metric units when you give me measurements.",
        "Never wrap SQL keywords in lowercase, I like them uppercase.",
        "Put type hints on every function signature.",
        "Format dates as day-month-year in everything you write for me.",
        "When you recommend a book, tell me how long it is.",
        "Whenever you quote a price, give it in euros as well.",
        "Every time you mention a paper, cite its DOI.",
        "Label each code block with its language.",
        "No exclamation marks in anything you draft for me.",
        "No jargon in the summaries you write for my manager.",
        "Emails you draft for me should end with just my first name.",
        "Code samples should never use global variables.",
        "Variable names in examples must always be in English.",
        "Don't ever recommend paid tools without a free alternative.",
        "From now on, sort lists alphabetically.",
        "Any recipe you suggest, list the calories next to it.",
        "If you ever mention a command that deletes files, warn me first.",
        "Ask me before adding any new dependency.",
        "Mention the Python version whenever a feature needs one.",
        "Explain regular expressions part by part when you use them.",
        "When answering maths questions, show every step.",
        "One idea per paragraph, please.",
        "Keep variable names short in any snippet you give me.",
        "I want you to always double-check the units.",
        "Use tabs for indentation, never spaces.",
    ],
)
def test_standing_rules_for_the_assistant_are_instructions(text: str) -> None:
    assert len(_instructions(text)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Write a story about a nurse in Oslo.",
        "Fix this bug.",
        "Summarise this log.",
        "Summarise this log in bullet points.",
        "Write tests for the parser.",
        "Fix every typo in this document.",
        "List every file in the repo.",
        "When you get a chance, summarise this log.",
        "Tell me when you're done.",
        "Whenever you're ready, send me the draft.",
        "What if you always answered in French?",
        "Would it help if you never used emojis?",
        "If you always reply in French, I'll learn faster.",
        "My manager always tells me to use tabs.",
        "Kids should always wear helmets.",
        "I always use tabs.",
        "Never give up on what you love.",
        "Always follow your dreams.",
        "Put every chair back in the hall after the party.",
        "Tell me what you recommend for dinner.",
        "Use the same approach as yesterday.",
        "Every time I run the tests, they fail.",
        "No worries, take your time.",
        "Give me a recipe for lasagne.",
        "Could you translate this paragraph into Spanish?",
        "Make sure you lock the door tonight.",
        "People should always be kind to strangers.",
        "Any idea why the build fails?",
        "Coffee should always be hot.",
        "The kitchen should always be tidy.",
        # Advice about the user's life, with the same markers.
        "Make sure every guest has a drink.",
        "Add some salt whenever you taste it.",
        "Ask your doctor before you start any new supplement.",
        "One drink per night is my limit.",
        "Keep every receipt when you travel for work.",
        "Order pizza whenever you feel like it.",
    ],
)
def test_one_off_tasks_questions_and_opinions_are_not_instructions(text: str) -> None:
    assert _instructions(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Put every command in its own code block so I can copy them one at a time.",
            "put every command in its own code block",
        ),
        ("I'd like you to always double-check the units.", "double-check the units"),
        (
            "Keep your answers short please: bullet points at most.",
            "keep your answers short: bullet points at most",
        ),
        (
            "When you recommend a book, tell me how long it is.",
            "when you recommend a book, tell me how long it is",
        ),
    ],
)
def test_a_standing_rule_keeps_its_condition_and_drops_its_reason(text: str, expected: str) -> None:
    assert _instructions(text) == [expected]


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


# Issue #15, fifth round: three more shapes of a standing instruction, each checked on
# paraphrases written for this file before the rule was written.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A request to stop or to always, asked as a question; a closing "every time" is
        # what makes it standing, not part of it.
        ("Can you stop apologising in every reply?", ["stop apologising in every reply"]),
        ("Could you always include the sources you used?", ["include the sources you used"]),
        (
            "Can you quit adding a summary at the end every time?",
            ["quit adding a summary at the end"],
        ),
        # A liking for how the assistant works.
        ("I prefer it when you give me examples first.", ["give me examples first"]),
        ("I like it when you keep things brief.", ["keep things brief"]),
        (
            "I love it when you explain the why behind an answer.",
            ["explain the why behind an answer"],
        ),
    ],
)
def test_asked_and_liked_standing_instructions(text: str, expected: list[str]) -> None:
    assert _instructions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Can you explain how vaccines work?",
        "Could you stop for a second and tell me the time?",
        "I prefer when my coffee is strong.",
        "I love it when you're in a good mood.",
    ],
)
def test_one_off_questions_and_other_likings_are_not_instructions(text: str) -> None:
    assert _instructions(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Got it, I'll answer in Spanish from now on.", ["answer in Spanish"]),
        ("Understood, no more bullet points.", ["no more bullet points"]),
        ("Sure thing - I'll stop using emojis.", ["stop using emojis"]),
        (
            "Noted! I'll keep my replies under 100 words going forward.",
            ["keep your replies under 100 words"],
        ),
    ],
)
def test_the_assistant_agreeing_to_a_standing_rule(text: str, expected: list[str]) -> None:
    assert _instructions(text, role="assistant") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sure, I'll explain how vaccines work.",
        "Okay, I'll look into it.",
        "Got it, you live in Leeds.",
        "No more questions from me today, I think we're done.",
    ],
)
def test_an_assistant_promise_for_once_is_no_instruction(text: str) -> None:
    assert _instructions(text, role="assistant") == []
