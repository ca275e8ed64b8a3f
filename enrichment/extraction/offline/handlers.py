"""Verb-phrase handlers: what a matched rule turns into (`_Found`s)."""

from __future__ import annotations

import re
from collections.abc import Callable

from enrichment.extraction.offline.clause import (
    _Clause,
    _Found,
    _head,
    _named,
    _place_cut,
    _usable,
)
from enrichment.extraction.offline.words import (
    _CARERS,
    _CONDITION_RE,
    _DIETS,
    _DRUG_RE,
    _EVENT_NOUNS,
    _JOB_SUFFIX_RE,
    _JOB_WORDS,
    _LEADING_ARTICLE_RE,
    _MEETING_NOUNS_RE,
    _NAME_STOPWORDS,
    _NATIONALITIES,
    _OBJECT_STOP_RE,
    _RELATION_ALT,
    _RELATION_MODIFIERS,
    _RELATION_NOUNS,
    _forms,
)
from enrichment.propositions import (
    CHANGE_FROM,
    CHANGE_TO,
    USER_SUBJECT,
)
from memory.vocabulary.predicates import FALLBACK_PREDICATE, predicate_map

# --- rules ---------------------------------------------------------------------------

_O = r"(?P<obj>.+)"
_NUMBER_WORDS = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|"
    r"five|six|seven|eight|nine))?"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen"
    r"|seventeen|eighteen|nineteen)"
)
_BE = r"(?:am|is|are|was|were|be|been|being)"

Handler = Callable[[re.Match[str], _Clause], list[_Found]]


def _fixed(predicate: str, relation: str | None = None, *, negate: bool = False) -> Handler:
    def handle(match: re.Match[str], clause: _Clause) -> list[_Found]:
        return [
            _Found(
                predicate,
                relation or match.group(0)[: match.start("obj") - match.start()].strip(),
                match.group("obj"),
                negated=clause.negated or negate,
            )
        ]

    return handle


def _mapped(default: str | None = None, *, avoid_kinds: tuple[str, ...] = ()) -> Handler:
    """Let the catalog pick the predicate from the verb and the object (not one of
    `avoid_kinds`: "I do the books" is no favourite book)."""

    def handle(match: re.Match[str], clause: _Clause) -> list[_Found]:
        relation = match.group(0)[: match.start("obj") - match.start()].strip()
        obj = match.group("obj")
        predicate = predicate_map(relation_phrase=relation, object_text=_head(obj))
        if predicate.kind in avoid_kinds:
            predicate = FALLBACK_PREDICATE
        if predicate is FALLBACK_PREDICATE:
            if default is None:
                return []
            name: str | None = default
        else:
            name = predicate.name
        return [_Found(name, relation, obj, negated=clause.negated)]

    return handle


def _likes(match: re.Match[str], clause: _Clause) -> list[_Found]:
    relation = match.group(0)[: match.start("obj") - match.start()].strip()
    obj = re.sub(r"^to\s+", "", match.group("obj"))
    if clause.negated:
        return [_Found("dislikes", relation, obj)]
    if re.match(r"^my\s+(?:new\s+)?(?:job|work|role|boss|colleagues)\b", obj, re.IGNORECASE):
        return []  # "I love my job at Google": a feeling; the employer is read elsewhere
    refined = predicate_map(relation_phrase="", object_text=_head(obj))
    if refined.name in ("prefers_framework", "prefers_programming_language"):
        return [_Found(refined.name, relation, obj)]
    if re.search(
        r"\b(?:career|job|profession|working in|work in|counsel\w*)\b", obj, re.IGNORECASE
    ) and not re.match(r"^my\s", obj, re.IGNORECASE):  # "I love my job at X": a job held
        return [_Found("career_interest", relation, obj)]
    return [_Found("likes", relation, obj)]


def _prefers(match: re.Match[str], clause: _Clause) -> list[_Found]:
    obj = re.split(r"\s+(?:over|to|rather than|instead of)\s+", match.group("obj"), maxsplit=1)[0]
    refined = predicate_map(relation_phrase="", object_text=obj)
    name = (
        refined.name
        if refined.name in ("prefers_framework", "prefers_programming_language")
        else "prefers"
    )
    return [_Found(name, "prefer", obj, negated=clause.negated)]


def _is_a(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """'I'm a nurse at X' / 'I'm a transgender woman' / 'I'm a student at Y'."""
    obj = match.group("obj")
    living = _LIVING_IN_RE.match(obj)
    if living:
        # "a Canadian living in Tokyo", "a nurse working in Leeds": what one is, and the
        # town one is in; the participle is a clause of its own, not part of the noun.
        return [
            *_being(living.group("what"), clause),
            _Found("lives_in", "living in", living.group("town"), negated=clause.negated),
        ]
    origin = _ORIGIN_TAIL_RE.match(obj)
    if origin and not _LIVING_IN_RE.match(origin.group("what")):
        # "a carpenter from Galway": what one is, and where one is from; "from" ends the
        # noun phrase as "living in" does.
        return [
            *_being(origin.group("what"), clause),
            _Found("from_location", "from", origin.group("town"), negated=clause.negated),
        ]
    return _being(obj, clause)


_ORIGIN_TAIL_RE = re.compile(
    r"^(?P<what>.+?)\s+(?:originally\s+)?from\s+(?P<town>(?-i:[A-Z])[\w.'-]*"
    r"(?:\s+(?-i:[A-Z])[\w.'-]*)*)(?:\s+originally)?\s*$"
)
_LIVING_IN_RE = re.compile(
    r"^(?P<what>.+?)\s+(?:living|based|settled|residing|working)\s+(?:in|out of)\s+"
    r"(?P<town>(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)"
)


def _being(obj: str, clause: _Clause) -> list[_Found]:
    """What one is, from the noun phrase after "I'm a"."""
    phrase = re.sub(
        r"\s+for\s+(?:(?:the\s+)?(?:past|last)\s+)?(?:\w+\s+){0,2}(?:years?|months?|weeks?|"
        r"decades?)\b.*$",
        "",
        obj,
        flags=re.IGNORECASE,
    )
    # "an electrician by trade", "a Londoner born and bred": the tail qualifies, it is not
    # part of what one is.
    phrase = re.sub(
        r"\s*,?\s+(?:by\s+(?:trade|profession|training|background|nature)|at heart|"
        r"born and (?:bred|raised)|through and through|to the core|in training)\b.*$",
        "",
        phrase,
        flags=re.IGNORECASE,
    )
    found: list[_Found] = []
    aged = re.match(r"^(?P<age>\d{1,3}|\w+)[- ]years?[- ]old\s+(?P<rest>\S.*)$", phrase, re.I)
    if aged:  # "a three-year-old corgi": an age, and what it is
        found.append(_Found("age", "is", aged.group("age"), negated=clause.negated))
        phrase = aged.group("rest")
    phrase, place = _title_and_place(phrase)
    town = None
    located = re.match(r"^(?P<title>.+?)\s+in\s+(?P<rest>\S.*)$", phrase)
    if located and not re.search(r"\b(?:degree|phd|fan|love|believer)\b", phrase, re.I):
        # "a lawyer in Madrid" lives there; "a postdoc in computational biology" is a
        # postdoc (the field is not the title).
        phrase = located.group("title")
        if located.group("rest")[:1].isupper():
            town = located.group("rest")
    phrase = _ON_A_TEAM_RE.sub("", phrase)
    head_words = re.findall(r"[A-Za-z-]+", _OBJECT_STOP_RE.split(phrase, maxsplit=1)[0])
    if not head_words:
        return []
    head = head_words[-1].lower()
    lowered = phrase.lower()
    if re.search(r"\b(?:fan|lover|fanatic|enthusiast|junkie|nerd|geek|buff)\b", lowered):
        obj = re.sub(
            r"^.*?\b(?:fan|lover|fanatic|enthusiast|junkie|nerd|geek|buff)\s*(?:of\s+)?", "", phrase
        )
        obj = obj or re.sub(
            r"\s*\b(?:fan|lover|fanatic|enthusiast|junkie|nerd|geek|buff)\b.*$",
            "",
            re.sub(r"^(?:big|huge|massive|total|real)\s+", "", phrase),
        )
        return [_Found("dislikes" if clause.negated else "likes", "am a fan of", obj)]
    if re.search(r"\bbelievers?\b", lowered):
        return []  # "a big believer in cold showers": a view, no identity
    core = re.split(r"\s*[,;]", phrase, maxsplit=1)[0]
    trait = re.match(r"^(?:bit|something)\s+of\s+an?\s+(?P<what>[\w-]+(?:\s+[\w-]+)?)$", core)
    if trait:  # "a bit of a perfectionist": a trait, not a job
        return [_Found("is_a", "am a", trait.group("what"), negated=clause.negated)]
    pastime = _pastime(core.lower(), clause)
    if pastime is not None:
        return pastime
    if re.search(
        r"\b(?:trans(?:gender)?|non-?binary|cis(?:gender)?|gay|lesbian|bisexual|queer)\b", lowered
    ):
        return [_Found("gender_identity", "am a", phrase, negated=clause.negated)]
    if (
        head in ("student", "freshman", "sophomore", "junior", "senior", "undergrad", "grad")
        or "student" in lowered
    ):
        found.append(
            _Found(
                "studies_at" if place else "is_a", "am a", place or phrase, negated=clause.negated
            )
        )
        field = re.search(r"\bstudent\s+(?:in|of)\s+(?P<field>[\w ]+?)(?:\s+at\b|$)", obj)
        if field:  # "a PhD student in chemistry at MIT"
            found.append(_Found("studies_subject", "student in", field.group("field")))
        return found
    if head.endswith("tarian") or re.fullmatch(_DIETS, head):
        return [_Found("diet", "am a", head, negated=clause.negated)]
    proud = re.sub(r"^(?:proud|born|true|real|full-blooded|half)\s+", "", lowered)
    if all(part in _NATIONALITIES for part in proud.split("-")) and proud:
        return [_Found("nationality", "am", re.sub(r"^(?:\w+\s+)+", "", phrase))]
    supporter = re.match(
        r"^(?:(?:die-?hard|lifelong|huge|big|loyal|massive|proud|season[- ]ticket)\s+)*"
        r"(?P<team>(?-i:[A-Z])[\w.'&-]*(?:\s+(?-i:[A-Z])[\w.'&-]*)*)\s+(?:supporter|fan)\b",
        phrase,
        re.IGNORECASE,
    )
    if supporter and "supporter" in lowered:
        return [_Found("favorite_sport", "support", supporter.group("team"))]
    person = re.match(r"^(?P<what>(?-i:[A-Z]|i[A-Z])[\w-]*)\s+person$", phrase)
    if person:  # "an iPhone person": what one uses
        return [_Found("uses_tool", "am a … person", person.group("what"), negated=clause.negated)]
    if head in _RELIGIONS:
        return [_Found("religion", "am a", head, negated=clause.negated)]
    employed_at = bool(
        place
        and (place[:1].isupper() or re.match(r"(?:the)\s", place, re.I))
        and head not in _NOT_EMPLOYMENT
        and len(head_words) <= 4
    )
    if head in _JOB_WORDS or _JOB_SUFFIX_RE.search(head) or employed_at:
        # "an SRE at Cloudflare", "a PM at Meta": a role held at a named organisation is a
        # job, whatever its noun.
        found.append(_Found("job_title", "am a", phrase, negated=clause.negated))
        if place:
            found.append(_Found("works_at", "work at", place, negated=clause.negated))
        if town and not clause.negated:
            found.append(_Found("lives_in", "am a … in", town))
        return found
    if head in _CONDITION_NOUNS:  # "a Type 1 diabetic": a condition, not an identity
        return [*found, _Found("health_condition", "am a", phrase, negated=clause.negated)]
    if head in _NEEDS_COMPLEMENT or _NEEDS_COMPLEMENT_RE.match(phrase):
        # "a total beginner at chess", "a regular at the Red Lion": without what it is
        # about, the noun says nothing worth keeping.
        return found
    return [*found, _Found("is_a", "am a", phrase, negated=clause.negated)]


# "a nurse on a cardiac ward", "an engineer on the Azure team": where the role is held is
# not part of it, and the head noun comes before the phrase.
_ON_A_TEAM_RE = re.compile(r"\s+on\s+(?:an?|the|my|our|his|her|their)\s.*$", re.IGNORECASE)
_CONDITION_NOUNS = frozenset(
    "diabetic epileptic asthmatic coeliac celiac anaemic anemic insomniac dyslexic "
    "haemophiliac hemophiliac".split()
)
_NEEDS_COMPLEMENT = frozenset("beginner newbie novice regular work part".split())
_NEEDS_COMPLEMENT_RE = re.compile(
    r"^(?:[\w-]+\s+){0,2}?(?:beginner|newbie|novice|regular)\s+(?:at|in|with|when|to)\b", re.I
)


# A noun for someone who does a pastime, and the pastime ("a keen gardener": gardening).
_PASTIME_AGENTS = {
    "photographer": "photography",
    "gardener": "gardening",
    "cook": "cooking",
    "baker": "baking",
    "reader": "reading",
    "astronomer": "astronomy",
    "painter": "painting",
    "knitter": "knitting",
    "gamer": "gaming",
    "dancer": "dancing",
    "singer": "singing",
    "writer": "writing",
    "birdwatcher": "birdwatching",
    "birder": "birdwatching",
    "guitarist": "guitar",
    "pianist": "piano",
    "drummer": "drums",
    "angler": "fishing",
    "fisherman": "fishing",
    "traveller": "travel",
    "traveler": "travel",
    "woodworker": "woodworking",
    "potter": "pottery",
    "quilter": "quilting",
    "crafter": "crafting",
    "chef": "cooking",
}
# The same for sports: without a qualifier these are exercise too ("I'm a runner").
_SPORT_AGENTS = {
    "runner": "running",
    "jogger": "jogging",
    "swimmer": "swimming",
    "cyclist": "cycling",
    "biker": "biking",
    "climber": "climbing",
    "boulderer": "bouldering",
    "hiker": "hiking",
    "skier": "skiing",
    "snowboarder": "snowboarding",
    "surfer": "surfing",
    "rower": "rowing",
    "skater": "skating",
    "golfer": "golf",
    "triathlete": "triathlon",
    "sailor": "sailing",
}
_SKILLED = frozenset("decent good great competent solid capable fair excellent".split())
_POOR = frozenset("terrible lousy bad awful hopeless horrible poor rubbish crap shit".split())
_KEEN = frozenset(
    "keen avid amateur big huge passionate casual weekend hobby self-taught serious "
    "enthusiastic occasional obsessive lifelong recreational hobbyist".split()
)
_DEGREE_WORDS = frozenset("pretty really very quite fairly reasonably total".split())


def _pastime(lowered: str, clause: _Clause) -> list[_Found] | None:
    """ "a keen gardener" → hobby gardening, "a decent photographer" → skill photography,
    "a runner" → exercise running, "a lousy driver" → nothing; None when not such a noun.
    A qualifier says the noun is about a pastime, not a job; a bare craft noun ("a
    photographer") stays a job."""
    words = lowered.split()
    if not words:
        return None
    agent, qualifiers = words[-1], [w for w in words[:-1] if w not in _DEGREE_WORDS]
    sport = _SPORT_AGENTS.get(agent)
    activity = sport or _PASTIME_AGENTS.get(agent)
    if not qualifiers:
        if sport:
            return [_Found("exercise", "am a", sport, negated=clause.negated)]
        return None
    if not all(q in _SKILLED | _POOR | _KEEN for q in qualifiers):
        return None
    if any(q in _POOR for q in qualifiers):
        return []  # a self-judgement ("a lousy driver"), no fact to keep
    if activity is None:
        return None
    if any(q in _SKILLED for q in qualifiers):
        return [_Found("skill", "am a", activity, negated=clause.negated)]
    return [_Found("exercise" if sport else "hobby", "am a", activity, negated=clause.negated)]


# What one can be "at" a place without working there.
_NOT_EMPLOYMENT = frozenset(
    "regular customer patient guest member fan client visitor tourist regulars resident "
    "alumnus alum graduate grad".split()
)

# Words chat capitalises after "I'm" that are states, not names ("I'm Home finally").
_STATE_WORDS = frozenset(
    "home back done fine good sure ready sorry tired exhausted busy free happy sick late out "
    "off alive okay ok here there in up down starving stuffed broke bored stressed".split()
)

_RELIGIONS = frozenset(
    "muslim christian catholic protestant jewish hindu buddhist sikh atheist agnostic mormon "
    "orthodox evangelical baptist methodist anglican lutheran quaker pagan jain taoist "
    "spiritual religious".split()
)


def _be_bare(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """'I'm Marco' / 'I'm Canadian' / 'I'm engaged' / 'I'm 34'."""
    obj = match.group("obj").strip(" .!")
    lowered = obj.lower()
    if lowered in _NATIONALITIES:
        return [_Found("nationality", "am", obj, negated=clause.negated)]
    if lowered in _RELIGIONS:
        return [_Found("religion", "am", obj, negated=clause.negated)]
    if re.fullmatch(r"(?:single|married|divorced|engaged|widowed|separated)", lowered):
        return [_Found("relationship_status", "am", lowered, negated=clause.negated)]
    if re.fullmatch(_DIETS, lowered):
        return [_Found("diet", "am", lowered, negated=clause.negated)]
    if re.fullmatch(r"\d{1,3}", lowered):
        return [_Found("age", "am", lowered, negated=clause.negated)]
    if (
        clause.subject == USER_SUBJECT
        and re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+)?", obj)
        and lowered not in _NAME_STOPWORDS
        and lowered.split()[0] not in _STATE_WORDS
    ):
        return [_Found("name", "am", obj)]
    return []


def _have(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """'I have two kids / a dog named Rex / asthma / a dentist appointment / a MacBook'."""
    verb = match.group("verb").lower()
    obj = match.group("obj")
    listed = _kin_list(obj)
    if listed:  # "a cat called Mochi and a hamster named Bean": each of them
        found: list[_Found] = []
        for item in listed:
            each = re.match(r"(?P<verb>[^\x00]*)\x00(?P<obj>.*)", f"{verb}\x00{item}", re.S)
            if each:
                found += _have(each, clause)
        return found
    kin = re.match(
        rf"^(?P<np>(?:(?:an?|one|two|three|four|five|six|\d+|some|a few|"
        rf"several)\s+)?{_RELATION_MODIFIERS}"
        rf"(?:\w+\s+)?(?P<noun>{_RELATION_ALT}))\b"
        # "a puppy, a beagle called Pip": the breed in apposition before the name.
        rf"(?:\s*,\s*an?\s+[\w-]+(?:\s+[\w-]+)?(?=\s+(?:named|called)\b))?"
        rf"(?:\s*,?\s*(?:named|"
        rf"called)\s+(?P<name>[A-Z][\w-]*(?:(?:,\s*|\s+and\s+)[A-Z][\w-]*)*)|"
        # "two sisters, Amy and Beth": the names in apposition, closing the clause.
        rf"\s*[,:(]\s*(?P<appos>(?-i:[A-Z])[a-z][\w-]*(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+)"
        rf"(?-i:[A-Z])[a-z][\w-]*)*)\s*\)?\s*[.!]?\s*$)?",
        obj,
        re.IGNORECASE,
    )
    if kin and kin.group("noun").lower() in _RELATION_NOUNS:
        predicate = _RELATION_NOUNS[kin.group("noun").lower()]
        target = kin.group("name") or kin.group("appos") or kin.group("np")
        if (
            predicate in ("has_pet", "has_child", "has_sibling")
            or kin.group("name")
            or (kin.group("appos"))
        ):
            return [_Found(predicate, verb, target, negated=clause.negated)]
        return []  # "a girlfriend": the name, if given, comes later ("her name is Mia")
    allergy = re.match(
        r"^(?:an?\s+)?(?:severe\s+|mild\s+|bad\s+)?(?P<what>[\w ]+?)\s+allerg(?:y|ies)\b|"
        r"^(?:an?\s+)?allerg(?:y|ies)\s+to\s+(?P<what2>.+)",
        obj,
        re.IGNORECASE,
    )
    if allergy:
        return [
            _Found(
                "allergy",
                "have an allergy",
                allergy.group("what") or allergy.group("what2"),
                negated=clause.negated,
            )
        ]
    if re.match(
        r"^(?:the|a|an|no|any)\s+(?:chance|opportunity|feeling|sense|idea|question|lot|time|"
        r"moment|pleasure|honou?r|soft spot|weakness|thing|hard time|tough time|blast|"
        r"feeling|habit|tendency|knack|crush)\b",
        obj,
        re.IGNORECASE,
    ):
        return []
    if verb in ("have", "has", "had", "got") and re.match(
        r"^(?:(?:always|never|just|finally|recently|already|long|also|even)\s+)*"
        r"(?:\w+ed|been|gone|done|made|seen|known|taken|given|become|got|gotten|"
        r"to|into|used|kind of|sort of)\b",
        obj,
        re.IGNORECASE,
    ):
        # A perfect or passive ("have always wanted to…", "got promoted", "got fired") or
        # "have to": a verb, not a thing held.
        return []
    earned = re.match(
        r"^(?:my|his|her|their|our)\s+(?P<what>(?:[\w'-]+\s+){0,2}?(?:grade\s+\d+|licen[cs]e|"
        r"permit|certificate|certification|belt|badge|diploma|results?|citizenship|visa|"
        r"green card|black belt|degree|qualification))\b",
        obj,
        re.IGNORECASE,
    )
    if earned and verb == "got" and not clause.negated:
        # "got my grade 8 at 17", "got my citizenship": something earned, not bought.
        return [_Found("achievement", "got", earned.group("what"))]
    # "a guitar I never play": the thing is the guitar; the reduced relative clause after it
    # says nothing about what kind of thing it is.
    head = re.split(r"\s(?:i|we|you|he|she|they|that|which)\s", _head(obj), maxsplit=1, flags=re.I)[
        0
    ]
    if _MEETING_NOUNS_RE.match(head) and verb in ("have", "has", "got", "am getting"):
        return [_Found("meeting", verb, obj, negated=clause.negated)]
    if re.match(
        rf"^(?:an?\s+|my\s+)?(?:[\w'-]+\s+)?(?:{_CARERS}|physio|therapy|appointment|checkup|"
        rf"check-up|session|scan|x-ray|mri|vaccination|jab|booster)\b",
        head,
        re.IGNORECASE,
    ) and verb in ("have", "has", "got"):
        return [_Found("appointment", verb, obj, negated=clause.negated)]
    if _CONDITION_RE.search(head) and not re.search(r"\bsurgery\b", head, re.I):
        return [_Found("health_condition", verb, obj, negated=clause.negated)]
    mapped = predicate_map(relation_phrase=verb, object_text=head)
    if mapped.kind in ("preference", "identity", "contact") or re.search(r"\w+ed$", head.strip()):
        mapped = FALLBACK_PREDICATE  # "a haircut booked" is no favourite book
    if verb == "had" and mapped.name not in ("health_condition", "allergy", "degree"):
        return []  # what one had is not what one has
    if mapped.kind != "schedule" and _EVENT_NOUNS.search(head) and verb in ("have", "has", "got"):
        return [_Found("scheduled_event", verb, obj, negated=clause.negated)]
    if mapped is not FALLBACK_PREDICATE and mapped.name != "owns":
        return [_Found(mapped.name, verb, obj, negated=clause.negated)]
    if verb in ("own", "owns", "owned", "bought", "buy", "purchased", "got") or re.search(
        r"[A-Z0-9]", head
    ):
        # "have" alone owns only specific things ("a MacBook Pro"), not "a lot of work".
        if re.match(
            r"^(?:a lot|lots|no|any|time|fun|to|an? (?:idea|question|feeling|good|great|bad|busy|"
            r"long|hard))\b",
            obj,
            re.IGNORECASE,
        ):
            return []
        return [_Found("owns", verb, obj, negated=clause.negated)]
    return []


# One relative or pet of a coordinated list: a determiner or number, the noun, and maybe its
# name ("a cat called Mochi").
_KIN_ITEM_RE = re.compile(
    rf"^(?:an?|one|two|three|four|five|six|\d+)\s+(?:[\w-]+\s+){{0,2}}?(?P<noun>{_RELATION_ALT})"
    rf"(?:\s+(?:called|named)\s+(?-i:[A-Z])[\w-]*)?$",
    re.IGNORECASE,
)
_KIN_NAME_RE = re.compile(r"^(?-i:[A-Z])[a-z][\w-]*$")


def _kin_list(obj: str) -> list[str] | None:
    """The items of a coordinated list of relatives or pets, each with its names ("two
    kids, Noah and Ava, and a dog named Biscuit" → "two kids, Noah and Ava", "a dog named
    Biscuit"); None unless there are two or more, each headed by a relation noun."""
    obj = obj.strip(" .!")
    if " and " not in obj:
        return None
    items: list[tuple[str, list[str]]] = []
    for piece in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", obj):
        head = _KIN_ITEM_RE.match(piece)
        if head and head.group("noun").lower() in _RELATION_NOUNS:
            items.append((piece, []))
        elif (
            items
            and _KIN_NAME_RE.match(piece)
            and " called " not in items[-1][0]
            and (" named " not in items[-1][0])
        ):
            items[-1][1].append(piece)
        else:
            return None
    if len(items) < 2:
        return None
    return [f"{np}, {' and '.join(names)}" if names else np for np, names in items]


def _went(match: re.Match[str], clause: _Clause) -> list[_Found]:
    relation = match.group("verb").lower()
    obj = match.group("obj")
    preposition = (match.group("prep") or "").strip()
    head = _head(obj)
    if preposition in ("", "to", "back to", "for", "in") and (
        _EVENT_NOUNS.search(head) or relation.startswith("attend")
    ):
        return [_Found("attended_event", relation, obj, negated=clause.negated)]
    if preposition in ("", "to", "back to") and (
        re.match(r"^(?:the\s+)?[A-Z]", obj)
        or relation.startswith(("visit", "travel", "flew", "fly"))
    ):
        return [_Found("visited_place", relation, obj, negated=clause.negated)]
    found = [
        _Found(
            "did_activity",
            relation,
            " ".join(part for part in (relation, preposition, obj) if part),
            negated=clause.negated,
        )
    ]
    place = re.match(r"^\w+ing\s+(?:at|in|on|near|around)\s+(?P<place>(?:the\s+)?[A-Z].*)", obj)
    if place:  # "went camping at Lake Tahoe"
        found.append(
            _Found("visited_place", relation, place.group("place"), negated=clause.negated)
        )
    return found


def _joined(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """Joining a named organisation: the employer (and the title after "as")."""
    if match.group(0).lower().startswith("moved to") and not match.group("title"):
        return []  # "moved to Berlin" is a move; "moved to Stripe as a PM" a job
    found = [_Found("works_at", "joined", match.group("obj"), negated=clause.negated)]
    if match.group("title"):
        found.append(_Found("job_title", "joined as", match.group("title"), negated=clause.negated))
    return found


def _work_as(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "work as an ER nurse at St. Michael's Hospital": the title, then the workplace."""
    title, place = _title_and_place(match.group("obj"))
    found = [_Found("job_title", "work as", title, negated=clause.negated)]
    if place:
        found.append(_Found("works_at", "work at", place, negated=clause.negated))
    return found


# Titles that are "of" an organisation ("the CEO of Kite"), not of a field.
_LEADER_RE = re.compile(
    r"^(?:(?:co-?)?founder|ceo|cto|cfo|coo|cmo|owner|president|vice president|vp|director|"
    r"managing director|head|chair|chairman|chairwoman|principal|dean|editor|"
    r"editor-in-chief|partner|manager|general manager|captain|treasurer|secretary)"
    r"(?:\s+of\s+[a-z]+(?:\s+[a-z]+)?(?=\s+(?:at|of)\s))?\s+of\s+",
    re.IGNORECASE,
)


def _title_and_place(phrase: str) -> tuple[str, str | None]:
    """Split "nurse at St. Mary's" / "chef for a restaurant called Baan" at the
    preposition that introduces a named or determined workplace."""
    split = re.split(r"\s+(?:at|for|with)\s+(?=[A-Z0-9]|(?:a|an|the)\s)", phrase, maxsplit=1)
    if len(split) == 1 and _LEADER_RE.match(phrase):
        # "CTO of a fintech startup", "founder of Kite": the title, and whose it is.
        split = re.split(r"\s+of\s+(?=[A-Z0-9]|(?:a|an|the|my|our)\s)", phrase, maxsplit=1)
    if len(split) == 2:
        # "UCLA majoring in psychology", "J.P. Morgan in the risk department": the place
        # ends where a participle or a lower-case prepositional phrase starts.
        return split[0], _named(_place_cut(split[1]))
    return phrase, None


def _teach(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """Teaching somewhere: the school (at) or the town (in), and "X teacher" when said."""
    what = (match.group("what") or "").strip()
    place = match.group("obj")
    found = [
        _Found(
            "works_at" if match.group("prep").lower() == "at" else "lives_in",
            "teach at",
            place,
            negated=clause.negated,
        )
    ]
    if what:
        found.append(_Found("job_title", "teach", f"{what} teacher", negated=clause.negated))
    return found


def _change(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "switched from VS Code to Neovim": the old value retired, the new one held; the
    predicate is the one the old value is stored under (named in the Map stage)."""
    origin, new = _named(match.group("origin")), _named(match.group("obj"))
    if new[:1].isupper():  # "to Firefox for privacy reasons": the name, not the reason
        new = re.split(r"\s+(?:for|because|since|as|so|after|when)\b", new, maxsplit=1)[0]
    mapped = predicate_map(relation_phrase="", object_text=_head(new))
    name = None if mapped is FALLBACK_PREDICATE else mapped.name
    return [
        _Found(name, CHANGE_FROM, origin, negated=True),
        _Found(name, CHANGE_TO, new, negated=clause.negated),
    ]


def _switched_to(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "switched to an iPhone": the new value, of the kind the catalog names for it (else
    the kind of the user's current workplace or school, in the Map stage)."""
    new = _named(match.group("obj"))
    mapped = predicate_map(relation_phrase="use", object_text=_head(new))
    if clause.negated:
        return []
    name = None if mapped is FALLBACK_PREDICATE else mapped.name
    return [_Found(name, CHANGE_TO, new)]


def _arrived(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "I'm at UCLA now": a school when its name says so; otherwise left to the Map stage,
    which takes the kind of the user's current workplace or school (`CHANGE_TO`)."""
    obj = match.group("obj")
    school = re.search(
        r"\b(?:College|University|Uni|School|High|Academy|Institute|Polytechnic)\b", obj
    )
    if clause.negated:
        # "I'm no longer at Deloitte": the old place, of the kind its stored fact has.
        return [_Found("studies_at" if school else None, CHANGE_FROM, obj, negated=True)]
    return [_Found("studies_at" if school else None, CHANGE_TO, obj)]


def _attribute_change(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "changed my name to X" reads as "my name is X"."""
    mapped = predicate_map(relation_phrase=f"my {match.group('attr')} is", object_text="")
    if mapped is FALLBACK_PREDICATE:
        return []
    return [_Found(mapped.name, "changed to", _named(match.group("obj")))]


def _moving(match: re.Match[str], clause: _Clause) -> list[_Found]:
    return [
        _Found("plans_to", "moving to", f"move to {match.group('obj')}", negated=clause.negated)
    ]


def _plan(match: re.Match[str], clause: _Clause) -> list[_Found]:
    obj = match.group("obj")
    if match.group("verb").lower() == "will" and len(_head(obj).split()) <= 2:
        return []  # "I'll keep looking", "will do": sign-offs, not plans
    going_to_place = match.group("verb").lower().startswith("going") and re.match(
        r"^(?:the|a|an|my|[A-Z])", obj
    )
    return [
        _Found(
            "plans_to",
            match.group("verb").lower(),
            f"go to {obj}" if going_to_place else obj,
            negated=clause.negated,
        )
    ]


def _take(match: re.Match[str], clause: _Clause) -> list[_Found]:
    obj = match.group("obj")
    if _DRUG_RE.search(obj.split(" for ")[0]) and not re.match(
        r"^(?:the|a|my)\s+(?:bus|train|kids|dog|car|time|class|course|trip|break|walk|photo|"
        r"picture)",
        obj,
        re.IGNORECASE,
    ):
        return [_Found("medication", "take", obj, negated=clause.negated)]
    return []


def _opinion(match: re.Match[str], clause: _Clause) -> list[_Found]:
    obj = match.group("obj")
    if len(obj.split()) < 3 or not re.search(
        r"\b(?:is|are|was|were|should|makes?|will|can|has|have|helps?|works?|matters?|better|"
        r"belongs?|deserves?|needs?|sucks?|beats?|tastes?|looks?|sounds?|ruins?|wins?|"
        r"worse|best|worst|overrated|underrated)\b",
        obj,
        re.IGNORECASE,
    ):
        return []
    return [_Found("opinion", match.group("verb").lower(), obj)]


def _did(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """A past-tense action nobody else claimed: "I painted that lake sunrise"."""
    verb = match.group("verb")
    if verb.lower() in _NOT_ACTIVITIES:
        return []
    obj = match.group("obj")
    if not _usable(_LEADING_ARTICLE_RE.sub("", _head(obj).strip())):
        return []
    return [_Found("did_activity", verb, f"{verb} {obj}".strip(), negated=clause.negated)]


_NOT_ACTIVITIES = frozenset(
    "seemed needed wanted used decided happened realized realised felt thought hoped wished tried "
    "liked loved "
    "hated enjoyed preferred guessed supposed figured noticed meant mentioned said told asked "
    "looked sounded "
    "appreciated missed forgot remembered knew believed agreed planned expected waited called "
    "texted "
    "replied answered managed helped wondered started got was were had did went made took "
    "dreamed dreamt imagined pretended assumed guessed "
    # present tense that only looks past ("I need a new laptop")
    "need feed bleed breed speed proceed succeed exceed heed".split()
)


_CRAFT_VERBS = (
    _forms(
        "paint",
        "draw",
        "knit",
        "bake",
        "garden",
        "write",
        "sing",
        "dance",
        "cook",
        "sew",
        "crochet",
        "volunteer",
        "sculpt",
        "journal",
        "blog",
        "photograph",
    )
    + "|drew|sang|wrote|written|drawn|sung"
)


def _craft(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """Creative pastimes: present tense is a hobby (or routine), past/progressive an activity."""
    verb = match.group("verb").lower()
    obj = _without_frequency(match.group("obj") or "")
    phrase = f"{match.group('verb')} {obj}".strip()
    if verb.endswith(("ed", "ing")) or verb in (
        "drew",
        "sang",
        "wrote",
        "written",
        "drawn",
        "sung",
    ):
        return [_Found("did_activity", verb, phrase, negated=clause.negated)]
    if clause.frequent:  # "I bake bread every weekend": the routine is baking bread
        return [_Found("routine", verb, phrase, negated=clause.negated)]
    if verb in ("write", "writes") and obj:
        # "I mostly write TypeScript": a programming language written is the one preferred.
        language = re.sub(r"^(?:mostly|mainly|mainly|largely|only)\s+", "", obj, flags=re.I)
        language = _LOCATIVE_END_RE.split(language, maxsplit=1)[0]
        mapped = predicate_map(relation_phrase="", object_text=language).name
        if mapped in ("prefers_programming_language", "prefers_framework"):
            return [_Found(mapped, verb, language, negated=clause.negated)]
    return [_Found("hobby", verb, obj or verb, negated=clause.negated)]


_LOCATIVE_END_RE = re.compile(
    r"\s+(?:at|for|these|this|in|on|with|nowadays|now|day|professionally)\b|\s*,", re.I
)


def _without_frequency(obj: str) -> str:
    """An object without its frequency and what follows it: "bread every weekend" → "bread"."""
    obj = _FREQUENCY_SPAN_RE.split(" " + obj.strip(), maxsplit=1)[0].strip(" ,")
    return re.sub(r"\s+(?:at|on|in|around|by|before|after)$", "", obj)


def _exercise(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "I swim laps", "I run every morning": the exercise (running when nothing follows)."""
    verb = match.group("verb")
    obj = _without_frequency(match.group("obj") or "")
    if obj:
        return [_Found("exercise", verb, obj, negated=clause.negated)]
    return [_Found("exercise", verb, _gerund(verb), negated=clause.negated)]


def _gerund(verb: str) -> str:
    """ "run" → "running", "hike" → "hiking", "swims" → "swimming"."""
    verb = verb.lower()
    if verb.endswith("s") and not verb.endswith("ss"):
        verb = verb[:-1]
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    if re.search(r"(?:^|[^aeiou])[aeiou][bdgmnprt]$", verb):
        return verb + verb[-1] + "ing"
    return verb + "ing"


def _activity_frequency(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """Habitual present tense with a frequency word: "I meditate every day"."""
    verb = match.group("verb")
    # The frequency (and what follows it) is when, not what: "run every morning" is running.
    obj = _without_frequency(match.group("obj") or "")
    phrase = f"{verb} {obj}".strip()
    mapped = predicate_map(relation_phrase=verb, object_text=_head(obj))
    if mapped.name in ("exercise", "hobby", "medication"):
        if not obj and mapped.name == "exercise":
            return [_Found("exercise", verb, _gerund(verb), negated=clause.negated)]
        return [_Found(mapped.name, verb, obj or verb, negated=clause.negated)]
    return [_Found("routine", verb, phrase, negated=clause.negated)]


_FREQUENCY_SPAN_RE = re.compile(
    r"\s+(?:(?:every|each)\s+(?:other\s+|single\s+|few\s+)?\w+|most\s+(?:days|mornings|"
    r"evenings|nights|weekends|weeks)|(?:once|twice|\w+\s+times)\s+a\s+\w+|daily|nightly|"
    r"weekly|monthly|on\s+(?:weekends|weekdays|\w+days)|at\s+weekends|religiously|"
    r"regularly)\b",
    re.IGNORECASE,
)
