"""A local stand-in for an OpenAI-compatible HTTP API, for tests.

Speaks just enough of the REST protocol for the real `openai` package:
`POST /v1/chat/completions` and `POST /v1/embeddings`. It binds 127.0.0.1 on a free port,
serves from a background thread, records every request, and answers from a per-endpoint
script of replies; when a script runs dry it falls back to a deterministic default
(a test-supplied chat responder, hash-seeded embedding vectors).

    with OpenAIStub() as stub:
        stub.script_chat([ChatReply(status=429, headers={"retry-after": "0"}),
                          ChatReply(content='{"propositions": []}')])
        client = openai.OpenAI(base_url=stub.base_url, api_key="test")

What it does not do: streaming, tools, auth checks, any other endpoint (those get a 404 in
the OpenAI error shape).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
# text-embedding-3-small's native size; used when a request does not pass `dimensions`.
DEFAULT_EMBEDDING_DIMENSIONS = 1536

ChatResponder = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class ChatReply:
    """One scripted answer for `/v1/chat/completions`.

    `content` is the assistant message text (None: ask the default responder).
    `status` >= 400 sends an OpenAI-style error body instead of a completion.
    `raw_body` replaces the whole HTTP body verbatim (e.g. truncated JSON).
    `delay` holds the response back this many seconds (to trip client timeouts).
    `usage` overrides the (prompt_tokens, completion_tokens) the stub would report.
    """

    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw_body: str | bytes | None = None
    usage: tuple[int, int] | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True)
class EmbeddingReply:
    """One scripted answer for `/v1/embeddings`; only for failures and delays.

    A 200 reply without `raw_body` is computed from the request as usual.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw_body: str | bytes | None = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # keys lower-cased
    json: Any  # parsed body, or None when it was not JSON


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


def stub_embedding(text: str, dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> list[float]:
    """The unit vector the stub returns for `text`: seeded by SHA-256, so runs repeat.

    Values are rounded through float32 so that the "float" and "base64" encodings of the
    same text decode to identical lists.
    """
    raw: list[float] = []
    counter = 0
    seed = text.encode("utf-8")
    while len(raw) < dimensions:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        # 8 little 4-byte words per block, each mapped into [-1, 1).
        for (word,) in struct.iter_unpack("<I", block):
            raw.append(word / 2**31 - 1.0)
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in raw))
    return list(struct.unpack(f"<{dimensions}f", packed))


def model_text(model: Any, text: str) -> str:
    """What a `seed_by_model` stub seeds `text`'s vector with for `model`."""
    return f"{model}\n{text}"


def _default_chat_responder(body: dict[str, Any]) -> str:
    return '{"propositions": []}'


class _Handler(BaseHTTPRequestHandler):
    server: _StubServer
    # HTTP/1.0: one request per connection, so no idle keep-alive threads outlive a test.
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self.server.stub._handle(self)

    def do_GET(self) -> None:
        self.server.stub._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        # Silence the default stderr access log; tests assert on `stub.requests` instead.
        return


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    stub: OpenAIStub


class OpenAIStub:
    """The server plus its script queues and request log. Thread-safe."""

    def __init__(
        self,
        *,
        chat_responder: ChatResponder | None = None,
        default_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS,
        seed_by_model: bool = False,
    ) -> None:
        self.chat_responder: ChatResponder = chat_responder or _default_chat_responder
        self.default_dimensions = default_dimensions
        # Each requested `model` gets its own vectors (`stub_embedding(model_text(...))`), so
        # a test can serve two embedding models from one stub.
        self.seed_by_model = seed_by_model
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._chat_script: deque[ChatReply] = deque()
        self._embedding_script: deque[EmbeddingReply] = deque()
        self._requests: list[RecordedRequest] = []
        self._server: _StubServer | None = None
        self._thread: threading.Thread | None = None
        self._completion_ids = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> OpenAIStub:
        server = _StubServer(("127.0.0.1", 0), _Handler)
        server.stub = self
        self._server = server
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="openai-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wake handlers sleeping on a scripted delay so shutdown never waits for them.
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("OpenAIStub is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- programming and inspection ----------------------------------------------------

    def script_chat(self, replies: Iterable[ChatReply]) -> None:
        with self._lock:
            self._chat_script.extend(replies)

    def script_embeddings(self, replies: Iterable[EmbeddingReply]) -> None:
        with self._lock:
            self._embedding_script.extend(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to(CHAT_PATH)

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return self.requests_to(EMBEDDINGS_PATH)

    @property
    def pending_chat_replies(self) -> int:
        with self._lock:
            return len(self._chat_script)

    # -- request handling --------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=handler.command,
                    path=path,
                    headers={k.lower(): v for k, v in handler.headers.items()},
                    json=body,
                )
            )
        try:
            if handler.command == "POST" and path == CHAT_PATH:
                self._chat(handler, body)
            elif handler.command == "POST" and path == EMBEDDINGS_PATH:
                self._embeddings(handler, body)
            else:
                self._send_error(handler, 404, f"Unknown route {handler.command} {path}")
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout fired during a scripted delay): nothing to do.
            pass

    def _chat(self, handler: _Handler, body: Any) -> None:
        with self._lock:
            reply = self._chat_script.popleft() if self._chat_script else ChatReply()
        if reply.delay and self._closing.wait(reply.delay):
            return
        if reply.status >= 400:
            self._send_error(handler, reply.status, "scripted failure", reply.headers)
            return
        if reply.raw_body is not None:
            self._send(handler, reply.status, reply.raw_body, reply.headers)
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error(handler, 400, "'messages' is required")
            return
        content = reply.content if reply.content is not None else self.chat_responder(body)
        if reply.usage is not None:
            prompt_tokens, completion_tokens = reply.usage
        else:
            prompt_tokens = sum(
                count_tokens(str(m.get("content") or "")) + 3 for m in body["messages"]
            )
            completion_tokens = max(1, count_tokens(content))
        with self._lock:
            self._completion_ids += 1
            completion_id = f"chatcmpl-stub-{self._completion_ids}"
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub-model"),
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self._send(handler, 200, payload, reply.headers)

    def _embeddings(self, handler: _Handler, body: Any) -> None:
        with self._lock:
            reply = self._embedding_script.popleft() if self._embedding_script else EmbeddingReply()
        if reply.delay and self._closing.wait(reply.delay):
            return
        if reply.status >= 400:
            self._send_error(handler, reply.status, "scripted failure", reply.headers)
            return
        if reply.raw_body is not None:
            self._send(handler, reply.status, reply.raw_body, reply.headers)
            return
        inputs = _embedding_inputs(body.get("input") if isinstance(body, dict) else None)
        if not inputs:
            self._send_error(handler, 400, "'input' must be a non-empty string or array")
            return
        dimensions = body.get("dimensions") or self.default_dimensions
        encoding = body.get("encoding_format") or "float"
        if not isinstance(dimensions, int) or dimensions < 1 or encoding not in ("float", "base64"):
            self._send_error(handler, 400, "bad 'dimensions' or 'encoding_format'")
            return
        data = []
        for index, text in enumerate(inputs):
            seed = model_text(body.get("model"), text) if self.seed_by_model else text
            vector = stub_embedding(seed, dimensions)
            # base64 is little-endian float32, which is what the openai package decodes.
            encoded: Any = (
                base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode("ascii")
                if encoding == "base64"
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(max(1, count_tokens(text)) for text in inputs)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model", "stub-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        self._send(handler, 200, payload, reply.headers)

    # -- wire helpers ------------------------------------------------------------------

    def _send_error(
        self,
        handler: _Handler,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
        }.get(status, "server_error" if status >= 500 else "invalid_request_error")
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        self._send(handler, status, body, headers or {})

    def _send(self, handler: _Handler, status: int, body: Any, headers: dict[str, str]) -> None:
        if isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode("utf-8")
        else:
            raw = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)


def _embedding_inputs(value: Any) -> list[str]:
    """Normalise `input` (str, [str], [int] tokens, [[int]]) to one string per vector."""
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, list) or not value:
        return []
    if all(isinstance(v, int) for v in value):
        return [json.dumps(value)]  # one pre-tokenised input
    if all(isinstance(v, str) and v for v in value):
        return list(value)
    if all(isinstance(v, list) for v in value):
        return [json.dumps(v) for v in value]
    return []
