"""A real prefork Celery worker heals: pool processes killed with SIGKILL are replaced and
the replacements run the pipeline (issue 12: replacements used to be killed forever because
loading the model took longer than Celery's 4 s alive timeout)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from claiv.celery import app
from enrichment.workflows import enrichment_chain
from memory.models import Event
from tenants.models import Tenant
from tests.factories import ingest

pytestmark = [pytest.mark.worker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 2
# The waits below are bounded by the CPU the worker's processes spent, not by the clock: a
# fresh pool process loads the model in 13-16 CPU s, and on a busy host the wall time for
# that can be many times longer. A worker that spends this much CPU without getting there
# is broken; one that spends none for WALL_BOUND (hung, or starved that long) fails too.
CPU_BOUND = 240.0
WALL_BOUND = 3600.0
# Its own Redis database: the suite's in-process worker (threads pool, database 0) must not
# take these tasks, or the test would prove nothing about the prefork pool.
BROKER_DB = 7


@dataclass
class WorkerProcess:
    popen: subprocess.Popen[str]
    broker_url: str
    log: list[str] = field(default_factory=list)

    def pool_pids(self) -> set[int]:
        """The worker's pool processes: its direct children (Linux /proc)."""
        return set(_children(self.popen.pid))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children it has reaped (utime, stime, cutime,
    cstime from /proc/<pid>/stat); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _worker_cpu_seconds(worker: WorkerProcess) -> float:
    pid = worker.popen.pid
    return _cpu_seconds(pid) + sum(_cpu_seconds(child) for child in _children(pid))


def wait_for_worker(worker: WorkerProcess, predicate: Callable[[], Any]) -> Any:
    """Poll `predicate` until truthy, while the worker lives and has spent under CPU_BOUND
    CPU seconds since the wait began (WALL_BOUND as the last resort)."""
    spent_before = _worker_cpu_seconds(worker)
    deadline = time.monotonic() + WALL_BOUND
    while True:
        value = predicate()
        if value:
            return value
        assert worker.popen.poll() is None, "the worker exited:\n" + "".join(worker.log[-40:])
        spent = _worker_cpu_seconds(worker) - spent_before
        if spent > CPU_BOUND or time.monotonic() > deadline:
            pytest.fail(
                f"not reached after {spent:.0f} CPU s of the worker:\n" + "".join(worker.log[-40:])
            )
        time.sleep(0.5)


def _test_database_url() -> str:
    """DATABASE_URL of the session, pointing at the test database pytest-django created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + settings.DATABASES["default"]["NAME"]))


@pytest.fixture
def prefork_worker(transactional_db: None) -> Iterator[WorkerProcess]:
    broker = os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{BROKER_DB}"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": broker,
        # Celery's own default: the replacement must come up in time without a margin.
        "CELERY_PROC_ALIVE_TIMEOUT": "4",
        # Healing is under test, not the worker's priority: at the default nice 10 a busy
        # host (the rest of the suite) starves it, and a fork could miss the 4 s above.
        "CLAIV_WORKER_NICE": "0",
    }
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "claiv",
            "worker",
            "-P",
            "prefork",
            "-Q",
            "enrichment",
            "--concurrency",
            str(CONCURRENCY),
            "--loglevel",
            "INFO",
            "-n",
            f"heal-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    worker = WorkerProcess(popen=popen, broker_url=broker)
    assert popen.stdout is not None
    reader = threading.Thread(target=lambda: worker.log.extend(popen.stdout or []), daemon=True)
    reader.start()
    try:
        yield worker
    finally:
        popen.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
        reader.join(timeout=10)


def _full_pool(worker: WorkerProcess) -> set[int]:
    pids = worker.pool_pids()
    return pids if len(pids) == CONCURRENCY else set()


def _kill_and_wait_for_replacement(worker: WorkerProcess, victim: int) -> int:
    os.kill(victim, signal.SIGKILL)

    def replaced() -> set[int]:
        pids = worker.pool_pids()
        return pids if len(pids) == CONCURRENCY and victim not in pids else set()

    return (wait_for_worker(worker, replaced) - {victim}).pop()


def test_killed_pool_processes_are_replaced_and_serve_tasks(
    prefork_worker: WorkerProcess, tenant: Tenant
) -> None:
    worker = prefork_worker
    wait_for_worker(worker, lambda: any(" ready." in line for line in worker.log))
    originals = wait_for_worker(worker, lambda: _full_pool(worker))

    # Both originals killed, one after the other: whatever runs the task below is a
    # replacement, which loads the model after the fork.
    for victim in sorted(originals):
        _kill_and_wait_for_replacement(worker, victim)
    replacements = worker.pool_pids()
    assert len(replacements) == CONCURRENCY and not replacements & originals

    with mock.patch("enrichment.workflows.enrichment_enqueue"):
        event = ingest(tenant, "I live in Tromsø and I work at a fish farm.", user_id="heal")
    with app.connection_for_write(worker.broker_url) as connection:
        enrichment_chain(str(event.id)).apply_async(connection=connection)
    wait_for_worker(worker, lambda: Event.objects.get(pk=event.pk).status == "enriched")

    # Still the same healthy pool: no replacement was killed for being slow to come up.
    assert worker.pool_pids() == replacements
    assert worker.popen.poll() is None
    log: Any = "".join(worker.log)
    assert "Timed out waiting for UP message" not in log
