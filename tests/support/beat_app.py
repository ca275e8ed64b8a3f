"""The project's Celery app with a test schedule in place of the real one: one task every
half second, sent to the queue named by CLAIV_BEAT_TEST_QUEUE (no worker consumes it)."""

import os

from claiv.celery import app

app.conf.beat_schedule = {
    "beat-test-tick": {
        "task": "claiv.beat_test.tick",
        "schedule": 0.5,
        "options": {"queue": os.environ["CLAIV_BEAT_TEST_QUEUE"]},
    },
}

__all__ = ["app"]
