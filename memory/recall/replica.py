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
import os
import threading
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
# Recall's statements may run on a second connection to the same database beside the
# first (`beside`): the vector statements then start while the first connection's backend
# is still ranking by keyword (one backend ran every statement in turn; on 2 cores the
# other core idled once the query was embedded). Off by default: paired runs on a loaded
# machine (load 13-25) gave lh-100000 -19, +1.6 and +11 ms, lh-5000 -9.6 and +4.7 ms
# (BENCHMARKS.md, "Two backends"); on with True if a quiet machine shows the gain.
SECOND_CONNECTION = False
# ... for users with more rows of a kind than this (KeywordCorpus): below, every statement
# takes well under a millisecond and waking a second backend cost more than it saved
# (lh-100 in BENCHMARKS.md). The size where the keyword channels leave the whole-history
# plan (memory.recall.bm25.FEW_ROWS).
SECOND_CONNECTION_ROWS = 2_000
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


class _Beside(threading.local):
    """This thread's second connection per alias (a Django wrapper that is not registered
    in `connections`: request handling neither lends nor closes it)."""

    def __init__(self) -> None:
        self.wrappers: dict[str, tuple[int, BaseDatabaseWrapper]] = {}


_beside = _Beside()


def _second(name: str) -> BaseDatabaseWrapper:
    held = _beside.wrappers.get(name)
    # A wrapper made before a fork is the parent's: never used (nor closed) in the child.
    # One made for other settings of the alias (tests register a replica per module) is
    # closed and replaced.
    if held is not None and held[0] == os.getpid():
        if held[1].settings_dict is not connections.settings[name]:
            held[1].close()
            held = None
    if held is None or held[0] != os.getpid():
        held = (os.getpid(), connections.create_connection(name))
        _beside.wrappers[name] = held
    wrapper = held[1]
    # What Django does for its own connections around each request: drop a connection
    # that failed or outlived CONN_MAX_AGE (pooled ones are returned after every use).
    wrapper.close_if_unusable_or_obsolete()
    return wrapper


@contextmanager
def beside(rows: int) -> Iterator[BaseDatabaseWrapper | None]:
    """A second connection to the database recall reads from, in a transaction and in
    pipeline mode for the duration (`channels.send(on=...)`), or None where one
    connection serves: `SECOND_CONNECTION` off, a user with at most
    `SECOND_CONNECTION_ROWS` `rows` (the most of any kind), or the caller's transaction
    open on the first (its uncommitted writes are visible on that connection only).

    Snapshots: each statement of a recall already took its own (read committed), so two
    connections read no less consistently than one; a change committed before the recall
    (a forget) is seen by both. With a pool (DB_POOL) the connection is borrowed for the
    recall and returned; without one it stays open for this thread's next recall, like
    Django's own (CONN_MAX_AGE)."""
    name = alias()
    if not SECOND_CONNECTION or rows <= SECOND_CONNECTION_ROWS or connections[name].in_atomic_block:
        yield None
        return
    wrapper = _second(name)
    try:
        with wrapper.wrap_database_errors:
            wrapper.ensure_connection()
            raw = wrapper.connection
            with raw.pipeline(), raw.transaction():
                yield wrapper
    finally:
        # The Postgres backend's `pool` (DB_POOL); other backends have none.
        if getattr(wrapper, "pool", None) is not None or wrapper.errors_occurred:
            wrapper.close()


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
        second = _beside.wrappers.get(REPLICA)
        if not connections[REPLICA].errors_occurred and not (
            second is not None and second[1].errors_occurred
        ):
            raise  # not the replica's failure (Django flags the connection that failed)
        logger.warning("recall replica failed: reading from the primary")
        _replica_failed()
        return compute()
