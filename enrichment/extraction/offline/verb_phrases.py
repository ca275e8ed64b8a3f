"""The verb phrase after the subject: strip negation, aspect and adverbs, then apply the
rule table, then the habitual, progressive and "be" fallbacks."""

from __future__ import annotations

import re

from enrichment.extraction.offline.clause import (
    _ADVERB_RE,
    _FREQUENCY_RE,
    _INNER_ADVERB_RE,
    _NEGATION_RE,
    _NEGATION_TAIL_RE,
    _Clause,
    _Context,
    _Found,
)
from enrichment.extraction.offline.ended import ended_values
from enrichment.extraction.offline.handlers import (
    _activity_frequency,
    _be_bare,
    _is_a,
)
from enrichment.extraction.offline.news import NEWS_RULES
from enrichment.extraction.offline.rules import _RULES
from enrichment.extraction.offline.words import _JOB_WORDS
from enrichment.propositions import CHANGE_FROM
from memory.vocabulary.predicates import FALLBACK_PREDICATE, predicate_map

# News told in other words first ("started at KPMG", "promoted to …"), then the rule table.
_NEWS_THEN_RULES = NEWS_RULES + _RULES

# A second verb phrase sharing the clause's subject: "left Shopify and joined Stripe",
# "moved schools and now teach at Oakwood". Only finite verbs that open a fact of their
# own start one; "and" between objects ("hiking and swimming") does not split.
_VP_SPLIT_RE = re.compile(
    r"(?:\s*,\s+(?:and\s+|but\s+)?|\s+(?:and|but)\s+)(?:(?:now|then|also|just|recently|"
    r"finally|so|still)\s+)?"
    r"(?=(?:joined|join|left|moved|"
    r"relocated|started|start|switched|got|became|become|teach|teaches|taught|work|works|"
    r"worked|live|lives|lived|am|is|are|was|were|quit|bought|adopted|married|have|has|"
    r"changed|took|now|can|speak|speaks|own|owns|love|loves|hate|hates|play|plays|"
    r"study|studies|studied|grew|drive|drives|use|uses|"
    # chat's second phrase after a comma: "I'm 40, been a welder", "I'm 31 and working as …"
    r"been|working\s+(?:as|at|for|in)|studying|living\s+in|raised|brought\s+up|"
    # a participle of place: "a fundraiser at Oxfam, based in Oxford"
    r"based\s+(?:in|out\s+of)|"
    # a habit or sport beside an age: "is 71 and still cycles every day"
    r"swim|swims|run|runs|cycle|cycles|hike|hikes|surf|surfs|climb|climbs|jog|jogs)\b)",
    re.IGNORECASE,
)
# Leaving one place for another: the left one takes the predicate the other phrase found.
_LEFT_RE = re.compile(
    r"^(?:left|quit|leave|leaving|sold|gave away|got rid of|traded in|broke up with|"
    r"gave up on|gave up|stopped|dropped|dumped)\s+"
    r"(?P<obj>.+)$",
    re.IGNORECASE,
)
# "bought a place in Queens and moved in": the place is the new home.
_MOVED_IN_RE = re.compile(
    r"^(?:moved|move|moving)(?:\s+(?:in|out|house|home))?"
    r"(?:\s+(?:last|this|in|on|a|two|three|yesterday|today|recently|finally)\b.*)?\s*$",
    re.IGNORECASE,
)
_HOME_IN_RE = re.compile(
    r"\b(?:place|house|flat|apartment|condo|home)\s+in\s+(?P<place>(?-i:[A-Z])[\w.'-]*"
    r"(?:\s+(?-i:[A-Z])[\w.'-]*)*)",
    re.IGNORECASE,
)
_LEAVABLE = frozenset(
    {"works_at", "lives_in", "studies_at", "partner", "owns", "vehicle", "learning", "uses_tool"}
)
# A change marker at the end of a clause says nothing about the fact itself.
_NOW_TAIL_RE = re.compile(
    r"(?:\s*,)?\s+(?:for now|right now|now|these days|nowadays|for good|at the moment|again)\s*$",
    re.IGNORECASE,
)


def _predicate_rules(rest: str, context: _Context, subject: str) -> list[_Found]:
    """The facts of a clause's verb phrase(s) after its subject (see `_VP_SPLIT_RE`), and
    the values they say ended (`ended_values`)."""
    parts = _VP_SPLIT_RE.split(rest.strip(" ,"))
    return _with_ended(parts, _phrases_rules(parts, context, subject))


def _with_ended(parts: list[str], results: list[_Found]) -> list[_Found]:
    """`results` and the values the parts say ended that no result already negates."""
    told = {r.obj.lower() for r in results if r.negated}
    extra = [e for part in parts for e in ended_values(part) if e.obj.lower() not in told]
    return results + extra


def _phrases_rules(parts: list[str], context: _Context, subject: str) -> list[_Found]:
    if len(parts) == 1:
        return _verb_phrase(parts[0], context, subject)
    found_by_part = [_verb_phrase(part, context, subject) for part in parts]
    predicates = {f.predicate for found in found_by_part for f in found} & _LEAVABLE
    results: list[_Found] = []
    rest = " ".join(parts)
    for part, found in zip(parts, found_by_part, strict=True):
        if _MOVED_IN_RE.match(part.strip()) and (home := _HOME_IN_RE.search(rest)):
            # "moved out and got my own place in Paris", "bought a place in X and moved in"
            results.append(_Found("lives_in", "moved to", home.group("place")))
            continue
        left = _LEFT_RE.match(part.strip())
        leaves = _left_predicate(left.group(0).split()[0].lower(), predicates) if left else None
        if (
            left
            and leaves is None
            and left.group(0).split()[0].lower() in ("left", "quit", "leaving")
            and left.group("obj")[:1].isupper()
            and any(f.predicate == "job_title" for other in found_by_part for f in other)
        ):
            # "Left Spotify, now freelancing as a consultant": a named value left for a role;
            # which held fact it was (an employer, a school) the Map stage finds, and with
            # none held it says nothing (`CHANGE_FROM`).
            results.append(_Found(None, CHANGE_FROM, left.group("obj"), negated=True))
            continue
        if left and leaves:
            results.append(_Found(leaves, "left", left.group("obj"), negated=True))
            model = re.sub(r"^(?:the|my|our|old)\s+", "", left.group("obj").strip(), flags=re.I)
            if (
                leaves in ("owns", "vehicle")
                and model[:1].isupper()
                and predicate_map(relation_phrase=CHANGE_FROM, object_text=model).name
                == FALLBACK_PREDICATE.name
            ):
                # "Sold the Fiesta": the car held may be stored by make and model ("Ford
                # Fiesta"); the Map stage finds it by its last word (`CHANGE_FROM`).
                results.append(_Found(None, CHANGE_FROM, model, negated=True))
            continue
        results.extend(found)
    return results


# What a leaving verb leaves, most likely first, when the sentence's other phrases found
# several kinds ("left Siemens, moved to Zurich and now work for Roche": the employer).
_LEAVES = {
    "left": ("works_at", "studies_at", "partner", "lives_in"),
    "quit": ("works_at", "studies_at", "learning"),
    "leave": ("works_at", "studies_at", "partner", "lives_in"),
    "leaving": ("works_at", "studies_at", "partner", "lives_in"),
    "sold": ("owns", "vehicle"),
    "traded": ("vehicle", "owns"),
    "broke": ("partner",),
    "dumped": ("partner",),
    "gave": ("owns", "vehicle", "learning", "uses_tool"),
    "got": ("owns", "vehicle"),
    "stopped": ("learning", "uses_tool"),
    "dropped": ("learning", "studies_at"),
}


def _left_predicate(verb: str, predicates: set[str | None]) -> str | None:
    """The predicate a "left X" phrase negates: the only one found, else the first the
    verb can leave (see `_LEAVES`)."""
    if len(predicates) == 1:
        return next(iter(predicates))
    return next((p for p in _LEAVES.get(verb, ()) if p in predicates), None)


# Progressive verbs that say nothing of an activity ("I'm going", "I'm thinking").
_NOT_PROGRESSIVE_ACTIVITIES = frozenset(
    "going thinking feeling looking hoping trying getting doing having wondering planning "
    "considering waiting starting saying talking kidding joking being telling asking glad "
    "sorry coming leaving missing loving seeing meaning dying struggling sitting stressing "
    "worrying freaking panicking obsessing crying laughing losing dreading loving hating "
    "enjoying".split()
)
_MAKING_VERBS = frozenset(
    "writing building making developing designing creating renovating restoring knitting "
    "sewing composing recording editing drafting coding programming remodeling remodelling "
    "painting crafting translating illustrating producing directing organising organizing "
    "launching".split()
)
# Being somewhere "these days" / "now" / "for good" is living there.
_SETTLED_RE = re.compile(
    r"^(?:am|are|have been|landed|arrived|settled|am back|are back)\s+(?:back\s+)?"
    r"(?:in|to)\s+(?P<obj>(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)\s*,?\s+"
    r"(?:these days|nowadays|for good|for now|now|permanently)\b",
    re.IGNORECASE,
)


# Where an embedded clause starts after the verb phrase's own words: a relative pronoun,
# a new subject, a subordinator.
_EMBEDDED_RE = re.compile(
    r"\s(?:that|which|who|whom|where|because|since|but|although|though|and|or|i|we|you|he|she|"
    r"they)\s",
    re.IGNORECASE,
)


def _verb_phrase(
    rest: str, context: _Context, subject: str, outer_negated: bool = False
) -> list[_Found]:
    rest = rest.strip(" ,.!")
    settled = _SETTLED_RE.match(_INNER_ADVERB_RE.sub("", rest))
    if settled and not _NEGATION_RE.search(rest):
        return [_Found("lives_in", "am in", settled.group("obj"))]
    rest = _NOW_TAIL_RE.sub("", rest)
    # "can not stand" is a dislike, not a negated "stand".
    rest = re.sub(r"\bcan not (stand|bear)\b", r"can_not_\1", rest, flags=re.IGNORECASE)
    # A negation inside an embedded clause ("a Peloton I never use", "a dog that doesn't
    # bark") is that clause's, not the verb phrase's.
    embedded = _EMBEDDED_RE.search(rest, 1)
    head = rest[: embedded.start()] if embedded else rest
    negated = outer_negated or bool(_NEGATION_RE.search(head) or _NEGATION_TAIL_RE.search(head))
    used_to = re.search(r"\bused to\s+", rest, re.IGNORECASE)
    frequent = bool(_FREQUENCY_RE.search(rest))
    # Keep the auxiliary ("am not married" → "am married"); drop do-support and adverbs.
    rest = _NEGATION_RE.sub(
        lambda m: (
            ""
            if m.group(0).split()[0].lower()
            in ("do", "does", "did", "no", "never", "not", "can", "could")
            else m.group(0).split()[0] + " "
        ),
        rest,
    )
    rest = _NEGATION_TAIL_RE.sub("", rest)
    rest = rest.replace("can_not_", "can not ")
    if used_to:
        rest = re.sub(r"\bused to\s+", "", rest, flags=re.IGNORECASE)
        negated = True
    # "became a nurse", "have become vegan": what one is now.
    rest = re.sub(
        r"^(?:became|become|have become|has become|am now|turned into)\s+(?=an?\s|(?-i:[a-z]))",
        "am ",
        rest,
        flags=re.IGNORECASE,
    )
    # "have been working" → "working", "have been vegan" → "am vegan".
    rest = re.sub(r"^(?:have|has|had)\s+been\s+(?=\w+ing\b)", "", rest, flags=re.IGNORECASE)
    rest = re.sub(r"^(?:have|has|had)\s+been\s+", "am ", rest, flags=re.IGNORECASE)
    # Chat drops "I've": "Been a barista at Blue Bottle for two years".
    rest = re.sub(r"^been\s+(?=an?\s)", "am ", rest, flags=re.IGNORECASE)
    rest = re.sub(
        r"^(?:have|has|had)\s+(?=\w+ed\b|got\b|gotten|made|taken|done|been|gone|met\b|won\b|"
        r"run\b|bought|seen|known|had\b|given|found|left|lost|read\b|heard|taught|grown|"
        r"written|become|come\b|spent|begun|kept|felt|thought|brought|built|sold|told|said)",
        "",
        rest,
        flags=re.IGNORECASE,
    )
    rest = re.sub(
        r",?\s+(?:finally|at last|already|again|too|as well|officially)\s*$",
        "",
        _INNER_ADVERB_RE.sub("", rest),
        flags=re.IGNORECASE,
    )
    rest = _NOW_TAIL_RE.sub("", rest.strip(" ,"))
    # When and how long one works is not what one does: "work night shifts as a nurse".
    rest = re.sub(
        r"^((?:am\s+)?(?:work|works|worked|working))\s+(?:(?:the\s+)?(?:night|day|evening|"
        r"weekend|early|late|double)\s+shifts?|nights|days|weekends|evenings|part[- ]time|"
        r"full[- ]time|remotely|from home|overtime)\s+(?=as\b|at\b|for\b|in\b)",
        r"\1 ",
        rest,
        flags=re.IGNORECASE,
    )
    # Aspect verbs add nothing to the fact: "started taking classes" → "taking classes".
    rest = re.sub(
        r"^(?:started|start|starting|began|begun|begin|keep|kept|continue|"
        r"continued)\s+(?=\w+ing\b)",
        "am ",
        rest,
        flags=re.IGNORECASE,
    )
    # Ability is the skill itself: "I can code in C++", "I can speak Greek".
    rest = re.sub(
        r"^(?:can|could)\s+(?=(?:code|program|speak|cook|swim|drive|play|write|read|sing|"
        r"dance|knit|sew)\b)",
        "",
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
    listed = _complement_list(rest)
    if listed:  # "I'm 41, a plumber, and a dad": each complement of the one "be"
        be_word, items = listed
        return [
            found
            for item in items
            for found in _verb_phrase(f"{be_word} {item}", context, subject, negated)
        ]
    for pattern, handler in _NEWS_THEN_RULES:
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
    if progressive and progressive.group("verb").lower() in _MAKING_VERBS:
        # "writing my dissertation", "building a treehouse": a project under way.
        return [
            _Found("works_on", progressive.group("verb"), progressive.group("obj"), negated=negated)
        ]
    if progressive and re.match(r"^(?:was|were)\b", rest, re.IGNORECASE):
        return []  # "we were driving back when…": the backdrop of a story, not a fact
    if progressive and progressive.group("verb").lower() not in _NOT_PROGRESSIVE_ACTIVITIES:
        return [
            _Found(
                "did_activity",
                progressive.group("verb"),
                f"{progressive.group('verb')} {progressive.group('obj')}",
                negated=negated,
            )
        ]
    nominals = re.match(
        r"^(?P<be>am|is|are|was|were|be)\s+(?P<first>an?\s+.+?)\s*,?\s+and\s+(?:also\s+)?"
        r"(?P<second>an?\s+\S.*)$",
        rest,
        re.IGNORECASE,
    )
    if nominals:  # "a barista at Starbucks and a student at NYU": two of them
        be_word = nominals.group("be")
        return [
            *_verb_phrase(f"{be_word} {nominals.group('first')}", context, subject, negated),
            *_verb_phrase(f"{be_word} {nominals.group('second')}", context, subject, negated),
        ]
    be = re.match(r"^(?:am|is|are|was|were|be)\s+(?:an?\s+)(?P<obj>.+)", rest, re.IGNORECASE)
    if be:
        return _is_a(be, clause)
    # "I'm the head chef at Baan": only a job reads well with "the".
    the = re.match(r"^(?:am|is|are|was|were)\s+the\s+(?P<obj>.+)", rest, re.IGNORECASE) or re.match(
        # "I'm head of marketing at Bloom": a role "of" a field needs no article.
        r"^(?:am|is|are|was|were)\s+(?P<obj>(?:head|director|vp|chief|manager|lead|editor|"
        r"president|dean|principal)\s+of\s+(?!the\b|my\b|our\b|his\b|her\b|their\b).+)",
        rest,
        re.IGNORECASE,
    )
    if the:
        found = _is_a(the, clause)
        if any(f.predicate == "job_title" for f in found):
            return [f for f in found if f.predicate in ("job_title", "works_at", "lives_in")]
    plural = re.match(
        r"^(?:are|were)\s+(?:both|all)\s+(?P<noun>[a-z-]+?)(?:s|(?<=m)en)\s*(?:,.*)?$|"
        r"^(?:are|were)\s+(?P<plain>[a-z-]+?)(?:s|(?<=m)en)\s*(?:,.*)?$",
        rest,
    )
    noun = plural and (plural.group("noun") or plural.group("plain"))
    if noun and (job := noun + ("an" if noun.endswith("m") else "")) in _JOB_WORDS:
        # "My parents are both teachers", "my uncles are plumbers": each one's job.
        return [_Found("job_title", "are", job, negated=negated)]
    bare = re.match(r"^(?:am|is|are)\s+(?P<obj>[\w-]+(?: [A-Z][a-z]+)?)\s*$", rest, re.IGNORECASE)
    if bare:
        return _be_bare(bare, clause)
    return []


# One "be" and a list of complements, commas between: "am 41, a plumber, and a dad".
_COMPLEMENTS_RE = re.compile(r"^(?P<be>am|is|are|was|were)\s+(?P<items>(?:an?\s|\d).*,.*)$", re.I)
_COMPLEMENT_SPLIT_RE = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+(?=an?\s|\d)", re.I)
_COMPLEMENT_RE = re.compile(
    r"^(?:\d{1,3}|an?\s+(?!(?:job|one|thing|bit|lot|little|few|couple|while|way)\b)[\w-]"
    r"[^,]*)$",
    re.I,
)


def _complement_list(rest: str) -> tuple[str, list[str]] | None:
    """(be, complements) when the phrase is one "be" with two or more complements, each an
    age or a noun phrase with an article, separated by commas (and "and"); else None."""
    listed = _COMPLEMENTS_RE.match(rest)
    if not listed:
        return None
    items = [i.strip() for i in _COMPLEMENT_SPLIT_RE.split(listed.group("items")) if i.strip()]
    if len(items) < 2 or not all(_COMPLEMENT_RE.match(i) for i in items):
        return None
    if any(re.search(r"\s(?:i|we|you|he|she|they)\s", i, re.I) for i in items):
        return None  # "a job I love": a relative clause, not a complement
    return listed.group("be"), items
