"""Central fixtures: tenants, keys, an HTTP client for the API, a real Celery worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from keys.models import ApiKey
from keys.services import api_key_create
from tenants.models import Tenant
from tenants.services import tenant_ensure


@dataclass
class Api:
    """The API through its URLs, as an integrator calls it."""

    client: Client
    raw_key: str | None

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.raw_key}"} if self.raw_key else {}
        return headers | (extra or {})

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        payload = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            path, payload, content_type="application/json", headers=self._headers(headers)
        )

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(path, params, headers=self._headers(headers))


@pytest.fixture(scope="session")
def django_db_setup(embedded_services: dict[str, str], django_db_setup: None) -> None:
    """pytest-django's test database, on the embedded servers started on first need
    (tests/plugins/services.py): a run that touches no database starts none."""
    _flush_retries_deadlocks()


def _flush_retries_deadlocks() -> None:
    """A transactional test ends with TRUNCATE of every table, which locks them one by one;
    the session's Celery worker may still be finishing a task from an earlier test and
    lock two of them in the other order. Postgres then aborts one side: when it is the
    TRUNCATE, run it again (the worker's task, if aborted, is retried by its own policy)."""
    from django.db import OperationalError
    from django.db.backends.postgresql.operations import DatabaseOperations
    from psycopg.errors import DeadlockDetected

    flush = DatabaseOperations.execute_sql_flush
    if getattr(flush, "retries_deadlocks", False):
        return

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        for attempt in range(5):
            try:
                return flush(self, sql_list)
            except OperationalError as exc:
                if not isinstance(exc.__cause__, DeadlockDetected) or attempt == 4:
                    raise

    execute_sql_flush.retries_deadlocks = True  # type: ignore[attr-defined]
    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]


@pytest.fixture
def tenant(db: None) -> Tenant:
    return tenant_ensure(slug="acme")[0]


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    """The standing 'another account' persona: must never see or change acme's data."""
    return tenant_ensure(slug="globex")[0]


@pytest.fixture
def api_key(tenant: Tenant) -> tuple[ApiKey, str]:
    return api_key_create(tenant=tenant, name="test")


@pytest.fixture
def api(api_key: tuple[ApiKey, str]) -> Api:
    return Api(client=Client(), raw_key=api_key[1])


@pytest.fixture
def other_api(other_tenant: Tenant) -> Api:
    return Api(client=Client(), raw_key=api_key_create(tenant=other_tenant)[1])


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """A real Celery worker (threads pool) consuming the embedded Valkey broker."""
    from celery.contrib.testing.worker import start_worker

    from claiv.celery import app

    with django_db_blocker.unblock():
        app.control.purge()
        with start_worker(
            app,
            pool="threads",
            concurrency=2,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
        ) as worker:
            yield worker


@pytest.fixture
def worker(transactional_db: None, celery_worker_session: Any) -> Any:
    """Use with tests that need the pipeline to run: data must be committed to be seen."""
    return celery_worker_session


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")
