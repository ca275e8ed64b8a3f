"""Postgres down: /mcp answers 503 in the error envelope within the pool's bounded wait,
instead of hanging or calling a good key bad."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.claiv.test_server import Server, _free_port, _get
from tests.mcp.conftest import gunicorn_start, gunicorn_stop
from tests.mcp.test_mcp_http import _post_mcp

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def server_without_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Nothing listens on this port: every connection attempt is refused at once.
    log = tmp_path_factory.mktemp("gunicorn-nodb") / "server.log"
    env: dict[str, Any] = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_free_port()}/x",
        "DB_POOL_TIMEOUT": "2",
    }
    proc, port = gunicorn_start(env, log)
    try:
        yield Server("127.0.0.1", port, log)
    finally:
        gunicorn_stop(proc)


def test_mcp_is_503_while_postgres_is_down(server_without_postgres: Server) -> None:
    key = "ck_abcdefgh_" + "x" * 43  # well-formed: its lookup needs the database
    status, headers, body = _post_mcp(server_without_postgres, {"Authorization": f"Bearer {key}"})
    assert status == 503
    assert headers["retry-after"] == "5"
    assert json.loads(body)["error"]["code"] == "unavailable"
    assert "www-authenticate" not in headers
    # The process is still serving.
    assert _get(server_without_postgres.port, "/healthz")[0] == 200
