"""The test session leaves no process running: a Postgres a test restarted is the one the
session's end stops, and a process a test forgot to stop fails the run (and is killed)."""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from django.db import connections

from tests.plugins.services import (
    SESSION_MARKER,
    leftovers_stop,
    postgres_server,
    processes_left,
)


def test_a_restarted_postgres_is_the_one_its_handle_stops(
    embedded_services: dict[str, str],
) -> None:
    connections.close_all()  # no connection of this process across the restart
    control = postgres_server()
    control.stop()
    control.start()
    running = int((Path(control.server.pgdata) / "postmaster.pid").read_text().split()[0])
    # The library stops the server by this handle at the session's end (and at exit).
    info = control.server.get_postmaster_info()
    assert info.pid == running
    assert info.is_running()


def test_the_session_marks_its_children() -> None:
    token = os.environ[SESSION_MARKER]
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        assert child.pid in [pid for pid, _ in processes_left(token)]
    finally:
        child.communicate(b"")
    assert child.pid not in [pid for pid, _ in processes_left(token)]


def test_a_process_left_running_is_named_and_killed() -> None:
    """What the session's end does with a process a test forgot to stop (the same function
    `pytest_sessionfinish` calls; the session then fails)."""
    token = secrets.token_hex(8)
    forgotten = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={**os.environ, SESSION_MARKER: token},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stopped = subprocess.Popen(
        [sys.executable, "-c", "pass"], env={**os.environ, SESSION_MARKER: token}
    )
    stopped.wait()
    report = io.StringIO()
    try:
        left = leftovers_stop(token, 0.0, report)
        assert [pid for pid, _ in left] == [forgotten.pid]
        assert f"pid {forgotten.pid}: " in report.getvalue()
        assert "time.sleep(600)" in report.getvalue()
        assert forgotten.wait() == -signal.SIGKILL
        # Nothing left: nothing reported.
        quiet = io.StringIO()
        assert leftovers_stop(token, 0.0, quiet) == [] and quiet.getvalue() == ""
    finally:
        if forgotten.poll() is None:
            forgotten.kill()
            forgotten.wait()
