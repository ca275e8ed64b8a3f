"""Feeding variants of the LoCoMo benchmark: how a client sends the same turns.

A variant is (feed, order, api):

- feed `conversation`: one `conversation_id` per LoCoMo conversation (all sessions in it);
  `session`: one per LoCoMo session (a chat app that opens a thread per visit), sent as
  `thread_id`; `none`: no id at all (v1 only: v6 requires one).
- order `sequential`: one turn at a time, in order; `concurrent`: 8 parallel clients
  taking turns from a shuffled list (events arrive out of order); `batch`: the shuffled
  turns in `/v1/ingest/batch` requests of 100 (v1 only: batch is a v1 extension).
- api `v1`: `/v1/ingest` and `/v1/recall`; `v6`: `/v6/ingest` and `/v6/recall`.

Every event carries its session time as `event_time` and a small `metadata` object. Each
variant has users of its own (`user_of`), so all variants live in one stack side by side.

v6 recall returns no event citations, so its answer is scored by what its text quotes: a
turn counts as cited when one of its sentences (or its whole text when short) appears in
`llm_context.text`, or when a fact in the text came from it (`fact_ids` → the facts'
`source_event_id` among the listed answer and supporting facts).
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.locomo_data import Conversation, Turn

FEEDS = ("conversation", "session", "none")
ORDERS = ("sequential", "concurrent", "batch")
APIS = ("v1", "v6")
CLIENTS = 8
BATCH = 100

Call = Callable[[str, str, Any], tuple[int, Any, float]]
# A client retries what the server turns away at its door (429 / 503 with retry_after).
RETRIES = 30


def call_retrying(call: Call, method: str, path: str, body: Any) -> tuple[int, Any, float]:
    for _ in range(RETRIES):
        status, payload, ms = call(method, path, body)
        if status not in (429, 503):
            return status, payload, ms
        retry_after = (payload.get("error", {}).get("details") or {}).get("retry_after", 1)
        time.sleep(min(float(retry_after), 5.0))
    return status, payload, ms


@dataclass(frozen=True)
class Variant:
    feed: str = "conversation"
    order: str = "sequential"
    api: str = "v1"

    @property
    def name(self) -> str:
        return f"{self.feed}/{self.order}/{self.api}"

    @property
    def default(self) -> bool:
        return self == DEFAULT

    @property
    def possible(self) -> bool:
        """v6 ingest requires a conversation id; batch ingest exists on v1 only."""
        return not (self.api == "v6" and (self.feed == "none" or self.order == "batch"))

    def user_of(self, conv: Conversation, stacked: bool = False) -> str:
        base = "locomo-stacked" if stacked else f"locomo-{conv.sample_id}"
        # The default variant keeps the historical user ids (and the stack's mapping).
        return base if self.default else f"{base}-{self.feed}-{self.order}-{self.api}"


DEFAULT = Variant()


def variants_of(feeds: str, orders: str, apis: str) -> list[Variant]:
    chosen = [
        Variant(feed, order, api)
        for api in apis.split(",")
        for feed in feeds.split(",")
        for order in orders.split(",")
    ]
    for variant in chosen:
        if variant.feed not in FEEDS or variant.order not in ORDERS or variant.api not in APIS:
            raise SystemExit(f"unknown variant {variant.name}")
    return [v for v in chosen if v.possible]


def event_body(variant: Variant, conv: Conversation, turn: Turn, user: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user_id": user,
        "type": "message",
        "role": "user",
        "content": turn.content,
        "event_time": turn.time.isoformat(),
        "idempotency_key": f"{user}:{conv.sample_id}:{turn.dia_id}",
        "metadata": {"source": "locomo", "session": turn.session},
    }
    if variant.feed == "conversation":
        body["conversation_id"] = conv.sample_id
    elif variant.feed == "session":
        body["thread_id"] = f"{conv.sample_id}-s{turn.session}"
    return body


def feed(
    call: Call, variant: Variant, conv: Conversation, user: str, seed: int = 7
) -> dict[str, str]:
    """Send the conversation's turns as `variant` says -> {event_id: dia_id}."""
    turns = list(conv.turns)
    if variant.order != "sequential":
        random.Random(f"{seed}:{conv.sample_id}").shuffle(turns)
    path = f"/{variant.api}/ingest"
    events: dict[str, str] = {}
    if variant.order == "batch":
        for start in range(0, len(turns), BATCH):
            chunk = turns[start : start + BATCH]
            status, body, _ = call_retrying(
                call,
                "POST",
                "/v1/ingest/batch",
                {"events": [event_body(variant, conv, t, user) for t in chunk]},
            )
            if status != 200:
                raise RuntimeError(f"batch ingest failed: {status} {body}")
            for turn, result in zip(chunk, body["results"], strict=True):
                if "event_id" not in result:
                    raise RuntimeError(f"batch item failed: {result}")
                events[result["event_id"]] = turn.dia_id
        return events

    lock = threading.Lock()
    queue = iter(turns)
    failures: list[str] = []

    def client() -> None:
        while True:
            with lock:
                turn = next(queue, None)
            if turn is None or failures:
                return
            status, body, _ = call_retrying(
                call, "POST", path, event_body(variant, conv, turn, user)
            )
            with lock:
                if status != 200:
                    failures.append(f"{status} {body}")
                else:
                    events[body["event_id"]] = turn.dia_id

    if variant.order == "sequential":
        client()
    else:
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if failures:
        raise RuntimeError(f"ingest failed: {failures[0]}")
    return events


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class TextCitations:
    """Which turns a v6 context quotes (see the module docstring)."""

    MIN_CHARS = 25

    def __init__(self, turns: Sequence[Turn], dia_of_event: dict[str, str]) -> None:
        self.event_of_dia = {dia: event for event, dia in dia_of_event.items()}
        self.pieces: list[tuple[str, str]] = []
        for turn in turns:
            text = " ".join(turn.content.split())
            sentences = [s for s in _SENTENCE.split(text) if len(s) >= self.MIN_CHARS]
            for piece in sentences or [text]:
                self.pieces.append((piece, turn.dia_id))

    def cited(self, body: dict[str, Any], dia_of_event: dict[str, str]) -> list[str]:
        text = " ".join(body["llm_context"]["text"].split())
        found = {dia for piece, dia in self.pieces if piece in text}
        in_text = set(body["llm_context"]["fact_ids"])
        for fact in itertools.chain(body["answer_facts"], body["supporting_facts"]):
            if fact["fact_id"] in in_text and fact["source_event_id"] in dia_of_event:
                found.add(dia_of_event[fact["source_event_id"]])
        return sorted(found)


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    return function(), time.perf_counter() - started
