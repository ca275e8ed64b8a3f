"""Every `manage.py <command>` the compose file, the dev stack and the README run or
document exists: Docker cannot run here, so a misspelt command would only fail on deploy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
_MANAGE = re.compile(r"manage\.py\s+([a-z_]+)")
_DEVSTACK_MANAGE = re.compile(r"_manage\(env,\s*\"([a-z_]+)\"")


@pytest.mark.parametrize(
    "path, pattern",
    [
        ("docker-compose.yml", _MANAGE),
        ("README.md", _MANAGE),
        ("Dockerfile", _MANAGE),
        ("claiv/devstack.py", _DEVSTACK_MANAGE),
        ("bench/stack.py", _DEVSTACK_MANAGE),
    ],
)
def test_every_management_command_named_exists(path: str, pattern: re.Pattern[str]) -> None:
    named = set(pattern.findall((ROOT / path).read_text()))
    assert named or path == "Dockerfile"
    assert named <= set(get_commands()), f"{path} names unknown commands"
