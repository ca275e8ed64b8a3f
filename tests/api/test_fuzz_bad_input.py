"""Schemathesis through the WSGI app, inputs inside and outside the schema: bad input is
never a 5xx (issue #12 item 7). Bounded: a few examples per operation and mode (~20 s)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from keys.services import api_key_create
from tenants.services import tenant_ensure, tenant_rate_limit_set

# Per operation and mode: 19 operations × 2 modes × 4 ≈ 150 requests (~15 s of CPU). A hunt
# of 150 per operation and mode found no 5xx after the fixes of issue #12.
# CLAIV_FUZZ_EXAMPLES raises it for a longer hunt by hand.
EXAMPLES = int(os.environ.get("CLAIV_FUZZ_EXAMPLES", "4"))


@pytest.fixture
def wsgi_app(db: None) -> Any:
    """The WSGI app on the test's connection: as Django's test client does, requests must not
    close the connection that holds the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_key(db: None) -> str:
    tenant = tenant_ensure(slug="fuzz")[0]
    tenant_rate_limit_set(tenant=tenant, per_minute=0)  # many requests, on purpose
    return api_key_create(tenant=tenant)[1]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_a_server_error(wsgi_app: Any, fuzz_key: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", wsgi_app)
    headers = {"Authorization": f"Bearer {fuzz_key}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.operation.label} {response.status_code} "
                    f"body={case.body!r:.300} query={case.query!r:.200}"
                )

        try:
            check()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # nothing to break: e.g. /healthz, no input
    assert failures == []
