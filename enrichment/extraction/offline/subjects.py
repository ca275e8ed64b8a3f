"""Who a clause is about: pronoun, name and report-frame patterns."""

from __future__ import annotations

import re

_FIRST_PERSON_RE = re.compile(r"^(?P<pronoun>i|we|me and \w+|\w+ and i)\b\s*", re.IGNORECASE)
_SECOND_PERSON_RE = re.compile(r"^(?P<pronoun>you)\b\s*", re.IGNORECASE)
_THIRD_PRONOUN_RE = re.compile(r"^(?P<pronoun>he|she|they)\b\s*", re.IGNORECASE)
_NAME_SUBJECT_RE = re.compile(
    r"^(?P<name>[A-Z][a-z][\w-]*(?<!ing)(?:\s+[A-Z][a-z][\w-]*)?)\s+"
    r"(?=(?:is|was|has|had|lives|lived|works|worked|moved|loves|loved|likes|liked|enjoys|went|"
    r"goes|studies|"
    r"studied|got|gets|just|also|recently|finally|still|started|plays|played|speaks|owns|bought|"
    r"adopted|visited|"
    r"graduated|married|hates|prefers|wants|plans|teaches|taught|runs|ran|won|became|joined|left|"
    r"quit|drives|"
    r"uses|met|grew|turned|turns|attended|does|did)\b)"
)
_REPORT_FRAME_RE = re.compile(
    r"^(?:(?:so|ok|okay|got it|noted|understood|great|sure|right|perfect|thanks)\b[,:.!]?\s*)*"
    r"(?:(?:since|because|as|given that|now that)\s+"
    r"|(?:you(?:'ve)?\s+(?:mentioned|said|told me|noted|shared|indicated|explained|"
    r"stated)(?:\s+(?:earlier|before|previously))?(?:\s+that)?\s+)"
    r"|(?:as\s+you\s+(?:mentioned|said|noted)(?:\s+(?:earlier|before))?,?\s+)"
    r"|(?:i\s+(?:remember|recall|noted|understand|see|know)\s+(?:that\s+)?)(?=you\b)"
    r")*",
    re.IGNORECASE,
)
_IMPLICIT_START_RE = re.compile(
    r"^(?:just\s+|finally\s+|recently\s+)?(?=(?:went|visited|met|finished|started|bought|moved|"
    r"got|joined|"
    r"adopted|attended|painted|took|made|won|ran|graduated|signed|opened|loved|love|going to|"
    r"planning to)\b)",
    re.IGNORECASE,
)
