"""Who a clause is about: pronoun, name and report-frame patterns."""

from __future__ import annotations

import re

from enrichment.extraction.offline.clause import _Context, _Found
from enrichment.extraction.offline.handlers import _RELIGIONS, _STATE_WORDS
from enrichment.extraction.offline.verb_phrases import _predicate_rules
from enrichment.extraction.offline.words import (
    _DIETS,
    _NAME_STOPWORDS,
    _NATIONALITIES,
    _RELATION_NOUNS,
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
    r"uses|met|grew|turned|turns|attended|does|did|died|passed)\b)"
)
_REPORT_FRAME_RE = re.compile(
    r"^(?:(?:so|ok|okay|got it|noted|understood|great|sure|right|perfect|thanks)\b[,:.!]?\s*)*"
    r"(?:(?:since|because|as|given that|now that)\s+"
    r"|(?:you(?:'ve)?\s+(?:mentioned|said|told me|noted|shared|indicated|explained|"
    r"stated)(?:\s+(?:earlier|before|previously))?(?:\s+that)?\s+)"
    r"|(?:as\s+you\s+(?:mentioned|said|noted)(?:\s+(?:earlier|before))?,?\s+)"
    r"|(?:i\s+(?:remember|recall|noted|understand|see|know)\s+(?:that\s+)?)(?=you\b)"
    r"|(?:(?:great|glad|nice|good|awesome|so happy|happy|sorry|good to hear|wonderful|"
    r"exciting|cool|lovely|fun)\s+(?:to (?:hear|know|learn|see)\s+)?(?:that\s+)?)(?=you\b)"
    r"|(?:(?:love|i love|noted|good|cool)\s+that\s+)(?=you\b)|(?:that\s+)(?=you\b)"
    # "Great to hear you're …" after the interjection "Great" was taken off.
    r"|(?:to (?:hear|know|learn|see)\s+(?:that\s+)?)(?=you\b)"
    # "Thanks for letting me know you're …", "It sounds like you …": the user's fact, restated.
    r"|(?:(?:thanks|thank you)\s+)?for\s+(?:letting me know|telling me|sharing|mentioning|"
    r"explaining)\s+(?:that\s+)?(?=you\b)"
    r"|(?:it\s+)?(?:sounds|seems|looks)\s+like\s+(?=you\b)"
    r")*",
    re.IGNORECASE,
)
_IMPLICIT_START_RE = re.compile(
    r"^(?:just\s+|finally\s+|recently\s+)?(?=(?:went|visited|met|finished|started|bought|moved|"
    r"landed|arrived|relocated|settled|switched|left|"
    r"got|joined|"
    r"adopted|attended|painted|took|made|won|ran|graduated|signed|opened|loved|love|going to|"
    r"turned|been an?|transferred|quit|retired|"
    # "Saw Hamilton on Broadway", "Did a spin class this morning": chat's past events.
    r"saw|did\s+(?:an?|my\s+first)|"
    # news told without "I": "Packed up and moved to Perth", "Sold the Fiesta and bought …"
    r"packed|sold|handed|gave up|traded|upgraded|downgraded|swapped|ditched|retrained|"
    r"upped sticks|"
    r"planning to)\b)",
    re.IGNORECASE,
)


def _not_a_name(word: str) -> bool:
    """ "My husband is Catholic", "my mum is Scottish", "my partner is Vegan": a capitalised
    religion, nationality, diet or state after "is" describes the relative; it is no name."""
    lowered = word.lower()
    first = lowered.split()[0]
    return (
        lowered in _NAME_STOPWORDS
        or first in _NATIONALITIES | _RELIGIONS | _STATE_WORDS
        or bool(re.fullmatch(_DIETS, first))
    )


def _introduce(context: _Context, name: str) -> None:
    """A relative named by the clause ("my wife's name is Grace", "my son is called Leo") is
    who a later "he/she" of the same message is, as a relative named as a subject is."""
    context.last_third_party = name


def _relation_subject(
    text: str, relation: re.Match[str], context: _Context, confidence: float
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
    if name and relation.group("named_possessive"):
        # "My cousin Arjun's startup raised a round": Arjun is the user's cousin; the rest
        # is about Arjun's startup, not about Arjun.
        return [(context.me, _Found(predicate, f"my {noun}", name), confidence)]
    if relation.group("possessive"):
        named = re.match(r"^name\s+is\s+(?P<name>[A-Z][\w-]*)", rest)
        if named:
            _introduce(context, named.group("name"))
            return [
                (
                    context.me,
                    _Found(predicate, f"{noun}'s name is", named.group("name")),
                    confidence,
                )
            ]
        return []
    died = re.match(r"^(?P<what>passed away|died|passed)\b", rest)
    if died:  # "my dad passed away in 2020": an event in the user's life
        said = "passed away" if died.group("what").lower() == "passed" else died.group("what")
        death = [(context.me, _Found("life_event", said, f"{noun} {said}"), confidence)]
        if name:
            # A pet that died is one the user no longer has; a relative stays one.
            death.append(
                (
                    context.me,
                    _Found(predicate, f"my {noun}", name, negated=predicate == "has_pet"),
                    confidence,
                )
            )
        return death
    if not name:
        names = re.match(
            r"^(?:are|were)\s+(?:called\s+|named\s+)?(?P<names>[A-Z][a-z][\w-]*"
            r"(?:(?:\s*,\s*|\s+and\s+|\s*,\s*and\s+)[A-Z][a-z][\w-]*)+)\s*$",
            rest,
        )
        if names:  # "my kids are Maya and Eli"
            return [
                (context.me, _Found(predicate, f"my {noun} are", each), confidence)
                for each in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", names.group("names"))
            ]
        named = re.match(
            r"^(?:is|was)\s+(?:an?\s+(?:guy|girl|man|woman|lady|person|fellow)\s+)?"
            r"(?:called\s+|named\s+)?(?P<name>[A-Z][a-z][\w-]*(?:\s+[A-Z][a-z][\w-]*)?)\s*$",
            rest,
        )
        if named and not _not_a_name(named.group("name")):
            _introduce(context, named.group("name"))
            return [
                (
                    context.me,
                    _Found(predicate, f"my {noun} is", named.group("name")),
                    confidence,
                )
            ]
        named = re.match(r"^(?:is\s+)?(?:called|named)\s+(?P<name>[A-Z][\w-]*)", rest)
        if named:
            _introduce(context, named.group("name"))
            return [
                (
                    context.me,
                    _Found(predicate, f"{noun} named", named.group("name")),
                    confidence,
                )
            ]
    together = re.match(r"^and\s+(?:I|me)\b\s*", rest)
    if name:
        results.append((context.me, _Found(predicate, f"my {noun}", name), confidence - 0.05))
        subject = name
        context.last_third_party = name
    else:
        subject = context.owned(noun)
        # A pet only mentioned ("My cat, who is nine, sleeps all day") is no fact of
        # having one, as a relative only mentioned is none: the set's convention.
    if together:
        # "My brother Sam and I own a food truck": we do; the user is the subject.
        rest = rest[together.end() :]
        subject = context.me
    for found in _predicate_rules(rest, context, subject):
        results.append((subject, found, confidence - 0.1))
    return results
