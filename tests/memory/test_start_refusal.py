"""A web server or worker configured for another embedding model than the stored vectors'
refuses to start, and says which command fixes it."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from django.db import connection

from memory.embedding_space import embedding_space_get

ROOT = Path(__file__).resolve().parents[2]
# Both exit at start-up; the bound is for a loaded machine importing Django and Celery.
EXIT_BOUND_S = 300


@pytest.fixture
def mismatched_env(embedded_services: dict[str, str], transactional_db: None) -> dict[str, str]:
    # Committed, so the subprocess sees it (a flushed table gets the row back here).
    assert embedding_space_get().model == "local:all-MiniLM-L6-v2"
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    database_url = urllib.parse.urlunsplit(
        url._replace(path="/" + connection.settings_dict["NAME"])
    )
    # The provider is never called: the check reads the database only.
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_MODEL": "another-model",
        "EMBEDDING_BASE_URL": "http://127.0.0.1:9/v1",
    }


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_BOUND_S,
    )


@pytest.mark.slow
def test_gunicorn_refuses_to_start_naming_the_command(mismatched_env: dict[str, str]) -> None:
    result = _run(
        [
            "gunicorn",
            "--config",
            "python:claiv.gunicorn_conf",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ],
        mismatched_env,
    )
    output = result.stdout + result.stderr

    assert result.returncode == 3  # the worker's boot error halts the master
    assert (
        "made with local:all-MiniLM-L6-v2 (384 dimensions) but the settings configure "
        "openai:another-model (384 dimensions"
    ) in output
    assert "Run `python manage.py reembed`" in output
    assert "Worker failed to boot" in output


@pytest.mark.slow
def test_the_celery_worker_refuses_to_start_naming_the_command(
    mismatched_env: dict[str, str],
) -> None:
    result = _run(
        ["celery", "-A", "claiv", "worker", "--pool", "solo", "--loglevel", "INFO"], mismatched_env
    )
    output = result.stdout + result.stderr

    assert result.returncode == 1
    assert "Run `python manage.py reembed`" in output
    assert "Connected to" not in output and "ready." not in output
