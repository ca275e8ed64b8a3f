"""Lock helpers shared by every writer of a user's derived memory (enrichment stages,
forget), and the retry of a transaction that lost a lock conflict.

Lock order, the same on every path, so that no two of them can wait on each other in a
cycle (see `memory.forget` and `enrichment.pipeline.runner`):

1. the tenant row, only by receipt writers (forget, memory delete), and `FOR NO KEY
   UPDATE`: it serialises the receipt chain without blocking the `FOR KEY SHARE` lock a
   foreign-key check of any insert into the tenant (an event, a fact, a version row) takes;
2. event rows (a stage: its own event, plus batch members only with SKIP LOCKED; forget:
   the matching events, in id order);
3. the users' advisory locks (`users_lock`, in key order);
4. facts, fact sources, candidates, episodes;
5. the users' memory version rows (`memory.versioning`, in sorted order), last.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg.errors
from django.db import OperationalError, connection

logger = logging.getLogger("claiv.memory")

T = TypeVar("T")

# Postgres aborted the transaction to break a lock cycle or a serialisation conflict: the
# same transaction run again succeeds (the other side has committed by then).
RETRYABLE_SQLSTATES = frozenset(
    {psycopg.errors.DeadlockDetected.sqlstate, psycopg.errors.SerializationFailure.sqlstate}
)


def _user_key(tenant_id: Any, user_id: str) -> int:
    digest = hashlib.sha256(f"{tenant_id}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def users_lock(users: set[tuple[str, str]]) -> None:
    """Serialise fact and episode writes per user (transaction-scoped advisory locks).
    Several users' locks are taken in one statement in key order, so that two
    transactions locking overlapping sets cannot deadlock."""
    keys = sorted({_user_key(t, u) for t, u in users})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k", [keys]
            )


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (Django wraps psycopg's, which carries it)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = seen.__cause__ or seen.__context__
    return None


def lock_conflict(exc: BaseException) -> bool:
    """Whether Postgres aborted the transaction for a deadlock or serialisation failure."""
    return isinstance(exc, OperationalError | psycopg.OperationalError) and (
        sqlstate_of(exc) in RETRYABLE_SQLSTATES
    )


def retry_on_lock_conflict(run: Callable[[], T], *, attempts: int = 3) -> T:
    """Run `run` (one whole transaction) again when Postgres aborts it for a deadlock or a
    serialisation failure. Outside a transaction only: inside one, the abort has spoiled
    the caller's transaction too, so the error goes up as is."""
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except OperationalError as exc:
            if attempt == attempts or connection.in_atomic_block or not lock_conflict(exc):
                raise
            logger.warning(
                "transaction retried after lock conflict sqlstate=%s attempt=%d",
                sqlstate_of(exc),
                attempt,
            )
    raise AssertionError("unreachable")
