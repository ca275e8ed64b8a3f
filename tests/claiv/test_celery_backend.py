"""The Celery app's result backend is one instance shared by every thread.

ASGI serves each request on a thread of its own; a per-thread backend was rebuilt on every
ingest's enqueue (`CELERY_RESULT_BACKEND_THREAD_SAFE`)."""

from __future__ import annotations

import threading

from claiv.celery import app


def test_every_thread_gets_the_same_result_backend() -> None:
    seen: list[object] = []

    def look() -> None:
        seen.append(app.backend)

    threads = [threading.Thread(target=look) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen.append(app.backend)
    assert len(seen) == 4
    assert all(backend is seen[0] for backend in seen)


def test_the_shared_backend_stores_nothing() -> None:
    # Sharing is only safe because no result backend is configured: the disabled backend
    # holds no connection or per-task state.
    assert app.backend.as_uri() == "disabled://"
