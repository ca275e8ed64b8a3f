"""Introductions of a named pet or person: "meet Toby, my puppy", "say hi to Luna, my
kitten", "this is Max, our new rescue", "meet my brother, Sam", "introducing Bella, my
daughter's hamster".

An introduction names one of the speaker's own (or a relative's) by apposition. The clause
splitter cuts it at the comma ("meet Toby" | "my puppy"), and the second half is then a
pet or relative only mentioned, which is no fact of having one (the set's convention, kept:
"My cat sleeps all day" says nothing new). Read whole, the introduction is the relation,
by name, and it holds under a speaker prefix too ("Andrew: … meet Toby, my puppy").
A relative's pet or partner is the relative's ("daughter has_pet Bella"). Questions and
conditionals never reach here (`_statements` drops them first).
"""

from __future__ import annotations

import re

from enrichment.extraction.offline.clause import _Context
from enrichment.extraction.offline.words import (
    _NAME_STOPWORDS,
    _RELATION_ALT,
    _RELATION_NOUNS,
)

# "meet", "say hi to", "introducing" introduce wherever they stand ("you have to meet …");
# "this is" and "here's" only at the start of a clause ("this is Max, our rescue").
_VERB = (
    r"(?:(?:^|(?<=[\s,;:]))(?:meet|say\s+(?:hi|hello)\s+to|introducing|"
    r"(?:let\s+me\s+)?introduce\s+(?:you\s+(?:all\s+)?)?to)|"
    r"(?:^|(?<=[,;:!-]\s)|(?<=[—–]\s))(?:this\s+is|here\s+is|here's))\s+"
)
_NAME = r"(?-i:(?P<name>(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?[A-Z][a-z][\w-]*(?:\s+[A-Z][a-z][\w-]*)?))"
# "my puppy", "our new rescue", "my daughter's hamster": the relation, perhaps a relative's.
_OWNED = (
    rf"(?:my|our)\s+(?:(?P<relative>{_RELATION_ALT})['’]s\s+)?(?:[\w-]+\s+){{0,2}}?"
    rf"(?P<noun>{_RELATION_ALT})\b(?!['’])"
)
# Where the apposition ends: punctuation, a dash, or the end of the sentence.
_END = r"(?=\s*(?:[,.!;:)]|\s[-–—]\s|$))"

_NAME_FIRST_RE = re.compile(rf"{_VERB}{_NAME}\s*,\s*{_OWNED}{_END}", re.IGNORECASE)
_NOUN_FIRST_RE = re.compile(rf"{_VERB}{_OWNED}\s*,?\s+{_NAME}\b(?!['’]){_END}", re.IGNORECASE)
# No verb, no introduction: "Pumpkin, my guinea pig." reads like "Seriously, my dog!".


def introduced(sentence: str, context: _Context) -> list[tuple[str, str, str, str]]:
    """(subject, predicate, relation phrase, name) for each pet or person the sentence
    introduces as the speaker's own or a relative's; empty for anything else."""
    found: list[tuple[str, str, str, str]] = []
    matches = [*_NAME_FIRST_RE.finditer(sentence), *_NOUN_FIRST_RE.finditer(sentence)]
    for match in matches:
        name, noun = match.group("name"), match.group("noun").lower()
        relative = (match.group("relative") or "").lower()
        predicate = _RELATION_NOUNS.get(noun)
        if not predicate or name.split()[0].lower() in _NAME_STOPWORDS:
            continue  # a neighbour or a client has no relation fact of their own
        if name.split()[0].lower() in _RELATION_NOUNS:
            continue  # "meet Mom, my …": a relation word, not a name
        if relative:
            if _RELATION_NOUNS.get(relative) == "has_pet":
                continue  # "my dog's vet": a pet owns no one
            found.append((context.owned(relative), predicate, f"{relative}'s {noun}", name))
        else:
            found.append((context.me, predicate, f"my {noun}", name))
    return found
