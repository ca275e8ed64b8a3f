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
    r"^(?:(?:please|pls|and|also|oh and|ok|okay|so|hey|actually)\s*,?\s+)+|"
    r"(?:,?\s*(?:please|thanks|thank you))+[.!]*$",
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
    r"lecture|repeat|assume|bring up|swear|curse|reply|correct|use|using|say|put|open|close)\w*"
)
_INHERENT_RE = re.compile(
    rf"^(?:call me|address me as|(?:don't|do not|never|always|stop|quit|no more)\s+(?:ever\s+)?"
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
_CALL_ME_IDIOM_RE = re.compile(r"^call me\s+(?-i:[a-z][\w-]*)(?:\s+\w+)?\s*,?\s+but\b", re.I)
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


# A closing "every time" / "anymore" makes a request standing ("Can you stop saying X every
# time?"); it says nothing more than the kind does, so it is not part of the object.
_STANDING_TAIL_RE = re.compile(
    r"\s+(?:(?:every|each) (?:single )?time|any ?more|any longer|ever again)(?=[\s.!?]*$)",
    re.IGNORECASE,
)
# "I prefer it when you …", "I like it when you …": a liking for how the assistant works is
# an instruction; the object is what it does ("ask clarifying questions first").
_LIKE_WHEN_RE = re.compile(
    r"^i\s+(?:really\s+)?(?:prefer|like|love|appreciate)\s+(?:it\s+)?when\s+you\s+"
    r"(?!(?:are|were|'re|do|did|said|say|have|had|'ve|can|could|would|will|'ll)\b)(?=[a-z])",
    re.IGNORECASE,
)
# The assistant agreeing to a standing rule: "Got it, I'll answer in Spanish from now on",
# "Understood, no more bullet points", "Sure — I'll stop using emojis".
_ACK_RE = re.compile(
    r"^(?:(?:ok|okay|alright|all right|got it|understood|noted|sure thing|sure|of course|"
    r"will do|absolutely|right|no problem|sounds good)\b[\s,!.:;—–-]*)+",
    re.IGNORECASE,
)
_WILL_RE = re.compile(r"^(?:i'll|i will)\s+(?:make sure to\s+)?", re.IGNORECASE)

_WANT_YOU_RE = re.compile(
    r"^(?:i|we)(?:'d| would)?\s+(?:really\s+)?(?:want|like|need)\s+you\s+to\s+", re.I
)

# "I like your answers short": a preference about the assistant's answers is one too.
_LIKE_ANSWERS_RE = re.compile(
    r"^i\s+(?:like|prefer|want|need)\s+(?:your|the)\s+(?P<obj>(?:answers|replies|responses|"
    r"explanations)\s+\w.*)$",
    re.IGNORECASE,
)


# "I'd prefer if you didn't use bullet points", "I'd rather you kept it short": a wish about
# how the assistant works, told in the subjunctive past.
_RATHER_RE = re.compile(
    r"^i(?:'d| would)\s+(?:much\s+|really\s+)?(?:rather|prefer)\s+(?:it\s+)?(?:if\s+)?you\s+"
    r"(?P<neg>didn't\s+|did not\s+|wouldn't\s+|would not\s+|never\s+)?(?P<verb>[a-z]+)\b",
    re.IGNORECASE,
)
_PAST_IRREGULAR = {
    "kept": "keep",
    "wrote": "write",
    "gave": "give",
    "spoke": "speak",
    "told": "tell",
    "made": "make",
    "sent": "send",
    "took": "take",
    "got": "get",
    "said": "say",
    "put": "put",
    "stuck": "stick",
    "left": "leave",
}


def _present(verb: str) -> str:
    """The base form of a subjunctive past ("used" → "use", "kept" → "keep")."""
    lowered = verb.lower()
    if lowered in _PAST_IRREGULAR:
        return _PAST_IRREGULAR[lowered]
    if lowered.endswith("ied"):
        return lowered[:-3] + "y"
    if re.search(r"([bdgmnprt])\1ed$", lowered):
        return lowered[:-3]
    if re.search(r"(?:[sczv]|[^aeiou][aeiou][kt]|at|ut)ed$", lowered):
        return lowered[:-1]
    if lowered.endswith("ed"):
        return lowered[:-2]
    return lowered


def instruction(sentence: str) -> str | None:
    """The standing instruction a user's sentence gives the assistant, or None."""
    text = sentence.strip().replace("’", "'")
    rather = _RATHER_RE.match(text)
    if rather:
        rest = text[rather.end() :].strip(" .!")
        verb = rather.group("verb") if rather.group("neg") else _present(rather.group("verb"))
        negation = "don't " if rather.group("neg") else ""
        told = f"{negation}{verb.lower()} {rest}".strip()
        return _REASON_RE.sub("", told).strip(" .!,")
    if _CALL_ME_IDIOM_RE.match(text):
        return None  # "Call me old-fashioned, but …": an idiom, no name and no rule
    text = _REMEMBER_TO_RE.sub("", text)
    scoped = _scoped(text)
    if scoped is not None:
        return scoped
    liked = _LIKE_ANSWERS_RE.match(text.strip(" .!"))
    if liked:
        return _REASON_RE.sub("", liked.group("obj")).strip(" .!,")
    liking = _LIKE_WHEN_RE.match(text)
    if liking:
        text = text[liking.end() :]
    asked = _ASK_RE.match(text)
    standing = bool(
        liking or _STANDING_RE.search(text) or _STANDING_TAIL_RE.search(text.rstrip(" ?.!"))
    )
    text = _STANDING_TAIL_RE.sub("", text.rstrip())
    if asked:
        text = text[asked.end() :]
        # "Can you stop …?", "Could you always …?": a request to stop or to always is
        # standing by its form.
        if not standing and not _INHERENT_RE.match(text):
            return None
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


# "Remember to call me Doc", "Make sure to cite sources": the instruction after it.
_REMEMBER_TO_RE = re.compile(r"^(?:please\s+)?(?:remember|make sure|be sure)\s+to\s+", re.I)
# A scope before an imperative: when the assistant does something ("When you explain
# maths, …", "Whenever I ask for a recipe, …"), a kind of request ("For work emails, …"),
# or a standing marker ("In the future, …").
_SCOPE_RE = re.compile(
    r"^(?:(?:when|whenever|if|any ?time|every time|each time)\s+(?:you|i)\b[^,]{2,60}|"
    r"for\s+(?:[\w'-]+\s+){0,3}(?:questions?|emails?|code|answers?|recipes?|messages?|posts?|"
    r"replies|anything)|in (?:the )?future|going forward|from now on)\s*,\s*",
    re.IGNORECASE,
)


def _scoped(text: str) -> str | None:
    """The instruction after a scope ("When you explain maths, go step by step" → "go step
    by step"): standing by its scope, when what follows is an imperative of answering, a
    standing form ("don't …") or "go …" that does not point back into the scope; None
    otherwise (the sentence is then read as before)."""
    scope = _SCOPE_RE.match(text)
    if not scope or text.rstrip().endswith("?"):
        return None
    rest = _POLITE_RE.sub("", text[scope.end() :].strip(" .!")).strip(" .!,")
    rest = _REASON_RE.sub("", _INNER_PLEASE_RE.sub("", rest)).strip(" .!,")
    if not (_VERB_RE.match(rest) or _INHERENT_RE.match(rest) or re.match(r"^go\s", rest, re.I)):
        return None
    if _NOT_INSTRUCTIONS_RE.match(rest) or len(rest.split()) < 2 or one_off(rest.lower()):
        return None
    if re.search(r"\b(?:it|its|they|them|their|this|that|these|those)\b", rest, re.I):
        # "When you recommend a book, tell me how long it is": the imperative points back
        # into its scope, so the scope stays (`standing_rule` reads the whole sentence).
        return None
    rest = _instruction_object(rest)
    return rest[0].lower() + rest[1:]


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


def confirmed(sentence: str) -> str | None:
    """The standing instruction an assistant's sentence agrees to, or None: after an
    acknowledgement, "I'll …" with a standing marker or in a standing form ("stop …",
    "never …"), or a bare "no more …"; without one, "I'll … from now on". A one-off
    promise ("Sure, I'll explain …") is none."""
    text = sentence.strip().replace("’", "'")
    ack = _ACK_RE.match(text)
    if ack and ack.end() == len(text):
        return None
    text = text[ack.end() if ack else 0 :].strip(" .!")
    standing = bool(_STANDING_RE.search(text) or _STANDING_TAIL_RE.search(text))
    if not ack and not (standing and _WILL_RE.match(text)):
        return None  # "I'll … from now on" agrees on its own ("Noted!" may be a sentence)
    text = _STANDING_TAIL_RE.sub("", _STANDING_RE.sub("", text)).strip(" .!,")
    will = _WILL_RE.match(text)
    if will:
        text = text[will.end() :]
        # Seen from the user, the assistant's "my replies" are "your replies".
        text = re.sub(r"\bmy\b", "your", text, flags=re.IGNORECASE)
        if not (standing or _INHERENT_RE.match(text)):
            return None
    elif not re.match(r"^no more\s+[a-z]", text, re.IGNORECASE):
        return None
    text = _REASON_RE.sub("", text).strip(" .!,")
    if len(text.split()) < 2 or re.search(r"\byourself\b|[?]", text):
        return None
    text = _instruction_object(text)
    return text[0].lower() + text[1:]
