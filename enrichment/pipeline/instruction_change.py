"""When a new instruction to the assistant replaces a held one (issue #15, eighth round).

`assistant_instruction` is set-valued: "answer in Spanish" and "use bullet points" hold
together. A new instruction replaces a held one only when both set the same dimension of
an answer to different values ("answer me in English" → "from now on answer in
Spanish"; metric → imperial units; British → American spelling; short → detailed answers;
bullet points → paragraphs; formal → casual), or when it turns the same thing on or off
("use bullet points in your answers" → "stop using bullet points"; "don't use emoji" →
"you can use emoji again"). The resolver then supersedes the held one (kept in history).
Judged on the instructions' text only, so it holds for every extractor.
"""

from __future__ import annotations

import re

from enrichment.extraction.offline.words import _LANGUAGES

_LANGUAGE_RE = re.compile(
    r"\b(?:in|to|into|switch(?:\s+back)?\s+to|use|speak|write)\s+(?P<v>"
    + "|".join(sorted((re.escape(w) for w in _LANGUAGES), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
# Dimension -> (value pattern, value) pairs; the first pattern found names the value.
_DIMENSIONS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "units": (
        (re.compile(r"\bmetric\b", re.I), "metric"),
        (re.compile(r"\b(?:imperial|us customary|miles|fahrenheit|pounds)\b", re.I), "imperial"),
    ),
    "spelling": (
        (re.compile(r"\b(?:british|uk)\s+(?:spelling|english)\b", re.I), "british"),
        (re.compile(r"\b(?:american|us)\s+(?:spelling|english)\b", re.I), "american"),
    ),
    "length": (
        (re.compile(r"\b(?:short|shorter|brief|briefer|concise|terse|under \d+)\b", re.I), "short"),
        (
            re.compile(r"\b(?:long|longer|detailed|in[- ]depth|more detail|thorough)\b", re.I),
            "long",
        ),
    ),
    "format": (
        (re.compile(r"\b(?:paragraphs?|prose|full sentences)\b", re.I), "prose"),
        (re.compile(r"\b(?:bullet|bullets|bulleted|bullet points?|lists?)\b", re.I), "bullets"),
    ),
    "tone": (
        (re.compile(r"\b(?:casual|informal|relaxed|chatty)\b", re.I), "casual"),
        (re.compile(r"\b(?:formal|professional)\b", re.I), "formal"),
    ),
}
# Turning a thing off: "stop using", "no more", "don't", "never", "drop the", "without".
_OFF_RE = re.compile(
    r"\b(?:stop|quit|no more|no longer|don't|do not|dont|never|drop|avoid|without|skip|"
    r"cut out|ditch|lose)\b",
    re.IGNORECASE,
)
# Turning it back on: "you can use emoji again", "emoji are fine now".
_ON_AGAIN_RE = re.compile(
    r"\b(?:again|are fine|is fine|are ok|is ok|are okay|is okay|go ahead|feel free|"
    r"can use|don't mind|do not mind)\b",
    re.IGNORECASE,
)
_FUNCTION_WORDS = frozenset(
    "a an the in on of to for with me my your you i it them please always now from "
    "answer answers answering reply replies replying respond responses response write "
    "writing use using stop quit no more don't do not never drop avoid without again can "
    "be just keep any and or all when".split()
)


# "use imperial units instead of metric": the tail names the old value, not the new one.
_INSTEAD_RE = re.compile(r"\b(?:instead of|rather than|in place of|not)\b.*$", re.IGNORECASE)
_OFF_START_RE = re.compile(
    r"^\W*(?:(?:please|actually|just|and|ok|okay|so)\W+)*(?:stop|quit|no more|no longer|don't|"
    r"do not|dont|never|drop|avoid|skip|cut out|ditch)\b",
    re.IGNORECASE,
)


def _values(text: str) -> dict[str, str]:
    text = _INSTEAD_RE.sub("", text)
    values: dict[str, str] = {}
    language = _LANGUAGE_RE.search(text)
    if language:
        values["language"] = language.group("v").lower()
    for dimension, options in _DIMENSIONS.items():
        for pattern, value in options:
            if pattern.search(text):
                values[dimension] = value
                break
    return values


def _is_off(text: str) -> bool:
    """Whether the instruction turns something off: it starts so ("stop using …"), or
    says so later without saying it is fine again."""
    return bool(_OFF_START_RE.match(text)) or (
        bool(_OFF_RE.search(text)) and not _ON_AGAIN_RE.search(text)
    )


def _stem(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def _topic(text: str) -> set[str]:
    words = re.findall(r"[a-z][a-z'-]+", text.lower())
    return {_stem(w) for w in words if w not in _FUNCTION_WORDS and len(w) > 3}


def instruction_replaces(new: str, held: str) -> bool:
    """True when the instruction `new` replaces the held instruction `held`."""
    new_values, held_values = _values(new), _values(held)
    shared = new_values.keys() & held_values.keys()
    off_new, off_held = _is_off(new), _is_off(held)
    if any(new_values[d] != held_values[d] for d in shared) and off_new == off_held:
        return True  # the same dimension set to another value
    # The same thing turned off, or on again: "use bullet points" → "stop using bullets".
    return off_new != off_held and bool(
        _topic(new) & _topic(held) or any(new_values[d] == held_values[d] for d in shared)
    )
