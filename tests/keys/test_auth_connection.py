"""The key lookup is each API request's database health check: no `SELECT 1` before it,
and a dead reused connection is replaced without failing the request."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from tests.conftest import Api

# Not inside a test transaction: a request on a reused connection, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def _as_if_a_new_request_started() -> None:
    # A persistent connection (the suite runs with CONN_MAX_AGE 0), then what Django's
    # request_started handler does with it (the test client disconnects that handler):
    # the next use of the connection is health-checked.
    connection.ensure_connection()
    connection.close_at = None
    connection.close_if_unusable_or_obsolete()
    assert connection.health_check_enabled  # CONN_HEALTH_CHECKS, as in production
    assert connection.connection is not None and not connection.health_check_done


@pytest.fixture
def health_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts Django's health checks (`is_usable`: a `SELECT 1`)."""
    calls: list[int] = []
    usable = DatabaseWrapper.is_usable

    def counting(self: DatabaseWrapper) -> bool:
        calls.append(1)
        return usable(self)

    monkeypatch.setattr(DatabaseWrapper, "is_usable", counting)
    return calls


def test_a_request_sends_no_separate_health_check(api: Api, health_checks: list[int]) -> None:
    _as_if_a_new_request_started()
    assert api.get("/v1/usage/limits").status_code == 200
    assert health_checks == []


def test_a_dead_reused_connection_is_replaced(api: Api, health_checks: list[int]) -> None:
    _as_if_a_new_request_started()
    pid = connection.connection.info.backend_pid
    # The server ends the session under the app, as a Postgres restart would.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    assert api.get("/v1/usage/limits").status_code == 200
    assert connection.connection.info.backend_pid != pid
    assert health_checks == []
