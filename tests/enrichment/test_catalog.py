"""The predicate catalog: its shape, lookup, proposition mapping and query routing."""

from __future__ import annotations

import pytest

from memory.vocabulary.predicates import (
    FALLBACK_PREDICATE,
    KINDS,
    PREDICATES,
    predicate_get,
    predicate_map,
    predicates_route,
    stem,
)


def test_catalog_is_big_unique_and_covers_every_kind() -> None:
    names = [p.name for p in PREDICATES]
    assert len(PREDICATES) >= 40
    assert len(names) == len(set(names))
    assert {p.kind for p in PREDICATES} == set(KINDS)
    for predicate in PREDICATES:
        assert predicate.cardinality in ("single", "set")
        assert predicate.conflict == ("supersede" if predicate.cardinality == "single" else "merge")
        assert predicate.phrases and predicate.description


def test_examples_have_the_documented_semantics() -> None:
    assert (predicate_get("lives_in").cardinality, predicate_get("lives_in").conflict) == (
        "single",
        "supersede",
    )
    assert predicate_get("works_at").cardinality == "single"
    assert (predicate_get("likes").cardinality, predicate_get("likes").conflict) == ("set", "merge")
    assert predicate_get("has_plan").kind == "plan"
    assert "moved to" in predicate_get("lives_in").phrases


def test_predicate_get_unknown_raises() -> None:
    with pytest.raises(KeyError):
        predicate_get("lives_on_mars")


def test_fallback_is_a_generic_set_predicate() -> None:
    assert FALLBACK_PREDICATE.cardinality == "set"
    assert FALLBACK_PREDICATE.conflict == "merge"
    assert predicate_get(FALLBACK_PREDICATE.name) is FALLBACK_PREDICATE
    assert FALLBACK_PREDICATE not in PREDICATES


@pytest.mark.parametrize(
    ("relation", "obj", "expected"),
    [
        ("live in", "Oslo", "lives_in"),
        ("moved to", "Paris", "lives_in"),
        ("work at", "Google", "works_at"),
        ("have", "a dog named Rex", "has_pet"),
        ("have", "asthma", "health_condition"),
        ("have", "a meeting with the design team", "meeting"),
        ("have", "a job interview", "meeting"),
        ("speak", "Spanish", "speaks_language"),
        ("upgraded to", "Pro plan", "has_plan"),
        ("went to", "a LGBTQ support group", "attended_event"),
        ("love", "sushi", "likes"),
    ],
)
def test_predicate_map(relation: str, obj: str, expected: str) -> None:
    assert predicate_map(relation_phrase=relation, object_text=obj).name == expected


def test_predicate_map_falls_back_and_never_returns_none() -> None:
    assert (
        predicate_map(relation_phrase="frobnicated", object_text="the widget") is FALLBACK_PREDICATE
    )
    # A lone weak verb is not evidence.
    assert predicate_map(relation_phrase="have", object_text="a feeling") is FALLBACK_PREDICATE


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("Where does Caroline live?", "lives_in"),
        ("when is my dentist appointment", "appointment"),
        ("What is my email?", "email"),
        ("Who is my sister?", "has_sibling"),
        ("What pets do I have?", "has_pet"),
        ("How old am I?", "age"),
        ("Which framework do I prefer?", "prefers_framework"),
        ("What languages does the user speak?", "speaks_language"),
        ("Where do I work?", "works_at"),
        ("What plan am I on?", "has_plan"),
        ("Is the user allergic to anything?", "allergy"),
        ("When is Melanie's birthday?", "birthday"),
    ],
)
def test_predicates_route_first_choice(query: str, first: str) -> None:
    routed = predicates_route(query)
    assert routed and routed[0].name == first, [p.name for p in routed]


def test_predicates_route_food_question() -> None:
    names = [p.name for p in predicates_route("What does the user like to eat?")]
    assert names[0] == "favorite_food"
    assert "likes" in names


def test_predicates_route_empty_when_nothing_matches() -> None:
    assert predicates_route("What is the weather?") == []
    assert predicates_route("") == []


def test_stems_fold_inflections() -> None:
    assert {stem(w) for w in ("live", "lives", "lived", "living")} == {"liv"}
    assert {stem(w) for w in ("study", "studies", "studied")} == {"study"}
    assert stem("went") == stem("go")
    assert stem("meeting") != stem("met")  # the noun, not the verb
