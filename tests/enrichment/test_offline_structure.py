"""The offline extractor on constructions, not sentences (issue #15, generalisation).

Each class of phrasing is checked with several paraphrases written for this file (none of
them is an item of the fact-eval set): the rule must read the construction, whatever the
words. Plain functions, no database.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from enrichment.extraction.offline import OfflineExtractor
from enrichment.propositions import ExtractionInput
from memory.vocabulary.predicates import predicate_get, predicate_map

EVENT_TIME = datetime(2026, 6, 1, 12, tzinfo=UTC)
EXTRACTOR = OfflineExtractor()


def _facts(text: str, role: str = "user") -> set[tuple[str, str, str, bool]]:
    """(subject, predicate, object, negated) as the Map stage would name them."""
    item = ExtractionInput(content=text, event_type="message", role=role, event_time=EVENT_TIME)
    out = set()
    for p in EXTRACTOR.extract(item).propositions:
        try:
            name = predicate_get(p.predicate).name if p.predicate else None
        except KeyError:
            name = None
        name = (
            name or predicate_map(relation_phrase=p.relation_phrase, object_text=p.object_text).name
        )
        obj = re.sub(r"^(?:a|an|the)\s+", "", p.object_text.lower()).strip(" .")
        out.add((p.subject.lower(), name, obj, p.negated))
    return out


@pytest.mark.parametrize(
    ("text", "predicate", "obj"),
    [
        ("Green has always been my favorite color.", "favorite_color", "green"),
        ("Lasagne is probably my favourite food.", "favorite_food", "lasagne"),
        ("Dune will always be my favourite book.", "favorite_book", "dune"),
        ("My favourite author has always been Toni Morrison.", "favorite_book", "toni morrison"),
        ("My favorite movie is probably Heat.", "favorite_movie", "heat"),
    ],
)
def test_object_before_the_copula_of_a_favourite(text: str, predicate: str, obj: str) -> None:
    assert ("user", predicate, obj, False) in _facts(text)


@pytest.mark.parametrize(
    ("text", "predicate", "obj"),
    [
        ("Mushrooms are gross.", "dislikes", "mushrooms"),
        ("Licorice is absolutely disgusting to me.", "dislikes", "licorice"),
        ("Reality TV is so boring.", "dislikes", "reality tv"),
        ("I find golf incredibly boring.", "dislikes", "golf"),
        ("I find knitting really relaxing.", "likes", "knitting"),
        ("I can't get enough of K-dramas.", "likes", "k-dramas"),
        ("I have a soft spot for old Westerns.", "likes", "old westerns"),
        ("Crossword puzzles are my guilty pleasure.", "likes", "crossword puzzles"),
    ],
)
def test_judgements_on_a_thing_are_likings(text: str, predicate: str, obj: str) -> None:
    assert ("user", predicate, obj, False) in _facts(text)


@pytest.mark.parametrize(
    "text",
    [
        "Traffic is awful today.",
        "It is so boring here.",
        "The weather is terrible.",
        "Everything is annoying this week.",
    ],
)
def test_a_judgement_on_the_moment_is_no_liking(text: str) -> None:
    assert not {f for f in _facts(text) if f[1] in ("likes", "dislikes")}


@pytest.mark.parametrize(
    ("text", "predicate", "obj"),
    [
        ("Every Sunday I call my grandmother.", "routine", "call my grandmother"),
        ("I run every morning.", "exercise", "running"),
        ("I swim twice a week.", "exercise", "swimming"),
        ("I journal daily.", "routine", "journal"),
        ("I bake bread every weekend.", "routine", "bake bread"),
        ("I usually walk my dog at 6 am.", "routine", "walk my dog"),
    ],
)
def test_a_frequency_is_when_not_what(text: str, predicate: str, obj: str) -> None:
    assert ("user", predicate, obj, False) in _facts(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm an electrician by trade.", {("job_title", "electrician", False)}),
        (
            "Currently I'm working as a barista while I finish school.",
            {("job_title", "barista", False)},
        ),
        (
            "I'm the CTO of a small fintech startup called Kite.",
            {("job_title", "cto", False), ("works_at", "kite", False)},
        ),
        (
            "I started a new position as head of sales at Zendesk.",
            {("job_title", "head of sales", False), ("works_at", "zendesk", False)},
        ),
        ("I work as a pharmacist at a Walgreens in Ohio.", {("works_at", "walgreens", False)}),
        ("I was laid off from Twitter last week.", {("works_at", "twitter", True)}),
        ("I handed in my notice at Oracle.", {("works_at", "oracle", True)}),
        ("I accepted an offer from Spotify.", {("works_at", "spotify", False)}),
    ],
)
def test_jobs_in_other_words(text: str, expected: set[tuple[str, str, bool]]) -> None:
    facts = {(p, o, n) for _, p, o, n in _facts(text)}
    assert expected <= facts


@pytest.mark.parametrize(
    "text",
    [
        "I've always wanted to get into UX research.",
        "I got promoted last spring.",
        "I have a soft spot for dogs.",
        "I had a hard time sleeping.",
    ],
)
def test_a_perfect_or_an_idiom_with_have_owns_nothing(text: str) -> None:
    assert not {f for f in _facts(text) if f[1] in ("owns", "vehicle")}


def test_a_contrast_tail_does_not_negate_the_clause() -> None:
    assert ("my coworker", "likes", "sushi", False) in _facts("My coworker loves sushi, not me.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Noted, you're allergic to shellfish.", ("user", "allergy", "shellfish", False)),
        (
            "Since you prefer Kotlin, here's the handler in Kotlin.",
            ("user", "prefers", "kotlin", False),
        ),
        ("Got it - you live in Tromsø now.", ("user", "lives_in", "tromsø", False)),
        ("Congrats on moving to Lisbon!", ("user", "lives_in", "lisbon", False)),
        ("Congratulations on getting engaged to Priya!", ("user", "partner", "priya", False)),
    ],
)
def test_the_assistant_restating_the_users_facts(
    text: str, expected: tuple[str, str, str, bool]
) -> None:
    assert expected in _facts(text, role="assistant")


def test_the_assistant_about_itself_or_the_world_states_no_user_fact() -> None:
    for text in ("Noted, I'll keep it short.", "Since it rains a lot there, pack a coat."):
        assert _facts(text, role="assistant") == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My cousins are visiting from Accra.", ("cousins", "lives_in", "accra", False)),
        ("I got my black belt in March.", ("user", "achievement", "black belt", False)),
        (
            "I got my learner's permit last week.",
            ("user", "achievement", "learner's permit", False),
        ),
    ],
)
def test_visitors_and_things_earned(text: str, expected: tuple[str, str, str, bool]) -> None:
    found = {(re.sub(r"^my ", "", s), p, o, n) for s, p, o, n in _facts(text)}
    assert expected in found


@pytest.mark.parametrize(
    "text",
    [
        "We were walking home from the pub when it started to pour.",
        "I was reading on the train when my phone died.",
        "I'm totally stressing about the move.",
    ],
)
def test_a_story_backdrop_or_a_mood_is_no_activity(text: str) -> None:
    assert not {f for f in _facts(text) if f[1] == "did_activity"}


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("I grew up on a sheep farm near Dunedin.", "dunedin"),
        ("I was raised in a tiny village outside Kraków.", "kraków"),
        ("I grew up in a suburb of Houston.", "houston"),
    ],
)
def test_growing_up_somewhere_described_is_the_named_place(text: str, place: str) -> None:
    assert ("user", "from_location", place, False) in _facts(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Allergic to shellfish, btw.", {("allergy", "shellfish")}),
        ("Originally from Lagos, but I live in Leeds now.", {("from_location", "lagos")}),
        ("Based in Tallinn these days.", {("lives_in", "tallinn")}),
        ("I never learnt to swim.", {("skill", "swim")}),
        (
            "We split our time between Oslo and Bergen.",
            {("lives_in", "oslo"), ("lives_in", "bergen")},
        ),
        ("Board games are my thing, the nerdier the better.", {("likes", "board games")}),
    ],
)
def test_chat_shapes_of_plain_facts(text: str, expected: set[tuple[str, str]]) -> None:
    assert expected <= {(p, o) for _, p, o, _ in _facts(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm allergic to latex and wasp stings.", {"latex", "wasp stings"}),
        ("I like Korean and Mexican food.", {"korean food", "mexican food"}),
        ("I take ibuprofen and fish oil.", {"ibuprofen", "fish oil"}),
    ],
)
def test_only_a_modifier_shares_the_head_noun(text: str, expected: set[str]) -> None:
    assert expected <= {o for _, _, o, _ in _facts(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A role held at a named organisation is a job, whatever its noun.
        ("I'm an SRE at Cloudflare.", {("job_title", "sre"), ("works_at", "cloudflare")}),
        ("I'm a PM at Meta.", {("job_title", "pm"), ("works_at", "meta")}),
        ("I'm an associate at McKinsey.", {("job_title", "associate"), ("works_at", "mckinsey")}),
        # A field worked in is the job.
        ("I work in HR at a big law firm.", {("job_title", "hr")}),
        ("I'm in finance at HSBC.", {("job_title", "finance"), ("works_at", "hsbc")}),
        # A duration at a named place.
        ("I've been at Deloitte for six years.", {("works_at", "deloitte")}),
    ],
)
def test_a_role_at_a_named_organisation_is_a_job(text: str, expected: set[tuple[str, str]]) -> None:
    assert expected <= {(p, o) for _, p, o, _ in _facts(text)}


@pytest.mark.parametrize(
    "text", ["I'm a regular at the Crown.", "I'm a member at Equinox.", "I work for myself."]
)
def test_being_somewhere_is_not_always_working_there(text: str) -> None:
    assert not {f for f in _facts(text) if f[1] in ("job_title", "works_at")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A noun-phrase object ends at a preposition, a relative pronoun or a comma.
        ("I went to a Coldplay concert in Cardiff.", {("attended_event", "coldplay concert")}),
        ("I'm building a mobile game about space pirates.", {("works_on", "mobile game")}),
        ("I'm allergic to peanuts in any form.", {("allergy", "peanuts")}),
        # In each item of a list too; a tail lends no head noun to the items before it.
        (
            "Last year I visited Kyoto and Osaka during cherry blossom season.",
            {("visited_place", "kyoto"), ("visited_place", "osaka")},
        ),
        # "of" and a comma-kept place do not end it.
        ("I visited the Isle of Skye in May.", {("visited_place", "isle of skye")}),
        ("My favourite book is The Lord of the Rings.", {("favorite_book", "lord of the rings")}),
        ("I work at Bank of America in the risk team.", {("works_at", "bank of america")}),
    ],
)
def test_a_noun_phrase_object_ends_where_its_tail_starts(
    text: str, expected: set[tuple[str, str]]
) -> None:
    assert expected <= {(p, o) for _, p, o, _ in _facts(text)}


def test_a_list_item_with_a_tail_is_not_a_head_noun_for_the_others() -> None:
    objects = {o for _, p, o, _ in _facts("We visited Kyoto and Osaka during the rainy season.")}
    assert not any("season" in o for o in objects)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A named relative's possessive: the relation, nothing about the relative.
        ("My sister Leah's wedding is in June.", {("user", "has_sibling", "leah", False)}),
        ("My brother Tom's dog is called Rex.", {("user", "has_sibling", "tom", False)}),
        ("My cousin Dev's band played last night.", {("user", "has_relative", "dev", False)}),
        # An employer or school named in apposition to "the company I work for".
        (
            "The company I work for, Atlassian, just announced layoffs.",
            {("user", "works_at", "atlassian", False)},
        ),
        (
            "The school I teach at, Ridgeway, closed for snow today.",
            {("user", "works_at", "ridgeway", False)},
        ),
        ("The uni I study at, Leeds, is huge.", {("user", "studies_at", "leeds", False)}),
        # "got the job at X" is the employer, not a title "job at X".
        ("I got the job at Stripe!", {("user", "works_at", "stripe", False)}),
        ("I got the job at the Louvre.", {("user", "works_at", "louvre", False)}),
    ],
)
def test_relatives_and_workplaces_named_inside_a_sentence(
    text: str, expected: set[tuple[str, str, str, bool]]
) -> None:
    assert _facts(text) == expected


@pytest.mark.parametrize(
    ("text", "names", "relation"),
    [
        (
            "My parents, Ramesh and Geeta, are visiting from Pune next week.",
            {"ramesh", "geeta"},
            "has_parent",
        ),
        ("My kids, Maya and Eli, love the beach.", {"maya", "eli"}, "has_child"),
        ("Our twins, Ada and Cy, start school in September.", {"ada", "cy"}, "has_child"),
    ],
)
def test_two_named_relatives_in_apposition_are_both_relatives(
    text: str, names: set[str], relation: str
) -> None:
    assert {o for s, p, o, _ in _facts(text) if s == "user" and p == relation} == names
