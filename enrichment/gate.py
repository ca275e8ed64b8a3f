"""The Gate stage's scoring: how useful a mapped proposition is as a long-term fact.

In this module: `utility_score` and `DEFAULT_GATE_THRESHOLD`. Not in this module:
dropping or counting candidates (the pipeline does that with the score), conflict
resolution (Map), importance for tiering (Tier).
"""

from __future__ import annotations

import re

from enrichment.propositions import CHANGE_FROM, USER_SUBJECT, Proposition
from memory.vocabulary.predicates import FALLBACK_PREDICATE, Predicate

# How long a fact of each kind tends to stay true and worth recalling.
_KIND_DURABILITY: dict[str, float] = {
    "identity": 1.0,
    "instruction": 1.0,
    "relationship": 1.0,
    "contact": 1.0,
    "location": 0.9,
    "work": 0.9,
    "education": 0.9,
    "health": 0.9,
    "plan": 0.9,
    "preference": 0.8,
    "skill": 0.8,
    "possession": 0.7,
    "habit": 0.7,
    "goal": 0.6,
    "schedule": 0.6,
    "event": 0.5,
    "opinion": 0.4,
}
_DEFAULT_DURABILITY = 0.3

_FILLER_RE = re.compile(
    r"^(?:thanks?|thank you|ok(?:ay)?|sure|great|good|nice|cool|awesome|fine|yes|no|yeah|lol|"
    r"haha\w*|"
    r"hello|hi|hey|bye|goodbye|sounds good|got it|no worries|np|welcome|sorry|wow|same|true|right|"
    r"good time|great time|nice day|best|fun|it|that|this|something|anything|stuff|things?|lot|"
    r"lots|"
    r"(?:good|great|nice|fun|lovely|wonderful) (?:time|day|one|idea))$",
    re.IGNORECASE,
)
_ARTICLES_RE = re.compile(r"^(?:a|an|the|some|my|our|his|her|their)\s+", re.IGNORECASE)
_WORD_RE = re.compile(r"[\w'@.+-]+")

# Weights of the four signals; they sum to 1 so the score stays in [0, 1].
_W_SPECIFIC = 0.35
_W_DURABLE = 0.30
_W_ABOUT = 0.15
_W_CONFIDENCE = 0.20
_FALLBACK_FACTOR = 0.7
_FILLER_FACTOR = 0.2

# Chosen on tests/enrichment/data/statements.jsonl (309 statements): the 254 extracted
# propositions that match a labelled triple score 0.555-0.96 (1st percentile 0.595);
# filler candidates ("thanks", "it", "stuff", plans_to "a good time") score <= 0.10.
# The 3 unmatched extractions are real facts mislabelled by predicate (0.76-0.79), so
# the gate cannot and should not drop them. 0.45 sits well inside the gap; on 600
# LoCoMo turns (conversations 0, 3, 5) it drops none of 127 extracted propositions,
# i.e. the offline extractor already filters most filler and the gate is the safety
# net for the LLM extractor.
DEFAULT_GATE_THRESHOLD = 0.45


def _specificity(object_text: str) -> float:
    text = _ARTICLES_RE.sub("", object_text.strip())
    words = _WORD_RE.findall(text)
    if not words or _FILLER_RE.match(text):
        return 0.0
    proper = any(word[0].isupper() for word in words)
    number = any(ch.isdigit() for ch in text)
    # Base 0.3; a proper noun or a number pins the fact to something particular, and
    # a few more words usually mean a more particular thing (capped at 4).
    score = 0.3 + 0.3 * proper + 0.2 * number + 0.1 * min(len(words) - 1, 3)
    return min(score, 1.0)


def _aboutness(subject: str) -> float:
    if subject == USER_SUBJECT:
        return 1.0
    if subject[:1].isupper() and "'" not in subject:
        return 0.8  # a named person
    if subject.lower().startswith("my ") or "'s " in subject:
        return 0.7  # someone in the user's world ("my sister", "Ana's brother")
    return 0.4


def utility_score(*, proposition: Proposition, predicate: Predicate) -> float:
    """How much a proposition is worth keeping, in [0, 1].

        score = (0.35·specific + 0.30·durable + 0.15·about + 0.20·confidence)
                × 0.7 if the predicate is the fallback
                × 0.2 if the object is filler or a pleasantry

    - specific: 0 for empty/filler objects, else 0.3 + 0.3 (has a proper noun)
      + 0.2 (has a number) + 0.1 per extra word (up to 3), capped at 1.
    - durable: by predicate kind, from 1.0 (identity, relationship, contact) down to
      0.4 (opinion) and 0.3 for unknown kinds/the fallback (`_KIND_DURABILITY`).
    - about: 1.0 for the user, 0.8 for a named person, 0.7 for "my X"/"A's X",
      0.4 otherwise.
    - confidence: the extractor's own confidence (assistant hearsay is lower).
    """
    specific = _specificity(proposition.object_text)
    durable = _KIND_DURABILITY.get(predicate.kind, _DEFAULT_DURABILITY)
    about = _aboutness(proposition.subject)
    confidence = max(0.0, min(proposition.confidence, 1.0))
    score = (
        _W_SPECIFIC * specific
        + _W_DURABLE * durable
        + _W_ABOUT * about
        + _W_CONFIDENCE * confidence
    )
    if predicate.name == FALLBACK_PREDICATE.name:
        if proposition.relation_phrase == CHANGE_FROM:
            return 0.0  # a value that ended, which no held fact names: nothing to retire
        score *= _FALLBACK_FACTOR
    if specific == 0.0:
        score *= _FILLER_FACTOR
    return round(max(0.0, min(score, 1.0)), 4)
