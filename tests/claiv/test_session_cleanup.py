"""The test session leaves no process running: a Postgres a test restarted is the one the
session's end stops, and a process a test forgot to stop fails the run (and is killed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connections

from tests.plugins.services import SESSION_MARKER, postgres_server, processes_left

ROOT = Path(__file__).resolve().parents[2]


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


_LEAKY = """
import subprocess, sys

def test_forgets_a_child():
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )
    print("child", child.pid)

def test_stops_its_child():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
"""


def _session(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A pytest session of its own with the services plugin (no server: none is needed)."""
    test_file = tmp_path / "test_leaky.py"
    test_file.write_text(_LEAKY)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.plugins.services", "-p", "no:cacheprovider"]
        + ["-s", "--rootdir", str(tmp_path), str(test_file), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_process_left_running_fails_the_session_and_is_killed(tmp_path: Path) -> None:
    clean = _session(tmp_path, "-k", "stops_its_child")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    leaky = _session(tmp_path, "-k", "forgets_a_child")
    assert leaky.returncode == 1, leaky.stdout + leaky.stderr
    assert "still running at its end" in leaky.stderr
    pid = int(leaky.stdout.split("child ", 1)[1].split()[0])
    assert f"pid {pid}: " in leaky.stderr
    assert not Path(f"/proc/{pid}").exists() or (
        Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    )
