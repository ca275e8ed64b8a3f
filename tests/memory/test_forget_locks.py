"""Forget running while an enrichment stage holds the same user's event: both finish,
neither gets `deadlock detected` (which the API would have turned into a 503).

The two sides are real transactions on two connections, put in the order that deadlocked
(the stage holds its event row, forget waits for it, then the stage writes its facts),
with events and a look at `pg_stat_activity` instead of sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg.errors
import pytest
from django.db import OperationalError, connection, transaction

from claiv.errors import exception_envelope
from enrichment import workflows
from enrichment.pipeline import stage_run
from enrichment.pipeline.contract import Stage
from enrichment.pipeline.stages import STAGE_FUNCTIONS
from enrichment.tasks import error_is_transient
from memory import forget as forget_module
from memory.forget import ForgetScope, memory_forget
from memory.locks import lock_conflict, retry_on_lock_conflict, sqlstate_of
from memory.models import DeletionReceipt, Event, Fact
from tenants.models import Tenant
from tests.conftest import wait_for
from tests.factories import ingest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _events_left_to_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests run the stages themselves. Their events are not sent to Celery: a
    session worker left running by an earlier test would otherwise enrich them at the
    same time and race the stage under test (and join its deadlock)."""
    monkeypatch.setattr(workflows, "enrichment_enqueue", lambda event_id: None)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _waits_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


class _Side(threading.Thread):
    """Runs `work` on its own database connection; keeps its result or exception."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.pid: int | None = None
        self.started_work = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.pid = _backend_pid()
            self.started_work.set()
            self.result = self.work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.started_work.set()
            connection.close()


def test_forget_waits_for_a_gate_holding_the_event_and_then_deletes_its_facts(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = ingest(tenant, "I live in Oslo and work at Equinor as a geologist.", user_id="u1")
    stage_run(str(event.id), "map")
    # The gate stage pauses inside its apply: its event row is locked by the runner.
    holding, release = threading.Event(), threading.Event()
    real = STAGE_FUNCTIONS["gate"]

    def paused_apply(events: list[Event], payload: Any) -> Any:
        holding.set()
        assert release.wait(timeout=60)
        return real.apply(events, payload)

    monkeypatch.setitem(STAGE_FUNCTIONS, "gate", Stage(real.prepare, paused_apply))
    gate = _Side(lambda: stage_run(str(event.id), "gate", batch=False))
    gate.start()
    assert holding.wait(timeout=60)
    forget = _Side(lambda: memory_forget(tenant=tenant, scope=ForgetScope(user_id="u1")))
    forget.start()
    forget.started_work.wait(timeout=60)
    assert forget.pid is not None
    wait_for(lambda: _waits_on_a_lock(forget.pid) or not forget.is_alive(), timeout=60)
    # Forget now waits for the event row; the gate goes on and writes facts.
    release.set()
    gate.join(timeout=120)
    forget.join(timeout=120)

    assert gate.error is None, repr(gate.error)
    assert forget.error is None, repr(forget.error)
    assert gate.result.ran
    receipt: DeletionReceipt = forget.result
    # Forget ran after the gate committed and deleted the facts it had just written.
    assert receipt.deleted_counts["facts"] >= 1
    assert not Fact.objects.filter(tenant=tenant).exists()
    assert Event.objects.get(pk=event.pk).forgotten_at is not None


def _lock(event: Event) -> None:
    list(Event.objects.select_for_update().filter(pk=event.pk).values_list("id"))


def _deadlock(tenant: Tenant) -> OperationalError:
    """A real `deadlock detected`, as Django raises it: two connections lock two rows
    crosswise; the second closes the cycle only once the first waits."""
    first = ingest(tenant, "first", user_id="u9")
    second = ingest(tenant, "second", user_id="u9")
    a_holds, b_holds, close = threading.Event(), threading.Event(), threading.Event()

    def side_a() -> None:
        with transaction.atomic():
            _lock(first)
            a_holds.set()
            assert b_holds.wait(timeout=60)
            _lock(second)  # waits for b

    def side_b() -> None:
        assert a_holds.wait(timeout=60)
        with transaction.atomic():
            _lock(second)
            b_holds.set()
            assert close.wait(timeout=60)
            _lock(first)  # the cycle: Postgres aborts one side

    a, b = _Side(side_a), _Side(side_b)
    a.start()
    b.start()
    assert b_holds.wait(timeout=60)
    assert a.pid is not None
    wait_for(lambda: _waits_on_a_lock(a.pid) or not a.is_alive(), timeout=60)
    close.set()
    a.join(timeout=120)
    b.join(timeout=120)
    errors = [side.error for side in (a, b) if side.error is not None]
    assert len(errors) == 1, errors  # Postgres aborts exactly one of them
    assert isinstance(errors[0], OperationalError)
    return errors[0]


def test_a_real_deadlock_is_a_transient_stage_error_and_a_lock_conflict(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    error = _deadlock(tenant)
    assert sqlstate_of(error) == psycopg.errors.DeadlockDetected.sqlstate
    assert lock_conflict(error)
    # A stage that loses a deadlock is retried with backoff, never marked failed.
    assert error_is_transient(error)
    # Should one reach the API, its log line tells what it was, without the detail text
    # (which names rows and processes).
    with caplog.at_level(logging.WARNING, logger="claiv.errors"):
        status, _, _ = exception_envelope(error, "r1")
    assert status == 503
    assert "error=OperationalError<DeadlockDetected sqlstate=40P01" in caplog.text
    assert "Process" not in caplog.text and "memory_event" not in caplog.text


def _wrapped(cause: BaseException) -> OperationalError:
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


def test_forget_runs_again_after_losing_a_lock_conflict(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(tenant, "I live in Oslo.", user_id="u1")
    real = forget_module._receipt_append
    calls: list[int] = []

    def conflicting_once(**kwargs: Any) -> DeletionReceipt:
        calls.append(1)
        if len(calls) == 1:
            raise _wrapped(psycopg.errors.DeadlockDetected("deadlock detected"))
        return real(**kwargs)

    monkeypatch.setattr(forget_module, "_receipt_append", conflicting_once)
    receipt = memory_forget(tenant=tenant, scope=ForgetScope(user_id="u1"))
    assert len(calls) == 2
    # The first attempt rolled back whole: one receipt, first in the chain.
    assert list(DeletionReceipt.objects.filter(tenant=tenant).values_list("pk", flat=True)) == [
        receipt.pk
    ]
    assert receipt.sequence == 1


def test_other_database_errors_are_not_retried() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise _wrapped(psycopg.errors.UndefinedTable("no such table"))

    with pytest.raises(OperationalError):
        retry_on_lock_conflict(broken)
    assert calls == [1]
