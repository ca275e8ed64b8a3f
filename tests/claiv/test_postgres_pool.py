"""The ASGI server's pooled connections (claiv.postgres): lending one makes no round trip to
Postgres, and a connection the server ended is still replaced before it is lent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from psycopg_pool import ConnectionPool

from claiv.postgres.base import DatabaseWrapper

# No django_db mark: the pool's connections are not the test case's; the test database is
# the suite's (django_db_setup), reached outside any test transaction.
pytestmark = pytest.mark.usefixtures("django_db_setup")


@pytest.fixture
def round_trip_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts psycopg_pool's checks by query (Django's CONN_HEALTH_CHECKS check of a pool)."""
    calls: list[int] = []
    check = ConnectionPool.check_connection

    def counting(conn: Any) -> None:
        calls.append(1)
        check(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counting))
    return calls


@pytest.fixture
def pooled(
    round_trip_checks: list[int], monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any
) -> Iterator[DatabaseWrapper]:
    """A pooled connection to the test database, as settings make it with DB_POOL."""
    settings = {
        **connection.settings_dict,
        "ENGINE": "claiv.postgres",
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {**connection.settings_dict["OPTIONS"], "pool": {"min_size": 1, "max_size": 1}},
    }
    wrapper = DatabaseWrapper(settings, alias="pool_test")
    # Registered, as django.contrib.postgres looks the new connection up by its alias.
    monkeypatch.setitem(connections.settings, "pool_test", settings)
    connections["pool_test"] = wrapper
    with django_db_blocker.unblock():
        yield wrapper
        wrapper.close()
        wrapper.close_pool()
    del connections["pool_test"]


def _backend_pid(wrapper: DatabaseWrapper) -> int:
    """Borrow a connection as a request does, read its session, give it back."""
    wrapper.ensure_connection()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid: int = cursor.fetchone()[0]
    wrapper.close()
    return pid


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    with psycopg.connect(**params, autocommit=True) as admin:
        # Waits (up to 10 s) until the session has ended: its goodbye is on the socket.
        ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", [pid]).fetchone()
    assert ended == (True,)


def test_lending_a_healthy_connection_makes_no_round_trip(
    pooled: DatabaseWrapper, round_trip_checks: list[int]
) -> None:
    first = _backend_pid(pooled)
    assert _backend_pid(pooled) == first  # the same pooled session, lent again
    assert round_trip_checks == []


def test_a_connection_the_server_ended_is_replaced_before_it_is_lent(
    pooled: DatabaseWrapper, round_trip_checks: list[int]
) -> None:
    first = _backend_pid(pooled)
    _terminate(first)

    assert _backend_pid(pooled) != first  # and the statement on it succeeded
    assert round_trip_checks == [1]  # the dead one was checked by query, and failed
