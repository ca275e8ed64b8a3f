"""Each metric an operator watches appears in /metrics after the action it measures: recall
channel timings, embedding calls, enrichment stage durations and lag, failed events,
reconciliation's re-sends and LLM calls with their tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from enrichment.extraction import llm
from enrichment.extraction.llm import LLMExtractor
from enrichment.propositions import ExtractionInput
from memory.embedding import embed_one
from memory.models import EnrichmentStatus, Event
from tenants.models import Tenant
from tests.conftest import Api
from tests.enrichment.test_llm_extractor import LIVES, FakeFallback, item, reply
from tests.factories import enrich, ingest
from tests.support.openai_stub import OpenAIStub

TOKEN = "metrics-call-sites-token-0123456789"


def _scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with override_settings(CLAIV_METRICS_TOKEN=TOKEN):
        response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def _grew(action: Callable[[], object], *samples: tuple[str, dict[str, str]]) -> dict[str, float]:
    """Run `action` and return how much each (name, labels) sample grew in /metrics."""
    before = _scrape()
    action()
    after = _scrape()
    return {
        f"{name}{sorted(labels.items())}": _value(after, name, **labels)
        - _value(before, name, **labels)
        for name, labels in samples
    }


def test_a_recall_records_its_channels_and_the_query_embedding(api: Api, tenant: Tenant) -> None:
    enrich(ingest(tenant, "I am allergic to peanuts."))
    channels = ["embed_query", "channels", "fuse", "hydrate"]

    def recall() -> None:
        body = {"user_id": "u1", "task": "What am I allergic to?", "token_budget": 500}
        response = api.post("/v1/recall", body)
        assert response.status_code == 200, response.content

    grown = _grew(
        recall,
        *[("claiv_recall_channel_duration_seconds_count", {"channel": c}) for c in channels],
        ("claiv_embedding_calls_total", {"provider": "local", "outcome": "ok"}),
    )

    assert all(count == 1 for count in grown.values()), grown


def test_embedding_calls_count_calls_and_texts(db: None) -> None:
    grown = _grew(
        lambda: embed_one("Where do I live?"),
        ("claiv_embedding_calls_total", {"provider": "local", "outcome": "ok"}),
        ("claiv_embedding_texts_total", {"provider": "local"}),
    )
    assert list(grown.values()) == [1, 1]


def test_enrichment_records_stage_durations_and_lag(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    event = ingest(tenant, "I moved to Berlin in 2021.")

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            enrich(event)

    grown = _grew(
        run,
        ("claiv_enrichment_stage_duration_seconds_count", {"stage": "extract"}),
        ("claiv_enrichment_stage_duration_seconds_count", {"stage": "tier"}),
        ("claiv_enrichment_lag_seconds_count", {}),
    )

    assert event.status == EnrichmentStatus.ENRICHED
    assert all(count >= 1 for count in grown.values()), grown
    assert grown["claiv_enrichment_lag_seconds_count[]"] == 1


def test_a_permanent_failure_counts_as_a_failed_event(tenant: Tenant) -> None:
    from enrichment.tasks import extract

    event = ingest(tenant, "I moved to Berlin in 2021.")

    grown = _grew(
        lambda: extract.on_failure(ValueError("bad data"), "task-id", (str(event.id),), {}, None),
        ("claiv_enrichment_events_failed_total", {"stage": "extract"}),
    )

    event.refresh_from_db()
    assert event.status == EnrichmentStatus.FAILED
    assert list(grown.values()) == [1]


@override_settings(ENRICH_MAX_ATTEMPTS=2)
def test_reconciliation_counts_what_it_resends_and_what_it_gives_up(
    tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    from enrichment.tasks import reconcile

    stuck = ingest(tenant, "I moved to Berlin in 2021.")
    exhausted = ingest(tenant, "My sister works at Siemens.", minutes=1)
    old = timezone.now() - timedelta(hours=1)
    Event.objects.filter(pk=stuck.pk).update(state_changed_at=old, attempts=0)
    Event.objects.filter(pk=exhausted.pk).update(state_changed_at=old, attempts=2)

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            assert reconcile() == 1

    grown = _grew(
        run,
        ("claiv_reconcile_resent_events_total", {}),
        ("claiv_enrichment_events_failed_total", {"stage": "reconcile"}),
    )

    assert list(grown.values()) == [1, 1]


def test_llm_calls_count_outcomes_and_tokens(
    db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(llm, "_catalog_predicate_names", lambda: ())
    monkeypatch.setattr(llm, "_temporal_resolver", lambda: None)
    with OpenAIStub() as stub:
        stub.script_chat([reply(LIVES, usage=(120, 30))])
        extractor = LLMExtractor(
            base_url=stub.base_url,
            api_key="sk-test",
            model="stub-model",
            fallback=FakeFallback(),
            timeout=2.0,
            max_retries=0,
        )
        one: ExtractionInput = item()

        grown = _grew(
            lambda: extractor.extract(one),
            ("claiv_llm_calls_total", {"outcome": "ok"}),
            ("claiv_llm_tokens_total", {"kind": "prompt"}),
            ("claiv_llm_tokens_total", {"kind": "completion"}),
        )

    assert list(grown.values()) == [1, 120, 30]
