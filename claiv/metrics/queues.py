"""Broker queue depth, read at scrape time (a Collector, not a stored gauge).

Celery's Redis transport keeps a queue as Redis lists: with priorities on, one list per
priority step, named `<queue>` for step 0 and `<queue>\\x06\\x16<step>` for the others
(kombu.transport.redis.Channel._q_for_pri). The depth of a queue is the sum of their
lengths: messages waiting, not those a worker has already prefetched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from claiv.metrics.registry import BROKER_UP_NAME, QUEUE_DEPTH_NAME

logger = logging.getLogger("claiv.metrics")
# kombu.transport.redis.Channel.sep
PRIORITY_SEP = "\x06\x16"
BROKER_TIMEOUT_SECONDS = 1.0


def priority_list_names(queue: str, steps: Iterable[int]) -> list[str]:
    """The Redis lists holding `queue`'s messages, one per priority step."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEP}{step}" for step in sorted(set(steps))]


def queues_configured(conf: Any) -> list[str]:
    """Every queue this deployment routes to: the default queue and any in the task routes."""
    names = {conf.task_default_queue}
    routes = conf.task_routes or {}
    if isinstance(routes, dict):
        names.update(
            route["queue"]
            for route in routes.values()
            if isinstance(route, dict) and "queue" in route
        )
    names.update(queue.name for queue in conf.task_queues or ())
    return sorted(names)


class QueueDepthCollector(Collector):
    """Yields `claiv_queue_depth{queue}` and `claiv_broker_up` from one pipelined round trip."""

    def __init__(self, *, client: Any, queues: list[str], steps: Iterable[int]) -> None:
        self.client = client
        self.lists = {queue: priority_list_names(queue, steps) for queue in queues}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            QUEUE_DEPTH_NAME, "Messages waiting in the broker, per queue.", labels=["queue"]
        )
        up = GaugeMetricFamily(BROKER_UP_NAME, "1 if the broker answered this scrape.")
        try:
            pipe = self.client.pipeline(transaction=False)
            for names in self.lists.values():
                for name in names:
                    pipe.llen(name)
            lengths = iter(pipe.execute())
        except Exception as exc:  # a scrape must still answer, saying the broker is down
            logger.warning("queue depth unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        for queue, names in self.lists.items():
            depth.add_metric([queue], sum(next(lengths) for _ in names))
        up.add_metric([], 1)
        yield depth
        yield up


_collector: QueueDepthCollector | None = None


def queue_depth_collector() -> QueueDepthCollector:
    """This process's collector over the Celery app's broker and queues (one client, reused)."""
    global _collector
    if _collector is None:
        from claiv.celery import app
        from claiv.redis_client import redis_connect

        options = app.conf.broker_transport_options or {}
        client = redis_connect(
            app.conf.broker_url,
            master_name=options.get("master_name"),
            socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
            socket_timeout=BROKER_TIMEOUT_SECONDS,
        )
        _collector = QueueDepthCollector(
            client=client,
            queues=queues_configured(app.conf),
            steps=options.get("priority_steps", [0, 3, 6, 9]),
        )
    return _collector
