"""/v1/memories and /v1/search over HTTP: the contract, strict input, scopes, isolation."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from keys.models import SCOPE_READ
from keys.services import api_key_create
from memory.models import DeletionReceipt, Event, Fact
from tenants.models import Tenant
from tests.conftest import Api

pytestmark = pytest.mark.django_db


def _send(api: Api, method: str, path: str, body: object | None = None):  # -> response
    call = getattr(api.client, method)
    return call(
        path,
        json.dumps(body) if body is not None else None,
        content_type="application/json",
        headers=api._headers(None),
    )


def _add(api: Api, content: str = "The deploy window is Tuesday", **extra: object) -> dict:
    response = api.post("/v1/memories", {"user_id": "u1", "content": content, **extra})
    assert response.status_code == 201, response.content
    return response.json()


def test_add_get_list_search(api: Api) -> None:
    made = _add(
        api, kind="decision", rationale="quiet day", metadata={"ticket": 7}, conversation_id="c1"
    )
    assert (made["kind"], made["rationale"], made["metadata"], made["origin"]) == (
        "decision",
        "quiet day",
        {"ticket": 7},
        "explicit",
    )
    detail = api.get(f"/v1/memories/{made['id']}").json()
    assert (detail["supersedes"], detail["superseded_by"]) == ([], None)
    assert [s["event_id"] for s in detail["sources"]] == [made["source_event_id"]]
    listing = api.get("/v1/memories", user_id="u1").json()
    assert ([m["id"] for m in listing["memories"]], listing["next_cursor"]) == ([made["id"]], None)
    found = api.post("/v1/search", {"user_id": "u1", "query": "deploy window"}).json()["items"]
    assert made["id"] in [i["id"] for i in found if i["type"] == "fact"]


def test_correct_supersede_history_and_pages(api: Api) -> None:
    first = _add(api, "Budget is 10k")
    corrected = _send(api, "patch", f"/v1/memories/{first['id']}", {"content": "Budget is 12k"})
    assert corrected.status_code == 200
    second = corrected.json()
    replaced = api.post(f"/v1/memories/{second['id']}/supersede", {"content": "Budget is 15k"})
    assert replaced.status_code == 200
    third = replaced.json()
    middle = api.get(f"/v1/memories/{second['id']}").json()
    assert (middle["status"], middle["superseded_by"]["id"]) == ("superseded", third["id"])
    assert [m["id"] for m in middle["supersedes"]] == [first["id"]]
    page = api.get("/v1/memories", user_id="u1", status="all", limit="2").json()
    assert [m["id"] for m in page["memories"]] == [third["id"], second["id"]]
    rest = api.get(
        "/v1/memories", user_id="u1", status="all", limit="2", cursor=page["next_cursor"]
    ).json()
    assert ([m["id"] for m in rest["memories"]], rest["next_cursor"]) == ([first["id"]], None)


def test_delete_returns_a_receipt_and_the_chain_verifies(api: Api, tenant: Tenant) -> None:
    made = _add(api)
    api.post("/v1/forget", {"user_id": "u2"})  # a receipt before, so the chain has two
    response = _send(api, "delete", f"/v1/memories/{made['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["deleted_counts"]["facts"] == 1 and body["deleted_counts"]["events"] == 1
    receipt = api.get(f"/v1/deletion-receipts/{body['receipt_id']}").json()
    assert (receipt["sequence"], receipt["scope"]["memory_id"]) == (2, made["id"])
    assert _send(api, "get", f"/v1/memories/{made['id']}").status_code == 404
    call_command("verify_receipts", "--tenant", tenant.slug, stdout=StringIO())


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "u1", "content": "x", "colour": "red"},
        {"user_id": "u1", "content": 5},
        {"user_id": "u1", "content": "x", "kind": "opinion"},
        {"user_id": "u1", "content": "   "},
        {"user_id": "u1", "content": "x", "metadata": []},
        {"content": "x"},
    ],
)
def test_bad_add_is_400_and_stores_nothing(api: Api, body: dict) -> None:
    response = api.post("/v1/memories", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert Fact.objects.count() == 0 and Event.objects.count() == 0


def test_oversize_content_is_413(api: Api) -> None:
    assert api.post("/v1/memories", {"user_id": "u1", "content": "x" * 32_001}).status_code == 413
    assert Fact.objects.count() == 0


def test_bad_patch_supersede_and_list_change_nothing(api: Api) -> None:
    made = _add(api)
    assert (
        _send(
            api, "patch", f"/v1/memories/{made['id']}", {"content": "y", "kind": "note"}
        ).status_code
        == 400
    )
    assert (
        api.post(
            f"/v1/memories/{made['id']}/supersede", {"content": "y", "superseded_by": made["id"]}
        ).status_code
        == 400
    )
    assert api.post(f"/v1/memories/{made['id']}/supersede", {}).status_code == 400
    assert api.get("/v1/memories", user_id="u1", status="bogus").status_code == 400
    assert api.get("/v1/memories", user_id="u1", cursor="!!").status_code == 400
    assert api.post("/v1/search", {"user_id": "u1", "query": "x", "limit": 0}).status_code == 400
    assert Fact.objects.get().object_text == "The deploy window is Tuesday"
    assert Fact.objects.get().status == "current"


def test_scopes(api: Api, tenant: Tenant) -> None:
    made = _add(api)
    reader = Api(client=api.client, raw_key=api_key_create(tenant=tenant, scopes=[SCOPE_READ])[1])
    assert reader.post("/v1/memories", {"user_id": "u1", "content": "x"}).status_code == 403
    assert _send(reader, "patch", f"/v1/memories/{made['id']}", {"content": "y"}).status_code == 403
    assert reader.post(f"/v1/memories/{made['id']}/supersede", {"content": "y"}).status_code == 403
    assert _send(reader, "delete", f"/v1/memories/{made['id']}").status_code == 403
    assert reader.get(f"/v1/memories/{made['id']}").status_code == 200
    assert Fact.objects.count() == 1 and DeletionReceipt.objects.count() == 0
    assert Api(client=api.client, raw_key=None).get("/v1/memories", user_id="u1").status_code == 401


def test_other_tenant_gets_404_like_a_missing_id(api: Api, other_api: Api) -> None:
    made = _add(api)
    missing = "00000000-0000-4000-8000-000000000000"
    for memory_id in (made["id"], missing):
        answers = [
            _send(other_api, "get", f"/v1/memories/{memory_id}"),
            _send(other_api, "patch", f"/v1/memories/{memory_id}", {"content": "y"}),
            other_api.post(f"/v1/memories/{memory_id}/supersede", {"content": "y"}),
            _send(other_api, "delete", f"/v1/memories/{memory_id}"),
        ]
        assert [a.status_code for a in answers] == [404] * 4
        assert {a.json()["error"]["message"] for a in answers} == {"No such memory."}
    assert other_api.get("/v1/memories", user_id="u1").json() == {
        "memories": [],
        "next_cursor": None,
    }
    assert other_api.post("/v1/search", {"user_id": "u1", "query": "deploy window"}).json() == {
        "items": []
    }
    assert Fact.objects.get().status == "current" and DeletionReceipt.objects.count() == 0
