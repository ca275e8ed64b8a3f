"""Production refuses to boot with insecure settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG = "s" * 40
FERNET = "A" * 43 + "="  # a well-formed Fernet key (32 zero bytes)


def _boot(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "CLAIV_KEY_PEPPER",
            "CLAIV_RECEIPT_SIGNING_KEY",
            "DJANGO_DEBUG",
            "CELERY_TASK_ALWAYS_EAGER",
            "CLAIV_CONSOLE_ENCRYPTION_KEY",
        }
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('booted')"],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "claiv.settings", "CLAIV_ENV": "production"} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": STRONG, "CLAIV_RECEIPT_SIGNING_KEY": "k"}, "CLAIV_KEY_PEPPER"),
        ({"SECRET_KEY": STRONG, "CLAIV_KEY_PEPPER": STRONG}, "CLAIV_RECEIPT_SIGNING_KEY"),
        (
            {
                "SECRET_KEY": STRONG,
                "CLAIV_KEY_PEPPER": STRONG,
                "CLAIV_RECEIPT_SIGNING_KEY": "k",
                "DJANGO_DEBUG": "true",
            },
            "DJANGO_DEBUG",
        ),
        (
            {
                "SECRET_KEY": STRONG,
                "CLAIV_KEY_PEPPER": STRONG,
                "CLAIV_RECEIPT_SIGNING_KEY": "k",
                "CELERY_TASK_ALWAYS_EAGER": "true",
            },
            "EAGER",
        ),
        (
            {"SECRET_KEY": STRONG, "CLAIV_KEY_PEPPER": STRONG, "CLAIV_RECEIPT_SIGNING_KEY": "k"},
            "CLAIV_CONSOLE_ENCRYPTION_KEY is missing",
        ),
        (
            {
                "SECRET_KEY": STRONG,
                "CLAIV_KEY_PEPPER": STRONG,
                "CLAIV_RECEIPT_SIGNING_KEY": "k",
                "CLAIV_CONSOLE_ENCRYPTION_KEY": "short",
            },
            "CLAIV_CONSOLE_ENCRYPTION_KEY is not a Fernet",
        ),
    ],
)
def test_production_refuses_insecure_settings(env: dict[str, str], problem: str) -> None:
    result = _boot(**env)
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    assert problem in result.stderr


def test_production_boots_when_secure() -> None:
    result = _boot(
        SECRET_KEY=STRONG,
        CLAIV_KEY_PEPPER=STRONG,
        CLAIV_RECEIPT_SIGNING_KEY="k",
        CLAIV_CONSOLE_ENCRYPTION_KEY=FERNET,
    )
    assert result.returncode == 0, result.stderr
    assert "booted" in result.stdout
