"""Standing instructions to the assistant ("please always answer me in bullet points").

A user's imperative sentence is an instruction only when it is about how the assistant
should behave from now on: a verb of answering or addressing plus a standing or manner
marker ("always", "from now on", "in Spanish", "like I'm a beginner"), or an inherently
standing form ("call me …", "don't …", "stop …", "never …"). A one-off request
("explain quantum computing") is not a fact about the user and yields nothing.

The object is the instruction as an imperative, without "please" and "from now on".
"""

from __future__ import annotations

import re

from enrichment.extraction.offline.standing import one_off, standing_rule
from enrichment.extraction.offline.words import _LANGUAGES

_LANGUAGE_ALT = "|".join(sorted(_LANGUAGES, key=len, reverse=True))

_POLITE_RE = re.compile(
    r"^(?:(?:please|pls|and|also|oh and|ok|okay|so|hey)\s*,?\s+)+|(?:,?\s*(?:please|thanks|"
    r"thank you))+[.!]*$",
    re.IGNORECASE,
)
# "Can you … from now on?": a request phrased as a question is an instruction only with
# a standing marker (checked below).
_ASK_RE = re.compile(r"^(?:can|could|would|will)\s+you\s+(?:please\s+)?", re.IGNORECASE)
_STANDING_RE = re.compile(
    r"\s*\b(?:from now on|going forward|in (?:the )?future|for the rest of (?:this|our) "
    r"(?:chat|conversation))\b",
    re.IGNORECASE,
)
# Verbs of how to answer or address the user: imperative starts of an instruction.
_VERB = (
    r"(?:answer|reply|respond|write|explain|talk|speak|address|format|summari[sz]e|translate|"
    r"keep|use|give me|tell me|show me|list|include|avoid|skip|be|make|add|start|end|sign|"
    r"refer to me|remind me|check|ask me|double-check|cite|stick to|limit)"
)
# What the assistant can be told to do or not to do, after "don't / never / always / stop":
# a bare "don't" is mostly encouragement between people ("don't give up").
_ACT = (
    rf"(?:{_VERB}|suggest|share|mention|recommend|send|call|apologi|ask|remind|sugarcoat|"
    r"lecture|repeat|assume|bring up|swear|curse|reply|correct|use)\w*"
)
_INHERENT_RE = re.compile(
    rf"^(?:call me|address me as|(?:don't|do not|never|always|stop|no more)\s+(?:ever\s+)?"
    rf"{_ACT})\b",
    re.IGNORECASE,
)
_VERB_RE = re.compile(rf"^{_VERB}\b", re.IGNORECASE)
# How an answer is shaped: enough to make "write in British English" standing.
_MANNER_RE = re.compile(
    rf"\b(?:in (?:(?:British|American|Canadian|Australian|simple|plain)\s+)?(?:{_LANGUAGE_ALT})\b|"
    r"in (?:short|bullet|plain|simple|one|a few|under|less|more|full|lowercase|caps)|"
    r"like i'?m|like i am|briefly|concise\w*|shorter|longer|under \d+|words|bullet|first|"
    r"casual|formal|"
    r"simple|short|brief|detail\w*|tone|emoji\w*|metric|units)",
    re.IGNORECASE,
)
# Chit-chat imperatives that are not about the assistant's behaviour.
_NOT_INSTRUCTIONS_RE = re.compile(
    r"^(?:don't|do not)\s+(?:worry|mind|bother|hesitate|be sorry|apologi[sz]e for asking|get me "
    r"wrong|be (?:afraid|scared|shy))\b|^(?:keep (?:it up|in touch|going|up|at|on|\w+ing)|stop it|"
    r"never mind|be careful|be safe|always been)\b",
    re.IGNORECASE,
)
# The instruction ends at a clause that gives its reason ("…, I'm practicing").
_REASON_RE = re.compile(
    r",\s*(?:i|i'm|i am|i've|my|since|because|as|you can|so)\b.*$|"
    r"\s+(?:so (?:that )?(?:i|we)|because|since)\s+\w.*$",
    re.I,
)
# "Keep your answers short please: …": a "please" inside the instruction says nothing.
_INNER_PLEASE_RE = re.compile(r",?\s+please\b(?=\s*[,;:])", re.I)


_WANT_YOU_RE = re.compile(
    r"^(?:i|we)(?:'d| would)?\s+(?:really\s+)?(?:want|like|need)\s+you\s+to\s+", re.I
)

# "I like your answers short": a preference about the assistant's answers is one too.
_LIKE_ANSWERS_RE = re.compile(
    r"^i\s+(?:like|prefer|want|need)\s+(?:your|the)\s+(?P<obj>(?:answers|replies|responses|"
    r"explanations)\s+\w.*)$",
    re.IGNORECASE,
)


def instruction(sentence: str) -> str | None:
    """The standing instruction a user's sentence gives the assistant, or None."""
    text = sentence.strip().replace("’", "'")
    liked = _LIKE_ANSWERS_RE.match(text.strip(" .!"))
    if liked:
        return _REASON_RE.sub("", liked.group("obj")).strip(" .!,")
    asked = _ASK_RE.match(text)
    standing = bool(_STANDING_RE.search(text))
    if asked:
        if not standing:
            return None
        text = text[asked.end() :]
    elif text.endswith("?"):
        return None
    text = _STANDING_RE.sub("", text)
    # "I'd like you to always …": the instruction is the imperative after "you to".
    text = _WANT_YOU_RE.sub("", text)
    text = _POLITE_RE.sub("", text.strip(" .!?")).strip(" .!?,")
    text = _REASON_RE.sub("", _INNER_PLEASE_RE.sub("", text)).strip(" .!?,")
    if not text or _NOT_INSTRUCTIONS_RE.match(text) or re.search(r"\byourself\b", text, re.I):
        return None
    if _INHERENT_RE.match(text):
        pass
    elif _VERB_RE.match(text) and (
        standing or asked or (_MANNER_RE.search(text) and not one_off(text.lower()))
    ):
        pass
    elif asked or not standing_rule(text.lower(), standing=standing):
        # The general shapes of a standing rule ("use X, never Y", "when you suggest a
        # dependency, always tell me its licence", "no emojis in anything you write").
        return None
    text = _instruction_object(text)
    return text[0].lower() + text[1:] if len(text.split()) >= 2 else None


def _instruction_object(text: str) -> str:
    """The instruction as a bare imperative: no standing "always" (the fact is standing by
    its kind), a second imperative joined by ", just …" left out, no closing "with me" or
    relative clause on the assistant's work ("in emails you draft for me"). A condition
    ("when you suggest a book, …") stays: it is the instruction's scope."""
    text = re.sub(r"^always\s+(?=\w)", "", text, flags=re.IGNORECASE)
    text = re.split(r"\s*,\s+(?:just|and just|but just|and also|also)\s+", text, maxsplit=1)[0]
    text = re.sub(
        r"\s+(?:that\s+)?you\s+(?:write|draft|send|prepare)(?:\s+for\s+me)?$",
        "",
        text,
        flags=re.IGNORECASE,
    )
    return re.sub(r"\s+(?:with|for)\s+me$", "", text, flags=re.IGNORECASE).strip(" .!?,")
