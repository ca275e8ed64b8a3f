"""The enrichment worker lowers its own CPU priority (claiv.worker_priority), and its
session's autogroup weight only when the session is its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = (
    "import os, re; from pathlib import Path; "
    "from claiv.worker_priority import worker_priority_lower; "
    "before = os.nice(0); worker_priority_lower({nice}); "
    "group = Path('/proc/self/autogroup'); "
    "text = group.read_text() if os.access(group, os.R_OK) else ''; "
    "found = re.search(r'nice\\s+(-?\\d+)', text); "
    "print(os.nice(0) - before, found.group(1) if found else '-')"
)


def _group_nice() -> str:
    """This process's autogroup nice, or "-" where the kernel (or a sandbox) shows none:
    some CI containers have the file but leave it empty, others may not let it be read."""
    group = Path("/proc/self/autogroup")
    text = group.read_text() if os.access(group, os.R_OK) else ""
    found = re.search(r"nice\s+(-?\d+)", text)
    return found.group(1) if found else "-"


def _run(nice: int, *, own_session: bool) -> tuple[int, str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(nice=nice)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=own_session,
    ).stdout.split()
    return int(out[0]), out[1]


def test_the_worker_lowers_its_priority_and_its_own_sessions_weight() -> None:
    raised, group_nice = _run(7, own_session=True)
    assert raised == 7
    if group_nice == "-":
        pytest.skip("no sched_autogroup on this kernel")
    assert group_nice == "7"


def test_a_shared_session_keeps_its_weight_and_zero_changes_nothing() -> None:
    assert _run(7, own_session=False) == (7, _group_nice())
    assert _run(0, own_session=True)[0] == 0
