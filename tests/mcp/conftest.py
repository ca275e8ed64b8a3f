"""A real gunicorn (the project's config) for the MCP tests, and an MCP client for it.

One server for the whole session: the MCP test files share it. Enrichment runs eagerly in
that server (CELERY_TASK_ALWAYS_EAGER), so an ingested event is enriched when the call
returns and recall can be asserted on at once, without a worker.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.claiv.test_server import (
    Server,
    _test_database_url,
    gunicorn_stop,
)
from tests.claiv.test_server import gunicorn_start as server_start

WORKERS = 1

T = TypeVar("T")


def gunicorn_start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    return server_start(env, log, workers=WORKERS)


@pytest.fixture(scope="session")
def mcp_server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    log = tmp_path_factory.mktemp("gunicorn-mcp") / "server.log"
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_TASK_ALWAYS_EAGER": "true"}
    proc, port = gunicorn_start(env, log)
    try:
        yield Server("127.0.0.1", port, log)
    finally:
        gunicorn_stop(proc)


@dataclass
class ToolAnswer:
    is_error: bool
    body: dict[str, Any]


def url_of(server: Server) -> str:
    return f"http://{server.host}:{server.port}/mcp"


async def _connected_call(
    server: Server, raw_key: str | None, mode: str, calls: list[tuple[str, dict[str, Any]]]
) -> tuple[str, list[Any]]:
    headers = {"Authorization": f"Bearer {raw_key}"} if raw_key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(
            streamable_http_client(url_of(server), http_client=http), mode=mode
        ) as client:  # type: ignore[arg-type]
            results = [await client.call_tool(name, args) for name, args in calls]
            return client.protocol_version, results


def run_async(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """anyio.run in a thread of its own: an earlier test of the session (Playwright's sync
    API) may leave an event loop running in this thread, and anyio.run refuses to nest."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, function, *args).result()


def mcp_calls(
    server: Server,
    raw_key: str | None,
    calls: list[tuple[str, dict[str, Any]]],
    *,
    mode: str = "auto",
) -> tuple[str, list[ToolAnswer]]:
    """Connect with the official client (mode "auto": the newest protocol the server
    offers; "legacy": the 2025 initialize handshake), make `calls`, return the negotiated
    protocol version and each answer's JSON."""
    version, results = run_async(_connected_call, server, raw_key, mode, calls)
    return version, [ToolAnswer(r.is_error, json.loads(r.content[0].text)) for r in results]


def mcp_call(server: Server, raw_key: str | None, name: str, **args: Any) -> ToolAnswer:
    return mcp_calls(server, raw_key, [(name, args)])[1][0]
