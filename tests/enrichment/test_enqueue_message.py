"""The single event's enrichment message carries the argsrepr/kwargsrepr Celery itself
would write (enrichment.workflows.enrichment_enqueue gives them instead of letting Celery
saferepr the args on every ingest): worker logs read the same."""

from __future__ import annotations

import uuid
from typing import Any
from unittest import mock

import pytest
from celery import current_app
from celery.utils.saferepr import saferepr

from enrichment import outstanding
from enrichment.workflows import EVENTS_TASK, enrichment_enqueue
from tenants.models import Tenant


@pytest.mark.parametrize("event_id", [str(uuid.uuid4()), "plain-id", 'it\'s "quoted"'])
def test_the_message_reads_as_celery_would_write_it(
    tenant: Tenant, db: None, event_id: str
) -> None:
    sent: list[Any] = []

    def capture(producer: Any, name: str, message: Any, **options: Any) -> None:
        sent.append((name, message))  # not published: no worker sees this id

    amqp = current_app.amqp
    # Celery's path (a broker the lean publish does not cover); the lean message carries
    # the same text: tests/enrichment/test_publish.py.
    with (
        mock.patch("enrichment.publish.lean_route", return_value=None),
        mock.patch.object(amqp, "send_task_message", side_effect=capture),
    ):
        enrichment_enqueue(event_id)
    outstanding.chain_send_failed(event_id)  # nothing waits in the queue for it
    ((name, message),) = sent
    args, kwargs, _ = message.body
    assert name == EVENTS_TASK and list(args) == [[event_id]] and kwargs == {}
    maxlevels = current_app.conf.task_repr_maxlevels
    assert message.headers["argsrepr"] == saferepr(args, amqp.argsrepr_maxsize, maxlevels=maxlevels)
    assert message.headers["kwargsrepr"] == saferepr(
        kwargs, amqp.kwargsrepr_maxsize, maxlevels=maxlevels
    )
