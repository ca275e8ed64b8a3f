"""Export and import as API jobs (/v1/exports, /v1/imports; memory.portability_jobs):
isolation, scopes, bad input, idempotency, a file refused by the job, audit, forget drops
exported files. The jobs here are run by calling the task's function; the tests with a real
worker (round trip into another tenant, lost messages, dead workers) are in
tests/memory/test_portability_jobs_worker.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from keys.models import SCOPE_FORGET, SCOPE_READ, SCOPE_WRITE
from keys.services import api_key_create
from memory import portability_jobs
from memory.audit import audit_flush
from memory.models import AuditEntry, Event, Fact, PortabilityJob
from memory.portability import memory_export
from memory.portability_jobs import portability_job_run
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.factories import ingest_enriched


def _finished(api: Api, path: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = api.get(path).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_for(done, timeout=120)


def _export(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/exports", body)
    assert response.status_code == 202, response.content
    return response.json()


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
