"""The new value of news told in other words (issue #15, eighth round): "we emigrated to
Australia", "I've just started at KPMG", "I've been promoted to office manager", "I started
a PhD at St Andrews", "I changed my major to economics", "I left Lidl for a job at Aldi";
and, as whole clauses, "Galway is home now", "my new place is in Boulder", "Adidas hired
me". Each gives the predicate the held fact has, so the Map stage's resolver supersedes it.

`NEWS_RULES` are tried before the general rule table on a verb phrase after its subject
(`verb_phrases._verb_phrase`); `news_clause` is tried on a whole clause first.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from enrichment.extraction.offline.clause import _Clause, _Found
from enrichment.propositions import CHANGE_FROM, CHANGE_TO

Handler = Callable[[re.Match[str], _Clause], list[_Found]]

# A name: capitalised words, "of" inside ("University of Leeds").
_NAME = r"(?-i:[A-Z])[\w.'&+-]*(?:\s+(?:of\s+)?(?-i:[A-Z])[\w.'&+-]*)*"
# Where a value ends: the end, punctuation, a time, a reason.
_END = (
    r"(?=\s*$|\s*[,.!;:(—–-]|\s+(?:this|last|in|on|at|after|before|earlier|recently|because|"
    r"since|for|and|but|so|a\s+few|two|three|yesterday|today|ago|now|these\s+days)\b)"
)
_SCHOOL_RE = re.compile(r"\b(?:College|University|Uni|School|High|Academy|Institute|Polytechnic)\b")


def _fixed(predicate: str, relation: str) -> Handler:
    def handle(match: re.Match[str], clause: _Clause) -> list[_Found]:
        return [_Found(predicate, relation, match.group("obj").strip(), negated=clause.negated)]

    return handle


def _started_at(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "started at KPMG": a workplace, or a school when its name says so."""
    obj = match.group("obj")
    if clause.negated:
        return []
    return [_Found("studies_at" if _SCHOOL_RE.search(obj) else "works_at", "started at", obj)]


def _left_for(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "left Lidl for a job at Aldi": the old place ended, the new one held. With "a job"
    the new one is a workplace; otherwise ("left Leeds for York") the kind is the old
    value's, which the Map stage finds (`CHANGE_FROM`/`CHANGE_TO`)."""
    if clause.negated:
        return []
    old, new = match.group("old"), match.group("obj")
    if match.group("job") or match.group("conn").lower().startswith("to"):
        return [_Found(None, CHANGE_FROM, old, negated=True), _Found("works_at", "joined", new)]
    return [_Found(None, CHANGE_FROM, old, negated=True), _Found(None, CHANGE_TO, new)]


NEWS_RULES: tuple[tuple[re.Pattern[str], Handler], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), handler)
    for pattern, handler in (
        (
            # "emigrated to Australia", "moved across the country to Seattle": a move.
            r"^(?:emigrated|immigrated|(?:moved|relocated)\s+(?:all\s+the\s+way\s+|halfway\s+)?"
            r"(?:across\s+(?:the\s+)?(?:country|world|globe|pond|state|continent)|abroad|"
            r"overseas))\s+(?:over\s+)?to\s+(?:the\s+)?(?P<obj>" + _NAME + ")" + _END,
            _fixed("lives_in", "moved to"),
        ),
        (
            r"^(?:have\s+|has\s+)?(?:just\s+)?started\s+(?:work\s+|working\s+)?at\s+(?:the\s+)?(?P<obj>"
            + _NAME
            + ")"
            + _END,
            _started_at,
        ),
        (
            r"^left\s+(?P<old>" + _NAME + r")\s+(?P<conn>for|to\s+join|to\s+work\s+(?:at|for))\s+"
            r"(?P<job>(?:an?\s+|my\s+)?(?:new\s+)?(?:job|role|position|post)\s+(?:at|with)\s+)?"
            r"(?:the\s+)?(?P<obj>" + _NAME + ")" + _END,
            _left_for,
        ),
        (
            # "have been promoted to office manager" reads "am promoted to …" here.
            r"^(?:am\s+|was\s+|got\s+|been\s+|have\s+been\s+)?promoted\s+to\s+(?:be\s+)?"
            r"(?:an?\s+|the\s+)?(?P<obj>[a-z][\w-]*(?:\s+(?!at\b|in\b|for\b|this\b|last\b|"
            r"after\b|and\b|on\b)[\w-]+){0,3})" + _END,
            _fixed("job_title", "promoted to"),
        ),
        (
            r"^(?:just\s+)?started\s+(?:an?\s+|my\s+)?(?:new\s+)?(?:phd|doctorate|masters?|"
            r"master's|degree|mba|ba|bsc|ma|msc|course|apprenticeship|college|uni|university|"
            r"school|sixth\s+form|a-levels|foundation\s+year)\s+at\s+(?:the\s+)?(?P<obj>"
            + _NAME
            + ")"
            + _END,
            _fixed("studies_at", "started at"),
        ),
        (
            r"^(?:changed|switched|swapped)\s+(?:my|our)\s+(?:major|course|degree|subject)\s+"
            r"(?:over\s+)?to\s+(?P<obj>[A-Za-z][\w-]*(?:\s+(?:and\s+)?[a-z][\w-]*){0,2}?)" + _END,
            _fixed("studies_subject", "changed to"),
        ),
    )
)

# Whole clauses whose subject is not the speaker.
_HOME_NOW_RE = re.compile(
    r"(?:^|,\s+)(?P<obj>" + _NAME + r")\s+is\s+(?:(?:my|our)\s+)?(?:new\s+)?home\s+"
    r"(?:now|these\s+days|nowadays|for\s+now)\b",
    re.IGNORECASE,
)
_NEW_HOME_RE = re.compile(
    r"^(?:my|our)\s+new\s+(?:place|house|flat|apartment|home|condo|digs)\s+"
    r"(?:is|'s)\s+in\s+(?:the\s+)?(?P<obj>" + _NAME + ")" + _END,
    re.IGNORECASE,
)
_HIRED_ME_RE = re.compile(
    r"^(?P<obj>" + _NAME + r")\s+(?:has\s+|have\s+|just\s+)*(?:hired|took|taken)\s+me"
    r"(?:\s+on)?\b",
    re.IGNORECASE,
)


def news_clause(text: str) -> list[_Found]:
    """A clause about the speaker whose grammatical subject is the new value."""
    text = text.replace("’", "'").strip()
    for pattern, predicate, relation in (
        (_HOME_NOW_RE, "lives_in", "home is"),
        (_NEW_HOME_RE, "lives_in", "moved to"),
        (_HIRED_ME_RE, "works_at", "hired by"),
    ):
        match = pattern.search(text) if pattern is _HOME_NOW_RE else pattern.match(text)
        if match:
            return [_Found(predicate, relation, match.group("obj"))]
    return []
