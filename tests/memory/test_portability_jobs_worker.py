"""Export and import as API jobs with a real Celery worker (memory.portability_jobs): a round
trip through the API into another tenant gives the same recall; a lost message and a dead
worker are reconciled. Kept out of tests/api, whose tests run without a live worker (a
worker left running would enrich their events under them); the rest of the jobs' tests
are in tests/api/test_portability_jobs.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from memory import portability_jobs
from memory.audit import audit_flush
from memory.models import AuditEntry, Event, PortabilityJob
from memory.portability_jobs import portability_job_run, portability_jobs_reconcile
from tenants.models import Tenant
from tests.api.test_portability_jobs import _export, _finished
from tests.conftest import Api, wait_for
from tests.factories import BASE_TIME

CONVERSATION = [
    "I live in Lisbon.",
    "I work at Acme Robotics as a firmware engineer.",
    "My sister Ana lives in Porto.",
    "I moved to Berlin last year.",
]


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
