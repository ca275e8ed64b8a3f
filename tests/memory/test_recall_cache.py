"""The recall cache: hits are served without retrieval, and any memory change is visible
on the very next recall (new facts appear, forgotten ones vanish)."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.models import Tenant
from tests.conftest import Api
from tests.factories import ingest_enriched

pytestmark = pytest.mark.django_db
RECALL = {"user_id": "u1", "task": "Where does the user live and work?", "token_budget": 1000}


def test_repeated_recall_is_served_from_the_cache(api: Api, tenant: Tenant,
                                                  django_assert_max_num_queries: Any) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    first = api.post("/v1/recall", RECALL).json()
    # A hit costs the key lookup and the memory-version read, not the retrieval queries.
    with django_assert_max_num_queries(3):
        again = api.post("/v1/recall", RECALL).json()
    assert again == first


def test_new_memory_appears_on_the_next_recall(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    assert "Acme" not in api.post("/v1/recall", RECALL).json()["system_context"]
    event = ingest_enriched(tenant, "I work at Acme Robotics.", minutes=5)
    body = api.post("/v1/recall", RECALL).json()
    assert "Acme" in body["system_context"]
    assert str(event.id) in body["citations"]


def test_forget_empties_the_cached_context_immediately(api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    assert api.post("/v1/recall", RECALL).json()["citations"]
    api.post("/v1/forget", {"user_id": "u1"})
    assert api.post("/v1/recall", RECALL).json()["citations"] == []


def test_cache_is_per_tenant(api: Api, other_api: Api, tenant: Tenant) -> None:
    ingest_enriched(tenant, "I live in Lisbon.")
    assert api.post("/v1/recall", RECALL).json()["citations"]
    assert other_api.post("/v1/recall", RECALL).json()["citations"] == []
