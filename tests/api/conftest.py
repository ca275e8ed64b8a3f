"""Fixtures for the contract tests: a frozen rate-limit clock."""

from __future__ import annotations

from types import SimpleNamespace

import django_ratelimit.core
import pytest

FROZEN_NOW = 1_800_000_000.0


@pytest.fixture
def frozen_ratelimit_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Pin django-ratelimit's clock so a test's requests all fall in one window."""
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: FROZEN_NOW))
    return FROZEN_NOW
