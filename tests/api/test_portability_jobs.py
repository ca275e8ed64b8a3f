"""Export and import as API jobs (/v1/exports, /v1/imports; memory.portability_jobs): run by
a real worker, a round trip into another tenant, isolation, scopes, bad input, idempotency,
lost messages and dead workers reconciled, audit, forget drops exported files."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from keys.models import SCOPE_FORGET, SCOPE_READ, SCOPE_WRITE
from keys.services import api_key_create
from memory import portability_jobs
from memory.audit import audit_flush
from memory.models import AuditEntry, Event, Fact, PortabilityJob
from memory.portability import memory_export
from memory.portability_jobs import portability_job_run, portability_jobs_reconcile
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.factories import BASE_TIME, ingest_enriched

CONVERSATION = [
    "I live in Lisbon.",
    "I work at Acme Robotics as a firmware engineer.",
    "My sister Ana lives in Porto.",
    "I moved to Berlin last year.",
]


def _finished(api: Api, path: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = api.get(path).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_for(done, timeout=120)


def _export(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/exports", body)
    assert response.status_code == 202, response.content
    return response.json()


def _items(body: dict) -> list[tuple]:
    keys = ("subject", "kind", "predicate", "object_text", "source_text", "valid_from")
    return [
        tuple(f[k] for k in keys)
        for part in ("answer_facts", "supporting_facts", "background_context")
        for f in body[part]
    ]


@pytest.mark.slow
@pytest.mark.worker
def test_round_trip_through_the_api_into_another_tenant_gives_the_same_recall(
    worker: object,
    api: Api,
    api_key: tuple,
    other_api: Api,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    for minute, text in enumerate(CONVERSATION):
        response = api.post(
            "/v1/ingest",
            {
                "user_id": "u1",
                "conversation_id": "c1",
                "type": "message",
                "role": "user",
                "content": text,
                "event_time": BASE_TIME.replace(minute=minute).isoformat(),
            },
        )
        assert response.status_code == 200, response.content
    wait_for(
        lambda: Event.objects.filter(tenant=tenant, status="enriched").count() == 4, timeout=120
    )
    decision = api.post(
        "/v1/memories",
        {
            "user_id": "u1",
            "content": "Ship the firmware on Fridays",
            "kind": "decision",
            "rationale": "the lab is free",
        },
    ).json()

    job = _export(api, user_id="u1")
    assert job["status"] == "queued" and job["kind"] == "export"
    assert api.get(f"/v1/exports/{job['job_id']}/download").status_code in (200, 409)
    done = _finished(api, f"/v1/exports/{job['job_id']}")
    assert done["status"] == "succeeded", done
    assert done["counts"]["events"] == 5 and done["download_available"] is True
    download = api.get(f"/v1/exports/{job['job_id']}/download")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/x-ndjson")
    assert download["Cache-Control"] == "no-store"
    text = download.content.decode()
    assert json.loads(text.splitlines()[0])["record"] == "header"

    started = other_api.post("/v1/imports", {"jsonl": text})
    assert started.status_code == 202, started.content
    imported = _finished(other_api, f"/v1/imports/{started.json()['job_id']}")
    assert imported["status"] == "succeeded", imported
    assert imported["counts"]["events"] == 5 and imported["reembedded"] is False
    for query in ("Where does the user live?", "Where does the user work?", "Who is Ana?"):
        body = {"user_id": "u1", "conversation_id": "c1", "query": query, "token_budget": 800}
        mine = api.post("/v6/recall", body).json()
        theirs = other_api.post("/v6/recall", body).json()
        assert _items(theirs) == _items(mine) != []
    # The explicit decision came along with its origin and rationale (issue #17).
    copied = other_api.get("/v1/memories", user_id="u1", kind="decision").json()["memories"]
    assert [(m["content"], m["origin"], m["rationale"]) for m in copied] == [
        (decision["content"], "explicit", "the lab is free")
    ]
    assert copied[0]["id"] != decision["id"]  # the source tenant holds that id

    # Importing the same file again adds nothing.
    again = other_api.post("/v1/imports", {"jsonl": text}).json()
    repeat = _finished(other_api, f"/v1/imports/{again['job_id']}")
    assert repeat["status"] == "succeeded" and set(repeat["counts"].values()) == {0}

    audit_flush()
    (exported,) = AuditEntry.objects.filter(tenant=tenant, action="export")
    assert (exported.actor, exported.endpoint, exported.user_id) == (
        api_key[0].prefix,
        "POST /v1/exports",
        "u1",
    )
    assert exported.counts["events"] == 5 and exported.request_id
    entries = other_api.get("/v1/audit", action="import").json()["entries"]
    assert [e["counts"]["events"] for e in entries] == [0, 5]


def _job(tenant: Tenant, kind: str = "export", **fields: Any) -> PortabilityJob:
    job, created = portability_jobs.portability_job_create(
        tenant=tenant, kind=kind, actor="test", endpoint=f"POST /v1/{kind}s", **fields
    )
    assert created
    return job


@pytest.mark.django_db
def test_another_tenants_job_is_not_found_and_scopes_apply(
    api: Api, other_api: Api, tenant: Tenant
) -> None:
    export = _export(api)["job_id"]
    text = "\n".join(memory_export(tenant=tenant))  # a valid file
    imported = api.post("/v1/imports", {"jsonl": text}).json()["job_id"]
    for client, path in (
        (other_api, f"/v1/exports/{export}"),
        (other_api, f"/v1/exports/{export}/download"),
        (other_api, f"/v1/imports/{imported}"),
        (api, f"/v1/exports/{imported}"),  # an import's id is no export's
        (api, "/v1/exports/not-a-uuid"),
        (api, "/v1/imports/00000000-0000-0000-0000-000000000000"),
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    # Not finished yet (no worker here): the file is a conflict, not a 404.
    waiting = api.get(f"/v1/exports/{export}/download")
    assert waiting.status_code == 409
    assert waiting.json()["error"]["details"]["status"] == "queued"

    def keyed(*scopes: str) -> Api:
        return Api(Client(), api_key_create(tenant=tenant, scopes=list(scopes))[1])

    writer, reader, forgetter = keyed(SCOPE_WRITE), keyed(SCOPE_READ), keyed(SCOPE_FORGET)
    assert writer.post("/v1/exports", {}).status_code == 403
    assert writer.get(f"/v1/exports/{export}").status_code == 403
    assert reader.post("/v1/imports", {"jsonl": text}).status_code == 403
    assert reader.get(f"/v1/imports/{imported}").status_code == 403
    assert forgetter.post("/v1/exports", {}).status_code == 403
    assert reader.get(f"/v1/exports/{export}").status_code == 200
    assert writer.get(f"/v1/imports/{imported}").status_code == 200
    assert Client().post("/v1/exports", "{}", content_type="application/json").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        ("/v1/exports", {"user_id": ""}, 400, "user_id"),
        ("/v1/exports", {"tenant": "globex"}, 400, "unknown_fields"),
        ("/v1/imports", {}, 400, "jsonl"),
        ("/v1/imports", {"jsonl": 7}, 400, "jsonl"),
        ("/v1/imports", {"jsonl": ""}, 400, "jsonl"),
        ("/v1/imports", {"jsonl": "\n"}, 400, "line"),
        ("/v1/imports", {"jsonl": '{"record":"event"}'}, 400, "line"),
        ("/v1/imports", {"jsonl": "HEADER\nnot json"}, 400, "line"),
        ("/v1/imports", {"jsonl": "x" * (1024 * 1024 + 1)}, 413, None),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    api: Api, tenant: Tenant, path: str, body: dict, status: int, detail: str | None
) -> None:
    header = next(memory_export(tenant=tenant))
    if isinstance(body.get("jsonl"), str):
        body = {"jsonl": body["jsonl"].replace("HEADER", header)}
    response = api.post(path, body)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if detail is not None:
        assert detail in error["details"] or detail in json.dumps(error["details"])
    assert not PortabilityJob.objects.exists()


@pytest.mark.django_db
def test_an_idempotency_key_returns_the_first_job(api: Api, other_api: Api) -> None:
    first = _export(api, user_id="u1", idempotency_key="k1")
    assert _export(api, user_id="u1", idempotency_key="k1")["job_id"] == first["job_id"]
    conflict = api.post("/v1/exports", {"user_id": "u2", "idempotency_key": "k1"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    # Keys are per tenant: another tenant's same key is its own job.
    assert _export(other_api, user_id="u1", idempotency_key="k1")["job_id"] != first["job_id"]
    assert PortabilityJob.objects.count() == 2


@pytest.mark.django_db
def test_a_file_refused_by_the_job_fails_it_and_imports_nothing(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    lines = list(memory_export(tenant=tenant))
    at = next(i for i, line in enumerate(lines) if '"record":"fact"' in line)
    fact = json.loads(lines[at])
    fact["source_event"] = "1a0e2a35-8ab5-4e0c-9d0c-3c8f0e4f2b11"
    bad = "\n".join([*lines[:at], json.dumps(fact), *lines[at + 1 :]])
    job = _job(other_tenant, "import", jsonl=bad)
    assert portability_job_run(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.error is not None and job.error["code"] == "invalid_request"
    assert "is not in the file" in job.error["message"] and job.error["details"]["line"]
    assert job.payload == "" and job.attempts == 1
    assert not Event.objects.filter(tenant=other_tenant).exists()
    assert not Fact.objects.filter(tenant=other_tenant).exists()
    # A second message for the same job does nothing.
    assert portability_job_run(str(job.pk)) is None
    audit_flush()
    (entry,) = AuditEntry.objects.filter(tenant=other_tenant, action="import")
    assert entry.counts == {"failed": 1} and entry.actor == "test"


@pytest.mark.django_db
def test_a_forget_drops_the_exported_files_that_may_hold_the_user(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.", user_id="u1")
    whole, of_u1, of_u2 = _job(tenant), _job(tenant, user_id="u1"), _job(tenant, user_id="u2")
    for job in (whole, of_u1, of_u2):
        assert portability_job_run(str(job.pk)) == "succeeded"
    assert "Lisbon" in api.get(f"/v1/exports/{whole.pk}/download").content.decode()
    assert api.post("/v1/forget", {"user_id": "u1"}).status_code == 200
    for job, available in ((whole, False), (of_u1, False), (of_u2, True)):
        body = api.get(f"/v1/exports/{job.pk}").json()
        assert body["download_available"] is available
        status = api.get(f"/v1/exports/{job.pk}/download").status_code
        assert status == (200 if available else 404)
    assert not PortabilityJob.objects.filter(output__contains="Lisbon").exists()
    # A whole-user forget leaves no user id behind on the jobs either.
    assert api.get(f"/v1/exports/{of_u1.pk}").json()["user_id"].startswith("forgotten:")


@pytest.mark.slow
@pytest.mark.worker
def test_a_lost_message_and_a_dead_worker_are_reconciled(
    worker: object, api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The broker lost the message: nothing was sent.
    monkeypatch.setattr(portability_jobs, "_send", lambda job_id: None)
    lost = _export(api)["job_id"]
    # A worker claimed this one and died (its row lock went with its connection).
    dead = _export(api)["job_id"]
    PortabilityJob.objects.filter(pk=dead).update(status="running", attempts=1)
    monkeypatch.undo()
    later = timezone.now() + timedelta(seconds=121)
    assert portability_jobs_reconcile(now=timezone.now()) == 0  # within the grace: alone
    assert portability_jobs_reconcile(now=later) == 2
    for job_id, attempts in ((lost, 1), (dead, 2)):
        done = _finished(api, f"/v1/exports/{job_id}")
        assert (done["status"], done["attempts"]) == ("succeeded", attempts)
    # Out of attempts: failed, not retried forever.
    PortabilityJob.objects.filter(pk=dead).update(status="queued", attempts=3)
    assert portability_job_run(dead) is None
    body = api.get(f"/v1/exports/{dead}").json()
    assert body["status"] == "failed" and "Gave up" in body["error"]["message"]
    # Finished jobs go after the retention.
    portability_jobs_reconcile(now=timezone.now() + timedelta(days=8))
    assert not PortabilityJob.objects.exists()


@pytest.mark.django_db
def test_line_separators_inside_content_survive_the_round_trip(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    """The file is split on newlines only: U+2028, U+0085 and the like stay inside a JSON
    string (the export writes them unescaped) rather than splitting its line."""
    text = "Line one\u2028line two\u0085three\x1cfour"
    made = api.post("/v1/memories", {"user_id": "u1", "content": text}).json()
    export = _job(tenant)
    assert portability_job_run(str(export.pk)) == "succeeded"
    export.refresh_from_db()
    assert "\u2028" in export.output
    imported = _job(other_tenant, "import", jsonl=export.output)
    assert portability_job_run(str(imported.pk)) == "succeeded"
    copy = Fact.objects.get(tenant=other_tenant)
    assert copy.object_text == Fact.objects.get(pk=made["id"]).object_text
    assert text in copy.object_text
