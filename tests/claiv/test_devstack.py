"""`make dev`'s supervisor (claiv.devstack) with small fake child processes: readiness waits
while children live, failures name the process and its last lines, crashed children are
restarted with backoff, no key is minted for a stack that never came up."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from claiv import devstack
from claiv.devstack import Child, StackFailed, Supervisor, restart_delay
from tests.conftest import wait_for

PY = sys.executable
# Generous bounds for processes to start or exit on a busy machine; nothing is timed.
BOUND = 60.0


def fake(name: str, script: str, **kwargs: object) -> Child:
    return Child(name, [PY, "-u", "-c", script], dict(os.environ), **kwargs)  # type: ignore[arg-type]


SLEEPER = "import time\nprint('starting up')\nwhile True: time.sleep(1)"


@pytest.fixture
def supervisors() -> Iterator[list[Supervisor]]:
    """Supervisors made by a test; all their children are stopped at the end."""
    made: list[Supervisor] = []
    yield made
    for supervisor in made:
        supervisor.stop_all()


class Clock:
    """A clock the test moves: restart delays are checked without waiting for them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_restart_delay_doubles_up_to_the_cap() -> None:
    assert [restart_delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert restart_delay(3, base=0.5, cap=10) == 4.0


def test_a_child_that_exits_is_restarted_after_its_backoff(supervisors: list[Supervisor]) -> None:
    clock = Clock()
    crasher = fake("crasher", "print('crashing now'); raise SystemExit(3)")
    steady = fake("steady", SLEEPER)
    supervisor = Supervisor([crasher, steady], clock=clock, stable_after=60.0)
    supervisors.append(supervisor)
    supervisor.start_all()
    steady_pid = steady.popen.pid  # type: ignore[union-attr]

    pids = []
    for attempt, delay in enumerate([1.0, 2.0, 4.0]):
        pids.append(crasher.popen.pid)  # type: ignore[union-attr]
        wait_for(lambda: crasher.exit_code() is not None, timeout=BOUND)
        supervisor.watch_once()  # notices the exit, schedules the restart
        assert crasher.restart_at == clock.now + delay
        assert crasher.seen("crashing now")
        clock.now += delay - 0.01
        supervisor.watch_once()
        assert crasher.popen.pid == pids[-1] and crasher.restarts == attempt  # type: ignore[union-attr]
        clock.now += 0.01
        supervisor.watch_once()  # due: started again
        assert crasher.restarts == attempt + 1 and crasher.restart_at is None
        assert crasher.popen.pid not in pids  # type: ignore[union-attr]

    # The other child was never touched.
    assert steady.alive() and steady.popen.pid == steady_pid  # type: ignore[union-attr]


def test_backoff_starts_over_once_a_child_stayed_up(supervisors: list[Supervisor]) -> None:
    clock = Clock()
    child = fake("flaky", SLEEPER)
    supervisor = Supervisor([child], clock=clock, stable_after=60.0)
    supervisors.append(supervisor)
    child.start()
    child.restarts = 4
    child.started_at = clock.now
    clock.now += 59.0
    supervisor.watch_once()
    assert child.restarts == 4
    clock.now += 1.0
    supervisor.watch_once()
    assert child.restarts == 0 and child.alive()


def test_wait_ready_keeps_waiting_while_children_live_and_are_not_ready(
    supervisors: list[Supervisor], capsys: pytest.CaptureFixture[str]
) -> None:
    flag = Path(os.environ["CLAIV_DATA_DIR"]) / f"ready-{os.getpid()}"
    flag.unlink(missing_ok=True)
    slow = fake("slowpoke", SLEEPER, ready=lambda child: flag.exists())
    polls = {"n": 0}

    def ready_after_polls(child: Child) -> bool:
        # Ready on the 20th look: the waiting must outlast many polls and progress lines.
        polls["n"] += 1
        return polls["n"] >= 20

    other = fake("other", SLEEPER, ready=ready_after_polls)
    supervisor = Supervisor([slow, other])
    supervisors.append(supervisor)
    supervisor.start_all()
    flag.touch()
    try:
        assert supervisor.wait_ready(limit=BOUND * 10, progress_every=0.0, poll=0.01) is True
    finally:
        flag.unlink()
    assert polls["n"] == 20
    out = capsys.readouterr().out
    assert "[dev] waiting for other (" in out
    assert "slowpoke" not in out.split("[dev] waiting for", 1)[1].split("\n")[0]


def test_wait_ready_fails_naming_the_child_that_exited_with_its_last_lines(
    supervisors: list[Supervisor],
) -> None:
    lines = "".join(f"print('line {n}');" for n in range(40))
    dying = fake(
        "worker", lines + "print('Traceback: boom'); raise SystemExit(7)", ready=lambda child: False
    )
    steady = fake("api", SLEEPER, ready=lambda child: False)
    supervisor = Supervisor([steady, dying])
    supervisors.append(supervisor)
    supervisor.start_all()
    with pytest.raises(StackFailed) as failure:
        supervisor.wait_ready(limit=BOUND * 10, poll=0.05)
    message = str(failure.value)
    assert message.startswith("worker exited with code 7 before the system was up")
    assert "Traceback: boom" in message and "line 39" in message
    assert "line 9\n" not in message  # only the last lines (30)
    assert steady.alive()  # the failure is reported; stopping is the caller's job


def test_wait_ready_fails_after_the_limit_naming_who_is_not_ready(
    supervisors: list[Supervisor],
) -> None:
    clock = Clock()
    stuck = fake("api", SLEEPER, ready=lambda child: False)
    supervisor = Supervisor([stuck], clock=clock)
    supervisors.append(supervisor)
    supervisor.start_all()
    wait_for(lambda: stuck.seen("starting up"), timeout=BOUND)

    def later(child: Child) -> bool:
        clock.now += 301.0
        return False

    stuck.ready = later
    with pytest.raises(StackFailed) as failure:
        supervisor.wait_ready(limit=600.0, poll=0.01)
    assert str(failure.value).startswith("api not ready after 600 s although running")
    assert "starting up" in str(failure.value)


def test_stop_all_leaves_no_process_behind(supervisors: list[Supervisor]) -> None:
    # A child with a grandchild in its process group, and one that ignores SIGTERM.
    parent = fake(
        "parent",
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('grandchild', p.pid, flush=True)\n"
        "while True: time.sleep(1)",
    )
    stubborn = fake(
        "stubborn",
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ignoring', flush=True)\n"
        "while True: time.sleep(1)",
    )
    supervisor = Supervisor([parent, stubborn], stop_grace=1.0)
    supervisor.start_all()
    wait_for(lambda: parent.seen("grandchild") and stubborn.seen("ignoring"), timeout=BOUND)
    grandchild = int(next(line for line in parent.lines if "grandchild" in line).split()[1])
    supervisor.stop_all()
    assert parent.exit_code() is not None and stubborn.exit_code() is not None
    wait_for(
        lambda: (
            not Path(f"/proc/{grandchild}").exists()
            or "Z" in Path(f"/proc/{grandchild}/stat").read_text().rsplit(")", 1)[1][:3]
        ),
        timeout=BOUND,
    )


def test_stop_asks_the_leader_which_stops_its_own_children(supervisors: list[Supervisor]) -> None:
    # As a Celery worker's warm shutdown: the leader lets its child finish, then exits. A
    # SIGTERM sent to the whole group would reach the child first.
    leader = fake(
        "leader",
        "import signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import signal, time\\n"
        "signal.signal(signal.SIGTERM, lambda *a: print(\\'child got SIGTERM\\', flush=True))\\n"
        "print(\\'child up\\', flush=True)\\n"
        "time.sleep(600)'])\n"
        "def finish(*args):\n"
        "    print('leader stopping', flush=True)\n"
        "    child.kill(); child.wait()\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, finish)\n"
        "while True: time.sleep(1)",
    )
    supervisor = Supervisor([leader], stop_grace=BOUND)
    supervisor.start_all()
    wait_for(lambda: leader.seen("child up"), timeout=BOUND)
    supervisor.stop_all()
    assert leader.exit_code() == 0
    leader.last_lines()  # the output left in the pipe
    assert leader.seen("leader stopping")
    assert not leader.seen("child got SIGTERM")


def test_public_base_url_follows_port_unless_the_user_set_it() -> None:
    assert devstack.public_base_url({"PORT": "18797"}) == "http://127.0.0.1:18797"
    assert devstack.public_base_url({}) == "http://127.0.0.1:8000"
    assert (
        devstack.public_base_url(
            {"PORT": "18797", "CLAIV_PUBLIC_BASE_URL": "https://memory.example.com"}
        )
        == "https://memory.example.com"
    )


def test_metrics_dir_is_emptied_only_when_make_dev_chose_it(tmp_path: Path) -> None:
    own = tmp_path / "data" / "metrics"
    own.mkdir(parents=True)
    (own / "counter_123.db").write_bytes(b"x")  # a previous run's process
    assert devstack.metrics_dir_fresh({"CLAIV_DATA_DIR": str(tmp_path / "data")}) == own
    assert list(own.iterdir()) == []
    given = tmp_path / "theirs"
    given.mkdir()
    (given / "counter_456.db").write_bytes(b"x")  # a live process of whoever set it
    assert devstack.metrics_dir_fresh({"PROMETHEUS_MULTIPROC_DIR": str(given)}) == given
    assert [p.name for p in given.iterdir()] == ["counter_456.db"]


def test_the_api_command_and_children_get_the_public_url(tmp_path: Path) -> None:
    env = {
        "PORT": "18797",
        "CLAIV_DATA_DIR": str(tmp_path),
        "CLAIV_PUBLIC_BASE_URL": "http://127.0.0.1:18797",
    }
    api, worker, beat = devstack.stack_children(env, python="py")
    assert api.args == [
        "py",
        "-m",
        "gunicorn",
        "--config",
        "python:claiv.gunicorn_conf",
        "--bind",
        "127.0.0.1:18797",
        "--workers",
        "2",
    ]
    assert [api.name, worker.name, beat.name] == ["api", "worker", "beat"]
    assert beat.args[-1] == str(tmp_path / "celerybeat-schedule")
    assert all(
        c.env["CLAIV_PUBLIC_BASE_URL"] == "http://127.0.0.1:18797" for c in (api, worker, beat)
    )


def test_no_key_is_minted_when_the_api_never_becomes_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() with the servers and manage.py faked: the API child dies while starting."""
    monkeypatch.setenv("CLAIV_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PORT", "18797")
    monkeypatch.setenv("DATABASE_URL", "postgres://unused/db")
    monkeypatch.setenv("REDIS_URL", "redis://unused/0")
    monkeypatch.delenv("CLAIV_PUBLIC_BASE_URL", raising=False)
    manage_calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(devstack, "_manage", lambda env, *args: manage_calls.append(args) or "")
    minted: list[object] = []
    monkeypatch.setattr(devstack, "demo_key_create", lambda env: minted.append(env) or "ck_x")
    seen_env: dict[str, str] = {}

    def children(env: dict[str, str], python: str = PY) -> list[Child]:
        seen_env.update(env)
        return [
            fake("api", "print('loading torch'); raise SystemExit(1)", ready=lambda child: False),
            fake("worker", SLEEPER, ready=lambda child: False),
        ]

    monkeypatch.setattr(devstack, "stack_children", children)
    with mock.patch("signal.signal"):  # leave the test process's handlers alone
        assert devstack.main() == 1
    assert minted == []
    assert [call[0] for call in manage_calls] == ["migrate", "backfill_time_notes", "create_tenant"]
    out = capsys.readouterr().out
    assert "api exited with code 1 before the system was up" in out
    assert "loading torch" in out and "API key" not in out
    assert seen_env["CLAIV_PUBLIC_BASE_URL"] == "http://127.0.0.1:18797"
    written = devstack.env_file_read(tmp_path / "dev.env")
    assert written["CLAIV_PUBLIC_BASE_URL"] == "http://127.0.0.1:18797"
    assert {"SECRET_KEY", "CLAIV_KEY_PEPPER", "CLAIV_RECEIPT_SIGNING_KEY"} <= written.keys()


def _descendants(pid: int) -> set[int]:
    """All processes below `pid` (Linux /proc), zombies excluded."""
    by_parent: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                by_parent.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
    except OSError:
        return False


def _call(base: str, key: str, path: str, body: dict[str, object] | None = None) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# gunicorn's arbiter on a worker killed by a signal or exiting non-zero; Celery's on a pool
# process that did.
DIED_BADLY = re.compile(r"Worker \(pid:\d+\) (?:was sent|exited with code)|exited with 'signal")


@pytest.mark.slow
def test_make_dev_end_to_end_comes_up_serves_and_stops_everything_on_ctrl_c(
    transactional_db: None, tmp_path: Path
) -> None:
    """`python -m claiv.devstack` against the session's Postgres (test database) and Valkey
    (a database of its own), on a free port: key line, ingest, enriched, recall, Ctrl-C."""
    import signal
    import subprocess
    import threading
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    from claiv.embedded import free_port

    port = free_port()
    database = urlsplit(os.environ["DATABASE_URL"])._replace(
        path="/" + settings.DATABASES["default"]["NAME"]
    )
    env = {
        **os.environ,
        "CLAIV_DATA_DIR": str(tmp_path),
        "PORT": str(port),
        "DATABASE_URL": urlunsplit(database),
        "REDIS_URL": os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/6",
    }
    env.pop("CLAIV_PUBLIC_BASE_URL", None)
    popen = subprocess.Popen(
        [PY, "-m", "claiv.devstack"],
        cwd=devstack.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(popen.stdout or []), daemon=True)
    reader.start()
    try:
        # Generous: three processes load torch and the model on a possibly busy machine.
        wait_for(
            lambda: any("API key (shown once)" in line for line in out) or popen.poll() is not None,
            timeout=900,
            interval=1.0,
        )
        assert popen.poll() is None, "".join(out[-40:])
        key = out[next(i for i, line in enumerate(out) if "API key (shown once)" in line) + 1]
        key = key.strip()
        assert key.startswith("ck_")
        base = f"http://127.0.0.1:{port}"
        assert (tmp_path / "dev.env").read_text().count(f"CLAIV_PUBLIC_BASE_URL={base}\n") == 1

        event_id = _call(
            base,
            key,
            "/v1/ingest",
            {
                "user_id": "alice",
                "type": "message",
                "role": "user",
                "thread_id": "t1",
                "content": "I live in Berlin and I love hiking.",
            },
        )["event_id"]
        wait_for(
            lambda: _call(base, key, f"/v1/events/{event_id}")["status"] == "enriched",
            timeout=600,
            interval=1.0,
        )
        recall = _call(
            base,
            key,
            "/v1/recall",
            {"user_id": "alice", "token_budget": 500, "task": "Where does the user live?"},
        )
        assert "Berlin" in recall["system_context"]
        children = _descendants(popen.pid)
        assert len(children) >= 7  # gunicorn + 2 workers, celery worker + 2, beat

        popen.send_signal(signal.SIGINT)  # Ctrl-C
        assert popen.wait(timeout=120) == 0
        reader.join(timeout=10)
        assert "[dev] stopped" in "".join(out)
        # Every child stopped cleanly: no worker aborted at exit (ONNX Runtime's exit
        # handlers in forked children) or needed SIGKILL.
        assert not DIED_BADLY.findall("".join(out)), "".join(out[-60:])
        left = {pid for pid in children if _running(pid)}
        assert left == set()
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()


def test_a_ready_line_pushed_out_of_the_last_lines_still_counts(
    supervisors: list[Supervisor],
) -> None:
    """A worker says " ready." and then logs task after task (beat's sweeps) while the API is
    still loading the model: its readiness must not scroll away with its last lines."""
    base = Path(os.environ["CLAIV_DATA_DIR"])
    go, api_flag = base / f"go-{os.getpid()}", base / f"api-ready-{os.getpid()}"
    go.unlink(missing_ok=True)
    api_flag.unlink(missing_ok=True)
    says_ready = devstack.log_says(" ready.")

    def worker_ready(child: Child) -> bool:
        ready = says_ready(child)
        if ready:
            go.touch()  # seen ready once: now the worker buries the line under task lines
        return ready

    chatty = fake(
        "worker",
        "import os, time\nprint('worker ready.')\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        "for i in range(200): print('task', i)\nwhile True: time.sleep(1)",
        ready=worker_ready,
    )

    def api_ready(child: Child) -> bool:
        if go.exists() and any("task 199" in line for line in chatty.lines):
            assert not chatty.seen(" ready.")  # scrolled out of the last lines
            api_flag.touch()
        return api_flag.exists()

    api = fake("api", SLEEPER, ready=api_ready)
    supervisor = Supervisor([chatty, api])
    supervisors.append(supervisor)
    supervisor.start_all()
    try:
        assert supervisor.wait_ready(limit=BOUND, progress_every=BOUND, poll=0.01) is True
    finally:
        go.unlink(missing_ok=True)
        api_flag.unlink(missing_ok=True)


def test_a_ready_line_buried_before_the_first_look_still_counts(
    supervisors: list[Supervisor],
) -> None:
    """A worker that wakes to a backlog says " ready." and logs dozens of task lines in the
    same instant (beat queued a sweep every few seconds while the model loaded): the line is
    gone from the last lines before the supervisor's first look, and must still count (a
    fresh `make dev` on a busy machine waited for such a worker until its deadline)."""
    chatty = fake(
        "worker",
        "import time\nprint('celery@host ready.')\n"
        "for i in range(200): print('task', i)\nwhile True: time.sleep(1)",
        ready=devstack.log_says(" ready."),
    )
    supervisor = Supervisor([chatty])
    supervisors.append(supervisor)
    supervisor.start_all()
    wait_for(lambda: any("task 199" in line for line in chatty.lines), timeout=BOUND)
    assert not chatty.seen(" ready.")  # scrolled out before anyone looked
    assert supervisor.wait_ready(limit=BOUND, progress_every=BOUND, poll=0.01) is True
