"""Endpoint pools against two local stand-in servers: embeddings and the LLM extractor go
round-robin, fail over on 500 / 429 / a refused connection, not on 400, and an endpoint comes
back after its cool-down (an injected clock, no sleeping)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import openai
import pytest

from enrichment.extraction.llm import LLMExtractor
from memory.embedding import OpenAIEmbedder
from memory.endpoint_pool import endpoints_parse
from tests.enrichment.test_llm_extractor import LIVES, FakeFallback, item, reply
from tests.support.openai_stub import ChatReply, EmbeddingReply, OpenAIStub, stub_embedding


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def a() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def b() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _closed_url() -> str:
    with socket.socket() as sock:  # bound, never listening, closed: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _embedder(urls: list[str], clock: Clock, keys: str = "key-a;key-b") -> OpenAIEmbedder:
    return OpenAIEmbedder(
        base_url=";".join(urls),
        api_key=keys,
        model="m",
        dimension=8,
        timeout=5.0,
        cooldown=30.0,
        clock=clock,
    )


def _served(a: OpenAIStub, b: OpenAIStub) -> tuple[int, int]:
    return len(a.embedding_requests), len(b.embedding_requests)


def test_calls_alternate_with_each_endpoints_own_key(
    a: OpenAIStub, b: OpenAIStub, clock: Clock
) -> None:
    embedder = _embedder([a.base_url, b.base_url], clock)
    vectors = [embedder.embed([f"text {i}"])[0] for i in range(4)]

    assert vectors[3] == stub_embedding("text 3", 8)
    assert _served(a, b) == (2, 2)
    assert [r.json["input"] for r in a.embedding_requests] == [["text 0"], ["text 2"]]
    assert {r.headers["authorization"] for r in a.embedding_requests} == {"Bearer key-a"}
    assert {r.headers["authorization"] for r in b.embedding_requests} == {"Bearer key-b"}


def test_a_500_fails_over_and_the_endpoint_returns_after_the_cooldown(
    a: OpenAIStub, b: OpenAIStub, clock: Clock
) -> None:
    embedder = _embedder([a.base_url, b.base_url], clock)
    a.script_embeddings([EmbeddingReply(status=500)])

    assert embedder.embed(["x"])[0] == stub_embedding("x", 8)  # a failed, b answered
    assert _served(a, b) == (1, 1)
    embedder.embed(["y"])
    embedder.embed(["z"])
    assert _served(a, b) == (1, 3)  # a is cooling down: skipped

    clock.now += 29.9
    embedder.embed(["still b"])
    assert _served(a, b) == (1, 4)
    clock.now += 0.2
    embedder.embed(["back"])
    embedder.embed(["b again"])
    assert _served(a, b) == (2, 5)
    assert a.embedding_requests[-1].json["input"] == ["back"]


def test_a_429_fails_over_for_its_retry_after(a: OpenAIStub, b: OpenAIStub, clock: Clock) -> None:
    embedder = _embedder([a.base_url, b.base_url], clock)
    a.script_embeddings([EmbeddingReply(status=429, headers={"retry-after": "120"})])

    embedder.embed(["x"])
    clock.now += 60  # past the 30 s cool-down, inside Retry-After
    embedder.embed(["y"])
    assert _served(a, b) == (1, 2)
    clock.now += 61
    embedder.embed(["z"])
    assert _served(a, b) == (2, 2)


def test_a_refused_connection_fails_over(b: OpenAIStub, clock: Clock) -> None:
    embedder = _embedder([_closed_url(), b.base_url], clock)

    assert [embedder.embed([f"t{i}"])[0] for i in range(3)] == [
        stub_embedding(f"t{i}", 8) for i in range(3)
    ]
    assert len(b.embedding_requests) == 3
    assert embedder.pool.endpoints[0].down_until == 1030.0


def test_a_400_is_not_failed_over_and_cools_nothing(
    a: OpenAIStub, b: OpenAIStub, clock: Clock
) -> None:
    embedder = _embedder([a.base_url, b.base_url], clock)
    a.script_embeddings([EmbeddingReply(status=400)])

    with pytest.raises(openai.BadRequestError):
        embedder.embed(["x"])
    assert _served(a, b) == (1, 0)
    assert [e.down_until for e in embedder.pool.endpoints] == [0.0, 0.0]


def test_when_every_endpoint_fails_the_last_error_is_raised(
    a: OpenAIStub, b: OpenAIStub, clock: Clock
) -> None:
    embedder = _embedder([a.base_url, b.base_url], clock)
    a.script_embeddings([EmbeddingReply(status=500)])
    b.script_embeddings([EmbeddingReply(status=503)])

    with pytest.raises(openai.InternalServerError):
        embedder.embed(["x"])
    assert _served(a, b) == (1, 1)
    # Both cooling down: the next call still tries the one that recovers first.
    assert embedder.embed(["y"])[0] == stub_embedding("y", 8)
    assert _served(a, b) == (2, 1)


def test_key_lists_must_be_one_key_or_one_per_url() -> None:
    assert endpoints_parse("http://a/v1; http://b/v1", "k") == [
        ("http://a/v1", "k"),
        ("http://b/v1", "k"),
    ]
    assert endpoints_parse("http://a/v1", "") == [("http://a/v1", "")]
    with pytest.raises(ValueError, match="2 base URLs but 3 API keys"):
        endpoints_parse("http://a/v1;http://b/v1", "k1;k2;k3")


def test_the_llm_extractor_fails_over_without_waiting(
    a: OpenAIStub, b: OpenAIStub, clock: Clock
) -> None:
    sleeps: list[float] = []
    extractor = LLMExtractor(
        base_url=f"{a.base_url};{b.base_url}",
        api_key="k",
        model="stub-model",
        fallback=FakeFallback(),
        timeout=5.0,
        max_retries=2,
        sleep=sleeps.append,
        clock=clock,
    )
    a.script_chat([ChatReply(status=429, headers={"retry-after": "0"})])
    b.script_chat([reply(LIVES)])

    result = extractor.extract(item())

    assert result.extractor == "llm" and len(result.propositions) == 1
    assert (len(a.chat_requests), len(b.chat_requests)) == (1, 1)
    assert sleeps == []  # b was the retry: no backoff
