"""memory.ingest: a batch is one transaction with the rules of one-by-one ingest; the single
event's one-statement fast path against its ORM twin; one publish per batch."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claiv.errors import Conflict
from enrichment import workflows
from enrichment.services import events_ingest_and_enqueue
from memory.ingest import IngestResult, event_ingest, event_ingest_orm, events_ingest
from memory.models import Event, UserMemoryVersion
from memory.versioning import VERSION_SEQUENCE
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _item(content: str, **fields: Any) -> dict[str, Any]:
    return {"user_id": "u1", "type": "message", "role": "user", "content": content} | fields


def _versions_handed_out() -> int:
    """The version sequence's position: versions come from one sequence
    (memory.versioning), so the bumps a call made are the difference of two readings."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {VERSION_SEQUENCE}")
        return int(cursor.fetchone()[0])


def _version(tenant: Tenant, user_id: str) -> int:
    row = UserMemoryVersion.objects.filter(tenant=tenant, user_id=user_id).first()
    return row.version if row else 0


def test_batch_repeats_within_itself_and_of_stored_events_as_one_by_one(tenant: Tenant) -> None:
    stored_before = event_ingest(tenant=tenant, **_item("stored", idempotency_key="k0")).event
    results = events_ingest(
        tenant=tenant,
        items=[
            _item("A", idempotency_key="k1"),  # 0 new
            _item("A", idempotency_key="k1"),  # 1 repeat of 0
            _item("B", idempotency_key="k1"),  # 2 conflict with 0
            _item("C"),  # 3 new
            _item("C"),  # 4 retry of 3
            _item("A"),  # 5 same body as 0 within 60 s: retry of 0
            _item("stored", idempotency_key="k0"),  # 6 repeat of an event stored before
            _item("other", idempotency_key="k0"),  # 7 conflict with it
            _item("C", user_id="u2"),  # 8 new (another user's body)
        ],
    )
    events = {e.content + e.user_id: e for e in Event.objects.filter(tenant=tenant)}
    assert set(events) == {"storedu1", "Au1", "Cu1", "Cu2"}
    a, c = str(events["Au1"].id), str(events["Cu1"].id)

    def summary(r: IngestResult | Exception) -> tuple[str, str, bool | None]:
        if isinstance(r, Conflict):
            return ("conflict", r.details["event_id"], None)
        assert isinstance(r, IngestResult)
        return ("ok", str(r.event.id), r.deduped)

    assert [summary(r) for r in results] == [
        ("ok", a, False),
        ("ok", a, True),
        ("conflict", a, None),
        ("ok", c, False),
        ("ok", c, True),
        ("ok", a, True),
        ("ok", str(stored_before.id), True),
        ("conflict", str(stored_before.id), None),
        ("ok", str(events["Cu2"].id), False),
    ]
    # The deduped results carry the stored row itself.
    assert isinstance(results[6], IngestResult)
    assert results[6].event.content == "stored"


def test_batch_bumps_each_users_version_once_and_a_batch_of_repeats_not_at_all(
    tenant: Tenant,
) -> None:
    before = _versions_handed_out()
    events_ingest(
        tenant=tenant,
        items=[
            _item("a"),
            _item("b"),
            _item("c"),
            _item("d", user_id="u2"),
            _item("e", user_id="u2"),
        ],
    )
    assert _versions_handed_out() - before == 2
    versions = (_version(tenant, "u1"), _version(tenant, "u2"))
    assert min(versions) > before
    events_ingest(tenant=tenant, items=[_item("a"), _item("d", user_id="u2")])
    assert (_version(tenant, "u1"), _version(tenant, "u2")) == versions
    assert _versions_handed_out() - before == 2
    assert Event.objects.filter(tenant=tenant).count() == 5


def test_batch_is_one_transaction_of_a_fixed_number_of_statements(tenant: Tenant) -> None:
    items = [_item(f"m{i}", user_id=f"u{i % 3}") for i in range(50)]
    with CaptureQueriesContext(connection) as queries:
        events_ingest(tenant=tenant, items=items)
    sql = [q["sql"] for q in queries.captured_queries]
    # savepoint (the test's outer transaction), locks, duplicate check, INSERT, bump, release
    assert len(sql) == 6, sql
    assert Event.objects.filter(tenant=tenant).count() == 50


def test_an_item_postgres_refuses_fails_alone_and_the_others_are_stored(tenant: Tenant) -> None:
    before = _versions_handed_out()
    results = events_ingest(
        tenant=tenant, items=[_item("fine 1"), _item("nul \x00 byte"), _item("fine 2")]
    )
    assert [type(r).__name__ for r in results] == ["IngestResult", "DataError", "IngestResult"]
    assert sorted(Event.objects.filter(tenant=tenant).values_list("content", flat=True)) == [
        "fine 1",
        "fine 2",
    ]
    assert _versions_handed_out() - before == 2  # each good item in its own transaction


def test_single_event_fast_path_matches_its_orm_twin(tenant: Tenant, other_tenant: Tenant) -> None:
    calls = [
        _item("x", idempotency_key="k"),
        _item("x", idempotency_key="k"),
        _item("y", idempotency_key="k"),
        _item("x"),
        _item("z"),
        _item("z"),
        _item("z", user_id="u2", metadata={"a": [1]}, scope="project", project_id="p"),
    ]

    def run(ingest: Any, t: Tenant) -> list[tuple[Any, ...]]:
        outcomes: list[tuple[Any, ...]] = []
        for call in calls:
            try:
                r = ingest(tenant=t, **call)
            except Conflict as exc:
                outcomes.append(("conflict", Event.objects.get(pk=exc.details["event_id"]).content))
            else:
                outcomes.append((r.event.content, r.event.user_id, r.deduped))
        return outcomes

    before = _versions_handed_out()
    fast_outcomes = run(event_ingest, tenant)
    fast_bumps, before = _versions_handed_out() - before, _versions_handed_out()
    assert fast_outcomes == run(event_ingest_orm, other_tenant)
    assert fast_bumps == _versions_handed_out() - before == 3  # one per stored event
    fields = [
        "user_id",
        "conversation_id",
        "project_id",
        "type",
        "role",
        "content",
        "metadata",
        "scope",
        "idempotency_key",
        "body_hash",
        "status",
        "stage",
        "attempts",
        "error",
        "extractor",
        "tokens_used",
        "time_notes",
        "embedding",
    ]

    def rows(t: Tenant) -> list[tuple[Any, ...]]:
        return sorted(Event.objects.filter(tenant=t).values_list(*fields), key=repr)

    assert rows(tenant) == rows(other_tenant)
    assert len(rows(tenant)) == 3
    for user in ("u1", "u2"):
        assert _version(tenant, user) > 0 and _version(other_tenant, user) > 0
    fast = Event.objects.filter(tenant=tenant).first()
    assert fast is not None and fast.state_changed_at >= fast.created_at
    assert fast.search is not None  # the generated column is filled by Postgres


def test_a_batch_writes_rows_identical_field_for_field_to_single_ingests(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """The batch's COPY against the single-event INSERT: every column of every row (read
    back by Postgres as JSON, the generated `search` included) is the same, for values
    that text COPY must escape (tab, newline, backslash, a literal `\\N`, non-ASCII)."""
    when = datetime(2023, 5, 8, 13, 56, 7, 123456, tzinfo=UTC)
    items = [
        _item("plain", event_time=when),
        _item("tab\there\nnewline \\ backslash \\N and \r", event_time=when),
        _item("\\N", event_time=when, role=""),
        _item(
            "Ünïcödé ✓ 東京 🙂",
            user_id="u2",
            conversation_id="c\t1",
            event_time=when,
            idempotency_key="key\\N",
            metadata={"a": [1, None, "x\ty"], "nested": {"ü": True}, "empty": ""},
            scope="project",
            project_id="p1",
        ),
        _item("no event time, no metadata", type="note", role=""),
    ]
    started = timezone.now()
    for item in items:
        event_ingest(tenant=tenant, **item)
    events_ingest(tenant=other_tenant, items=items)
    finished = timezone.now()

    def rows(t: Tenant) -> list[dict[str, Any]]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT row_to_json(e)::text FROM {Event._meta.db_table} e "
                "WHERE tenant_id = %s ORDER BY content",
                [str(t.pk)],
            )
            found = [json.loads(row[0]) for row in cursor.fetchall()]
        for row in found:
            # Own per row: the id, the tenant and the moments of the write.
            for column in ("id", "tenant_id", "created_at", "state_changed_at"):
                assert row.pop(column) is not None
            if row["content"] == "no event time, no metadata":
                # Defaults to the moment of the ingest call.
                moment = datetime.fromisoformat(row.pop("event_time"))
                assert started <= moment <= finished
        return found

    single, batch = rows(tenant), rows(other_tenant)
    assert len(single) == len(items)
    assert batch == single
    assert {r["content"] for r in batch} == {i["content"] for i in items}
    assert all(r["search"] for r in batch)  # the generated column, filled by Postgres
    stored = Event.objects.get(tenant=other_tenant, user_id="u2")
    assert stored.metadata == items[3]["metadata"] and stored.idempotency_key == "key\\N"
    assert stored.created_at <= stored.state_changed_at


def test_batch_enqueues_the_new_events_once_after_commit(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    stored = event_ingest(tenant=tenant, **_item("old")).event
    with (
        mock.patch("enrichment.workflows.enrichment_enqueue_many") as many,
        mock.patch("enrichment.workflows.enrichment_enqueue") as one,
        django_capture_on_commit_callbacks(execute=True),
    ):
        results = events_ingest_and_enqueue(
            tenant=tenant, items=[_item("n1"), _item("old"), _item("n2"), _item("n1")]
        )
    new_ids = [str(r.event.id) for r in results[::2] if isinstance(r, IngestResult)]
    assert len(new_ids) == 2 and Event.objects.filter(tenant=tenant).count() == 3
    assert str(stored.id) not in new_ids
    many.assert_called_once_with(new_ids)
    one.assert_not_called()


def test_batch_of_repeats_enqueues_nothing(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    event_ingest(tenant=tenant, **_item("old"))
    with (
        mock.patch("enrichment.workflows.enrichment_enqueue_many") as many,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        events_ingest_and_enqueue(tenant=tenant, items=[_item("old")])
    assert callbacks == []
    many.assert_not_called()


def test_a_batch_is_published_as_a_few_messages_in_one_pipelined_round_trip(
    redis_service: str, settings: Any
) -> None:
    settings.ENRICH_MESSAGE_EVENTS = 2
    executed: list[list[str]] = []
    real_execute = redis.client.Pipeline.execute

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append([str(command[0][0]) for command in self.command_stack])
        return real_execute(self, *args, **kwargs)

    with mock.patch.object(redis.client.Pipeline, "execute", execute):
        workflows.enrichment_enqueue_many(["e1", "e2", "e3"])
    # (The first publish of a process also declares the queue and binding in a pipeline.)
    assert [c for c in executed if "LPUSH" in c] == [["LPUSH", "LPUSH"]]


def _sent_messages(send: Any) -> list[tuple[str, list[Any], Any]]:
    """(task, its args, the chain it carries) of each message sent, through Celery or
    enrichment.publish."""
    import kombu.transport.redis as kombu_redis

    sent: list[dict[str, Any]] = []
    real_put = kombu_redis.Channel._put

    def put(self: Any, queue: str, message: dict[str, Any], **kwargs: Any) -> Any:
        sent.append(message)
        return real_put(self, queue, message, **kwargs)

    from enrichment import publish

    real_message = publish.events_message

    def lean(*args: Any, **kwargs: Any) -> bytes:  # a single event's, written straight
        raw = real_message(*args, **kwargs)
        sent.append(json.loads(raw))
        return raw

    with (
        mock.patch.object(kombu_redis.Channel, "_put", put),
        mock.patch.object(publish, "events_message", lean),
    ):
        send()
    messages = []
    for message in sent:
        args, _kwargs, embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], list(args), embed.get("chain")))
    return messages


def test_one_message_per_part_of_a_batch_carries_its_event_ids_in_order(
    redis_service: str, settings: Any
) -> None:
    settings.ENRICH_MESSAGE_EVENTS = 2
    one = _sent_messages(lambda: workflows.enrichment_enqueue("e1"))
    many = _sent_messages(lambda: workflows.enrichment_enqueue_many(["e1", "e2", "e3"]))
    assert one == [("enrichment.events", [["e1"]], None)]
    assert many == [
        ("enrichment.events", [["e1", "e2"]], None),
        ("enrichment.events", [["e3"]], None),
    ]
    assert workflows.message_parts([str(n) for n in range(5)], 5) == [["0", "1", "2", "3", "4"]]


def test_a_batch_publish_records_its_chains_as_queued_and_forgets_them_if_it_fails(
    redis_service: str,
) -> None:
    from claiv.redis_client import redis_client
    from enrichment import outstanding

    ids = [f"batch-queued-{n}" for n in range(3)]
    workflows.enrichment_enqueue_many(ids)
    assert [redis_client().zscore(outstanding.QUEUED_KEY, i) is not None for i in ids] == [
        True,
        True,
        True,
    ]
    failing = [f"batch-failed-{n}" for n in range(2)]
    with mock.patch("celery.app.task.Task.apply_async", side_effect=OSError("broker down")):
        workflows.enrichment_enqueue_many(failing)
    assert [redis_client().zscore(outstanding.QUEUED_KEY, i) for i in failing] == [None, None]
    redis_client().zrem(outstanding.QUEUED_KEY, *ids)


def test_single_ingest_outside_a_transaction_is_one_round_trip_with_the_same_outcomes(
    tenant: Tenant, other_tenant: Tenant, transactional_db: None
) -> None:
    calls = [
        _item("x", idempotency_key="k"),
        _item("x", idempotency_key="k"),
        _item("y", idempotency_key="k"),
        _item("x"),
        _item("z"),
        _item("z"),
    ]

    def run(ingest: Any, t: Tenant) -> list[tuple[Any, ...]]:
        outcomes: list[tuple[Any, ...]] = []
        for call in calls:
            try:
                r = ingest(tenant=t, **call)
            except Conflict as exc:
                outcomes.append(("conflict", Event.objects.get(pk=exc.details["event_id"]).content))
            else:
                outcomes.append((r.event.content, r.event.user_id, r.deduped))
        return outcomes

    with CaptureQueriesContext(connection) as queries:
        event_ingest(tenant=tenant, **_item("first"))
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith("SELECT pg_advisory_xact_lock(")
    assert run(event_ingest, tenant) == run(event_ingest_orm, other_tenant)
    stored = Event.objects.get(tenant=tenant, content="first")
    assert _version(tenant, "u1") > 0 and stored.created_at is not None


def test_concurrent_single_ingests_of_one_request_store_it_once(
    tenant: Tenant, transactional_db: None
) -> None:
    """The advisory lock still serialises the one-round-trip path: of many threads sending
    the same body at once, one stores it and the others get it back as a repeat."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connections

    barrier = Barrier(6)

    def send(n: int) -> tuple[str, bool]:
        try:
            barrier.wait()
            r = event_ingest(tenant=tenant, **_item("same body", idempotency_key=None))
            return str(r.event.id), r.deduped
        finally:
            connections.close_all()

    for _round in range(3):
        Event.objects.filter(tenant=tenant).delete()
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(send, range(6)))
        assert len({event_id for event_id, _ in results}) == 1
        assert sorted(deduped for _, deduped in results) == [False] + [True] * 5
        assert Event.objects.filter(tenant=tenant).count() == 1


def test_the_single_event_statement_binds_what_get_db_prep_save_gives(tenant: Tenant) -> None:
    """`_insert_unless_repeat` binds `_row_values` (conversions skipped where they would
    return their input): the same values as every field's pre_save + get_db_prep_save."""
    from django.db import connections

    from memory import ingest as ingest_module

    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    fields = _item(
        "x",
        metadata={"a": [1, "é"]},
        scope="project",
        project_id="p",
        conversation_id="c",
        idempotency_key="k",
        event_time=datetime(2025, 5, 6, tzinfo=UTC),
    )
    db = connections["default"]
    with mock.patch("django.utils.timezone.now", return_value=fixed):
        event = ingest_module._event_build(tenant=tenant, now=fixed, **fields)
        fast = ingest_module._row_values(db)(event)
        slow = [
            f.get_db_prep_save(f.pre_save(event, True), db) for f in ingest_module._INSERT_FIELDS
        ]

    def plain(value: Any) -> Any:  # psycopg's JSON wrapper compares by identity
        return ("json", value.obj) if hasattr(value, "obj") else value

    assert [plain(v) for v in fast] == [plain(v) for v in slow]
    assert len(fast) == len(ingest_module._INSERT_FIELDS)
