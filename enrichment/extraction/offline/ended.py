"""Values that ended: "I graduated from Exeter", "we lost Biscuit", "gave up keto", "I got
laid off from Zalando", "we called off the Peru trip" (issue #15, eighth round).

Such a clause says that something the user had ended, but often not what kind of fact it
was (a school or an employer; a pet or a partner; a diet or a hobby). It yields the old
value under `CHANGE_FROM`, negated and without a predicate: the Map stage names it with
the predicate of the user's current fact that holds the value, so the negation retires
that fact (kept in history); with none held the Gate writes nothing. Added beside what
the clause's own rules found ("I quit smoking" stays a life event too).
"""

from __future__ import annotations

import re

from enrichment.extraction.offline.clause import _NEGATION_RE, _Found
from enrichment.propositions import CHANGE_FROM

# A name ("Exeter", "King's College London", "MBA") or one lower-case word ("keto",
# "pilates", "vegetarian"): the value, up to where the clause goes on.
_VALUE = (
    r"(?P<obj>(?-i:[A-Z])[\w.'&+-]*(?:\s+(?:of\s+)?(?-i:[A-Z])[\w.'&+-]*)*"
    r"|(?-i:[a-z])[\w-]+)"
)
# What may follow the value: the end, a comma, a time, a reason.
_AFTER = (
    r"(?P<suffix>\s+(?:trip|plan|plans|idea|holiday|vacation|move|wedding|course|subscription|"
    r"membership))?"
    r"(?=\s*$|\s*[,.!;:(—–-]|\s+(?:this|last|in|on|at|after|before|earlier|recently|because|"
    r"since|for|and|but|so|altogether|completely|entirely|a\s+few|two|three|over|back|"
    r"yesterday|today|ago)\b)"
)
_ENDED_RE = re.compile(
    r"^(?:have\s+|has\s+|had\s+)?(?:just\s+|finally\s+|recently\s+|sadly\s+|officially\s+)?(?:"
    # a school finished or left
    r"graduated\s+from|dropped\s+out\s+of|finished\s+(?:uni|university|college|school|"
    r"my\s+(?:degree|studies|course|master's|masters|phd|ba|bsc|ma|msc|apprenticeship))\s+at|"
    # a pet lost or given away
    r"lost|(?:had\s+to\s+)?re-?home|rehomed|"
    # a habit, diet or pastime given up
    r"(?P<habit>stopped\s+being|gave\s+up(?:\s+on)?|given\s+up(?:\s+on)?|quit|gone\s+off|"
    r"went\s+off)|"
    # a job ended
    r"retired\s+from|(?:got|was|been|were)\s+(?:laid\s+off|let\s+go|fired|sacked|"
    r"made\s+redundant)\s+(?:from|at|by)|"
    # a plan called off
    r"cancell?ed|called\s+off|shelved|scrapped|abandoned|changed\s+(?:my|our)\s+minds?\s+about"
    r")\s+(?:the\s+|my\s+|our\s+)?" + _VALUE + _AFTER,
    re.IGNORECASE,
)
# "put Smudge down", "had to put Smudge to sleep": a pet.
_PUT_DOWN_RE = re.compile(
    r"^(?:have\s+|had\s+)?(?:had\s+to\s+)?put\s+(?P<obj>(?-i:[A-Z])[\w'-]*)\s+"
    r"(?:down|to\s+sleep)\b",
    re.IGNORECASE,
)
# "freelancing now after leaving Atos": the place left, told in passing.
_AFTER_LEAVING_RE = re.compile(
    r"\b(?:after|since)\s+(?:leaving|quitting)\s+(?P<obj>(?-i:[A-Z])[\w.'&+-]*"
    r"(?:\s+(?-i:[A-Z])[\w.'&+-]*)*)",
    re.IGNORECASE,
)
# Lower-case words that are never a held value of their own.
_NOT_VALUES = frozenset(
    "it that this them him her me us job work everything something anything smoking "
    "drinking".split()
)


def ended_values(part: str) -> list[_Found]:
    """The values a verb phrase (after its subject) says ended, as `CHANGE_FROM`."""
    text = part.strip(" ,.!")
    if _NEGATION_RE.search(text.split(",")[0]):
        return []  # "I didn't quit pilates"
    found: list[str] = []
    for pattern in (_ENDED_RE, _PUT_DOWN_RE):
        match = pattern.match(text)
        if match and (
            match.group("obj")[:1].isupper()
            # a lower-case value only for a habit given up, or a named plan ("the house plan")
            or (pattern is _ENDED_RE and (match.group("habit") or match.group("suffix")))
        ):
            found.append(match.group("obj"))
    found += [m.group("obj") for m in _AFTER_LEAVING_RE.finditer(text)]
    return [
        _Found(None, CHANGE_FROM, value, negated=True)
        for value in dict.fromkeys(found)
        if value.lower() not in _NOT_VALUES
    ]
