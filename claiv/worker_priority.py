"""The enrichment worker runs at a lower CPU priority than the web server.

Enrichment is asynchronous by contract; an ingest's latency is what a client waits on. On a
host where both share the cores, a worker at the same priority takes as much CPU as the web
processes (embedding is the heaviest work of the system), and ingest latency grows with
the enrichment backlog. `CLAIV_WORKER_NICE` (default 10; 0 = unchanged) is added to the
worker's nice value in its main process before the pool forks, so every pool process
inherits it. Enrichment then uses the CPU the web leaves idle and still gets all of it on an
idle host (nice lowers a share, it does not cap it).

Linux with `sched_autogroup` (most desktop and some server kernels) weighs each session
against the others first, and a nice value only orders tasks inside their session. A worker
that leads its own session (started by a supervisor with `setsid`, as `bench/stack.py`
does) also lowers its session's autogroup weight (`/proc/self/autogroup`); one that shares a
session with other processes (a shell running the whole stack) leaves it, since that would
lower them too. Raising niceness needs no privilege.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger("claiv.celery")

AUTOGROUP = Path("/proc/self/autogroup")


def worker_priority_lower(nice: int) -> None:
    """Add `nice` to this process's nice value (and its autogroup's, when the process
    leads its session). Failures are logged, never raised: priority is an optimisation."""
    if nice <= 0:
        return
    try:
        os.nice(nice)
    except OSError as exc:
        logger.warning("could not lower the worker's CPU priority: %s", exc)
        return
    if os.getsid(0) != os.getpid() or not AUTOGROUP.exists():
        return
    try:
        AUTOGROUP.write_text(str(min(19, nice)))
    except OSError as exc:  # some kernels or sandboxes refuse it
        logger.info("autogroup nice not set: %s", exc)
