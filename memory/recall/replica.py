"""Which database recall reads from: a streaming replica when one is configured and has
caught up with the user, else the primary.

`DATABASE_REPLICA_URL` (claiv/settings.py) adds the `replica` alias. Nothing is routed
globally: recall's statements ask `reads()` / `alias()` for their connection, and only
inside `recall_reads` is that the replica. Everything else, including any write a recall
makes (fact accesses falling back to Postgres), uses `django.db.connection`: the primary.

Read-your-writes. Every change to a user's memory (ingest, each enrichment commit, forget,
explicit memories) writes that user's version (memory.versioning) in the same transaction,
a number drawn from one sequence and never handed out twice. The recall cache already reads
the version from the primary before computing (it must, to know whether an entry is
current), so the freshness check costs one indexed single-row read on the replica, on
cache misses only:

    replica's version of (tenant, user)  ==  primary's version read just before

Since no number is written twice, the replica can show that number only by having
replayed the very transaction that wrote it: the user's latest committed change, with all
its rows. A standby replays in commit order and never goes back, so it then also has
everything committed before, and reads after the check see at least that state. A replica
behind (replay lag, replay paused) or ahead (the user changed again in between) shows
another number, and so does a user without a row (the primary then returns a fresh random
number): that recall runs on the primary, and other users' recalls keep using the replica.
Equality, not `>=`: two transactions drawing numbers concurrently may commit out of order,
so a user's version need not grow. Cheaper than comparing WAL positions (that needs the
user's last commit LSN kept somewhere) and exact per user, where a global lag threshold is
neither.

A replica that cannot be reached, or fails during a recall (down, restarting, a query
cancelled by a recovery conflict), is not an error: the recall is answered by the primary,
and the replica is not tried again for REPLICA_RETRY_SECONDS, so an unreachable host does
not add its connect timeout to every recall.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from memory.models import UserMemoryVersion

logger = logging.getLogger("claiv.recall")

REPLICA = "replica"
# After a replica failure, recalls go to the primary for this long before trying it again.
REPLICA_RETRY_SECONDS = 5.0

T = TypeVar("T")
# The alias recall's statements use; set only around one recall's computation.
_reading: ContextVar[str] = ContextVar("claiv_recall_reads", default=DEFAULT_DB_ALIAS)
_replica_down_until = 0.0


def alias() -> str:
    """The database alias recall reads from in the current context."""
    return _reading.get()


def reads() -> BaseDatabaseWrapper:
    """The connection recall reads from in the current context."""
    return connections[_reading.get()]


def replica_configured() -> bool:
    return REPLICA in connections.settings


@contextmanager
def _reads_on(name: str) -> Iterator[None]:
    token = _reading.set(name)
    try:
        yield
    finally:
        _reading.reset(token)


def replica_version(*, tenant_id: uuid.UUID | str, user_id: str) -> int | None:
    """The user's memory version as the replica has replayed it (None: no row)."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(
            f"SELECT version FROM {UserMemoryVersion._meta.db_table} "
            "WHERE tenant_id = %s AND user_id = %s",
            [str(tenant_id), user_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _replica_failed() -> None:
    global _replica_down_until
    _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
    # Drop the broken connection now rather than at the end of the request.
    try:
        connections[REPLICA].close()
    except (OperationalError, InterfaceError):
        pass


def replica_usable_for(*, tenant_id: uuid.UUID | str, user_id: str, version: int) -> bool:
    """Whether the replica is configured, reachable and shows exactly `version` (the user's
    current version, read from the primary) for this user."""
    if not replica_configured() or time.monotonic() < _replica_down_until:
        return False
    try:
        return replica_version(tenant_id=tenant_id, user_id=user_id) == version
    except (OperationalError, InterfaceError):
        logger.warning("recall replica unavailable: reading from the primary")
        _replica_failed()
        return False


def recall_reads(
    *, tenant_id: uuid.UUID | str, user_id: str, version: int, compute: Callable[[], T]
) -> T:
    """Run `compute` (one recall) with its reads on the replica when it is fresh for this
    user at `version`, else on the primary. A replica failing midway re-runs it on the
    primary."""
    if not replica_usable_for(tenant_id=tenant_id, user_id=user_id, version=version):
        return compute()
    try:
        with _reads_on(REPLICA):
            return compute()
    except (OperationalError, InterfaceError):
        if not connections[REPLICA].errors_occurred:
            raise  # not the replica's failure (Django flags the connection that failed)
        logger.warning("recall replica failed: reading from the primary")
        _replica_failed()
        return compute()
