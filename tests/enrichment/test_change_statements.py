"""Statements that change a fact in natural phrasings (issue #15): the change yields the
predicate of the original statement, so the new value supersedes the old, which stays in
history. Statements made up for these tests, not taken from the evaluation set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrichment.extraction.offline import OfflineExtractor
from enrichment.propositions import CHANGE_FROM, CHANGE_TO, ExtractionInput
from memory.models import Fact
from tenants.models import Tenant
from tests.factories import ingest_enriched


def facts_of(text: str) -> set[tuple[str, str | None, str, bool]]:
    result = OfflineExtractor().extract(
        ExtractionInput(
            content=text,
            event_type="message",
            role="user",
            event_time=datetime(2025, 6, 1, tzinfo=UTC),
        )
    )
    return {(p.subject, p.predicate, p.object_text, p.negated) for p in result.propositions}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I quit Initech and joined Globex last spring.",
            {("user", "works_at", "Initech", True), ("user", "works_at", "Globex", False)},
        ),
        (
            "We left Leeds and moved to York.",
            {("user", "lives_in", "Leeds", True), ("user", "lives_in", "York", False)},
        ),
        ("Update: I moved to Porto in May.", {("user", "lives_in", "Porto", False)}),
        ("I'm a pharmacist now.", {("user", "job_title", "pharmacist", False)}),
        ("I'm in Accra these days.", {("user", "lives_in", "Accra", False)}),
        (
            "My new email is kim.lee@example.org.",
            {("user", "email", "kim.lee@example.org", False)},
        ),
        (
            "I changed my name to Ada Obi.",
            {("user", "name", "Ada Obi", False)},
        ),
        (
            "I'm seeing a woman named Iris now.",
            {("user", "partner", "Iris", False)},
        ),
        (
            "I dropped French and started learning Greek.",
            {("user", "learning", "French", True), ("user", "learning", "Greek", False)},
        ),
        (
            "We moved out and got our own place in Ghent.",
            {("user", "lives_in", "Ghent", False)},
        ),
        ("Home for us is Tallinn now.", {("user", "lives_in", "Tallinn", False)}),
        (
            "I'm doing a PhD at Leiden now.",
            {("user", "studies_at", "Leiden", False), ("user", "degree", "PhD", False)},
        ),
    ],
)
def test_change_statements_yield_the_original_predicate(
    text: str, expected: set[tuple[str, str | None, str, bool]]
) -> None:
    assert facts_of(text) >= expected


def test_a_switch_leaves_the_kind_to_the_stored_fact() -> None:
    found = OfflineExtractor().extract(
        ExtractionInput(
            content="I switched from Trello to Linear.",
            event_type="message",
            role="user",
            event_time=datetime(2025, 6, 1, tzinfo=UTC),
        )
    )
    changes = {(p.relation_phrase, p.object_text, p.negated) for p in found.propositions}
    assert changes == {(CHANGE_FROM, "Trello", True), (CHANGE_TO, "Linear", False)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I'm allergic to pollen, dust and cats.",
            {"pollen", "dust", "cats"},
        ),
        ("I love Korean and Peruvian food.", {"Korean food", "Peruvian food"}),
    ],
)
def test_coordinated_objects_are_one_fact_each(text: str, expected: set[str]) -> None:
    assert {obj for _, _, obj, _ in facts_of(text)} == expected


def test_apposed_and_possessive_names() -> None:
    assert facts_of("Marta, my aunt, is a retired pilot.") >= {
        ("user", "has_relative", "Marta", False),
        ("Marta", "job_title", "retired pilot", False),
    }
    assert ("user", "has_pet", "Juno", False) in facts_of("I walk to work with my dog, Juno.")
    assert facts_of("My cousin Leo is a chef in Lyon.") >= {
        ("Leo", "job_title", "chef", False),
        ("Leo", "lives_in", "Lyon", False),
    }


def test_negation_and_hypotheticals_give_no_positive_fact() -> None:
    assert not any(not negated for *_, negated in facts_of("I don't live in Rome anymore."))
    assert facts_of("If I moved to Oslo I would learn Norwegian.") == set()


@pytest.mark.django_db
def test_switched_from_supersedes_the_stored_fact_of_the_old_value(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I use Trello for planning.")
    ingest_enriched(tenant, "I switched from Trello to Linear.", minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate="uses_tool")
    assert {(f.object_text, f.negated, f.status) for f in facts} >= {
        ("Trello", False, "superseded"),
        ("Linear", False, "current"),
    }


@pytest.mark.django_db
def test_a_bare_new_place_takes_the_kind_of_the_current_one(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I work at Initech.")
    ingest_enriched(tenant, "I'm at Globex now.", minutes=5)
    current = Fact.objects.filter(
        tenant=tenant, user_id="u1", predicate="works_at", status="current", negated=False
    )
    assert [f.object_text for f in current] == ["Globex"]
    assert Fact.objects.filter(
        tenant=tenant,
        user_id="u1",
        predicate="works_at",
        object_text="Initech",
        status="superseded",
    ).exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Several verb phrases in a comma list share the subject; "left" takes the kind
        # the verb can leave when the list holds several.
        (
            "I left Initech, moved to Lyon and now work for Globex.",
            {
                ("user", "works_at", "Initech", True),
                ("user", "lives_in", "Lyon", False),
                ("user", "works_at", "Globex", False),
            },
        ),
        (
            "We sold the cottage, moved to Galway and bought a farm.",
            {("user", "owns", "cottage", True), ("user", "lives_in", "Galway", False)},
        ),
        # A particle after "moved" does not change the move.
        ("We moved up to Inverness in May.", {("user", "lives_in", "Inverness", False)}),
        ("I moved back out to Perth last year.", {("user", "lives_in", "Perth", False)}),
        # A headline before the news.
        (
            "So the big news is we packed up and moved to Hobart.",
            {("user", "lives_in", "Hobart", False)},
        ),
        ("The update is that I got a job at Canva.", {("user", "works_at", "Canva", False)}),
        # Schools named with "the"; a degree under way names its subject.
        (
            "I transferred to the University of York this term.",
            {("user", "studies_at", "University of York", False)},
        ),
        (
            "I'm doing a degree in nursing at Keele.",
            {("user", "studies_subject", "nursing", False), ("user", "studies_at", "Keele", False)},
        ),
        # Chat drops "I've".
        ("Turned 41 on Sunday, feeling old.", {("user", "age", "41", False)}),
    ],
)
def test_change_statements_in_other_words(
    text: str, expected: set[tuple[str, str | None, str, bool]]
) -> None:
    assert expected <= facts_of(text)


def test_a_switch_keeps_the_new_name_without_its_reason() -> None:
    found = facts_of("I switched from Safari to Brave for the ad blocking.")
    assert {obj for _, _, obj, negated in found if not negated} == {"Brave"}


@pytest.mark.django_db
def test_switched_from_a_head_supersedes_the_stored_fact_that_names_it(tenant: Tenant) -> None:
    # "the Team plan" was stored; "from Team to Business" names its head only.
    ingest_enriched(tenant, "We're on the Team plan.")
    ingest_enriched(tenant, "I switched us from Team to Business.", minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate="has_plan")
    assert {(f.object_text, f.status) for f in facts if not f.negated} >= {
        ("Team plan", "superseded"),
        ("Business", "current"),
    }


# Issue #15, fifth round: a value that ends without a replacement. The extractor says only
# that the named value ended (`CHANGE_FROM`, no kind); the Map stage finds the held fact.
@pytest.mark.parametrize(
    ("text", "old"),
    [
        ("Pickle passed away in the spring.", "Pickle"),
        ("Biscuit died on Sunday.", "Biscuit"),
        ("I cancelled Premium last week.", "Premium"),
        ("We've scrapped the Madrid plan.", "Madrid"),
        ("I ditched Evernote.", "Evernote"),
    ],
)
def test_an_ended_value_is_a_change_from_it(text: str, old: str) -> None:
    assert _changes(text) == {("user", None, old, True)}


def _changes(text: str) -> set[tuple[str, str | None, str, bool]]:
    result = OfflineExtractor().extract(
        ExtractionInput(
            content=text,
            event_type="message",
            role="user",
            event_time=datetime(2025, 6, 1, tzinfo=UTC),
        )
    )
    return {
        (p.subject, p.predicate, p.object_text, p.negated)
        for p in result.propositions
        if p.relation_phrase == CHANGE_FROM
    }


@pytest.mark.parametrize(
    "text",
    ["I didn't cancel Premium.", "I cancelled the meeting.", "My grandmother passed away in 2019."],
)
def test_no_change_from_without_a_named_value_ended(text: str) -> None:
    assert _changes(text) == set()


def test_a_pet_that_died_is_no_longer_had() -> None:
    assert ("user", "has_pet", "Mochi", True) in facts_of("Our cat Mochi died in March.")


@pytest.mark.django_db
def test_a_pet_that_passed_away_is_kept_in_history(tenant: Tenant) -> None:
    ingest_enriched(tenant, "We have a dog called Pickle.")
    ingest_enriched(tenant, "Pickle passed away last month.", minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate="has_pet")
    assert {(f.object_text, f.negated, f.status) for f in facts} == {
        ("Pickle", False, "superseded"),
        ("Pickle", True, "current"),
    }


@pytest.mark.django_db
def test_a_cancelled_plan_named_by_its_head_is_retired(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I'm on the Premium plan.")
    ingest_enriched(tenant, "I cancelled Premium, I'm on the free version now.", minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate="has_plan")
    assert {(f.object_text, f.status) for f in facts if not f.negated} == {
        ("Premium plan", "superseded"),
        ("free version", "current"),
    }


@pytest.mark.django_db
def test_a_dropped_plan_named_by_its_place_is_retired(tenant: Tenant) -> None:
    ingest_enriched(tenant, "We're planning to move to Madrid next year.")
    ingest_enriched(tenant, "We've scrapped the Madrid plan.", minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate="plans_to")
    assert {(f.negated, f.status) for f in facts if "Madrid" in f.object_text} == {
        (False, "superseded"),
        (True, "current"),
    }


@pytest.mark.parametrize(
    ("first", "relayed", "predicate", "old", "new"),
    [
        (
            "I live in Leeds.",
            "Noted — you've relocated to Bristol, so I'll switch your weather to Bristol.",
            "lives_in",
            "Leeds",
            "Bristol",
        ),
        (
            "I work at Initech.",
            "Got it, you've joined Globex now. Congrats!",
            "works_at",
            "Initech",
            "Globex",
        ),
        (
            "I'm based in Denver.",
            "Understood, you've moved to Austin; I'll use Central time from now on.",
            "lives_in",
            "Denver",
            "Austin",
        ),
    ],
)
@pytest.mark.django_db
def test_an_assistant_relaying_the_users_news_supersedes(
    tenant: Tenant, first: str, relayed: str, predicate: str, old: str, new: str
) -> None:
    ingest_enriched(tenant, first)
    ingest_enriched(tenant, relayed, role="assistant", minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate=predicate)
    assert {(f.object_text, f.status) for f in facts} == {(old, "superseded"), (new, "current")}


@pytest.mark.django_db
def test_an_assistant_claim_that_relays_no_news_still_cannot_replace(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Leeds.")
    ingest_enriched(tenant, "Since you live in Bristol, try the harbour walk.", role="assistant")
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate="lives_in")
    assert {(f.object_text, f.status) for f in facts} == {
        ("Leeds", "current"),
        ("Bristol", "contradicted"),
    }


# Issue #15, eighth round: more ways of saying a held value ended. Each class (a school
# left, a pet lost, a habit or diet given up, a job ended, a plan called off) says only
# that the named value ended (`CHANGE_FROM`, or negated under a kind the words tell); the
# Map stage finds the held fact,
# and with none held nothing is written.
@pytest.mark.parametrize(
    ("text", "old"),
    [
        # a school finished or left
        ("I graduated from Exeter last summer.", "Exeter"),
        ("I dropped out of Warwick in my second year.", "Warwick"),
        ("Finished uni at Cardiff in June.", "Cardiff"),
        ("I finished my degree at Lancaster.", "Lancaster"),
        # a pet lost
        ("We lost Biscuit in the spring.", "Biscuit"),
        ("We had to rehome Pepper.", "Pepper"),
        ("We had to put Smudge down last week.", "Smudge"),
        ("Mittens didn't make it.", "Mittens"),
        # a habit, diet or pastime given up
        ("I stopped being vegetarian in March.", "vegetarian"),
        ("Gave up keto after a month.", "keto"),
        ("I quit pilates, it hurt my back.", "pilates"),
        ("I've gone off tea.", "tea"),
        # a job ended
        ("I retired from Siemens in May.", "Siemens"),
        ("I got laid off from Zalando.", "Zalando"),
        ("I was made redundant from Barclays last year.", "Barclays"),
        ("I'm freelancing now after leaving Atos.", "Atos"),
        # a plan called off
        ("We cancelled the Iceland trip.", "Iceland"),
        ("I've shelved the boat plan.", "boat"),
        ("I changed my mind about the MBA.", "MBA"),
        ("We called off the Peru trip.", "Peru"),
    ],
)
def test_more_ended_values_are_a_change_from_them(text: str, old: str) -> None:
    # Said to have ended: a change from it, or a negated fact of a kind the words tell.
    assert old in {obj for subject, _, obj, negated in facts_of(text) if negated}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Nina and I aren't together anymore.", "Nina"),
        ("Lena and I are no longer together.", "Lena"),
        ("Omar dumped me last month.", "Omar"),
        ("Kit and I called it quits in May.", "Kit"),
    ],
)
def test_a_partner_no_longer_together(text: str, name: str) -> None:
    assert ("user", "partner", name, True) in facts_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "She left me her phone number, I think I'll call tomorrow.",
        "Tom left me a voicemail about the party.",
        "He dumped me at the station and drove off to work.",
        "Priya left me the keys before her trip.",
    ],
)
def test_leaving_something_for_me_is_no_break_up(text: str) -> None:
    assert not [fact for fact in facts_of(text) if fact[1] == "partner"]


@pytest.mark.parametrize(
    ("text", "name"),
    [("Omar left me last spring.", "Omar"), ("Jess left me for her ex.", "Jess")],
)
def test_a_partner_who_left(text: str, name: str) -> None:
    assert ("user", "partner", name, True) in facts_of(text)


def test_a_change_from_a_value_nobody_holds_writes_nothing() -> None:
    from enrichment.gate import DEFAULT_GATE_THRESHOLD, utility_score
    from enrichment.propositions import Proposition
    from memory.vocabulary.predicates import FALLBACK_PREDICATE

    ended = Proposition(
        subject="user",
        relation_phrase=CHANGE_FROM,
        object_text="King's College London",
        source_text="I dropped out of King's College London.",
        start=0,
        end=39,
        negated=True,
    )
    assert utility_score(proposition=ended, predicate=FALLBACK_PREDICATE) < DEFAULT_GATE_THRESHOLD


@pytest.mark.parametrize(
    ("first", "second", "predicate", "old"),
    [
        ("I study at Exeter.", "I graduated from Exeter in July.", "studies_at", "Exeter"),
        ("I'm vegan.", "I stopped being vegan last year.", "diet", "vegan"),
        ("I work at Zalando.", "I got laid off from Zalando.", "works_at", "Zalando"),
        ("We have a rabbit called Smudge.", "We had to put Smudge down.", "has_pet", "Smudge"),
    ],
)
@pytest.mark.django_db
def test_an_ended_value_retires_the_held_fact(
    tenant: Tenant, first: str, second: str, predicate: str, old: str
) -> None:
    ingest_enriched(tenant, first)
    ingest_enriched(tenant, second, minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate=predicate)
    assert {(f.object_text, f.negated, f.status) for f in facts if f.object_text == old} == {
        (old, False, "superseded"),
        (old, True, "current"),
    }


@pytest.mark.django_db
def test_an_ended_value_nobody_held_is_not_stored(tenant: Tenant) -> None:
    ingest_enriched(tenant, "I dropped out of Warwick in my second year.")
    assert not Fact.objects.filter(tenant=tenant, user_id="u1", object_text="Warwick").exists()


# Issue #15, eighth round: the new value of news told in other words (a move across a
# distance, a start at a named place, a hire, a promotion, a school started, a subject
# changed, a home that "is home now"), each with the predicate the held fact has.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We emigrated to Australia in 2023.", ("user", "lives_in", "Australia", False)),
        ("We moved across the country to Seattle.", ("user", "lives_in", "Seattle", False)),
        ("I moved halfway across the world to Perth.", ("user", "lives_in", "Perth", False)),
        ("I've just started at KPMG.", ("user", "works_at", "KPMG", False)),
        ("Started at Monzo on Monday.", ("user", "works_at", "Monzo", False)),
        ("I started at the BBC last month.", ("user", "works_at", "BBC", False)),
        ("Adidas hired me last month.", ("user", "works_at", "Adidas", False)),
        ("I got hired by Canva in May.", ("user", "works_at", "Canva", False)),
        ("Ocado took me on in the spring.", ("user", "works_at", "Ocado", False)),
        ("I've been promoted to office manager.", ("user", "job_title", "office manager", False)),
        ("Got promoted to team lead!", ("user", "job_title", "team lead", False)),
        (
            "I was promoted to head of sales last week.",
            ("user", "job_title", "head of sales", False),
        ),
        ("I started a PhD at St Andrews.", ("user", "studies_at", "St Andrews", False)),
        (
            "I started college at Oxford Brookes in September.",
            ("user", "studies_at", "Oxford Brookes", False),
        ),
        ("Just started uni at Lancaster!", ("user", "studies_at", "Lancaster", False)),
        ("I changed my major to economics.", ("user", "studies_subject", "economics", False)),
        ("I switched my course to nursing.", ("user", "studies_subject", "nursing", False)),
        (
            "I changed my degree to history this term.",
            ("user", "studies_subject", "history", False),
        ),
        (
            "We finally moved out of Dublin, Galway is home now.",
            ("user", "lives_in", "Galway", False),
        ),
        ("Leeds is home these days.", ("user", "lives_in", "Leeds", False)),
        ("Lisbon is our home now.", ("user", "lives_in", "Lisbon", False)),
        ("My new place is in Boulder.", ("user", "lives_in", "Boulder", False)),
        ("Our new house is in Didsbury, we moved in May.", ("user", "lives_in", "Didsbury", False)),
        ("My new flat's in Leith.", ("user", "lives_in", "Leith", False)),
    ],
)
def test_the_new_value_of_news_in_other_words(
    text: str, expected: tuple[str, str | None, str, bool]
) -> None:
    assert expected in facts_of(text)


@pytest.mark.parametrize(
    ("text", "old", "new"),
    [
        ("I left Lidl for a job at Aldi.", "Lidl", "Aldi"),
        ("I left Asda for a role at Morrisons.", "Asda", "Morrisons"),
        ("Left Ikea to join Spotify in March.", "Ikea", "Spotify"),
    ],
)
def test_left_one_place_for_another(text: str, old: str, new: str) -> None:
    found = facts_of(text)
    assert ("user", "works_at", new, False) in found
    assert old in {obj for _, _, obj, negated in found if negated}


# Issue #15, eighth round: an instruction to the assistant that replaces a held one.
@pytest.mark.parametrize(
    ("held", "new"),
    [
        # the answer's language
        ("answer me in English", "answer in Spanish"),
        ("reply in German", "respond in Dutch"),
        ("write to me in French", "switch to Italian"),
        # units, spelling, length, format, tone
        ("reply in metric units", "use imperial units instead of metric"),
        ("write in British spelling", "switch to American spelling"),
        ("keep your answers short", "give me longer, more detailed answers"),
        ("keep it brief", "go into more detail"),
        ("give me answers in bullet points", "just write paragraphs"),
        ("use a formal tone with me", "be casual with me"),
        # the same thing turned off, or on again
        ("use bullet points in your answers", "stop using bullet points"),
        ("add a summary at the end", "no more summaries at the end"),
        ("answer me in French", "stop answering in French, English is fine"),
        ("don't use emoji", "you can use emoji again"),
        ("never mention calories", "feel free to mention calories"),
        ("don't swear", "swearing is fine again"),
    ],
)
def test_a_new_instruction_replaces_the_held_one(held: str, new: str) -> None:
    from enrichment.pipeline.instruction_change import instruction_replaces

    assert instruction_replaces(new, held)


@pytest.mark.parametrize(
    ("held", "new"),
    [
        ("answer me in Spanish", "use bullet points"),
        ("keep answers short", "don't use emoji"),
        ("don't use jargon", "answer in Spanish"),
        ("use metric units", "call me Sam"),
        ("use bullet points", "use bullet points for steps"),
    ],
)
def test_instructions_on_other_things_hold_together(held: str, new: str) -> None:
    from enrichment.pipeline.instruction_change import instruction_replaces

    assert not instruction_replaces(new, held)


@pytest.mark.parametrize(
    ("first", "second", "role"),
    [
        ("Always answer me in English.", "From now on answer in Spanish.", "user"),
        (
            "Please use bullet points in your answers.",
            "Actually, stop using bullet points.",
            "user",
        ),
        (
            "Keep your answers short.",
            "Please give me longer, more detailed answers from now on.",
            "user",
        ),
        (
            "Please answer me in German.",
            "Understood, I'll answer in Italian from now on instead of German.",
            "assistant",
        ),
    ],
)
@pytest.mark.django_db
def test_a_replaced_instruction_is_kept_in_history(
    tenant: Tenant, first: str, second: str, role: str
) -> None:
    ingest_enriched(tenant, first)
    ingest_enriched(tenant, second, role=role, minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate="assistant_instruction")
    assert len([f for f in facts if f.status == "current" and not f.negated]) == 1
    assert [f.status for f in facts if f.source_text == first] == ["superseded"]


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("Actually, stop using bullet points.", "stop using bullet points"),
        ("Actually, answer in Spanish from now on.", "answer in Spanish"),
        ("Actually, don't use emoji anymore.", "don't use emoji"),
    ],
)
def test_a_changed_instruction_after_actually(text: str, told: str) -> None:
    assert ("user", "assistant_instruction", told, False) in facts_of(text)


@pytest.mark.parametrize(
    ("first", "second", "predicate", "old", "new"),
    [
        (
            "I'm studying law.",
            "I changed my major to economics.",
            "studies_subject",
            "law",
            "economics",
        ),
        (
            "I'm studying physics.",
            "I switched my course to chemistry.",
            "studies_subject",
            "physics",
            "chemistry",
        ),
        (
            "I'm doing a degree in history.",
            "I changed my degree to politics.",
            "studies_subject",
            "history",
            "politics",
        ),
    ],
)
@pytest.mark.django_db
def test_a_value_changed_to_another_replaces_it_in_a_set(
    tenant: Tenant, first: str, second: str, predicate: str, old: str, new: str
) -> None:
    # Set-valued, but "changed my X to Y" says Y took the held value's place.
    ingest_enriched(tenant, first)
    ingest_enriched(tenant, second, minutes=5)
    facts = Fact.objects.filter(tenant=tenant, user_id="u1", predicate=predicate, negated=False)
    assert {(f.object_text, f.status) for f in facts} == {(old, "superseded"), (new, "current")}
