"""Several OpenAI-compatible endpoints used round-robin, with a cool-down for failing ones.

Configured as one setting holding a list, as Open WebUI does (`OPENAI_API_BASE_URLS` /
`OPENAI_API_KEYS`, `;`-separated): `EMBEDDING_BASE_URL="http://a/v1;http://b/v1"` and
`EMBEDDING_API_KEY="key-a;key-b"` (one key for every endpoint, or one per endpoint, in order);
the same for `LLM_BASE_URL` / `LLM_API_KEY`. A single URL is a pool of one.

An endpoint that times out, refuses the connection, or answers 408/409/429/5xx is skipped for
`PROVIDER_COOLDOWN_SECONDS` (or its Retry-After, when longer) and the call goes to the next
one; after the cool-down it takes calls again. When every endpoint is cooling down the one
that recovers first is tried anyway: failing without trying would turn a short outage of the
whole fleet into certain errors. Other errors (400, 401, 404) go back to the caller: the
request or the configuration is wrong, another endpoint would not fix it.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai

T = TypeVar("T")

# Long enough that a rate-limited or restarting endpoint is not hammered, short enough that
# a pool of two is back to full capacity within a minute of a blip.
DEFAULT_COOLDOWN_S = 30.0
# A Retry-After longer than this is capped (a misbehaving server must not park an endpoint).
MAX_COOLDOWN_S = 600.0
_RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass
class Endpoint:
    base_url: str
    api_key: str = field(repr=False)  # never in a log line
    client: Any = field(repr=False)
    down_until: float = 0.0


def endpoints_parse(base_urls: str, api_keys: str) -> list[tuple[str, str]]:
    """(url, key) pairs from the `;`-separated settings; ValueError on a key list that is
    neither one key nor one per URL."""
    urls = [url.strip() for url in base_urls.split(";") if url.strip()] or [""]
    keys = [key.strip() for key in api_keys.split(";")] if api_keys else [""]
    if len(keys) == 1:
        keys = keys * len(urls)
    if len(keys) != len(urls):
        raise ValueError(
            f"{len(urls)} base URLs but {len(keys)} API keys: give one key, or one "
            f"per URL in the same order (';'-separated)"
        )
    return list(zip(urls, keys, strict=True))


def is_failover_error(exc: BaseException) -> bool:
    """Whether another endpoint may succeed where this one failed."""
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
    return False


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value)
        return moment.timestamp() - time.time() if moment else None


class EndpointPool:
    """Round-robin over endpoints, skipping those cooling down. Thread-safe."""

    def __init__(
        self,
        endpoints: list[tuple[str, str]],
        *,
        make_client: Callable[[str, str], Any],
        cooldown: float = DEFAULT_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self.endpoints = [Endpoint(url, key, make_client(url, key)) for url, key in endpoints]
        self.cooldown = cooldown
        self._clock = clock
        self._next = 0
        self._lock = threading.Lock()

    def pick(self) -> Endpoint:
        """The next endpoint in turn that is not cooling down (else the first to recover)."""
        with self._lock:
            now = self._clock()
            count = len(self.endpoints)
            for step in range(count):
                endpoint = self.endpoints[(self._next + step) % count]
                if endpoint.down_until <= now:
                    self._next = (self._next + step + 1) % count
                    return endpoint
            return min(self.endpoints, key=lambda e: e.down_until)

    def any_available(self) -> bool:
        now = self._clock()
        return any(endpoint.down_until <= now for endpoint in self.endpoints)

    def failed(self, endpoint: Endpoint, exc: BaseException | None = None) -> None:
        """Cool `endpoint` down (for its Retry-After when that is longer)."""
        wait = self.cooldown
        retry_after = _retry_after(exc) if exc is not None else None
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_COOLDOWN_S))
        with self._lock:
            endpoint.down_until = self._clock() + wait

    def call(self, request: Callable[[Any], T]) -> T:
        """`request(client)` on the next endpoint, failing over (each endpoint at most once)
        on the errors `is_failover_error` names; the last such error when all fail."""
        last: BaseException | None = None
        for _ in range(len(self.endpoints)):
            endpoint = self.pick()
            try:
                return request(endpoint.client)
            except Exception as exc:
                if not is_failover_error(exc):
                    raise
                self.failed(endpoint, exc)
                last = exc
        assert last is not None
        raise last
