"""An assistant turn that relays the user's own news ("Got it — you've moved to Leeds").

The resolver never lets an assistant's statement replace a fact in the user's own words
(the assistant may be wrong). An acknowledgement of a change the user announced is
different in kind: the assistant is repeating what the user just told it, in the second
person, with an acknowledgement first and a change verb ("Noted, you've switched to
Linear", "Understood — you're now at Globex", "Congrats on the move to Lisbon"). Such a
statement is the user's word relayed and is settled by time like one. Anything else the
assistant says about the user ("You live in Madrid.") still cannot replace the user's own.
Judged on the candidate's verbatim `source_text`, so it holds for every extractor.
"""

from __future__ import annotations

import re

_ACKNOWLEDGED_RE = re.compile(
    r"^\W*(?:got it|noted|understood|okay|ok|alright|all right|sure thing|thanks for (?:letting "
    r"me know|the update|telling me)|good to know|congrat\w*|great news|oh nice|nice)\b",
    re.IGNORECASE,
)
_CHANGE_RE = re.compile(
    r"\byou(?:'ve|\s+have)\s+(?:just\s+|now\s+|recently\s+|finally\s+|officially\s+)?"
    r"(?:moved|relocated|started|joined|switched|changed|left|quit|become|taken|gone|got|gotten|"
    r"dropped|stopped|ended|broken up|split up|retired|transferred|graduated)\b"
    r"|\byou(?:'re|\s+are)\s+(?:now|no longer)\b|\byou\s+(?:now|no longer)\s+\w+"
    r"|\bcongrat\w*\s+on\s+(?:the\s+|your\s+)?(?:new\b|move\b|moving\b|getting\b|starting\b|"
    r"joining\b|switch|becoming\b|the\s+promotion\b|your\s+promotion\b|graduating\b)"
    # Confirming a changed instruction: "Understood, I'll answer in Italian from now on".
    r"|\bi(?:'ll|\s+will)\s+(?:\w+\s+){0,8}?(?:from now on|going forward|instead)\b",
    re.IGNORECASE,
)


def relays_user_news(source_text: str) -> bool:
    """True when an assistant's sentence acknowledges a change the user announced."""
    text = source_text.replace("’", "'")
    return bool(_ACKNOWLEDGED_RE.match(text) and _CHANGE_RE.search(text))
