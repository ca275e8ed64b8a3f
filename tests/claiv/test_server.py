"""The production server (gunicorn with claiv.gunicorn_conf) against idle, slow and lying
clients: a real gunicorn with 2 workers on the test session's Postgres and Valkey."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from claiv.devstack import gunicorn_argv
from keys.models import ApiKey
from memory.models import EnrichmentStatus, Event
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
BODY_TIMEOUT_S = 2.0  # REQUEST_BODY_TIMEOUT for this server: short, so the test is too
# Generous: the issue asks for 1 s on a loaded machine; the old sync workers took 18 s+
# with two idle sockets. A timing bound only because the issue explicitly asks for one.
HEALTHZ_BOUND_S = 5.0
WORKER_WARM = re.compile(r"worker \d+ warm: embedder, tokenizer and date parser")

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@dataclass
class Server:
    host: str
    port: int
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _test_database_url() -> str:
    """The session's DATABASE_URL pointed at the test database pytest-django created."""
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))


def gunicorn_start(
    env: dict[str, str], log: Path, *, workers: int
) -> tuple[subprocess.Popen[bytes], int]:
    """A real gunicorn with the project's config on a free port, once every worker has
    warmed up (post_worker_init logs a line) and `/healthz` answers. Workers load the
    embedding model first (tens of seconds on a busy machine): it waits as long as the server
    is alive, within a generous overall bound."""
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            gunicorn_argv(port, workers),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 600
    while True:
        assert proc.poll() is None, f"gunicorn exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"never ready:\n{log.read_text()[-3000:]}"
        # Each worker logs its own line; the master's "master warm: …" line is not a worker's.
        warm = len(WORKER_WARM.findall(log.read_text()))
        try:
            if warm == workers and _get(port, "/healthz", timeout=5)[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)


def gunicorn_stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    env = {**os.environ, "DATABASE_URL": database_url, "REQUEST_BODY_TIMEOUT": str(BODY_TIMEOUT_S)}
    proc, port = gunicorn_start(env, log, workers=WORKERS)
    try:
        yield Server("127.0.0.1", port, log)
    finally:
        gunicorn_stop(proc)


def _get(port: int, path: str, timeout: float = HEALTHZ_BOUND_S) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _raw(port: int, data: bytes, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one whole response (the server closes refused connections)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())


@pytest.fixture
def raw_key(api_key: tuple[ApiKey, str]) -> str:
    return api_key[1]


def _wait_until_enriched() -> None:
    """Wait until the worker has finished every event the server stored. An ingest through
    the server enqueues enrichment; once any test has started the session's Celery worker
    (tests/conftest.py), it enriches those events in transactions that write events, facts
    and the keyword corpus, and a test ending meanwhile has its TRUNCATE flush deadlock
    against them. Tests that ingest through the server take `worker` (so the events are
    enriched whatever ran before) and wait here before they end."""
    wait_for(
        lambda: (
            not Event.objects.filter(
                status__in=[EnrichmentStatus.PENDING, EnrichmentStatus.PROCESSING]
            ).exists()
        ),
        timeout=300,
    )


def _ingest_body(content: str) -> bytes:
    return json.dumps(
        {"user_id": "u1", "type": "message", "content": content, "conversation_id": "c1"}
    ).encode()


def _head(raw_key: str, extra: str = "") -> bytes:
    return (
        f"POST /v6/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {raw_key}\r\nContent-Type: application/json\r\n"
        f"{extra}"
    ).encode()


def _chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def test_healthz_answers_while_idle_and_half_sent_connections_are_open(server: Server) -> None:
    held: list[socket.socket] = []
    try:
        for i in range(8 * WORKERS):  # 4 × workers idle plus 4 × workers half-sent
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if i % 2:
                sock.sendall(b"GET /heal")  # half a request line, then nothing
            held.append(sock)
        for _ in range(5):
            started = time.monotonic()
            status, body = _get(server.port, "/healthz")
            assert (status, json.loads(body)) == (200, {"ok": True})
            assert time.monotonic() - started < HEALTHZ_BOUND_S
    finally:
        for sock in held:
            sock.close()


def test_a_body_shorter_than_its_content_length_times_out_in_the_envelope(
    server: Server, raw_key: str
) -> None:
    body = _ingest_body("lying length")
    request = _head(raw_key, f"Content-Length: {len(body) + 100}\r\n\r\n") + body
    started = time.monotonic()
    status, headers, payload = _raw(server.port, request)
    waited = time.monotonic() - started
    error = json.loads(payload)["error"]
    assert (status, error["code"]) == (408, "request_timeout")
    assert error["details"] == {"timeout_seconds": BODY_TIMEOUT_S}
    assert headers["content-type"] == "application/json"
    assert waited >= BODY_TIMEOUT_S  # it did wait for the body first
    assert Event.objects.count() == 0
    # Meanwhile the server answers others.
    assert _get(server.port, "/healthz")[0] == 200


def test_a_chunked_ingest_is_read_and_stored(server: Server, raw_key: str, worker: object) -> None:
    body = _ingest_body("sent in chunks " + "x" * 3000)
    status, _, payload = _raw(
        server.port, _head(raw_key, "Transfer-Encoding: chunked\r\n\r\n") + _chunked(body)
    )
    assert status == 200, payload
    event_id = json.loads(payload)["event_id"]
    stored = Event.objects.get()
    assert (str(stored.id), stored.content) == (event_id, "sent in chunks " + "x" * 3000)
    _wait_until_enriched()


def test_an_oversize_chunked_body_is_refused_with_413(server: Server, raw_key: str) -> None:
    body = _ingest_body("y" * (1024 * 1024 + 10))
    status, _, payload = _raw(
        server.port,
        _head(raw_key, "Transfer-Encoding: chunked\r\n\r\n") + _chunked(body, 64 * 1024),
    )
    error = json.loads(payload)["error"]
    assert (status, error["code"]) == (413, "payload_too_large")
    assert error["details"] == {"limit_bytes": 1024 * 1024}
    assert Event.objects.count() == 0


def test_a_long_uri_is_refused_in_the_envelope(server: Server) -> None:
    status, headers, payload = _raw(
        server.port,
        b"GET /healthz?q=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n"
        b"X-Request-ID: long-uri-1\r\n\r\n",
    )
    assert status == 414
    assert headers["x-request-id"] == "long-uri-1"
    assert json.loads(payload) == {
        "error": {
            "code": "uri_too_long",
            "message": "Request URIs are limited to 4096 bytes.",
            "request_id": "long-uri-1",
            "details": {"limit_bytes": 4096},
        }
    }


def test_an_oversize_header_is_refused_in_the_envelope(server: Server) -> None:
    status, _, payload = _raw(
        server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10000 + b"\r\n\r\n"
    )
    error = json.loads(payload)["error"]
    assert (status, error["code"]) == (431, "headers_too_large")
    assert error["details"] == {"limit_bytes": 8190, "header": "x-big"}


def test_gunicorns_own_refusals_are_in_the_envelope_too(server: Server) -> None:
    """Past gunicorn's backstop limits the server itself refuses, before any app runs."""
    status, headers, payload = _raw(
        server.port, b"GET /healthz?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert (status, headers["content-type"]) == (414, "application/json")
    assert json.loads(payload) == {
        "error": {
            "code": "uri_too_long",
            "message": "The request line is too long.",
            "request_id": "",
            "details": {},
        }
    }
    status, _, payload = _raw(
        server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"
    )
    assert (status, json.loads(payload)["error"]["code"]) == (431, "headers_too_large")


def test_keep_alive_serves_two_requests_on_one_connection(server: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b'{"ok": true}')
        sock = conn.sock
        conn.request("GET", "/healthz")
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b'{"ok": true}')
        assert conn.sock is sock  # the same connection, not a reconnect
    finally:
        conn.close()


def test_dead_pooled_connections_are_replaced_without_a_500(
    server: Server, raw_key: str, worker: object
) -> None:
    body = _ingest_body("before the cut")
    first = _raw(server.port, _head(raw_key, f"Content-Length: {len(body)}\r\n\r\n") + body)
    assert first[0] == 200, first[2]
    _wait_until_enriched()  # the cut below must not land in the worker's transaction
    # Cut every server connection, as a Postgres restart or an idle timeout would; the
    # pool now holds only dead ones.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1
    # The pool replaces the dead connections by itself. On a loaded host the replacements
    # can take longer than the pool's wait (DB_POOL_TIMEOUT): then the answer is a 503
    # `unavailable` with Retry-After that stored nothing, and a retry is served. Never a
    # 500, and the event is stored exactly once.
    body = _ingest_body("after the cut")
    answers: list[tuple[int, dict[str, str], bytes]] = []

    def served() -> bool:
        answers.append(
            _raw(server.port, _head(raw_key, f"Content-Length: {len(body)}\r\n\r\n") + body)
        )
        status, headers, payload = answers[-1]
        if status == 503:
            assert json.loads(payload)["error"]["code"] == "unavailable", payload
            assert "retry-after" in headers
        else:
            assert status == 200, payload
        return status == 200

    wait_for(served, timeout=600)
    assert sorted(Event.objects.values_list("content", flat=True)) == [
        "after the cut",
        "before the cut",
    ]
    _wait_until_enriched()


# gunicorn's arbiter logs a worker that died of a signal ("was sent SIGABRT!") or exited
# with a status other than 0 ("exited with code 134").
WORKER_DIED_BADLY = re.compile(r"Worker \(pid:\d+\) (was sent|exited with code)")


def test_workers_stop_cleanly_on_sigquit_and_sigterm(
    django_db_setup: None, django_db_blocker: Any, tmp_path: Path
) -> None:
    """Workers inherit ONNX Runtime from the master (the model is loaded before fork). A
    worker leaving on SIGQUIT (a quick stop) or on the master's SIGTERM (a graceful stop)
    must exit 0: ONNX Runtime's exit handlers, run in a forked child, aborted it (SIGABRT)
    or hung it in pthread_cond_destroy."""
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    log = tmp_path / "server.log"
    env = {**os.environ, "DATABASE_URL": database_url}
    proc, _port = gunicorn_start(env, log, workers=WORKERS)
    try:
        first = sorted(int(pid) for pid in re.findall(r"worker (\d+) warm:", log.read_text()))
        assert len(first) == WORKERS
        os.kill(first[0], signal.SIGQUIT)
        # The master replaces it: a third worker warms up once the first has been reaped.
        wait_for(lambda: len(WORKER_WARM.findall(log.read_text())) == WORKERS + 1, timeout=600)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            gunicorn_stop(proc)
    text = log.read_text()
    assert not WORKER_DIED_BADLY.search(text), text[-3000:]
    assert "Shutting down: Master" in text
