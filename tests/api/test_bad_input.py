"""Bad input that used to escape as a 500 (issue #12 item 7): each is a 4xx in the envelope
and stores nothing, through every URL that takes it."""

from __future__ import annotations

from typing import Any

import pytest

from memory.models import DeletionReceipt, Event
from tests.conftest import Api

pytestmark = pytest.mark.django_db

# A local time whose offset pushes it past the calendar once converted to UTC.
PAST_THE_CALENDAR = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]
# Unix seconds the contract does not accept (API.md §1: ISO-8601 or Unix seconds, 1970–9999).
NOT_A_TIME = [*PAST_THE_CALENDAR, -1, -0.5, 253402300800, 1e300]

EVENT = {
    "user_id": "u1",
    "type": "message",
    "content": "I live in Lisbon.",
    "conversation_id": "c1",
}


def _assert_invalid(response: Any, field: str | None = None) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["request_id"] == response["X-Request-ID"]
    if field is not None:
        assert list(error["details"]["fields"]) == [field]


def test_json_nested_100000_deep_is_a_400(api: Api) -> None:
    body = '{"user_id": "u1", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for path in ("/v1/ingest", "/v6/ingest", "/v1/ingest/batch", "/v6/recall", "/v1/forget"):
        response = api.post(path, body)
        _assert_invalid(response)
        assert response.json()["error"]["message"] == "JSON nesting deeper than 32 levels."
    assert Event.objects.count() == 0
    assert DeletionReceipt.objects.count() == 0


@pytest.mark.parametrize("path", ["/v1/ingest", "/v6/ingest"])
@pytest.mark.parametrize("event_time", NOT_A_TIME)
def test_event_time_outside_the_calendar_is_a_400(api: Api, path: str, event_time: object) -> None:
    _assert_invalid(api.post(path, {**EVENT, "event_time": event_time}), "event_time")
    assert Event.objects.count() == 0


@pytest.mark.parametrize("event_time", NOT_A_TIME)
def test_a_batch_item_with_a_bad_event_time_fails_alone(api: Api, event_time: object) -> None:
    response = api.post(
        "/v1/ingest/batch",
        {"events": [{**EVENT, "event_time": event_time}, {**EVENT, "content": "I like tea."}]},
    )
    assert response.status_code == 200
    bad, good = response.json()["results"]
    assert bad["error"]["code"] == "invalid_request"
    assert list(bad["error"]["details"]["fields"]) == ["event_time"]
    assert [str(i) for i in Event.objects.values_list("id", flat=True)] == [good["event_id"]]


@pytest.mark.parametrize("value", PAST_THE_CALENDAR)
def test_reference_time_outside_the_calendar_is_a_400(api: Api, value: str) -> None:
    response = api.post("/v6/recall", {"user_id": "u1", "query": "where?", "reference_time": value})
    _assert_invalid(response, "reference_time")


@pytest.mark.parametrize("path", ["/v1/forget", "/v6/forget", "/v2/forget"])
@pytest.mark.parametrize("field", ["from_time", "to_time"])
@pytest.mark.parametrize("value", PAST_THE_CALENDAR)
def test_forget_window_outside_the_calendar_is_a_400(
    api: Api, path: str, field: str, value: str
) -> None:
    api.post("/v6/ingest", EVENT)
    _assert_invalid(api.post(path, {"user_id": "u1", field: value}), field)
    assert DeletionReceipt.objects.count() == 0
    assert Event.objects.filter(forgotten_at__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("event_time", "stored"),
    [
        (0, "1970-01-01T00:00:00+00:00"),
        (253402300799, "9999-12-31T23:59:59+00:00"),
        ("9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59+00:00"),
        ("0001-01-02T00:00:00+23:59", "0001-01-01T00:01:00+00:00"),
    ],
)
def test_the_edges_of_the_calendar_are_still_accepted(
    api: Api, event_time: object, stored: str
) -> None:
    response = api.post("/v6/ingest", {**EVENT, "event_time": event_time})
    assert response.status_code == 200, response.content
    detail = api.get(f"/v1/events/{response.json()['event_id']}").json()
    assert detail["event_time"] == stored
