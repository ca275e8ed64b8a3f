"""Time expressions resolved against a fixed event time (Monday 2023-05-08 13:56 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from memory.vocabulary.temporal import temporal_resolve

REFERENCE = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "raw", "granularity", "start", "end"),
    [
        (
            "I went to a support group yesterday.",
            "yesterday",
            "day",
            _utc(2023, 5, 7),
            _utc(2023, 5, 8),
        ),
        ("last week I ran a marathon", "last week", "week", _utc(2023, 5, 1), _utc(2023, 5, 8)),
        ("In May I went to Paris.", "In May", "month", _utc(2023, 5, 1), _utc(2023, 6, 1)),
        ("I went there in June.", "in June", "month", _utc(2022, 6, 1), _utc(2022, 7, 1)),
        (
            "My dentist appointment is next Friday.",
            "next Friday",
            "day",
            _utc(2023, 5, 12),
            _utc(2023, 5, 13),
        ),
        (
            "We moved here two years ago.",
            "two years ago",
            "year",
            _utc(2021, 1, 1),
            _utc(2022, 1, 1),
        ),
        (
            "I painted that lake sunrise last year!",
            "last year",
            "year",
            _utc(2022, 1, 1),
            _utc(2023, 1, 1),
        ),
        (
            "this morning I had coffee",
            "this morning",
            "hour",
            _utc(2023, 5, 8, 6),
            _utc(2023, 5, 8, 12),
        ),
        ("I met her on 8 May 2023.", "on 8 May 2023", "day", _utc(2023, 5, 8), _utc(2023, 5, 9)),
        ("in 2019 I graduated", "in 2019", "year", _utc(2019, 1, 1), _utc(2020, 1, 1)),
        (
            "The call is tomorrow at 5pm.",
            "tomorrow at 5pm",
            "hour",
            _utc(2023, 5, 9, 17),
            _utc(2023, 5, 9, 18),
        ),
        ("last weekend we went camping", "last weekend", "day", _utc(2023, 5, 6), _utc(2023, 5, 8)),
        ("a few days ago I saw her", "a few days ago", "day", _utc(2023, 5, 5), _utc(2023, 5, 6)),
        ("3 weeks ago", "3 weeks ago", "week", _utc(2023, 4, 17), _utc(2023, 4, 24)),
        ("next month", "next month", "month", _utc(2023, 6, 1), _utc(2023, 7, 1)),
        ("date='2024-05-03'", "2024-05-03", "day", _utc(2024, 5, 3), _utc(2024, 5, 4)),
    ],
)
def test_resolves(text: str, raw: str, granularity: str, start: datetime, end: datetime) -> None:
    (match,) = temporal_resolve(text, reference=REFERENCE)
    assert (match.raw_expression, match.granularity, match.ts_start, match.ts_end) == (
        raw,
        granularity,
        start,
        end,
    )
    assert match.ts_start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "I may go later now.",
        "Wait a second.",
        "We sat down and March forward.",
        "I've been vegan for 5 years.",
        "I'm 34 years old.",
        "I own a 2018 Toyota Corolla.",
        "We went to Sun Valley.",
        "Thanks, talk to you soon!",
        "on the 5th",
    ],
)
def test_false_positives_are_dropped(text: str) -> None:
    assert temporal_resolve(text, reference=REFERENCE) == []


def test_march_as_a_verb_does_not_hide_a_real_date() -> None:
    matches = temporal_resolve("We'll march in the parade this Saturday.", reference=REFERENCE)
    assert [(m.raw_expression, m.ts_start) for m in matches] == [
        ("this Saturday", _utc(2023, 5, 13))
    ]


def test_day_boundaries_follow_the_reference_offset() -> None:
    oslo = timezone(timedelta(hours=2))
    (match,) = temporal_resolve("yesterday", reference=datetime(2023, 5, 8, 1, 0, tzinfo=oslo))
    # Local 7 May 00:00-8 May 00:00 at +02:00, returned in UTC.
    assert (match.ts_start, match.ts_end) == (_utc(2023, 5, 6, 22), _utc(2023, 5, 7, 22))
    assert match.ts_start.tzinfo == UTC


def test_naive_reference_is_utc() -> None:
    (match,) = temporal_resolve("yesterday", reference=datetime(2023, 5, 8, 13, 56))
    assert match.ts_start == _utc(2023, 5, 7)


def test_several_expressions_in_text_order() -> None:
    matches = temporal_resolve(
        "I moved here two years ago and started the job last week.", reference=REFERENCE
    )
    assert [m.raw_expression for m in matches] == ["two years ago", "last week"]
