"""The web worker's start-up hook (claiv.gunicorn_conf.post_worker_init) freezes what the
worker loaded after the fork, so full collections in the middle of a request no longer walk
the app the worker imported (the master's freeze covered only what it loaded itself), and
sets the GIL switch interval when CLAIV_GIL_SWITCH_INTERVAL_MS asks for one."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Iterator
from unittest import mock

import pytest
from django.test import override_settings

from claiv import gunicorn_conf


class _Worker:
    pid = 1
    log = logging.getLogger("test.gunicorn")


class _Loaded:
    """Stands in for an object of the app a worker imports after the fork."""

    def __init__(self) -> None:
        self.me = self  # a cycle: only the cycle collector could ever free it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()  # the process may have frozen before (a test, the embedded services)
    try:
        yield
    finally:
        gc.unfreeze()


def _tracked(obj: object) -> bool:
    """Whether `obj` is in a generation the collector walks (frozen objects are not)."""
    return any(o is obj for o in gc.get_objects())


def test_post_worker_init_freezes_what_the_worker_loaded(unfrozen: None) -> None:
    loaded = _Loaded()
    assert _tracked(loaded)
    with (
        mock.patch("memory.embedding_space.embedding_space_verify_or_exit"),
        mock.patch("memory.embedding.embedder_warm"),
        mock.patch("memory.tokens.encoding"),
        mock.patch("memory.recall.routing.routing_warm"),
    ):
        gunicorn_conf.post_worker_init(_Worker())
    assert gc.get_freeze_count() > 0
    assert not _tracked(loaded)


@pytest.fixture
def switch_interval() -> Iterator[float]:
    before = sys.getswitchinterval()
    try:
        yield before
    finally:
        sys.setswitchinterval(before)


def _worker_start() -> None:
    with (
        mock.patch("memory.embedding_space.embedding_space_verify_or_exit"),
        mock.patch("memory.embedding.embedder_warm"),
        mock.patch("memory.tokens.encoding"),
        mock.patch("memory.recall.routing.routing_warm"),
        mock.patch.object(gunicorn_conf, "_heap_freeze"),
    ):
        gunicorn_conf.post_worker_init(_Worker())


@override_settings(GIL_SWITCH_INTERVAL_MS=0.5)
def test_post_worker_init_sets_the_configured_gil_switch_interval(switch_interval: float) -> None:
    sys.setswitchinterval(0.005)
    _worker_start()
    assert sys.getswitchinterval() == pytest.approx(0.0005)


@override_settings(GIL_SWITCH_INTERVAL_MS=0.0)
def test_post_worker_init_leaves_pythons_switch_interval_by_default(
    switch_interval: float,
) -> None:
    sys.setswitchinterval(0.005)
    _worker_start()
    assert sys.getswitchinterval() == pytest.approx(0.005)
