"""Fixtures for the contract tests: a frozen rate-limit clock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import claiv.ratelimit

FROZEN_NOW = 1_800_000_000.0


@pytest.fixture
def frozen_ratelimit_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Pin the rate limiter's clock so a test's requests all fall in one window."""
    monkeypatch.setattr(claiv.ratelimit, "time", SimpleNamespace(time=lambda: FROZEN_NOW))
    return FROZEN_NOW
