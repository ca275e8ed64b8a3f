"""Paraphrase checks for the classes of dev misses and wrong facts (issue #15, sixth round).

Each class below was taken from the dev parts' misses and false positives *as a class*;
every sentence here was written for this file (different words and structure from the
dev items, none of them an item of the fact-eval set), and a rule was changed only where
the class-level fix passes all of its paraphrases. Plain functions, no database.
"""

from __future__ import annotations

import pytest

from enrichment.propositions import CHANGE_FROM, ExtractionInput
from tests.enrichment.test_offline_structure import EVENT_TIME, EXTRACTOR, _facts


def _predicates(text: str, role: str = "user") -> set[str]:
    return {predicate for _, predicate, _, _ in _facts(text, role)}


# 1. "I'm a <qualifier> <pastime noun>": how one spends time or how good one is at it,
#    not a job; a poor self-judgement is no fact at all.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm a keen gardener.", ("user", "hobby", "gardening", False)),
        ("I'm an avid hiker.", ("user", "exercise", "hiking", False)),
        ("I'm a decent photographer.", ("user", "skill", "photography", False)),
        ("I'm a pretty good cook.", ("user", "skill", "cooking", False)),
        ("i'm an amateur baker", ("user", "hobby", "baking", False)),
        ("I'm a runner.", ("user", "exercise", "running", False)),
        ("I'm a climber, mostly bouldering.", ("user", "exercise", "climbing", False)),
    ],
)
def test_a_qualified_pastime_noun_is_no_job(
    text: str, expected: tuple[str, str, str, bool]
) -> None:
    facts = _facts(text)
    assert expected in facts
    assert "job_title" not in {p for _, p, _, _ in facts}


@pytest.mark.parametrize(
    "text",
    ["I'm a lousy driver.", "I'm a terrible singer, sadly.", "Honestly I'm a hopeless cook."],
)
def test_a_poor_self_judgement_is_no_fact(text: str) -> None:
    assert not _predicates(text) & {"job_title", "skill", "hobby", "is_a"}


# 2. "a bit of a X" is a trait; "a big believer in X" is no identity.
@pytest.mark.parametrize(
    ("text", "trait"),
    [
        ("I'm a bit of a perfectionist.", "perfectionist"),
        ("I'm a bit of a neat freak, to be honest.", "neat freak"),
        ("Honestly, I'm a bit of an introvert.", "introvert"),
    ],
)
def test_a_bit_of_a_trait(text: str, trait: str) -> None:
    facts = _facts(text)
    assert ("user", "is_a", trait, False) in facts
    assert "job_title" not in {p for _, p, _, _ in facts}


def test_a_believer_is_no_identity() -> None:
    for text in (
        "I'm a big believer in cold showers.",
        "I'm a firm believer in naps.",
        "I'm a huge believer in writing things down.",
    ):
        assert not _predicates(text) & {"is_a", "job_title"}


# 3. A degree named by its abbreviation is a degree, never a thing owned.
@pytest.mark.parametrize(
    ("text", "degree"),
    [
        ("I have an MSc in statistics.", "msc in statistics"),
        ("I hold a BA in English from Leeds.", "ba in english"),
        ("I've got a BEng from Imperial.", "beng"),
        ("Got my MBA last spring.", "mba"),
    ],
)
def test_a_degree_abbreviation_is_a_degree(text: str, degree: str) -> None:
    facts = _facts(text)
    assert ("user", "degree", degree, False) in facts
    assert "owns" not in {p for _, p, _, _ in facts}


# 4. A pet only mentioned is no fact of having one (the set's convention for relatives),
#    but its own facts stay, and "I have a dog" is still having one.
@pytest.mark.parametrize(
    "text",
    [
        "My cat, who is nine, sleeps all day.",
        "My dog hates the vacuum.",
        "Our hamster escaped again last night.",
    ],
)
def test_a_pet_only_mentioned_is_not_had(text: str) -> None:
    assert "has_pet" not in _predicates(text)


@pytest.mark.parametrize(
    ("text", "pet"), [("I have a dog.", "dog"), ("We adopted a kitten.", "kitten")]
)
def test_having_a_pet_is_still_had(text: str, pet: str) -> None:
    assert ("user", "has_pet", pet, False) in _facts(text)


# 5. "My <relative> <Name> and I <verb> …": we do it; the user is the subject.
@pytest.mark.parametrize(
    ("text", "relation", "fact"),
    [
        ("My brother Sam and I own a food truck.", ("has_sibling", "sam"), ("owns", "food truck")),
        ("My wife Lena and I adopted a greyhound.", ("partner", "lena"), ("has_pet", "greyhound")),
        (
            "My partner Ravi and I just bought a cottage in Kent.",
            ("partner", "ravi"),
            ("owns", "cottage"),
        ),
    ],
)
def test_a_named_relative_and_i_is_we(
    text: str, relation: tuple[str, str], fact: tuple[str, str]
) -> None:
    facts = _facts(text)
    assert ("user", *relation, False) in facts
    assert ("user", *fact, False) in facts
    assert not any(s == relation[1] and p == fact[0] for s, p, _, _ in facts)


# 6. Seeing a named act perform is an event attended, not an activity.
@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("I saw Coldplay at the O2 last month.", "coldplay"),
        ("We saw Phoebe Bridgers live in Dublin.", "phoebe bridgers"),
        ("Went to see Hozier at Red Rocks.", "hozier"),
    ],
)
def test_seeing_a_named_act_is_an_event_attended(text: str, act: str) -> None:
    facts = _facts(text)
    assert ("user", "attended_event", act, False) in facts
    assert "did_activity" not in {p for _, p, _, _ in facts}


# 7. Leave taken and moving in together are life events.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My wife went on maternity leave in May.", ("wife", "life_event", "maternity leave")),
        ("I went on paternity leave last week.", ("user", "life_event", "paternity leave")),
        ("Jo and I moved in together in June.", ("user", "life_event", "moved in together")),
        ("We just moved in together.", ("user", "life_event", "moved in together")),
    ],
)
def test_leave_and_moving_in_together_are_life_events(
    text: str, expected: tuple[str, str, str]
) -> None:
    facts = _facts(text)
    assert any((s.removeprefix("my "), p, o) == expected for s, p, o, _ in facts)
    assert "did_activity" not in {p for _, p, _, _ in facts}


# 8. "I've got my <test/exam/ceremony> on …": a date in the diary, not a thing owned.
@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("I've got my driving test on Thursday.", "driving test"),
        ("Got my final exam on Monday.", "final exam"),
        ("I've got my graduation ceremony next month.", "graduation ceremony"),
    ],
)
def test_an_exam_or_ceremony_got_is_scheduled(text: str, event: str) -> None:
    facts = _facts(text)
    assert ("user", "scheduled_event", event, False) in facts
    assert not {p for _, p, _, _ in facts} & {"owns", "vehicle", "achievement"}


# 9. A state set in a past frame is not a current fact.
@pytest.mark.parametrize(
    "text",
    [
        "When I was a kid I had a hamster.",
        "Back in college I played rugby.",
        "I had a cat growing up.",
        "As a teenager I worked at a cinema.",
    ],
)
def test_a_state_in_a_past_frame_is_not_current(text: str) -> None:
    facts = _facts(text)
    assert not any(
        p in ("has_pet", "exercise", "works_at", "lives_in", "owns") and not neg
        for _, p, _, neg in facts
    )


# 10. Visiting a person is not a place visited.
@pytest.mark.parametrize(
    "text",
    [
        "I sometimes visit my aunt in Galway.",
        "I visited my grandparents last weekend.",
        "We visited our friends over Easter.",
    ],
)
def test_a_person_visited_is_no_place(text: str) -> None:
    facts = _facts(text)
    assert not any(p == "visited_place" and o.startswith(("my ", "our ")) for _, p, o, _ in facts)


# 11. A present verb that only looks past ("need") is no activity; "got back / home / in"
#     is a movement, not a thing owned.
@pytest.mark.parametrize(
    "text",
    [
        "I need a new laptop.",
        "We need a bigger car before the baby comes.",
        "I really need a holiday.",
        "Just got back from a week in Lisbon.",
        "I got home late again.",
        "We got in around midnight after the gig.",
    ],
)
def test_needing_or_getting_back_is_no_activity_or_thing(text: str) -> None:
    assert not _predicates(text) & {"did_activity", "owns"}


# 12. "My <relative> is <Capitalised religion / nationality / diet>" describes them; it is
#     no name (no partner called "Catholic").
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My husband is Catholic.", ("husband", "religion", "catholic")),
        ("My mum is Scottish.", ("mum", "nationality", "scottish")),
        ("My partner is Vegan.", ("partner", "diet", "vegan")),
        ("My boss is Jewish.", ("boss", "religion", "jewish")),
    ],
)
def test_a_capitalised_description_of_a_relative_is_no_name(
    text: str, expected: tuple[str, str, str]
) -> None:
    facts = _facts(text)
    assert any((s.removeprefix("my "), p, o.lower()) == expected for s, p, o, _ in facts)
    assert not {p for _, p, _, _ in facts} & {"partner", "has_parent", "colleague"}


@pytest.mark.parametrize(
    ("text", "name"), [("My wife is Ingrid.", "ingrid"), ("My brother is called Ian.", "ian")]
)
def test_a_relatives_name_is_still_a_name(text: str, name: str) -> None:
    assert any(o == name for _, _, o, _ in _facts(text))


@pytest.mark.parametrize("text", ["I'm Home finally.", "I'm Exhausted lol", "I'm Back!"])
def test_a_capitalised_state_is_no_name(text: str) -> None:
    assert "name" not in _predicates(text)


# 13. "I'm a <nationality / job> living|based|working in <Town>": what one is, and the town;
#     the participle starts a clause of its own.
@pytest.mark.parametrize(
    ("text", "expected", "town"),
    [
        ("I'm a Canadian living in Tokyo.", ("nationality", "canadian"), "tokyo"),
        ("I'm a nurse working in Leeds.", ("job_title", "nurse"), "leeds"),
        ("I'm an American based in Berlin these days.", ("nationality", "american"), "berlin"),
    ],
)
def test_a_participle_after_what_one_is_starts_a_clause(
    text: str, expected: tuple[str, str], town: str
) -> None:
    facts = {(s, p, o.lower(), n) for s, p, o, n in _facts(text)}
    assert ("user", *expected, False) in facts
    assert ("user", "lives_in", town, False) in facts
    assert not any(p == "is_a" for _, p, _, _ in facts)


# 14. A noun that needs what it is about ("a beginner at chess") is no identity cut short;
#     a condition named as a person ("a diabetic") is a health condition.
@pytest.mark.parametrize(
    "text",
    [
        "I'm a total beginner at chess.",
        "I'm a regular at the Red Lion.",
        "I'm a newbie when it comes to gardening.",
        "I'm a complete novice at skiing.",
    ],
)
def test_a_noun_cut_from_its_complement_is_no_identity(text: str) -> None:
    assert "is_a" not in _predicates(text)


@pytest.mark.parametrize(
    "text",
    ["I'm a Type 1 diabetic.", "I'm a diabetic, so go easy on the sugar.", "I'm an asthmatic."],
)
def test_a_condition_named_as_a_person_is_a_condition(text: str) -> None:
    predicates = _predicates(text)
    assert "health_condition" in predicates
    assert "is_a" not in predicates


# 15. "Call me <adjective>, but …" is an idiom: no instruction, no name.
@pytest.mark.parametrize(
    "text",
    [
        "Call me old-fashioned, but I still write cheques.",
        "Call me paranoid, but I never use public wifi.",
        "call me crazy but I actually like Mondays",
    ],
)
def test_call_me_crazy_is_no_instruction(text: str) -> None:
    assert not _predicates(text) & {"assistant_instruction", "name"}


def test_call_me_by_a_name_is_still_an_instruction() -> None:
    assert {"assistant_instruction", "name"} <= _predicates("Call me Sam from now on.")


# 16. A negation inside an embedded clause negates that clause, not the verb phrase:
#     "a guitar I never play" is still owned.
@pytest.mark.parametrize(
    ("text", "predicate", "obj"),
    [
        ("I bought a bike I barely ride.", "owns", "bike"),
        ("I own a suit I never wear.", "owns", "suit"),
        ("We have a dog who never stops barking.", "has_pet", "dog"),
        ("I've got a treadmill that I don't really use.", "owns", "treadmill"),
    ],
)
def test_a_negation_in_an_embedded_clause_is_not_the_clauses(
    text: str, predicate: str, obj: str
) -> None:
    facts = _facts(text)
    assert ("user", predicate, obj, False) in facts
    assert not any(neg for _, _, _, neg in facts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't own a TV.", ("user", "owns", "tv", True)),
        ("I no longer live in Leeds, sadly.", ("user", "lives_in", "leeds", True)),
        ("I don't eat meat anymore.", ("user", "diet", "meat", True)),
    ],
)
def test_a_negation_of_the_verb_phrase_still_negates(
    text: str, expected: tuple[str, str, str, bool]
) -> None:
    assert expected in {(s, p, o.lower(), n) for s, p, o, n in _facts(text)}


# 17. A negation in the second conjunct negates that conjunct only: "single and not
#     looking" is single.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm single and not looking.", ("relationship_status", "single")),
        ("I'm married and not planning on kids.", ("relationship_status", "married")),
        ("I'm vegan and not ashamed of it.", ("diet", "vegan")),
    ],
)
def test_a_negation_in_a_second_conjunct_is_that_conjuncts(
    text: str, expected: tuple[str, str]
) -> None:
    assert ("user", *expected, False) in _facts(text)


# 18. A broken bone is a condition with its participle: "broken" qualifies a language
#     ("broken English") but is part of an injury.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I broke my wrist skiing in February.", ("user", "health_condition", "broken wrist")),
        ("I broke my ankle playing football.", ("user", "health_condition", "broken ankle")),
        ("My son broke his arm at school.", ("son", "health_condition", "broken arm")),
    ],
)
def test_a_broken_bone_keeps_its_participle(text: str, expected: tuple[str, str, str]) -> None:
    assert any((s.removeprefix("my "), p, o.lower()) == expected for s, p, o, _ in _facts(text))


def test_broken_still_qualifies_a_language() -> None:
    assert ("user", "speaks_language", "english", False) in {
        (s, p, o.lower(), n) for s, p, o, n in _facts("I speak broken English and fluent Urdu.")
    }


# 19. An achievement is a noun phrase: where it happened is not part of it.
@pytest.mark.parametrize(
    ("text", "achieved"),
    [
        ("I ran my first marathon in Berlin last year.", "first marathon"),
        ("I won a pub quiz in Dublin.", "pub quiz"),
        ("I finished my first triathlon in Nice.", "first triathlon"),
    ],
)
def test_an_achievement_ends_before_its_place(text: str, achieved: str) -> None:
    assert ("user", "achievement", achieved, False) in _facts(text)


# 20. A child named by age or stage after "have" is a child, not a thing owned.
@pytest.mark.parametrize(
    "text",
    [
        "I have a 3-year-old and a newborn.",
        "I've got a six-year-old who loves dinosaurs.",
        "We have a toddler, so mornings are chaos.",
    ],
)
def test_a_child_by_age_is_no_thing_owned(text: str) -> None:
    predicates = _predicates(text)
    assert "owns" not in predicates


# --- seventh round: classes of dev misses (no fact at all), paraphrases first -----------


def _has(text: str, expected: tuple[str, str, str, bool], role: str = "user") -> bool:
    """The fact is found, the subject compared without a leading "my "."""
    return expected in {
        (s.removeprefix("my "), p, o.lower(), n) for s, p, o, n in _facts(text, role)
    }


# 21. Chat drops the subject of a second phrase after a comma or "and", or of the whole
#     clause: "I'm 40, been a welder …", "Working as a barista in Leeds".
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm 40, been a welder for two decades.", ("user", "job_title", "welder", False)),
        ("I'm 31 and working as a barista in Leeds.", ("user", "job_title", "barista", False)),
        ("im 22, studying law at Durham, second year", ("user", "studies_at", "durham", False)),
        ("im 22, studying law at Durham, second year", ("user", "studies_subject", "law", False)),
        ("Not in Leeds anymore, moved down to London.", ("user", "lives_in", "london", False)),
        ("Working as a barista in Leeds.", ("user", "job_title", "barista", False)),
        ("Living in Oslo since 2019.", ("user", "lives_in", "oslo", False)),
        ("Been living in Oslo since 2019.", ("user", "lives_in", "oslo", False)),
        ("currently based in perth", ("user", "lives_in", "perth", False)),
        (
            "Taking an evening course in Italian at the community centre.",
            ("user", "studies_subject", "italian", False),
        ),
    ],
)
def test_a_dropped_subject_is_the_speaker(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


def test_a_dropped_subject_doing_it_is_no_activity() -> None:
    facts = _facts("So I'm a nurse in Cardiff, been doing it nine years.")
    assert ("user", "job_title", "nurse", False) in facts
    assert "did_activity" not in {p for _, p, _, _ in facts}


# 22. A habit or sport coordinated with an age: "is 71 and still cycles every day".
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My grandad is 90 and still swims every morning.", ("grandad", "exercise", "swimming")),
        ("My aunt is 60 and runs every weekend.", ("aunt", "exercise", "running")),
        ("I'm 70 and still run every morning.", ("user", "exercise", "running")),
    ],
)
def test_a_habit_beside_an_age(text: str, expected: tuple[str, str, str]) -> None:
    assert _has(text, (*expected, False))


# 23. Relatives by the names families use ("nan", "grandad", "stepbrother").
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My nan lives in Cork.", ("nan", "lives_in", "cork", False)),
        ("My stepbrother works at Tesco.", ("stepbrother", "works_at", "tesco", False)),
        ("My granny is 94.", ("granny", "age", "94", False)),
        ("My grandad Joe lives in Leeds.", ("user", "has_relative", "joe", False)),
    ],
)
def test_family_words_are_relatives(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


# 24. Plural relatives who share a job: "are both teachers".
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My uncles are both plumbers.", ("uncles", "job_title", "plumber", False)),
        ("My parents are doctors.", ("parents", "job_title", "doctor", False)),
        ("My sisters are postmen, believe it or not.", ("sisters", "job_title", "postman", False)),
    ],
)
def test_plural_relatives_share_a_job(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


def test_a_plural_state_is_no_job() -> None:
    for text in ("My parents are retired.", "My kids are twins.", "My parents are both fine."):
        assert "job_title" not in _predicates(text)


# 25. Favourites in chat's shapes: spelt "fave"/"fav", "X is my Y of choice", and asked of
#     oneself then answered.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Blue's my fave colour.", ("user", "favorite_color", "blue", False)),
        ("my fav band is Blur", ("user", "favorite_music", "blur", False)),
        ("my favrite food is ramen", ("user", "favorite_food", "ramen", False)),
        (
            "Python is my language of choice.",
            ("user", "prefers_programming_language", "python", False),
        ),
        ("Flask is my framework of choice.", ("user", "prefers_framework", "flask", False)),
        ("Tea is my drink of choice.", ("user", "likes", "tea", False)),
        ("Favourite film? Easily Alien.", ("user", "favorite_movie", "alien", False)),
        ("Favourite band of all time? Probably Queen.", ("user", "favorite_music", "queen", False)),
        ("Fave book? Has to be Dune!", ("user", "favorite_book", "dune", False)),
    ],
)
def test_favourites_in_chat_shapes(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


def test_a_favourite_answer_quotes_both_sentences() -> None:
    text = "Favourite film? Easily Alien."
    item = ExtractionInput(content=text, event_type="message", role="user", event_time=EVENT_TIME)
    (found,) = EXTRACTOR.extract(item).propositions
    assert (found.source_text, found.start, found.end) == (text, 0, len(text))


# 26. A programming language written is the one preferred ("I mostly write TypeScript").
@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I mostly write TypeScript these days.", "typescript"),
        ("I write Rust at work.", "rust"),
        ("I mainly write Python for data work.", "python"),
    ],
)
def test_a_language_written_is_preferred(text: str, language: str) -> None:
    assert _has(text, ("user", "prefers_programming_language", language, False))


def test_prose_written_stays_a_hobby() -> None:
    assert _has("I write short stories.", ("user", "hobby", "short stories", False))


# 27. Chat's past events without a subject; one class done is an activity.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Saw Wicked in London with my sister.", ("user", "attended_event", "wicked", False)),
        ("Saw Hamilton on Broadway, loved it.", ("user", "attended_event", "hamilton", False)),
        ("I did a spin class this morning.", ("user", "did_activity", "spin class", False)),
        ("We did a cooking class in Rome.", ("user", "did_activity", "cooking class", False)),
    ],
)
def test_chat_past_events(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


def test_a_thing_seen_is_no_event() -> None:
    assert not _facts("Saw a fox in the garden.")


# 28. A collection is a hobby.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I collect old vinyl records.", ("user", "hobby", "old vinyl records", False)),
        ("My brother collects Lego sets.", ("brother", "hobby", "lego sets", False)),
        ("I collect stamps.", ("user", "hobby", "stamps", False)),
    ],
)
def test_a_collection_is_a_hobby(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


# 29. The assistant glad to learn a fact restates it ("Great to hear you're a … fan").
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Great to hear you're a Liverpool fan!", ("user", "likes", "liverpool", False)),
        ("Nice to know you are a Chelsea fan.", ("user", "likes", "chelsea", False)),
        ("Cool that you're learning Korean.", ("user", "learning", "korean", False)),
    ],
)
def test_the_assistant_glad_to_learn(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected, role="assistant")


# 30. A diary entry without a verb: "Dentist appointment on Thursday".
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dentist appointment on Thursday.", ("user", "appointment", "dentist appointment")),
        ("Quarterly review with my manager on Monday.", ("user", "meeting", "quarterly review")),
        ("Flight to Rome at 6am tomorrow.", ("user", "scheduled_event", "flight to rome")),
    ],
)
def test_a_diary_fragment(text: str, expected: tuple[str, str, str]) -> None:
    assert _has(text, (*expected, False))


def test_a_diary_fragment_told_in_the_past_is_none() -> None:
    for text in ("Meeting was boring today.", "The exam on Friday went fine."):
        assert not _facts(text)


# 31. Change statements in chat's shapes (supersede pairs written for this file: the
#     new value must be read, and the old one named so that it can be retired).
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Packed everything up and relocated to Edinburgh last month.",
            ("user", "lives_in", "edinburgh", False),
        ),
        ("Sold the Fiesta and bought a Kia Niro.", ("user", "vehicle", "kia niro", False)),
        (
            "I switched from Windows to Linux over the weekend.",
            ("user", "related_to", "linux", False),
        ),
        ("Please use my new email, ana@new.org.", ("user", "email", "ana@new.org", False)),
        ("I'm in a relationship now!", ("user", "relationship_status", "in a relationship", False)),
        (
            "Left Spotify, now freelancing as a consultant.",
            ("user", "job_title", "consultant", False),
        ),
        ("I'm driving a Ford Focus these days.", ("user", "vehicle", "ford focus", False)),
    ],
)
def test_change_statements_in_chat_shapes(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


# 32. The old value of a change is named, to be retired by the Map stage: "X instead of
#     Y", a named employer left for a role, a car sold, a course given up for another.
@pytest.mark.parametrize(
    ("text", "new", "old"),
    [
        ("These days I use Obsidian instead of Notion.", ("uses_tool", "obsidian"), "notion"),
        ("I use Linux now instead of Windows.", ("uses_tool", "linux"), "windows"),
        ("Left Spotify, now freelancing as a consultant.", ("job_title", "consultant"), "spotify"),
        ("Sold the Fiesta and bought a Kia Niro.", ("vehicle", "kia niro"), "fiesta"),
    ],
)
def test_the_old_value_of_a_change_is_named(text: str, new: tuple[str, str], old: str) -> None:
    item = ExtractionInput(content=text, event_type="message", role="user", event_time=EVENT_TIME)
    found = EXTRACTOR.extract(item).propositions
    assert any((p.predicate, p.object_text.lower()) == new and not p.negated for p in found)
    assert any(
        p.relation_phrase == CHANGE_FROM and p.negated and p.object_text.lower() == old
        for p in found
    )


def test_a_course_given_up_for_another() -> None:
    facts = _facts("I gave up Spanish and I'm learning Italian now.")
    assert {("user", "learning", "italian", False), ("user", "learning", "spanish", True)} <= {
        (s, p, o.lower(), n) for s, p, o, n in facts
    }


def test_a_trip_driven_is_no_vehicle() -> None:
    for text in ("I'm driving Sam to school.", "I'm driving my mum to the airport."):
        assert "vehicle" not in _predicates(text)


# 33. A habit told with "go" and a frequency is exercise, a hobby or a routine, not an
#     activity done once.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I go for a run every morning.", ("user", "exercise", "running")),
        ("Every morning I go for a 5k run.", ("user", "exercise", "running")),
        ("I go swimming every Friday.", ("user", "exercise", "swimming")),
        ("I go to yoga twice a week.", ("user", "exercise", "yoga")),
        ("My dad goes fishing every weekend.", ("dad", "hobby", "fishing")),
        ("I go to church every Sunday.", ("user", "routine", "go to church")),
    ],
)
def test_a_habit_told_with_go(text: str, expected: tuple[str, str, str]) -> None:
    assert _has(text, (*expected, False))
    assert "did_activity" not in _predicates(text)


def test_going_somewhere_once_is_no_habit() -> None:
    assert _has("I went to Spain last summer.", ("user", "visited_place", "spain", False))
    assert not _predicates("I went to church on Sunday.") & {"routine", "exercise"}


# --- classes found by probing with sentences of my own (no set item behind them) --------


# 34. Living with someone somewhere: the place, whoever the someone is.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My brother lives with his girlfriend in Cardiff.", ("brother", "lives_in", "cardiff")),
        ("My mum lives with her new partner in Leeds.", ("mum", "lives_in", "leeds")),
        ("I live with Sam in Hackney.", ("user", "lives_in", "hackney")),
    ],
)
def test_living_with_someone_somewhere(text: str, expected: tuple[str, str, str]) -> None:
    assert _has(text, (*expected, False))


# 35. "<Name> is my <relation>": the relation, named.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sam is my brother.", ("user", "has_sibling", "sam", False)),
        ("Maya is my daughter, she's 12.", ("user", "has_child", "maya", False)),
        ("Jo is my best friend.", ("user", "friend_of", "jo", False)),
        ("Biscuit is our dog.", ("user", "has_pet", "biscuit", False)),
    ],
)
def test_a_name_is_my_relative(text: str, expected: tuple[str, str, str, bool]) -> None:
    assert _has(text, expected)


def test_a_place_is_my_home_is_no_relative() -> None:
    assert not _predicates("London is my home.") & {"has_sibling", "friend_of", "partner"}


# 36. Relatives counted, then named in apposition: each name.
@pytest.mark.parametrize(
    ("text", "predicate", "names"),
    [
        ("I have two sisters, Amy and Beth.", "has_sibling", {"amy", "beth"}),
        ("I've got three cats: Miso, Tofu and Bean.", "has_pet", {"miso", "tofu", "bean"}),
        ("I have a brother, Tom.", "has_sibling", {"tom"}),
    ],
)
def test_relatives_named_in_apposition(text: str, predicate: str, names: set[str]) -> None:
    assert names <= {o.lower() for _, p, o, _ in _facts(text) if p == predicate}


def test_a_comment_after_the_count_is_no_name() -> None:
    assert ("user", "has_child", "two kids", False) in _facts("I have two kids, which is a lot.")


# 37. A wish about how the assistant works, in the subjunctive past: an instruction.
@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("I'd prefer if you didn't use bullet points.", "don't use bullet points"),
        ("I'd rather you didn't use emojis.", "don't use emojis"),
        ("I'd prefer it if you kept replies short.", "keep replies short"),
        ("I would rather you explained things step by step.", "explain things step by step"),
    ],
)
def test_a_wish_about_the_assistant_is_an_instruction(text: str, told: str) -> None:
    assert _has(text, ("user", "assistant_instruction", told, False))


def test_a_wish_of_ones_own_is_no_instruction() -> None:
    for text in ("I'd rather stay in tonight.", "I'd prefer tea."):
        assert "assistant_instruction" not in _predicates(text)


# 38. A school named by its kind of school ("Oakwood Primary") is where one studies.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My son goes to Oakwood Primary.", ("son", "studies_at", "oakwood primary")),
        (
            "My girl goes to Hillside Secondary.",
            ("girl", "studies_at", "hillside secondary"),
        ),
        ("The twins go to Little Oaks Nursery.", None),
    ],
)
def test_a_school_by_its_kind(text: str, expected: tuple[str, str, str] | None) -> None:
    if expected is None:  # an unnamed subject: no relation fact, and no place visited
        assert "visited_place" not in _predicates(text)
    else:
        assert _has(text, (*expected, False))


# 39. A baby on the way is a life event; a baby shower is none.
@pytest.mark.parametrize(
    "text", ["I'm expecting a baby in May.", "We're having a baby!", "We're expecting twins."]
)
def test_a_baby_on_the_way(text: str) -> None:
    assert _has(text, ("user", "life_event", "expecting baby", False))


def test_a_baby_shower_is_no_baby() -> None:
    assert "life_event" not in _predicates("I'm having a baby shower on Sunday.")


# 40. "off to <Place>" is going there; "born in X but raised in Y" both origins.
def test_off_to_a_place_and_raised_in() -> None:
    assert _has("We're off to Crete next week.", ("user", "plans_to", "go to crete", False))
    assert not _facts("I'm off to bed.")
    facts = _facts("I was born in Lagos but raised in London.")
    assert {
        ("user", "from_location", "lagos", False),
        ("user", "from_location", "london", False),
    } <= facts


# 41. A role "of" a field needs no article: "I'm head of marketing at Bloom".
@pytest.mark.parametrize(
    ("text", "title", "employer"),
    [
        ("I'm head of marketing at Bloom.", "head of marketing", "bloom"),
        ("I'm director of operations at Acme.", "director of operations", "acme"),
        ("I'm VP of sales at Initech.", "vp of sales", "initech"),
    ],
)
def test_a_role_of_a_field(text: str, title: str, employer: str | None) -> None:
    facts = {(p, o.lower()) for _, p, o, _ in _facts(text)}
    assert ("job_title", title) in facts
    if employer:
        assert ("works_at", employer) in facts


def test_head_of_the_family_is_no_job() -> None:
    assert not _predicates("My dad is head of the family.") & {"job_title", "works_at"}


# 42. A pet's breed in apposition before its name: the name.
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("We got a puppy, a beagle called Pip.", "pip"),
        ("I have a dog, a collie named Bess.", "bess"),
        ("We adopted a cat, a tabby called Moss.", "moss"),
    ],
)
def test_a_breed_in_apposition_before_the_name(text: str, name: str) -> None:
    assert _has(text, ("user", "has_pet", name, False))


# 43. A season left at the end of a plan is when, not what.
@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("I'm moving to Canada in the spring.", "move to canada"),
        ("We're going to Spain in the summer.", "go to spain"),
        ("I'm moving to Leeds next autumn.", "move to leeds"),
    ],
)
def test_a_season_is_no_part_of_a_plan(text: str, plan: str) -> None:
    assert _has(text, ("user", "plans_to", plan, False))


# 44. "my job / role / boss at <Name>" anywhere in a sentence names the employer; a job
#     left, or an old one, does not.
@pytest.mark.parametrize(
    ("text", "employer"),
    [
        ("I love my job at Google.", "google"),
        ("I'm on maternity leave from my job at Lloyds.", "lloyds"),
        ("My boss at Amazon is great.", "amazon"),
        ("I'm stressed about my new role at Deloitte.", "deloitte"),
    ],
)
def test_my_job_at_names_the_employer(text: str, employer: str) -> None:
    assert _has(text, ("user", "works_at", employer, False))
    assert not _predicates(text) & {"career_interest", "likes"}


def test_an_old_job_is_no_employer() -> None:
    assert "works_at" not in _predicates("My old job at Barclays was awful.")
    assert _has("I quit my job at Barclays.", ("user", "works_at", "barclays", True))


# --- Eighth round (issue #15): classes found by probing own sentences; structural causes.


# 45. A relative named by "is called X" / "'s name is X" is who a later "he/she" in the same
#     message is.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My girlfriend is called Hana and she's a dentist.", ("Hana", "job_title", "dentist")),
        ("My husband's name is Olu and he works at Arup.", ("Olu", "works_at", "arup")),
        ("my cousin is named Rafi, he lives in Haifa", ("Rafi", "lives_in", "haifa")),
        ("Our son is called Theo. He is seven.", ("Theo", "age", "seven")),
    ],
)
def test_a_name_given_is_who_he_or_she_is(text: str, expected: tuple[str, str, str]) -> None:
    subject, predicate, obj = expected
    assert _has(text, (subject.lower(), predicate, obj, False))


# 46. A non-restrictive modifier between a relative and the verb (an age, a noun phrase in
#     apposition, "who's …") says something about them, and the clause goes on.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My nephew Kofi, 14, plays rugby for his school.", ("kofi", "age", "14")),
        ("My grandad, 91, still drives.", ("grandad", "age", "91")),
        ("Our daughter Zara, aged 6, loves horses.", ("zara", "age", "6")),
        ("My aunt Rita, a retired teacher, lives in Goa.", ("rita", "lives_in", "goa")),
        ("My brother, a chef in Lyon, is getting married.", ("brother", "job_title", "chef")),
        ("My neighbour Tess, who's 80, walks everywhere.", ("tess", "age", "80")),
        ("My friend Ines, who works at Airbus, is coming over.", ("ines", "works_at", "airbus")),
    ],
)
def test_a_modifier_in_commas_after_a_relative(text: str, expected: tuple[str, str, str]) -> None:
    subject, predicate, obj = expected
    assert _has(text, (subject, predicate, obj, False))


# 47. "a <role> from <Place>": the role, and where one is from; "from" ends the noun phrase.
@pytest.mark.parametrize(
    ("text", "subject", "title", "origin"),
    [
        ("I'm a carpenter from Galway.", "user", "carpenter", "galway"),
        ("My wife is a doctor from Lagos.", "wife", "doctor", "lagos"),
        ("i'm an accountant from Pune originally", "user", "accountant", "pune"),
    ],
)
def test_a_role_from_a_place(text: str, subject: str, title: str, origin: str) -> None:
    assert _has(text, (subject, "job_title", title, False))
    assert _has(text, (subject, "from_location", origin, False))
    assert "is_a" not in _predicates(text)


# 48. One "be" with a list of complements (an age, noun phrases): each is said of the subject.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm 41, a plumber, and I live in Derby.", ("user", "job_title", "plumber")),
        ("I'm 41, a plumber, and I live in Derby.", ("user", "age", "41")),
        ("I'm a pharmacist, a mum of two and a keen runner.", ("user", "job_title", "pharmacist")),
        ("I'm a pharmacist, a mum of two and a keen runner.", ("user", "exercise", "running")),
        ("My brother is 30, an electrician, and a dad.", ("brother", "job_title", "electrician")),
        ("im 23, a student and a barista", ("user", "job_title", "barista")),
    ],
)
def test_one_be_with_a_list_of_complements(text: str, expected: tuple[str, str, str]) -> None:
    subject, predicate, obj = expected
    assert _has(text, (subject, predicate, obj, False))


@pytest.mark.parametrize(
    ("text", "name", "kind", "age"),
    [
        ("Our cat, a tabby called Mitzi, is eleven.", "mitzi", "tabby", "eleven"),
        ("My dog, a spaniel named Alfie, is 4.", "alfie", "spaniel", "4"),
        ("My horse, an Arab called Zain, is nineteen.", "zain", "arab", "nineteen"),
    ],
)
def test_a_named_kind_in_apposition(text: str, name: str, kind: str, age: str) -> None:
    assert _has(text, ("user", "has_pet", name, False))
    assert _has(text, (name, "age", age, False))
    assert not any(" named " in o or " called " in o for _, _, o, _ in _facts(text))


# 49. A role's head noun comes before its prepositional phrase: "a nurse on a cardiac ward"
#     is a nurse (not a "ward"), and the title ends where "on/in/with a …" starts.
@pytest.mark.parametrize(
    ("text", "subject", "title"),
    [
        ("I'm a nurse on a busy surgical ward.", "user", "nurse"),
        ("My son is an engineer on the Azure team.", "son", "engineer"),
        ("I'm a cook in a tiny kitchen in Soho.", "user", "cook"),
        ("i'm a porter in the A&E department", "user", "porter"),
    ],
)
def test_a_role_head_before_its_phrase(text: str, subject: str, title: str) -> None:
    assert _has(text, (subject, "job_title", title, False))
    assert "is_a" not in _predicates(text)


# 50. An assistant's thanks or impression framing the user's fact ("Thanks for letting me
#     know you're …", "It sounds like you …") restates it.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks for letting me know you're a nurse in Cardiff.", ("user", "job_title", "nurse")),
        ("It sounds like you live in Oslo now.", ("user", "lives_in", "oslo")),
        ("Sounds like you're vegan, so here are some ideas.", ("user", "diet", "vegan")),
        ("Thanks for telling me that you work at Ikea.", ("user", "works_at", "ikea")),
    ],
)
def test_an_assistant_thanks_or_impression_restates(
    text: str, expected: tuple[str, str, str]
) -> None:
    subject, predicate, obj = expected
    assert _has(text, (subject, predicate, obj, False), role="assistant")


# 51. A headline before a colon or a dash is no speaker and no subject ("Background: I'm …",
#     "some background on me: i live …", "Quick intro - I'm …").
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Context: I'm a teacher in Leeds.", ("user", "job_title", "teacher")),
        ("some background on me: i live in Hull and i'm a welder", ("user", "lives_in", "hull")),
        ("Quick intro - I'm Sam and I work at Lidl.", ("user", "works_at", "lidl")),
        ("ok so a little about me: I'm 45 and I have three kids", ("user", "age", "45")),
    ],
)
def test_a_headline_is_no_speaker(text: str, expected: tuple[str, str, str]) -> None:
    subject, predicate, obj = expected
    assert _has(text, (subject, predicate, obj, False))


# 52. A scope before an imperative to the assistant ("When you explain maths, …", "If you
#     give me code, …", "For work emails, …") makes it standing; the instruction is the
#     imperative itself.
@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("When you explain physics, go one step at a time.", "go one step at a time"),
        ("If you send me code, add type hints.", "add type hints"),
        ("whenever i ask for a workout, give me the warm-up too", "give me the warm-up too"),
        ("For work emails, keep the tone formal.", "keep the tone formal"),
        ("In the future, please don't use tables.", "don't use tables"),
        ("Remember to call me Doc.", "call me doc"),
    ],
)
def test_a_scope_before_an_instruction(text: str, told: str) -> None:
    assert _has(text, ("user", "assistant_instruction", told, False))


@pytest.mark.parametrize(
    "text",
    [
        "When you get a chance, look at this.",
        "If you see Tom, say hi.",
        "When I was a kid, we lived in Leeds.",
    ],
)
def test_a_scope_before_a_one_off_is_no_instruction(text: str) -> None:
    assert "assistant_instruction" not in _predicates(text)


# 53. Coordinated relatives or pets, each with its own name ("a cat called Mochi and a
#     hamster named Bean", "two kids, Noah and Ava, and a dog named Biscuit", "a brother,
#     Sam, and a sister, Jess"): every name is one.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "We have a rabbit called Clover and a parrot named Kiwi.",
            {("has_pet", "clover"), ("has_pet", "kiwi")},
        ),
        (
            "I've got two daughters, Isla and Maeve, and a cat called Sooty.",
            {("has_child", "isla"), ("has_child", "maeve"), ("has_pet", "sooty")},
        ),
        (
            "I have a brother, Marco, and a sister, Lucia.",
            {("has_sibling", "marco"), ("has_sibling", "lucia")},
        ),
        (
            "i have a son called Ezra and a daughter called Nell",
            {("has_child", "ezra"), ("has_child", "nell")},
        ),
    ],
)
def test_coordinated_named_relatives(text: str, expected: set[tuple[str, str]]) -> None:
    found = {(p, o.lower()) for s, p, o, _ in _facts(text) if s == "user"}
    assert expected <= found


# 54. A participle "based in" after a comma is a second phrase of the same subject: where
#     they live ("I work for Oxfam as a fundraiser, based in Oxford").
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I work for Oxfam as a fundraiser, based in Oxford.", ("user", "lives_in", "oxford")),
        ("My sister is a vet, based in Bath.", ("sister", "lives_in", "bath")),
        ("I'm a freelance editor, based in Lisbon these days.", ("user", "lives_in", "lisbon")),
    ],
)
def test_a_second_phrase_based_in(text: str, expected: tuple[str, str, str]) -> None:
    subject, predicate, obj = expected
    assert _has(text, (subject, predicate, obj, False))


# 55. Introducing a named pet or person ("meet Toby, my puppy", "say hi to Luna, my
#     kitten", "this is Max, our new rescue"): the speaker has them, by name, whatever the
#     speaker prefix; a relative's pet is the relative's. A pet or person only met, or
#     introduced without a name, is no relation of the speaker's (the convention kept from
#     item 4).
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Big week here - meet Pickle, my puppy.", ("user", "has_pet", "pickle")),
        ("Say hello to Juniper, my new kitten!", ("user", "has_pet", "juniper")),
        ("This is Rocket, our rescue mutt.", ("user", "has_pet", "rocket")),
        ("Here's Waffles, our cat, hiding in the laundry.", ("user", "has_pet", "waffles")),
        ("Everyone, meet my new puppy, Nugget.", ("user", "has_pet", "nugget")),
        ("Meet Pumpkin, my guinea pig.", ("user", "has_pet", "pumpkin")),
        ("Meet Dev, my brother.", ("user", "has_sibling", "dev")),
        ("Oh and say hi to Imogen, my wife!", ("user", "partner", "imogen")),
        ("Introducing Pip, my son's gecko.", ("son", "has_pet", "pip")),
        ("You have to meet Clementine, my sister's pony.", ("sister", "has_pet", "clementine")),
    ],
)
def test_an_introduced_pet_or_person_is_had_by_name(
    text: str, expected: tuple[str, str, str]
) -> None:
    assert _has(text, (*expected, False))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kofi: So much news - meet Pickle, my puppy.", ("kofi", "has_pet", "pickle")),
        ("Kofi: Say hi to Juniper, my kitten!", ("kofi", "has_pet", "juniper")),
        ("Kofi: meet my brother, Dev.", ("kofi", "has_sibling", "dev")),
    ],
)
def test_an_introduction_under_a_speaker_prefix(text: str, expected: tuple[str, str, str]) -> None:
    assert _has(text, (*expected, False))


@pytest.mark.parametrize(
    "text",
    [
        "I met a dog called Pickle at the park.",
        "At the park I met Pickle, a neighbour's spaniel.",
        "Did you meet Juniper, my kitten?",
        "If you meet Rocket, my dog, don't feed him.",
        "Meet my new puppy!",
        "Introducing Pip, my son's gecko.",
        "Seriously, my dog!",
    ],
)
def test_a_pet_met_or_unnamed_or_a_relatives_is_not_the_speakers(text: str) -> None:
    assert not any(s == "user" and p == "has_pet" for s, p, _, _ in _facts(text))


@pytest.mark.parametrize("text", ["Meet Dev, my brother.", "Meet Dev Okafor, my brother."])
def test_an_introduction_names_only_the_one_introduced(text: str) -> None:
    names = {o for _, p, o, _ in _facts(text) if p == "has_sibling"}
    assert len(names) == 1
    assert names <= {"dev", "dev okafor"}
