"""The explicit-memory tools (memory_add, memory_correct, memory_search, memory_list_recent,
memory_record_decision) over Streamable HTTP and stdio. They use memory.memories and the
/v1/memories and /v1/search endpoints, built in a parallel branch: skipped until it lands."""

from __future__ import annotations

import pytest

memories = pytest.importorskip("memory.memories")

from keys.models import ApiKey  # noqa: E402
from keys.services import api_key_create  # noqa: E402
from memory.models import Fact  # noqa: E402
from tenants.models import Tenant  # noqa: E402
from tests.claiv.test_server import Server  # noqa: E402
from tests.mcp.conftest import mcp_call  # noqa: E402
from tests.mcp.test_mcp_stdio import _stdio_calls  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def raw_key(api_key: tuple[ApiKey, str]) -> str:
    return api_key[1]


def _ids(items: list[dict]) -> list[str]:
    return [str(item["id"]) for item in items]


def test_an_added_memory_is_recallable_at_once(
    mcp_server: Server, raw_key: str, tenant: Tenant
) -> None:
    added = mcp_call(
        mcp_server, raw_key, "memory_add", user_id="u1", content="The user prefers green tea."
    )
    assert added.is_error is False
    fact = Fact.objects.get(tenant=tenant, id=added.body["id"])
    assert added.body["id"] == str(fact.id)
    assert added.body["kind"] == "note"

    search = mcp_call(mcp_server, raw_key, "memory_search", user_id="u1", query="green tea")
    assert search.is_error is False
    assert _ids(search.body["results"])[0] == str(fact.id)
    recent = mcp_call(mcp_server, raw_key, "memory_list_recent", user_id="u1")
    assert _ids(recent.body["memories"]) == [str(fact.id)]
    recall = mcp_call(
        mcp_server, raw_key, "memory_recall", user_id="u1", query="What does the user drink?"
    )
    assert "green tea" in recall.body["context"]


def test_a_correction_supersedes_and_keeps_history(
    mcp_server: Server, raw_key: str, tenant: Tenant
) -> None:
    old = mcp_call(
        mcp_server, raw_key, "memory_add", user_id="u1", content="The user lives in Lisbon."
    ).body
    new = mcp_call(
        mcp_server,
        raw_key,
        "memory_correct",
        memory_id=old["id"],
        content="The user lives in Porto.",
    )
    assert new.is_error is False
    assert new.body["id"] != old["id"]
    recent = mcp_call(mcp_server, raw_key, "memory_list_recent", user_id="u1")
    assert _ids(recent.body["memories"]) == [new.body["id"]]
    superseded, _cursor = memories.memory_list(tenant=tenant, user_id="u1", status="superseded")
    assert [str(f.id) for f in superseded] == [old["id"]]


def test_a_decision_is_recorded_with_its_rationale(
    mcp_server: Server, raw_key: str, tenant: Tenant
) -> None:
    answer = mcp_call(
        mcp_server,
        raw_key,
        "memory_record_decision",
        user_id="u1",
        content="Use PostgreSQL for the event store.",
        rationale="pgvector keeps embeddings next to the rows.",
    )
    assert answer.is_error is False
    assert answer.body["kind"] == "decision"
    search = mcp_call(
        mcp_server, raw_key, "memory_search", user_id="u1", query="event store database"
    )
    assert [(r["id"], r["kind"]) for r in search.body["results"]][:1] == [
        (answer.body["id"], "decision")
    ]


def test_another_tenant_sees_and_changes_nothing(
    mcp_server: Server, raw_key: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    added = mcp_call(
        mcp_server, raw_key, "memory_add", user_id="u1", content="The user prefers green tea."
    ).body
    other = api_key_create(tenant=other_tenant, name="other")[1]
    assert (
        mcp_call(mcp_server, other, "memory_search", user_id="u1", query="green tea").body[
            "results"
        ]
        == []
    )
    assert mcp_call(mcp_server, other, "memory_list_recent", user_id="u1").body["memories"] == []
    correct = mcp_call(
        mcp_server,
        other,
        "memory_correct",
        memory_id=added["id"],
        content="The user prefers coffee.",
    )
    assert (correct.is_error, correct.body["error"]["code"]) == (True, "not_found")
    assert Fact.objects.filter(tenant=tenant).count() == 1
    assert Fact.objects.filter(tenant=other_tenant).count() == 0


def test_a_read_only_key_cannot_write_memories(mcp_server: Server, tenant: Tenant) -> None:
    read_only = api_key_create(tenant=tenant, name="ro", scopes=["memory:read"])[1]
    for name, args in [
        ("memory_add", {"user_id": "u1", "content": "x"}),
        ("memory_record_decision", {"user_id": "u1", "content": "x", "rationale": "y"}),
    ]:
        answer = mcp_call(mcp_server, read_only, name, **args)
        assert answer.is_error is True
        assert answer.body["error"]["details"] == {"required_scope": "memory:write"}
    assert Fact.objects.filter(tenant=tenant).count() == 0


def test_memories_over_stdio(mcp_server: Server, raw_key: str, tenant: Tenant) -> None:
    [(e1, added), (e2, recent), (e3, search)] = _stdio_calls(
        mcp_server,
        raw_key,
        [
            ("memory_add", {"user_id": "u1", "content": "The user prefers green tea."}),
            ("memory_list_recent", {"user_id": "u1"}),
            ("memory_search", {"user_id": "u1", "query": "green tea"}),
        ],
    )
    assert (e1, e2, e3) == (False, False, False)
    assert Fact.objects.filter(tenant=tenant, id=added["id"]).count() == 1
    assert _ids(recent["memories"]) == [added["id"]]
    assert _ids(search["results"])[0] == added["id"]
    [(e4, corrected)] = _stdio_calls(
        mcp_server,
        raw_key,
        [("memory_correct", {"memory_id": added["id"], "content": "The user prefers coffee."})],
    )
    assert e4 is False
    assert corrected["id"] != added["id"]
