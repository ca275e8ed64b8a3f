"""Documents on a real worker: distillations made in the background (status processing →
ready), a lost distil message re-sent by reconciliation, and a re-upload that a
concurrent recall sees whole (old or new, never a mix)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from enrichment.documents import documents_reconcile
from memory.models import Document, DocumentDistillation
from memory.recall.documents import document_recall
from tenants.models import Tenant
from tests.conftest import Api, wait_for
from tests.support.manual import MANUAL

pytestmark = pytest.mark.worker


def _upload(api: Api, content: str = MANUAL, **fields: Any) -> Any:
    response = api.post(
        "/v6/documents",
        {
            "user_id": "u1",
            "project_id": "p1",
            "document_name": "Skyline Manual",
            "document_id": "manual",
            "content": content,
        }
        | fields,
    )
    assert response.status_code == 200, response.content
    return response.json()


def _status(api: Api) -> str:
    return str(api.get("/v6/documents/manual/status").json()["status"])


def test_distillations_are_made_by_the_worker(worker: Any, api: Api) -> None:
    _upload(api)
    wait_for(lambda: _status(api) == "ready")
    document = Document.objects.get()
    assert DocumentDistillation.objects.filter(document=document, section__isnull=True).exists()
    assert DocumentDistillation.objects.filter(section__title="Troubleshooting").exists()
    body = api.post(
        "/v6/recall",
        {"user_id": "u1", "query": "give me an overview of this document", "document_id": "manual"},
    ).json()
    assert body["answer_facts"][0]["kind"] == "document_distillation"


def test_a_lost_distil_message_is_re_sent_by_reconciliation(
    worker: Any, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import celery

    # The upload's message is lost (the broker refused it).
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery.current_app, "send_task", refuse)
    _upload(api)
    monkeypatch.undo()
    assert _status(api) == "processing"
    assert documents_reconcile() == 0  # within the grace period: left alone
    Document.objects.update(state_changed_at=timezone.now() - timedelta(minutes=5))
    assert documents_reconcile() == 1
    wait_for(lambda: _status(api) == "ready")
    assert Document.objects.get().distill_attempts == 1


def test_a_recall_during_re_uploads_sees_one_version_whole(
    worker: Any, api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Committed data and real concurrency; no distil stage (it would still be running
    # against the replaced generations when the test's database is flushed).
    monkeypatch.setattr("memory.api.documents.distil_enqueue", lambda document: None)
    old = "# Old\n\n" + "\n\n".join(f"Old paragraph {i} about alpha routers." for i in range(40))
    new = "# New\n\n" + "\n\n".join(f"New paragraph {i} about alpha routers." for i in range(40))
    _upload(api, content=old)
    stop = threading.Event()
    seen: list[set[str]] = []
    errors: list[BaseException] = []

    def recalls() -> None:
        try:
            while not stop.is_set():
                found = document_recall(
                    tenant=tenant,
                    user_id="u1",
                    query="alpha routers paragraph",
                    document_id="manual",
                    chunks=50,
                )
                seen.append({hit.text.split()[0] for hit in found.hits})
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    reader = threading.Thread(target=recalls)
    reader.start()
    try:
        for i in range(6):
            _upload(api, content=new if i % 2 == 0 else old)
    finally:
        stop.set()
        reader.join()
    assert not errors
    assert seen and all(words in ({"Old"}, {"New"}) for words in seen), seen
