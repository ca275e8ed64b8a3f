"""Time expressions in a sentence, resolved to UTC ranges against the event time.

In this module: `temporal_resolve`, which finds "yesterday", "last week", "in May",
"next Friday", "two years ago", "8 May 2023"… and returns `TemporalMatch`es with a
half-open range [ts_start, ts_end) and a granularity.

The calendar arithmetic is dateparser's (`search.search_dates`); this module only adds
the glue dateparser lacks: a cheap pre-filter (most chat sentences carry no time words
and dateparser is the slow part), filtering of its false positives ("may", "now",
"a second", "sat", "we" as Wednesday, "March" as a verb, bare durations such as
"for 5 years"), weekends and "a few days ago", and widening a point in time to the
range its granularity implies.

Not in this module: time expressions in recall queries (the Recall channel reuses this
function), holidays ("last Christmas"), durations as facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from dateparser import parse as dateparser_parse
from dateparser.search import search_dates


@dataclass(frozen=True)
class TemporalMatch:
    """A time expression found in the text, resolved against the event time."""

    ts_start: datetime
    ts_end: datetime
    raw_expression: str
    granularity: str  # "hour" | "day" | "week" | "month" | "year"


_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_MONTHS_SHORT = "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_UNITS = r"(?:hours?|days?|weeks?|weekends?|months?|years?|minutes?)"
_NUMBER = (
    r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\s+few"
    r"|a\s+couple(?:\s+of)?|several)"
)

# Cheap test for "might contain a time expression". A sentence that fails it never
# reaches dateparser (~1 ms per call, ~150 ms for the very first one).
_PREFILTER_RE = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|noon|midnight|o'clock|weekend"
    rf"|{_WEEKDAYS}|(?:{_MONTHS})(?<!\bmay)(?<!\bmarch)|(?:{_MONTHS_SHORT})\.?\s+\d"
    r"|(?:in|of|since|until|by|last|next|this|early|late|mid|during|from)\s+(?:may|march)"
    r"|(?:may|march)\s+\d"
    r"|(?:last|next|this|past|coming|previous)\s+(?:week|month|year|morning|afternoon|evening|"
    r"night|spring|summer|fall|autumn|winter)"
    r"|(?:this|tomorrow|yesterday)\s+(?:morning|afternoon|evening)"
    r"|(?:last|next|this|on)\s+(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\b"
    rf"|in\s+{_NUMBER}\s+{_UNITS}"
    r"|(?:1[89]|20)\d\d|\d{1,2}(?:st|nd|rd|th)|\d{1,2}[:/.-]\d{1,2}|\d{1,2}\s?(?:am|pm))\b",
    re.IGNORECASE,
)

# Our own glue for what dateparser does not parse; rewritten into a phrase it does.
_WEEKEND_RE = re.compile(r"\b(?:(this|last|next|past|the)\s+)?weekend\b", re.IGNORECASE)
_VAGUE_AGO_RE = re.compile(
    rf"\b(a\s+few|a\s+couple(?:\s+of)?|several)\s+({_UNITS})\s+ago\b", re.IGNORECASE
)

# Words dateparser reads as dates but people mostly do not mean as dates.
_AMBIGUOUS_ALONE: frozenset[str] = frozenset(
    {
        "now",
        "second",
        "a second",
        "sat",
        "sun",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "we",
        "today's",
        "may",
        "march",
        "the",
        "a",
        "an",
        "min",
        "sec",
        "mar",
    }
)
# A match must contain at least one of these to be believed.
_STRONG_RE = re.compile(
    rf"\b(?:yesterday|today|tonight|tomorrow|ago|noon|midnight|o'clock|{_WEEKDAYS}|{_MONTHS}"
    rf"|(?:{_MONTHS_SHORT})\.?\s*\d|(?:last|next|this|past|coming|previous)\s+\w+"
    r"|morning|afternoon|evening|night|in\s+\S+\s+(?:hours?|days?|weeks?|months?|years?|minutes?)"
    r"|(?:1[89]|20)\d\d|\d{1,2}[:/.-]\d{1,2}|\d{1,2}\s?(?:am|pm)|\d{1,2}(?:st|nd|rd|th))\b",
    re.IGNORECASE,
)
_BARE_DURATION_RE = re.compile(rf"^(?:for\s+)?{_NUMBER}\s+{_UNITS}$", re.IGNORECASE)
_BARE_ORDINAL_RE = re.compile(r"^(?:on\s+)?(?:the\s+)?\d{1,2}(?:st|nd|rd|th)$", re.IGNORECASE)
_BARE_YEAR_RE = re.compile(r"^(?:1[89]|20)\d\d$")
_YEAR_CONTEXT_RE = re.compile(
    r"\b(?:in|since|from|by|until|till|of|during|before|after|around|circa|back in|early|late|mid|"
    r"year|summer|winter|spring|fall|autumn)\s+$",
    re.IGNORECASE,
)
_MAY_MARCH_RE = re.compile(r"\b(may|march)\b", re.IGNORECASE)
_MONTH_CONTEXT_RE = re.compile(
    r"(?:\b(?:in|of|since|until|by|last|next|this|early|late|mid|during|from|every)\s+$)",
    re.IGNORECASE,
)
_EDGE_WORDS_RE = re.compile(
    r"^(?:and|or|but|the|so|then|at)\s+|^an?\s+(?=\d)|\s+(?:and|or|but|the|so|then|at|on|in)$",
    re.IGNORECASE,
)

# Which way an ambiguous "Friday" / "in June" should lean.
_FUTURE_RE = re.compile(
    r"\b(?:will|'ll|going to|gonna|next|tomorrow|upcoming|coming|plan(?:ning)?|scheduled"
    r"|appointment|meeting|due|deadline|reservation|booked|flight|later|tonight|"
    r"in\s+\S+\s+(?:days?|weeks?|months?))\b",
    re.IGNORECASE,
)

_HOUR_RE = re.compile(
    r"\d\s?(?:am|pm)\b|\d:\d\d|o'clock|noon|midnight|\bhours?\b|\bminutes?\b", re.IGNORECASE
)
_PART_OF_DAY: dict[str, tuple[int, int]] = {
    "morning": (6, 12),
    "afternoon": (12, 18),
    "evening": (18, 24),
    "night": (18, 24),
    "tonight": (18, 24),
}
_PART_RE = re.compile(r"\b(morning|afternoon|evening|night|tonight)\b", re.IGNORECASE)
_YEAR_ONLY_RE = re.compile(
    r"^(?:in\s+|since\s+|of\s+|by\s+|until\s+|from\s+)?(?:1[89]|20)\d\d$", re.IGNORECASE
)
_DAY_NUMBER_RE = re.compile(
    r"\b\d{1,2}(?:st|nd|rd|th)?\b(?!\s*(?:am|pm|:))|\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2}", re.IGNORECASE
)
_MONTH_RE = re.compile(rf"\b(?:{_MONTHS}|(?:{_MONTHS_SHORT})\b)", re.IGNORECASE)
_WEEKDAY_RE = re.compile(rf"\b(?:{_WEEKDAYS}|today|tomorrow|yesterday|tonight)\b", re.IGNORECASE)


def _settings(reference: datetime, *, prefer: str) -> dict[str, Any]:
    offset = reference.utcoffset() or timedelta(0)
    if offset:
        total = int(offset.total_seconds() // 60)
        sign = "+" if total >= 0 else "-"
        tz_name = f"{sign}{abs(total) // 60:02d}{abs(total) % 60:02d}"
    else:
        tz_name = "UTC"
    return {
        "RELATIVE_BASE": reference.replace(tzinfo=None),
        "PREFER_DATES_FROM": prefer,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": tz_name,
    }


def _granularity(expression: str) -> str:
    lowered = expression.lower()
    if "week" in lowered and "weekend" not in lowered:
        return "week"
    if _HOUR_RE.search(lowered) or _PART_RE.search(lowered):
        return "hour"
    if "year" in lowered or _YEAR_ONLY_RE.match(lowered.strip()):
        return "year"
    if "month" in lowered:
        return "month"
    if (
        _MONTH_RE.search(lowered)
        and not _DAY_NUMBER_RE.search(_MONTH_RE.sub(" ", lowered))
        and not _WEEKDAY_RE.search(lowered)
    ):
        return "month"
    return "day"


def _widen(moment: datetime, *, granularity: str, expression: str) -> tuple[datetime, datetime]:
    """The [start, end) range a point in time stands for, in its own wall-clock time."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "hour":
        part = _PART_RE.search(expression)
        if part and not re.search(r"\d", expression):
            first, last = _PART_OF_DAY[part.group(1).lower()]
            return midnight + timedelta(hours=first), midnight + timedelta(hours=last)
        start = moment.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if granularity == "day":
        return midnight, midnight + timedelta(days=1)
    if granularity == "week":
        monday = midnight - timedelta(days=midnight.weekday())
        return monday, monday + timedelta(days=7)
    if granularity == "month":
        first = midnight.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following
    first = midnight.replace(month=1, day=1)
    return first, first.replace(year=first.year + 1)


def _to_utc(moment: datetime, fallback: tzinfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=fallback)
    return moment.astimezone(UTC)


def _believable(expression: str, *, text: str, start: int) -> bool:
    """Reject dateparser's false positives (see the module docstring)."""
    lowered = expression.lower().strip()
    if lowered in _AMBIGUOUS_ALONE or not _STRONG_RE.search(lowered):
        return False
    if _BARE_DURATION_RE.match(lowered) or _BARE_ORDINAL_RE.match(lowered):
        return False
    # A bare year is a date only after a preposition ("in 2019", "since 2019"); "a 2018
    # Toyota" or "2000 photos" are not.
    if _BARE_YEAR_RE.match(lowered) and not _YEAR_CONTEXT_RE.search(text[:start]):
        return False
    # "for three years" is a duration, not "three years ago".
    if re.search(r"\bfor\s+$", text[:start], re.IGNORECASE) and "ago" not in lowered:
        return False
    month = _MAY_MARCH_RE.search(expression)
    if (
        month
        and not re.search(r"\d", expression)
        and not _STRONG_RE.search(_MAY_MARCH_RE.sub(" ", lowered))
    ):
        # "May"/"March" with no number: only believed after a preposition ("in May",
        # "since March"), never as a modal or verb ("I may", "we march").
        before = text[:start] + expression[: month.start()]
        if not _MONTH_CONTEXT_RE.search(before):
            return False
        if month.group(1)[0].islower() and not before.strip():
            return False
    return True


def _trim(expression: str, start: int) -> tuple[str, int]:
    while True:
        match = _EDGE_WORDS_RE.search(expression)
        if not match:
            return expression, start
        if match.start() == 0:
            start += match.end()
            expression = expression[match.end() :]
        else:
            expression = expression[: match.start()]


_PUNCT_RE = re.compile(r"[\"=_{}\[\]]|(?<![A-Za-z])'|'(?![A-Za-z])")


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def temporal_resolve(text: str, *, reference: datetime) -> list[TemporalMatch]:
    """Time expressions in `text`, resolved against `reference`, in text order.

    Each match is a half-open UTC range [ts_start, ts_end): "yesterday" is that whole
    day, "last week" the Monday-to-Monday week before the reference's week, "in May"
    the month (the nearest May in the past unless the sentence speaks of the future),
    "two years ago" that calendar year. A naive `reference` is taken as UTC; day
    boundaries are computed in the reference's own offset.
    """
    if not _PREFILTER_RE.search(text) and not _WEEKEND_RE.search(text):
        return []
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    local_tz: tzinfo = timezone(reference.utcoffset() or timedelta(0))
    prefer = "future" if _FUTURE_RE.search(text) else "past"
    settings = _settings(reference, prefer=prefer)

    found: list[tuple[int, TemporalMatch]] = []
    glued: list[tuple[int, int]] = []

    for match in _WEEKEND_RE.finditer(text):
        which = (match.group(1) or "this").lower()
        ref_day = reference.replace(hour=0, minute=0, second=0, microsecond=0)
        saturday = ref_day + timedelta(days=(5 - ref_day.weekday()) % 7)
        if which in ("last", "past") or (
            which in ("the", "this") and prefer == "past" and saturday > ref_day
        ):
            # On a Monday "last weekend" / "the weekend" (past tense) is the one just gone.
            saturday -= timedelta(days=7)
        elif which == "next" and prefer == "future" and saturday - ref_day < timedelta(days=2):
            saturday += timedelta(days=7)
        start = saturday
        found.append(
            (
                match.start(),
                TemporalMatch(
                    _to_utc(start, local_tz),
                    _to_utc(start + timedelta(days=2), local_tz),
                    match.group(0),
                    "day",
                ),
            )
        )
        glued.append(match.span())

    for match in _VAGUE_AGO_RE.finditer(text):
        amount = "2" if "couple" in match.group(1).lower() else "3"
        moment = dateparser_parse(
            f"{amount} {match.group(2)} ago", languages=["en"], settings=settings
        )
        if moment is not None:
            granularity = _granularity(match.group(2))
            start, end = _widen(moment, granularity=granularity, expression=match.group(0))
            found.append(
                (
                    match.start(),
                    TemporalMatch(
                        _to_utc(start, local_tz),
                        _to_utc(end, local_tz),
                        match.group(0),
                        granularity,
                    ),
                )
            )
            glued.append(match.span())

    # dateparser does not see through quotes and '=' (tool-call arguments); spaces keep
    # the offsets of the masked copy equal to those of `text`.
    searchable = _PUNCT_RE.sub(" ", _mask(text, glued))
    results = search_dates(searchable, languages=["en"], settings=settings) or []
    cursor = 0
    for raw, moment in results:
        position = searchable.find(raw, cursor)
        if position < 0:
            continue
        cursor = position + len(raw)
        expression, position = _trim(text[position : position + len(raw)], position)
        if not expression or not _believable(expression, text=text, start=position):
            continue
        granularity = _granularity(expression)
        start, end = _widen(moment, granularity=granularity, expression=expression)
        found.append(
            (
                position,
                TemporalMatch(
                    _to_utc(start, local_tz), _to_utc(end, local_tz), expression, granularity
                ),
            )
        )

    found.sort(key=lambda row: row[0])
    return [match for _, match in found]
