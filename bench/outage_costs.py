"""What the outage-safety bookkeeping costs (issue 12): the outstanding-chain record on
every enqueue and first-stage delivery, reconciliation's look-up, and the usage flush the
beat now runs every 5 s. Against the embedded Valkey and Postgres of a pytest session.

Usage::

    python -m pytest bench/outage_costs.py -q -s -p no:cacheprovider
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

import pytest

from enrichment import outstanding
from memory.metering import usage_flush, usage_record
from tenants.services import tenant_ensure

ROUNDS = 2000


def _per_call_ms(fn: Callable[[int], object], rounds: int = ROUNDS) -> tuple[float, float]:
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.mean(samples), samples[int(len(samples) * 0.95)]


def _report(name: str, result: tuple[float, float]) -> None:
    print(f"{name:<48} mean {result[0]:.3f} ms  p95 {result[1]:.3f} ms")


@pytest.mark.django_db(transaction=True)
def test_costs() -> None:
    ids = [str(uuid.uuid4()) for _ in range(ROUNDS)]
    _report(
        "chain_sending (ingest path, per event)",
        _per_call_ms(lambda i: outstanding.chain_sending(ids[i])),
    )
    _report(
        "chain_delivered (worker main process, per event)",
        _per_call_ms(lambda i: outstanding.chain_delivered(ids[i])),
    )
    batch = ids[:1000]
    _report(
        "events_waiting (reconcile, 1000 stuck ids)",
        _per_call_ms(lambda i: outstanding.events_waiting(batch, grace_seconds=120), 50),
    )
    tenant = tenant_ensure(slug="bench")[0]
    _report("usage_flush, nothing to flush", _per_call_ms(lambda i: usage_flush(), 200))

    endpoints = ["POST /v1/recall", "POST /v1/ingest", "POST /v6/recall", "GET /v1/usage/limits"]
    samples = []
    for _ in range(50):
        for j in range(100):  # 100 requests over 4 endpoints, as in a busy 5 s
            usage_record(tenant_id=tenant.pk, endpoint=endpoints[j % 4], status=200, latency_ms=4.0)
        started = time.perf_counter()
        usage_flush()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    _report(
        "usage_flush, 1 tenant x 4 endpoints dirty",
        (statistics.mean(samples), samples[int(len(samples) * 0.95)]),
    )
    _report(
        "usage_record (request path, unchanged)",
        _per_call_ms(
            lambda i: usage_record(
                tenant_id=tenant.pk, endpoint="POST /v1/recall", status=200, latency_ms=4.0
            )
        ),
    )
