"""The kind a found fact belongs to, judged on its whole object once the rules have spoken.

The verb rules name a predicate from the verb ("have" → owns, a past verb → did_activity);
some objects say by themselves that the verb's kind is wrong: "an MSc in statistics" is a
degree whatever verb has it, "my driving test on Thursday" is a date in the diary, "saw
Coldplay at the O2" is an event attended, "went on maternity leave" a life event, and "my
aunt" is no place visited. `reclassify` is that one check, applied to every clause's
findings (issue #15, sixth round: classes of wrong kinds on the dev parts, each checked on
paraphrases in `tests/enrichment/test_offline_paraphrases.py`).
"""

from __future__ import annotations

import re

from enrichment.extraction.offline.words import _RELATION_ALT

# A degree by its name or abbreviation, with its field up to where it was taken.
_DEGREE_RE = re.compile(
    r"^(?:(?:my|an?|the|his|her)\s+)?(?P<degree>(?:(?-i:B\.?Sc\.?|M\.?Sc\.?|B\.?A\.?|M\.?A\.?|"
    r"B\.?S\.?|M\.?S\.?|BEng|MEng|B\.?Ed\.?|M\.?Ed\.?|MBA|Ph\.?D\.?|DPhil|MPhil|LLB|LLM|JD|"
    r"MFA|BFA|MPH|MSW)|master'?s|bachelor'?s|doctorate|associate'?s)(?:\s+degree)?"
    r"(?:\s+in\s+[\w&' -]+?)?)(?=\s+(?:from|at|with|in\s+\d|last|this|back|when|after|before)\b|"
    r"\s*[,.;!]|\s*$)",
    re.IGNORECASE,
)
_DEGREE_FROM = frozenset({"owns", "achievement", "learning", "did_activity", "degree", None})

# What one has "got" that is a date, not a thing: exams, tests, ceremonies, interviews.
_DIARY_RE = re.compile(
    r"^(?:(?:my|our|an?|the)\s+)?(?P<event>(?:[\w-]+\s+){0,2}(?:test|exam|exams|ceremony|"
    r"interview|audition|hearing|recital|viva|checkup|check-up|appointment|surgery|operation|"
    r"scan))\b",
    re.IGNORECASE,
)
# Only where "got"/"have" was read as owning: an achievement or a course stays what it is
# ("got my grade 8", "a driving lesson").
_DIARY_FROM = frozenset({"owns", "vehicle", "has_plan", "scheduled_event"})

# Seeing a named act: "saw Coldplay at the O2", "went to see Hozier at Red Rocks".
_SAW_RE = re.compile(
    r"^(?:went\s+to\s+see|(?i:saw)|caught|seen|watched)\s+(?P<act>(?-i:[A-Z])[\w'&.-]*"
    r"(?:\s+(?-i:[A-Z])[\w'&.-]*)*)\s+(?:live\b|in\s+concert\b|at\s+(?:the\s+)?(?-i:[A-Z])|"
    r"in\s+(?-i:[A-Z])|on\s+(?:Broadway|tour|the\s+West\s+End))",
)

# Life events told as actions: leave taken, moving in together.
_LIFE_EVENT_RE = re.compile(
    r"^(?:went|go|gone|started)\s+on\s+(?P<leave>(?:maternity|paternity|parental|sick|medical|"
    r"bereavement|compassionate|study)\s+leave)\b|^(?P<together>moved\s+in\s+together)\b",
    re.IGNORECASE,
)

# What follows "got" when it is a movement or a state, not a thing come by.
_PARTICLE_RE = re.compile(
    r"^(?:back|home|up|in|out|off|away|over|through|lost|stuck|lucky|ready|sick|better|worse|"
    r"used to|there|here|to)\b",
    re.IGNORECASE,
)

# Children named by their age or stage ("a 3-year-old", "a newborn", "two teenagers").
_CHILD_RE = re.compile(
    r"^(?:(?:an?|one|two|three|four|\d+)\s+)?(?:(?:\d+|\w+)[- ]years?[- ]olds?|newborns?|"
    r"toddlers?|teenagers?|preschoolers?|infants?)\b",
    re.IGNORECASE,
)

# A person named where a place was expected ("visit my aunt in Galway").
_PERSON_RE = re.compile(
    rf"^(?:my|our|his|her|their)\s+(?:\w+\s+)?(?:{_RELATION_ALT}|friends?|family|folks|"
    r"grandparents|relatives|in-laws)\b",
    re.IGNORECASE,
)


def reclassify(predicate: str | None, obj: str) -> tuple[str | None, str] | None:
    """(predicate, object) as the object says it should be; None to drop the finding."""
    text = obj.strip()
    if predicate in _DEGREE_FROM:
        degree = _DEGREE_RE.match(text)
        if degree:
            return "degree", degree.group("degree").strip()
    if predicate in _DIARY_FROM:
        diary = _DIARY_RE.match(text)
        if diary and not re.search(r"\b(?:passed|result|certificate|licen[cs]e)\b", text, re.I):
            return "scheduled_event", diary.group("event")
    if predicate == "did_activity":
        saw = _SAW_RE.match(text)
        if saw:
            return "attended_event", saw.group("act")
        life = _LIFE_EVENT_RE.match(text)
        if life:
            return "life_event", (life.group("leave") or life.group("together")).lower()
    if predicate == "visited_place" and _PERSON_RE.match(text):
        return None
    if predicate == "owns" and _CHILD_RE.match(text):
        return "has_child", obj  # "I have a 3-year-old and a newborn": children, not things
    if predicate in ("owns", "has_plan") and _PARTICLE_RE.match(text):
        return None  # "just got back from Lisbon", "got home late": a movement, no thing
    return predicate, obj


# A frame that sets what follows in the past: "When I was a kid", "Back in college",
# "As a teenager", "growing up". States inside it are not the user's current facts.
PAST_FRAME_RE = re.compile(
    r"\b(?:when\s+i\s+was\s+(?:a\s+)?(?:kid|child|little|young|younger|teen|teenager|boy|girl|"
    r"student|in\s+(?:high\s+school|school|college|uni|university)|\d{1,2})|"
    r"back\s+(?:in\s+(?:college|school|uni|university|high\s+school|the\s+day|my\s+\w+)|then)|"
    r"as\s+a\s+(?:kid|child|teenager|teen|boy|girl)|growing\s+up|in\s+my\s+(?:teens|twenties|"
    r"thirties|youth|childhood))\b",
    re.IGNORECASE,
)
# What a past frame leaves standing: where one is from, events, what one did.
PAST_FRAME_KEEPS = frozenset(
    {
        "from_location",
        "did_activity",
        "life_event",
        "attended_event",
        "visited_place",
        "achievement",
        "native_language",
        "speaks_language",
    }
)
