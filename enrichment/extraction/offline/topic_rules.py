"""Verb-phrase rules for everyday life admin: health, appointments and schedule, plans
and accounts, teams one supports. They come before the general rule table (`rules`),
whose verbs ("have", "take", "moved to") would otherwise read them as something else."""

from __future__ import annotations

import re

from enrichment.extraction.offline.clause import _Clause, _Found
from enrichment.extraction.offline.handlers import _O, Handler, _fixed
from enrichment.extraction.offline.words import (
    _CARERS,
    _CONDITION_ADJECTIVES,
    _CONDITION_RE,
    _LANGUAGES,
)

_LANGUAGE_ALT = "|".join(sorted(_LANGUAGES, key=len, reverse=True))

_PARTICIPLES = {"tore": "torn", "broke": "broken", "blew out": "blown", "hurt": "hurt"}


def _injury(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "I tore my ACL skiing": the condition is the torn ACL."""
    verb = match.group("verb").lower()
    part = _PARTICIPLES.get(verb, verb)
    return [
        _Found("health_condition", verb, f"{part} {match.group('obj')}", negated=clause.negated)
    ]


def _condition(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "struggle with insomnia": a condition only when the object names one."""
    obj = match.group("obj")
    if not _CONDITION_RE.search(obj):
        return []
    return [_Found("health_condition", "struggle with", obj, negated=clause.negated)]


def _account(match: re.Match[str], clause: _Clause) -> list[_Found]:
    """ "signed up for the trial", "cancelled my premium subscription": the event as said."""
    phrase = f"{match.group('verb')} {match.group('obj')}"
    return [_Found("account_event", match.group("verb").lower(), phrase, negated=clause.negated)]


_PLAN_NOUN = r"(?:plan|tier|subscription|membership|package|edition|license|licence)"

TOPIC_RULES: tuple[tuple[re.Pattern[str], Handler], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), handler)
    for pattern, handler in (
        # health
        (
            rf"^(?:am|is|are|was|were|became|become)\s+(?:(?:\d+|\w+)\s+(?:weeks?|months?)\s+)?"
            rf"(?:(?:very|pretty|mildly|severely|type \d)\s+)?(?P<obj>{_CONDITION_ADJECTIVES})\b",
            _fixed("health_condition", "am"),
        ),
        (
            r"^(?P<verb>tore|broke|sprained|injured|hurt|pulled|dislocated|fractured|twisted|"
            r"blew out|strained|bruised|cracked|herniated)\s+(?:my|his|her|their|a)\s+"
            r"(?P<obj>(?:(?!\w+ing\b|in\b|on\b|at\b|while\b|during\b|last\b|playing\b)[\w-]+\s*){1,2})",
            _injury,
        ),
        (
            rf"^(?:struggle|struggles|struggled|struggling|deal|deals|dealt|dealing|live|lives|"
            rf"living|battle|battles|battling|battled|cope|coping|recovering|recovered|suffer|"
            rf"suffers|suffering)\s+(?:with|from)\s+{_O}",
            _condition,
        ),
        (rf"^(?:get|gets|keep getting)\s+{_O}", _condition),
        # appointments and schedule
        (
            rf"^(?:am\s+|is\s+|are\s+)?(?:seeing|visiting|going to see|going to|meeting)\s+"
            rf"(?:my|a|the|our|his|her)\s+(?:new\s+)?(?P<obj>{_CARERS})\b",
            _fixed("appointment", "seeing"),
        ),
        (
            r"^(?:booked|book|have booked|reserved|scheduled|made)\s+(?:a|an|my|our)\s+"
            r"(?P<obj>(?:[\w-]+\s+){0,2}(?:table|appointment|session|massage|haircut|slot|"
            r"consultation|checkup|check-up|reservation|cleaning|scan|fitting|lesson)"
            r"(?:\s+(?:at|with)\s+(?:(?-i:[A-Z])[\w.'&-]*\s*)+)?)",
            _fixed("appointment", "booked"),
        ),
        (
            r"^(?:am\s+)?(?:flying|taking a flight|catching a flight)\s+(?:out\s+|back\s+|home\s+)?"
            r"to\s+(?P<obj>(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])[\w.'-]*)*)",
            lambda m, c: [_Found("scheduled_event", "flying to", f"flight to {m.group('obj')}")],
        ),
        # plans and accounts
        (
            rf"^(?:am|are|is)\s+(?:still\s+|now\s+)?(?:on|using|subscribed to)\s+"
            rf"(?:the|a|an|our|my)\s+"
            rf"(?P<obj>(?:[\w-]+\s+){{1,2}}{_PLAN_NOUN}|(?:free|paid|pro|premium|basic|trial|"
            rf"student|family)\s+version)\b",
            _fixed("has_plan", "on"),
        ),
        (
            rf"^(?:upgraded|downgraded|switched|moved|changed|went|signed up|subscribed|"
            rf"upgrade|downgrade)\s+(?:back\s+)?(?:over\s+)?(?:to|for)\s+(?:the\s+|a\s+|an\s+)?"
            rf"(?P<obj>(?:[\w-]+\s+){{1,2}}{_PLAN_NOUN})\b",
            _fixed("has_plan", "upgraded to"),
        ),
        (
            r"^(?:upgraded|downgraded|upgrade|downgrade)\s+to\s+(?:the\s+)?"
            r"(?P<obj>(?-i:[A-Z])[\w+-]*(?:\s+(?-i:[A-Z])[\w+-]*)?)",
            _fixed("has_plan", "upgraded to"),
        ),
        (
            rf"^(?:pay|pays|paid|am paying|are paying)\s+(?:\w+ly\s+)?for\s+(?:the|a|an|our|my)\s+"
            rf"(?P<obj>(?:[\w-]+\s+){{1,2}}{_PLAN_NOUN})\b",
            _fixed("has_plan", "pay for"),
        ),
        (
            r"^(?P<verb>signed up|sign up|registered|register|cancelled|canceled|cancel|deleted|"
            r"closed|renewed|opened|created|deactivated|unsubscribed|paused|started|activated|"
            r"ended)\s+(?P<obj>(?:for\s+|to\s+|from\s+)?(?:a|an|the|my|our)\s+(?:[\w-]+\s+){0,2}"
            r"(?:trial|account|subscription|membership|newsletter|beta|waitlist|plan)\b)",
            _account,
        ),
        (
            r"^(?:am|have been|been|is|are)\s+(?P<obj>sober|teetotal|clean|smoke-free|"
            r"alcohol-free)\b",
            _fixed("routine", "am"),
        ),
        # work
        (
            # "run a small bakery", "opened a café": a business one owns.
            r"^(?:run|runs|own|owns|founded|co-founded|cofounded|have|has)\s+"
            r"(?:a|an|my|our|my own|our own|the family)\s+(?P<obj>(?:[\w-]+\s+){0,2}(?:bakery|"
            r"business|shop|store|restaurant|cafe|café|company|startup|firm|agency|salon|bar|"
            r"pub|studio|practice|clinic|farm|vineyard|winery|brewery|gym|bookshop|bookstore|"
            r"boutique|food truck|daycare|nursery|hotel|b&b|consultancy|garage|gallery)s?)\b",
            _fixed("owns", "run"),
        ),
        (
            # "sell insurance for State Farm", "write code for Shopify": the employer.
            r"^(?:sell|sells|write|writes|design|designs|code|codes|build|builds|manage|manages|"
            r"run|runs|lead|leads|answer|answers|handle|handles|do|does|clean|cleans|cook|cooks|"
            r"nurse|fly|flies|deliver|delivers|drive|drives)\s+"
            r"(?:[\w'-]+\s+){0,4}?(?:for|at)\s+(?P<obj>(?-i:[A-Z])[\w.'&-]*(?:\s+(?-i:[A-Z])"
            r"[\w.'&-]*)*)",
            _fixed("works_at", "work for"),
        ),
        (
            r"^(?:am\s+|is\s+|are\s+)?(?:now\s+)?(?:working|work|works|based)\s+(?:out\s+)?"
            r"(?:from|of)\s+(?:our|the|their|my)\s+(?P<obj>(?-i:[A-Z])[\w.'-]*(?:\s+(?-i:[A-Z])"
            r"[\w.'-]*)*\s+office)\b",
            _fixed("works_at", "work from"),
        ),
        (
            r"^(?:ride|rides|riding|drive|drives|driving)\s+(?:an?\s+|my\s+)(?:[\w-]+\s+){0,2}?"
            r"(?P<obj>(?-i:[A-Z])[\w-]*(?:\s+(?-i:[A-Z0-9])[\w-]*)*|(?:motorbike|motorcycle|"
            r"scooter|moped|bike|bicycle|e-bike|van|truck|pickup|minivan|car|suv|hybrid|ev)\b)",
            lambda m, c: [] if c.frequent else [_Found("vehicle", "ride", m.group("obj"))],
        ),
        (
            r"^(?:am|is)\s+(?P<obj>@[\w.-]+)\s+on\s+\w+",
            _fixed("social_handle", "am on"),
        ),
        (
            # "moved in with us in Dubai": lives there.
            r"^(?:moved|has moved|is moving)\s+in\s+with\s+(?:us|me|them|him|her|(?:my|our|his|her)"
            r"\s+[\w-]+)\s+(?:in|to)\s+(?P<obj>(?-i:[A-Z]).*)",
            _fixed("lives_in", "moved in with"),
        ),
        (
            # "took up pottery", "started Italian": a new pastime, or a language being learnt.
            rf"^(?:took up|take up|picked up|pick up|started|began|am starting)\s+"
            rf"(?P<obj>(?:{_LANGUAGE_ALT})\b(?:\s+(?:lessons|classes))?)",
            _fixed("learning", "started"),
        ),
        (
            r"^(?:took up|take up|have taken up|picked up)\s+(?P<obj>(?!the\b|a\b|my\b).+)",
            _fixed("hobby", "took up"),
        ),
        # teams
        (
            r"^(?:support|supports|root for|roots for|cheer for|cheers for|follow|follows)\s+"
            r"(?:the\s+)?(?P<obj>(?-i:[A-Z])[\w.'&-]*(?:\s+(?-i:[A-Z])[\w.'&-]*)*)",
            _fixed("favorite_sport", "support"),
        ),
    )
)
