"""One beat sends the periodic tasks, however many run: a PostgreSQL leader lock.

`celery -A claiv beat --scheduler claiv.beat_leader:LeaderScheduler`. Every beat tries
`pg_try_advisory_lock` on its own connection; the one that gets it is the leader and holds
the lock for as long as that connection lives. The others stand by, trying again every
`CLAIV_BEAT_STANDBY_SECONDS`. When the leader dies its connection closes, Postgres releases
the lock, and the next standby tick of another beat takes it over.

A new leader sends each schedule entry once at takeover (it never saw the old leader's last
run): the periodic tasks here are idempotent sweeps, so at worst one runs early once.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger("claiv.beat_leader")

# A fixed 64-bit advisory lock key, derived from a name so it cannot collide by accident
# with the per-user locks of ingest (which hash tenant and user ids into the same space).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"claiv.beat.leader").digest()[:8], "big", signed=True)
# TCP keepalives on the lock's connection: a leader cut off from Postgres by the network
# loses the lock when the server drops the session (~25 s), and notices on its next tick.
_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class LeaderLock:
    """A session-level advisory lock on a dedicated connection (not Django's, which a pool
    or CONN_MAX_AGE would hand back or close while the lock should still be held)."""

    def __init__(self, *, key: int = LOCK_KEY) -> None:
        self.key = key
        self.connection: Any = None

    def _connect(self) -> Any:
        import psycopg
        from django.db import connections

        params = connections["default"].get_connection_params()
        return psycopg.connect(**params, **_KEEPALIVES, autocommit=True)

    def held(self) -> bool:
        """True while this process holds the lock: try to take it if not, and otherwise
        check the connection still lives (a live session keeps its advisory locks)."""
        try:
            if self.connection is None:
                connection = self._connect()
                acquired = connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", [self.key]
                ).fetchone()[0]
                if not acquired:
                    connection.close()
                    return False
                self.connection = connection
                return True
            self.connection.execute("SELECT 1")
            return True
        except Exception as exc:  # database unreachable: not the leader until it is back
            logger.warning("beat leader lock unavailable: %s", type(exc).__name__)
            self.release()
            return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()  # ends the session, which releases the lock
            except Exception:
                pass
            self.connection = None


class LeaderScheduler(PersistentScheduler):
    """Celery's default scheduler, ticking only while this beat holds the leader lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.leader_lock = LeaderLock()
        self.leading: bool | None = None
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        leading = self.leader_lock.held()
        if leading != self.leading:
            self.leading = leading
            if leading:
                logger.info(
                    "beat leader: holding the leader lock, sending the schedule (instance %s)",
                    settings.INSTANCE_ID,
                )
            else:
                # pg_locks joined with pg_stat_activity's application_name names the leader.
                logger.info(
                    "beat standby: another beat holds the leader lock (instance %s waits)",
                    settings.INSTANCE_ID,
                )
        if not leading:
            return float(settings.CLAIV_BEAT_STANDBY_SECONDS)
        return super().tick(*args, **kwargs)

    def close(self) -> None:
        super().close()
        self.leader_lock.release()
