"""The offline extractor: deterministic rules that turn one event into propositions.

In this module: `OfflineExtractor` (the default extractor; no network, no model) and the
rules it applies: sentence and clause splitting with character offsets, subject
resolution, hedge/question filtering, verb-phrase rules that name a catalog predicate,
tool-call and app-event parsing.

Not in this module: the LLM extractor, mapping propositions onto stored facts (Map),
utility scoring (enrichment/gate.py), the predicate catalog (enrichment/catalog.py).

Decisions a reader needs to know:
- Subjects. A user-role (or role-less) "I/my/me/we" is `USER_SUBJECT`. A line that
  starts with a speaker prefix ("Alice: I went…") makes "I" = "Alice". Assistant-role
  "you/your" is the user (confidence 0.6); assistant-role "I" is the assistant and
  yields nothing. "My sister Anna lives in Rome" gives Anna lives_in Rome *and* user
  has_sibling Anna. "he/she" resolve to the last third party named in the same event.
- Negation. Stative predicates keep their predicate with `negated=True` ("I no longer
  work at X" → works_at X negated; "I used to live in Y" → lives_in Y negated).
  Negated liking ("I don't like X", "not a fan of X") becomes `dislikes` X, not a
  negated `likes`, because "dislikes" is what recall wants to find. Negated eating or
  drinking ("I don't eat meat") is `diet` with the food and `negated=True`.
- Hedges, conditionals and questions yield nothing: a question or an "if/whether"
  sentence is skipped whole; a hedged clause ("might", "maybe", "I'd", "thinking
  about") is skipped on its own.
- `source_text` is always the whole sentence the proposition came from (without a
  speaker prefix), so `content[start:end] == source_text`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from enrichment.extraction.sentences import clauses as _clauses
from enrichment.extraction.sentences import lines as _lines
from enrichment.extraction.sentences import sentences as _sentences
from enrichment.extraction.sentences import trimmed as _trimmed
from enrichment.propositions import (
    USER_SUBJECT,
    ExtractionInput,
    ExtractionResult,
    Proposition,
    TemporalMatch,
)
from memory.vocabulary.predicates import FALLBACK_PREDICATE, PREDICATES, predicate_map, stems
from memory.vocabulary.temporal import temporal_resolve

# --- vocabulary ------------------------------------------------------------------

_PET_NOUNS = (
    "dog|dogs|puppy|puppies|cat|cats|kitten|kittens|parrot|parrots|hamster|hamsters|rabbit|rabbits|bunny"
    "|horse|horses|snake|snakes|turtle|turtles|goldfish|fish|lizard|gecko|guinea "
    "pig|ferret|bird|birds|pup|kitty"
)
_RELATION_NOUNS: dict[str, str] = {
    **dict.fromkeys(
        ("sister", "sisters", "brother", "brothers", "sibling", "siblings", "twin"), "has_sibling"
    ),
    **dict.fromkeys(
        (
            "son",
            "sons",
            "daughter",
            "daughters",
            "kid",
            "kids",
            "child",
            "children",
            "baby",
            "boy",
            "girl",
            "twins",
        ),
        "has_child",
    ),
    **dict.fromkeys(
        (
            "wife",
            "husband",
            "partner",
            "girlfriend",
            "boyfriend",
            "fiance",
            "fiancé",
            "fiancee",
            "fiancée",
            "spouse",
        ),
        "partner",
    ),
    **dict.fromkeys(
        ("mom", "mum", "mother", "dad", "father", "parents", "stepmom", "stepdad"), "has_parent"
    ),
    **dict.fromkeys(
        (
            "grandma",
            "grandmother",
            "grandpa",
            "grandfather",
            "aunt",
            "uncle",
            "cousin",
            "niece",
            "nephew",
            "grandparents",
        ),
        "has_relative",
    ),
    **dict.fromkeys(("friend", "friends", "bestie", "buddy", "roommate"), "friend_of"),
    **dict.fromkeys(
        ("boss", "coworker", "co-worker", "colleague", "manager", "teammate", "mentor"), "colleague"
    ),
    **dict.fromkeys(_PET_NOUNS.split("|"), "has_pet"),
}
_RELATION_ALT = "|".join(sorted((re.escape(k) for k in _RELATION_NOUNS), key=len, reverse=True))
_RELATION_MODIFIERS = (
    r"(?:(?:best|older|younger|little|big|baby|twin|oldest|youngest|eldest|new|old|step|late|ex|"
    r"two|three|\w+-year-old)\s+)*"
)

# Occupation nouns by suffix or by name; "I'm a X" with such a head is a job title.
_JOB_WORDS = frozenset(
    "nurse doctor teacher engineer developer designer lawyer accountant scientist programmer "
    "consultant "
    "analyst writer chef cook counselor counsellor therapist architect photographer researcher "
    "professor "
    "pharmacist electrician mechanic barista pilot firefighter officer cop dentist surgeon "
    "paramedic "
    "librarian journalist editor manager director ceo cto founder entrepreneur freelancer "
    "contractor "
    "plumber carpenter farmer banker economist psychologist psychiatrist pediatrician "
    "veterinarian vet "
    "artist musician actor actress dancer singer student intern tutor coach trainer recruiter "
    "realtor "
    "cashier waiter waitress bartender driver clerk secretary assistant administrator technician "
    "marketer salesperson sales investor attorney paralegal translator illustrator animator "
    "sysadmin devops scrum owner lead principal architect stylist hairdresser baker butcher".split()
)
_JOB_SUFFIX_RE = re.compile(r"(?:ist|ian|eer|ologist|ographer|grapher)$")
_NATIONALITIES = frozenset(
    "american canadian mexican brazilian argentinian chilean colombian peruvian british english "
    "scottish "
    "welsh irish french german dutch belgian swiss austrian italian spanish portuguese greek "
    "turkish "
    "polish czech slovak hungarian romanian bulgarian ukrainian russian swedish norwegian danish "
    "finnish "
    "icelandic estonian latvian lithuanian serbian croatian israeli egyptian moroccan nigerian "
    "kenyan "
    "ghanaian ethiopian south african indian pakistani bangladeshi sri lankan nepali chinese "
    "japanese "
    "korean vietnamese thai filipino indonesian malaysian singaporean australian iranian iraqi "
    "lebanese syrian saudi emirati jamaican cuban".split()
)
_LANGUAGES = frozenset(
    "english spanish french german italian portuguese dutch swedish norwegian danish finnish "
    "polish "
    "russian ukrainian greek turkish arabic hebrew hindi urdu bengali punjabi tamil mandarin "
    "cantonese "
    "chinese japanese korean vietnamese thai indonesian malay tagalog swahili persian farsi czech "
    "hungarian romanian icelandic catalan basque welsh irish latin sign asl".split()
)
_DIETS = (
    r"vegetarian|vegan|pescatarian|pescetarian|keto|paleo|gluten[- ]free|plant[- ]based|"
    r"dairy[- ]free|halal|kosher|carnivore|sober|teetotal"
)
_EVENT_NOUNS = re.compile(
    r"\b(?:concert|conference|festival|party|support group|group|meetup|meet-up|workshop|class|"
    r"seminar|"
    r"game|match|show|wedding|funeral|parade|exhibition|exhibit|event|retreat|camp|fair|rally|"
    r"march|"
    r"ceremony|gala|convention|hackathon|talk|lecture|service|session|recital|performance|play|"
    r"musical|"
    r"race|marathon|tournament|competition|fundraiser|club|meeting|graduation|reunion|course|"
    r"pride)\b",
    re.IGNORECASE,
)
_DRUG_RE = re.compile(
    r"\b(?:\w+(?:in|ol|ide|ine|pril|statin|sartan|mab|zole|cillin|formin|profen|azepam|pam|one|"
    r"xetine|ium|cycline)"
    r"|insulin|vitamin \w+|vitamins|meds|medication|pills?|supplements?|antidepressants?|"
    r"\d+\s?mg)\b",
    re.IGNORECASE,
)

# Words after which an object stops: clause glue, not part of the thing named.
_OBJECT_STOP_RE = re.compile(
    r"\s*(?:[,;:!?()]|\.(?:\s|$)|\s?[-–—]\s|\s(?:and|but|because|cause|so|since|when|while|which|"
    r"who|whom|"
    r"where|although|though|after|before|until|if|unless|as well|in order|to be honest|"
    r"lately|right now|these days|nowadays|this time|at the moment|for now|as an? (?:kid|child|"
    r"teen|teenager|student)|"
    r"for (?:a while|a bit|a long time|a few|a couple|about|over|almost|nearly|the past|\d+|one|"
    r"two|three|four|five|"
    r"six|seven|eight|nine|ten|many|several|years|months|weeks|days|ages|fun|work|my birthday)|"
    r"with (?:the kids|my (?:kids|family|wife|husband|friends?|partner))|"
    r"that (?:i|we|is|was|are|were|it)|it was|it's|which was)\b)",
    re.IGNORECASE,
)
_TRAILING_JUNK_RE = re.compile(
    r"(?:\s+(?:too|as well|again|anymore|any more|a lot|so much|very much|really|now|already|"
    r"today|yesterday|tonight|tomorrow|recently|lately|soon|someday|though|haha|lol|though|"
    r"every (?:day|morning|evening|night|week|weekend|month|year)|each (?:day|morning|week)|"
    r"on weekends|at weekends|daily|weekly|these days|in a while|once a week|twice a week|"
    r"(?:last|next|this|every) (?:spring|summer|fall|autumn|winter|season|semester|term)|"
    r"(?:in|since|from) (?:19|20)\d\d|for (?:years|ages|months|a while)|every|each|"
    r"with (?:him|her|them|us|me|you)|here|there))+\s*$",
    re.IGNORECASE,
)
_LEADING_ARTICLE_RE = re.compile(r"^(?:a|an|the|some)\s+", re.IGNORECASE)
_EMPTY_OBJECTS = frozenset(
    "it this that these those them him her me us you one ones so there here something anything "
    "everything "
    "nothing stuff things thing lot a lot fun more much well too all idea way time moment moments "
    "feeling "
    "feelings place people".split()
)

# Sentence-level and clause-level filters.
_CONDITIONAL_RE = re.compile(
    r"\b(?:if|unless|whether|in case|suppose|supposing|imagine|what if)\b", re.IGNORECASE
)
_HEDGE_RE = re.compile(
    r"\b(?:might|maybe|perhaps|possibly|probably|could|would|should|someday|some day|hopefully|"
    r"wish|"
    r"wonder|wondering|wondered|considering|consider|thinking about|thinking of|think about|"
    r"not sure|"
    r"unsure|debating|deciding|undecided|hypothetically|ought)\b|\b(?:i|you|we|he|she|they)['’]d\b"
    r"|(?<!\bin )(?<!\bof )(?<!\bsince )(?<!\buntil )(?<!\bearly )(?<!\blate )(?<!\bmid )"
    r"(?<!\bthis )"
    r"(?<!\bnext )(?<!\blast )\bmay\b(?!\s+\d)",
    re.IGNORECASE,
)
_QUESTION_START_RE = re.compile(
    r"^(?:do|does|did|are|is|was|were|can|could|would|should|will|shall|have|has|had|what|where|"
    r"when|who|"
    r"why|how|which|whose|wanna|any|anything)\b(?!\s+(?:i|we)\s+(?:was|am))",
    re.IGNORECASE,
)
_INTERJECTION_RE = re.compile(
    r"^(?:(?:yeah|yes|yep|yup|no|nope|oh|ooh|ah|aw|aww|wow|whoa|well|so|and|but|also|plus|anyway|"
    r"anyways|"
    r"actually|honestly|btw|by the way|fyi|haha+|hah|lol|lmao|omg|hey|hi|hello|ok|okay|sure|right|"
    r"true|"
    r"totally|absolutely|definitely|cool|great|awesome|nice|thanks|thank you|um+|uh+|hmm+|then|now|"
    r"guess what|fun fact|speaking of which|in fact|for sure|same here|me too|good news|oh and)"
    r"(?:\s*[,!.:;-]+\s*|\s+))+",
    re.IGNORECASE,
)
_LEADING_ADJUNCT_RE = re.compile(
    r"^(?P<adjunct>(?:(?:in|on|at|during|over|for|after|before|since|last|this|next|back in|"
    r"earlier|yesterday|"
    r"today|tonight|recently|lately|these days|nowadays|every|in my|on my|at my|when i was|"
    r"as a kid|"
    r"growing up)\b[^,]{0,40}?),?\s+)(?=(?:i|i'm|i've|i'll|we|we're|we've)\b)",
    re.IGNORECASE,
)

_SPEAKER_RE = re.compile(
    r"^[ \t]*(?P<name>[A-Z][\w'.-]{0,30}(?: [A-Z][\w'.-]{0,30})?)[ \t]?:[ \t]+(?=\S)"
)
_NOT_SPEAKERS = frozenset(
    "note noted ps p.s update edit re subject q a question answer tip warning example step "
    "summary reminder "
    "important fyi btw ok okay title date time location todo to do done result error output input "
    "http https".split()
)
_USER_SPEAKERS = frozenset({"user", "me", "human", "customer"})
_BOT_SPEAKERS = frozenset({"assistant", "ai", "bot", "system", "claude", "chatgpt", "gpt"})
_NAME_STOPWORDS = frozenset(
    "the this that these those it there here what when where who why how which thanks thank yes "
    "no yeah wow oh "
    "hey hi hello well so and but also just maybe love sounds great good nice cool awesome sure "
    "ok okay "
    "painting being having let please sorry congrats congratulations happy glad hope anyway haha "
    "lol "
    "totally absolutely exactly definitely same today yesterday tomorrow tonight everyone "
    "everything "
    "nothing something someone somebody nobody life work family my your our his her their i you "
    "we they "
    "he she me us them user customer wait look see check remember guess".split()
)


def _forms(*bases: str) -> str:
    """An alternation of the inflected forms of regular verbs (live → lives, lived, living)."""
    forms: set[str] = set()
    for base in bases:
        forms.add(base)
        if base.endswith("e"):
            forms.update({base + "s", base + "d", base[:-1] + "ing"})
        elif base.endswith("y") and base[-2] not in "aeiou":
            forms.update({base[:-1] + "ies", base[:-1] + "ied", base + "ing"})
        elif base.endswith(("s", "sh", "ch", "x")):
            forms.update({base + "es", base + "ed", base + "ing"})
        else:
            forms.update({base + "s", base + "ed", base + "ing"})
            if re.search(r"[^aeiou][aeiou][bdgmnprt]$", base) and len(base) <= 4:
                forms.update({base + base[-1] + "ed", base + base[-1] + "ing"})
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


# --- text normalisation ------------------------------------------------------------

_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bcan['’]?t\b", "can not"),
        (r"\bcannot\b", "can not"),
        (r"\bwon['’]t\b", "will not"),
        (r"\b(\w+)n['’]t\b", r"\1 not"),
        (r"['’]m\b", " am"),
        (r"['’]re\b", " are"),
        (r"['’]ve\b", " have"),
        (r"['’]ll\b", " will"),
        (r"\b(he|she|it|that|who|what|there)['’]s\b", r"\1 is"),
        (r"\bgonna\b", "going to"),
        (r"\bwanna\b", "want to"),
        (r"\bgotta\b", "have to"),
    )
)
_NEGATION_RE = re.compile(
    r"\b(?:do not|does not|did not|have not|has not|had not|am not|is not|are not|was not|were not|"
    r"will not|no longer|not any ?more|never|not)\s+",
    re.IGNORECASE,
)
_NEGATION_TAIL_RE = re.compile(r"\s+(?:any ?more|no more|any longer)\b", re.IGNORECASE)
_ADVERB_RE = re.compile(
    r"\b(?:also|really|still|just|recently|currently|actually|finally|usually|always|often|mostly|"
    r"absolutely|totally|definitely|even|already|officially|basically|literally|honestly|truly|"
    r"kinda|"
    r"kind of|sort of|pretty much|originally|now|lately|generally|normally|typically|sometimes|"
    r"occasionally|regularly|mainly|primarily|exclusively|secretly|happily|proudly|finally|very|so|"
    r"quite|super|extremely|totally|big time|first)\s+",
    re.IGNORECASE,
)
# Adverbs that never belong to an object; removed wherever they occur.
_INNER_ADVERB_RE = re.compile(
    r"\b(?:also|really|still|just|recently|currently|actually|finally|usually|always|often|mostly|"
    r"absolutely|"
    r"totally|definitely|already|officially|basically|literally|honestly|truly|kinda|originally|"
    r"lately|"
    r"generally|normally|typically|sometimes|occasionally|regularly|mainly|primarily|secretly|"
    r"certainly|"
    r"surely|be sure to|make sure to)\s+",
    re.IGNORECASE,
)
_FREQUENCY_RE = re.compile(
    r"\b(?:usually|always|every (?:day|morning|evening|night|week|weekend|monday|tuesday|"
    r"wednesday|thursday|"
    r"friday|saturday|sunday)|each (?:day|morning|week)|daily|weekly|on weekends|at weekends|"
    r"twice a|once a|"
    r"(?:\d+|one|two|three|four|five) times a)\b",
    re.IGNORECASE,
)


@dataclass
class _Clause:
    """A clause with normalised text; `negated`/`past_negation` were stripped out of it."""

    subject: str
    text: str
    negated: bool
    frequent: bool
    confidence: float
    owner: str  # who "my" refers to


@dataclass
class _Found:
    predicate: str | None
    relation: str
    obj: str
    negated: bool = False
    subject: str | None = None  # overrides the clause subject (e.g. a relation fact)
    confidence: float | None = None


def _normalise(text: str) -> str:
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def _clean_object(
    raw: str, *, temporal: tuple[TemporalMatch, ...], keep_commas: bool = False
) -> str:
    """Cut an object at clause glue and strip trailing time words and articles."""
    text = raw.strip()
    for match in temporal:
        index = text.lower().find(match.raw_expression.lower())
        if index > 0:
            text = text[:index]
        elif index == 0:
            return ""
    if keep_commas:
        # "Austin, Texas": a comma followed by a capitalised place continues the object.
        text = re.sub(r",\s+(?=[A-Z])", " ,", text)
    # The leading space lets a stop phrase match at the very start ("for a while").
    cut = _OBJECT_STOP_RE.search(" " + text)
    if cut:
        text = text[: max(cut.start() - 1, 0)]
    if keep_commas:
        text = text.replace(" ,", ",")
    previous = None
    while previous != text:
        previous = text
        text = _TRAILING_JUNK_RE.sub("", text).strip(" .,!?;:'\"")
    text = _LEADING_ARTICLE_RE.sub("", text)
    words = text.split()
    if len(words) > 12:
        text = " ".join(words[:12])
    return text.strip()


def _head(obj: str) -> str:
    """The object up to the first clause glue: what predicate mapping should look at."""
    cut = _OBJECT_STOP_RE.search(obj)
    return obj[: cut.start()] if cut else obj


def _usable(obj: str) -> bool:
    lowered = obj.lower().strip()
    if not lowered or lowered in _EMPTY_OBJECTS:
        return False
    words = re.findall(r"[\w'-]+", lowered)
    if not words or words[0] in {
        "how",
        "what",
        "why",
        "when",
        "where",
        "who",
        "whether",
        "if",
        "that",
        "to",
        "not",
        "so",
    }:
        return False
    if len(words) <= 2 and words[0] in {
        "for",
        "on",
        "in",
        "at",
        "with",
        "of",
        "about",
        "from",
        "by",
        "up",
        "out",
    }:
        return False
    # Promises and compliments to the other person ("keep you posted", "your turtles")
    # are not facts about the speaker; nor is a short object leaning on a pronoun
    # ("forget it").
    if any(word in ("you", "your", "yours", "ya", "u") for word in words):
        return False
    if len(words) <= 4 and (
        any(word in _PRONOUNS for word in words) or words[-1] in _DEMONSTRATIVES
    ):
        return False
    return True


_PRONOUNS = frozenset("it them him me us".split())
_DEMONSTRATIVES = frozenset("this that these those one her".split())


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


def _mapped(default: str | None = None) -> Handler:
    """Let the catalog pick the predicate from the verb and the object."""

    def handle(match: re.Match[str], clause: _Clause) -> list[_Found]:
        relation = match.group(0)[: match.start("obj") - match.start()].strip()
        obj = match.group("obj")
        predicate = predicate_map(relation_phrase=relation, object_text=_head(obj))
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
    refined = predicate_map(relation_phrase="", object_text=_head(obj))
    if refined.name in ("prefers_framework", "prefers_programming_language"):
        return [_Found(refined.name, relation, obj)]
    if re.search(
        r"\b(?:career|job|profession|working in|work in|counsel\w*)\b", obj, re.IGNORECASE
    ):
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
    phrase = match.group("obj")
    place = None
    split = re.split(r"\s+(?:at|for|with)\s+(?=[A-Z0-9]|(?:a|an|the)\s)", phrase, maxsplit=1)
    if len(split) == 2:
        phrase, place = split
    head_words = re.findall(r"[A-Za-z-]+", _OBJECT_STOP_RE.split(phrase, maxsplit=1)[0])
    if not head_words:
        return []
    head = head_words[-1].lower()
    lowered = phrase.lower()
    found: list[_Found] = []
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
        return found
    if head.endswith("tarian") or re.fullmatch(_DIETS, head):
        return [_Found("diet", "am a", head, negated=clause.negated)]
    if head in _JOB_WORDS or _JOB_SUFFIX_RE.search(head):
        found.append(_Found("job_title", "am a", phrase, negated=clause.negated))
        if place:
            found.append(_Found("works_at", "work at", place, negated=clause.negated))
        return found
    return [_Found("is_a", "am a", phrase, negated=clause.negated)]


def _be_bare(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """'I'm Marco' / 'I'm Canadian' / 'I'm engaged' / 'I'm 34'."""
    obj = match.group("obj").strip(" .!")
    lowered = obj.lower()
    if lowered in _NATIONALITIES:
        return [_Found("nationality", "am", obj, negated=clause.negated)]
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
    ):
        return [_Found("name", "am", obj)]
    return []


def _have(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """'I have two kids / a dog named Rex / asthma / a dentist appointment / a MacBook'."""
    verb = match.group("verb").lower()
    obj = match.group("obj")
    kin = re.match(
        rf"^(?P<np>(?:(?:an?|one|two|three|four|five|six|\d+|some|a few|"
        rf"several)\s+)?{_RELATION_MODIFIERS}"
        rf"(?:\w+\s+)?(?P<noun>{_RELATION_ALT}))\b(?:\s*,?\s*(?:named|"
        rf"called)\s+(?P<name>[A-Z][\w-]*(?:(?:,\s*|\s+and\s+)[A-Z][\w-]*)*))?",
        obj,
        re.IGNORECASE,
    )
    if kin and kin.group("noun").lower() in _RELATION_NOUNS:
        predicate = _RELATION_NOUNS[kin.group("noun").lower()]
        target = kin.group("name") or kin.group("np")
        if predicate in ("has_pet", "has_child", "has_sibling") or kin.group("name"):
            return [_Found(predicate, verb, target, negated=clause.negated)]
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
        r"moment|pleasure|honou?r)\b",
        obj,
        re.IGNORECASE,
    ):
        return []
    predicate = predicate_map(relation_phrase=verb, object_text=_head(obj))
    if (
        predicate.kind != "schedule"
        and _EVENT_NOUNS.search(_head(obj))
        and verb in ("have", "has", "got")
    ):
        return [_Found("scheduled_event", verb, obj, negated=clause.negated)]
    if predicate is not FALLBACK_PREDICATE and predicate.name != "owns":
        return [_Found(predicate.name, verb, obj, negated=clause.negated)]
    if verb in ("own", "owns", "owned", "bought", "buy", "purchased", "got") or re.search(
        r"[A-Z0-9]", obj
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


_NOT_PROGRESSIVE_ACTIVITIES = frozenset(
    "going thinking feeling looking hoping trying getting doing having wondering planning "
    "considering waiting "
    "starting saying talking kidding joking being telling asking glad sorry coming leaving "
    "missing loving "
    "seeing meaning dying struggling sitting".split()
)
_NOT_ACTIVITIES = frozenset(
    "seemed needed wanted used decided happened realized realised felt thought hoped wished tried "
    "liked loved "
    "hated enjoyed preferred guessed supposed figured noticed meant mentioned said told asked "
    "looked sounded "
    "appreciated missed forgot remembered knew believed agreed planned expected waited called "
    "texted "
    "replied answered managed helped wondered started got was were had did went made took".split()
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
    phrase = f"{match.group('verb')} {(match.group('obj') or '').strip()}".strip()
    if verb.endswith(("ed", "ing")) or verb in (
        "drew",
        "sang",
        "wrote",
        "written",
        "drawn",
        "sung",
    ):
        return [_Found("did_activity", verb, phrase, negated=clause.negated)]
    return [
        _Found(
            "routine" if clause.frequent else "hobby",
            verb,
            (match.group("obj") or "").strip() or verb,
            negated=clause.negated,
        )
    ]


def _activity_frequency(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """Habitual present tense with a frequency word: "I meditate every day"."""
    verb = match.group("verb")
    obj = (match.group("obj") or "").strip()
    phrase = f"{verb} {obj}".strip()
    mapped = predicate_map(relation_phrase=verb, object_text=_head(obj))
    if mapped.name in ("exercise", "hobby", "medication"):
        return [_Found(mapped.name, verb, obj or verb, negated=clause.negated)]
    return [_Found("routine", verb, phrase, negated=clause.negated)]


# Each rule is tried against the clause text after its subject; the first that matches
# (and returns something) wins. Order: specific constructions before general verbs.
_RULES: tuple[tuple[re.Pattern[str], Handler], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), handler)
    for pattern, handler in (
        # identity
        (
            r"^(?:am|was|is)\s+(?:(?:a\s+)?native\s+(?P<obj>\w+)\s+speaker)",
            _fixed("speaks_language", "native speaker"),
        ),
        (rf"^(?:go|goes|went)\s+by\s+{_O}", _fixed("name")),
        (
            rf"^(?:turned|turn|turns|am turning|is turning)\s+(?P<obj>\d{{1,3}}|"
            rf"{_NUMBER_WORDS})\b(?!\s*(?:%|percent|degrees|times|people|pages))",
            _fixed("age", "turned"),
        ),
        (
            rf"^{_BE}\s+(?P<obj>\d{{1,3}}|{_NUMBER_WORDS})\s+(?:years?|yrs?)\s+old\b",
            _fixed("age", "years old"),
        ),
        (
            r"^(?:was\s+)?born\s+(?:on\s+)?(?P<obj>(?:\d{1,2}(?:st|nd|rd|th)?\s+)?(?:january|"
            r"february|march|april|may|june|july|august|september|october|november|december)\b.*|"
            r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}.*)",
            _fixed("birthday", "born on"),
        ),
        (
            r"^(?:was\s+)?born\s+(?:and\s+raised\s+)?in\s+(?P<obj>(?:19|20)\d\d)\b",
            _fixed("birthday", "born in"),
        ),
        (
            rf"^(?:was\s+)?(?:born\s+and\s+raised|born|raised|grew\s+up|grow\s+up)\s+in\s+{_O}",
            _fixed("from_location", "grew up in"),
        ),
        (
            rf"^(?:am|is|are|was|were)\s+(?:from|originally\s+from)\s+{_O}",
            _fixed("from_location", "from"),
        ),
        (
            rf"^(?:identify|identifies|identified)\s+as\s+{_O}",
            _fixed("gender_identity", "identify as"),
        ),
        (rf"^(?:came|come|comes)\s+out\s+as\s+{_O}", _fixed("gender_identity", "came out as")),
        # diet / health
        (
            rf"^(?:am|is|are|was|been|went|gone|became|become|have been)\s+(?:a\s+)?(?:strict\s+|"
            rf"full\s+|mostly\s+)?(?P<obj>{_DIETS})\b",
            _fixed("diet", "am"),
        ),
        (
            rf"^(?:eat|eats|ate|eating|drink|drinks|drank|drinking)\s+{_O}",
            lambda m, c: [_Found("diet", "eat", m.group("obj"), negated=True)] if c.negated else [],
        ),
        (
            rf"^{_BE}\s+(?:severely\s+|mildly\s+|deathly\s+)?allergic\s+to\s+{_O}",
            _fixed("allergy", "allergic to"),
        ),
        (rf"^{_BE}\s+(?P<obj>\w+)\s+intolerant\b", _fixed("allergy", "intolerant")),
        (
            rf"^(?:{_BE}\s+|got\s+)?diagnosed\s+with\s+{_O}",
            _fixed("health_condition", "diagnosed with"),
        ),
        (
            rf"^(?:suffer|suffers|suffered|suffering|am suffering)\s+from\s+{_O}",
            _fixed("health_condition", "suffer from"),
        ),
        (rf"^(?:take|takes|took|taking|am taking|am on|is on)\s+{_O}", _take),
        # location
        (
            r"^(?:live|lives|lived|living|am living|is living|are living|reside|resides|resided|"
            r"residing)\s+at\s+(?P<obj>\d.+)",
            _fixed("address", "live at"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:live|lives|lived|living|reside|resides|resided|residing|based|"
            rf"staying|settled)\s+(?:in|on)\s+{_O}",
            _fixed("lives_in", "live in"),
        ),
        (rf"^(?:{_BE}\s+)?(?:moving|relocating)\s+(?:back\s+)?to\s+{_O}", _moving),
        (
            rf"^(?:have\s+|has\s+)?(?:moved|move|relocated|relocate)\s+(?:back\s+|"
            rf"over\s+)?to\s+{_O}",
            _fixed("lives_in", "moved to"),
        ),
        (rf"^(?:call|calls)\s+{_O}\s+home\b", _fixed("lives_in", "call home")),
        # work / education
        (
            rf"^(?:{_BE}\s+)?(?:work|works|worked|working)\s+as\s+(?:an?\s+)?{_O}",
            _fixed("job_title", "work as"),
        ),
        (
            rf"^(?:{_BE}\s+|have\s+|has\s+)?(?:work|works|worked|working)\s+(?:at|"
            rf"for)\s+(?P<obj>.+?)\s+as\s+(?:an?\s+)?(?P<title>.+)",
            lambda m, c: [
                _Found("works_at", "work at", m.group("obj"), negated=c.negated),
                _Found("job_title", "work as", m.group("title"), negated=c.negated),
            ],
        ),
        (
            rf"^(?:{_BE}\s+|have\s+|has\s+)?(?:work|works|worked|working)\s+(?:at|for)\s+{_O}",
            _fixed("works_at", "work at"),
        ),
        (rf"^(?:{_BE}\s+)?employed\s+(?:at|by)\s+{_O}", _fixed("works_at", "employed by")),
        (
            rf"^(?:started|start|starting|got|landed|accepted|took|begin|began|"
            rf"am starting)\s+(?:a\s+|my\s+)?(?:new\s+)?(?:job|position|role|internship)\s+(?:at|"
            rf"with)\s+{_O}",
            _fixed("works_at", "job at"),
        ),
        (
            rf"^(?:got|was|been|have been)\s+promoted\s+to\s+(?:an?\s+)?{_O}",
            _fixed("job_title", "promoted to"),
        ),
        (
            rf"^(?:lost|quit|left)\s+(?:my|his|her|their)\s+job\s+as\s+(?:an?\s+)?{_O}",
            _fixed("job_title", "lost job as", negate=True),
        ),
        (
            rf"^(?:lost|quit|left)\s+(?:my|his|her|their)\s+job\s+at\s+{_O}",
            _fixed("works_at", "quit job at", negate=True),
        ),
        (rf"^(?:retired|resigned)\s+from\s+{_O}", _fixed("works_at", "retired from", negate=True)),
        (
            r"^(?:joined|join|"
            r"joins)\s+(?P<obj>(?-i:[A-Z][\w&.-]*(?:\s+[A-Z][\w&.-]*)*))\s*(?:as\s+.*)?$",
            _fixed("works_at", "joined"),
        ),
        (rf"^(?:{_BE}\s+)?(?:working|work|works)\s+on\s+{_O}", _fixed("works_on", "working on")),
        (
            rf"^(?:{_BE}\s+)?(?:study|studies|studied|studying|major|majored|"
            rf"majoring)\s+(?:in\s+)?(?P<subj>.+?)\s+at\s+{_O}",
            lambda m, c: [
                _Found("studies_subject", "study", m.group("subj")),
                _Found("studies_at", "study at", m.group("obj")),
            ],
        ),
        (
            rf"^(?:{_BE}\s+)?(?:study|studies|studied|studying)\s+at\s+{_O}",
            _fixed("studies_at", "study at"),
        ),
        (rf"^(?:{_BE}\s+)?enrolled\s+(?:at|in)\s+{_O}", _fixed("studies_at", "enrolled at")),
        (
            rf"^(?:graduated|graduate)\s+(?:from\s+.+?\s+)?with\s+(?:an?\s+|my\s+)?{_O}",
            _fixed("degree", "graduated with"),
        ),
        (rf"^(?:graduated|graduate)\s+from\s+{_O}", _fixed("degree", "graduated from")),
        (
            r"^(?:have|has|hold|holds|got|earned|completed|finished)\s+(?:an?\s+|"
            r"my\s+)?(?P<obj>(?:bachelor|master|phd|ph\.d|doctorate|mba|"
            r"associate)\S*\s*(?:degree\s*)?(?:in\s+.+)?|degree\s+in\s+.+)",
            _fixed("degree", "have a degree"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:study|studies|studied|studying|major|majoring|"
            rf"majored)\s+(?:in\s+)?{_O}",
            _fixed("studies_subject", "study"),
        ),
        # skills and languages
        (rf"^(?:speak|speaks|spoke|speaking|can speak)\s+{_O}", _fixed("speaks_language", "speak")),
        (
            rf"^{_BE}\s+(?:fluent|conversational|bilingual)\s+in\s+{_O}",
            _fixed("speaks_language", "fluent in"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:learning|learn|learnt|learned|"
            rf"teaching myself)\s+(?:how\s+)?(?:to\s+)?{_O}",
            _fixed("learning", "learning"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:taking|take|takes|took)\s+(?P<obj>.+?\s+(?:lessons|classes|class|"
            rf"course|courses))\b",
            _fixed("learning", "taking lessons"),
        ),
        (
            rf"^{_BE}\s+(?:pretty\s+|quite\s+|very\s+|really\s+)?(?:good|great|skilled|"
            rf"experienced|proficient|an expert|expert)\s+(?:at|in|with)\s+{_O}",
            _fixed("skill", "good at"),
        ),
        (rf"^(?:know|knows)\s+how\s+to\s+{_O}", _fixed("skill", "know how to")),
        (
            rf"^(?:code|codes|coded|coding|program|programs|programming|write|"
            rf"writes)\s+(?:mostly\s+|mainly\s+)?(?:code\s+)?in\s+{_O}",
            _fixed("prefers_programming_language", "code in"),
        ),
        # relationships
        (rf"^{_BE}\s+(?:happily\s+)?married\s+to\s+{_O}", _fixed("partner", "married to")),
        (
            rf"^{_BE}\s+(?:dating|seeing|engaged\s+to|"
            rf"with)\s+(?P<obj>(?-i:[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?))",
            _fixed("partner", "dating"),
        ),
        (r"^got\s+(?P<obj>married|engaged|divorced)\b", _fixed("relationship_status", "got")),
        # preferences
        (
            rf"^(?:{_BE}\s+)?(?:not\s+)?(?:a\s+)?(?:big\s+|huge\s+|massive\s+)?fan\s+of\s+{_O}",
            lambda m, c: [_Found("dislikes" if c.negated else "likes", "fan of", m.group("obj"))],
        ),
        (
            rf"^{_BE}\s+(?:really\s+)?(?:into|keen on|passionate about|obsessed with|fond of|"
            rf"interested in|crazy about|hooked on)\s+{_O}",
            _likes,
        ),
        (rf"^{_BE}\s+(?:drawn|attracted)\s+to\s+{_O}", _likes),
        (
            rf"^(?:love|loves|loved|loving|like|likes|liked|enjoy|enjoys|enjoyed|enjoying|adore|"
            rf"adores|adored|dig)\s+{_O}",
            _likes,
        ),
        (
            rf"^(?:hate|hates|hated|dislike|dislikes|disliked|detest|detests|loathe|loathes|"
            rf"can not stand|can not bear)\s+{_O}",
            _fixed("dislikes", "dislike"),
        ),
        (rf"^(?:prefer|prefers|preferred)\s+{_O}", _prefers),
        (
            rf"^(?:use|uses|used|using|{_BE}\s+using)\s+(?P<obj>(?-i:[A-Z]).*)",
            _fixed("uses_tool", "use"),
        ),
        # goals and plans
        (
            rf"^(?:want|wants)\s+to\s+(?!(?:tell|say|ask|let|thank|share|show|know|check|see|"
            rf"make sure|hear|talk|chat|give you|remind)\b){_O}",
            _fixed("goal", "want to"),
        ),
        (
            rf"^(?:hope|hopes|hoping|aim|aims|aiming|{_BE}\s+hoping|{_BE}\s+aiming)\s+to\s+{_O}",
            _fixed("goal", "hope to"),
        ),
        (
            rf"^(?:{_BE}\s+)?(?:training|saving up|saving)\s+for\s+{_O}",
            _fixed("goal", "training for"),
        ),
        (rf"^(?:dream|dreams)\s+(?:of|about)\s+{_O}", _fixed("goal", "dream of")),
        (
            rf"^(?:{_BE}\s+)?(?P<verb>planning\s+to|plan\s+to|plans\s+to|going\s+to|intend\s+to|"
            rf"intending\s+to|about\s+to|will)\s+{_O}",
            _plan,
        ),
        # possession, family, schedule (via "have")
        (
            rf"^(?P<verb>have|has|had|got|adopted|adopt|rescued|own|owns|owned|bought|buy|"
            rf"purchased|{_BE}\s+getting)\s+{_O}",
            _have,
        ),
        (rf"^(?:drive|drives|drove|driving)\s+(?:an?\s+|my\s+)?{_O}", _fixed("vehicle", "drive")),
        # events and experiences
        (
            r"^(?:go|goes|went|going)\s+to\s+the\s+gym\b(?P<obj>)",
            lambda m, c: [_Found("exercise", "go to", "gym")],
        ),
        (rf"^(?:met|meet|meeting)\s+(?:up\s+)?(?:with\s+)?{_O}", _fixed("met_person", "met")),
        (
            rf"^(?:ran into|caught up with|hung out with|had lunch with|had dinner with|"
            rf"had coffee with)\s+{_O}",
            _fixed("met_person", "met"),
        ),
        (
            rf"^(?P<verb>went|go|goes|going|been|attended|attend|attends|attending|visited|visit|"
            rf"visiting|traveled|travelled|travel|flew|fly|took a trip|"
            rf"went on a trip)\s+(?P<prep>to\s+|back\s+to\s+|on\s+|for\s+|out\s+for\s+|"
            rf"into\s+)?{_O}",
            _went,
        ),
        (
            rf"^(?P<verb>signed up|sign up|enrolled|enroll|registered|joined|"
            rf"join)\s+(?P<prep>for\s+|in\s+)?{_O}",
            _went,
        ),
        (
            # "moved from Paris to Berlin": lives in Berlin now, came from Paris.
            rf"^(?:moved|emigrated|immigrated|relocated)\s+(?:here\s+|over\s+)?from\s+"
            rf"(?P<origin>[^,;]+?)\s+to\s+{_O}",
            lambda m, c: [_Found("from_location", "moved from", m.group("origin"),
                                 negated=c.negated),
                          _Found("lives_in", "moved to", m.group("obj"), negated=c.negated)],
        ),
        (
            rf"^(?:moved|came|emigrated|immigrated|relocated)\s+(?:here\s+|over\s+|"
            rf"to\s+\w+\s+)?from\s+{_O}",
            _fixed("from_location", "moved from"),
        ),
        (
            r"^(?:won|win|wins|finished|completed|complete|passed|achieved|published|ran|"
            r"run)\s+(?:my\s+|our\s+|his\s+|her\s+|the\s+|a\s+)?(?P<obj>(?:first\s+|second\s+|"
            r"third\s+)?.*?(?:marathon|race|tournament|competition|championship|award|prize|exam|"
            r"test|certification|degree|half|triathlon|ironman|medal|paper|book|game|contest|"
            r"match|trophy|title)\b.*)",
            _fixed("achievement", "won"),
        ),
        (rf"^(?:won|win|wins)\s+{_O}", _fixed("achievement", "won")),
        (
            r"^(?:quit|stopped|gave up)\s+(?P<obj>\w+ing\b.*)",
            lambda m, c: [_Found("life_event", "quit", "quit " + m.group("obj"))],
        ),
        (r"^(?:retired)\s*$", lambda m, c: [_Found("life_event", "retired", "retired")]),
        (
            r"^(?:had|have had|welcomed)\s+(?:a|our|my)\s+(?:first\s+|second\s+)?baby\b(?P<obj>.*)",
            lambda m, c: [_Found("life_event", "had a baby", "had a baby" + m.group("obj"))],
        ),
        # opinions
        (
            rf"^(?P<verb>think|thinks|believe|believes|feel|feels|reckon|find|"
            rf"found)\s+(?:that\s+)?{_O}",
            _opinion,
        ),
        # habits and exercise
        (
            r"^(?:work out|works out|exercise|exercises|do yoga|does yoga|"
            r"practice yoga)\b(?P<obj>.*)",
            lambda m, c: [
                _Found(
                    "exercise",
                    "exercise",
                    "yoga"
                    if "yoga" in m.group(0).lower()
                    else "working out"
                    if "work" in m.group(0).lower()
                    else "exercise",
                )
            ],
        ),
        (
            rf"^(?P<verb>run|runs|jog|jogs|swim|swims|cycle|cycles|bike|bikes|hike|hikes|surf|"
            rf"surfs|climb|climbs|ski|skis|row|rows)\b\s*{_O}?",
            lambda m, c: [
                _Found(
                    "exercise", m.group("verb"), (m.group("obj") or "").strip() or m.group("verb")
                )
            ],
        ),
        (rf"^(?P<verb>play|plays|played|playing|{_BE}\s+playing)\s+{_O}", _mapped("hobby")),
        (
            rf"^(?P<verb>do|does|did|doing|{_BE}\s+doing|practice|practices|practicing)\s+{_O}",
            _mapped(None),
        ),
        (rf"^(?:{_BE}\s+)?(?P<verb>{_CRAFT_VERBS})\b\s*{_O}?", _craft),
        # past actions nobody else claimed
        (
            rf"^(?P<verb>\w+ed|made|took|built|wrote|opened|drew|sang|gave|bought|found|began|"
            rf"began|threw|hosted|ran|read|saw|won|caught|grew|taught|held|sold|led|rode|swam|"
            rf"spent|left|brought|had)\s+{_O}",
            _did,
        ),
    )
)

# "My X is Y" attribute statements about the clause owner.
_ATTRIBUTE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), predicate)
    for pattern, predicate in (
        (rf"^my\s+(?:full\s+|first\s+|real\s+)?name\s+is\s+{_O}", "name"),
        (rf"^my\s+(?:birthday|date of birth|birth date|bday)\s+is\s+(?:on\s+)?{_O}", "birthday"),
        (rf"^my\s+(?:e-?mail|email address)\s+is\s+{_O}", "email"),
        (
            rf"^my\s+(?:phone|cell|mobile|number|phone number|"
            rf"cell number)(?:\s+number)?\s+is\s+{_O}",
            "phone",
        ),
        (
            rf"^my\s+(?:github|twitter|instagram|linkedin|x|tiktok|discord)\s+(?:handle|username|"
            rf"account|name)?\s*is\s+{_O}",
            "social_handle",
        ),
        (rf"^my\s+(?:handle|username)\s+is\s+{_O}", "social_handle"),
        (
            rf"^my\s+(?:(?:main|big|biggest|long-term)\s+)?(?:goal|dream|ambition|aim|"
            rf"resolution)\s+(?:is|this year is|for this year is)\s+(?:to\s+)?{_O}",
            "goal",
        ),
        (
            rf"^my\s+(?:job|job title|title|role|profession|occupation)\s+is\s+(?:an?\s+)?{_O}",
            "job_title",
        ),
        (rf"^my\s+(?:hometown|home town)\s+is\s+{_O}", "from_location"),
        (rf"^my\s+(?:home\s+)?address\s+is\s+{_O}", "address"),
        (rf"^my\s+(?:diet|eating)\s+is\s+{_O}", "diet"),
        (
            rf"^my\s+(?:native\s+|first\s+|mother\s+)(?:language|tongue)\s+is\s+{_O}",
            "speaks_language",
        ),
        (rf"^my\s+(?:current\s+)?(?:employer|company)\s+is\s+{_O}", "works_at"),
        (
            r"^my\s+(?:current\s+)?plan\s+is\s+(?:the\s+)?(?P<obj>\w+)\s+(?:plan|tier)\b",
            "has_plan",
        ),
    )
)
_FAVORITE_RE = re.compile(
    rf"^my\s+(?:all-time\s+|absolute\s+|current\s+)?favou?rite\s+(?P<what>[\w\s]+?)\s+(?:is|are|"
    rf"was|has to be|would be)\s+{_O}",
    re.IGNORECASE,
)
_SCHEDULE_RE = re.compile(
    r"^my\s+(?P<what>[\w'\s]+?)\s+(?:is|are)\s+(?:due|scheduled|booked|set|coming up|on|at|"
    r"tomorrow|today|tonight|next|this)\b(?P<obj>.*)",
    re.IGNORECASE,
)
_MY_RELATION_RE = re.compile(
    rf"^(?:my|our)\s+{_RELATION_MODIFIERS}(?P<noun>{_RELATION_ALT})\b(?P<possessive>'s)?"
    rf"(?:\s*,?\s+(?P<name>(?-i:[A-Z][a-z][\w-]*))(?=[\s,]|$)(?:\s*,)?)?",
    re.IGNORECASE,
)
_CONTACT_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CONTACT_PHONE_RE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_REACH_ME_RE = re.compile(
    r"\b(?:reach|contact|call|text|email|e-mail|find|ping)\s+me\s+(?:at|on|via)\s+(?P<obj>\S.*)",
    re.IGNORECASE,
)

_FIRST_PERSON_RE = re.compile(r"^(?P<pronoun>i|we|me and \w+|\w+ and i)\b\s*", re.IGNORECASE)
_SECOND_PERSON_RE = re.compile(r"^(?P<pronoun>you)\b\s*", re.IGNORECASE)
_THIRD_PRONOUN_RE = re.compile(r"^(?P<pronoun>he|she|they)\b\s*", re.IGNORECASE)
_NAME_SUBJECT_RE = re.compile(
    r"^(?P<name>[A-Z][a-z][\w-]*(?<!ing)(?:\s+[A-Z][a-z][\w-]*)?)\s+"
    r"(?=(?:is|was|has|had|lives|lived|works|worked|moved|loves|loved|likes|liked|enjoys|went|"
    r"goes|studies|"
    r"studied|got|gets|just|also|recently|finally|still|started|plays|played|speaks|owns|bought|"
    r"adopted|visited|"
    r"graduated|married|hates|prefers|wants|plans|teaches|taught|runs|ran|won|became|joined|left|"
    r"quit|drives|"
    r"uses|met|grew|turned|turns|attended|does|did)\b)"
)
_REPORT_FRAME_RE = re.compile(
    r"^(?:(?:so|ok|okay|got it|noted|understood|great|sure|right|perfect|thanks)\b[,:.!]?\s*)*"
    r"(?:(?:since|because|as|given that|now that)\s+"
    r"|(?:you(?:'ve)?\s+(?:mentioned|said|told me|noted|shared|indicated|explained|"
    r"stated)(?:\s+(?:earlier|before|previously))?(?:\s+that)?\s+)"
    r"|(?:as\s+you\s+(?:mentioned|said|noted)(?:\s+(?:earlier|before))?,?\s+)"
    r"|(?:i\s+(?:remember|recall|noted|understand|see|know)\s+(?:that\s+)?)(?=you\b)"
    r")*",
    re.IGNORECASE,
)
_IMPLICIT_START_RE = re.compile(
    r"^(?:just\s+|finally\s+|recently\s+)?(?=(?:went|visited|met|finished|started|bought|moved|"
    r"got|joined|"
    r"adopted|attended|painted|took|made|won|ran|graduated|signed|opened|loved|love|going to|"
    r"planning to)\b)",
    re.IGNORECASE,
)


# --- the extractor -------------------------------------------------------------------


@dataclass
class _Context:
    role: str | None
    speaker: str | None  # who "I" is, when a speaker prefix named them
    last_third_party: str | None = None
    temporal: tuple[TemporalMatch, ...] = field(default_factory=tuple)

    @property
    def me(self) -> str:
        return self.speaker or USER_SUBJECT

    def owned(self, noun: str) -> str:
        return f"{self.speaker}'s {noun}" if self.speaker else f"my {noun}"


class OfflineExtractor:
    """Rule-based extractor; see the module docstring for the decisions it makes."""

    name = "offline"

    def extract(self, item: ExtractionInput) -> ExtractionResult:
        if item.role == "system":
            return ExtractionResult(propositions=[], extractor=self.name)
        if item.event_type == "tool_call":
            propositions = self._tool_call(item)
        elif item.event_type == "app_event":
            propositions = self._app_event(item)
        else:
            propositions = self._message(item)
        return ExtractionResult(propositions=_dedupe(propositions), extractor=self.name)

    # tool calls and app events ------------------------------------------------------

    def _tool_call(self, item: ExtractionInput) -> list[Proposition]:
        """Calendar/reminder calls become schedule facts; profile updates become the
        facts they set; lookups (weather, search) are questions, not facts."""
        parsed = _parse_call(item.content)
        if parsed is None:
            return []
        name, arguments = parsed
        lowered = name.lower()
        found: list[_Found] = []
        when = next((str(arguments[key]) for key in _DATE_KEYS if arguments.get(key)), "")
        if re.search(
            r"calendar|event|schedule|appointment|booking|book|reminder|meeting|remind", lowered
        ):
            title = next((str(arguments[key]) for key in _TITLE_KEYS if arguments.get(key)), "")
            if title:
                found.append(_Found(_schedule_predicate(title, tool=lowered), name, title))
        elif re.search(r"profile|user|account|settings|preference|memory|remember", lowered):
            for key, value in arguments.items():
                if not isinstance(value, (str, int, float)) or not str(value).strip():
                    continue
                predicate_name = _PROFILE_KEYS.get(key.lower())
                if predicate_name == "":
                    continue  # known key that is not a fact (e.g. timezone)
                if predicate_name is None:
                    mapped = predicate_map(relation_phrase=key.replace("_", " "), object_text="")
                    if mapped is FALLBACK_PREDICATE:
                        continue
                    predicate_name = mapped.name
                found.append(_Found(predicate_name, key, str(value)))
        return self._structured(item, found, extra_time=when, confidence=0.9)

    def _app_event(self, item: ExtractionInput) -> list[Proposition]:
        """Product events about the user: plan changes, sign-ups, profile changes."""
        content = item.content.strip()
        found: list[_Found] = []
        payload = _parse_json(content)
        if payload is not None:
            event = str(
                payload.get("event") or payload.get("type") or payload.get("name") or ""
            ).lower()
            plan = next(
                (
                    payload[key]
                    for key in ("plan", "tier", "plan_name", "subscription_plan", "product")
                    if payload.get(key)
                ),
                None,
            )
            if re.search(r"cancel", event):
                found.append(_Found("account_event", event, "cancelled subscription"))
            elif plan and re.search(
                r"subscri|plan|upgrade|downgrade|billing|trial|checkout", event
            ):
                found.append(_Found("has_plan", event, str(plan)))
            elif re.search(r"sign(?:ed)?[_ .-]?up|register", event):
                found.append(_Found("account_event", event, "signed up"))
            return self._structured(item, found, confidence=0.9)
        text = _normalise(content)
        for pattern, handler in _APP_RULES:
            match = pattern.search(text)
            if match:
                found.extend(handler(match))
                break
        if found:
            return self._structured(item, found, confidence=0.9)
        # Anything else reads like a sentence about the user ("User moved to Oslo").
        rewritten = ExtractionInput(
            content=item.content, event_type="message", role="user", event_time=item.event_time
        )
        return [
            proposition
            for proposition in self._message(rewritten)
            if proposition.subject == USER_SUBJECT
        ]

    def _structured(
        self, item: ExtractionInput, found: list[_Found], *, extra_time: str = "", confidence: float
    ) -> list[Proposition]:
        if not found:
            return []
        start, end = next(_trimmed(item.content, 0, len(item.content)), (0, 0))
        source = item.content[start:end]
        temporal = tuple(temporal_resolve(extra_time or source, reference=item.event_time))
        return [
            Proposition(
                subject=USER_SUBJECT,
                relation_phrase=result.relation,
                object_text=result.obj.strip(),
                source_text=source,
                start=start,
                end=end,
                predicate=result.predicate,
                negated=result.negated,
                confidence=confidence,
                temporal=temporal,
            )
            for result in found
            if result.obj.strip()
        ]

    # messages ----------------------------------------------------------------------

    def _message(self, item: ExtractionInput) -> list[Proposition]:
        content = item.content
        propositions: list[Proposition] = []
        role = item.role if item.role in ("user", "assistant") else "user"
        context = _Context(role=role, speaker=None)
        for line_start, line_end in _lines(content):
            body_start = line_start
            speaker = _SPEAKER_RE.match(content, line_start, line_end)
            line_role = role
            context.speaker = None
            if (
                speaker
                and role == "user"
                and speaker.group("name").lower().rstrip(".") not in _NOT_SPEAKERS
            ):
                name = speaker.group("name")
                body_start = speaker.end()
                if name.lower() in _BOT_SPEAKERS:
                    continue
                if name.lower() not in _USER_SPEAKERS:
                    context.speaker = name
            for start, end in _sentences(content, body_start, line_end):
                context.role = line_role
                propositions.extend(self._sentence(content, start, end, item.event_time, context))
        return propositions

    def _sentence(
        self, content: str, start: int, end: int, event_time: datetime, context: _Context
    ) -> list[Proposition]:
        sentence = content[start:end]
        if sentence.rstrip().endswith("?") or _CONDITIONAL_RE.search(sentence):
            return []
        if not re.search(r"[A-Za-z]", sentence):
            return []
        context.temporal = tuple(temporal_resolve(sentence, reference=event_time))
        found: list[Proposition] = []
        for clause_text in _clauses(sentence):
            for subject, result, confidence in self._clause(clause_text, context):
                obj = _clean_object(
                    result.obj,
                    # A birthday's object *is* the date; elsewhere a time expression is
                    # not part of the object.
                    temporal=() if result.predicate == "birthday" else context.temporal,
                    keep_commas=result.predicate
                    in ("lives_in", "from_location", "visited_place", "birthday"),
                )
                if not _usable(obj) or (result.predicate == "did_activity" and " " not in obj):
                    continue  # a bare verb ("read", "meeting") is not an activity worth keeping
                found.append(
                    Proposition(
                        subject=result.subject or subject,
                        relation_phrase=result.relation,
                        object_text=obj,
                        source_text=sentence,
                        start=start,
                        end=end,
                        predicate=result.predicate,
                        negated=result.negated,
                        confidence=result.confidence
                        if result.confidence is not None
                        else confidence,
                        temporal=context.temporal,
                    )
                )
        return found

    def _clause(self, text: str, context: _Context) -> list[tuple[str, _Found, float]]:
        text = _normalise(text)
        if _HEDGE_RE.search(text) or _QUESTION_START_RE.match(text):
            return []
        text = _INTERJECTION_RE.sub("", text)
        adjunct = _LEADING_ADJUNCT_RE.match(text)
        pastime = bool(
            adjunct
            and re.search(
                r"\b(?:free|spare|down)\s*time\b|\bfor fun\b",
                adjunct.group("adjunct"),
                re.IGNORECASE,
            )
        )
        text = _LEADING_ADJUNCT_RE.sub("", text)
        base_confidence = 0.8
        if context.role == "assistant":
            framed = _REPORT_FRAME_RE.sub("", text, count=1)
            if re.match(r"^(?:i|we|let me|let's|me)\b", framed, re.IGNORECASE):
                return []  # the assistant speaking about itself
            if not re.match(r"^(?:you|your)\b", framed, re.IGNORECASE):
                return []
            # Seen from the assistant, "you" is the user: read it as the user's "I".
            text = re.sub(r"\byour\b", "my", framed, flags=re.IGNORECASE)
            text = re.sub(r"\byou are\b", "I am", text, flags=re.IGNORECASE)
            text = re.sub(r"\byou were\b", "I was", text, flags=re.IGNORECASE)
            text = re.sub(r"\byourself\b", "myself", text, flags=re.IGNORECASE)
            text = re.sub(r"\byou\b", "I", text, flags=re.IGNORECASE)
            base_confidence = 0.6
        else:
            text = (
                _REPORT_FRAME_RE.sub("", text, count=1)
                if re.match(r"^(?:since|because|as|given|now that)\b", text, re.IGNORECASE)
                else text
            )
        results: list[tuple[str, _Found, float]] = []
        lowered = text.lower()

        # Contact details in a first-person statement.
        reach = _REACH_ME_RE.search(text)
        if reach or lowered.startswith("my ") or re.match(r"^(?:i|me)\b", lowered):
            email = _CONTACT_EMAIL_RE.search(text)
            if email and (reach or re.search(r"\be-?mail\b", lowered)):
                return [(context.me, _Found("email", "email", email.group(0)), base_confidence)]
            phone = _CONTACT_PHONE_RE.search(reach.group("obj")) if reach else None
            if phone:
                return [
                    (
                        context.me,
                        _Found("phone", "reach me at", phone.group(0).strip()),
                        base_confidence,
                    )
                ]

        # "My X is Y" attributes.
        if lowered.startswith("my ") or lowered.startswith("our "):
            attribute = self._attribute(text, context)
            if attribute:
                return [(context.me, found, base_confidence) for found in attribute]
            relation = _MY_RELATION_RE.match(text)
            if relation:
                return self._relation_subject(text, relation, context, base_confidence)
            return []

        subject: str | None = None
        rest = text
        first = _FIRST_PERSON_RE.match(text)
        if first:
            subject = context.me
            if first.group("pronoun").lower() == "we" or " and " in first.group("pronoun").lower():
                base_confidence -= 0.1
            rest = text[first.end() :]
        elif _SECOND_PERSON_RE.match(text):
            return []  # a user talking about the assistant, or one speaker about another
        elif context.role != "assistant" and (implicit := _IMPLICIT_START_RE.match(text)):
            # Chat drops the subject: "Went to the beach today" is the speaker's.
            subject = context.me
            rest = text[implicit.end() :]
            base_confidence -= 0.2
        elif (pronoun := _THIRD_PRONOUN_RE.match(text)) and context.last_third_party:
            subject = context.last_third_party
            rest = text[pronoun.end() :]
            base_confidence -= 0.1
        elif (named := _NAME_SUBJECT_RE.match(text)) and named.group("name").split()[
            0
        ].lower() not in _NAME_STOPWORDS:
            subject = named.group("name")
            if subject.lower() in ("user", "the user"):
                subject = USER_SUBJECT
            else:
                context.last_third_party = subject
            rest = text[named.end() :]
            base_confidence -= 0.1
            # A capitalised word before a verb may be a place or a thing ("Fox Hollow
            # is a great trail"): keep only the person-shaped predicates.
            return [
                (subject, found, base_confidence)
                for found in self._predicate_rules(rest, context, subject)
                if found.predicate not in ("is_a", "routine", "did_activity")
            ]
        if subject is None:
            return []
        for found in self._predicate_rules(rest, context, subject):
            results.append((subject, found, base_confidence))
        if pastime and not any(
            found.predicate in ("hobby", "exercise", "likes") for _, found, _ in results
        ):
            # "In my spare time I build keyboards": whatever is done then is a hobby.
            habit = re.match(r"^(?P<verb>[a-z]+)\s+(?P<obj>\S.*)$", rest.strip(), re.IGNORECASE)
            if habit:
                results = [
                    (
                        subject,
                        _Found("hobby", habit.group("verb"), habit.group("obj")),
                        base_confidence,
                    )
                ]
        return results

    def _attribute(self, text: str, context: _Context) -> list[_Found]:
        for pattern, predicate in _ATTRIBUTE_RULES:
            match = pattern.match(text)
            if match:
                return [
                    _Found(
                        predicate, match.group(0)[: match.start("obj")].strip(), match.group("obj")
                    )
                ]
        favorite = _FAVORITE_RE.match(text)
        if favorite:
            what = favorite.group("what").strip()
            mapped = predicate_map(relation_phrase=f"favorite {what}", object_text="")
            name = mapped.name if mapped.name.startswith("favorite_") else "likes"
            return [_Found(name, f"favorite {what}", favorite.group("obj"))]
        scheduled = _SCHEDULE_RE.match(text)
        if scheduled:
            what = scheduled.group("what").strip()
            return [_Found(_schedule_predicate(scheduled.group(0), tool=""), "is scheduled", what)]
        return []

    def _relation_subject(
        self, text: str, relation: re.Match[str], context: _Context, confidence: float
    ) -> list[tuple[str, _Found, float]]:
        """'My sister Anna lives in Rome', 'My husband's name is David', 'My boss is Karen'."""
        noun = relation.group("noun").lower()
        predicate = _RELATION_NOUNS[noun]
        name = relation.group("name")
        rest = text[relation.end() :].strip()
        results: list[tuple[str, _Found, float]] = []
        if name and name.lower() in _NAME_STOPWORDS | {"and", "is", "was"}:
            rest = f"{name} {rest}".strip()
            name = None
        if relation.group("possessive"):
            named = re.match(r"^name\s+is\s+(?P<name>[A-Z][\w-]*)", rest)
            if named:
                return [
                    (
                        context.me,
                        _Found(predicate, f"{noun}'s name is", named.group("name")),
                        confidence,
                    )
                ]
            return []
        if not name:
            named = re.match(
                r"^(?:is|was)\s+(?:called\s+|named\s+)?(?P<name>[A-Z][a-z][\w-]*)\s*$", rest
            )
            if named and named.group("name").lower() not in _NAME_STOPWORDS:
                return [
                    (
                        context.me,
                        _Found(predicate, f"my {noun} is", named.group("name")),
                        confidence,
                    )
                ]
            named = re.match(r"^(?:is\s+)?(?:called|named)\s+(?P<name>[A-Z][\w-]*)", rest)
            if named:
                return [
                    (
                        context.me,
                        _Found(predicate, f"{noun} named", named.group("name")),
                        confidence,
                    )
                ]
        if name:
            results.append((context.me, _Found(predicate, f"my {noun}", name), confidence - 0.05))
            subject = name
            context.last_third_party = name
        else:
            subject = context.owned(noun)
            if predicate == "has_pet":
                results.append(
                    (context.me, _Found("has_pet", f"my {noun}", noun), confidence - 0.2)
                )
        rest = re.sub(r"^and\s+I\b", "", rest)
        for found in self._predicate_rules(rest, context, subject):
            results.append((subject, found, confidence - 0.1))
        return results

    def _predicate_rules(self, rest: str, context: _Context, subject: str) -> list[_Found]:
        rest = rest.strip(" ,")
        # "can not stand" is a dislike, not a negated "stand".
        rest = re.sub(r"\bcan not (stand|bear)\b", r"can_not_\1", rest, flags=re.IGNORECASE)
        negated = bool(_NEGATION_RE.search(rest) or _NEGATION_TAIL_RE.search(rest))
        used_to = re.search(r"\bused to\s+", rest, re.IGNORECASE)
        frequent = bool(_FREQUENCY_RE.search(rest))
        # Keep the auxiliary ("am not married" → "am married"); drop do-support and adverbs.
        rest = _NEGATION_RE.sub(
            lambda m: (
                ""
                if m.group(0).split()[0].lower() in ("do", "does", "did", "no", "never", "not")
                else m.group(0).split()[0] + " "
            ),
            rest,
        )
        rest = _NEGATION_TAIL_RE.sub("", rest)
        rest = rest.replace("can_not_", "can not ")
        if used_to:
            rest = re.sub(r"\bused to\s+", "", rest, flags=re.IGNORECASE)
            negated = True
        # "have been working" → "working", "have been vegan" → "am vegan".
        rest = re.sub(r"^(?:have|has|had)\s+been\s+(?=\w+ing\b)", "", rest, flags=re.IGNORECASE)
        rest = re.sub(r"^(?:have|has|had)\s+been\s+", "am ", rest, flags=re.IGNORECASE)
        rest = re.sub(
            r"^(?:have|has|had)\s+(?=\w+ed\b|got\b|gotten|made|taken|done|been|gone|met\b|won\b|"
            r"run\b|bought|seen|known|had\b|given|found|left|lost|read\b|heard|taught|grown|"
            r"written|become|come\b|spent|begun|kept|felt|thought|brought|built|sold|told|said)",
            "",
            rest,
            flags=re.IGNORECASE,
        )
        rest = _INNER_ADVERB_RE.sub("", rest)
        # Aspect verbs add nothing to the fact: "started taking classes" → "taking classes".
        rest = re.sub(
            r"^(?:started|start|starting|began|begun|begin|keep|kept|continue|"
            r"continued)\s+(?=\w+ing\b)",
            "am ",
            rest,
            flags=re.IGNORECASE,
        )
        # Emphatic "do": "I do love jazz" is "I love jazz".
        rest = re.sub(
            r"^(?:do|does|did)\s+(?=(?:love|like|enjoy|hate|want|need|have|know|think|believe|"
            r"prefer|speak|live|work)\b)",
            "",
            rest,
            flags=re.IGNORECASE,
        )
        while True:
            stripped = _ADVERB_RE.sub("", rest, count=1) if _ADVERB_RE.match(rest) else rest
            stripped = re.sub(
                r"^(?:am|is|are)\s+(?:also|really|still|just|currently|now|actually|finally|so|"
                r"very|pretty)\s+",
                lambda m: m.group(0).split()[0] + " ",
                stripped,
                flags=re.IGNORECASE,
            )
            if stripped == rest:
                break
            rest = stripped
        clause = _Clause(
            subject=subject,
            text=rest,
            negated=negated,
            frequent=frequent,
            confidence=0.8,
            owner=context.me,
        )
        for pattern, handler in _RULES:
            match = pattern.match(rest)
            if not match:
                continue
            results = handler(match, clause)
            if results:
                return results
        if frequent:
            habit = re.match(r"^(?P<verb>[a-z]+)\b\s*(?P<obj>.*)$", rest)
            if habit and habit.group("verb").lower() not in (
                "am",
                "is",
                "are",
                "was",
                "were",
                "have",
                "has",
                "do",
                "did",
                "can",
                "will",
            ):
                return _activity_frequency(habit, clause)
        progressive = re.match(
            r"^(?:am|is|are|was|were)\s+(?P<verb>\w+ing)\s+(?P<obj>\S.*)", rest, re.IGNORECASE
        )
        if progressive and progressive.group("verb").lower() not in _NOT_PROGRESSIVE_ACTIVITIES:
            return [
                _Found(
                    "did_activity",
                    progressive.group("verb"),
                    f"{progressive.group('verb')} {progressive.group('obj')}",
                    negated=negated,
                )
            ]
        be = re.match(r"^(?:am|is|are|was|were)\s+(?:an?\s+)(?P<obj>.+)", rest, re.IGNORECASE)
        if be:
            return _is_a(be, clause)
        bare = re.match(
            r"^(?:am|is|are)\s+(?P<obj>[\w-]+(?: [A-Z][a-z]+)?)\s*$", rest, re.IGNORECASE
        )
        if bare:
            return _be_bare(bare, clause)
        return []


# --- tool calls and app events ---------------------------------------------------------

_TITLE_KEYS = (
    "title",
    "summary",
    "name",
    "subject",
    "text",
    "description",
    "event",
    "what",
    "message",
)
_DATE_KEYS = (
    "date",
    "start",
    "start_time",
    "datetime",
    "when",
    "time",
    "due",
    "due_date",
    "at",
    "starts_at",
)
_PROFILE_KEYS: dict[str, str] = {
    "city": "lives_in",
    "location": "lives_in",
    "home": "lives_in",
    "home_city": "lives_in",
    "email": "email",
    "email_address": "email",
    "phone": "phone",
    "phone_number": "phone",
    "name": "name",
    "display_name": "name",
    "full_name": "name",
    "first_name": "name",
    "birthday": "birthday",
    "dob": "birthday",
    "date_of_birth": "birthday",
    "age": "age",
    "company": "works_at",
    "employer": "works_at",
    "job_title": "job_title",
    "title": "job_title",
    "occupation": "job_title",
    "diet": "diet",
    "allergies": "allergy",
    "allergy": "allergy",
    "language": "speaks_language",
    "hometown": "from_location",
    "plan": "has_plan",
    "pronouns": "gender_identity",
    "address": "address",
    "timezone": "",
    "tz": "",
}
_CALL_RE = re.compile(r"^\s*(?P<name>[\w.]+)\s*\((?P<args>.*)\)\s*;?\s*$", re.DOTALL)
_KWARG_RE = re.compile(
    r"(?P<key>\w+)\s*=\s*(?:'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\"|(?P<bare>[^,)]+))"
)


def _schedule_predicate(title: str, *, tool: str) -> str:
    """The schedule predicate whose phrases the event title uses; reminders and
    anything unrecognised are `scheduled_event`."""
    words = set(stems(title))
    for predicate in PREDICATES:
        if predicate.kind == "schedule" and predicate.name != "scheduled_event":
            if any(set(stems(phrase)) <= words for phrase in predicate.phrases):
                return predicate.name
    return "scheduled_event"


def _parse_json(text: str) -> dict[str, object] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parse_call(content: str) -> tuple[str, dict[str, object]] | None:
    """(tool name, arguments) from a JSON payload or a Python-style call string."""
    payload = _parse_json(content)
    if payload is not None:
        name = next(
            (
                str(payload[key])
                for key in ("tool", "name", "function", "tool_name")
                if payload.get(key)
            ),
            "",
        )
        arguments: object = next(
            (
                payload[key]
                for key in ("arguments", "args", "parameters", "input", "params")
                if key in payload
            ),
            {},
        )
        if isinstance(arguments, str):
            arguments = _parse_json(arguments) or {}
        if not isinstance(arguments, dict):
            return None
        if not name:
            return None
        return name, {str(k): v for k, v in arguments.items() if v not in (None, "")}
    call = _CALL_RE.match(content)
    if not call:
        return None
    parsed: dict[str, object] = {}
    for match in _KWARG_RE.finditer(call.group("args")):
        value = (
            match.group("single") if match.group("single") is not None else match.group("double")
        )
        if value is None:
            value = match.group("bare").strip()
        parsed[match.group("key")] = value
    return call.group("name"), parsed


_APP_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], list[_Found]]], ...] = (
    (
        re.compile(
            r"\b(?P<verb>upgraded|downgraded|switched|changed|moved|subscribed)\s+(?:their\s+|"
            r"the\s+)?(?:plan\s+|subscription\s+)?to\s+(?:the\s+|a\s+)?(?P<obj>[\w+-]+)",
            re.IGNORECASE,
        ),
        lambda m: [_Found("has_plan", m.group("verb").lower(), m.group("obj"))],
    ),
    (
        re.compile(
            r"\b(?:started|began|activated)\s+(?:a|an|the|their)\s+(?:[\w-]+\s+)?trial\s+(?:of|"
            r"for)\s+(?:the\s+)?(?P<obj>[\w+-]+)",
            re.IGNORECASE,
        ),
        lambda m: [_Found("has_plan", "started a trial of", m.group("obj"))],
    ),
    (
        re.compile(
            r"\b(?:is|are)\s+(?:now\s+)?on\s+(?:the\s+)?(?P<obj>[\w+-]+)\s+(?:plan|tier)\b",
            re.IGNORECASE,
        ),
        lambda m: [_Found("has_plan", "on plan", m.group("obj"))],
    ),
    (
        re.compile(r"\b(?:signed up|registered|created (?:an|their) account)\b", re.IGNORECASE),
        lambda m: [_Found("account_event", "signed up", "signed up")],
    ),
    (
        re.compile(
            r"\b(?:cancell?ed|ended)\s+(?:their\s+|the\s+|a\s+)?(?P<obj>subscription|plan|account|"
            r"trial)\b",
            re.IGNORECASE,
        ),
        lambda m: [_Found("account_event", "cancelled", f"cancelled {m.group('obj').lower()}")],
    ),
    (
        re.compile(
            r"\b(?:set|changed|updated)\s+(?:their|the)\s+(?P<key>display name|name|email|e-mail|"
            r"phone(?: number)?|city|location|language|job title|"
            r"company)\s+to\s+\"?(?P<obj>[^\"]+?)\"?\s*\.?$",
            re.IGNORECASE,
        ),
        lambda m: [
            _Found(
                _PROFILE_KEYS.get(
                    m.group("key")
                    .lower()
                    .replace(" ", "_")
                    .replace("e-mail", "email")
                    .replace("phone_number", "phone"),
                    "",
                )
                or predicate_map(relation_phrase=m.group("key"), object_text="").name,
                m.group("key"),
                m.group("obj"),
            )
        ],
    ),
)


def _dedupe(propositions: list[Proposition]) -> list[Proposition]:
    seen: set[tuple[str, str | None, str, bool]] = set()
    unique: list[Proposition] = []
    for proposition in propositions:
        key = (
            proposition.subject.lower(),
            proposition.predicate,
            proposition.object_text.lower(),
            proposition.negated,
        )
        if key in seen:
            continue
        seen.add(key)
        unique.append(proposition)
    return unique
