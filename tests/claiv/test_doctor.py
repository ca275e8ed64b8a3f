"""`manage.py doctor` against the real stack: embedded Postgres and Valkey, a real worker."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from claiv.beat_leader import LeaderLock
from memory.models import Event
from tenants.models import Tenant
from tests.factories import ingest


def _doctor(*skip: str) -> tuple[int, dict[str, str]]:
    out = io.StringIO()
    try:
        call_command("doctor", *[f"--skip={name}" for name in skip], stdout=out)
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    lines = {}
    for line in out.getvalue().splitlines():
        level, name, message = line.split(maxsplit=2)
        lines[name] = f"{level} {message}"
    return status, lines


@pytest.fixture
def beat_leader() -> Iterator[None]:
    """A real holder of the beat leader lock, as a running beat would be."""
    lock = LeaderLock()
    assert lock.held()
    yield
    lock.release()


@pytest.mark.slow
@pytest.mark.worker
def test_a_healthy_stack_passes(worker: object, beat_leader: None) -> None:
    status, lines = _doctor()
    assert status == 0
    assert list(lines) == [
        "settings",
        "postgres",
        "migrations",
        "redis",
        "broker",
        "workers",
        "beat",
        "embedding",
        "events",
    ]
    assert lines["postgres"].startswith("ok PostgreSQL ")
    assert ", pgvector " in lines["postgres"]
    assert lines["migrations"] == "ok all migrations applied"
    assert lines["redis"] == "ok answers"
    assert lines["broker"].startswith("ok queue depth ")
    assert lines["workers"] == "ok 1 worker(s) answered"
    assert lines["beat"] == "ok a beat leader holds the lock"
    assert lines["embedding"] == (
        "ok sentence-transformers/all-MiniLM-L6-v2, 384 dimensions, as the stored vectors"
    )
    assert lines["events"] == "ok none stuck or failed"


@pytest.mark.django_db
def test_redis_down_fails(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    status, lines = _doctor("workers", "beat", "broker")
    assert status == 1
    assert lines["redis"] == "fail ConnectionError: is it running and reachable?"
    assert lines["postgres"].startswith("ok ")


@pytest.mark.django_db
def test_a_failed_event_fails_with_what_to_do(tenant: Tenant) -> None:
    event = ingest(tenant, "I live in Lisbon.")
    Event.objects.filter(pk=event.pk).update(status="failed", error="ValueError")
    status, lines = _doctor("workers", "beat")
    assert status == 1
    assert lines["events"] == (
        "fail 1 event(s) failed enrichment (0 stuck): see their error "
        "in the console's Events page and re-run enrichment there"
    )
    assert lines["redis"] == "ok answers"


@pytest.mark.django_db
def test_no_worker_and_no_beat_fail(embedded_services: object) -> None:
    status, lines = _doctor()
    assert status == 1
    assert lines["workers"].startswith("fail no worker answered a ping: start one")
    assert lines["beat"].startswith("fail no beat holds the leader lock")
    assert lines["events"] == "ok none stuck or failed"
