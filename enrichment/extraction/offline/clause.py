"""The clause a rule reads, what a rule finds in it, and cleaning the object phrase."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from enrichment.extraction.offline.words import (
    _EMPTY_OBJECTS,
    _LEADING_ARTICLE_RE,
    _OBJECT_STOP_RE,
    _TRAILING_JUNK_RE,
)
from enrichment.propositions import (
    USER_SUBJECT,
    TemporalMatch,
)

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
        # "my birthday's in October", "my dad's 70": a contracted "is", not a possessive.
        (
            r"\b(?<=\w)['’]s\s+(?=(?:in|on|at|due|tomorrow|today|next|this|coming|over|from|"
            r"a|an|my|our|the|\d)\b)",
            " is ",
        ),
        (r"\bgonna\b", "going to"),
        # Chat spellings of "favourite": "my fave band", "fav show", "favrite colour".
        (r"\b(?:fav|fave|favrite|favorit|favourit|faverite|favourate|favorate)\b", "favourite"),
        # Chat spelling without apostrophes: "im a nurse", "ive got", "dont".
        (r"\b(?:im)\b", "I am"),
        (r"\bive\b", "I have"),
        (r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should)nt\b", r"\1 not"),
        (r"\bcant\b", "can not"),
        (r"\bwont\b", "will not"),
        # Chat particles say nothing about the fact ("i'm 25 btw", "ngl i hate mondays").
        (
            r"\s*\b(?:lol|lmao|rofl|haha+|hehe+|btw|tbh|ngl|imo|imho|fwiw|tho|rn|smh|omg|jk)\b[\s,!.]*",
            " ",
        ),
        (r"\b(?:kinda|sorta|lowkey|highkey|literally|basically|technically)\s+", ""),
        (r"\bwanna\b", "want to"),
        (r"\bgotta\b", "have to"),
    )
)
_NEGATION_RE = re.compile(
    r"\b(?:do not|does not|did not|have not|has not|had not|am not|is not|are not|was not|were not|"
    r"will not|can not|could not|no longer|not any ?more|never|not)\s+",
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
    r"(?:\d+|one|two|three|four|five) times a|on (?:mondays|tuesdays|wednesdays|thursdays|"
    r"fridays|saturdays|sundays|weekdays)|every other|"
    # "every summer", "each evening": a habit's frequency too. ("most Saturdays" is not:
    # "I work doubles most Saturdays" is no routine in the labels.)
    r"every (?:summer|winter|spring|autumn|year|month)|each (?:evening|night|weekend|month|"
    r"year))\b",
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
        # A season the temporal resolver leaves ("move to Canada in the spring").
        text = re.sub(
            r"\s+(?:in|this|next|over|during)\s+(?:the\s+)?(?:spring|summer|autumn|fall|winter|"
            r"new year)$",
            "",
            text,
            flags=re.I,
        )
        # A preposition whose complement was a time expression ("walk my dog at [6 am]").
        text = re.sub(
            r"\s+(?:at|on|over|during|around|about|roughly|nearly|almost|by|before|after|until|"
            r"till)$",
            "",
            text,
            flags=re.I,
        )
    text = _LEADING_ARTICLE_RE.sub("", text)
    words = text.split()
    if len(words) > 12:
        text = " ".join(words[:12])
    return text.strip()


# What ends a noun phrase: a preposition ("of" never does: "Bay of Plenty"), a relative
# pronoun, or a comma. Issue #15, fifth round: a word list did as well as textblob's
# chunker on these boundaries (BENCHMARKS.md).
_PHRASE_END_RE = re.compile(
    r"\s+(?:in|at|on|over|with|without|for|from|to|into|onto|about|near|by|during|before|"
    r"after|since|until|under|above|across|along|around|behind|between|through|toward|towards|"
    r"via|per|like|than|as|against|among|beyond|inside|outside|upon|within|that|which|who|whom)"
    r"\b(?!\.)",
    re.IGNORECASE,
)


def _phrase_end(obj: str, *, keep_commas: bool = False) -> str:
    """A named thing, place or event without what follows it: "Fez over Christmas",
    "my first Pride march in London", "Toronto with my two cats". A comma ends it too,
    unless the kind keeps commas ("Austin, Texas")."""
    end = _PHRASE_END_RE.search(obj)
    if end and end.start() > 0:
        obj = obj[: end.start()]
    if not keep_commas:
        obj = obj.split(",", 1)[0]
    return obj.rstrip(" ,")


_CONJUNCT_RE = re.compile(
    r"^\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*)(?P<rest>\S.*)$"
)
_NOT_A_CONJUNCT_RE = re.compile(
    r"^(?:i|we|he|she|they|it|you|my|our|his|her|their|this|that|there|here|let|what|then|"
    r"so|also|like|such as|including|especially|e\.g|mostly|mainly|fyi|btw|lol|haha|though|"
    r"too|just|obviously|honestly|"
    r"am|is|are|was|were|have|has|had|do|does|did|can|will|not|never|just|now|"
    r"\w+ed|\w+s\s+(?:a|an|the|my)\b)\b",
    re.IGNORECASE,
)
# "…and doing much better": a clause, not another item.
_VERB_ING_RE = re.compile(
    r"^(?:doing|getting|feeling|being|going|having|trying|making|looking|hoping|planning|"
    r"thinking|working|living)\b",
    re.IGNORECASE,
)
_HEDGED_QUANTITY_RE = re.compile(
    r"^(?:(?:both|also|a (?:little |tiny )?bit of|a little|little|some|a few|lots of|a lot of|"
    r"especially|particularly|mainly|mostly|such as|including|basic|broken|rusty|decent|"
    r"passable|conversational)\s+)+",
    re.IGNORECASE,
)
# The same without the words of proficiency ("broken", "basic"), which qualify a language
# or a skill but are part of a condition ("a broken wrist").
_QUANTITY_RE = re.compile(
    r"^(?:(?:both|also|a (?:little |tiny )?bit of|a little|little|some|a few|lots of|a lot of|"
    r"especially|particularly|mainly|mostly|such as|including)\s+)+",
    re.IGNORECASE,
)


# A word that can modify a noun ("Thai", "Ethiopian", "red", "organic"): only such a bare
# item shares the last item's head ("penicillin and bee stings" are two things).
_MODIFIER_LIKE_RE = re.compile(
    r"^(?-i:[A-Z])|(?:ese|ian|ish|an|al|ic|ful|ous|ive|ern|ary|ed|less|ic)$|^(?:red|white|"
    r"black|green|blue|brown|dark|light|hot|cold|iced|dry|sweet|sour|raw|fresh|small|big|"
    r"large|old|new|young|short|long|classical|modern|vintage|folk|rock|pop|indie)$",
    re.IGNORECASE,
)


def _conjuncts(
    raw: str,
    first: str,
    *,
    temporal: tuple[TemporalMatch, ...],
    keep_commas: bool,
    phrase: bool = False,
    proficiency: bool = True,
) -> list[str]:
    """The objects of a coordination: "peanuts and shellfish", "Thai and Ethiopian food"
    (a bare modifier shares the last item's head noun), "Portuguese and a bit of
    Japanese". `first` is the cleaned first object; the rest of `raw` is read item by
    item while each item is a noun phrase (a clause after "and" ends the list). With
    `phrase`, each later item ends as a noun phrase does (`_phrase_end`): "Kyoto and Osaka
    during cherry blossom season" is two places, and no head noun is shared from a tail."""
    hedged = _HEDGED_QUANTITY_RE if proficiency else _QUANTITY_RE
    first = hedged.sub("", first)
    at = raw.find(first)
    if not first or at < 0:
        return [first]
    items = [first]
    tail = raw[at + len(first) :]
    while (conj := _CONJUNCT_RE.match(tail)) and len(items) < 8:
        rest = hedged.sub("", conj.group("rest"))
        if _NOT_A_CONJUNCT_RE.match(rest) or _VERB_ING_RE.match(rest):
            break
        item = hedged.sub("", _clean_object(rest, temporal=temporal, keep_commas=False))
        if not item or len(item.split()) > 5 or not _usable(item):
            break
        at = rest.find(item)
        if phrase:
            item = _phrase_end(item)
        items.append(item)
        if at < 0:
            break
        tail = rest[at + len(item) :]
    if len(items) > 1:
        head = items[-1].split()
        if len(head) >= 2 and head[-1].islower():
            items = [
                f"{item} {head[-1]}"
                if len(item.split()) == 1
                and not item.lower().endswith("ing")
                and _MODIFIER_LIKE_RE.search(item)
                else item
                for item in items[:-1]
            ] + [items[-1]]
    return items


def _head(obj: str) -> str:
    """The object up to the first clause glue: what predicate mapping should look at."""
    cut = _OBJECT_STOP_RE.search(obj)
    return obj[: cut.start()] if cut else obj


def _named(phrase: str) -> str:
    """ "a startup called Kite" is Kite: the name stands for the thing."""
    named = re.search(
        r"\b(?:called|named)\s+(?P<name>(?-i:[A-Z])[\w&.'-]*(?:\s+(?-i:[A-Z])"
        r"[\w&.'-]*)*)",
        phrase,
    )
    return named.group("name") if named else phrase


def _place_cut(place: str) -> str:
    """A named workplace, school, tool or place ends where a participle or a lower-case
    prepositional phrase starts: "UCLA majoring in psychology", "J.P. Morgan in the risk
    department", "Trello for planning"."""
    return re.split(
        r"\s+(?=(?:majoring|studying|working|doing|where|who|which)\b)"
        r"|\s+(?:in|on|near|for|with)\s+"
        r"(?=the\s|[a-z])|\s*,",
        place,
        maxsplit=1,
    )[0]


def _usable(obj: str) -> bool:
    lowered = obj.lower().strip()
    if not lowered or lowered in _EMPTY_OBJECTS:
        return False
    if re.fullmatch(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", lowered):
        return True  # an e-mail address, whatever words its parts spell
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
