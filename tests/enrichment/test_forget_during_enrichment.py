"""Forget while a real worker enriches the same user's events: every forget answers 200
(a deadlock with a stage used to come back as a 503), no stage fails the event, and what
the worker derived from the forgotten events is gone. The deterministic interleaving is in
tests/memory/test_forget_locks.py; this is the stress version with the real pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from memory.models import EnrichmentStatus, Event, Fact
from tenants.models import Tenant
from tests.conftest import Api, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]

TEXTS = (
    "I live in Oslo and work at Equinor as a geologist.",
    "My sister Anna lives in Rome and I love hiking.",
    "I moved to Lisbon last year and I work at Acme Robotics.",
)
ROUNDS = 6


def _ingest(api: Api, content: str) -> str:
    response = api.post(
        "/v1/ingest", {"user_id": "u1", "type": "message", "role": "user", "content": content}
    )
    assert response.status_code in (200, 201, 202), response.content
    return str(response.json()["event_id"])


def _started(event_id: str) -> bool:
    """The worker is on it: its first stage is done."""
    return Event.objects.filter(pk=event_id).exclude(stage="").exists()


def test_forget_during_enrichment_is_never_a_503(worker: Any, api: Api, tenant: Tenant) -> None:
    for round_ in range(ROUNDS):
        # Distinct contents: ingest takes a repeated event as the same one.
        ids = [_ingest(api, f"{text} Round {round_}.") for text in TEXTS]
        wait_for(lambda ids=ids: _started(ids[0]), timeout=60)
        response = api.post("/v1/forget", {"user_id": "u1"})
        assert response.status_code == 200, response.content
    # Everything ingested was forgotten: a stage that held one of the events finished first
    # and forget deleted its facts; later stages found the events forgotten.
    assert not Fact.objects.filter(tenant=tenant, user_id="u1").exists()
    events = Event.objects.filter(tenant=tenant, user_id="u1")
    assert events.count() == ROUNDS * len(TEXTS)
    assert not events.filter(status=EnrichmentStatus.FAILED).exists()
    assert not events.filter(forgotten_at__isnull=True).exists()
