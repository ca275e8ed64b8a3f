"""The predicate catalog: what kinds of facts Claiv Memory knows about, as data.

In this module: the `Predicate` record, the catalog itself (`PREDICATES`), lookup by
name (`predicate_get`), mapping an extracted proposition to a predicate
(`predicate_map`) and routing a natural-language question to the predicates it asks
about (`predicates_route`).

Not in this module: extraction rules (enrichment/extraction/), conflict resolution
against stored facts (the Map stage applies `cardinality`/`conflict`), anything that
touches the database.

Each predicate's `phrases` serve both directions: they are the surface phrases a
statement uses ("moved to", "based in") and the words a question uses ("where do I
live", "home"). Matching is on loose word stems (see `stem`), so "lives", "living"
and "lived" all hit the phrase "live in".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

Cardinality = Literal["single", "set"]
Conflict = Literal["supersede", "merge"]

KINDS: tuple[str, ...] = (
    "identity",
    "preference",
    "relationship",
    "location",
    "work",
    "education",
    "health",
    "possession",
    "habit",
    "skill",
    "goal",
    "event",
    "opinion",
    "contact",
    "schedule",
    "plan",
    "instruction",
)


@dataclass(frozen=True)
class Predicate:
    """One relation type: `single` predicates hold one current value per subject (a
    new value supersedes the old one); `set` predicates accumulate values (merge)."""

    name: str
    kind: str
    cardinality: Cardinality
    conflict: Conflict
    phrases: tuple[str, ...]
    description: str


def _single(name: str, kind: str, phrases: tuple[str, ...], description: str) -> Predicate:
    return Predicate(name, kind, "single", "supersede", phrases, description)


def _set(name: str, kind: str, phrases: tuple[str, ...], description: str) -> Predicate:
    return Predicate(name, kind, "set", "merge", phrases, description)


PREDICATES: tuple[Predicate, ...] = (
    # identity
    _single(
        "name",
        "identity",
        ("my name is", "name", "call me", "go by", "called", "what is my name", "who am i"),
        "The person's name.",
    ),
    _single(
        "age", "identity", ("years old", "age", "how old", "turned", "year old"), "Age in years."
    ),
    _single(
        "birthday",
        "identity",
        ("birthday", "born on", "date of birth", "when was i born", "birth date"),
        "Date of birth.",
    ),
    _single(
        "gender_identity",
        "identity",
        (
            "identify as",
            "gender",
            "transgender",
            "trans woman",
            "trans man",
            "non-binary",
            "pronouns",
            "came out",
        ),
        "Gender identity or pronouns.",
    ),
    _single(
        "nationality",
        "identity",
        ("nationality", "citizen", "citizenship", "passport"),
        "Citizenship or nationality.",
    ),
    _set(
        "is_a",
        "identity",
        ("i am a", "identity", "describe myself as", "consider myself"),
        "A self-description that is not a job (e.g. 'a mom', 'an introvert').",
    ),
    _single(
        "religion",
        "identity",
        ("religion", "religious", "faith", "christian", "muslim", "jewish", "buddhist", "atheist"),
        "Religion or belief.",
    ),
    # preference
    _set(
        "likes",
        "preference",
        (
            "like",
            "love",
            "enjoy",
            "fan of",
            "into",
            "adore",
            "keen on",
            "passionate about",
            "fond of",
            "what do i like",
        ),
        "Things the person likes.",
    ),
    _set(
        "dislikes",
        "preference",
        (
            "dislike",
            "hate",
            "can't stand",
            "not a fan",
            "don't like",
            "do not like",
            "detest",
            "not into",
        ),
        "Things the person dislikes.",
    ),
    _set(
        "prefers",
        "preference",
        ("prefer", "rather", "preference", "go-to"),
        "General preferences between options.",
    ),
    _set(
        "prefers_framework",
        "preference",
        ("framework", "library", "stack", "frontend", "backend", "react", "django", "vue", "rails"),
        "Preferred software framework or library.",
    ),
    _set(
        "prefers_programming_language",
        "preference",
        ("programming language", "code in", "python", "typescript", "javascript", "rust", "golang"),
        "Preferred programming language.",
    ),
    _set(
        "uses_tool",
        "preference",
        ("use", "using", "tool", "app", "editor", "ide"),
        "Tools, apps and products the person uses.",
    ),
    _single(
        "favorite_food",
        "preference",
        (
            "favorite food",
            "favourite food",
            "favorite dish",
            "like to eat",
            "eat",
            "food",
            "cuisine",
            "dish",
            "meal",
        ),
        "Favorite food or cuisine.",
    ),
    _single(
        "favorite_book",
        "preference",
        ("favorite book", "favourite book", "book", "novel", "read", "author"),
        "Favorite book or author.",
    ),
    _single(
        "favorite_movie",
        "preference",
        ("favorite movie", "favourite movie", "favorite film", "movie", "film", "watch", "show"),
        "Favorite movie or show.",
    ),
    _single(
        "favorite_music",
        "preference",
        (
            "favorite music",
            "favorite band",
            "favorite song",
            "music",
            "band",
            "song",
            "listen to",
            "artist",
            "genre",
        ),
        "Favorite music, band or genre.",
    ),
    _single(
        "favorite_color",
        "preference",
        ("favorite color", "favourite colour", "color", "colour"),
        "Favorite color.",
    ),
    _single(
        "favorite_sport",
        "preference",
        ("favorite sport", "favorite team", "sport", "team", "root for"),
        "Favorite sport or team.",
    ),
    _single(
        "diet",
        "preference",
        (
            "diet",
            "vegetarian",
            "vegan",
            "pescatarian",
            "keto",
            "gluten-free",
            "don't eat",
            "halal",
            "kosher",
        ),
        "Dietary pattern.",
    ),
    # relationship
    _single(
        "partner",
        "relationship",
        (
            "married to",
            "wife",
            "husband",
            "girlfriend",
            "boyfriend",
            "partner",
            "spouse",
            "fiance",
            "fiancee",
            "dating",
        ),
        "Spouse or partner.",
    ),
    _single(
        "relationship_status",
        "relationship",
        ("single", "married", "divorced", "engaged", "widowed", "relationship status"),
        "Relationship status.",
    ),
    _set(
        "has_child",
        "relationship",
        ("son", "daughter", "kid", "child", "children", "baby", "how many kids"),
        "The person's children.",
    ),
    _set(
        "has_sibling",
        "relationship",
        ("sister", "brother", "sibling", "twin"),
        "The person's siblings.",
    ),
    _set(
        "has_parent",
        "relationship",
        ("mother", "father", "mom", "dad", "mum", "parent"),
        "The person's parents.",
    ),
    _set(
        "has_relative",
        "relationship",
        (
            "grandma",
            "grandmother",
            "grandfather",
            "grandpa",
            "aunt",
            "uncle",
            "cousin",
            "niece",
            "nephew",
        ),
        "Other relatives.",
    ),
    _set("friend_of", "relationship", ("friend", "best friend", "buddy", "bestie"), "Friends."),
    _set(
        "colleague",
        "relationship",
        ("coworker", "co-worker", "colleague", "boss", "manager", "teammate"),
        "People the person works with.",
    ),
    _set(
        "has_pet",
        "relationship",
        ("pet", "dog", "cat", "puppy", "kitten", "parrot", "hamster", "rabbit", "horse", "fish"),
        "Pets.",
    ),
    # location
    _single(
        "lives_in",
        "location",
        (
            "live in",
            "living in",
            "moved to",
            "based in",
            "reside in",
            "relocated to",
            "where do i live",
            "home",
            "live",
            "city",
        ),
        "Current city/region of residence.",
    ),
    _single(
        "from_location",
        "location",
        (
            "from",
            "grew up in",
            "hometown",
            "born in",
            "originally from",
            "home country",
            "raised in",
            "where am i from",
        ),
        "Hometown or origin.",
    ),
    _set(
        "visited_place",
        "event",
        (
            "visited",
            "went to",
            "trip to",
            "traveled to",
            "travelled to",
            "been to",
            "vacation",
            "holiday in",
            "where did i go",
        ),
        "Places the person visited.",
    ),
    _single("address", "contact", ("address", "live at", "street"), "Postal address."),
    # work
    _single(
        "works_at",
        "work",
        (
            "work at",
            "work for",
            "employed by",
            "employer",
            "company",
            "joined",
            "job at",
            "where do i work",
        ),
        "Current employer.",
    ),
    _single(
        "job_title",
        "work",
        (
            "job",
            "work as",
            "profession",
            "occupation",
            "role",
            "job title",
            "what do i do for a living",
            "engineer",
            "developer",
            "designer",
            "teacher",
            "nurse",
            "lawyer",
            "accountant",
            "scientist",
            "programmer",
            "consultant",
            "analyst",
            "writer",
            "chef",
            "counselor",
            "therapist",
            "architect",
            "photographer",
            "researcher",
            "professor",
            "pharmacist",
            "electrician",
            "mechanic",
            "barista",
        ),
        "Current job title or profession.",
    ),
    _set(
        "works_on",
        "work",
        ("working on", "project", "build", "building", "develop"),
        "Projects the person works on.",
    ),
    _set(
        "career_interest",
        "work",
        ("career", "career option", "want to work in", "field", "pursue"),
        "Career fields the person is interested in.",
    ),
    # education
    _single(
        "studies_at",
        "education",
        (
            "study at",
            "studying at",
            "student at",
            "enrolled",
            "attend",
            "university",
            "college",
            "school",
            "where do i study",
        ),
        "School or university currently attended.",
    ),
    _set(
        "degree",
        "education",
        ("degree", "graduated", "bachelor", "master", "phd", "diploma", "major", "graduate from"),
        "Degrees and qualifications.",
    ),
    _set(
        "studies_subject",
        "education",
        ("study", "studying", "major in", "course", "class", "subject"),
        "Subjects studied.",
    ),
    # health
    _set(
        "allergy",
        "health",
        ("allergic", "allergy", "allergies", "intolerant", "intolerance"),
        "Allergies and intolerances.",
    ),
    _set(
        "health_condition",
        "health",
        (
            "diagnosed with",
            "suffer from",
            "condition",
            "health",
            "asthma",
            "diabetes",
            "adhd",
            "anxiety",
            "depression",
            "migraine",
            "injury",
            "injured",
            "sick",
            "illness",
            "disease",
            "disorder",
            "syndrome",
            "cancer",
            "arthritis",
            "hypertension",
            "high blood pressure",
            "cholesterol",
            "eczema",
            "insomnia",
            "autism",
            "ptsd",
            "back pain",
            "chronic pain",
        ),
        "Health conditions.",
    ),
    _set(
        "medication",
        "health",
        ("medication", "medicine", "prescribed", "pill", "take", "drug"),
        "Medication taken.",
    ),
    # possession
    _set(
        "owns",
        "possession",
        ("own", "have", "bought", "purchased", "got a", "possess", "what do i own"),
        "Things the person owns.",
    ),
    _set(
        "vehicle",
        "possession",
        ("drive", "car", "bike", "motorcycle", "vehicle", "truck"),
        "Vehicles the person owns or drives.",
    ),
    # habit
    _set(
        "hobby",
        "habit",
        (
            "hobby",
            "hobbies",
            "free time",
            "spare time",
            "for fun",
            "play",
            "pastime",
            "paint",
            "painting",
        ),
        "Hobbies.",
    ),
    _set(
        "routine",
        "habit",
        (
            "every morning",
            "every day",
            "every week",
            "usually",
            "routine",
            "always",
            "each day",
            "daily",
            "weekly",
            "habit",
        ),
        "Recurring routines.",
    ),
    _set(
        "exercise",
        "habit",
        (
            "exercise",
            "workout",
            "gym",
            "run",
            "running",
            "jog",
            "yoga",
            "swim",
            "hike",
            "hiking",
            "cycling",
            "tennis",
            "soccer",
            "football",
            "basketball",
            "golf",
            "volleyball",
            "baseball",
            "hockey",
            "badminton",
            "squash",
            "rugby",
            "cricket",
            "pickleball",
            "skiing",
            "climbing",
            "bouldering",
            "boxing",
            "martial arts",
            "pilates",
            "crossfit",
            "marathon",
            "surfing",
        ),
        "Exercise and sports the person does.",
    ),
    # skill
    _set(
        "skill",
        "skill",
        (
            "good at",
            "know how to",
            "skilled",
            "experienced in",
            "expert",
            "skill",
            "can",
            "proficient",
        ),
        "Skills.",
    ),
    _set(
        "speaks_language",
        "skill",
        ("speak", "fluent in", "native speaker", "language", "bilingual", "languages"),
        "Languages spoken.",
    ),
    _set(
        "learning",
        "skill",
        ("learning", "learn", "taking lessons", "practicing", "lesson"),
        "Things the person is learning.",
    ),
    # goal / plan
    _set(
        "goal",
        "goal",
        (
            "goal",
            "want to",
            "aim to",
            "dream",
            "aspire",
            "training for",
            "hope to",
            "wish",
            "ambition",
        ),
        "Goals and aspirations.",
    ),
    _set(
        "plans_to",
        "goal",
        ("plan to", "planning to", "going to", "gonna", "will", "intend to", "about to"),
        "Concrete intentions.",
    ),
    # event / experience
    _set(
        "attended_event",
        "event",
        (
            "attended",
            "went to",
            "participated in",
            "joined",
            "took part in",
            "event",
            "conference",
            "concert",
            "festival",
            "support group",
            "workshop",
            "party",
        ),
        "Events the person attended.",
    ),
    _set(
        "did_activity",
        "event",
        ("did", "tried", "made", "painted", "finished", "started", "took", "what did i do"),
        "Things the person did.",
    ),
    _set(
        "achievement",
        "event",
        (
            "won",
            "completed",
            "achieved",
            "got promoted",
            "published",
            "award",
            "passed",
            "accomplishment",
        ),
        "Achievements.",
    ),
    _set(
        "met_person",
        "event",
        ("met", "meet", "ran into", "caught up with"),
        "People the person met.",
    ),
    _set(
        "life_event",
        "event",
        (
            "got married",
            "had a baby",
            "adopted",
            "divorced",
            "moved",
            "retired",
            "graduated",
            "lost",
        ),
        "Major life events.",
    ),
    # opinion
    _set(
        "opinion",
        "opinion",
        ("think", "believe", "opinion", "feel that", "view on", "thoughts on", "find that"),
        "Opinions and beliefs.",
    ),
    # contact
    _single("email", "contact", ("email", "e-mail", "email address", "mail me"), "Email address."),
    _single(
        "phone",
        "contact",
        ("phone", "phone number", "cell", "mobile", "call me at", "number"),
        "Phone number.",
    ),
    _set(
        "social_handle",
        "contact",
        ("twitter", "github", "instagram", "linkedin", "handle", "username"),
        "Social or developer handles.",
    ),
    # schedule
    _set(
        "appointment",
        "schedule",
        (
            "appointment",
            "dentist",
            "doctor",
            "checkup",
            "check-up",
            "booked",
            "reservation",
            "therapy session",
        ),
        "Appointments.",
    ),
    _set(
        "meeting",
        "schedule",
        ("meeting", "call with", "sync", "standup", "interview", "demo"),
        "Meetings.",
    ),
    _set("deadline", "schedule", ("deadline", "due", "due date", "submit by"), "Deadlines."),
    _set(
        "scheduled_event",
        "schedule",
        ("scheduled", "calendar", "event on", "flight", "trip on", "reminder"),
        "Other scheduled events.",
    ),
    # plan / subscription (app events)
    _single(
        "has_plan",
        "plan",
        (
            "plan",
            "subscription",
            "subscribed",
            "upgraded",
            "downgraded",
            "tier",
            "pro plan",
            "free plan",
            "premium",
            "billing",
        ),
        "The product plan or subscription tier.",
    ),
    _set(
        "account_event",
        "plan",
        ("signed up", "sign up", "registered", "cancelled", "canceled", "trial", "account"),
        "Account lifecycle events.",
    ),
    # instructions: how the user wants the assistant to behave; they apply to every
    # answer, so they are a kind of their own (recall surfaces them as background).
    _set(
        "assistant_instruction",
        "instruction",
        ("instruction", "from now on", "reply in", "answer in", "call me"),
        "A standing instruction to the assistant, as an imperative (answer me in Spanish).",
    ),
)

FALLBACK_PREDICATE = Predicate(
    name="related_to",
    kind="other",
    cardinality="set",
    conflict="merge",
    phrases=(),
    description="Anything that matched no catalog predicate; kept as a generic statement.",
)

# Explicit memories (memory.memories): written directly through the API or MCP, never by
# extraction, so they are not in PREDICATES (which extraction maps to and questions route
# to). `set`/`merge`: enrichment's resolver never supersedes them; only an explicit
# correction or supersede does.
EXPLICIT_PREDICATES: tuple[Predicate, ...] = (
    Predicate(
        name="note",
        kind="note",
        cardinality="set",
        conflict="merge",
        phrases=(),
        description="An explicit memory written directly (POST /v1/memories).",
    ),
    Predicate(
        name="decision",
        kind="decision",
        cardinality="set",
        conflict="merge",
        phrases=(),
        description="A decision recorded explicitly, with its rationale.",
    ),
)

_BY_NAME: dict[str, Predicate] = {p.name: p for p in PREDICATES}
_BY_NAME[FALLBACK_PREDICATE.name] = FALLBACK_PREDICATE
_BY_NAME.update({p.name: p for p in EXPLICIT_PREDICATES})


def predicate_get(name: str) -> Predicate:
    """The catalog predicate called `name`; raises KeyError when there is none."""
    return _BY_NAME[name]


# --- stems -------------------------------------------------------------------------

# Irregular forms a suffix stripper cannot reach; enough for the verbs the catalog uses.
_IRREGULAR: dict[str, str] = {
    "went": "go",
    "gone": "go",
    "goes": "go",
    "is": "be",
    "am": "be",
    "are": "be",
    "was": "be",
    "were": "be",
    "been": "be",
    "'m": "be",
    "'s": "be",
    "'re": "be",
    "has": "have",
    "had": "have",
    "'ve": "have",
    "does": "do",
    "did": "do",
    "done": "do",
    "bought": "buy",
    "taught": "teach",
    "spoke": "speak",
    "spoken": "speak",
    "grew": "grow",
    "grown": "grow",
    "got": "get",
    "gotten": "get",
    "met": "meet",
    "ran": "run",
    "ate": "eat",
    "eaten": "eat",
    "drove": "drive",
    "driven": "drive",
    "wrote": "write",
    "written": "write",
    "made": "make",
    "took": "take",
    "taken": "take",
    "children": "child",
    "kids": "kid",
    "wives": "wife",
    "won": "win",
    "lost": "lose",
    "thought": "think",
    "felt": "feel",
    "saw": "see",
    "seen": "see",
    "left": "leave",
    "became": "become",
    "began": "begin",
    "found": "find",
    "fell": "fall",
    "built": "build",
    "favourite": "favorite",
    "meeting": "meeting",
    "meetings": "meeting",
    "colour": "color",
    "mum": "mom",
    "travelled": "travel",
}

_WORD_RE = re.compile(r"[a-z0-9][a-z0-9'\-]*")


def stem(word: str) -> str:
    """A loose stem: lower-case, irregulars folded, common suffixes stripped.

    Deliberately crude (no dictionary): both sides of every comparison go through it,
    so "live", "lives", "lived" and "living" all become "liv".
    """
    w = word.lower().strip("'")
    if w in _IRREGULAR:
        # Irregular forms map to a base that only loses its final "e" (have → hav).
        w = _IRREGULAR[w]
        return w[:-1] if len(w) > 3 and w.endswith("e") else w
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
        if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "ls":
            w = w[:-1]
    elif len(w) > 4 and (w.endswith("ied") or w.endswith("ies")):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
        if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "ls":
            w = w[:-1]
    elif len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def stems(text: str) -> list[str]:
    """Stems of the words in `text`, in order."""
    return [stem(w) for w in _WORD_RE.findall(text.lower().replace("’", "'"))]


# Words that carry no topic: ignored when matching phrases against a question.
_STOP: frozenset[str] = frozenset(
    stem(w)
    for w in "a an the i i'm i've i'd i'll me my mine myself we our us you your he she they "
    "it its his her their user do be to of in on at for and or is are was were does did "
    "am with about this that these those there any some ever".split()
)

# Very common verbs that on their own say little about the topic.
_WEAK: frozenset[str] = frozenset(
    stem(w) for w in "have get go be do make take use can will from into play".split()
)


@cache
def _phrase_stems(phrase: str) -> tuple[str, ...]:
    return tuple(stems(phrase))


def _contains_run(haystack: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(haystack[i : i + n]) == needle for i in range(len(haystack) - n + 1))


def _run_end(haystack: list[str], needle: tuple[str, ...]) -> int:
    """End index of the last occurrence of `needle` in `haystack`, or -1."""
    n = len(needle)
    for i in range(len(haystack) - n, -1, -1):
        if tuple(haystack[i : i + n]) == needle:
            return i + n
    return -1


def _phrase_weight(phrase: tuple[str, ...]) -> float:
    content = [s for s in phrase if s not in _STOP]
    if not content:
        return 0.0
    # Multi-word phrases are more specific than single words; single weak verbs
    # ("have", "go") barely count so that the object's nouns can outvote them.
    weight = float(len(content))
    if len(content) == 1 and content[0] in _WEAK:
        weight = 0.3
    return weight


# --- mapping -----------------------------------------------------------------------


_OBJECT_TAIL_RE = re.compile(
    r"\b(?:named|called|who|which|that|whose|with|for|at|about|from|in|on|by|of)\b|[,;]",
    re.IGNORECASE,
)


def predicate_map(*, relation_phrase: str, object_text: str) -> Predicate:
    """The catalog predicate that best fits one proposition; `FALLBACK_PREDICATE`
    when nothing fits.

    Every phrase found as a contiguous run of stems scores its weight; a hit in the
    relation phrase counts 1.5x one in the object ("moved to" beats "Paris"). Between
    object hits the later word wins ("job interview" is an interview: English compounds
    put the head last); remaining ties go to the earlier predicate in the catalog.
    """
    relation = stems(relation_phrase)
    # Only the head of the object counts: in "a dog named Rex" the topic is the dog,
    # not the word "named".
    head = _OBJECT_TAIL_RE.split(object_text, maxsplit=1)[0]
    obj = stems(head)
    best: Predicate = FALLBACK_PREDICATE
    best_score = 0.0
    for predicate in PREDICATES:
        score = 0.0
        for phrase in predicate.phrases:
            needle = _phrase_stems(phrase)
            if not needle:
                continue
            weight = _phrase_weight(needle)
            if _contains_run(relation, needle):
                score = max(score, weight * 1.5)
            elif (position := _run_end(obj, needle)) >= 0:
                # English compounds put the head last ("job interview" is an
                # interview), so a later match wins a tie.
                score = max(score, weight + 0.05 * position / max(len(obj), 1))
        if score > best_score:
            best, best_score = predicate, score
    # A lone weak verb ("have", "use") is not evidence enough.
    return best if best_score >= 0.9 else FALLBACK_PREDICATE


# --- routing -----------------------------------------------------------------------

_QUESTION_WORDS: frozenset[str] = frozenset({"where", "when", "who", "what", "how", "which", "why"})


@cache
def _phrase_route(phrase: str) -> tuple[tuple[str, ...], frozenset[str] | None, float]:
    """(stems, content stems or None when the phrase can never match on its own, weight)
    of a routing phrase: fixed per phrase, so computed once, not on every recall (~1,200
    phrases were re-read per routed question)."""
    needle = _phrase_stems(phrase)
    content = tuple(s for s in needle if s not in _STOP)
    if not content or all(s in _QUESTION_WORDS for s in content):
        return needle, None, 0.0
    return needle, frozenset(content), _phrase_weight(needle)


@cache
def _name_route(name: str) -> tuple[frozenset[str], int] | None:
    """(the content stems of a predicate's name, how many) when more than one, else None."""
    parts = tuple(s for s in stems(name.replace("_", " ")) if s not in _STOP)
    return (frozenset(parts), len(parts)) if len(parts) > 1 else None


def predicates_route(query: str) -> list[Predicate]:
    """Predicates a natural-language question is about, strongest first.

    A phrase matches when all its content stems occur in the question (a contiguous
    run scores higher than scattered words). Question words only count inside a
    phrase ("where do I live"), never alone. Empty when nothing matches.
    """
    words = stems(query)
    present = set(words)
    scored: list[tuple[float, int, Predicate]] = []
    for index, predicate in enumerate(PREDICATES):
        score = 0.0
        for phrase in predicate.phrases:
            needle, content, weight = _phrase_route(phrase)
            if content is None or not content <= present:
                continue
            if _contains_run(words, needle):
                weight += 0.5
            score = max(score, weight)
        # The predicate's own name ("birthday", "email") is a phrase too.
        name_parts = _name_route(predicate.name)
        if name_parts is not None and name_parts[0] <= present:
            score = max(score, float(name_parts[1]))
        if score >= 1.0:
            scored.append((score, index, predicate))
    scored.sort(key=lambda row: (-row[0], row[1]))
    return [predicate for _, _, predicate in scored]
