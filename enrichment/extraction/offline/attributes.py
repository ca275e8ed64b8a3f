"""'My X is Y' statements and contact details about the speaker."""

from __future__ import annotations

import re

from enrichment.extraction.offline.clause import _Context, _Found
from enrichment.extraction.offline.handlers import _O
from enrichment.extraction.offline.structured import _schedule_predicate
from enrichment.extraction.offline.words import _RELATION_ALT, _RELATION_MODIFIERS
from memory.vocabulary.predicates import predicate_map

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
    rf"(?:\s*,?\s+(?P<name>(?-i:(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?[A-Z][a-z][\w-]*))"
    rf"(?:(?P<named_possessive>['’]s)(?=\s)|(?=[\s,]|$))"
    rf"(?:\s*,)?)?",
    re.IGNORECASE,
)
_CONTACT_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CONTACT_PHONE_RE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_REACH_ME_RE = re.compile(
    r"\b(?:reach|contact|call|text|email|e-mail|find|ping)\s+me\s+(?:at|on|via)\s+(?P<obj>\S.*)",
    re.IGNORECASE,
)


def _attribute(text: str, context: _Context) -> list[_Found]:
    # "my new email", "my work phone", "my name is now X": the attribute itself is the same.
    text = re.sub(
        r"^(my|our)\s+(?:new|current|updated|latest|present)\s+", r"\1 ", text, flags=re.I
    )
    text = re.sub(
        r"^(my|our)\s+(?:work|personal|private|main|home)\s+(?=e-?mail|phone|cell|mobile|number)",
        r"\1 ",
        text,
        flags=re.I,
    )
    text = re.sub(r"^(my\s+[\w ]+?\s+is)\s+now\s+", r"\1 ", text, flags=re.I)
    # "my number changed to X", "my address is now X": the attribute's new value.
    text = re.sub(
        r"^(my\s+[\w ]+?)\s+(?:has\s+)?(?:changed|switched|moved)\s+to\s+",
        r"\1 is ",
        text,
        flags=re.I,
    )
    for pattern, predicate in _ATTRIBUTE_RULES:
        match = pattern.match(text)
        if match:
            obj = match.group("obj")
            # A contact detail is the address or number itself, not what follows it.
            exact = {"email": _CONTACT_EMAIL_RE, "phone": _CONTACT_PHONE_RE}.get(predicate)
            if exact is not None and (detail := exact.search(obj)):
                obj = detail.group(0).strip()
            return [_Found(predicate, match.group(0)[: match.start("obj")].strip(), obj)]
    favorite = _FAVORITE_RE.match(text)
    if favorite:
        what = favorite.group("what").strip()
        mapped = predicate_map(relation_phrase=f"favorite {what}", object_text="")
        name = mapped.name if mapped.name.startswith("favorite_") else "likes"
        if name == "likes":
            # "my favourite language is Python": the language one prefers.
            named = predicate_map(relation_phrase="", object_text=favorite.group("obj")).name
            if re.search(r"\bframework\b", what, re.I):
                named = "prefers_framework"
            elif re.search(r"\b(?:programming|coding)\s+language\b", what, re.I):
                named = "prefers_programming_language"
            if named in ("prefers_programming_language", "prefers_framework"):
                name = named
        return [_Found(name, f"favorite {what}", favorite.group("obj"))]
    scheduled = _SCHEDULE_RE.match(text)
    if scheduled:
        what = scheduled.group("what").strip()
        return [_Found(_schedule_predicate(scheduled.group(0), tool=""), "is scheduled", what)]
    return []
