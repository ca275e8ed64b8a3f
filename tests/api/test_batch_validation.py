"""A batch validates its items with one reused serializer (`claiv.api.ItemValidator`): the
same results and the same error envelopes as validating each item on its own."""

from __future__ import annotations

from typing import Any

import pytest

from claiv.api import ItemValidator, validated
from claiv.errors import exception_envelope
from memory.api.serializers import IngestSerializer

GOOD = {"user_id": "u1", "type": "message", "role": "user", "content": "I live in Berlin."}
ITEMS: list[Any] = [
    GOOD,
    {**GOOD, "event_time": "2026-01-02T03:04:05Z", "metadata": {"k": "v"}},
    {**GOOD, "event_time": 1767323045},
    None,
    "not an object",
    [GOOD],
    {**GOOD, "surprise": 1},
    {k: v for k, v in GOOD.items() if k != "user_id"},
    {**GOOD, "content": ""},
    {**GOOD, "content": 42},
    {**GOOD, "type": "nonsense"},
    {**GOOD, "event_time": "yesterday-ish"},
    {**GOOD, "metadata": "not a dict"},
    {},
]


def _outcome(validate: Any, item: Any) -> Any:
    try:
        return ("ok", validate(item))
    except Exception as exc:  # noqa: BLE001 - compared as the client would see them
        return ("error", exception_envelope(exc, "req-1")[:2])


@pytest.mark.parametrize("index", range(len(ITEMS)))
def test_reused_validator_matches_one_serializer_per_item(index: int) -> None:
    item_validated = ItemValidator(IngestSerializer)
    for item in ITEMS[: index + 1]:  # earlier items must leave no trace in the reused one
        expected = _outcome(lambda data: validated(IngestSerializer, data), item)
        assert _outcome(item_validated, item) == expected
    assert {_outcome(item_validated, item)[0] for item in ITEMS} == {"ok", "error"}
