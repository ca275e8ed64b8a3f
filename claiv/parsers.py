"""The only request parser: JSON, bounded in size and nesting depth.

Kept apart from `claiv.api` because DRF imports parser classes while it builds APIView.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from claiv.errors import PayloadTooLarge

MAX_JSON_DEPTH = 32


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses as inf, which no JSON column can store
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unstorable_string(value: Any) -> bool:
    """A string Postgres cannot store: a NUL character or a lone UTF-16 surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, stopping early past `limit`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


class StrictJSONParser(JSONParser):
    """JSON only, bounded in size and nesting depth; a top-level object."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        raw = stream.read(settings.MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > settings.MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request bodies are limited to {settings.MAX_BODY_BYTES} bytes.")
        try:
            data = json.loads(
                raw.decode("utf-8"), parse_float=_finite, parse_constant=_reject_constant
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError("The body is not valid JSON.") from exc
        except RecursionError as exc:
            # The C decoder recurses per nesting level; ~100,000 levels exhaust the stack
            # before the depth check below can run.
            raise ParseError(f"JSON nesting deeper than {MAX_JSON_DEPTH} levels.") from exc
        if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON nesting deeper than {MAX_JSON_DEPTH} levels.")
        # Refused here, once for every endpoint, rather than failing later in the database.
        if _unstorable_string(data):
            raise ParseError("Strings must not contain NUL characters or lone surrogates.")
        return data
