"""Two real beat processes: only the leader sends the schedule; when it dies, the other
takes over. Messages are read back from the broker list and told apart by the `origin`
header Celery stamps on each (`gen<pid>@<host>`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
# Overall bound for each condition polled below; beats tick every 0.5 s when all is well.
WAIT_SECONDS = 120


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Beat:
    def __init__(self, name: str, tmp: Path, queue: str) -> None:
        self.log = tmp / f"beat-{name}.log"
        env = os.environ | {"CLAIV_BEAT_TEST_QUEUE": queue, "CLAIV_BEAT_STANDBY_SECONDS": "0.5"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "tests.support.beat_app",
                    "beat",
                    "--scheduler",
                    "claiv.beat_leader:LeaderScheduler",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(tmp / f"schedule-{name}"),
                    "--pidfile",
                    "",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def origin(self) -> str:
        return f"gen{self.process.pid}@"

    def said(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def queue(embedded_services: dict[str, str]) -> Iterator[tuple[str, redis.Redis]]:
    # The beats are subprocesses that connect to Postgres: start it even when no earlier test did.
    name = f"beat-test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield name, client
    client.delete(name)
    client.close()


def _senders(client: redis.Redis, queue: str, beats: list[Beat]) -> Counter[str]:
    """Messages in the queue per beat (by name), and under "other" any from elsewhere."""
    counts: Counter[str] = Counter()
    for raw in client.lrange(queue, 0, -1):
        origin = json.loads(raw)["headers"]["origin"]
        names = [
            name for name, beat in zip("ab", beats, strict=False) if origin.startswith(beat.origin)
        ]
        counts[names[0] if names else "other"] += 1
    return counts


def test_two_beats_send_the_schedule_once_and_the_standby_takes_over(
    tmp_path: Path, queue: tuple[str, redis.Redis]
) -> None:
    name, client = queue
    a = Beat("a", tmp_path, name)
    b: Beat | None = None
    try:
        _wait_for(lambda: _senders(client, name, [a])["a"] >= 2, "beat a to send")
        assert a.said("beat leader: holding the leader lock")

        b = Beat("b", tmp_path, name)
        _wait_for(
            lambda: b.said("beat standby: another beat holds the leader lock"), "beat b to stand by"
        )
        # Several more of a's ticks while b stands by (it retries every 0.5 s).
        sent = _senders(client, name, [a, b])["a"]
        _wait_for(lambda: _senders(client, name, [a, b])["a"] >= sent + 4, "more a ticks")
        during = _senders(client, name, [a, b])
        assert during["b"] == 0 and during["other"] == 0
        assert not b.said("beat leader: holding")

        # The leader dies without a word: its session ends, Postgres releases the lock.
        a.stop(signal.SIGKILL)
        a_total = _senders(client, name, [a, b])["a"]
        _wait_for(lambda: _senders(client, name, [a, b])["b"] >= 2, "beat b to take over")
        assert b.said("beat leader: holding the leader lock")
        after = _senders(client, name, [a, b])
        assert after["a"] == a_total and after["other"] == 0
    finally:
        a.stop()
        if b is not None:
            b.stop()
