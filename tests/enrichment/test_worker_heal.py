"""A real prefork Celery worker heals: pool processes killed with SIGKILL are replaced and
the replacements run the pipeline (issue 12: replacements used to be killed forever because
loading the model took longer than Celery's 4 s alive timeout)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
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
from tests.conftest import wait_for
from tests.factories import ingest

pytestmark = [pytest.mark.worker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 2
# Generous: a fresh pool process loads the model in 13-16 s on a quiet machine, and a
# busy one (the whole suite, other engineers) can take several times that.
BOUND = 300.0
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

    return (wait_for(replaced, timeout=BOUND, interval=0.5) - {victim}).pop()


def test_killed_pool_processes_are_replaced_and_serve_tasks(
    prefork_worker: WorkerProcess, tenant: Tenant
) -> None:
    worker = prefork_worker
    wait_for(lambda: any(" ready." in line for line in worker.log), timeout=BOUND, interval=0.5)
    originals = wait_for(lambda: _full_pool(worker), timeout=BOUND, interval=0.5)

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
    wait_for(
        lambda: Event.objects.get(pk=event.pk).status == "enriched", timeout=BOUND, interval=0.5
    )

    # Still the same healthy pool: no replacement was killed for being slow to come up.
    assert worker.pool_pids() == replacements
    assert worker.popen.poll() is None
    log: Any = "".join(worker.log)
    assert "Timed out waiting for UP message" not in log
