"""Django's Postgres backend whose connection pool checks a connection without a round trip.

With `CONN_HEALTH_CHECKS` and a pool, Django has psycopg_pool run `check_connection` (an
empty query: one round trip to Postgres) on every checkout, and the ASGI server checks a
connection out for every request (each request runs in a thread of its own). Here the
check first looks at the idle connection's socket, without waiting: a connection the
server ended (a restart, `pg_terminate_backend`, an idle timeout) has its goodbye and the
end of the stream waiting there, so only then is the round trip made, and it fails, and
the pool replaces the connection as before. A connection whose peer vanished without a
word (a cut network) would pass the check, but it passed the old one only after the TCP
timeout as well, so nothing is lost there.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg import pq
from psycopg_pool import ConnectionPool


def check_without_round_trip(conn: psycopg.Connection[Any]) -> None:
    """Raise if a pooled connection is known dead; a round trip only when in doubt.

    Idle, the server sends nothing unless it is about to close the session (an error
    report) or, rarely, a notice or a parameter change; any input waiting on the socket
    sends the connection through psycopg_pool's full check."""
    if conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the pooled connection is closed")
    # poll, not select: select refuses descriptors above FD_SETSIZE (1024), which a busy
    # server process holding many client sockets can reach.
    waiting = select.poll()
    waiting.register(conn.pgconn.socket, select.POLLIN)
    if waiting.poll(0):
        ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool[Any] | None:
        # Django's own construction (django.db.backends.postgresql.base), with the check
        # above instead of `ConnectionPool.check_connection`; Django then finds the pool
        # made and uses it.
        options = self.settings_dict["OPTIONS"].get("pool")
        pools: dict[str, Any] = self._connection_pools  # type: ignore[attr-defined]
        if (
            options
            and self.alias != NO_DB_ALIAS
            and self.alias not in pools
            and self.settings_dict["CONN_HEALTH_CHECKS"]
            and self.settings_dict.get("CONN_MAX_AGE", 0) == 0
        ):
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets the real mode later on
            pool: ConnectionPool[Any] = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,  # type: ignore[attr-defined]
                check=check_without_round_trip,
                **(options if isinstance(options, dict) else {}),
            )
            pools.setdefault(self.alias, pool)
        return super().pool  # type: ignore[no-any-return]
