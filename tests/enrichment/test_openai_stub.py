"""The OpenAI stub, driven by the real `openai` client (embeddings and basic chat)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import openai
import pytest

from tests.support.openai_stub import (
    DEFAULT_EMBEDDING_DIMENSIONS,
    EMBEDDINGS_PATH,
    ChatReply,
    EmbeddingReply,
    OpenAIStub,
    stub_embedding,
)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as running:
        yield running


@pytest.fixture
def client(stub: OpenAIStub) -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.base_url, api_key="sk-test", max_retries=0, timeout=5)


def test_base_url_is_local_v1(stub: OpenAIStub) -> None:
    assert stub.base_url.startswith("http://127.0.0.1:")
    assert stub.base_url.endswith("/v1")


@pytest.mark.parametrize("dimensions", [8, 384])
def test_embeddings_honour_dimensions(client: openai.OpenAI, dimensions: int) -> None:
    response = client.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], dimensions=dimensions
    )

    assert [d.index for d in response.data] == [0, 1]
    assert [len(d.embedding) for d in response.data] == [dimensions, dimensions]
    assert response.usage.prompt_tokens == 2
    assert response.usage.total_tokens == 2


def test_embeddings_default_dimensions(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="m", input="alpha")

    assert len(response.data[0].embedding) == DEFAULT_EMBEDDING_DIMENSIONS


def test_embeddings_are_deterministic_unit_vectors(client: openai.OpenAI) -> None:
    first = client.embeddings.create(model="m", input=["alpha", "beta"], dimensions=16)
    second = client.embeddings.create(model="m", input="alpha", dimensions=16)

    alpha, beta = (d.embedding for d in first.data)
    assert second.data[0].embedding == alpha
    assert alpha == stub_embedding("alpha", 16)
    assert alpha != beta
    assert math.isclose(math.fsum(v * v for v in alpha), 1.0, rel_tol=1e-5)


def test_base64_and_float_encodings_decode_to_the_same_vector(
    stub: OpenAIStub, client: openai.OpenAI
) -> None:
    # Without encoding_format the openai package asks for base64 and decodes it itself.
    implicit = client.embeddings.create(model="m", input="alpha", dimensions=32)
    explicit = client.embeddings.create(
        model="m", input="alpha", dimensions=32, encoding_format="float"
    )

    assert implicit.data[0].embedding == explicit.data[0].embedding == stub_embedding("alpha", 32)
    sent = [r.json["encoding_format"] for r in stub.embedding_requests]
    assert sent == ["base64", "float"]


def test_embedding_requests_are_recorded(stub: OpenAIStub, client: openai.OpenAI) -> None:
    client.embeddings.create(model="text-embedding-3-small", input="alpha", dimensions=8)

    [request] = stub.requests
    assert request.method == "POST"
    assert request.path == EMBEDDINGS_PATH
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json == {
        "model": "text-embedding-3-small",
        "input": "alpha",
        "dimensions": 8,
        "encoding_format": "base64",
    }


def test_scripted_embedding_failure_then_default(stub: OpenAIStub, client: openai.OpenAI) -> None:
    stub.script_embeddings([EmbeddingReply(status=429, headers={"retry-after": "0"})])

    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="m", input="alpha", dimensions=8)
    response = client.embeddings.create(model="m", input="alpha", dimensions=8)

    assert response.data[0].embedding == stub_embedding("alpha", 8)


def test_chat_uses_script_then_responder(stub: OpenAIStub, client: openai.OpenAI) -> None:
    stub.chat_responder = lambda body: "echo: " + body["messages"][-1]["content"]
    stub.script_chat([ChatReply(content="scripted", usage=(11, 4))])
    messages = [{"role": "user", "content": "hello there"}]

    first = client.chat.completions.create(model="m", messages=messages)
    second = client.chat.completions.create(model="m", messages=messages)

    assert first.choices[0].message.content == "scripted"
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (11, 4)
    assert first.usage.total_tokens == 15
    assert second.choices[0].message.content == "echo: hello there"
    # 2 words + 3 per message; "echo: hello there" is 3 words.
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (5, 3)
    assert stub.pending_chat_replies == 0


def test_unknown_route_is_an_openai_style_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.list()

    assert caught.value.status_code == 404
